"""Typed values: a box takes what the hyperparameter takes, and says why it refuses the rest.

QA found typed values silently reverted (lr -0.5, momentum 1.0, noise 1e9, the Training view's
lr -1), valid values that could not be typed because the box stopped at the slider's end
(lr 1e-6), and Adafactor's eps1 turning from None into 0.0 when only eps2 was edited. Each test
types real text into the real box, as a user does, and checks what the user then sees.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLabel, QPushButton, QSlider

from app.main_window import MainWindow
from app.views.surface_view import SurfaceView
from tests.gui.helpers import click, named, type_into


def sv(window: MainWindow) -> SurfaceView:
    return window.surface_view


def selected(window: MainWindow):
    view = sv(window)
    return view.entries[view.panel.current_id()]


def add_optimizer(qtbot, window: MainWindow, name: str):
    """Add ``name`` with the Add button; the new runner is selected and its form shown."""
    combo = named(sv(window), QComboBox, "addOptimizerCombo")
    combo.setCurrentIndex(combo.findData(name))
    click(qtbot, named(sv(window), QPushButton, "addOptimizerButton"))
    entry = selected(window)
    assert entry.runner.spec.name == name
    return entry


def form_message(window: MainWindow) -> QLabel:
    return named(sv(window), QLabel, "hp_message")


def shown(root, text: str) -> bool:
    """Whether a visible label under ``root`` says ``text`` (the pair's own message or the
    view's message line, wherever the view chose to show ``rejected``)."""
    return any(lbl.isVisible() and text in lbl.text() for lbl in root.findChildren(QLabel))


REFUSED_LR = [
    ("-0.5", "Learning rate must be > 0, got -0.5"),
    ("0", "Learning rate must be > 0, got 0"),
    ("nan", "Learning rate must be a finite number, got nan"),
    ("abc", "Learning rate must be a number, got 'abc'"),
]


def test_a_refused_learning_rate_says_why_and_changes_nothing(qtbot, window):
    entry = add_optimizer(qtbot, window, "SGD")
    spec = str(entry.runner.spec)
    spin = named(sv(window), QDoubleSpinBox, "lrSpin")
    before = spin.text()
    got: list[str] = []
    named(sv(window), type(spin.parentWidget()), "hp_lr").rejected.connect(got.append)
    message = form_message(window)
    for text, why in REFUSED_LR:  # one window for all (each test builds a MainWindow)
        type_into(qtbot, spin, text)
        assert message.isVisible(), text
        assert message.text() == f"{why}; kept {before}"
        assert got[-1] == message.text()
        assert spin.text() == before  # the box shows the value still in force
        assert str(entry.runner.spec) == spec
    assert len(got) == len(REFUSED_LR)


def test_momentum_and_weight_decay_refusals_name_the_valid_range(qtbot, window):
    entry = add_optimizer(qtbot, window, "SGD")
    spec = str(entry.runner.spec)
    type_into(qtbot, named(sv(window), QDoubleSpinBox, "hp_momentumSpin"), "1.0")
    assert form_message(window).text() == "Momentum must be in [0, 1), got 1; kept 0"
    # Tab (focus out) commits like Enter: refused the same way
    wd = named(sv(window), QDoubleSpinBox, "hp_weight_decay")
    type_into(qtbot, wd, "-1", enter=False)
    qtbot.keyClick(wd, Qt.Key.Key_Tab)
    assert not wd.hasFocus()
    assert form_message(window).isVisible()
    assert form_message(window).text() == "Weight decay must be >= 0, got -1; kept 0"
    assert str(entry.runner.spec) == spec
    # the next accepted value clears the message
    type_into(qtbot, wd, "0.01")
    assert not form_message(window).isVisible()
    assert entry.runner.spec.hparams()["weight_decay"] == pytest.approx(0.01)


def test_a_learning_rate_below_the_slider_is_taken_and_the_slider_pins(qtbot, window):
    entry = add_optimizer(qtbot, window, "SGD")
    slider = named(sv(window), QSlider, "lrSlider")
    type_into(qtbot, named(sv(window), QDoubleSpinBox, "lrSpin"), "1e-6")
    assert entry.runner.spec.hparams()["lr"] == pytest.approx(1e-6)
    assert entry.runner._opt.param_groups[0]["lr"] == pytest.approx(1e-6)  # the real optimizer
    assert slider.value() == slider.minimum()  # the slider's range (1e-5..100) is unchanged
    assert named(sv(window), QDoubleSpinBox, "lrSpin").text() == "1e-6"
    assert not form_message(window).isVisible()
    type_into(qtbot, named(sv(window), QDoubleSpinBox, "lrSpin"), "500")  # lr has no top end
    assert entry.runner.spec.hparams()["lr"] == pytest.approx(500.0)
    assert slider.value() == slider.maximum()


def test_momentum_beyond_the_slider_but_below_one_is_taken(qtbot, window):
    entry = add_optimizer(qtbot, window, "SGD")
    type_into(qtbot, named(sv(window), QDoubleSpinBox, "hp_momentumSpin"), "0.9995")
    assert entry.runner.spec.hparams()["momentum"] == pytest.approx(0.9995)
    slider = named(sv(window), QSlider, "hp_momentumSlider")
    assert slider.value() == slider.maximum()


def test_adafactor_eps1_stays_none_when_only_eps2_is_edited(qtbot, window):
    entry = add_optimizer(qtbot, window, "Adafactor")
    first = named(sv(window), QDoubleSpinBox, "hp_eps_0")
    second = named(sv(window), QDoubleSpinBox, "hp_eps_1")
    assert first.text() == "auto"  # None: torch picks machine epsilon
    type_into(qtbot, second, "0.002")
    assert entry.runner.spec.hparams()["eps"] == (None, pytest.approx(0.002))
    assert first.text() == "auto"
    # the user can give eps1 a number, and take it back to None
    type_into(qtbot, first, "1e-30")
    assert entry.runner.spec.hparams()["eps"] == (pytest.approx(1e-30), pytest.approx(0.002))
    type_into(qtbot, first, "auto")
    assert entry.runner.spec.hparams()["eps"] == (None, pytest.approx(0.002))
    assert first.text() == "auto"


def test_refused_noise_sigma_says_why(qtbot, window):
    view = sv(window)
    click(qtbot, named(view, QCheckBox, "noiseCheck"))
    noise = view.race.noise
    spin = named(view, QDoubleSpinBox, "noiseSpin")
    before = spin.text()
    got: list[str] = []
    spin.rejected.connect(got.append)
    type_into(qtbot, spin, "1e9")
    assert len(got) == 1
    assert got[0].startswith("Gradient noise σ must be ")
    assert got[0].endswith(f", got 1e9; kept {before}")
    assert shown(view, got[0])
    assert view.race.noise == noise and spin.text() == before
    type_into(qtbot, spin, "5000")  # beyond the slider's 1000, within what the race takes
    assert view.race.noise == 5000 and len(got) == 1


def test_refused_training_learning_rate_says_why(qtbot, window):
    window.tabs.setCurrentIndex(1)  # the Training tab, as the user clicks it
    view = window.training_view
    spin = named(view, QDoubleSpinBox, "trainLrSpin")
    before, lr = spin.text(), view.lr_control.value()
    config = view.controls.config()
    got: list[str] = []
    spin.rejected.connect(got.append)
    for i, text in enumerate(["-1", "0", "nan", "abc"], start=1):
        type_into(qtbot, spin, text)
        assert len(got) == i, text
        assert got[-1].startswith("Learning rate must be ")
        assert got[-1].endswith(f"; kept {before}")
        assert shown(view, got[-1])
        assert spin.text() == before and view.lr_control.value() == lr
        assert view.controls.config() == config
