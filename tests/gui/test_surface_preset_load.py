"""What a preset load (or a new surface) does to the Surfaces view without freezing it: a map
not seen before is computed on a worker while the view says so and the race goes on; the
runners' legend entries, list rows and form are reused; the colour bar is relabelled only
when the scale type changes."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import pytest
from PySide6.QtWidgets import QPushButton

from app.theme import get_theme
from app.views import surface_plots
from app.views.surface_plots import GRID_POINTS, compute_field  # the real one, not the spy
from app.views.surface_runners import ROLE_ID
from core.engine.surfaces import get_surface
from tests.gui.helpers import click, map_drawn, map_values, named


@pytest.fixture
def computed(monkeypatch) -> list[tuple[str, bool]]:
    """No map cached, and every map computed from now on as (surface, on the GUI thread)."""
    monkeypatch.setattr(surface_plots, "_FIELDS", OrderedDict())
    calls: list[tuple[str, bool]] = []
    real = surface_plots.compute_field

    def spy(surface, grid, bands):
        calls.append((surface.name, threading.current_thread() is threading.main_thread()))
        return real(surface, grid, bands)

    monkeypatch.setattr(surface_plots, "compute_field", spy)
    return calls


def test_a_preset_on_a_new_surface_says_computing_then_shows_its_map(qtbot, window, computed):
    view = window.surface_view
    cmap = view.plots.map
    assert window.sessions.load_preset("ravine-momentum")
    # back before the map is computed: the map says so, nothing stale is shown
    assert view.plots.map_pending and cmap.pending and map_values(cmap) is None
    assert cmap.pending_text.isVisible() and "computing map" in cmap.pending_text.toPlainText()
    assert not cmap.image.isVisible()
    # the race works meanwhile
    click(qtbot, named(view, QPushButton, "stepButton"))
    qtbot.waitUntil(lambda: all(e.runner.steps == 1 for e in view.entries.values()))
    map_drawn(qtbot, view)
    assert computed == [("ravine", False)]  # once, on a worker
    expected = compute_field(get_surface("ravine"), GRID_POINTS, cmap.bands)
    np.testing.assert_array_equal(map_values(cmap), expected.display)
    assert not cmap.pending and not cmap.pending_text.isVisible() and cmap.image.isVisible()
    # a surface seen before is drawn at once, from what the worker computed
    assert window.sessions.load_preset("saddle-escape")
    map_drawn(qtbot, view)
    assert window.sessions.load_preset("ravine-momentum")
    assert not view.plots.map_pending
    np.testing.assert_array_equal(map_values(cmap), expected.display)
    assert computed == [("ravine", False), ("saddle", False)]


def test_the_newest_surface_wins_while_a_map_is_computed(qtbot, window, computed):
    view = window.surface_view
    view.set_surface("booth")
    view.set_surface("bowl")
    map_drawn(qtbot, view)
    assert view.race.surface.name == "bowl"
    expected = compute_field(get_surface("bowl"), GRID_POINTS, view.plots.map.bands)
    np.testing.assert_array_equal(map_values(view.plots.map), expected.display)


def test_the_log_axis_measures_from_the_maps_minimum_once_it_is_drawn(qtbot, window, computed):
    """An expression has no known minimum: the log loss axis shows f − (the map's lowest
    value), which is known only once the worker is done; the curves are redrawn from it."""
    view = window.surface_view
    assert view.log_check.isChecked()
    view.set_surface("x**2 + 3*y**2 + x*y + 2")
    assert view.plots.map_pending
    for _ in range(3):
        view.step_once()
    qtbot.waitUntil(lambda: all(e.runner.steps == 3 for e in view.entries.values()))
    map_drawn(qtbot, view)
    field = compute_field(view.race.surface, GRID_POINTS, view.plots.map.bands)
    for rid, entry in view.entries.items():
        losses = entry.runner.trail.losses()
        steps, shown = view.plots.loss_data(rid)
        assert len(shown) == len(losses) == 4
        np.testing.assert_allclose(shown, np.log10(losses - field.fmin))
    assert view.log_check.isChecked()  # no loss went below the map's minimum


def test_a_preset_reuses_the_runner_rows_legend_entries_and_form(qtbot, window):
    view = window.surface_view
    plots, panel = view.plots, view.panel
    assert window.sessions.load_preset("ravine-momentum")  # three SGD runners
    samples = [s for s, _label in plots.legend.items]
    labels = [label for _s, label in plots.legend.items]
    rows = [panel.list.item(i) for i in range(panel.list.count())]
    lr_control = panel.form.control("lr")
    old_ids = list(view.entries)

    assert window.sessions.load_preset("learning-rate-too-high")  # three SGD runners again
    assert list(view.entries) != old_ids and len(view.entries) == 3
    assert all(a is b for a, b in zip([s for s, _ in plots.legend.items], samples, strict=True))
    assert all(a is b for a, b in zip([lb for _, lb in plots.legend.items], labels, strict=True))
    assert all(panel.list.item(i) is row for i, row in enumerate(rows))
    assert panel.form.control("lr") is lr_control
    # ... and they show the new race
    entries = list(view.entries.values())
    assert plots.legend_texts() == [e.legend_text() for e in entries]
    assert [r.text() for r in rows] == [e.label for e in entries]
    assert [r.data(ROLE_ID) for r in rows] == list(view.entries)
    assert panel.current_id() == entries[0].id
    assert panel.form.value("lr") == pytest.approx(0.1)
    assert [e.color for e in entries] == [get_theme().series_color(i) for i in range(3)]
    # a click on a reused legend entry hides the runner now in that place
    samples[1].item.setVisible(False)
    assert not entries[1].visible and entries[0].visible
    # the runners race and draw as usual
    click(qtbot, named(view, QPushButton, "stepButton"))
    qtbot.waitUntil(lambda: all(e.runner.steps == 1 for e in entries))
    assert all(len(view.trajectory(e.id)[0]) == 2 for e in entries)

    # more runners: the first rows are reused, one is added; fewer: the last ones go
    assert window.sessions.load_preset("himmelblau-four-minima")
    assert len(plots.legend.items) == 4 and plots.legend.items[0][0] is samples[0]
    assert panel.list.count() == 4 and panel.list.item(2) is rows[2]
    assert window.sessions.load_preset("rosenbrock-adam-vs-sgd")
    assert len(plots.legend.items) == 2 and panel.list.count() == 2
    assert plots.legend_texts() == [e.legend_text() for e in view.entries.values()]
    assert panel.form.value("lr") == pytest.approx(0.001)


def test_the_colour_bar_is_relabelled_only_when_the_scale_type_changes(qtbot, window, monkeypatch):
    view = window.surface_view
    cmap = view.plots.map
    theme = get_theme()
    theme.set_scale(2.0)
    label_axis = cmap.colorbar.getAxis("left")
    label_pt = f"{theme.point_size(1.1):.1f}pt"
    restyled: list[object] = []
    real_style = theme.style_plot
    monkeypatch.setattr(theme, "style_plot", lambda v: (restyled.append(v), real_style(v)))
    view.set_surface("ravine")  # Rosenbrock was log scaled, the ravine is not
    map_drawn(qtbot, view)
    assert label_axis.labelText == "f(x, y)" and not cmap.colorbar.axis.logMode
    relabels: list[tuple] = []
    real_label = label_axis.setLabel
    monkeypatch.setattr(label_axis, "setLabel", lambda *a: (relabels.append(a), real_label(*a)))
    view.set_surface("bowl")  # linear again
    map_drawn(qtbot, view)
    assert relabels == [] and cmap not in restyled
    view.set_surface("himmelblau")  # log scaled
    map_drawn(qtbot, view)
    assert relabels and label_axis.labelText.startswith("f − min f")
    assert cmap.colorbar.axis.logMode
    assert cmap not in restyled  # the label kept the zoomed style without a restyle
    assert label_axis.labelStyle["font-size"] == label_pt
