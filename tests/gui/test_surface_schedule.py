"""Schedule & noise as a lecturer uses it: pick a scheduler for the selected optimizer in the
combo, step, read the drops on the Learning rate page; tick gradient noise, drag σ, step, and
see the path change and replay after Reset."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGroupBox,
    QLabel,
    QListWidget,
    QPushButton,
    QSlider,
    QSpinBox,
    QWidget,
)

from app.theme import get_theme
from app.views.surface_schedule import EMPTY_TEXT, ScheduleTool
from core.engine.schedulers import scheduler_names
from tests.gui.helpers import click, named, reveal, shown, type_into

NAMES = {
    "scheduleGroup": QGroupBox,
    "scheduleTarget": QLabel,
    "surfaceSchedulerCombo": QComboBox,
    "noiseCheck": QCheckBox,
    "noiseSlider": QSlider,
    "noiseSpin": QDoubleSpinBox,
    "noiseSeedSpin": QSpinBox,
}


# -- helpers ---------------------------------------------------------------------------------
def w(window, cls: type[QWidget], name: str):
    return named(window.surface_view, cls, name)


def choose(qtbot, combo: QComboBox, text: str) -> None:
    """Open the combo's list and click the entry, as a user does."""
    reveal(combo)
    index = combo.findText(text)
    assert index >= 0, text
    combo.showPopup()
    popup = combo.view()
    qtbot.waitUntil(popup.isVisible)
    model_index = combo.model().index(index, 0)
    popup.scrollTo(model_index)
    rect = popup.visualRect(model_index)
    qtbot.mouseClick(popup.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: not popup.isVisible())
    combo.window().activateWindow()  # the closed popup had the keyboard
    QApplication.processEvents()
    assert combo.currentText() == text


def select_row(qtbot, window, row: int) -> None:
    widget = w(window, QListWidget, "optimizerList")
    reveal(widget)
    item = widget.item(row)
    qtbot.mouseClick(
        widget.viewport(), Qt.MouseButton.LeftButton, pos=widget.visualItemRect(item).center()
    )


def step(qtbot, window, n: int) -> None:
    button = w(window, QPushButton, "stepButton")
    for _ in range(n):
        click(qtbot, button)


def show_lr_page(qtbot, window, tool: ScheduleTool) -> None:
    tabs = window.surface_view.pages.tabs
    bar = tabs.tabBar()
    index = next(i for i in range(tabs.count()) if tabs.tabText(i) == "Learning rate")
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
    qtbot.waitUntil(tool.page.isVisible)


def setup(qtbot, window) -> ScheduleTool:
    tool = window.tools["surfaces"]["surface_schedule"]  # installed by MainWindow (VIEW_TOOLS)
    assert window.surface_view.pages.tabs.indexOf(tool.page) > 0
    return tool


def entry(window, row: int):
    return list(window.surface_view.entries.values())[row]


# -- tests -----------------------------------------------------------------------------------
def test_controls_have_names_tooltips_and_the_registry(qtbot, window):
    tool = setup(qtbot, window)
    for name, cls in NAMES.items():
        widget = w(window, cls, name)
        assert widget.accessibleName(), name
        if cls is not QGroupBox and cls is not QLabel:
            assert widget.toolTip(), name
    assert tool.box.title() == "Schedule && noise"
    assert window.surface_view.control_panel().isAncestorOf(tool.box)
    combo = w(window, QComboBox, "surfaceSchedulerCombo")
    assert [combo.itemData(i) for i in range(combo.count())] == [None, *scheduler_names()]
    tabs = window.surface_view.pages.tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["Loss per step", "Learning rate"]
    # nothing scheduled yet: the page says so instead of drawing flat lines
    show_lr_page(qtbot, window, tool)
    empty = w(window, QLabel, "lrEmptyLabel")
    assert empty.isVisible() and empty.text() == EMPTY_TEXT
    assert not tool.page.plot.isVisible()
    assert not w(window, QCheckBox, "noiseCheck").isChecked()
    assert window.surface_view.race.noise == 0.0


def test_steplr_from_the_combo_drops_the_lr_at_the_right_steps(qtbot, window):
    view = window.surface_view
    tool = setup(qtbot, window)
    select_row(qtbot, window, 1)  # SGD with momentum, lr 0.001
    assert "SGD" in w(window, QLabel, "scheduleTarget").text()
    step(qtbot, window, 2)
    choose(qtbot, w(window, QComboBox, "surfaceSchedulerCombo"), "StepLR")
    sgd = entry(window, 1).runner
    assert str(sgd.scheduler) == "StepLR()" and view.race.t == 0  # the race restarted
    size = w(window, QSpinBox, "sched_step_size")
    assert size.value() == 333  # the race's default horizon (1000 steps) / 3
    type_into(qtbot, size, "3")
    assert str(sgd.scheduler) == "StepLR(step_size=3)"
    show_lr_page(qtbot, window, tool)
    step(qtbot, window, 7)
    assert view.race.t == 7
    assert tool.page.plot.isVisible() and not w(window, QLabel, "lrEmptyLabel").isVisible()
    steps, lrs = tool.page.curve_data(sgd.id)
    assert steps.tolist() == list(range(8))
    np.testing.assert_allclose(lrs, [1e-3] * 3 + [1e-4] * 3 + [1e-5] * 2, rtol=1e-12)
    # the unscheduled runners are drawn flat at their lr, each in its own colour
    adam = entry(window, 2)
    a_steps, a_lrs = tool.page.curve_data(adam.id)
    assert a_steps.tolist() == [0, 7] and a_lrs.tolist() == [0.02, 0.02]
    assert tool.page.curves[adam.id].opts["pen"].color().name().upper() == adam.color.upper()
    # back to none: the runner's lr is constant again and the page says nothing is scheduled
    choose(qtbot, w(window, QComboBox, "surfaceSchedulerCombo"), "none (constant lr)")
    assert sgd.scheduler is None and w(window, QLabel, "lrEmptyLabel").isVisible()


def test_the_combo_follows_the_selected_optimizer(qtbot, window):
    setup(qtbot, window)
    combo = w(window, QComboBox, "surfaceSchedulerCombo")
    select_row(qtbot, window, 2)
    choose(qtbot, combo, "CosineAnnealingLR")
    select_row(qtbot, window, 0)
    assert combo.currentData() is None and "SGD" in w(window, QLabel, "scheduleTarget").text()
    assert entry(window, 0).runner.scheduler is None
    select_row(qtbot, window, 2)
    assert combo.currentText() == "CosineAnnealingLR"
    assert w(window, QSpinBox, "sched_T_max").value() == 1000


def test_a_bad_argument_is_one_line_and_changes_nothing(qtbot, window):
    setup(qtbot, window)
    select_row(qtbot, window, 0)
    choose(qtbot, w(window, QComboBox, "surfaceSchedulerCombo"), "StepLR")
    runner = entry(window, 0).runner
    step(qtbot, window, 3)
    type_into(qtbot, w(window, QDoubleSpinBox, "sched_gammaSpin"), "0")
    error = w(window, QLabel, "scheduleError")
    assert error.isVisible() and "gamma must be in (0, 1]" in error.text()
    assert "\n" not in error.text()
    assert str(runner.scheduler) == "StepLR()" and runner.steps == 3  # nothing changed
    choose(qtbot, w(window, QComboBox, "surfaceSchedulerCombo"), "MultiStepLR")
    assert not error.isVisible()
    edit = w(window, QWidget, "sched_milestonesEdit")
    assert edit.text() == "500, 750"
    type_into(qtbot, edit, "4, 2")
    assert "must be increasing" in error.text() and runner.scheduler.kwargs == {}
    type_into(qtbot, edit, "2, 4")
    assert runner.scheduler.kwargs == {"milestones": [2, 4]} and not error.isVisible()


def test_noise_from_the_controls_changes_the_path_and_reset_replays_it(qtbot, window):
    view = window.surface_view
    setup(qtbot, window)
    rid = entry(window, 2).id  # Adam

    def path(n=6):
        click(qtbot, w(window, QPushButton, "resetButton"))
        step(qtbot, window, n)
        x, y = view.trajectory(rid)
        return np.column_stack([x, y]).copy()

    clean = path()
    click(qtbot, w(window, QCheckBox, "noiseCheck"))
    assert view.race.noise == pytest.approx(1.0)  # the slider's default σ, applied at once
    type_into(qtbot, w(window, QDoubleSpinBox, "noiseSpin"), "0.5")
    assert view.race.noise == 0.5
    noisy = path()
    assert noisy.shape == clean.shape and not np.array_equal(noisy, clean)
    assert np.array_equal(path(), noisy)  # Reset replays the same noise
    slider = w(window, QSlider, "noiseSlider")
    reveal(slider)
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key.Key_PageUp)  # a tenth of the slider: ~2x more noise
    assert view.race.noise > 0.5
    louder = path()
    assert not np.array_equal(louder, noisy)
    type_into(qtbot, w(window, QSpinBox, "noiseSeedSpin"), "7")
    assert view.race.seed == 7 and view.race.t == 0  # a new seed restarts the race
    assert not np.array_equal(path(), louder)
    click(qtbot, w(window, QCheckBox, "noiseCheck"))  # off: exactly the clean path again
    assert view.race.noise == 0.0 and not w(window, QSlider, "noiseSlider").isEnabled()
    assert np.array_equal(path(), clean)


def test_controls_follow_a_race_changed_elsewhere(qtbot, window):
    """A loaded session sets noise and schedules on the race and restarts the view."""
    view = window.surface_view
    setup(qtbot, window)
    select_row(qtbot, window, 3)
    view.race.set_noise(2.5, seed=12)
    view.race.set_schedule(entry(window, 3).runner, "ExponentialLR(gamma=0.9)")
    view.reset()
    assert w(window, QCheckBox, "noiseCheck").isChecked()
    assert w(window, QDoubleSpinBox, "noiseSpin").value() == 2.5
    assert w(window, QSpinBox, "noiseSeedSpin").value() == 12
    assert w(window, QComboBox, "surfaceSchedulerCombo").currentText() == "ExponentialLR"
    assert w(window, QDoubleSpinBox, "sched_gammaSpin").value() == 0.9
    assert view.race.noise == 2.5 and view.race.seed == 12  # showing it changed nothing


def test_page_keeps_up_in_both_themes_and_when_shown_late(qtbot, window):
    view = window.surface_view
    tool = setup(qtbot, window)
    select_row(qtbot, window, 0)
    choose(qtbot, w(window, QComboBox, "surfaceSchedulerCombo"), "OneCycleLR")
    step(qtbot, window, 4)  # the page is hidden: nothing is drawn yet
    sgd = entry(window, 0)
    show_lr_page(qtbot, window, tool)  # shown: drawn at once
    assert tool.page.curve_data(sgd.id)[0].tolist() == list(range(5))
    get_theme().set_theme("dark")
    pen = tool.page.curves[sgd.id].opts["pen"]
    assert pen.color().name().upper() == sgd.color.upper()
    get_theme().set_theme("light")
    image = tool.page.plot.grab().toImage()
    assert not image.isNull() and image.width() > 100
    view.remove_runner(sgd.id)
    view.step_once()
    assert sgd.id not in tool.page.curves
    assert w(window, QLabel, "lrEmptyLabel").isVisible()


def test_schedules_noise_and_own_starts_survive_a_restart(qtbot, window):
    """A schedule and gradient noise are part of what a lecturer set up, like the optimizers:
    closing gdsim and starting it again brings them back, and the race replays the same path."""
    from app.main_window import MainWindow

    view = window.surface_view
    select_row(qtbot, window, 1)
    choose(qtbot, w(window, QComboBox, "surfaceSchedulerCombo"), "StepLR")
    type_into(qtbot, w(window, QSpinBox, "sched_step_size"), "3")
    click(qtbot, w(window, QCheckBox, "noiseCheck"))
    type_into(qtbot, w(window, QDoubleSpinBox, "noiseSpin"), "0.5")
    type_into(qtbot, w(window, QSpinBox, "noiseSeedSpin"), "7")
    view.add_runner("Adam(lr=0.05)", start=(0.5, 0.5))  # one runner with its own start

    def paths(v):
        step(qtbot, v.window(), 6)
        return [np.column_stack(v.trajectory(rid)) for rid in v.entries]

    before = paths(view)
    window.close()

    second = MainWindow()
    shown(qtbot, second)
    v2 = second.surface_view
    assert str(entry(second, 1).runner.scheduler) == "StepLR(step_size=3)"
    assert [e.runner.scheduler for i, e in enumerate(v2.entries.values()) if i != 1] == [None] * 4
    assert (v2.race.noise, v2.race.seed) == (0.5, 7)
    assert entry(second, 4).runner.start == (0.5, 0.5)
    assert entry(second, 0).runner.start == v2.race.start
    assert w(second, QCheckBox, "noiseCheck").isChecked()
    assert w(second, QDoubleSpinBox, "noiseSpin").value() == 0.5
    assert w(second, QSpinBox, "noiseSeedSpin").value() == 7
    select_row(qtbot, second, 1)
    assert w(second, QComboBox, "surfaceSchedulerCombo").currentText() == "StepLR"
    after = paths(v2)
    assert len(after) == len(before)
    for a, b in zip(after, before, strict=True):
        assert np.array_equal(a, b)
    second.close()


def test_a_live_lr_change_keeps_the_lr_history_on_the_page(qtbot, window):
    """Issue 14 item 4: 0.02 -> 0.2 on a runner without a schedule; the steps taken at 0.02
    stay at 0.02 on the page (and the page shows the plot: the lr did change)."""
    tool = setup(qtbot, window)
    select_row(qtbot, window, 2)  # Adam, lr 0.02, no schedule
    adam = entry(window, 2)
    assert adam.runner.scheduler is None and adam.runner.lr == 0.02
    step(qtbot, window, 4)
    type_into(qtbot, w(window, QDoubleSpinBox, "lrSpin"), "0.2")
    assert adam.runner.lr == pytest.approx(0.2)
    step(qtbot, window, 3)
    show_lr_page(qtbot, window, tool)
    assert tool.page.plot.isVisible()
    steps, lrs = tool.page.curve_data(adam.id)
    assert steps.tolist() == [0, 3, 4, 7]
    np.testing.assert_allclose(lrs, [0.02, 0.02, 0.2, 0.2], rtol=1e-12)


def test_onecycle_past_its_end_holds_and_the_page_says_so(qtbot, window):
    tool = setup(qtbot, window)
    select_row(qtbot, window, 0)
    choose(qtbot, w(window, QComboBox, "surfaceSchedulerCombo"), "OneCycleLR")
    type_into(qtbot, w(window, QSpinBox, "sched_total_steps"), "5")
    sgd = entry(window, 0)
    show_lr_page(qtbot, window, tool)
    step(qtbot, window, 4)
    assert sgd.id not in tool.page.hold_markers()  # the cycle's last step is still to come
    step(qtbot, window, 5)
    x, text = tool.page.hold_markers()[sgd.id]
    assert x == 5 and "OneCycleLR" in text and "held" in text
    lrs = tool.page.curve_data(sgd.id)[1]
    assert lrs[4] > 0 and np.all(lrs[4:] == lrs[4])  # the cycle's last rate, kept


def test_formulas_and_compositions_are_typed_as_spec_text(qtbot, window):
    setup(qtbot, window)
    select_row(qtbot, window, 0)
    runner = entry(window, 0).runner
    error = w(window, QLabel, "scheduleError")
    choose(qtbot, w(window, QComboBox, "surfaceSchedulerCombo"), "LambdaLR")
    formula = w(window, QWidget, "sched_lr_lambdaEdit")
    assert formula.text() == "1 / (1 + 0.1 * epoch)"
    type_into(qtbot, formula, "0.5 ^ epoch")
    assert str(runner.scheduler) == "LambdaLR(lr_lambda='0.5 ^ epoch')" and not error.isVisible()
    type_into(qtbot, formula, "epoch +")
    assert "lr_lambda: unexpected end of expression" in error.text() and "\n" not in error.text()
    assert str(runner.scheduler) == "LambdaLR(lr_lambda='0.5 ^ epoch')"  # nothing changed
    choose(qtbot, w(window, QComboBox, "surfaceSchedulerCombo"), "SequentialLR")
    parts = w(window, QWidget, "sched_schedulersEdit")
    assert parts.text() == "LinearLR(start_factor=0.1), CosineAnnealingLR()"
    assert w(window, QWidget, "sched_milestonesEdit").text() == "500"
    type_into(qtbot, parts, "StepLR(step_size=2, gamma=0.5), LambdaLR(lr_lambda='0.9^epoch')")
    type_into(qtbot, w(window, QWidget, "sched_milestonesEdit"), "4")
    assert str(runner.scheduler) == (
        "SequentialLR(schedulers=[StepLR(step_size=2, gamma=0.5), "
        "LambdaLR(lr_lambda='0.9^epoch')], milestones=[4])"
    )
    step(qtbot, window, 6)
    lr0 = runner.lr_series()[1][0]
    np.testing.assert_allclose(
        runner.lr_series()[1], lr0 * np.array([1, 1, 0.5, 0.5, 1, 0.9, 0.81]), rtol=1e-12
    )
