"""A slider and a spin box that always agree, on a log or a linear scale.

The slider is for coarse live drags (log for learning rates: equal drags multiply), the box for
exact values, committed on Enter or focus-out (typing "0.0003" never passes through lr 0). The
box takes every *valid* value, beyond the slider's range too (the slider pins at its end); a value
it cannot take keeps the old one and ``rejected(str)`` says why in one line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QSize, Qt, Signal, Slot
from PySide6.QtGui import QFocusEvent, QKeyEvent, QMouseEvent, QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QSlider,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from app.plaintext import PlainLabel
from app.theme import ERROR_COLORS, get_theme
from core.state.format import format_number

#: ``check(value, label)`` raises ValueError (core's GdsimError) with a one-line reason when
#: ``value`` is not allowed; ``core.engine.optimizers.HParam.check`` has exactly this shape.
Check = Callable[[float, str], Any]

BIG = 1.0e300  # "unbounded" for Qt's range (it needs finite ends)
PX_PER_DECADE = 45  # a log drag moves at most one decade per this many pixels (40 px < 10x)
FINE = 10  # Shift+drag moves this many times slower; Shift+arrow moves one position


def range_text(
    low: float | None, high: float | None, low_inclusive: bool = True, high_inclusive: bool = True
) -> str:
    """A valid range in words, as core words it: 'in [0, 1)', '> 0', '>= 0'; '' if unbounded."""
    num = format_number
    if low is not None and high is not None:
        if low_inclusive and high_inclusive:
            return f"between {num(low)} and {num(high)}"
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        return f"in {left}{num(low)}, {num(high)}{right}"
    if low is not None:
        return (">= " if low_inclusive else "> ") + num(low)
    if high is not None:
        return ("<= " if high_inclusive else "< ") + num(high)
    return ""


def range_check(
    low: float | None, high: float | None, low_inclusive: bool = True, high_inclusive: bool = True
) -> Check:
    """A ``Check`` for a (half-)open or closed interval; ``None`` ends are unbounded."""
    words = range_text(low, high, low_inclusive, high_inclusive)

    def check(value: float, label: str) -> float:
        too_low = low is not None and (value < low or (value == low and not low_inclusive))
        too_high = high is not None and (value > high or (value == high and not high_inclusive))
        if too_low or too_high:
            raise ValueError(f"{label} must be {words}, got {format_number(value)}")
        return value

    return check


class MessageLabel(PlainLabel):
    """The one-line reason a typed value was refused, in the theme's error colour.

    Hidden until there is something to say, so it takes no room; ``clear_message`` hides it.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setAccessibleName("Input error")
        self.hide()
        get_theme().changed.connect(self._recolor)
        self._recolor()

    @Slot()
    def _recolor(self) -> None:
        self.setStyleSheet(f"color: {ERROR_COLORS.get(get_theme().name, '#C62828')};")

    def show_message(self, text: str) -> None:
        self.setText(text)
        self.show()

    def clear_message(self) -> None:
        if not self.isHidden() or self.text():
            self.clear()
            self.hide()


class SciDoubleSpinBox(QDoubleSpinBox):
    """A QDoubleSpinBox that shows significant digits (0.0003, 1e-8) and accepts 3e-4.

    The stock box shows a fixed number of decimals, which turns 1e-5 into 0.00 or 0.0000100.
    ``decimals`` is kept at Qt's maximum so stored values are not rounded (1e-30 stays 1e-30);
    only the display is compact. Steps are adaptive (one step changes the second digit).

    Typed text is checked when it is committed (Enter, focus out): a value outside
    ``minimum()..maximum()`` or refused by ``setCheck`` is not taken; the old value comes back
    and ``rejected(reason)`` fires, so a view can say why instead of silently reverting.
    ``setNoneText("auto")`` lets the box also hold *no value* (``optionalValue() is None``;
    Adafactor's eps1 = machine epsilon): it shows the text until the user types a number, and
    typing the text (or "None") back emits ``cleared``.
    """

    rejected = Signal(str)  # one line: why the typed text was not taken, and what was kept
    cleared = Signal()  # the user committed the none text: the value is None again
    reverted = Signal()  # Escape: the typed text was dropped, the value in force is shown

    def __init__(self, parent: QWidget | None = None, digits: int = 4) -> None:
        super().__init__(parent)
        self._digits = digits
        self._label = ""
        self._check: Check | None = None
        self._none_text = ""
        self._none = False
        self.setDecimals(323)  # Qt's maximum: no rounding of tiny values such as eps = 1e-30
        self.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        self.setKeyboardTracking(False)
        self.setAccelerated(True)

    # -- what the box accepts --------------------------------------------------------------
    def setLabel(self, label: str) -> None:  # noqa: N802 (Qt naming)
        """The name messages use ("Learning rate"); default: the accessible name."""
        self._label = label

    def label(self) -> str:
        return self._label or self.accessibleName() or "the value"

    def setCheck(self, check: Check | None) -> None:  # noqa: N802
        """Extra validation of a typed value (raises ValueError with a one-line reason)."""
        self._check = check

    def problem(self, value: float) -> str:
        """Why ``value`` cannot be taken ('' when it can): not finite, refused, out of range."""
        label = self.label()
        if not math.isfinite(value):
            return f"{label} must be a finite number, got {value}"
        if self._check is not None:
            try:
                self._check(value, label)
            except (ValueError, TypeError) as exc:
                first = str(exc).strip().splitlines()
                return first[0] if first else f"{label} cannot be {format_number(value)}"
        lo, hi = self.minimum(), self.maximum()
        if not lo <= value <= hi:
            return f"{label} must be {range_text(lo, hi)}, got {format_number(value)}"
        return ""

    def _typed(self, text: str) -> tuple[float | None, str]:
        """(value, problem) for typed text; value None with no problem = the none text."""
        t = text.strip()
        if self._none_text and t.lower() in (self._none_text.lower(), "none"):
            return None, ""
        if not t:
            return None, f"{self.label()} needs a number"
        try:
            value = float(t)
        except ValueError:
            shown = t if len(t) <= 20 else t[:17] + "..."
            return None, f"{self.label()} must be a number, got {shown!r}"
        return value, self.problem(value)

    # -- None ------------------------------------------------------------------------------
    def setNoneText(self, text: str) -> None:  # noqa: N802
        """Allow "no value", shown as ``text`` ('' turns it off)."""
        self._none_text = text
        if not text and self._none:
            self._none = False
            self.lineEdit().setText(self.textFromValue(self.value()))

    def noneText(self) -> str:  # noqa: N802
        return self._none_text

    def setNone(self) -> None:  # noqa: N802
        """Show "no value" (needs ``setNoneText``); emits nothing, like ``setValue`` of the same."""
        if not self._none_text:
            raise ValueError("setNone needs a none text (setNoneText)")
        self._none = True
        self.lineEdit().setText(self._none_text)

    def optionalValue(self) -> float | None:  # noqa: N802
        return None if self._none else float(self.value())

    def setValue(self, value: float) -> None:  # noqa: N802
        if self._none:  # a number replaces "no value" even if it equals the hidden one
            self._none = False
            self.lineEdit().setText(self.textFromValue(self.value()))
        super().setValue(value)

    def stepBy(self, steps: int) -> None:  # noqa: N802
        was_none, self._none = self._none, False  # an arrow starts from the hidden number
        old = self.value()
        adaptive = self.stepType() == QAbstractSpinBox.StepType.AdaptiveDecimalStepType
        if adaptive and old == 0:  # Qt would step by 10**-decimals (1e-323): step by 0.001
            self.setValue(min(max(steps * 1e-3, self.minimum()), self.maximum()))
        else:
            super().stepBy(steps)
        if was_none and self.value() == old:  # at a bound: still a change (None -> number)
            self.lineEdit().setText(self.textFromValue(old))
            self.valueChanged.emit(old)

    def revert(self) -> None:
        """Show the value in force again, dropping what was typed (Escape; see app.input_policy).
        A message about an earlier refused entry is stale then: ``reverted`` lets it go."""
        self.lineEdit().setText(self.textFromValue(self.value()))
        self.reverted.emit()

    # -- commit ----------------------------------------------------------------------------
    def _review(self) -> None:
        """Before Qt interprets the text (Enter, focus out): refuse it loudly, or take it."""
        text = self.lineEdit().displayText()
        if text == self.textFromValue(self.value()):
            return  # nothing was edited
        value, why = self._typed(text)
        if why:
            self.rejected.emit(f"{why}; kept {self.textFromValue(self.value())}")
            self.lineEdit().setText(self.textFromValue(self.value()))
            return
        if value is None:  # the none text
            self._none = True
            self.lineEdit().setText(self._none_text)
            self.cleared.emit()
            return
        if self._none:
            self._none = False
            if value == self.value():  # Qt would see no change and emit nothing
                self.lineEdit().setText(self.textFromValue(value))
                self.valueChanged.emit(value)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._review()
        super().keyPressEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802
        self._review()
        super().focusOutEvent(event)

    # -- Qt overrides ----------------------------------------------------------------------
    def _widen(self, hint: QSize, template: str) -> QSize:
        """Room for ``template`` whatever min/max are: the stock hint measures only those, so a
        narrow range would clip 0.000316 and an open one (+-1e300) would make the box wide."""
        fm = self.fontMetrics()
        shown = max(
            fm.horizontalAdvance(format_number(self.minimum(), self._digits)),
            fm.horizontalAdvance(format_number(self.maximum(), self._digits)),
        )
        wanted = max(fm.horizontalAdvance(template), fm.horizontalAdvance(self._none_text))
        return QSize(hint.width() + wanted - shown, hint.height())

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return self._widen(super().sizeHint(), "0.000316")

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self._widen(super().minimumSizeHint(), "0.0003")

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt override)
        if self._none:
            return self._none_text
        return format_number(value, self._digits)

    def valueFromText(self, text: str) -> float:  # noqa: N802
        if text == self.textFromValue(self.value()):
            return self.value()  # the shown (rounded) text of the value: keep all its digits
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        # Anything may be typed (so "abc" or "-1" can be answered with a reason on commit);
        # only a value the box can take is Acceptable.
        if self._none and text == self._none_text:
            return QValidator.State.Acceptable, text, pos
        value, why = self._typed(text)
        if value is not None and not why:
            return QValidator.State.Acceptable, text, pos
        return QValidator.State.Intermediate, text, pos

    def fixup(self, text: str) -> str:
        # Reached with refused text only when Enter went to the line edit itself (not through
        # keyPressEvent, which reviews first): say why there too, never revert silently.
        if text != self.textFromValue(self.value()):
            _value, why = self._typed(text)
            if why:
                self.rejected.emit(f"{why}; kept {self.textFromValue(self.value())}")
        return self.textFromValue(self.value())


class FineSlider(QSlider):
    """A QSlider whose drag follows the pointer's travel at a capped rate, with Shift for fine.

    Why: at 1024x768 the lr slider is ~75 px wide, so an absolute drag over decades multiplies
    the value by ~100 every 40 px. ``max_rate`` (positions per pixel; None = no cap) keeps a drag
    relative and slow when the slider is narrow; Shift divides the rate by ``FINE`` and makes an
    arrow key move one position. The handle may lag the pointer then; the box still takes all.
    """

    def __init__(self, orientation: Qt.Orientation, parent: QWidget | None = None) -> None:
        super().__init__(orientation, parent)
        self.max_rate: float | None = None
        self._drag_at: float | None = None  # pointer coordinate of the last drag event
        self._exact = 0.0  # the dragged position before rounding (slow drags add up)

    def _travel(self, event: QMouseEvent) -> float:
        p = event.position()
        return p.x() if self.orientation() == Qt.Orientation.Horizontal else -p.y()

    def rate(self, fine: bool = False) -> float:
        """Slider positions per pixel of drag."""
        length = self.width() if self.orientation() == Qt.Orientation.Horizontal else self.height()
        handle = self.style().pixelMetric(QStyle.PixelMetric.PM_SliderLength, None, self)
        rate = (self.maximum() - self.minimum()) / max(1, length - handle)
        if self.max_rate is not None:
            rate = min(rate, self.max_rate)
        return rate / FINE if fine else rate

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and self.isSliderDown():
            self._drag_at, self._exact = self._travel(event), float(self.sliderPosition())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag_at is None or not self.isSliderDown():
            super().mouseMoveEvent(event)
            return
        at = self._travel(event)
        fine = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        self._exact += (at - self._drag_at) * self.rate(fine)
        self._exact = min(max(self._exact, self.minimum()), self.maximum())
        self._drag_at = at
        self.setSliderPosition(round(self._exact))
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._drag_at = None
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        steps = {Qt.Key.Key_Right: 1, Qt.Key.Key_Up: 1, Qt.Key.Key_Left: -1, Qt.Key.Key_Down: -1}
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier and event.key() in steps:
            self.setValue(self.value() + steps[event.key()])
            event.accept()
            return
        super().keyPressEvent(event)


class LogSliderSpin(QWidget):
    """Horizontal slider + spin box for one float; log scale by default (``log=False``: linear).

    ``slider`` and ``spin`` are the real child controls (tests drag/type into them). Name them
    with ``setObjectNames("lrSlider", "lrSpin")``. ``setValue`` outside what the box can take
    widens the slider's range instead of silently clamping a preset (log mode needs values > 0).

    ``setValidRange``/``setCheck`` let the box take more than the slider shows (the slider then
    pins at its end); without them the box takes exactly the slider's range. A typed value the
    box refuses fires ``rejected(reason)`` and, unless ``show_message=False`` (a form that shows
    its own), shows the reason in ``message`` under the pair until the next accepted value.
    """

    valueChanged = Signal(float)
    rejected = Signal(str)  # one line: why the typed value was not taken, and what was kept

    def __init__(
        self,
        low: float,
        high: float,
        value: float | None = None,
        *,
        log: bool = True,
        steps: int = 1000,
        digits: int = 4,
        show_message: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._log = bool(log)
        self._steps = int(steps)
        self._syncing = False
        self._valid: tuple[float | None, float | None, bool, bool] | None = None
        self._extra_check: Check | None = None
        self.slider = FineSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, self._steps)
        self.slider.setSingleStep(max(1, self._steps // 100))
        self.slider.setPageStep(max(1, self._steps // 10))
        self.spin = SciDoubleSpinBox(self, digits=digits)
        self.message = MessageLabel(self)
        self._show_message = bool(show_message)
        self._fit_slider()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 3)
        row.addWidget(self.spin, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(row)
        lay.addWidget(self.message)
        self._low = self._high = 0.0
        self.setRange(low, high)
        self.spin.setValue(self._low if value is None else self._clamp_range_to(value))
        self._sync_slider()
        self.slider.valueChanged.connect(self._on_slider)
        self.spin.valueChanged.connect(self._on_spin)
        self.spin.rejected.connect(self._on_rejected)
        self.spin.reverted.connect(self.message.clear_message)
        # no focus proxy: a compound with one made Tab jump from before the slider to the box

    def _fit_slider(self) -> None:
        # a slider squeezed to a few pixels cannot be dragged: keep ~5 text lines of travel
        self.slider.setMinimumWidth(5 * self.fontMetrics().height())

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # zoom: keep the slider usable
            self._fit_slider()

    # -- range and mapping -------------------------------------------------------------
    @property
    def is_log(self) -> bool:
        return self._log

    def range(self) -> tuple[float, float]:
        """The slider's range (the box may take more: ``setValidRange``)."""
        return self._low, self._high

    def setRange(self, low: float, high: float) -> None:  # noqa: N802 (Qt naming)
        """Set the slider's [low, high]; in log mode both must be > 0 (ValueError otherwise)."""
        low, high = float(low), float(high)
        if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
            raise ValueError(f"bad range [{low}, {high}]")
        if self._log and low <= 0:
            raise ValueError(f"a log scale needs low > 0, got {low}")
        self._low, self._high = low, high
        guard, self._syncing = self._syncing, True
        try:
            self._fit_spin_range()
            if self._log:  # one arrow step changes the second significant digit
                self.spin.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
                decades = math.log10(high / low)
                self.slider.max_rate = self._steps / (decades * PX_PER_DECADE)
            else:
                self.spin.setStepType(QAbstractSpinBox.StepType.DefaultStepType)
                self.spin.setSingleStep((high - low) / 100)
            self._sync_slider()
        finally:
            self._syncing = guard

    def setValidRange(  # noqa: N802
        self,
        low: float | None,
        high: float | None,
        *,
        low_inclusive: bool = True,
        high_inclusive: bool = True,
    ) -> None:
        """What the box takes when typed (``None`` = unbounded), beyond the slider if need be.

        E.g. lr: ``setValidRange(0, None, low_inclusive=False)`` takes 1e-6 and 500 while the
        slider spans 1e-5..100. Out-of-range typing is refused with a message naming the range.
        """
        self._valid = (
            None if low is None else float(low),
            None if high is None else float(high),
            bool(low_inclusive),
            bool(high_inclusive),
        )
        guard, self._syncing = self._syncing, True
        try:
            self._fit_spin_range()
            self._sync_slider()
        finally:
            self._syncing = guard

    def setCheck(self, check: Check | None) -> None:  # noqa: N802
        """A further check of typed values (``core.engine.optimizers.HParam.check`` fits), run after
        the valid range; it raises ValueError with a one-line reason."""
        self._extra_check = check
        self._install_check()

    def setLabel(self, label: str) -> None:  # noqa: N802
        """The name messages use ("Learning rate"); default: the accessible name."""
        self.spin.setLabel(label)

    def _fit_spin_range(self) -> None:
        """Qt's range for the box: the valid range (open ends = +-BIG) joined with the slider's."""
        if self._valid is None:
            self.spin.setRange(self._low, self._high)
        else:
            lo, hi = self._valid[0], self._valid[1]
            lo = -BIG if lo is None else lo
            hi = BIG if hi is None else hi
            self.spin.setRange(min(lo, self._low), max(hi, self._high))
        self._install_check()

    def _install_check(self) -> None:
        valid, extra = self._valid, self._extra_check
        if valid is None and extra is None:
            self.spin.setCheck(None)  # the box's own range (= the slider's) is the check
            return
        in_range = range_check(*valid) if valid is not None else None

        def check(value: float, label: str) -> None:
            if in_range is not None:
                in_range(value, label)
            if extra is not None:
                extra(value, label)

        self.spin.setCheck(check)

    def _clamp_range_to(self, value: float) -> float:
        """``value`` if the box takes it (the slider pins at its end when it lies beyond);
        otherwise widen the slider's range to fit it (presets win over defaults)."""
        value = float(value)
        if not math.isfinite(value):
            return self._low  # not representable here: fall back rather than crash
        if self._valid is not None and not self.spin.problem(value):
            return value
        if self._log and value <= 0:
            return self._low
        if value < self._low or value > self._high:
            self.setRange(min(self._low, value), max(self._high, value))
        return value

    def _to_pos(self, value: float) -> int:
        if self._log:
            if value <= 0:  # a valid 0 typed into a log pair (noise off): the slider's left end
                return 0
            frac = math.log(value / self._low) / math.log(self._high / self._low)
        else:
            frac = (value - self._low) / (self._high - self._low)
        return int(round(min(1.0, max(0.0, frac)) * self._steps))

    def _to_value(self, pos: int) -> float:
        frac = pos / self._steps
        if self._log:
            v = self._low * (self._high / self._low) ** frac
            v = float(f"{v:.3g}")  # slider positions give round numbers: 0.000316 not 0.00031623
        else:
            v = self._low + frac * (self._high - self._low)
            step = (self._high - self._low) / self._steps
            v = round(v / step) * step if step > 0 else v
            v = float(f"{v:.6g}")
        return min(max(v, self._low), self._high)

    # -- value ---------------------------------------------------------------------------
    def value(self) -> float:
        return float(self.spin.value())

    def setValue(self, value: float) -> None:  # noqa: N802
        """Set the value (emits ``valueChanged`` if it changed, like Qt's own controls)."""
        value = self._clamp_range_to(value)
        self.spin.setValue(value)  # _on_spin syncs the slider and emits

    def _sync_slider(self) -> None:
        guard, self._syncing = self._syncing, True
        try:
            self.slider.setValue(self._to_pos(self.spin.value()))
        finally:
            self._syncing = guard

    @Slot(int)
    def _on_slider(self, pos: int) -> None:
        if self._syncing:
            return
        self.message.clear_message()
        self._syncing = True
        try:
            self.spin.setValue(self._to_value(pos))
        finally:
            self._syncing = False
        self.valueChanged.emit(self.value())

    @Slot(float)
    def _on_spin(self, value: float) -> None:
        if self._syncing:
            return
        self.message.clear_message()
        self._sync_slider()
        self.valueChanged.emit(float(value))

    @Slot(str)
    def _on_rejected(self, text: str) -> None:
        if self._show_message:
            self.message.show_message(text)
        self.rejected.emit(text)

    # -- naming, help --------------------------------------------------------------------
    def setObjectNames(self, slider: str, spin: str) -> None:  # noqa: N802
        """Stable names for the two child controls (tests and screen readers find them)."""
        self.slider.setObjectName(slider)
        self.spin.setObjectName(spin)
        self.message.setObjectName(f"{spin}Message")

    def setToolTip(self, text: str) -> None:  # noqa: N802
        """The tooltip goes on both child controls, where the mouse actually hovers."""
        super().setToolTip(text)
        self.slider.setToolTip(text)
        self.spin.setToolTip(text)

    def setAccessibleName(self, name: str) -> None:  # noqa: N802
        super().setAccessibleName(name)
        self.slider.setAccessibleName(f"{name} slider")
        self.spin.setAccessibleName(name)


class LinearSliderSpin(LogSliderSpin):
    """The same pair on a linear scale (momentum, betas, dampening...)."""

    def __init__(self, low: float, high: float, value: float | None = None, **kwargs) -> None:
        kwargs.setdefault("log", False)
        super().__init__(low, high, value, **kwargs)
