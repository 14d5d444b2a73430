"""The loss-landscape page through its real controls: train a little, click Compute, see the map,
the projected path and 100 %; Cancel mid-run; close the window mid-run without a trace.

Runs are tiny (200 points, batches of 16: 10 batches an epoch, an 8,8 network) and grids small.
Every wait is ``qtbot.waitUntil`` with a timeout; nothing asserts timing.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
)

import app.views.training_landscape as landscape_mod
from app.views.training_landscape import install
from tests.gui import helpers
from tests.gui.helpers import (
    WAIT,
    click,
    map_values,
    named,
    slow_compute,
    tiny_training,
    type_into,
)

pytestmark = [*helpers.QT_WARNINGS_FAIL, pytest.mark.usefixtures("warm_torch")]


@pytest.fixture
def lt(qtbot, window):
    """(window, view, tool): the Training tab set to a tiny run, the landscape page installed
    and shut down before the view, as ``MainWindow`` does with its registered tools."""
    view = tiny_training(qtbot, window)
    tool = window.tools.get("training", {}).get("training_landscape")  # MainWindow.VIEW_TOOLS
    if tool is None:  # not registered (yet): install it and shut it down the way MainWindow does
        tool = install(view)
        view_shutdown = view.shutdown

        def shutdown() -> None:
            tool.shutdown()
            view_shutdown()

        view.shutdown = shutdown
    view.pages.tabs.setCurrentWidget(tool.page)
    type_into(qtbot, named(tool.page, QSpinBox, "landscapeGrid"), "9")
    return window, view, tool


def train(qtbot, window, view, steps: int) -> None:
    """Press Step ``steps`` times' worth: Start, wait, Pause."""
    run = named(window, QPushButton, "trainRunButton")
    click(qtbot, run)
    qtbot.waitUntil(lambda: view.model.steps >= steps, timeout=WAIT)
    click(qtbot, run)
    qtbot.waitUntil(lambda: view.controller.engine.state == "paused", timeout=WAIT)


def test_page_controls_have_names_tooltips_and_accessible_names(lt) -> None:
    window, view, tool = lt
    tabs = view.pages.tabs
    assert [tabs.tabText(i) for i in range(tabs.count())][-1] == "Loss landscape"
    for name in (
        "landscapeDirections",
        "landscapeGrid",
        "landscapeRange",
        "computeLandscapeButton",
        "cancelLandscapeButton",
        "landscapeProgress",
        "landscapeMap",
    ):
        w = tool.page.findChild(object, name)
        assert w is not None, name
        assert w.toolTip() and w.accessibleName(), name


def test_compute_draws_the_slice_the_path_and_the_current_weights(qtbot, lt) -> None:
    window, view, tool = lt
    train(qtbot, window, view, 35)  # > 3 epochs
    page = tool.page
    progress = named(page, QProgressBar, "landscapeProgress")
    click(qtbot, named(page, QPushButton, "computeLandscapeButton"))
    qtbot.waitUntil(lambda: tool.result is not None, timeout=WAIT)
    assert progress.value() == 100 and progress.format().startswith("100 %")
    shown = map_values(page.map)
    assert shown is not None and shown.shape == (9, 9) and np.isfinite(shown).all()
    px, py = tool.path.getData()
    assert len(px) == len(tool.result.path) >= 4  # start, ≥ 3 epoch ends, now
    assert (px[-1], py[-1]) == pytest.approx((0.0, 0.0), abs=1e-5)  # the path ends where θ is
    cx, cy = tool.current.getData()
    assert list(cx) == [0.0] and list(cy) == [0.0]
    r = tool.result
    assert r.epoch >= 3 and f"epoch {r.epoch}, batch {r.steps}" in page.title.text()
    assert "random plane" in page.title.text()
    assert not named(page, QPushButton, "cancelLandscapeButton").isEnabled()
    assert tool.message_text().startswith("Random directions (seed 0)")
    said = "from gdsim's own generator, filter-normalised as in Li et al. 2018"
    assert said in tool.message_text()
    assert "gdsim's own seeded generator" in named(page, QComboBox, "landscapeDirections").toolTip()

    combo = named(page, QComboBox, "landscapeDirections")
    combo.setCurrentIndex(combo.findData("pca"))
    click(qtbot, named(page, QPushButton, "computeLandscapeButton"))
    qtbot.waitUntil(lambda: tool.result.kind == "pca", timeout=WAIT)
    axis = page.map.getPlotItem().getAxis("bottom").labelText
    assert axis.startswith("PC 1 (") and "of the path" in axis
    px, py = tool.path.getData()
    span = tool.result.span
    assert np.abs(px).max() <= span and np.abs(py).max() <= span  # auto range fits the path
    assert "PCA plane" in page.title.text()


def test_range_field_sets_the_extent_and_a_second_click_replaces_the_first(
    qtbot, lt, monkeypatch
) -> None:
    window, view, tool = lt
    train(qtbot, window, view, 12)
    slow_compute(monkeypatch)  # the first run is still going at the second click, on any machine
    type_into(qtbot, named(tool.page, QDoubleSpinBox, "landscapeRange"), "0.25")
    compute = named(tool.page, QPushButton, "computeLandscapeButton")
    click(qtbot, compute)
    click(qtbot, compute)  # again at once: the first run is cancelled, the second one wins
    assert tool.task.running and named(tool.page, QPushButton, "cancelLandscapeButton").isEnabled()
    qtbot.waitUntil(lambda: tool.result is not None, timeout=WAIT)
    progress = named(tool.page, QProgressBar, "landscapeProgress")
    assert progress.value() == 100 and not tool.task.running  # the result is the second run's
    assert tool.result.span == pytest.approx(0.25)
    assert tool.result.xs[0] == pytest.approx(-0.25) and tool.result.ys[-1] == pytest.approx(0.25)


def test_untrained_network_and_short_path_give_clear_messages(qtbot, lt) -> None:
    window, view, tool = lt
    compute = named(tool.page, QPushButton, "computeLandscapeButton")
    click(qtbot, compute)
    qtbot.waitUntil(lambda: tool.message_text() != "", timeout=WAIT)
    assert tool.message_text().startswith("Nothing trained yet")
    assert tool.result is None and not tool.task.running

    click(qtbot, named(window, QPushButton, "trainStepButton"))
    qtbot.waitUntil(lambda: view.model.steps == 1, timeout=WAIT)
    combo = named(tool.page, QComboBox, "landscapeDirections")
    combo.setCurrentIndex(combo.findData("pca"))
    click(qtbot, compute)
    qtbot.waitUntil(lambda: "PCA" in tool.message_text(), timeout=WAIT)
    assert "at least 3 different weight snapshots" in tool.message_text()
    assert tool.page.message.property("error") is True
    combo.setCurrentIndex(combo.findData("random"))  # random directions need no history
    click(qtbot, compute)
    qtbot.waitUntil(lambda: tool.result is not None, timeout=WAIT)
    assert tool.result.steps == 1


def test_compute_while_training_runs_keeps_training(qtbot, lt) -> None:
    window, view, tool = lt
    run = named(window, QPushButton, "trainRunButton")
    click(qtbot, run)
    qtbot.waitUntil(lambda: view.model.steps >= 5, timeout=WAIT)
    click(qtbot, named(tool.page, QPushButton, "computeLandscapeButton"))
    qtbot.waitUntil(lambda: tool.result is not None, timeout=WAIT)
    at = view.model.steps
    qtbot.waitUntil(lambda: view.model.steps > at + 5, timeout=WAIT)  # still training
    assert view.controller.engine.state == "running"
    assert tool.result.steps >= 5
    click(qtbot, run)


def start_slow_landscape(qtbot, lt, monkeypatch) -> QProgressBar:
    """Train a little, then start a slowed 61x61 landscape and wait until it is under way."""
    window, view, tool = lt
    slow_compute(monkeypatch)
    train(qtbot, window, view, 12)
    type_into(qtbot, named(tool.page, QSpinBox, "landscapeGrid"), "61")
    progress = named(tool.page, QProgressBar, "landscapeProgress")
    click(qtbot, named(tool.page, QPushButton, "computeLandscapeButton"))
    qtbot.waitUntil(lambda: progress.value() > 0, timeout=WAIT)
    return progress


def test_cancel_mid_run_stops_and_leaves_no_thread(qtbot, lt, monkeypatch) -> None:
    window, view, tool = lt
    progress = start_slow_landscape(qtbot, lt, monkeypatch)
    cancel = named(tool.page, QPushButton, "cancelLandscapeButton")
    click(qtbot, cancel)
    assert not tool.task.running and not cancel.isEnabled()
    assert progress.format() == "Cancelled"
    qtbot.waitUntil(lambda: tool.task.thread_count() == 0, timeout=WAIT)
    assert tool.result is None  # nothing half-computed was drawn


def test_closing_the_window_mid_landscape_leaves_no_thread(qtbot, lt, monkeypatch) -> None:
    window, view, tool = lt
    start_slow_landscape(qtbot, lt, monkeypatch)
    task, training = tool.task, view.controller.thread()
    window.close()
    assert task.thread_count() == 0
    assert not training.isRunning()
    assert not task.start(landscape_mod.landscape_job)  # closed: refuses new work
    qtbot.wait(50)  # nothing arrives late and nothing warns
