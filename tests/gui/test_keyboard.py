"""The keyboard and the wheel in a lecture (issue 15, items 4-6): a focused control takes the keys
it uses (a button Space and Enter, a check box Space), the run keys work everywhere else; Tab
follows the panel top to bottom; a number field gives the keyboard back on Enter and Escape;
the wheel over an unfocused control scrolls the panel instead of changing the setting."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QPushButton,
    QScrollArea,
    QWidget,
)

from app.main_window import MainWindow
from tests.gui.helpers import named, reveal


def focus(qtbot, widget: QWidget) -> QWidget:
    reveal(widget)
    widget.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(widget.hasFocus)
    return widget


def tab(qtbot) -> QWidget:
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    return QApplication.focusWidget()


def test_a_focused_button_takes_space_and_enter_and_the_run_keys_work_elsewhere(qtbot, window):
    view = window.surface_view
    add = named(view, QPushButton, "addOptimizerButton")
    n = len(view.entries)
    focus(qtbot, add)
    qtbot.keyClick(add, Qt.Key.Key_Return)
    assert len(view.entries) == n + 1 and not view.model.running
    qtbot.keyClick(add, Qt.Key.Key_Space)
    assert len(view.entries) == n + 2 and not view.model.running
    remove = named(view, QPushButton, "removeOptimizerButton")
    focus(qtbot, remove)
    qtbot.keyClick(remove, Qt.Key.Key_Enter)  # the keypad's Enter too
    assert len(view.entries) == n + 1
    qtbot.keyClick(remove, Qt.Key.Key_S)  # a key the button does not use steps the race
    assert view.race.t == 1 and not view.model.running


def test_a_focused_check_box_toggles_on_space(qtbot, window):
    view = window.surface_view
    check = focus(qtbot, named(view, QCheckBox, "surfaceLossLogCheck"))
    assert check.isChecked()
    qtbot.keyClick(check, Qt.Key.Key_Space)
    assert not check.isChecked() and not view.model.running


def test_after_a_zoom_step_a_focused_check_box_still_takes_space(qtbot, window):
    """The guard steps aside while a zoom step restyles the window (its ~2,000 font events
    are none of its business) and is back for the keys that follow."""
    from app import input_policy
    from app.theme import get_theme

    class Probe(input_policy.InputGuard):
        def __init__(self) -> None:
            super().__init__(set())
            self.seen: list[tuple[QObject, str]] = []

        def eventFilter(self, obj, event):  # noqa: N802 (Qt override)
            self.seen.append((obj, event.type().name))
            return False

    probe = Probe()
    input_policy.install(probe)
    view = window.surface_view
    check = focus(qtbot, named(view, QCheckBox, "surfaceLossLogCheck"))
    bystander = QWidget()  # gets the new font from the theme alone, no view's slot
    qtbot.addWidget(bystander)
    try:
        before = bystander.font().pointSizeF()
        probe.seen.clear()
        get_theme().zoom_in()
        assert bystander.font().pointSizeF() > before
        assert (bystander, "FontChange") not in probe.seen  # paused during the restyle
        qtbot.keyClick(check, Qt.Key.Key_Space)
        assert (check, "KeyPress") in probe.seen  # and back afterwards
        assert not check.isChecked() and not view.model.running
    finally:
        input_policy.uninstall(probe)
        get_theme().reset()


def test_a_mouse_click_leaves_no_button_holding_space(qtbot, window):
    """Clicking Add must not make the next Space add another optimizer: buttons take the focus
    from Tab only, so after a click Space still starts the race."""
    view = window.surface_view
    view.setFocus()
    add = named(view, QPushButton, "addOptimizerButton")
    reveal(add)
    n = len(view.entries)
    qtbot.mouseClick(add, Qt.MouseButton.LeftButton)
    assert len(view.entries) == n + 1 and not add.hasFocus()
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_Space)
    assert view.model.running and len(view.entries) == n + 1
    view.pause()


def test_tab_follows_the_panel_top_to_bottom(qtbot, window):
    """The selected optimizer's fields come right after Remove, not after the tools below."""
    view = window.surface_view
    content = view.control_panel().content()
    start = focus(qtbot, named(view, QPushButton, "runButton"))
    order = [start]
    for _ in range(80):
        w = tab(qtbot)
        if w is start or not content.isAncestorOf(w):
            break
        order.append(w)
    names = [w.objectName() for w in order]
    for name in ("removeOptimizerButton", "lrSlider", "lrSpin", "computeBasinsButton"):
        assert name in names, names
    assert (
        names.index("removeOptimizerButton")
        < names.index("lrSlider")
        < names.index("computeBasinsButton")
    ), names
    tops = [w.mapTo(content, QPoint(0, 0)).y() for w in order]
    assert all(b >= a - 4 for a, b in zip(tops, tops[1:], strict=False)), list(zip(names, tops, strict=True))


def test_enter_applies_a_number_and_gives_the_keyboard_back(qtbot, window):
    view = window.surface_view
    spin = focus(qtbot, named(view, QAbstractSpinBox, "lrSpin"))
    entry = view.entries[view.panel.current_id()]
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "0.0005")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert entry.runner.spec.hparams()["lr"] == pytest.approx(0.0005)
    assert not spin.hasFocus()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert view.model.running  # Space started the race instead of blanking the field
    assert spin.text() == "0.0005"
    view.pause()


def test_escape_reverts_a_number_and_gives_the_keyboard_back(qtbot, window):
    view = window.surface_view
    spin = focus(qtbot, named(view, QAbstractSpinBox, "lrSpin"))
    entry = view.entries[view.panel.current_id()]
    lr = entry.runner.spec.hparams()["lr"]
    shown = spin.text()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "7")
    qtbot.keyClick(spin, Qt.Key.Key_Escape)
    assert spin.text() == shown and entry.runner.spec.hparams()["lr"] == lr
    assert not spin.hasFocus() and not window.isFullScreen()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_S)
    assert view.race.t == 1 and entry.runner.spec.hparams()["lr"] == lr
    assert not view.panel.form.message.isVisible()


def _wheel(widget: QWidget, notches: int) -> None:
    pos = QPointF(widget.rect().center())
    for _ in range(abs(notches)):
        ev = QWheelEvent(
            pos, QPointF(widget.mapToGlobal(pos.toPoint())), QPoint(0, 0),
            QPoint(0, -120 if notches > 0 else 120), Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
        )  # fmt: skip
        QApplication.sendEvent(widget, ev)


def test_the_wheel_over_an_unfocused_combo_scrolls_the_panel(qtbot, window: MainWindow):
    window.resize(1000, 560)  # a short window: the Training panel scrolls
    view = window.show_view("training")
    combo = named(view, QComboBox, "optimizerCombo")
    area = view.control_panel().findChild(QScrollArea, "panelScroll")
    bar = area.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    bar.setValue(0)
    name = combo.currentText()
    _wheel(combo, 5)
    assert combo.currentText() == name  # Adam stays Adam
    assert bar.value() > 0  # the panel scrolled
    # focused (Tab), the combo is what the wheel changes
    focus(qtbot, combo)
    top = bar.value()
    _wheel(combo, 1)
    assert combo.currentText() != name and bar.value() == top


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_control_reached_with_tab_wears_a_ring_in_both_themes(qtbot, window, theme):
    from PySide6.QtGui import QColor, QPalette

    from app.theme import get_theme

    get_theme().set_theme(theme)
    view = window.surface_view
    focus(qtbot, named(view, QComboBox, "addOptimizerCombo"))
    add = tab(qtbot)
    assert add.objectName() == "addOptimizerButton"
    ring = window._guard.ring
    assert ring is not None and ring.isVisible() and ring.widget() is add
    assert ring.geometry().contains(add.geometry())
    image = ring.grab().toImage()
    highlight = ring.palette().color(QPalette.ColorRole.Highlight)
    edge = [QColor(image.pixel(x, image.height() // 2)) for x in (0, 1, image.width() - 2)]
    assert any(abs(c.hue() - highlight.hue()) < 20 and c.saturation() > 80 for c in edge), (
        [c.name() for c in edge], highlight.name()
    )
    # the ring goes when the keyboard is handed back to the view (or a click moves the focus)
    qtbot.keyClick(add, Qt.Key.Key_Return)
    spin = named(view, QAbstractSpinBox, "lrSpin")
    reveal(spin)
    qtbot.mouseClick(spin.lineEdit(), Qt.MouseButton.LeftButton)
    assert not ring.isVisible()


def test_a_refused_lr_is_said_once_and_escape_clears_the_stale_message(qtbot, window):
    """Typed garbage + Enter: the value in force stays and the view says why, and the keyboard is
    back with the run keys; Escape in the box later shows the value in force and drops the
    message, which stayed red after the value was restored."""
    view = window.show_view("training")
    spin = focus(qtbot, named(view, QAbstractSpinBox, "trainLrSpin"))
    lr = view.controls.lane_lr(0)
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "fast")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert "Learning rate" in view.message_text() and "kept" in view.message_text()
    assert view.controls.lane_lr(0) == lr and not spin.hasFocus()
    focus(qtbot, spin)
    qtbot.keyClick(spin, Qt.Key.Key_Escape)
    assert view.message_text() == "" and view.controls.lane_lr(0) == lr
    assert not spin.hasFocus()
