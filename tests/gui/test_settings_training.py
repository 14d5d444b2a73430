"""The Training setup in the settings (one session document) and in sessions while the Training
view is not built yet: the window keeps the setup for it and builds it only when it is shown
(at start-up: after the first paint), so a returning user's start and ``--session`` paint first.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QWidget

from app.main_window import MainWindow
from app.settings import open_settings
from app.theme import get_theme
from core.engine.training import TrainConfig
from core.files.session import Session, dumps_session, load_preset, load_session
from core.state.training import DEFAULT_CONFIG

SETUP = TrainConfig(
    dataset="spiral",
    dataset_options={"arms": 4},
    samples=300,
    noise=0.1,
    val_fraction=0.3,
    hidden=(8, 4),
    activation="tanh",
    optimizers=("SGD(lr=0.05, momentum=0.9)", "AdamW(lr=0.003)"),
    scheduler="StepLR(step_size=5, gamma=0.5)",
    epochs=12,
    batch_size=16,
    device="cpu",
    seed=7,
    patience=None,
)
SESSION = Session(
    title="Spiral",
    view="surfaces",
    surfaces=load_preset("rosenbrock-adam-vs-sgd").surfaces,
    training=SETUP,
)


def built(win: MainWindow) -> bool:
    return win.findChild(QWidget, "trainingPage") is not None  # the Training view's name


def make(qtbot, **kwargs) -> MainWindow:
    win = MainWindow(**kwargs)
    qtbot.addWidget(win)
    return win


def saved_training() -> dict[str, object]:
    s = open_settings()
    s.beginGroup("views/training")
    return {k: s.value(k) for k in s.childKeys()}


def test_a_changed_setup_is_saved_as_one_session_and_restored(qtbot):
    first = make(qtbot)
    view = first.show_view("training")
    view.apply_config(SETUP)
    view.controls.run.epochs_spin.setValue(21)  # edited in the panel, as a user does
    wanted = replace(SETUP, epochs=21)
    assert view.controls.config() == wanted
    first.close()
    keys = saved_training()
    assert "session" in keys and not {"dataset", "hidden", "epochs", "optimizers"} & set(keys)

    second = make(qtbot)
    assert second.current_key() == "training" and not built(second)
    assert second.current_session().training == wanted  # from the settings, view unbuilt
    assert second.training_view.controls.config() == wanted
    second.close()


def test_old_per_field_settings_are_read_once_then_replaced(qtbot):
    s = open_settings()
    s.beginGroup("views/training")
    for key, value in {
        "dataset": "circles",
        "hidden": "12,6",
        "epochs": 9,
        "batch": 64,
        "optimizers": ["SGD(lr=0.2)", "Adam(lr=0.01)"],
        "logLoss": False,
    }.items():
        s.setValue(key, value)  # fmt: skip
    s.endGroup()
    s.sync()
    win = make(qtbot)
    config = win.current_session().training
    assert (config.dataset, config.hidden, config.epochs, config.batch_size) == (
        "circles", (12, 6), 9, 64,
    )  # fmt: skip
    assert config.optimizers == ("SGD(lr=0.2)", "Adam(lr=0.01)")
    assert not built(win)
    win.close()
    keys = saved_training()
    assert "session" in keys and "dataset" not in keys and "hidden" not in keys
    assert keys["logLoss"] in (False, "false")  # how the loss is drawn stays a plain setting
    assert make(qtbot).current_session().training == config


def start_on(qtbot, caplog, values: dict[str, object]) -> tuple[MainWindow, list[str]]:
    """A window started on settings holding ``values``, and what gdsim warned meanwhile."""
    s = open_settings()
    for key, value in values.items():
        s.setValue(key, value)
    s.sync()
    with caplog.at_level(logging.WARNING, logger="gdsim"):
        win = make(qtbot)
    return win, [r.getMessage() for r in caplog.records if r.name.startswith("gdsim")]


def test_a_bad_saved_value_is_one_line_naming_it_and_changes_nothing_else(qtbot, caplog):
    doc = dumps_session(Session(view="training", training=SETUP))
    bad = doc.replace('"epochs": 12', '"epochs": "lots"')
    win, warned = start_on(
        qtbot, caplog, {"appearance/theme": "dark", "views/training/session": bad}
    )
    assert len(warned) == 1 and "\n" not in warned[0], warned
    assert "training.epochs" in warned[0] and "views/training/session" in warned[0]
    kept = replace(SETUP, epochs=DEFAULT_CONFIG.epochs)
    assert win.current_session().training == kept
    assert get_theme().name == "dark"
    assert win.training_view.controls.config() == kept
    win.close()


def test_an_unreadable_saved_setup_falls_back_to_the_defaults_with_one_line(qtbot, caplog):
    cut = '{"format": "gdsim-session", "version": 1, "tra'
    win, warned = start_on(
        qtbot, caplog, {"views/training/session": cut, "views/surfaces/lossLogY": False}
    )
    assert len(warned) == 1 and "views/training/session" in warned[0], warned
    assert win.current_session().training == DEFAULT_CONFIG
    assert not win.surface_view.log_check.isChecked()  # the default is on
    assert win.training_view.controls.config() == DEFAULT_CONFIG
    win.close()


def test_the_unbuilt_default_is_what_the_panel_shows(qtbot):
    win = make(qtbot, restore=False)
    assert win.current_session().training == DEFAULT_CONFIG and not built(win)
    assert win.training_view.controls.config() == DEFAULT_CONFIG
    win.close()


def test_a_session_opened_before_training_was_shown_round_trips_its_training_part(
    window, qtbot, monkeypatch, tmp_path
):
    assert not built(window)
    window.apply_session(SESSION)
    assert window.current_session().training == SETUP  # unchanged, not the panel's reading
    out = tmp_path / "out.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    window.findChild(QAction, "actSaveSession").trigger()
    assert load_session(out).training == SETUP
    # another session and back: the kept setup returns, still without a Training view
    window.apply_session(replace(SESSION, training=replace(SETUP, epochs=3)))
    assert window.current_session().training.epochs == 3
    window.findChild(QAction, "actRevertSession").trigger()
    assert window.current_session().training == SETUP
    assert not built(window)
    # shown at last: the panel shows the session's values, and a new run starts from them
    view = window.show_view("training")
    assert view.controls.config() == SETUP
    qtbot.waitUntil(lambda: view.controller.engine is not None, timeout=15_000)
    qtbot.waitUntil(lambda: not view.model.awaiting_reset, timeout=15_000)
    assert view.controller.engine.config.optimizers == SETUP.optimizers


def test_a_start_on_the_training_tab_builds_it_after_the_first_paint(qtbot):
    first = make(qtbot)
    first.show_view("training")
    first.close()  # saved: the Training tab was current
    win = make(qtbot)
    win.apply_session(replace(SESSION, view="training"))  # as ``gdsim --session`` does
    assert win.current_key() == "training" and not built(win)
    assert win.current_session().training == SETUP
    win.show()
    assert not built(win)  # show() itself builds nothing: the first paint comes first
    qtbot.waitUntil(lambda: built(win), timeout=15_000)
    assert win.training_view.isVisible()
    assert win.training_view.controls.config() == SETUP
    assert win.status_label.text()  # the view's status, once it is there
    win.close()  # stops its training thread (qtbot only closes windows still referenced)
