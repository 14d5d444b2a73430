"""The learning-rate finder through its real controls: buttons clicked, fields typed.

The range test runs on a worker thread; every wait is ``qtbot.waitUntil``/``waitSignal`` with a
generous timeout and nothing asserts timing. Runs are short (30 steps) unless a test needs one
that is still going when it cancels or closes the window.
"""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import QtMsgType
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
)

from app.theme import get_theme
from app.views.training_lrfinder import MARKER_COLORS, VALLEY_COLORS
from app.widgets.slider_spin import format_number
from tests.gui.helpers import OFFSCREEN_NOISE, WAIT, click, named, type_into

pytestmark = pytest.mark.usefixtures("warm_torch")


@pytest.fixture
def lrf(qtbot, window, monkeypatch):
    """The Training tab with the finder installed, wired to the view's shutdown the way the
    lead wires it (``view.shutdown()`` calls ``tool.shutdown()``)."""
    window.tabs.setCurrentIndex(1)
    view = window.training_view
    tool = window.tools["training"]["training_lrfinder"]  # installed (and shut down) by MainWindow
    type_into(qtbot, named(window, QSpinBox, "lrFinderSteps"), "30")
    yield window, view, tool
    tool.shutdown()
    assert tool.task.thread_count() == 0


def drawn(tool) -> int:
    """Points of the batch-loss curve on screen."""
    xs = tool.plot.raw_curve.getData()[0]
    return 0 if xs is None else len(xs)


def run_finder(qtbot, win, tool) -> None:
    with qtbot.waitSignal(tool.task.succeeded, timeout=WAIT):
        click(qtbot, named(win, QPushButton, "findLrButton"))


def test_controls_have_names_tooltips_and_accessible_names(lrf):
    win, view, tool = lrf
    names = ["findLrButton", "useLrButton", "useValleyButton", "lrFinderCancel"]
    widgets = [named(win, QPushButton, n) for n in names]
    widgets += [named(win, QAbstractSpinBox, n) for n in ("lrFinderMin", "lrFinderMax")]
    widgets += [named(win, QSpinBox, "lrFinderSteps"), named(win, QProgressBar, "lrFinderProgress")]
    for w in widgets:
        assert w.toolTip() and w.accessibleName(), w.objectName()
    tabs = view.pages.tabs
    assert "LR finder" in [tabs.tabText(i) for i in range(tabs.count())]
    assert not named(win, QPushButton, "useLrButton").isEnabled()  # nothing to use yet
    assert not named(win, QPushButton, "lrFinderCancel").isEnabled()


def test_find_draws_the_curves_and_marks_the_suggestion(qtbot, lrf):
    win, view, tool = lrf
    run_finder(qtbot, win, tool)
    r = tool.result
    assert r is not None and r.suggestion is not None and r.rule == "steepest"
    assert view.pages.tabs.currentWidget() is tool.page  # the page came to the front
    xs, ys = tool.plot.raw_curve.getData()
    assert len(xs) == len(r.lrs) > 10
    assert min(xs) == pytest.approx(-6.0)  # log10 of lr_min: the lr axis is logarithmic
    sx, _sy = tool.plot.smooth_curve.getData()
    assert len(sx) >= len(r.lrs) - 1
    assert tool.plot.marker.isVisible()
    assert tool.plot.marker.value() == pytest.approx(math.log10(r.suggestion))
    shown = format_number(float(f"{r.suggestion:.3g}"), 3)
    assert f"lr {shown}" in tool.plot.marker.label.toPlainText()
    text = named(win, QLabel, "lrFinderResult").text()
    assert f"Suggested learning rate: {shown}" in text and "steepest descent" in text
    assert named(win, QLabel, "lrFinderStatus").text().startswith("Done:")
    bar = named(win, QProgressBar, "lrFinderProgress")
    assert bar.value() == bar.maximum()
    assert named(win, QPushButton, "useLrButton").isEnabled()


def test_use_sets_the_lr_control_and_the_training_optimizer(qtbot, lrf):
    win, view, tool = lrf
    qtbot.waitUntil(lambda: view.controller.engine is not None, timeout=WAIT)
    run_finder(qtbot, win, tool)
    value = float(f"{tool.result.suggestion:.3g}")
    click(qtbot, named(win, QPushButton, "useLrButton"))
    assert view.lr_control.value() == pytest.approx(value)
    assert view.lr_control.spin.text() == format_number(value)
    assert view.controls.lane_lr(0) == pytest.approx(value)  # the race entry's SPEC follows
    engine = view.controller.engine  # and the (paused) run gets it live, like a typed value
    qtbot.waitUntil(
        lambda: engine.lanes[0].optimizer.param_groups[0]["lr"] == pytest.approx(value),
        timeout=WAIT,
    )
    assert "Learning rate set to" in named(win, QLabel, "lrFinderStatus").text()


def test_fastais_valley_is_drawn_beside_the_suggestion_and_can_be_used(qtbot, lrf):
    win, view, tool = lrf
    run_finder(qtbot, win, tool)
    r = tool.result
    assert r.valley is not None and r.suggestion is not None
    line = tool.plot.valley_marker
    assert line.isVisible() and line.value() == pytest.approx(math.log10(r.valley))
    shown = format_number(float(f"{r.valley:.3g}"), 3)
    assert f"valley {shown}" in line.label.toPlainText()
    assert f"fastai's valley rule (dotted): {shown}" in named(win, QLabel, "lrFinderResult").text()
    assert line.pen.color().name().lower() == VALLEY_COLORS["light"].lower()
    click(qtbot, named(win, QPushButton, "useValleyButton"))
    assert view.lr_control.value() == pytest.approx(float(f"{r.valley:.3g}"))
    assert view.controls.lane_lr(0) == pytest.approx(float(f"{r.valley:.3g}"))


def test_use_goes_to_the_race_entry_the_test_ran_for(qtbot, lrf):
    win, view, tool = lrf
    click(qtbot, named(win, QPushButton, "addRaceButton"))  # a second entry, now selected
    assert view.controls.current_lane() == 1
    other = view.controls.lane_lr(0)
    run_finder(qtbot, win, tool)
    assert tool.result.lane == 1
    view.controls.select_lane(0)  # the user looks at the first entry meanwhile
    click(qtbot, named(win, QPushButton, "useLrButton"))
    value = float(f"{tool.result.suggestion:.3g}")
    assert view.controls.current_lane() == 1
    assert view.controls.lane_lr(1) == pytest.approx(value)
    assert view.controls.lane_lr(0) == pytest.approx(other)


def test_finder_runs_beside_training_without_touching_it(qtbot, lrf):
    win, view, tool = lrf
    qtbot.waitUntil(lambda: view.controller.engine is not None, timeout=WAIT)
    engine = view.controller.engine
    click(qtbot, named(win, QPushButton, "trainRunButton"))
    qtbot.waitUntil(lambda: engine.step_count > 5, timeout=WAIT)
    run_finder(qtbot, win, tool)
    before = engine.step_count
    qtbot.waitUntil(lambda: engine.step_count > before, timeout=WAIT)  # still training
    assert engine.state == "running"
    assert engine.lanes[0].optimizer.param_groups[0]["lr"] == pytest.approx(0.01)
    assert tool.result.suggestion is not None


def test_cancel_keeps_the_partial_curve_and_ends_the_thread(qtbot, lrf):
    win, view, tool = lrf
    type_into(qtbot, named(win, QSpinBox, "lrFinderSteps"), "10000")
    type_into(qtbot, named(win, QAbstractSpinBox, "lrFinderMax"), "0.001")  # never blows up
    click(qtbot, named(win, QPushButton, "findLrButton"))
    cancel = named(win, QPushButton, "lrFinderCancel")
    assert cancel.isEnabled() and not named(win, QPushButton, "findLrButton").isEnabled()
    qtbot.waitUntil(lambda: drawn(tool) > 3, timeout=WAIT)
    with qtbot.waitSignal(tool.task.cancelled, timeout=WAIT):
        click(qtbot, cancel)
    shown = drawn(tool)
    assert 3 < shown < 10000
    assert "Cancelled after" in named(win, QLabel, "lrFinderStatus").text()
    assert not named(win, QPushButton, "useLrButton").isEnabled()
    assert not named(win, QPushButton, "useValleyButton").isEnabled()
    assert named(win, QPushButton, "findLrButton").isEnabled() and not cancel.isEnabled()
    assert not tool.plot.marker.isVisible() and not tool.plot.valley_marker.isVisible()
    qtbot.waitUntil(lambda: tool.task.thread_count() == 0, timeout=WAIT)
    qtbot.wait(100)  # the cancelled worker's late points are not drawn
    assert drawn(tool) == shown


def test_bad_range_and_lbfgs_are_refused_in_the_status_line(qtbot, lrf):
    win, view, tool = lrf
    status = named(win, QLabel, "lrFinderStatus")
    type_into(qtbot, named(win, QAbstractSpinBox, "lrFinderMin"), "1")
    type_into(qtbot, named(win, QAbstractSpinBox, "lrFinderMax"), "0.1")
    click(qtbot, named(win, QPushButton, "findLrButton"))
    assert "lr_min must be below lr_max" in status.text() and "\n" not in status.text()
    assert status.property("error") is True
    assert not tool.running and tool.result is None
    assert drawn(tool) == 0
    type_into(qtbot, named(win, QAbstractSpinBox, "lrFinderMin"), "1e-6")
    combo = named(win, QComboBox, "optimizerCombo")
    combo.setCurrentIndex(combo.findData("LBFGS"))
    click(qtbot, named(win, QPushButton, "findLrButton"))
    assert "does not support LBFGS" in status.text()
    assert not tool.running
    spin = named(win, QAbstractSpinBox, "lrFinderMax")
    type_into(qtbot, spin, "-5")  # a typed value the box cannot take is answered, not dropped
    assert status.text().startswith("Learning rate of the last batch must be")
    assert status.property("error") is True and spin.value() == 0.1


def test_theme_change_repens_the_marker(qtbot, lrf):
    win, view, tool = lrf
    run_finder(qtbot, win, tool)
    assert tool.plot.marker.pen.color().name().lower() == MARKER_COLORS["light"].lower()
    get_theme().set_theme("dark")  # (the fixture puts light back)
    assert tool.plot.marker.pen.color().name().lower() == MARKER_COLORS["dark"].lower()


def test_closing_the_window_mid_run_stops_the_thread_cleanly(qtbot, lrf, qtlog):
    win, view, tool = lrf
    type_into(qtbot, named(win, QSpinBox, "lrFinderSteps"), "10000")
    type_into(qtbot, named(win, QAbstractSpinBox, "lrFinderMax"), "0.001")
    click(qtbot, named(win, QPushButton, "findLrButton"))
    qtbot.waitUntil(lambda: drawn(tool) > 0, timeout=WAIT)
    assert tool.running
    win.close()
    assert tool.task.thread_count() == 0
    assert not tool.running
    assert not named(win, QPushButton, "findLrButton").isEnabled()
    assert tool.find() is False  # never starts again after shutdown
    warnings = [
        r.message
        for r in qtlog.records
        if r.type in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg)
        and OFFSCREEN_NOISE not in r.message
    ]
    assert warnings == []


def test_settings_changed_after_a_run_mark_the_result_stale(qtbot, lrf):
    win, view, tool = lrf
    run_finder(qtbot, win, tool)
    type_into(qtbot, named(win, QLineEdit, "hiddenEdit"), "8")
    assert "run it again" in named(win, QLabel, "lrFinderResult").text()


def test_a_failing_run_is_one_line_in_the_status_and_nothing_else_changes(qtbot, lrf, monkeypatch):
    import app.views.training_lrfinder as mod
    from core.errors import GdsimError

    def broken(*_args, **_kwargs):
        raise GdsimError("cuda:3 is not available (available: cpu)")

    win, view, tool = lrf
    monkeypatch.setattr(mod, "find_lr", broken)
    lr_before = view.lr_control.value()
    with qtbot.waitSignal(tool.task.failed, timeout=WAIT):
        click(qtbot, named(win, QPushButton, "findLrButton"))
    status = named(win, QLabel, "lrFinderStatus")
    assert status.text() == "The range test could not run: cuda:3 is not available (available: cpu)"
    assert status.property("error") is True
    assert not named(win, QPushButton, "useLrButton").isEnabled()
    assert named(win, QPushButton, "findLrButton").isEnabled()
    assert view.lr_control.value() == lr_before
