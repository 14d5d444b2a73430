"""A slider and a spin box that always agree, on a log or a linear scale.

Why both: a lecturer drags the slider while the class watches (coarse, live), and types an
exact value like 0.0003 into the spin box (precise). Learning rates span decades, so the slider
is logarithmic: equal drags multiply the value by equal factors. Each control updates the other
under a guard, so there is no feedback loop and no quantisation of the typed value by the
slider's integer positions. ``valueChanged(float)`` fires once per change of value, whichever
control (or ``setValue``) caused it. The spin box commits on Enter/focus-out, not on every
keystroke: typing "0.0003" must not pass through an lr of 0.
"""

from __future__ import annotations

import math
import re

from PySide6.QtCore import QEvent, QSize, Qt, Signal, Slot
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QAbstractSpinBox, QDoubleSpinBox, QHBoxLayout, QSlider, QWidget

_FLOAT_PREFIX = re.compile(r"^[+-]?(\d+\.?\d*|\.\d*)?([eE][+-]?\d*)?$")


def format_number(value: float, digits: int = 4) -> str:
    """Compact text with ``digits`` significant digits: 0.0003, 0.1, 2.5e-06, 1e+04 -> 1e4."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    text = f"{value:.{digits}g}"
    if "e" in text:
        mant, exp = text.split("e")
        text = f"{mant}e{int(exp)}"
    return text


class SciDoubleSpinBox(QDoubleSpinBox):
    """A QDoubleSpinBox that shows significant digits (0.0003, 1e-8) and accepts 3e-4.

    The stock box shows a fixed number of decimals, which turns 1e-5 into 0.00 or 0.0000100.
    ``decimals`` is kept high so stored values are not rounded; only the display is compact.
    Steps are adaptive (one step changes the second significant digit).
    """

    def __init__(self, parent: QWidget | None = None, digits: int = 4) -> None:
        super().__init__(parent)
        self._digits = digits
        self.setDecimals(20)
        self.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        self.setKeyboardTracking(False)
        self.setAccelerated(True)

    def _widen(self, hint: QSize, template: str) -> QSize:
        """Room for ``template`` whatever min/max are (the stock hint measures only those)."""
        fm = self.fontMetrics()
        shown = max(
            fm.horizontalAdvance(self.textFromValue(self.minimum())),
            fm.horizontalAdvance(self.textFromValue(self.maximum())),
        )
        extra = fm.horizontalAdvance(template) - shown
        return QSize(hint.width() + max(0, extra), hint.height())

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return self._widen(super().sizeHint(), "0.000316")

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self._widen(super().minimumSizeHint(), "0.0003")

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt override)
        return format_number(value, self._digits)

    def valueFromText(self, text: str) -> float:  # noqa: N802
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        t = text.strip()
        try:
            v = float(t)
        except ValueError:
            ok = _FLOAT_PREFIX.match(t) is not None
            state = QValidator.State.Intermediate if ok else QValidator.State.Invalid
            return state, text, pos
        if not math.isfinite(v):
            return QValidator.State.Invalid, text, pos
        if self.minimum() <= v <= self.maximum():
            return QValidator.State.Acceptable, text, pos
        return QValidator.State.Intermediate, text, pos

    def fixup(self, text: str) -> str:
        return self.textFromValue(self.value())


class LogSliderSpin(QWidget):
    """Horizontal slider + spin box for one float; log scale by default (``log=False``: linear).

    ``slider`` and ``spin`` are the real child controls (tests drag/type into them). Name them
    with ``setObjectNames("lrSlider", "lrSpin")``. ``setValue`` outside the range widens the
    range instead of silently clamping a preset (log mode needs values > 0).
    """

    valueChanged = Signal(float)

    def __init__(
        self,
        low: float,
        high: float,
        value: float | None = None,
        *,
        log: bool = True,
        steps: int = 1000,
        digits: int = 4,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._log = bool(log)
        self._steps = int(steps)
        self._syncing = False
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, self._steps)
        self.slider.setSingleStep(max(1, self._steps // 100))
        self.slider.setPageStep(max(1, self._steps // 10))
        self.spin = SciDoubleSpinBox(self, digits=digits)
        self._fit_slider()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.slider, 3)
        lay.addWidget(self.spin, 2)
        self._low = self._high = 0.0
        self.setRange(low, high)
        self.spin.setValue(self._low if value is None else self._clamp_range_to(value))
        self._sync_slider()
        self.slider.valueChanged.connect(self._on_slider)
        self.spin.valueChanged.connect(self._on_spin)
        self.setFocusProxy(self.spin)

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
        return self._low, self._high

    def setRange(self, low: float, high: float) -> None:  # noqa: N802 (Qt naming)
        """Set [low, high]; in log mode both must be > 0 (ValueError otherwise)."""
        low, high = float(low), float(high)
        if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
            raise ValueError(f"bad range [{low}, {high}]")
        if self._log and low <= 0:
            raise ValueError(f"a log scale needs low > 0, got {low}")
        self._low, self._high = low, high
        guard, self._syncing = self._syncing, True
        try:
            self.spin.setRange(low, high)
            if self._log:  # one arrow step changes the second significant digit
                self.spin.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
            else:
                self.spin.setStepType(QAbstractSpinBox.StepType.DefaultStepType)
                self.spin.setSingleStep((high - low) / 100)
            self._sync_slider()
        finally:
            self._syncing = guard

    def _clamp_range_to(self, value: float) -> float:
        """Widen the range so that ``value`` fits (presets win over defaults); return it."""
        value = float(value)
        if not math.isfinite(value) or (self._log and value <= 0):
            return self._low  # not representable here: fall back rather than crash
        if value < self._low or value > self._high:
            self.setRange(min(self._low, value), max(self._high, value))
        return value

    def _to_pos(self, value: float) -> int:
        if self._log:
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
        self._sync_slider()
        self.valueChanged.emit(float(value))

    # -- naming, help --------------------------------------------------------------------
    def setObjectNames(self, slider: str, spin: str) -> None:  # noqa: N802
        """Stable names for the two child controls (tests and screen readers find them)."""
        self.slider.setObjectName(slider)
        self.spin.setObjectName(spin)

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
