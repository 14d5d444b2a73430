"""Sessions through the window: save, open, presets, going back, and the code panel."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QLabel, QMessageBox, QPlainTextEdit, QPushButton

from core.files.session import list_presets, load_preset


def _act(window, name):
    from PySide6.QtGui import QAction

    act = window.findChild(QAction, name)
    assert act is not None, name
    return act


def _runner_specs(view) -> list[str]:
    return [str(e.runner.spec) for e in view.entries.values()]


def test_save_then_open_round_trips_the_race(window, qtbot, tmp_path, monkeypatch) -> None:
    sv = window.surface_view
    sv.set_surface("himmelblau")
    sv.clear_runners()
    sv.add_runner("Adam(lr=0.05)", label="my Adam")
    sv.add_runner("SGD(lr=0.01, momentum=0.9)")
    sv.set_start(-1.0, 2.0)
    for _ in range(7):
        qtbot.mouseClick(sv.run_group.step_button, Qt.MouseButton.LeftButton)
    path = tmp_path / "lecture.json"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "lecture"), "")
    )
    _act(window, "actSaveSession").trigger()
    doc = json.loads(path.read_text())
    assert doc["surfaces"]["surface"] == "himmelblau" and doc["surfaces"]["steps"] == 7
    assert [r["label"] for r in doc["surfaces"]["runners"]] == ["my Adam", None]
    saved_points = {e.runner.label: e.runner.point for e in sv.entries.values()}

    sv.set_surface("rosenbrock")  # change everything, then open the file
    sv.clear_runners()
    sv.add_runner("RMSprop(lr=0.01)")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    _act(window, "actOpenSession").trigger()
    qtbot.waitUntil(lambda: not sv.model.replaying, timeout=10_000)
    assert sv.race.surface.name == "himmelblau" and sv.race.start == (-1.0, 2.0)
    assert _runner_specs(sv) == ["Adam(lr=0.05)", "SGD(lr=0.01, momentum=0.9)"]
    assert sv.race.t == 7
    assert {e.runner.label: e.runner.point for e in sv.entries.values()} == saved_points
    assert sv.surface_group.surface_combo.currentData() == "himmelblau"


def test_a_bad_file_is_refused_and_changes_nothing(window, qtbot, tmp_path, monkeypatch) -> None:
    sv = window.surface_view
    before = (sv.race.surface.name, _runner_specs(sv))
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "gdsim-session", "version": 1, "view": "surfaces", "surfaces": ')
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    _act(window, "actOpenSession").trigger()
    box = window.findChild(QMessageBox, "sessionErrorBox")
    assert box is not None and "bad.json" in box.text()
    assert (sv.race.surface.name, _runner_specs(sv)) == before
    assert not _act(window, "actRevertSession").isEnabled()


@pytest.mark.parametrize("name", [p.name for p in list_presets()])
def test_every_preset_loads_from_the_menu_with_its_explanation(window, qtbot, name) -> None:
    session = load_preset(name)
    _act(window, f"actPreset_{name}").trigger()
    view = window.surface_view if session.view == "surfaces" else window.training_view
    assert window.current_view() is view and window.current_key() == session.view
    banner = window.sessions.banner
    assert banner.isVisible() and banner.title.text() == session.title
    assert window.findChild(QLabel, "sessionExplanation").text() == session.explanation
    if session.surfaces is not None:
        assert window.surface_view.race.surface.name == session.surfaces.surface
        assert len(window.surface_view.entries) == len(session.surfaces.runners)
    if session.training is not None:
        shown = window.training_view.controls.config()
        want = session.training
        assert (shown.dataset, shown.optimizers, shown.batch_size, shown.hidden, shown.seed) == (
            want.dataset,
            want.optimizers,
            want.batch_size,
            want.hidden,
            want.seed,
        )


def test_back_to_the_previous_session_after_a_preset(window, qtbot) -> None:
    sv = window.surface_view
    sv.clear_runners()
    sv.add_runner("Adagrad(lr=0.3)", label="mine")
    _act(window, "actPreset_ravine-momentum").trigger()
    assert sv.race.surface.name == "ravine"
    revert = _act(window, "actRevertSession")
    assert revert.isEnabled()
    revert.trigger()
    assert [e.label for e in sv.entries.values()] == ["mine"]
    assert not revert.isEnabled() and not window.sessions.banner.isVisible()


def test_code_panel_shows_the_script_and_exports_it(window, qtbot, tmp_path, monkeypatch) -> None:
    sv = window.surface_view
    sv.set_surface("bowl")
    sv.clear_runners()
    sv.add_runner("SGD(lr=0.1)")
    for _ in range(5):
        sv.step_once()
    _act(window, "actShowCode").trigger()
    text = window.findChild(QPlainTextEdit, "codeText")
    qtbot.waitUntil(lambda: "torch.optim.SGD" in text.toPlainText(), timeout=5000)
    out = tmp_path / "race.py"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    qtbot.mouseClick(
        window.findChild(QPushButton, "exportScriptButton"),
        Qt.MouseButton.LeftButton,
    )
    assert out.read_text() == text.toPlainText()
    result = tmp_path / "out.json"
    subprocess.run(
        [sys.executable, str(out), str(result)], check=True, capture_output=True, timeout=120
    )
    runs = json.loads(result.read_text())
    runner = next(iter(sv.entries.values())).runner
    first = runs[0] if isinstance(runs, list) else next(iter(runs.values()))
    assert first is not None and str(runner.point[0])[:8] in json.dumps(runs)
    window.show_view("training")
    qtbot.waitUntil(lambda: "loss.backward()" in text.toPlainText(), timeout=5000)
    assert "DataLoader" in text.toPlainText()


def test_schedules_and_noise_survive_a_round_trip_through_the_window(window, qtbot):
    """The window shows exactly the race the session describes (noise streams included)."""
    session = load_preset("schedules-and-noise")
    window.sessions.load_preset("schedules-and-noise")
    sv = window.surface_view
    assert sv.race.noise == session.surfaces.noise > 0
    assert [r.scheduler for r in session.surfaces.runners] == [
        None if e.runner.scheduler is None else str(e.runner.scheduler) for e in sv.entries.values()
    ]
    assert window.current_session().surfaces == session.surfaces
    want = session.surfaces.build_race(run=False)
    want.step(40)
    for _ in range(40):
        sv.step_once()
    assert [e.runner.point for e in sv.entries.values()] == [r.point for r in want.runners]
