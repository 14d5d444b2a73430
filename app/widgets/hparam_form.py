"""Hyperparameter controls built from registry descriptions (``core.engine.optimizers.HParam``).

Generic because the optimizer list is a registry users can extend: any object with ``name,
default, kind, low, high, log, help, choices`` works. ``changed(name, value)`` fires on user
edits only, never from ``set_values``. A slider spans the registry's ``ui_range``; a typed value
is checked against the valid range (and ``HParam.check``) and, if refused, explained in one line.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QSpinBox,
    QWidget,
)

from app.plaintext import PlainLabel
from app.widgets.form_rows import retire_rows, wrapping_form
from app.widgets.slider_spin import (
    BIG,
    Check,
    LogSliderSpin,
    MessageLabel,
    SciDoubleSpinBox,
    range_check,
)

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
NONE_TEXT = "auto"  # what a pair element that is None shows (torch picks the value)
PRETTY = {
    "lr": "Learning rate",
    "betas": "Betas (β1, β2)",
    "eps": "Epsilon",
    "weight_decay": "Weight decay",
}


class HParamLike(Protocol):
    name: str
    default: Any
    kind: str
    low: float | None
    high: float | None
    log: bool
    help: str
    choices: tuple


def pretty_name(name: str) -> str:
    """'weight_decay' -> 'Weight decay' (labels a lecturer can read out)."""
    return PRETTY.get(name, name.replace("_", " ").capitalize())


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def valid_bounds(
    hp: HParamLike, log: bool = False
) -> tuple[float | None, float | None, bool, bool]:
    """The range a typed value must lie in: (low, high, low_inclusive, high_inclusive).

    From the description's own ``low``/``high`` (``None`` or not finite = unbounded) and its
    ``*_inclusive`` flags when it has them; without flags, a log scale's low end of 0 is open
    (a learning rate of 0 is no learning rate).
    """
    low = float(hp.low) if _finite(hp.low) else None
    high = float(hp.high) if _finite(hp.high) else None
    low_inc = bool(getattr(hp, "low_inclusive", not (log and low == 0.0)))
    high_inc = bool(getattr(hp, "high_inclusive", True))
    return low, high, low_inc, high_inc


def value_check(hp: HParamLike, log: bool = False) -> Check:
    """The check a typed value passes: the valid range, then the description's ``check``."""
    in_range = range_check(*valid_bounds(hp, log))
    own = getattr(hp, "check", None)

    def check(value: float, label: str) -> None:
        in_range(value, label)
        if callable(own):
            own(value, label)

    return check


def float_range(hp: HParamLike, log: bool) -> tuple[float, float]:
    """A usable [low, high] for a float control, filling in what the description leaves open.

    An optional ``slider_range()`` or ``ui_range`` (``core.engine.optimizers.HParam`` has both) wins
    when it suits the scale. Otherwise: a log scale cannot start at 0 (lr is usually "> 0"), so an open or
    zero low end becomes a value a few decades below the default.
    """
    ranged = getattr(hp, "slider_range", None)  # core's HParam: ui_range or its lr rule
    ui = ranged() if callable(ranged) else getattr(hp, "ui_range", None)
    if isinstance(ui, (tuple, list)) and len(ui) == 2 and all(_finite(v) for v in ui):
        lo_ui, hi_ui = float(ui[0]), float(ui[1])
        if lo_ui < hi_ui and (lo_ui > 0 or not log):
            return lo_ui, hi_ui
    low = float(hp.low) if _finite(hp.low) else None
    high = float(hp.high) if _finite(hp.high) else None
    d = float(hp.default) if _finite(hp.default) else None
    if log:
        if low is None or low <= 0:
            ref = d if d and d > 0 else (high if high and high > 0 else 1.0)
            low = ref * 1e-4
            if high is not None and high > 0:
                low = min(low, high * 1e-6)
        if high is None or high <= low:
            ref = d if d and d > 0 else low
            high = max(ref * 1e3, low * 10)
        return low, high
    if low is None:
        low = min(0.0, d if d is not None else 0.0)
    if high is None or high <= low:
        ref = d if d is not None else low
        high = max(low + 1.0, abs(ref) * 10)
    return low, high


class HParamForm(QWidget):
    """A QFormLayout of controls for a list of hyperparameter descriptions."""

    changed = Signal(str, object)  # (name, new value), user edits only

    def __init__(
        self,
        hparams: Iterable[HParamLike] = (),
        parent: QWidget | None = None,
        *,
        lr_slider_name: str = "lrSlider",
        lr_spin_name: str = "lrSpin",
        name_prefix: str = "hp_",
    ) -> None:
        super().__init__(parent)
        self._lr_names = (lr_slider_name, lr_spin_name)
        self._prefix = name_prefix
        self._setting = False
        self._specs: dict[str, HParamLike] = {}
        self._controls: dict[str, QWidget] = {}
        self._retired: list[QWidget] = []  # old rows' widgets until the event loop deletes them
        self._layout = wrapping_form(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.message = MessageLabel(self)  # the last refused typed value, under the controls
        self.message.setObjectName(f"{name_prefix}message")
        self._layout.addRow(self.message)
        self.set_hparams(hparams)

    # -- building --------------------------------------------------------------------------
    def set_hparams(self, hparams: Iterable[HParamLike]) -> None:
        """Rebuild the form for a new list (e.g. another optimizer was selected)."""
        retire_rows(self._layout, self._retired, keep=self.message)
        self.message.clear_message()
        self._specs.clear()
        self._controls.clear()
        for hp in hparams:
            if hp.name in self._specs:
                raise ValueError(f"duplicate hyperparameter {hp.name!r}")
            control = self._build(hp)
            self._specs[hp.name] = hp
            self._controls[hp.name] = control
            if hp.kind == "bool":  # the box carries its own text: the whole text is clickable
                self._layout.addRow(control)
                continue
            label = PlainLabel(pretty_name(hp.name), self)
            label.setToolTip(hp.help)
            label.setBuddy(control)
            label.setObjectName(f"{self._prefix}{hp.name}Label")
            self._layout.addRow(label, control)
        self._layout.addRow(self.message)

    def _build(self, hp: HParamLike) -> QWidget:
        kind = hp.kind
        name = hp.name
        obj = f"{self._prefix}{name}"
        if kind == "float":
            w = self._build_float(hp, obj)
        elif kind == "int":
            w = QSpinBox(self)
            lo = int(hp.low) if _finite(hp.low) else 0
            hi = int(hp.high) if _finite(hp.high) else INT_MAX
            w.setRange(max(INT_MIN, lo), min(INT_MAX, hi))
            if _finite(hp.default):
                w.setValue(int(hp.default))
            w.setKeyboardTracking(False)
            w.valueChanged.connect(lambda v, n=name: self._emit(n, int(v)))
            w.setObjectName(obj)
        elif kind == "bool":
            w = QCheckBox(pretty_name(name), self)
            w.setChecked(bool(hp.default))
            w.toggled.connect(lambda v, n=name: self._emit(n, bool(v)))
            w.setObjectName(obj)
        elif kind == "pair":
            w = self._build_pair(hp, obj)
        elif kind == "choice":
            w = QComboBox(self)
            for choice in hp.choices:
                w.addItem(str(choice), choice)
            idx = w.findData(hp.default) if hp.default is not None else -1
            w.setCurrentIndex(max(0, idx))
            w.currentIndexChanged.connect(lambda _i, n=name, c=w: self._emit(n, c.currentData()))
            w.setObjectName(obj)
        else:
            raise ValueError(f"unknown hyperparameter kind {kind!r} for {name!r}")
        w.setToolTip(hp.help)
        w.setAccessibleName(pretty_name(name))
        w.setAccessibleDescription(hp.help)
        return w

    def _build_float(self, hp: HParamLike, obj: str) -> QWidget:
        is_lr = hp.name == "lr"
        log = bool(hp.log) or is_lr
        bounded = _finite(hp.low) and _finite(hp.high)
        default = float(hp.default) if _finite(hp.default) else None
        low_v, high_v, low_inc, high_inc = valid_bounds(hp, log)
        if log or bounded:
            low, high = float_range(hp, log)
            w = LogSliderSpin(low, high, None, log=log, show_message=False, parent=self)
            # the box takes what the hyperparameter takes; the slider shows the useful part
            w.setValidRange(low_v, high_v, low_inclusive=low_inc, high_inclusive=high_inc)
            own = getattr(hp, "check", None)
            w.setCheck(own if callable(own) else None)
            if default is not None:
                w.setValue(default)
            if is_lr:
                w.setObjectNames(*self._lr_names)
            else:
                w.setObjectNames(f"{obj}Slider", f"{obj}Spin")
            w.setObjectName(obj)
            w.setLabel(pretty_name(hp.name))
            w.valueChanged.connect(lambda v, n=hp.name: self._emit(n, float(v)))
            w.rejected.connect(self._on_rejected)
            w.spin.reverted.connect(self.message.clear_message)
            return w
        w = SciDoubleSpinBox(self)
        w.setRange(-BIG if low_v is None else low_v, BIG if high_v is None else high_v)
        w.setCheck(value_check(hp, log))
        w.setLabel(pretty_name(hp.name))
        if default is not None:
            w.setValue(default)
        w.setObjectName(obj)
        w.valueChanged.connect(lambda v, n=hp.name: self._emit(n, float(v)))
        w.rejected.connect(self._on_rejected)
        w.reverted.connect(self.message.clear_message)
        return w

    def _build_pair(self, hp: HParamLike, obj: str) -> QWidget:
        box = QWidget(self)
        lay = QHBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        default = hp.default if isinstance(hp.default, Sequence) and len(hp.default) == 2 else None
        elements = getattr(hp, "elements", None)
        if not (isinstance(elements, Sequence) and len(elements) == 2):
            elements = None
        spins = []
        for i, which in enumerate(("first", "second")):
            el = elements[i] if elements is not None else hp  # core checks each with hp's range
            s = SciDoubleSpinBox(box, digits=6)
            bounds = valid_bounds(el)  # el is hp when there are no elements
            low, high = bounds[:2]
            s.setRange(-BIG if low is None else low, BIG if high is None else high)
            check = value_check(el) if elements is not None else range_check(*bounds)
            s.setCheck(check)
            s.setLabel(
                pretty_name(el.name)
                if elements is not None
                else f"{pretty_name(hp.name)} ({which})"
            )
            item = default[i] if default is not None else None
            may_be_none = item is None or bool(getattr(el, "optional", False))
            if _finite(item):
                s.setValue(float(item))
            elif item is None:
                ui = getattr(el, "ui_range", None)  # where the arrows start from "auto"
                if isinstance(ui, Sequence) and len(ui) == 2 and _finite(ui[0]):
                    s.setValue(float(ui[0]))
            help_text = getattr(el, "help", "") or hp.help
            if may_be_none:
                s.setNoneText(NONE_TEXT)
                help_text += f" Type {NONE_TEXT!r} (or None) to let torch choose."
                if item is None:
                    s.setNone()
            s.setObjectName(f"{obj}_{i}")
            s.setToolTip(help_text)
            s.setAccessibleName(f"{pretty_name(hp.name)} ({which})")
            s.valueChanged.connect(lambda _v, n=hp.name: self._emit(n, self._pair_value(n)))
            s.cleared.connect(lambda n=hp.name: self._emit(n, self._pair_value(n)))
            s.rejected.connect(self._on_rejected)
            s.reverted.connect(self.message.clear_message)
            lay.addWidget(s)
            spins.append(s)
        box.setObjectName(obj)
        box.spins = spins  # type: ignore[attr-defined]
        return box

    # -- values ----------------------------------------------------------------------------
    def names(self) -> list[str]:
        return list(self._specs)

    def control(self, name: str) -> QWidget:
        """The control for ``name`` (KeyError if absent); a pair's spins are ``.spins``."""
        return self._controls[name]

    def _pair_value(self, name: str) -> tuple[float | None, float | None]:
        """Both elements; one that shows "auto" is None (never its hidden number)."""
        spins = self._controls[name].spins  # type: ignore[attr-defined]
        return (spins[0].optionalValue(), spins[1].optionalValue())

    def value(self, name: str) -> Any:
        hp = self._specs[name]
        w = self._controls[name]
        if hp.kind == "float":
            return float(w.value())  # type: ignore[attr-defined]
        if hp.kind == "int":
            return int(w.value())  # type: ignore[attr-defined]
        if hp.kind == "bool":
            return bool(w.isChecked())  # type: ignore[attr-defined]
        if hp.kind == "pair":
            return self._pair_value(name)
        return w.currentData()  # type: ignore[attr-defined]

    def values(self) -> dict[str, Any]:
        """Every shown hyperparameter's current value, typed (float, int, bool, tuple, choice)."""
        return {name: self.value(name) for name in self._specs}

    def set_values(self, values: dict[str, Any]) -> None:
        """Show these values without emitting ``changed``; unknown names and None are skipped."""
        self._setting = True
        self.message.clear_message()
        try:
            for name, v in values.items():
                if name not in self._specs or v is None:
                    continue
                hp = self._specs[name]
                w = self._controls[name]
                if hp.kind == "float":
                    w.setValue(float(v))  # type: ignore[attr-defined]
                elif hp.kind == "int":
                    w.setValue(int(v))  # type: ignore[attr-defined]
                elif hp.kind == "bool":
                    w.setChecked(bool(v))  # type: ignore[attr-defined]
                elif hp.kind == "pair":
                    for spin, item in zip(w.spins, v, strict=True):  # type: ignore[attr-defined]
                        if item is not None:
                            spin.setValue(float(item))
                        elif spin.noneText():  # an optional element (Adafactor's eps1)
                            spin.setNone()
                else:
                    idx = w.findData(v)  # type: ignore[attr-defined]
                    if idx >= 0:
                        w.setCurrentIndex(idx)  # type: ignore[attr-defined]
        finally:
            self._setting = False

    def _emit(self, name: str, value: Any) -> None:
        if not self._setting:
            self.message.clear_message()
            self.changed.emit(name, value)

    @Slot(str)
    def _on_rejected(self, text: str) -> None:
        self.message.show_message(text)
