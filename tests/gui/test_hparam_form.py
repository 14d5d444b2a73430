"""HParamForm builds the right control for each kind, with help tooltips and names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QSlider, QSpinBox

import core.engine.optimizers as optimizers
from app.widgets.hparam_form import HParamForm, float_range
from app.widgets.slider_spin import LogSliderSpin, SciDoubleSpinBox


@dataclass(frozen=True)
class HP:  # stands in for core.engine.optimizers.HParam (duck typing)
    name: str
    default: Any
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    help: str = ""
    choices: tuple = ()


ADAMISH = (
    HP("lr", 0.001, "float", 0.0, None, True, "Step size: how far each update moves."),
    HP("betas", (0.9, 0.999), "pair", 0.0, 1.0, False, "Decay of the moment estimates."),
    HP("eps", 1e-8, "float", 0.0, None, True, "Keeps the division stable."),
    HP("momentum", 0.9, "float", 0.0, 1.0, False, "How much past direction is kept."),
    HP("weight_decay", 0.0, "float", 0.0, None, False, "Pulls weights towards zero."),
    HP("history_size", 100, "int", 1, 1000, False, "Past steps remembered by L-BFGS."),
    HP("nesterov", False, "bool", None, None, False, "Look ahead before stepping."),
    HP("line_search_fn", None, "choice", None, None, False, "Line search.", (None, "strong_wolfe")),
)


@pytest.fixture
def form(qtbot):
    f = HParamForm(ADAMISH, lr_slider_name="trainLrSlider", lr_spin_name="trainLrSpin")
    qtbot.addWidget(f)
    f.show()
    return f


def test_control_types_tooltips_and_names(form):
    lr = form.control("lr")
    assert isinstance(lr, LogSliderSpin) and lr.is_log
    assert form.findChild(QSlider, "trainLrSlider") is lr.slider
    assert form.findChild(SciDoubleSpinBox, "trainLrSpin") is lr.spin
    assert isinstance(form.control("momentum"), LogSliderSpin)
    assert not form.control("momentum").is_log  # bounded, linear: slider + spin
    assert isinstance(form.control("weight_decay"), SciDoubleSpinBox)  # unbounded: spin only
    assert isinstance(form.control("history_size"), QSpinBox)
    assert isinstance(form.control("nesterov"), QCheckBox)
    assert isinstance(form.control("line_search_fn"), QComboBox)
    assert len(form.control("betas").spins) == 2
    for hp in ADAMISH:
        w = form.control(hp.name)
        assert w.toolTip() == hp.help
        assert w.accessibleName()
    assert lr.slider.toolTip() == ADAMISH[0].help and lr.spin.toolTip() == ADAMISH[0].help
    assert form.control("betas").spins[1].accessibleName() == "Betas (β1, β2) (second)"


def test_values_are_typed_defaults(form):
    v = form.values()
    assert v == {
        "lr": pytest.approx(0.001),
        "betas": (pytest.approx(0.9), pytest.approx(0.999)),
        "eps": pytest.approx(1e-8),
        "momentum": pytest.approx(0.9),
        "weight_decay": 0.0,
        "history_size": 100,
        "nesterov": False,
        "line_search_fn": None,
    }
    assert isinstance(v["history_size"], int) and isinstance(v["betas"], tuple)


def test_set_values_does_not_emit_changed(qtbot, form):
    got = []
    form.changed.connect(lambda n, v: got.append((n, v)))
    form.set_values({"lr": 0.05, "betas": (0.5, 0.6), "nesterov": True, "history_size": 7,
                     "line_search_fn": "strong_wolfe", "unknown": 1})  # fmt: skip
    assert got == []
    v = form.values()
    assert v["lr"] == pytest.approx(0.05) and v["betas"] == (0.5, 0.6)
    assert v["nesterov"] is True and v["history_size"] == 7
    assert v["line_search_fn"] == "strong_wolfe"


def test_user_edits_emit_changed(qtbot, form):
    got = []
    form.changed.connect(lambda n, v: got.append((n, v)))
    box = form.control("nesterov")
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    assert got[-1] == ("nesterov", True)
    spin = form.control("lr").spin
    spin.selectAll()
    qtbot.keyClicks(spin, "0.02")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert got[-1] == ("lr", pytest.approx(0.02))
    second = form.control("betas").spins[1]
    second.selectAll()
    qtbot.keyClicks(second, "0.95")
    qtbot.keyClick(second, Qt.Key.Key_Return)
    assert got[-1] == ("betas", (pytest.approx(0.9), pytest.approx(0.95)))
    form.control("line_search_fn").setCurrentIndex(1)
    assert got[-1] == ("line_search_fn", "strong_wolfe")


def test_rebuild_for_another_optimizer(form):
    form.set_hparams([HP("lr", 0.1, "float", 0.0, 10.0, True, "Step size.")])
    assert form.names() == ["lr"]
    assert form.control("lr").spin.objectName() == "trainLrSpin"
    with pytest.raises(KeyError):
        form.control("betas")


def test_bad_descriptions_raise(qtbot):
    with pytest.raises(ValueError, match="unknown hyperparameter kind"):
        HParamForm([HP("x", 1, "tensor")])
    with pytest.raises(ValueError, match="duplicate"):
        HParamForm([HP("x", 1, "int"), HP("x", 2, "int")])


def test_float_range_fills_open_ends():
    lo, hi = float_range(HP("lr", 0.001, "float", 0.0, None, True), log=True)
    assert 0 < lo < 0.001 < hi
    lo, hi = float_range(HP("lr", 0.001, "float", 0.0, 10.0, True), log=True)
    assert 0 < lo <= 1e-5 and hi == 10.0
    assert float_range(HP("m", 0.9, "float", 0.0, 1.0), log=False) == (0.0, 1.0)


def test_ui_range_from_the_registry_wins_when_it_fits():
    @dataclass(frozen=True)
    class WithUi(HP):
        ui_range: tuple | None = None

    assert float_range(WithUi("lr", 0.01, "float", 0.0, None, True, ui_range=(1e-5, 10.0)),
                       log=True) == (1e-5, 10.0)  # fmt: skip
    # a range starting at 0 cannot be a log scale: fall back to the derived one
    lo, hi = float_range(WithUi("lr", 0.01, "float", 0.0, None, True, ui_range=(0.0, 1.0)), True)
    assert lo > 0


def test_builds_from_the_real_registry():
    """Every registered optimizer's hyperparameters become controls (the contract's HParam)."""
    for name in optimizers.optimizer_names():
        info = optimizers.get_optimizer(name)
        form = HParamForm(info.hparams)
        values = form.values()
        assert list(values) == [hp.name for hp in info.hparams]
        assert form.findChild(QSlider, "lrSlider") is not None or "lr" not in values
        form.deleteLater()


def test_the_lr_slider_spans_each_optimizers_useful_range(qtbot):
    # issue 15 item 9: one 1e-5..100 slider for every optimizer made a short drag jump decades
    ranges = {}
    for name in ("SGD", "Adam", "LBFGS"):
        info = optimizers.get_optimizer(name)
        form = HParamForm(info.hparams)
        qtbot.addWidget(form)
        lr = form.control("lr")
        low, high = lr.range()
        default = info.hparam("lr").default
        assert low <= default <= high and high / low <= 1e5 + 1, name
        ranges[name] = (low, high)
        lr.spin.setValue(1e-7)  # the typed box still takes any valid lr
        assert lr.value() == pytest.approx(1e-7)
    assert len(set(ranges.values())) == 3
