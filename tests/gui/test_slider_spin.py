"""LogSliderSpin: the real slider and the real spin box always agree, without loops."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QStyle, QStyleOptionSlider

from app.widgets.slider_spin import LinearSliderSpin, LogSliderSpin, SciDoubleSpinBox, format_number


@pytest.fixture
def lr(qtbot):
    w = LogSliderSpin(1e-5, 1.0, 0.01)
    w.setObjectNames("lrSlider", "lrSpin")
    qtbot.addWidget(w)
    w.show()
    return w


def test_names_and_initial_agreement(lr):
    assert lr.findChild(type(lr.slider), "lrSlider") is lr.slider
    assert lr.findChild(SciDoubleSpinBox, "lrSpin") is lr.spin
    assert lr.value() == pytest.approx(0.01)
    # 0.01 is 3 of 5 decades above 1e-5: 60 % along a log slider
    assert lr.slider.value() == pytest.approx(0.6 * lr.slider.maximum(), abs=1)


def test_moving_the_slider_updates_the_spin_box_once(qtbot, lr):
    got: list[float] = []
    lr.valueChanged.connect(got.append)
    lr.slider.setFocus()
    qtbot.keyClick(lr.slider, Qt.Key.Key_End)  # the user drives the real slider
    assert lr.value() == pytest.approx(1.0)
    assert got == [pytest.approx(1.0)]
    lr.slider.setValue(lr.slider.maximum() // 5)  # 1 decade up from 1e-5
    assert lr.value() == pytest.approx(1e-4, rel=1e-3)
    assert lr.spin.text() == "0.0001"
    assert len(got) == 2


def test_dragging_the_slider_handle(qtbot, lr):
    got: list[float] = []
    lr.valueChanged.connect(got.append)
    s = lr.slider
    lr.resize(400, 40)
    qtbot.wait(10)
    opt = QStyleOptionSlider()
    s.initStyleOption(opt)
    handle = s.style().subControlRect(
        QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderHandle, s
    )
    start, end = handle.center(), QPoint(s.width() - 2, handle.center().y())
    qtbot.mousePress(s, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(s, pos=QPoint((start.x() + end.x()) // 2, start.y()))
    qtbot.mouseMove(s, pos=end)
    qtbot.mouseRelease(s, Qt.MouseButton.LeftButton, pos=end)
    assert got, "dragging the handle changed nothing"
    assert got[-1] == pytest.approx(lr.value())
    assert lr.value() == pytest.approx(lr._to_value(s.value()))
    assert lr.value() > 0.5  # dragged to the right end: close to the maximum 1.0


def test_typing_into_the_spin_box_updates_the_slider(qtbot, lr):
    got: list[float] = []
    lr.valueChanged.connect(got.append)
    lr.spin.setFocus()
    lr.spin.selectAll()
    qtbot.keyClicks(lr.spin, "0.0003")
    assert got == []  # no live change while typing (would pass through lr = 0)
    qtbot.keyClick(lr.spin, Qt.Key.Key_Return)
    assert got == [pytest.approx(0.0003)]
    assert lr.value() == pytest.approx(0.0003)  # exact, not snapped to a slider position
    assert lr.spin.text() == "0.0003"
    expected = math.log(0.0003 / 1e-5) / math.log(1.0 / 1e-5) * lr.slider.maximum()
    assert lr.slider.value() == pytest.approx(expected, abs=1)


def test_scientific_input_and_out_of_range_typing(qtbot, lr):
    lr.spin.selectAll()
    qtbot.keyClicks(lr.spin, "2e-3")
    qtbot.keyClick(lr.spin, Qt.Key.Key_Return)
    assert lr.value() == pytest.approx(2e-3)
    lr.spin.selectAll()
    qtbot.keyClicks(lr.spin, "50")  # above the maximum: not accepted
    qtbot.keyClick(lr.spin, Qt.Key.Key_Return)
    assert lr.value() == pytest.approx(2e-3)


def test_set_value_widens_the_range_instead_of_clamping(lr):
    lr.setValue(5.0)
    assert lr.value() == 5.0
    assert lr.range()[1] == 5.0
    assert lr.slider.value() == lr.slider.maximum()


def test_linear_mode(qtbot):
    w = LinearSliderSpin(0.0, 1.0, 0.9)
    qtbot.addWidget(w)
    assert not w.is_log
    assert w.slider.value() == pytest.approx(0.9 * w.slider.maximum(), abs=1)
    w.slider.setValue(w.slider.maximum() // 2)
    assert w.value() == pytest.approx(0.5)


def test_log_scale_rejects_non_positive_range():
    with pytest.raises(ValueError):
        LogSliderSpin(0.0, 1.0)


def test_tooltip_and_accessible_names_reach_the_children(lr):
    lr.setToolTip("How far each step moves.")
    lr.setAccessibleName("Learning rate")
    assert lr.slider.toolTip() == lr.spin.toolTip() == "How far each step moves."
    assert lr.spin.accessibleName() == "Learning rate"
    assert lr.slider.accessibleName() == "Learning rate slider"


@pytest.mark.parametrize(
    "value, text",
    [
        (0.0003, "0.0003"),
        (1e-8, "1e-8"),
        (0.1, "0.1"),
        (2.5e-6, "2.5e-6"),
        (12345, "1.234e4"),
        (0, "0"),
    ],
)
def test_format_number(value, text):
    assert format_number(value) == text


def _drag(slider, dx: int, shift: bool = False) -> None:
    """Press the handle, move ``dx`` px in small steps (Shift held or not), release."""
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    opt = QStyleOptionSlider()
    slider.initStyleOption(opt)
    handle = slider.style().subControlRect(
        QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderHandle, slider
    )
    mods = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    left = Qt.MouseButton.LeftButton
    x0, y = handle.center().x(), handle.center().y()

    def send(kind, x, button, buttons):
        pos = QPointF(x, y)
        ev = QMouseEvent(kind, pos, slider.mapToGlobal(pos), button, buttons, mods)
        QApplication.sendEvent(slider, ev)

    send(QEvent.Type.MouseButtonPress, x0, left, left)
    for i in range(1, 9):
        send(QEvent.Type.MouseMove, x0 + dx * i / 8, Qt.MouseButton.NoButton, left)
    send(QEvent.Type.MouseButtonRelease, x0 + dx, left, Qt.MouseButton.NoButton)


@pytest.fixture
def narrow(qtbot):
    """SGD's lr pair as the 1024x768 panel lays it out: 5 decades on a ~75 px slider."""
    w = LogSliderSpin(1e-4, 10.0, 0.001)
    w.slider.setFixedWidth(75)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_a_short_drag_on_a_narrow_slider_changes_lr_by_a_bounded_factor(narrow):
    # issue 15 item 9: 40 px took SGD from 0.001 to 57.8
    _drag(narrow.slider, 40)
    assert 1.0 < narrow.value() / 0.001 < 10.0


def test_shift_drag_and_shift_arrow_are_fine(qtbot, narrow):
    _drag(narrow.slider, 40, shift=True)
    fine = narrow.value() / 0.001
    assert 1.0 < fine < 1.5  # a tenth of the plain rate
    narrow.setValue(0.001)
    narrow.slider.setFocus()
    qtbot.keyClick(narrow.slider, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    shift_step = narrow.value() / 0.001
    narrow.setValue(0.001)
    qtbot.keyClick(narrow.slider, Qt.Key.Key_Right)
    plain_step = narrow.value() / 0.001
    assert 1.0 < shift_step < plain_step
