"""The basins tool as a lecturer uses it: pick an optimizer, click Compute, watch the map fill
with basin colours and read the shares in the legend; cancel; switch surface."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDoubleSpinBox,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.theme import get_theme
from app.views.surface_basins import BASIN_COLORS, GREYS, BasinsTool
from tests.gui.helpers import click, data_to_widget, named, type_into

NAMES = {
    "basinsOptimizerLabel": QLabel,
    "basinsGridSpin": QSpinBox,
    "basinsStepsSpin": QSpinBox,
    "computeBasinsButton": QPushButton,
    "cancelBasinsButton": QPushButton,
    "basinsProgress": QProgressBar,
    "showBasinsCheck": QCheckBox,
    "basinsStatus": QLabel,
    "basinsLegend": QListWidget,
}


# -- helpers ---------------------------------------------------------------------------------
def w(window, cls: type[QWidget], name: str):
    return named(window.surface_view, cls, name)


def press(qtbot, window, name: str, cls: type[QWidget] = QPushButton) -> None:
    click(qtbot, w(window, cls, name))


def setup(qtbot, window, surface: str = "himmelblau", grid: int = 20) -> BasinsTool:
    view = window.surface_view
    view.set_surface(surface)
    tool = window.tools["surfaces"]["surface_basins"]  # installed by MainWindow (VIEW_TOOLS)
    assert view.control_panel().isAncestorOf(tool.box)
    type_into(qtbot, w(window, QSpinBox, "basinsGridSpin"), str(grid))
    return tool


def compute(qtbot, window, tool: BasinsTool) -> None:
    press(qtbot, window, "computeBasinsButton")
    qtbot.waitUntil(lambda: not tool.computing, timeout=20_000)


def map_pixel(window, x: float, y: float) -> QColor:
    """The colour the user sees on the contour map at data point (x, y)."""
    cmap = window.surface_view.plots.map
    QApplication.processEvents()
    image = cmap.grab().toImage()
    return image.pixelColor(data_to_widget(cmap, x, y).toPoint())


def lut_color(tool: BasinsTool, label: int) -> str:
    rgba = tool.image.lut[label]
    return QColor(*[int(v) for v in rgba[:3]]).name().upper()


# -- tests -----------------------------------------------------------------------------------
def test_controls_have_names_tooltips_and_accessible_names(qtbot, window):
    tool = setup(qtbot, window)
    for name, cls in NAMES.items():
        widget = w(window, cls, name)
        assert widget.toolTip(), name
        assert widget.accessibleName(), name
    assert tool.box.title() == "Basins of attraction"
    assert tool.box.objectName() == "basinsGroup"
    # it sits in the view's control panel, below the optimizers
    assert window.surface_view.control_panel().isAncestorOf(tool.box)
    assert not w(window, QPushButton, "cancelBasinsButton").isEnabled()
    assert not tool.overlay_visible()


def test_compute_basins_on_himmelblau(qtbot, window):
    tool = setup(qtbot, window)
    label = w(window, QLabel, "basinsOptimizerLabel")
    assert "SGD (lr=0.001)" in label.text()  # the optimizer selected in the list
    probe = (-4.7, 4.7)  # a corner with no contour line, trajectory or star on it
    before = map_pixel(window, *probe)

    compute(qtbot, window, tool)

    assert tool.overlay_visible()
    labels = tool.image.image
    assert labels.shape == (20, 20)
    assert len(np.unique(labels)) >= 4
    legend = tool.legend_texts()
    assert w(window, QListWidget, "basinsLegend").isVisible()
    assert len(legend) == 4 and all(t.startswith("minimum (") for t in legend)
    assert "minimum (3, 2)" in legend[0]
    shares = [float(t.split("— ")[1].rstrip(" %")) for t in legend]
    assert sum(shares) == pytest.approx(100, abs=0.3)
    assert all(15 < s < 35 for s in shares)
    # the four known minima in the first four basin colours, shown on the map
    assert [lut_color(tool, k) for k in range(4)] == [c.upper() for c in BASIN_COLORS[:4]]
    after = map_pixel(window, *probe)
    assert after != before
    assert "20 × 20 starts" in w(window, QLabel, "basinsStatus").text()
    assert w(window, QProgressBar, "basinsProgress").value() == 1000
    # the minima stars stay on top of the colours
    cmap = window.surface_view.plots.map
    assert cmap.minima.zValue() > tool.image.zValue() and cmap.minima.isVisible()

    press(qtbot, window, "showBasinsCheck", QCheckBox)  # hide: the surface is back
    assert not tool.overlay_visible()
    assert map_pixel(window, *probe) == before
    press(qtbot, window, "showBasinsCheck", QCheckBox)
    assert tool.overlay_visible() and map_pixel(window, *probe) == after


def test_cancel_stops_and_leaves_no_half_map(qtbot, window):
    # Rosenbrock's long valley keeps SGD crawling: this run would take many seconds
    tool = setup(qtbot, window, surface="rosenbrock", grid=100)
    type_into(qtbot, w(window, QSpinBox, "basinsStepsSpin"), "100000")
    press(qtbot, window, "computeBasinsButton")
    assert tool.computing
    assert not w(window, QPushButton, "computeBasinsButton").isEnabled()
    progress = w(window, QProgressBar, "basinsProgress")
    qtbot.waitUntil(lambda: progress.value() > 0 or tool.overlay_visible(), timeout=5000)
    qtbot.waitUntil(tool.overlay_visible, timeout=5000)  # a partial map while it runs
    assert tool.computing

    press(qtbot, window, "cancelBasinsButton")
    assert not tool.computing and not tool.timer.isActive()
    assert w(window, QLabel, "basinsStatus").text() == "Cancelled."
    assert progress.value() == 0
    assert not tool.overlay_visible() and tool.legend_texts() == []
    assert w(window, QPushButton, "computeBasinsButton").isEnabled()
    assert not w(window, QPushButton, "cancelBasinsButton").isEnabled()


def test_a_new_surface_clears_the_basins_but_a_new_start_does_not(qtbot, window):
    tool = setup(qtbot, window)
    compute(qtbot, window, tool)
    assert tool.overlay_visible()

    view = window.surface_view
    cmap = view.plots.map
    pos = data_to_widget(cmap, 1.0, -1.0).toPoint()
    qtbot.mouseClick(cmap.viewport(), Qt.MouseButton.LeftButton, pos=pos)  # move the start
    assert view.race.start == pytest.approx((1.0, -1.0), abs=0.1)
    assert tool.overlay_visible() and len(tool.legend_texts()) == 4

    combo = view.surface_group.surface_combo
    combo.setCurrentIndex(combo.findData("booth"))  # what picking "Booth" in the list does
    assert view.race.surface.name == "booth"
    assert not tool.overlay_visible()
    assert tool.legend_texts() == [] and not w(window, QListWidget, "basinsLegend").isVisible()
    assert "Surface changed" in w(window, QLabel, "basinsStatus").text()

    compute(qtbot, window, tool)  # and they can be computed for the new surface
    assert tool.overlay_visible() and tool.legend_texts()[0].startswith("minimum (1, 3)")


def test_a_surface_change_while_computing_cancels(qtbot, window):
    tool = setup(qtbot, window, surface="rosenbrock", grid=60)
    type_into(qtbot, w(window, QSpinBox, "basinsStepsSpin"), "100000")
    press(qtbot, window, "computeBasinsButton")
    assert tool.computing
    window.surface_view.set_surface("himmelblau")
    assert not tool.computing and not tool.timer.isActive() and not tool.overlay_visible()
    assert "cancelled" in w(window, QLabel, "basinsStatus").text()


def test_a_diverging_learning_rate_shows_diverged(qtbot, window):
    tool = setup(qtbot, window)
    type_into(qtbot, w(window, QDoubleSpinBox, "lrSpin"), "0.05")  # the selected SGD
    assert "SGD (lr=0.05)" in w(window, QLabel, "basinsOptimizerLabel").text()
    compute(qtbot, window, tool)
    legend = tool.legend_texts()
    diverged = [t for t in legend if t.startswith("diverged")]
    assert diverged and float(diverged[0].split("— ")[1].rstrip(" %")) > 90
    row = legend.index(diverged[0])
    assert lut_color(tool, row) == GREYS["diverged"].upper()
    assert tool.overlay_visible()
    assert (tool.image.image == row).mean() > 0.9


def test_an_optimizer_that_cannot_be_batched_is_refused_in_the_status_line(qtbot, window):
    tool = setup(qtbot, window)
    compute(qtbot, window, tool)
    before = tool.image.image.copy()
    view = window.surface_view
    view.add_runner("LBFGS", select=True)
    assert "LBFGS" in w(window, QLabel, "basinsOptimizerLabel").text()
    press(qtbot, window, "computeBasinsButton")
    status = w(window, QLabel, "basinsStatus")
    assert "LBFGS cannot be batched" in status.text() and "\n" not in status.text()
    assert not tool.computing
    assert tool.overlay_visible() and np.array_equal(tool.image.image, before)  # unchanged


def test_dark_theme_and_shutdown(qtbot, window):
    tool = setup(qtbot, window)
    get_theme().set_theme("dark")
    compute(qtbot, window, tool)
    assert tool.overlay_visible() and len(tool.legend_texts()) == 4
    get_theme().set_theme("light")  # redrawn on the change, nothing lost
    assert tool.overlay_visible() and len(tool.legend_texts()) == 4

    type_into(qtbot, w(window, QSpinBox, "basinsStepsSpin"), "100000")
    press(qtbot, window, "computeBasinsButton")
    assert tool.timer.isActive()
    tool.shutdown()
    assert not tool.timer.isActive() and not tool.computing


def test_a_typed_expression_gets_clustered_minima_and_a_transparent_undefined_area(qtbot, window):
    tool = setup(qtbot, window)
    # x log x is undefined for x <= 0 (half the grid) and has its minimum at x = 1/e
    type_into(qtbot, window.surface_view.surface_group.expression_edit, "x*log(x) + (y**2 - 1)**2")
    assert window.surface_view.race.surface.is_expression
    type_into(qtbot, w(window, QDoubleSpinBox, "lrSpin"), "0.05")  # the selected SGD
    compute(qtbot, window, tool)
    assert tool.legend_texts() == [
        "other minimum 1 (0.368, 1) — 25.0 %",
        "other minimum 2 (0.368, -1) — 25.0 %",
        "undefined at start — 50.0 %",
    ]
    assert tool.image.lut[2][3] == 0  # no colour where f is undefined
    assert tool.image.lut[0][3] == 255 and tool.image.lut[1][3] == 255
    assert (tool.image.image[:10] == 2).all()  # x < 0 (ImageItem's first axis is x)
