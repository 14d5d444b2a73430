"""A whole lecture from the keyboard alone (issue 15, "Done when"): pick a preset, start, pause,
step, change lr, add and remove an optimizer, switch to Training, start, pause, change lr, reset.
Only key events drive it (Tab moves the focus, keys go to whatever has it), and each step's
effect is asserted."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from app.main_window import MainWindow


def key(qtbot, k, mods=Qt.KeyboardModifier.NoModifier) -> None:
    target = (  # with nothing focused, keys go to the active window
        QApplication.activePopupWidget()
        or QApplication.focusWidget()
        or QApplication.activeWindow()
    )
    assert target is not None
    qtbot.keyClick(target, k, mods)


def tab_to(qtbot, name: str, limit: int = 80) -> QWidget:
    """Press Tab until the control called ``name`` has the focus (as a user would)."""
    for _ in range(limit):
        w = QApplication.focusWidget()
        if w is not None and w.objectName() == name:
            return w
        key(qtbot, Qt.Key.Key_Tab)
    raise AssertionError(f"Tab never reached {name}")


def type_number(qtbot, text: str) -> None:
    field = QApplication.focusWidget()
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(field, text)
    key(qtbot, Qt.Key.Key_Return)
    assert QApplication.focusWidget() is not field  # the keyboard is back with the run keys


def test_a_lecture_from_the_keyboard_alone(qtbot, window: MainWindow):
    view = window.surface_view
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)

    # File ▸ Lecture presets ▸ the first one (Alt+F, L, Enter)
    key(qtbot, Qt.Key.Key_F, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is not None)
    key(qtbot, Qt.Key.Key_L)
    qtbot.waitUntil(lambda: QApplication.activePopupWidget().objectName() == "menuPresets")
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is None)
    window.activateWindow()  # offscreen leaves the closed menu "active"; a desktop does not
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    assert view.race.surface.name == "ravine"
    specs = [str(e.runner.spec) for e in view.entries.values()]
    qtbot.waitUntil(lambda: not view.model.replaying)

    key(qtbot, Qt.Key.Key_Space)  # start
    assert view.model.running
    qtbot.waitUntil(lambda: view.race.t > 0, timeout=10_000)
    key(qtbot, Qt.Key.Key_Space)  # pause
    assert not view.model.running
    t = view.race.t
    key(qtbot, Qt.Key.Key_S)  # one step
    assert view.race.t == t + 1

    # the selected optimizer's learning rate: Tab to its box, type, Enter
    entry = view.entries[view.panel.current_id()]
    tab_to(qtbot, "lrSpin")
    type_number(qtbot, "0.0025")
    assert entry.runner.spec.hparams()["lr"] == pytest.approx(0.0025)
    key(qtbot, Qt.Key.Key_Right)  # the run keys work again: → steps
    assert view.race.t == t + 2

    # add the next optimizer in the list, then remove it
    n = len(view.entries)
    combo = tab_to(qtbot, "addOptimizerCombo")
    key(qtbot, Qt.Key.Key_Down)
    name = combo.currentText()
    tab_to(qtbot, "addOptimizerButton")
    key(qtbot, Qt.Key.Key_Space)
    assert len(view.entries) == n + 1
    added = list(view.entries.values())[-1]
    assert added.runner.spec.name == name and view.panel.current_id() == added.id
    tab_to(qtbot, "removeOptimizerButton")
    key(qtbot, Qt.Key.Key_Return)
    assert len(view.entries) == n and added.id not in view.entries
    assert [str(e.runner.spec) for e in view.entries.values()][1:] == specs[1:]

    # the Training tab: Ctrl+Tab, then the same keys run the training
    key(qtbot, Qt.Key.Key_Tab, Qt.KeyboardModifier.ControlModifier)
    assert window.current_key() == "training"
    tv = window.training_view
    qtbot.waitUntil(lambda: tv.controller.alive, timeout=30_000)
    key(qtbot, Qt.Key.Key_Space)  # start
    qtbot.waitUntil(lambda: tv.model.steps > 0, timeout=60_000)
    key(qtbot, Qt.Key.Key_Space)  # pause
    qtbot.waitUntil(lambda: tv.model.state == "paused", timeout=30_000)
    steps = tv.model.steps
    tab_to(qtbot, "trainLrSpin")
    type_number(qtbot, "0.05")
    assert tv.controls.lane_lr(0) == pytest.approx(0.05)
    assert tv.message_text() == ""  # nothing refused
    assert tv.model.state == "paused" and tv.model.steps == steps  # Space never reached the field
    key(qtbot, Qt.Key.Key_R)  # reset
    qtbot.waitUntil(lambda: tv.model.steps == 0 and not tv.model.awaiting_reset, timeout=30_000)
    assert tv.controls.lane_lr(0) == pytest.approx(0.05)  # the new lr survives the reset
