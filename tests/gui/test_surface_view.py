"""The Surfaces view as a user drives it: real buttons, fields, sliders, list items and clicks on
the map; assertions on what is on screen (plotted points, legend, labels, button texts)."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QScrollBar,
    QSlider,
    QStyle,
    QStyleOptionButton,
    QTabBar,
    QWidget,
)

from app.main_window import MainWindow
from app.settings import open_settings
from app.theme import get_theme
from app.views.surface_plots import LINE_WIDTH
from app.views.surface_view import DEFAULT_RACE, SPEED_MAX, SurfaceView
from core.engine.race import Runner
from core.files.session import MAX_RUNNERS, loads_session
from tests.gui.helpers import (
    click,
    data_to_widget,
    map_drawn,
    map_values,
    named,
    reveal,
    type_into,
)

NAMES = (
    "surfaceView", "surfaceLossPlot", "surfaceLossLogCheck", "surfaceCombo", "surfaceDescription",
    "expressionEdit", "expressionError", "optimizerList", "addOptimizerCombo",
    "addOptimizerButton", "duplicateOptimizerButton", "removeOptimizerButton", "lrSlider",
    "lrSpin", "surfaceHparamError", "runButton", "stepButton", "resetButton", "speedSlider",
    "speedLabel", "startLabel",
)  # fmt: skip


# -- helpers ---------------------------------------------------------------------------------
def sv(window: MainWindow) -> SurfaceView:
    return window.surface_view


def w(window: MainWindow, cls: type[QWidget], name: str):
    """The surfaces page's control of that name (exactly one: names are unique there)."""
    return named(window.surface_view, cls, name)


def press(qtbot, window, name: str) -> None:
    click(qtbot, w(window, QPushButton, name))


def lengths(view: SurfaceView) -> dict[int, int]:
    return {rid: len(view.trajectory(rid)[0]) for rid in view.entries}


def runner(view: SurfaceView, index: int) -> Runner:
    return list(view.entries.values())[index].runner


def lst(window) -> QListWidget:
    return w(window, QListWidget, "optimizerList")


def click_item(qtbot, window, row: int, double: bool = False) -> None:
    widget = lst(window)
    reveal(widget)
    item = widget.item(row)
    widget.scrollToItem(item)
    pos = widget.visualItemRect(item).center()
    qtbot.mouseClick(widget.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    if double:
        qtbot.mouseDClick(widget.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def click_check(qtbot, window, row: int) -> None:
    """Click the check box of a list row (Fusion draws it at the left edge)."""
    widget = lst(window)
    reveal(widget)
    item = widget.item(row)
    rect = widget.visualItemRect(item)
    pos = rect.topLeft()
    pos.setX(rect.left() + 4 + 7)
    pos.setY(rect.center().y())
    qtbot.mouseClick(widget.viewport(), Qt.MouseButton.LeftButton, pos=pos)


# -- construction, names, help ---------------------------------------------------------------
def test_default_race_names_tooltips_and_accessible_names(window):
    view = sv(window)
    for name in NAMES:
        assert len(view.findChildren(QWidget, name)) == 1, name
    assert [str(e.runner.spec) for e in view.entries.values()] == [
        str(runner(view, i).spec) for i in range(len(DEFAULT_RACE))
    ]
    assert view.race.surface.name == "rosenbrock" and len(view.entries) == 4
    # every control a user can operate says what it does and has a name for screen readers
    controls = [
        c
        for c in view.findChildren(QWidget)
        if isinstance(
            c,
            (QAbstractButton, QAbstractSlider, QComboBox, QLineEdit, QAbstractSpinBox, QListWidget),
        )  # fmt: skip
        and not isinstance(c, QScrollBar)
        # Qt's own parts: a spin box's line edit, a line edit's clear button, a tab bar's arrows
        and not isinstance(c.parentWidget(), (QAbstractSpinBox, QLineEdit, QTabBar))
    ]
    assert len(controls) > 15
    for c in controls:
        label = f"{type(c).__name__} {c.objectName()!r}"
        assert c.toolTip().strip(), f"{label} has no tooltip"
        assert c.accessibleName().strip(), f"{label} has no accessible name"
        assert c.objectName(), f"{label} has no objectName"
    # the surface list comes from the registry, each with its description as tooltip
    combo = w(window, QComboBox, "surfaceCombo")
    from core.engine.surfaces import SURFACES

    assert [combo.itemData(i) for i in range(combo.count())] == list(SURFACES)
    assert combo.itemData(0, Qt.ItemDataRole.ToolTipRole) == SURFACES[combo.itemData(0)].description
    assert w(window, QLabel, "surfaceDescription").text() == SURFACES["rosenbrock"].description
    # a known minimum is marked on the map
    mx, my = view.plots.map.minima.getData()
    assert (list(mx), list(my)) == ([1.0], [1.0])
    # the legend names every runner of DEFAULT_RACE, with its lr and settings as given
    assert view.plots.legend_texts() == [
        "SGD (lr=0.001)",
        "SGD (lr=0.001, momentum=0.9)",
        "Adam (lr=0.02)",
        "RMSprop (lr=0.005)",
    ]


# -- run, step, reset --------------------------------------------------------------------------
def test_step_button_advances_every_trajectory_by_exactly_one_point(qtbot, window):
    view = sv(window)
    assert set(lengths(view).values()) == {1}  # just the start
    for k in range(1, 4):
        press(qtbot, window, "stepButton")
        assert set(lengths(view).values()) == {k + 1}
        assert all(r.runner.steps == k for r in view.entries.values())
        for rid in view.entries:
            steps, _ = view.plots.loss_data(rid)
            assert list(steps) == list(range(k + 1))
    # the plotted points are the optimizer's real positions
    for entry in view.entries.values():
        x, y = view.trajectory(entry.id)
        assert (x[-1], y[-1]) == entry.runner.point
        assert (x[0], y[0]) == view.race.start
    assert "step 3" in window.status_label.text()
    assert w(window, QPushButton, "runButton").text() == "Start"


def test_run_pause_toggles_text_and_advances(qtbot, window):
    view = sv(window)
    run = w(window, QPushButton, "runButton")
    qtbot.mouseClick(run, Qt.MouseButton.LeftButton)
    assert run.text() == "Pause" and view.model.running
    qtbot.waitUntil(lambda: min(lengths(view).values()) > 5, timeout=5000)
    qtbot.waitUntil(lambda: "Running · 4 optimizers · step" in window.status_label.text())
    assert "steps/s" in window.status_label.text()
    qtbot.mouseClick(run, Qt.MouseButton.LeftButton)
    assert run.text() == "Start" and not view.model.running
    frozen = lengths(view)
    t = view.race.t
    qtbot.wait(100)
    assert lengths(view) == frozen and view.race.t == t
    assert window.status_label.text().startswith("Paused")
    # every runner moved along together
    assert len(set(frozen.values())) == 1


def test_reset_rewinds_to_the_start(qtbot, window):
    view = sv(window)
    for _ in range(5):
        press(qtbot, window, "stepButton")
    assert set(lengths(view).values()) == {6}
    press(qtbot, window, "resetButton")
    assert set(lengths(view).values()) == {1}
    assert view.race.t == 0
    for entry in view.entries.values():
        assert entry.runner.point == view.race.start
        steps, _ = view.plots.loss_data(entry.id)
        assert list(steps) == [0]
    press(qtbot, window, "stepButton")
    assert set(lengths(view).values()) == {2}


def test_speed_slider_sets_steps_per_second(qtbot, window):
    view = sv(window)
    slider = w(window, QSlider, "speedSlider")
    label = w(window, QLabel, "speedLabel")
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key.Key_End)
    assert view.model.speed == SPEED_MAX and label.text() == "2000 steps/s"
    qtbot.keyClick(slider, Qt.Key.Key_Home)
    assert view.model.speed == 1.0 and label.text() == "1 steps/s"
    qtbot.keyClick(slider, Qt.Key.Key_PageUp)
    assert 1.0 < view.model.speed < 10.0 and label.text().endswith("steps/s")


# -- surfaces ---------------------------------------------------------------------------------
def test_bad_expression_shows_the_column_and_keeps_the_surface(qtbot, window):
    view = sv(window)
    press(qtbot, window, "stepButton")
    before = lengths(view)
    field = w(window, QLineEdit, "expressionEdit")
    error = w(window, QLabel, "expressionError")
    image = map_values(view.plots.map).copy()
    type_into(qtbot, field, "x**2 + )")
    assert error.isVisible()
    assert "column 8" in error.text()
    assert view.race.surface.name == "rosenbrock"
    assert np.array_equal(map_values(view.plots.map), image, equal_nan=True)
    assert lengths(view) == before  # the race was not touched
    assert "red" in error.styleSheet() or "#" in error.styleSheet()
    # an unknown name says so too
    type_into(qtbot, field, "x + z")
    assert "z" in error.text() and view.race.surface.name == "rosenbrock"


def test_good_expression_replaces_the_surface_and_clears_the_error(qtbot, window):
    view = sv(window)
    field = w(window, QLineEdit, "expressionEdit")
    error = w(window, QLabel, "expressionError")
    type_into(qtbot, field, "x + (")
    assert error.isVisible()
    image = map_values(view.plots.map).copy()
    type_into(qtbot, field, "x**2 + 10*y**2")
    assert not error.isVisible() and error.text() == ""
    assert field.text() == "x**2 + 10*y**2"  # the run keys (s, r, space) typed into the field
    surface = view.race.surface
    assert surface.is_expression and surface.name == "x**2 + 10*y**2"
    map_drawn(qtbot, view)
    shown = map_values(view.plots.map)
    assert shown.shape != image.shape or not np.array_equal(shown, image, equal_nan=True)
    assert w(window, QComboBox, "surfaceCombo").currentIndex() == -1
    assert set(lengths(view).values()) == {1} and view.race.start == surface.start
    press(qtbot, window, "stepButton")
    assert set(lengths(view).values()) == {2}
    # back to a built-in surface through the combo
    combo = w(window, QComboBox, "surfaceCombo")
    combo.setCurrentIndex(combo.findData("himmelblau"))
    assert view.race.surface.name == "himmelblau"
    assert len(view.plots.map.minima.getData()[0]) == 4
    assert field.text() == ""  # it described the surface left behind
    # an emptied field goes back to the built-in surface chosen last, not the list's first
    type_into(qtbot, field, "x**2 + y**2")
    assert view.race.surface.is_expression
    type_into(qtbot, field, "")
    assert view.race.surface.name == "himmelblau"


def test_a_start_or_a_surface_where_f_is_not_defined_is_explained(qtbot, window):
    view = sv(window)
    field = w(window, QLineEdit, "expressionEdit")
    type_into(qtbot, field, "x**2 + 1e400*y")  # 1e400 is inf: no finite value anywhere
    error = w(window, QLabel, "expressionError")
    assert error.isVisible() and "not finite anywhere" in error.text()
    assert view.race.surface.name == "rosenbrock"
    type_into(qtbot, field, "log(x) + y**2")
    cmap = view.plots.map
    qtbot.mouseClick(
        cmap.viewport(), Qt.MouseButton.LeftButton, pos=data_to_widget(cmap, -0.5, 0.5).toPoint()
    )
    assert view.race.start[0] < 0
    assert "f is not defined at the start" in window.status_label.text()
    press(qtbot, window, "runButton")  # nothing can run: the note says why, not "press Reset"
    assert not view.model.running
    assert "f is not defined at the start" in window.status_label.text()
    qtbot.mouseClick(
        cmap.viewport(), Qt.MouseButton.LeftButton, pos=data_to_widget(cmap, 1.0, 0.5).toPoint()
    )
    assert "not defined" not in window.status_label.text()
    press(qtbot, window, "stepButton")
    assert all(e.runner.status == "ok" for e in view.entries.values())


def test_the_race_holds_at_most_what_a_session_can(qtbot, window, tmp_path):
    """Add and Duplicate stop at MAX_RUNNERS (saving, and the settings, refused more), and the
    buttons say why."""
    view = sv(window)
    add = w(window, QPushButton, "addOptimizerButton")
    duplicate = w(window, QPushButton, "duplicateOptimizerButton")
    for _ in range(MAX_RUNNERS + 3):
        if not add.isEnabled():
            break
        click(qtbot, add)
    assert len(view.entries) == MAX_RUNNERS
    assert not duplicate.isEnabled() and f"at most {MAX_RUNNERS}" in add.toolTip()
    assert window.sessions.save_session(str(tmp_path / "full.json"))
    click(qtbot, w(window, QPushButton, "removeOptimizerButton"))
    assert add.isEnabled() and duplicate.isEnabled() and "at most" not in add.toolTip()


def test_a_long_label_does_not_widen_the_panel(qtbot, window):
    view = sv(window)
    width = view.plots.map.width()
    long = "Adam with the learning rate the lecturer wants to show today"
    view.add_runner("Adam(lr=0.01)", label=long, select=True)
    qtbot.waitUntil(lambda: view.panel.hparam_box.title().endswith("…"))
    QApplication.processEvents()
    assert view.plots.map.width() == width
    assert long in view.panel.hparam_box.toolTip()


def test_non_finite_surface_values_still_draw_and_race(qtbot, window):
    view = sv(window)
    type_into(qtbot, w(window, QLineEdit, "expressionEdit"), "log(x) + y**2")
    assert not w(window, QLabel, "expressionError").isVisible()
    map_drawn(qtbot, view)
    shown = map_values(view.plots.map)
    assert np.isnan(shown).any() and np.isfinite(shown).any()  # x <= 0 is blank, the rest drawn
    for _ in range(3):
        press(qtbot, window, "stepButton")
    assert all(e.runner.steps == 3 for e in view.entries.values())
    window.grab()  # painting a half-undefined field must not raise


def test_typing_a_registry_name_selects_it(qtbot, window):
    view = sv(window)
    type_into(qtbot, w(window, QLineEdit, "expressionEdit"), "Six hump camel")
    assert view.race.surface.name == "six-hump-camel"
    assert w(window, QComboBox, "surfaceCombo").currentData() == "six-hump-camel"


# -- the optimizer list ---------------------------------------------------------------------
def test_lr_slider_and_spin_agree_and_apply_live_without_reset(qtbot, window):
    view = sv(window)
    click_item(qtbot, window, 2)  # Adam (lr=0.02)
    adam = runner(view, 2)
    assert adam.spec.name == "Adam"
    for _ in range(4):
        press(qtbot, window, "stepButton")
    slider = w(window, QSlider, "lrSlider")
    spin = w(window, QDoubleSpinBox, "lrSpin")
    assert spin.value() == pytest.approx(0.02)
    before = spin.value()
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key.Key_PageUp)
    new = spin.value()
    assert new > before
    form = slider.parentWidget()
    assert slider.value() == form._to_pos(new)  # the two controls agree
    assert adam._opt.param_groups[0]["lr"] == pytest.approx(new)  # the live optimizer has it
    assert adam.steps == 4 and len(view.trajectory(adam.id)[0]) == 5  # not reset
    press(qtbot, window, "stepButton")
    assert adam.steps == 5 and len(view.trajectory(adam.id)[0]) == 6
    # typing an exact value moves the slider and reaches the optimizer
    type_into(qtbot, spin, "0.05")
    assert spin.value() == pytest.approx(0.05)
    assert slider.value() == form._to_pos(0.05)
    assert adam._opt.param_groups[0]["lr"] == pytest.approx(0.05)
    assert "Adam (lr=0.05)" in view.plots.legend_texts()
    assert lst(window).item(2).text() == "Adam (lr=0.05)"
    assert adam.steps == 5  # still the same run


def test_a_value_the_core_refuses_shows_why_and_changes_nothing(qtbot, window):
    view = sv(window)
    click_item(qtbot, window, 0)  # SGD (lr=0.001), momentum 0
    sgd = runner(view, 0)
    spec = str(sgd.spec)
    nesterov = w(window, QCheckBox, "hp_nesterov")
    reveal(nesterov)
    box = QStyleOptionButton()
    nesterov.initStyleOption(box)
    indicator = nesterov.style().subElementRect(
        QStyle.SubElement.SE_CheckBoxIndicator, box, nesterov
    )
    qtbot.mouseClick(nesterov, Qt.MouseButton.LeftButton, pos=indicator.center())
    error = w(window, QLabel, "surfaceHparamError")
    assert error.isVisible() and "nesterov" in error.text().lower()
    assert not nesterov.isChecked()  # the form shows what is still in force
    assert str(sgd.spec) == spec and sgd._opt.param_groups[0]["nesterov"] is False
    # a good change afterwards clears the message
    type_into(qtbot, w(window, QDoubleSpinBox, "lrSpin"), "0.002")
    assert not error.isVisible()
    assert sgd._opt.param_groups[0]["lr"] == pytest.approx(0.002)


def test_add_duplicate_remove_optimizers(qtbot, window):
    view = sv(window)
    widget = lst(window)
    combo = w(window, QComboBox, "addOptimizerCombo")
    from core.engine.optimizers import optimizer_names

    assert [combo.itemText(i) for i in range(combo.count())] == optimizer_names()
    combo.setCurrentIndex(combo.findText("Adagrad"))
    press(qtbot, window, "addOptimizerButton")
    assert widget.count() == 5 and widget.currentRow() == 4
    added = runner(view, 4)
    assert added.spec.name == "Adagrad" and added in view.race.runners
    assert "Adagrad (lr=0.01)" in view.plots.legend_texts()
    assert w(window, QDoubleSpinBox, "lrSpin").value() == pytest.approx(0.01)  # its form shows
    colors = [e.color for e in view.entries.values()]
    assert len(set(colors)) == 5

    # duplicate Adam, then give the copy another learning rate: Adam at two rates
    click_item(qtbot, window, 2)
    press(qtbot, window, "duplicateOptimizerButton")
    assert widget.count() == 6 and widget.currentRow() == 5
    copy = runner(view, 5)
    assert copy.spec == runner(view, 2).spec and copy is not runner(view, 2)
    type_into(qtbot, w(window, QDoubleSpinBox, "lrSpin"), "0.1")
    legend = view.plots.legend_texts()
    assert "Adam (lr=0.02)" in legend and "Adam (lr=0.1)" in legend
    press(qtbot, window, "stepButton")
    assert copy.steps == 1 and runner(view, 2).steps == 1

    # remove the first SGD
    first = runner(view, 0)
    click_item(qtbot, window, 0)
    press(qtbot, window, "removeOptimizerButton")
    assert widget.count() == 5 and first not in view.race.runners
    assert first.id not in view.entries and len(view.plots.legend_texts()) == 5
    assert not view.plots.layer.has_track(first.id)
    press(qtbot, window, "stepButton")
    assert all(e.runner.steps == 2 for e in view.entries.values())
    assert len(view.plots.head_spots()) == 5


def test_hide_show_and_rename_in_the_list(qtbot, window):
    view = sv(window)
    widget = lst(window)
    rid = runner(view, 1).id
    assert len(view.plots.head_spots()) == 4
    click_check(qtbot, window, 1)
    assert widget.item(1).checkState() == Qt.CheckState.Unchecked
    assert not view.entries[rid].visible and not view.plots.layer.is_visible(rid)
    assert len(view.plots.head_spots()) == 3
    assert not view.plots.legend.proxies[rid].isVisible()  # greyed out in the legend
    press(qtbot, window, "stepButton")  # a hidden runner still races
    assert runner(view, 1).steps == 1
    click_check(qtbot, window, 1)
    assert view.entries[rid].visible and len(view.plots.head_spots()) == 4

    # rename: double-click the item, type, Enter (S and R in the name are typed, not run)
    click_item(qtbot, window, 3, double=True)
    qtbot.waitUntil(lambda: isinstance(QApplication.focusWidget(), QLineEdit))
    editor = QApplication.focusWidget()
    assert editor.parentWidget() is widget.viewport()
    qtbot.keyClick(editor, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(editor, "Slow RMS")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits on the next event loop
    qtbot.waitUntil(lambda: widget.item(3).text() == "Slow RMS")
    entry = list(view.entries.values())[3]
    assert entry.label == "Slow RMS" and widget.item(3).text() == "Slow RMS"
    assert "Slow RMS" in view.plots.legend_texts()
    assert view.race.t == 1 and not view.model.running
    # renamed runners keep their name when their lr changes; emptying the name goes back
    view.rename_runner(entry.id, "")
    assert entry.label == "RMSprop (lr=0.005)"


def test_legend_click_hides_the_runner_too(qtbot, window):
    view = sv(window)
    rid = runner(view, 0).id
    sample = view.plots.legend.samples[rid]
    cmap = view.plots.map
    pos = cmap.mapFromScene(sample.mapToScene(sample.boundingRect().center()))
    start = view.race.start
    qtbot.mouseClick(cmap.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert not view.entries[rid].visible and not view.plots.layer.is_visible(rid)
    assert lst(window).item(0).checkState() == Qt.CheckState.Unchecked
    assert view.race.start == start  # the click went to the legend, not to the map
    qtbot.mouseClick(cmap.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert view.entries[rid].visible


# -- the map --------------------------------------------------------------------------------
def test_click_on_the_map_sets_the_start_for_every_runner(qtbot, window):
    view = sv(window)
    for _ in range(3):
        press(qtbot, window, "stepButton")
    cmap = view.plots.map
    pos = data_to_widget(cmap, 0.5, 2.0).toPoint()
    qtbot.mouseClick(cmap.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    sx, sy = view.race.start
    assert abs(sx - 0.5) < 0.05 and abs(sy - 2.0) < 0.05
    for entry in view.entries.values():
        x, y = view.trajectory(entry.id)
        assert len(x) == 1 and (x[0], y[0]) == (sx, sy)
    mx, my = cmap.start_marker.getData()
    assert (mx[0], my[0]) == (sx, sy)
    assert "(0.5" in w(window, QLabel, "startLabel").text()
    press(qtbot, window, "stepButton")
    assert set(lengths(view).values()) == {2}
    # dragging moves it too, and a running race keeps running from there
    press(qtbot, window, "runButton")
    a = data_to_widget(cmap, -1.0, 0.0).toPoint()
    b = data_to_widget(cmap, 0.0, -0.5).toPoint()
    qtbot.mousePress(cmap.viewport(), Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(cmap.viewport(), pos=b)
    qtbot.mouseRelease(cmap.viewport(), Qt.MouseButton.LeftButton, pos=b)
    assert view.model.running
    assert abs(view.race.start[0]) < 0.1 and abs(view.race.start[1] + 0.5) < 0.1


def test_the_axes_are_not_part_of_the_map(qtbot, window):
    """The axes get the map's clicks forwarded (pyqtgraph): a click on the x axis' numbers once
    moved the start below the visible map, where no runner could be seen."""
    view = sv(window)
    cmap = view.plots.map
    start = view.race.start
    (x0, x1), (y0, y1) = cmap.getViewBox().viewRange()
    below = data_to_widget(cmap, 0.5 * (x0 + x1), y0 - 0.08 * (y1 - y0)).toPoint()
    assert (
        cmap.getPlotItem().getAxis("bottom").sceneBoundingRect().contains(cmap.mapToScene(below))
    )  # the x axis is what is under the mouse there
    qtbot.mouseClick(cmap.viewport(), Qt.MouseButton.LeftButton, pos=below)
    assert view.race.start == start
    # a drag that leaves the map keeps the start on its edge, in view
    a = data_to_widget(cmap, 0.0, 0.0).toPoint()
    qtbot.mousePress(cmap.viewport(), Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(cmap.viewport(), pos=a + QPoint(5, 5))
    qtbot.mouseMove(cmap.viewport(), pos=below)
    qtbot.mouseRelease(cmap.viewport(), Qt.MouseButton.LeftButton, pos=below)
    sx, sy = view.race.start
    assert abs(sx - 0.5 * (x0 + x1)) < 0.05 * (x1 - x0) and sy == pytest.approx(y0)
    assert cmap.getViewBox().viewRange()[1] == pytest.approx([y0, y1])  # nothing panned


# -- divergence ------------------------------------------------------------------------------
def test_a_diverging_runner_is_marked_while_the_others_go_on(qtbot, window):
    view = sv(window)
    combo = w(window, QComboBox, "addOptimizerCombo")
    combo.setCurrentIndex(combo.findText("SGD"))
    press(qtbot, window, "addOptimizerButton")
    type_into(qtbot, w(window, QDoubleSpinBox, "lrSpin"), "10")
    bad = runner(view, 4)
    assert bad.spec.hparams()["lr"] == 10
    for _ in range(3):
        press(qtbot, window, "stepButton")
    assert bad.status == "diverged"
    text = f"SGD (lr=10) — diverged at step {bad.diverged_at}"
    assert text in view.plots.legend_texts()
    symbols = [s for *_xy, s in view.plots.head_spots()]
    # the others keep their own marker shapes (issue 15: shapes tell similar colours apart)
    assert symbols.count("x") == 1 and len(symbols) == 5
    x, y = view.trajectory(bad.id)
    assert np.isfinite(x).all() and (x[-1], y[-1]) == bad.point  # its last finite point
    assert "diverged" in lst(window).item(4).toolTip()
    others = [e.runner for e in view.entries.values() if e.runner is not bad]
    assert all(r.steps == 3 for r in others)
    press(qtbot, window, "runButton")
    qtbot.waitUntil(lambda: min(r.steps for r in others) > 10, timeout=5000)
    assert view.model.running and "1 diverged" in window.status_label.text()
    press(qtbot, window, "runButton")


def test_the_run_pauses_itself_when_every_runner_has_diverged(qtbot, window):
    view = sv(window)
    view.clear_runners()
    view.add_runner("SGD(lr=10)")
    view.add_runner("Adam(lr=1000)")
    press(qtbot, window, "runButton")
    qtbot.waitUntil(lambda: not view.model.running, timeout=5000)
    run = w(window, QPushButton, "runButton")
    assert run.text() == "Start"
    assert "every optimizer has diverged" in window.status_label.text()
    assert len(view.plots.legend_texts()) == 2
    assert all("diverged at step" in t for t in view.plots.legend_texts())
    qtbot.mouseClick(run, Qt.MouseButton.LeftButton)  # nothing left to run: says so, no crash
    assert not view.model.running
    press(qtbot, window, "resetButton")
    assert all(e.runner.status == "ok" for e in view.entries.values())


# -- keyboard -------------------------------------------------------------------------------
def test_space_s_right_and_r_work_from_a_button_and_type_in_the_expression(qtbot, window):
    view = sv(window)
    step = w(window, QPushButton, "stepButton")
    step.setFocus()
    qtbot.waitUntil(step.hasFocus)
    qtbot.keyClick(step, Qt.Key.Key_S)
    assert set(lengths(view).values()) == {2}
    qtbot.keyClick(step, Qt.Key.Key_Right)
    assert set(lengths(view).values()) == {3}
    qtbot.keyClick(step, Qt.Key.Key_R)
    assert set(lengths(view).values()) == {1}
    qtbot.keyClick(step, Qt.Key.Key_Space)  # the focused Step button takes Space: one step
    assert set(lengths(view).values()) == {2} and not view.model.running
    view.setFocus()  # elsewhere Space starts and pauses the race
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert view.model.running and w(window, QPushButton, "runButton").text() == "Pause"
    qtbot.waitUntil(lambda: view.race.t > 2, timeout=5000)
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert not view.model.running
    t = view.race.t
    # in the expression field the same keys are text
    field = w(window, QLineEdit, "expressionEdit")
    field.setFocus()
    qtbot.waitUntil(field.hasFocus)
    qtbot.keyClicks(field, "s r ")
    qtbot.keyClick(field, Qt.Key.Key_Right)
    assert field.text() == "s r "
    assert view.race.t == t and not view.model.running
    # a focused slider moves both ways with the arrow keys (→ stepped the race instead)
    slider = w(window, QSlider, "speedSlider")
    reveal(slider)
    slider.setFocus()
    qtbot.waitUntil(slider.hasFocus)
    value = slider.value()
    qtbot.keyClick(slider, Qt.Key.Key_Right)
    assert slider.value() > value and view.race.t == t
    qtbot.keyClick(slider, Qt.Key.Key_Left)
    assert slider.value() == value


# -- look -------------------------------------------------------------------------------------
def test_zoom_thickens_lines_and_dark_theme_keeps_things_readable(qtbot, window):
    view = sv(window)
    th = get_theme()
    th.set_scale(2.0)
    assert view.plots.layer._width == pytest.approx(2 * LINE_WIDTH)
    sample = view.plots.legend.samples[runner(view, 0).id]
    assert sample.scale == 2.0
    th.set_theme("dark")
    press(qtbot, window, "stepButton")
    image = view.plots.map.grab().toImage()
    assert not image.isNull()
    type_into(qtbot, w(window, QLineEdit, "expressionEdit"), "x +")
    assert "#FF6B6B" in w(window, QLabel, "expressionError").styleSheet()


# -- settings -------------------------------------------------------------------------------
def test_settings_round_trip(qtbot):
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    view = first.surface_view
    combo = w(first, QComboBox, "surfaceCombo")
    combo.setCurrentIndex(combo.findData("himmelblau"))
    view.set_start(1.0, -2.0)
    view.add_runner("Adam(lr=0.3, betas=(0.8, 0.99))", label="Bold Adam")
    view.set_visible(runner(view, 1).id, False)
    view.set_speed(500)
    w(first, QCheckBox, "surfaceLossLogCheck").setChecked(False)
    specs = [str(e.runner.spec) for e in view.entries.values()]
    view.panel.select(list(view.entries)[2])
    view.pages.tabs.setCurrentIndex(1)
    view.splitter.setSizes([300, 300])
    first.close()

    second = MainWindow()
    qtbot.addWidget(second)
    second.show()
    v2 = second.surface_view
    assert v2.race.surface.name == "himmelblau"
    assert w(second, QComboBox, "surfaceCombo").currentData() == "himmelblau"
    assert v2.race.start == (1.0, -2.0)
    assert [str(e.runner.spec) for e in v2.entries.values()] == specs
    assert [e.custom_label for e in v2.entries.values()][-1] == "Bold Adam"
    assert [e.visible for e in v2.entries.values()] == [True, False, True, True, True]
    assert "Bold Adam" in v2.plots.legend_texts()
    assert v2.model.speed == pytest.approx(500, rel=0.02)
    assert not w(second, QCheckBox, "surfaceLossLogCheck").isChecked()
    assert v2.panel.current_id() == list(v2.entries)[2]
    top, bottom = v2.splitter.sizes()  # the same share of the height (the map's 3:1 default)
    assert v2.pages.tabs.currentIndex() == 1 and abs(top / (top + bottom) - 0.5) < 0.05
    second.close()


def test_the_race_is_saved_as_one_session_and_old_settings_come_back_once(qtbot):
    """Settings written field by field (before the session key) still restore the race; the
    next save keeps it as one session document, the one a session file holds, and drops the
    old keys."""
    s = open_settings()
    s.beginGroup("views/surfaces")
    s.setValue("surface", "himmelblau")
    s.setValue("speed", 250.0)
    s.setValue("noise", 0.5)
    s.beginWriteArray("runners", 1)
    s.setArrayIndex(0)
    s.setValue("spec", "Adam(lr=0.05)")
    s.setValue("label", "old Adam")
    s.setValue("scheduler", "StepLR(step_size=10)")
    s.endArray()
    s.endGroup()
    s.sync()
    first = MainWindow()
    qtbot.addWidget(first)
    view = first.surface_view
    assert view.race.surface.name == "himmelblau" and view.model.speed == 250.0
    assert [e.label for e in view.entries.values()] == ["old Adam"]
    first.close()
    s = open_settings()
    s.beginGroup("views/surfaces")
    assert not {"surface", "speed", "noise", "runners"} & set(s.childKeys() + s.childGroups())
    saved = loads_session(s.value("session")).surfaces
    assert saved.surface == "himmelblau" and saved.speed == 250.0 and saved.noise == 0.5
    assert [(r.spec, r.label, r.scheduler) for r in saved.runners] == [
        ("Adam(lr=0.05)", "old Adam", "StepLR(step_size=10)")
    ]
    s.setValue("session", "{not json")  # edited by hand: the default race, with a warning
    s.sync()
    second = MainWindow()
    qtbot.addWidget(second)
    assert len(second.surface_view.entries) == len(DEFAULT_RACE)
    second.close()


def test_an_expression_surface_round_trips(qtbot):
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    type_into(qtbot, w(first, QLineEdit, "expressionEdit"), "x**2 + 3*y**2")
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    assert second.surface_view.race.surface.name == "x**2 + 3*y**2"
    assert w(second, QLineEdit, "expressionEdit").text() == "x**2 + 3*y**2"
    second.close()


def test_corrupt_view_settings_are_ignored_with_a_warning(qtbot, caplog):
    s = open_settings()
    s.beginGroup("views/surfaces")
    s.setValue("surface", "x + (")
    s.setValue("speed", "banana")
    s.setValue("startX", "nan")
    s.setValue("noise", "-3")
    s.setValue("seed", "1e9")
    s.beginWriteArray("runners", 3)
    for i, spec in enumerate(("Adam(lr=-1)", "NotAnOptimizer()", "RMSprop(lr=0.02)")):
        s.setArrayIndex(i)
        s.setValue("spec", spec)
        s.setValue("visible", "perhaps")
        s.setValue("scheduler", "StepLR(step_size=-2)")
        s.setValue("startX", "1e300")
        s.setValue("startY", "0")
    s.endArray()
    s.endGroup()
    s.sync()
    with caplog.at_level(logging.WARNING, logger="gdsim"):
        win = MainWindow()
        qtbot.addWidget(win)
    view = win.surface_view
    assert view.race.surface.name == "rosenbrock"
    assert [str(e.runner.spec) for e in view.entries.values()] == ["RMSprop(lr=0.02)"]
    assert view.entries[runner(view, 0).id].visible  # "perhaps" -> the default
    assert math.isclose(view.model.speed, 100.0)
    rms = runner(view, 0)  # kept, without the schedule and the start it cannot have
    assert rms.scheduler is None and rms.start == view.race.start
    assert (view.race.noise, view.race.seed) == (0.0, 0)
    for words in (
        "x + (",
        "Adam(lr=-1)",
        "NotAnOptimizer",
        "speed",
        "visible",
        "noise",
        "seed",
        "StepLR(step_size=-2)",
        "runner's saved start",
    ):
        assert words in caplog.text
    win.close()


def test_an_empty_race_says_so(qtbot, window):
    view = sv(window)
    for _ in range(4):
        click_item(qtbot, window, 0)
        press(qtbot, window, "removeOptimizerButton")
    assert not view.entries and lst(window).count() == 0
    assert not w(window, QPushButton, "removeOptimizerButton").isEnabled()
    press(qtbot, window, "runButton")
    assert not view.model.running and "add an optimizer" in window.status_label.text()
    press(qtbot, window, "stepButton")
    assert view.race.t == 0


def test_shutdown_stops_the_timer(qtbot, window):
    view = sv(window)
    press(qtbot, window, "runButton")
    assert view.timer.isActive()
    view.shutdown()
    assert not view.timer.isActive() and not view.model.running


def test_every_registry_optimizer_can_be_added_tuned_and_stepped(qtbot, window):
    """The Add menu and the form come from the registry alone: each entry races and gets its
    controls (floats, ints, bools, pairs, choices) without a line of per-optimizer UI code."""
    from core.engine.optimizers import optimizer_names

    view = sv(window)
    view.clear_runners()
    combo = w(window, QComboBox, "addOptimizerCombo")
    form = view.panel.form
    for name in optimizer_names():
        combo.setCurrentIndex(combo.findText(name))
        press(qtbot, window, "addOptimizerButton")
        entry = list(view.entries.values())[-1]
        assert entry.runner.spec.name == name
        info = entry.runner.spec.info
        assert form.names() == [hp.name for hp in info.hparams]
        assert w(window, QSlider, "lrSlider") is not None
    press(qtbot, window, "stepButton")
    assert all(e.runner.steps == 1 or e.diverged for e in view.entries.values())
    assert len(view.plots.legend_texts()) == len(optimizer_names())


def test_log_y_shows_the_gap_to_the_minimum(qtbot, window):
    view = sv(window)
    check = w(window, QCheckBox, "surfaceLossLogCheck")
    assert check.isChecked()  # convergence is a slope on a log axis
    for _ in range(2):
        press(qtbot, window, "stepButton")
    entry = next(iter(view.entries.values()))
    losses = entry.runner.trail.losses()
    _, y = view.plots.loss_data(entry.id)
    assert np.allclose(y, np.log10(losses - 0.0))  # Rosenbrock's f* = 0
    reveal(check)
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton)
    assert not check.isChecked()
    _, y = view.plots.loss_data(entry.id)
    assert np.allclose(y, losses)
    assert view.plots.loss.getPlotItem().getAxis("left").labelText == "loss"


def test_plots_appended_to_over_uneven_batches_hold_the_races_history(qtbot, window):
    """The plots append each redraw's new points; after any mix of batches, a reset and a log
    toggle, what they show is every runner's history as the race exports it."""
    view = sv(window)
    check = w(window, QCheckBox, "surfaceLossLogCheck")

    def shown_equals_the_race() -> None:
        for entry in view.entries.values():
            trail = entry.runner.trail
            x, y = view.trajectory(entry.id)
            np.testing.assert_array_equal(np.column_stack([x, y]), trail.points())
            steps, shown = view.plots.loss_data(entry.id)
            np.testing.assert_array_equal(steps, trail.steps())
            np.testing.assert_array_equal(shown, view.plots.loss_values(trail.losses()))

    for batch in (1, 3, 17, 1, 40):
        view.race.step(batch)
        view.model.stepped_elsewhere()
        shown_equals_the_race()
    view.reset()
    view.race.step(5)
    view.model.stepped_elsewhere()
    shown_equals_the_race()
    reveal(check)
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton)  # every loss again, on a linear axis
    view.race.step(2)
    view.model.stepped_elsewhere()
    shown_equals_the_race()


def test_a_step_repaints_only_where_the_new_segments_are(qtbot, window):
    """A frame asks the map to repaint the region of the segments drawn since the last paint
    (padded by the pen), not the whole map with every item on it."""
    view = sv(window)
    layer = view.plots.layer
    press(qtbot, window, "stepButton")
    view.plots.map.viewport().repaint()  # the first segments are on the map now
    asked = []
    real_update = layer.update
    layer.update = lambda *rect: (asked.append(rect[0] if rect else None), real_update(*rect))
    press(qtbot, window, "stepButton")
    whole = layer.boundingRect()
    assert len(asked) == len(view.entries)  # one region per runner
    for rect, entry in zip(asked, view.entries.values(), strict=True):
        x, y = view.trajectory(entry.id)
        for px, py in ((x[-1], y[-1]), (x[-2], y[-2])):  # the new segment's two ends
            assert rect.left() <= px <= rect.right() and rect.top() <= py <= rect.bottom()
        assert rect.width() < whole.width() / 4 and rect.height() < whole.height() / 4


def test_log_y_turns_off_when_a_loss_falls_below_the_map(qtbot, window):
    """On a surface unbounded below (the saddle), f − min f of the map turns negative: clamped on
    a log axis it looked like convergence to 1e-15. The axis goes linear and the status says why."""
    window.sessions.load_preset("saddle-escape")
    view = sv(window)
    check = w(window, QCheckBox, "surfaceLossLogCheck")
    assert check.isChecked()
    press(qtbot, window, "stepButton")
    assert check.isChecked()  # still above the map's lowest value
    view.race.step(300)  # Adam slides off the saddle, below the map's -4
    press(qtbot, window, "stepButton")
    assert not check.isChecked()
    assert "log y off: a loss went below the lowest value on the map" in (
        window.status_label.text()
    )
    adam = next(e for e in view.entries.values() if e.runner.spec.name == "Adam")
    _, y = view.plots.loss_data(adam.id)
    assert np.allclose(y, adam.runner.trail.losses())  # the real, negative losses
    assert y.min() < -4
    reveal(check)
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton)  # ticked again, while paused
    assert not check.isChecked()  # refused at once, not at the next step
    assert "log y off" in window.status_label.text()
    _, y = view.plots.loss_data(adam.id)
    assert y.min() < -4


def test_large_losses_are_labelled_with_their_own_values(qtbot, window):
    """pyqtgraph's automatic SI prefix divided a log axis' labels by 1e12 ("(x1e+12)" in a title
    that did not fit): a loss of 1e12 read 1. Axes show plain values; the context menu has no
    Transforms that would put the axis out of step with the "log y" box."""
    view = sv(window)
    view.set_surface("bowl")
    view.clear_runners()
    view.add_runner("SGD(lr=1.5)")  # x doubles (and flips) every step: the loss reaches 1e12
    for _ in range(25):
        press(qtbot, window, "stepButton")
    plot = view.plots.loss.getPlotItem()
    axis = plot.getAxis("left")
    assert axis.logMode and axis.range[1] > 9  # the loss axis reaches past 1e9
    assert axis.autoSIPrefixScale == 1.0 and "(x1e" not in axis.labelString()
    major = axis.tickValues(*axis.range, 300)[0][1]
    labels = axis.tickStrings(major, axis.autoSIPrefixScale, 1)
    assert labels[-1] == f"10{str(int(major[-1])).translate(SUPERSCRIPT)}"
    assert "Plot Options" not in [a.text() for a in plot.vb.getMenu(None).actions()]
    assert plot.vb.menu.actions()  # View All, the axes, Export stay


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def test_a_hidden_tab_does_not_step_and_resumes_when_shown(qtbot, window):
    view = sv(window)
    press(qtbot, window, "runButton")
    qtbot.waitUntil(lambda: view.race.t > 0, timeout=5000)
    window.tabs.setCurrentIndex(1)  # the class looks at training now
    assert not view.timer.isActive() and view.model.running
    t = view.race.t
    qtbot.wait(100)
    assert view.race.t == t
    window.tabs.setCurrentIndex(0)
    assert view.timer.isActive()
    qtbot.waitUntil(lambda: view.race.t > t, timeout=5000)


def test_stepping_does_not_grow_the_head_markers_symbol_atlas(qtbot, window):
    """pyqtgraph's symbol atlas keeps an entry for every new pen or brush object: heads drawn
    with fresh ones each frame grew it without bound while a race ran."""
    view = sv(window)
    atlas = view.plots.heads.fragmentAtlas
    press(qtbot, window, "stepButton")
    entries = len(atlas._coords)
    for _ in range(20):
        press(qtbot, window, "stepButton")
    assert entries > 0 and len(atlas._coords) == entries
