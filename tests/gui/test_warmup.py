"""The start-up warm-up import (app.warmup) never blocks the GUI thread: a Step, Start, narrated
step or basins computation asked for while it runs waits on a GUI timer, says why in the status
line, and happens once the import is done. A stand-in module that imports only when the test lets
it takes the place of torch._dynamo."""

from __future__ import annotations

import sys
import textwrap

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

import app.warmup as warmup
from tests.gui.helpers import click, named


@pytest.fixture
def gate(tmp_path, monkeypatch):
    """Start a warm-up that lasts until ``gate.open()`` (a file the stand-in module waits for)."""
    release = tmp_path / "release"
    (tmp_path / "gdsim_slow_warm.py").write_text(
        textwrap.dedent(
            f"""
            import os, time
            deadline = time.monotonic() + 60
            while not os.path.exists({str(release)!r}) and time.monotonic() < deadline:
                time.sleep(0.01)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(warmup, "_thread", None)

    class Gate:
        thread = warmup.start_warmup(("gdsim_slow_warm",))

        @staticmethod
        def open() -> None:
            release.touch()
            Gate.thread.join(30)
            assert not warmup.warming_up()

    yield Gate
    release.touch()
    Gate.thread.join(30)
    sys.modules.pop("gdsim_slow_warm", None)


def button(window, name: str) -> QPushButton:
    return named(window, QPushButton, name)


def steps(window) -> set[int]:
    return {int(e.runner.steps) for e in window.surface_view.entries.values()}


def test_step_waits_for_the_warm_up_then_happens_once(qtbot, window, gate):
    click(qtbot, button(window, "stepButton"))
    qtbot.wait(100)  # the event loop runs meanwhile: nothing waits on the import lock
    assert steps(window) == {0}
    assert "loading PyTorch" in window.status_label.text()
    gate.open()
    qtbot.waitUntil(lambda: steps(window) == {1})
    qtbot.wait(100)
    assert steps(window) == {1}
    assert "loading" not in window.status_label.text()


def test_a_step_asked_for_before_a_reset_is_dropped(qtbot, window, gate):
    click(qtbot, button(window, "stepButton"))
    click(qtbot, button(window, "resetButton"))
    gate.open()
    qtbot.wait(150)
    assert steps(window) == {0}


def test_start_while_warming_up_runs_once_it_is_done(qtbot, window, gate):
    view = window.surface_view
    click(qtbot, button(window, "runButton"))
    qtbot.wait(150)
    assert view.model.running and steps(window) == {0}
    assert "loading PyTorch" in window.status_label.text()
    gate.open()
    qtbot.waitUntil(lambda: min(steps(window)) > 0)
    qtbot.waitUntil(lambda: "loading" not in window.status_label.text())
    click(qtbot, button(window, "runButton"))
    assert not view.model.running


def test_narrating_while_warming_up_shows_the_line_once_it_is_done(qtbot, window, gate):
    tool = window.tools["surfaces"]["surface_anatomy"]
    window.surface_view.panel.select(next(iter(window.surface_view.entries)))
    qtbot.keyClick(window, Qt.Key.Key_N)
    qtbot.wait(100)
    assert tool.current_line() == -1  # no line run yet
    gate.open()
    qtbot.waitUntil(lambda: tool.current_line() == 0)


def test_basins_wait_for_the_warm_up_then_finish(qtbot, window, gate):
    view = window.surface_view
    view.set_surface("himmelblau")
    tool = window.tools["surfaces"]["surface_basins"]
    view.panel.select(next(iter(view.entries)))
    tool.grid_spin.setValue(10)
    click(qtbot, button(window, "computeBasinsButton"))
    qtbot.wait(150)
    assert tool.computing and tool.result is None
    gate.open()
    qtbot.waitUntil(lambda: not tool.computing, timeout=20_000)
    assert tool.result is not None


def test_without_a_warm_up_a_step_is_immediate(qtbot, window, monkeypatch):
    monkeypatch.setattr(warmup, "_thread", None)
    click(qtbot, button(window, "stepButton"))
    assert steps(window) == {1}


def test_a_step_before_the_warm_up_was_scheduled_starts_it_and_waits(
    qtbot, window, tmp_path, monkeypatch
):
    """The window starts the warm-up 0.3 s after it shows; a Space pressed before must not
    import torch._dynamo on the GUI thread either."""
    release = tmp_path / "release"
    (tmp_path / "gdsim_slow_warm2.py").write_text(
        f"import os, time\nwhile not os.path.exists({str(release)!r}): time.sleep(0.01)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(warmup, "_thread", None)
    monkeypatch.setattr(warmup, "_enabled", True)
    monkeypatch.setattr(warmup, "WARM_MODULES", ("gdsim_slow_warm2",))
    try:
        click(qtbot, button(window, "stepButton"))
        qtbot.wait(100)
        assert warmup._thread is not None and steps(window) == {0}
    finally:
        release.touch()
        warmup._thread.join(30)
        sys.modules.pop("gdsim_slow_warm2", None)
    qtbot.waitUntil(lambda: steps(window) == {1})


def test_the_warm_up_leaves_start_up_objects_out_of_full_collections(monkeypatch):
    """What start-up made lives as long as the process: the collector's full passes (run from
    a GUI timer) no longer scan it, which froze the window ~170 ms every few actions."""
    import gc

    made_at_start_up = [[], {}]
    monkeypatch.setattr(warmup, "_thread", None)
    warmup.start_warmup(()).join(30)
    assert gc.get_freeze_count() > 0
    assert not any(obj is made_at_start_up for obj in gc.get_objects())  # not scanned any more
    made_later: list[list] = [[]]
    assert any(obj is made_later for obj in gc.get_objects())  # collected as before
