"""ContourMap: hostile values, log scale, contours, and real mouse clicks in data coordinates."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.widgets.contour_map import ContourMap, contour_segments, display_values
from tests.gui.helpers import data_to_widget, map_values, shown


def rosenbrock(n: int = 120):
    xs = np.linspace(-2, 2, n)
    ys = np.linspace(-1, 3, n)
    x, y = np.meshgrid(xs, ys)
    return xs, ys, (1 - x) ** 2 + 100 * (y - x**2) ** 2


@pytest.fixture
def cmap(qtbot):
    return shown(qtbot, ContourMap(), 600, 500)


def test_rosenbrock_log_scale(cmap):
    xs, ys, z = rosenbrock()
    cmap.set_field(xs, ys, z, log_scale=True)
    lo, hi = cmap.levels()
    assert hi == pytest.approx(np.log10(z.max() - z.min()), abs=0.01)
    assert hi - lo > 5  # several decades: the valley is resolved, not one flat colour
    assert cmap.is_log_scale()
    assert cmap.colorbar.axis.logMode  # bar ticks show f − min f, not logarithms
    assert cmap.colorbar.getAxis("left").labelText.startswith("f − min f")
    cx, cy = cmap.contours.getData()
    assert cx.size > 100 and cx.size % 2 == 0
    r = cmap.getPlotItem().vb.viewRange()
    assert r[0][0] <= -2 and r[0][1] >= 2 and r[1][0] <= -1 and r[1][1] >= 3


def test_nan_and_inf_do_not_break_colouring(cmap):
    xs, ys, z = rosenbrock(60)
    z[:10, :10] = np.nan
    z[30, 30] = np.inf
    z[31, 31] = -np.inf
    cmap.set_field(xs, ys, z, log_scale=False)
    lo, hi = cmap.levels()
    assert np.isfinite(lo) and np.isfinite(hi) and lo < hi
    assert hi == pytest.approx(np.nanmax(np.where(np.isfinite(z), z, np.nan)))
    d = map_values(cmap)
    assert np.isnan(d[:10, :10]).all()
    assert d[30, 30] == hi and d[31, 31] == lo
    cmap.set_field(xs, ys, z, log_scale=True)
    assert np.isfinite(cmap.levels()).all()
    img = cmap.grab().toImage()  # renders without raising
    assert img.width() > 0


def test_all_non_finite_and_flat_fields(cmap):
    xs = np.linspace(0, 1, 5)
    cmap.set_field(xs, xs, np.full((5, 5), np.nan), log_scale=True)
    assert cmap.levels() == (0.0, 1.0)
    cmap.set_field(xs, xs, np.ones((5, 5)))
    lo, hi = cmap.levels()
    assert lo < hi
    with pytest.raises(ValueError, match="shape"):
        cmap.set_field(xs, xs, np.ones((4, 5)))


def test_display_values_log_and_contour_geometry():
    d, (lo, hi), zmin = display_values(np.array([[1.0, 10.0], [100.0, 1000.0]]), True)
    assert zmin == 1.0 and d[0, 0] == lo and d[1, 1] == pytest.approx(hi)
    # a cone: the contour at r = 1 is a circle of radius 1
    xs = np.linspace(-2, 2, 81)
    x, y = np.meshgrid(xs, xs)
    cx, cy = contour_segments(xs, xs, np.hypot(x, y), [1.0])
    assert cx.size > 50
    assert np.allclose(np.hypot(cx, cy), 1.0, atol=0.01)


def test_minima_and_start_markers(cmap):
    cmap.set_minima([(1.0, 1.0), (-1.0, 0.5)])
    assert cmap.minima.data["x"].tolist() == [1.0, -1.0]
    cmap.set_minima([])
    assert len(cmap.minima.data) == 0
    cmap.set_start((0.5, 0.25))
    assert cmap.start_marker.data["y"].tolist() == [0.25]


def test_real_mouse_click_emits_data_coordinates(qtbot, cmap):
    xs, ys, z = rosenbrock()
    cmap.set_field(xs, ys, z, log_scale=True)
    qtbot.wait(20)
    target = (0.5, 1.5)
    pos = data_to_widget(cmap, *target).toPoint()
    with qtbot.waitSignal(cmap.pointClicked, timeout=1000) as sig:
        qtbot.mouseClick(cmap.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    x, y = sig.args
    # one pixel of a 600 px wide map spans < 0.01 of the 4-unit domain
    assert x == pytest.approx(target[0], abs=0.02) and y == pytest.approx(target[1], abs=0.02)


def test_real_mouse_drag_emits_dragged_and_does_not_pan(qtbot, cmap):
    xs, ys, z = rosenbrock()
    cmap.set_field(xs, ys, z)
    qtbot.wait(20)
    before = cmap.getPlotItem().vb.viewRange()
    got = []
    cmap.pointDragged.connect(lambda x, y: got.append((x, y)))
    a = data_to_widget(cmap, -1.0, 0.0).toPoint()
    b = data_to_widget(cmap, 1.0, 2.0).toPoint()
    vp = cmap.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=a)
    for k in range(1, 6):
        qtbot.mouseMove(vp, pos=a + (b - a) * k / 5)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=b)
    assert got, "no pointDragged from a real drag"
    assert got[-1][0] == pytest.approx(1.0, abs=0.05) and got[-1][1] == pytest.approx(2.0, abs=0.05)
    assert cmap.getPlotItem().vb.viewRange() == before
