"""A session file opened in the Training view trains, and saves again, as it was written.

The control panel once changed a file on opening without a word: the validation share fell back
to 20 % (no box held it), device "auto" became "cpu", values the format allows but a box did not
were clamped, a ninth optimizer vanished; a scheduler with arguments was lost on every restart,
and the third lane of the race list hid under a horizontal scroll bar. Files are opened and
saved through the real File menu (the file dialog answered by monkeypatching, as a user picking
the file would); the panel's boxes are typed into as a user does.
"""

from __future__ import annotations

import json
import logging

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFileDialog, QListWidget, QSpinBox

from app.main_window import MainWindow
from app.views.training_panel_data import VAL_SHARE_MAX_PERCENT
from app.views.training_panel_race import MAX_LANES
from core.engine.datasets import MIN_SAMPLES, make_dataset
from core.engine.training import MAX_BATCH_SIZE, MAX_EPOCHS, MAX_PATIENCE, TrainConfig
from core.errors import GdsimError
from core.files.session import load_session
from tests.gui.helpers import WAIT, named, type_into

BASE = {
    "dataset": "spiral",
    "dataset_options": {"arms": 3},
    "samples": 200,
    "noise": 0.15,
    "val_fraction": 0.4,
    "hidden": [8, 12, 4],
    "activation": "tanh",
    "optimizers": [
        "SGD(lr=0.05, momentum=0.9, nesterov=True)",
        "AdamW(lr=0.003, weight_decay=0.1)",
        "RMSprop(lr=0.001)",
    ],
    "scheduler": "StepLR(step_size=5, gamma=0.5)",
    "epochs": 7,
    "batch_size": 64,
    "device": "auto",
    "seed": 42,
    "patience": 3,
    "stop_early": True,
}


def write_session(tmp_path, name: str = "in.json", **training) -> str:
    doc = {
        "format": "gdsim-session",
        "version": 1,
        "title": "Fidelity",
        "explanation": "Testing.",
        "view": "training",
        "training": {**BASE, **training},
    }
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


def open_file(window, monkeypatch, path: str) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (path, ""))
    window.findChild(QAction, "actOpenSession").trigger()


def save_file(window, monkeypatch, path: str) -> None:
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (path, ""))
    window.findChild(QAction, "actSaveSession").trigger()


def settle(qtbot, view) -> None:
    qtbot.waitUntil(
        lambda: view.controller.engine is not None and not view.model.awaiting_reset, timeout=WAIT
    )


def test_a_session_trains_and_saves_as_it_was_written(window, qtbot, monkeypatch, tmp_path):
    path = write_session(tmp_path)
    open_file(window, monkeypatch, path)
    view = window.training_view
    loaded = load_session(path).training

    assert window.sessions.current_session().training == loaded
    assert view.message_text() == ""  # nothing had to change, so nothing to say
    share = named(window, QDoubleSpinBox, "valShareSpin")
    assert share.text() == "40.0 %"
    assert named(window, QComboBox, "deviceCombo").currentData() == "auto"
    # the run itself holds out 40 %: the engine got the file's split
    settle(qtbot, view)
    engine = view.controller.engine
    assert engine.config.val_fraction == 0.4
    assert len(engine.data.val_idx) == 80

    out = str(tmp_path / "out.json")
    save_file(window, monkeypatch, out)
    saved = json.loads(open(out, encoding="utf-8").read())["training"]
    assert saved["val_fraction"] == 0.4
    assert saved["device"] == "auto"  # a GPU machine still picks its GPU from this file
    assert load_session(out).training == loaded


def test_the_validation_share_is_typed_and_used(window, qtbot):
    window.show_view("training")
    view = window.training_view
    type_into(qtbot, named(window, QSpinBox, "samplesSpin"), "200")
    type_into(qtbot, named(window, QDoubleSpinBox, "valShareSpin"), "30")
    assert view.controls.config().val_fraction == 0.3
    qtbot.waitUntil(
        lambda: (
            view.controller.engine is not None
            and view.controller.engine.config.val_fraction == 0.3
            and not view.model.awaiting_reset
        ),
        timeout=WAIT,
    )
    assert len(view.controller.engine.data.val_idx) == 60
    # the preview's split follows too (it sizes the epoch before the engine exists)
    assert len(view.controls.preview_data.val_idx) == 60


def test_values_the_format_allows_are_kept(window, monkeypatch, tmp_path):
    """limits.json from QA: each value was clamped by a box narrower than the engine."""
    path = write_session(
        tmp_path, samples=10, noise=4.0, epochs=200_000, batch_size=500_000, patience=50_000
    )
    open_file(window, monkeypatch, path)
    config = window.sessions.current_session().training
    assert config == load_session(path).training
    assert (config.samples, config.epochs, config.batch_size, config.patience) == (
        10,
        200_000,
        500_000,
        50_000,
    )
    assert window.training_view.message_text() == ""


def test_a_value_no_box_can_hold_is_named_in_the_note(window, monkeypatch, tmp_path):
    path = write_session(tmp_path, seed=2**40, noise=0.153)
    open_file(window, monkeypatch, path)
    note = window.training_view.message_text()
    assert "seed 1099511627776 → 2147483647" in note
    assert "noise 0.153 → 0.15" in note
    assert "\n" not in note
    # a device this machine lacks: the CPU is shown, and the note says so
    open_file(window, monkeypatch, write_session(tmp_path, name="gpu.json", device="cuda:3"))
    assert "device 'cuda:3', which this machine lacks: fell back to the CPU" in (
        window.training_view.message_text()
    )
    assert window.training_view.controls.device() == "cpu"


def test_nine_optimizers_load_eight_and_say_so(window, monkeypatch, tmp_path):
    path = write_session(tmp_path, optimizers=[f"SGD(lr=0.{k + 1})" for k in range(9)])
    open_file(window, monkeypatch, path)
    assert len(window.training_view.controls.specs) == MAX_LANES == 8
    note = window.training_view.message_text()
    assert "first 8 of 9 optimizers" in note
    assert "changed to fit" not in note  # the eight that were loaded are exactly the file's


def test_a_restart_keeps_a_scheduler_with_arguments_and_the_validation_share(
    qtbot, monkeypatch, tmp_path
):
    first = MainWindow()
    qtbot.addWidget(first)
    open_file(first, monkeypatch, write_session(tmp_path, val_fraction=0.35))
    assert first.training_view.controls.config().scheduler == "StepLR(step_size=5, gamma=0.5)"
    first.close()

    second = MainWindow()
    qtbot.addWidget(second)
    config = second.training_view.controls.config()
    assert config.scheduler == "StepLR(step_size=5, gamma=0.5)"
    assert named(second, QComboBox, "schedulerCombo").currentText().startswith("StepLR(step")
    assert config.val_fraction == 0.35
    assert config.device == "auto"
    second.close()


def test_a_bad_saved_scheduler_or_share_is_skipped_with_a_warning(qtbot, caplog):
    from app.settings import open_settings

    s = open_settings()
    s.beginGroup("views/training")
    s.setValue("scheduler", "StepLR(step_size=-5)")
    s.setValue("valFraction", 1.5)
    s.endGroup()
    s.sync()
    with caplog.at_level(logging.WARNING):
        win = MainWindow()
        qtbot.addWidget(win)
    config = win.training_view.controls.config()
    assert config.scheduler is None and config.val_fraction == 0.2
    text = caplog.text
    assert "scheduler" in text and "valFraction" in text
    win.close()


def lanes_visible(lst: QListWidget) -> bool:
    area = lst.viewport().rect()
    return all(area.contains(lst.visualItemRect(lst.item(i))) for i in range(lst.count()))


@pytest.mark.parametrize("lanes", [3, 8])
def test_every_lane_of_the_race_list_is_visible(window, qtbot, monkeypatch, tmp_path, lanes):
    long = "AdamW(lr=0.003, betas=(0.85, 0.995), weight_decay=0.1, amsgrad=True)"
    path = write_session(tmp_path, optimizers=[long] + BASE["optimizers"] * 3)
    if lanes == 3:
        path = write_session(tmp_path, name="three.json")
    open_file(window, monkeypatch, path)
    qtbot.waitUntil(lambda: window.training_page.view is not None)  # built, in slices
    lst = named(window, QListWidget, "raceList")
    assert lst.count() == lanes
    assert lanes_visible(lst), [lst.visualItemRect(lst.item(i)) for i in range(lst.count())]
    assert not lst.horizontalScrollBar().isVisible()
    # the whole SPEC is still there for a reader, as the row's tooltip
    assert lst.item(0).toolTip().startswith(str(window.training_view.controls.specs[0]))
    # zoomed for the back row (the panel's font grows, as View › Zoom in makes it): taller
    # rows, all still visible
    controls = window.training_view.controls
    row = lst.sizeHintForRow(0)
    font = controls.font()
    font.setPointSizeF(font.pointSizeF() * 1.5)
    controls.setFont(font)
    qtbot.waitUntil(lambda: lst.sizeHintForRow(0) > row and lanes_visible(lst), timeout=WAIT)
    assert lst.height() >= lanes * lst.sizeHintForRow(0)


def test_the_boxes_take_exactly_what_the_engine_takes(window):
    """The panel's limits mirror core's (core names only MAX_SAMPLES): if core moves a limit,
    this fails, instead of a file being clamped again."""
    c = window.training_view.controls
    for field, spin, high in (
        ("epochs", c.run.epochs_spin, MAX_EPOCHS),
        ("batch_size", c.run.batch_spin, MAX_BATCH_SIZE),
        ("patience", c.run.patience_spin, MAX_PATIENCE),
    ):
        assert spin.maximum() == high
        TrainConfig(**{field: high})
        with pytest.raises(GdsimError):
            TrainConfig(**{field: high + 1})
    assert c.data.samples_spin.minimum() == MIN_SAMPLES
    make_dataset("moons", samples=MIN_SAMPLES)
    with pytest.raises(GdsimError):
        make_dataset("moons", samples=MIN_SAMPLES - 1)
    TrainConfig(val_fraction=VAL_SHARE_MAX_PERCENT / 100)
    with pytest.raises(GdsimError):
        TrainConfig(val_fraction=VAL_SHARE_MAX_PERCENT / 100 + 1e-9)
    assert c.data.val_share_spin.maximum() == VAL_SHARE_MAX_PERCENT
