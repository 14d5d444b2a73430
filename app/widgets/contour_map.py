"""A 2-D scalar field as a filled contour map with a colour bar, for the surface race.

Filled look from a banded colour map with contour lines at the band edges (one ``ImageItem``
plus one line item; ``contour_segments`` is vectorised numpy: pyqtgraph's IsocurveItem takes
seconds at 500×500). nan stays transparent, ±inf is clamped, and the colour levels come from
finite values only. Mouse: left click/drag emits ``pointClicked``/``pointDragged`` in data
coordinates; wheel zooms, Shift+drag or middle-drag pans.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import QGraphicsItem, QWidget

from app.theme import ThemeManager, get_theme
from app.widgets.lazy_menu import LazyMenuViewBox

TOOLTIP = (
    "Click or drag to set the start point · wheel: zoom · Shift+drag or middle-drag: pan · "
    "right-drag: zoom axes · right-click: view menu (View All)"
)

# (edge a, edge b) per marching-squares case; edges 0 bottom, 1 right, 2 top, 3 left.
# Cases 5 and 10 are saddles with a second segment in _SEG2.
_SEG1 = np.array(
    [
        (-1, -1),
        (3, 0),
        (0, 1),
        (3, 1),
        (1, 2),
        (3, 0),
        (0, 2),
        (3, 2),
        (2, 3),
        (0, 2),
        (0, 1),
        (1, 2),
        (1, 3),
        (0, 1),
        (0, 3),
        (-1, -1),
    ]  # fmt: skip
)
_SEG2 = {5: (1, 2), 10: (2, 3)}


def _edge_points(
    edge: np.ndarray,
    j: np.ndarray,
    i: np.ndarray,
    corners: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    xs: np.ndarray,
    ys: np.ndarray,
    level: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Where ``level`` crosses edge ``edge`` of cells (j, i), by linear interpolation."""
    p00, p10, p11, p01 = corners
    x0, x1 = xs[i], xs[i + 1]
    y0, y1 = ys[j], ys[j + 1]
    # start/end value and coordinates of edges 0 bottom, 1 right, 2 top, 3 left
    sv = np.choose(edge, [p00, p10, p01, p00])
    ev = np.choose(edge, [p10, p11, p11, p01])
    sx = np.choose(edge, [x0, x1, x0, x0])
    ex = np.choose(edge, [x1, x1, x1, x0])
    sy = np.choose(edge, [y0, y0, y1, y0])
    ey = np.choose(edge, [y0, y1, y1, y1])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.clip((level - sv) / (ev - sv), 0.0, 1.0)
    t = np.nan_to_num(t, nan=0.5)
    return sx + t * (ex - sx), sy + t * (ey - sy)


def contour_segments(
    xs: np.ndarray, ys: np.ndarray, z: np.ndarray, levels: Iterable[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Marching squares: segment end points for every level, ready for ``connect='pairs'``.

    ``z`` has shape (len(ys), len(xs)). Cells with a non-finite corner are skipped. Returns
    ``(x, y)`` arrays of even length (point 2k and 2k+1 form one segment).
    """
    z = np.asarray(z, dtype=np.float64)
    xs = np.asarray(xs, dtype=np.float64)
    ys = np.asarray(ys, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 2 or z.shape[1] < 2:
        return np.empty(0), np.empty(0)
    v00, v10 = z[:-1, :-1], z[:-1, 1:]
    v01, v11 = z[1:, :-1], z[1:, 1:]
    ok = np.isfinite(v00) & np.isfinite(v10) & np.isfinite(v01) & np.isfinite(v11)
    out_x: list[np.ndarray] = []
    out_y: list[np.ndarray] = []
    for level in levels:
        with np.errstate(invalid="ignore"):
            case = (
                (v00 > level).astype(np.int8)
                | ((v10 > level).astype(np.int8) << 1)
                | ((v11 > level).astype(np.int8) << 2)
                | ((v01 > level).astype(np.int8) << 3)
            )
        case[~ok] = 0
        jj, ii = np.nonzero((case != 0) & (case != 15))
        if jj.size == 0:
            continue
        c = case[jj, ii]
        corners = (v00[jj, ii], v10[jj, ii], v11[jj, ii], v01[jj, ii])
        pax, pay = _edge_points(_SEG1[c, 0], jj, ii, corners, xs, ys, level)
        pbx, pby = _edge_points(_SEG1[c, 1], jj, ii, corners, xs, ys, level)
        out_x.append(np.stack([pax, pbx], axis=1).ravel())
        out_y.append(np.stack([pay, pby], axis=1).ravel())
        for saddle, (e1, e2) in _SEG2.items():
            sel = c == saddle
            if sel.any():
                sub = tuple(v[sel] for v in corners)
                n = int(sel.sum())
                qax, qay = _edge_points(np.full(n, e1), jj[sel], ii[sel], sub, xs, ys, level)
                qbx, qby = _edge_points(np.full(n, e2), jj[sel], ii[sel], sub, xs, ys, level)
                out_x.append(np.stack([qax, qbx], axis=1).ravel())
                out_y.append(np.stack([qay, qby], axis=1).ravel())
    if not out_x:
        return np.empty(0), np.empty(0)
    return np.concatenate(out_x), np.concatenate(out_y)


def display_values(z: np.ndarray, log_scale: bool) -> tuple[np.ndarray, tuple[float, float], float]:
    """The array the colours are computed from, its (low, high) levels, and f_min.

    Non-finite input never reaches the colour mapping as ±inf: +inf → high, -inf → low,
    nan stays nan (transparent). With no finite value at all, everything is nan.
    """
    z = np.asarray(z, dtype=np.float64)
    finite = np.isfinite(z)
    if not finite.any():
        return np.full(z.shape, np.nan), (0.0, 1.0), 0.0
    zmin = float(z[finite].min())
    zmax = float(z[finite].max())
    if log_scale:
        eps = max((zmax - zmin) * 1e-6, 1e-12)
        with np.errstate(invalid="ignore"):
            d = np.log10(np.where(finite, z - zmin, 0.0) + eps)
        d[~finite] = np.nan
        lo = math.log10(eps)
        hi = math.log10(zmax - zmin + eps)
    else:
        d = np.where(finite, z, np.nan)
        lo, hi = zmin, zmax
    if hi <= lo:  # a flat field: any non-empty range will do
        hi = lo + 1.0
    d[np.isposinf(z)] = hi
    d[np.isneginf(z)] = lo
    return d, (lo, hi), zmin


def stepped_colormap(name: str, bands: int) -> pg.ColorMap:
    """``name`` cut into ``bands`` flat colours (the filled-contour look)."""
    base = pg.colormap.get(name)
    if bands < 2:
        return base
    pos: list[float] = []
    colors = []
    for k in range(bands):
        c = base.map((k + 0.5) / bands, mode="qcolor")
        pos += [k / bands, (k + 1) / bands]
        colors += [c, c]
    return pg.ColorMap(pos, colors)


class _PickViewBox(LazyMenuViewBox):
    """Left click/drag picks points; everything else is pyqtgraph's usual navigation.

    The axes forward their clicks and drags to this box (pyqtgraph's AxisItem does), with
    positions outside the visible rectangle: a click on an axis' numbers must not put the start
    where nobody can see it, and a left drag along an axis pans it, as elsewhere in pyqtgraph.
    """

    sigPicked = Signal(float, float)
    sigDragged = Signal(float, float)

    @staticmethod
    def _picking(ev) -> bool:
        return ev.button() == Qt.MouseButton.LeftButton and not (
            ev.modifiers() & Qt.KeyboardModifier.ShiftModifier
        )

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph override)
        if self._picking(ev):
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            if self.viewRect().contains(p):  # not a click on an axis
                self.sigPicked.emit(float(p.x()), float(p.y()))
            return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802
        if axis is None and self._picking(ev):
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            r = self.viewRect()  # dragged past the edge: the start stays on the edge, in view
            x = min(max(p.x(), r.left()), r.right())
            y = min(max(p.y(), r.top()), r.bottom())
            self.sigDragged.emit(float(x), float(y))
            return
        super().mouseDragEvent(ev, axis)


@dataclass(frozen=True)
class Field:
    """What a map shows of ``z``: colour values, scale, contour segments (pure numpy, so it
    can be computed once per surface and cached, or off the GUI thread)."""

    xs: np.ndarray
    ys: np.ndarray
    display: np.ndarray
    levels: tuple[float, float]
    fmin: float
    log_scale: bool
    contours: tuple[np.ndarray, np.ndarray]


def prepare_field(
    xs: np.ndarray, ys: np.ndarray, z: np.ndarray, log_scale: bool, bands: int
) -> Field:
    """The :class:`Field` of ``z[j, i] = f(xs[i], ys[j])`` with ``bands`` colour bands
    (ValueError for a grid of the wrong shape or fewer than 2 points along an axis)."""
    xs = np.asarray(xs, dtype=np.float64).ravel()
    ys = np.asarray(ys, dtype=np.float64).ravel()
    z = np.asarray(z, dtype=np.float64)
    if z.shape != (ys.size, xs.size):
        raise ValueError(f"z has shape {z.shape}, expected ({ys.size}, {xs.size})")
    if xs.size < 2 or ys.size < 2:
        raise ValueError("the grid needs at least 2 points along each axis")
    d, (lo, hi), zmin = display_values(z, log_scale)
    step = (hi - lo) / bands
    levels = [lo + k * step for k in range(1, bands)]
    return Field(xs, ys, d, (lo, hi), zmin, bool(log_scale), contour_segments(xs, ys, d, levels))


def field_rect(xs: np.ndarray, ys: np.ndarray) -> QRectF:
    """The extent of a map on grid ``xs`` × ``ys``: pixel centres on the grid points, so
    half a cell more each way."""
    dx = (xs[-1] - xs[0]) / (xs.size - 1)
    dy = (ys[-1] - ys[0]) / (ys.size - 1)
    return QRectF(xs[0] - dx / 2, ys[0] - dy / 2, dx * xs.size, dy * ys.size)


class ContourMap(pg.PlotWidget):
    """Heat map + contour lines + colour bar + minima stars for one 2-D field.

    Items are created once; ``set_field`` only calls ``setImage``/``setData``. Add your own
    items (trajectories) with ``addItem``/``plot``: the heat map is at z=-100, contours at -50,
    minima at 10, the start marker at 11, so anything at z ≥ 20 draws above everything.
    """

    pointClicked = Signal(float, float)
    pointDragged = Signal(float, float)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        bands: int = 12,
        colormap: str = "viridis",
        theme: ThemeManager | None = None,
    ) -> None:
        self._vb = _PickViewBox()
        super().__init__(parent, viewBox=self._vb)
        self._theme = theme or get_theme()
        self._bands = max(1, int(bands))
        self._log = False
        self._levels = (0.0, 1.0)
        self._rect: QRectF | None = None
        self._labelled_log: bool | None = None  # the scale the colour bar is labelled for
        self._pending = False  # waiting for a field computed elsewhere (show_pending)

        pi = self.getPlotItem()
        pi.setLabel("bottom", "x")
        pi.setLabel("left", "y")
        pi.hideButtons()

        self.image = pg.ImageItem()
        self.image.setZValue(-100)
        self.addItem(self.image)
        # one aliased pixel wide at every zoom: Qt strokes that on its fast path; antialiased
        # and zoom-wide, re-stroking thousands of segments after each resize or zoom step
        # froze the window ~0.5 s (the bands show the levels; the lines only edge them)
        self.contours = pg.PlotCurveItem(connect="pairs", antialias=False)
        self.contours.setZValue(-50)
        self.addItem(self.contours)
        self.minima = pg.ScatterPlotItem(symbol="star", pxMode=True)
        self.minima.setZValue(10)
        self.addItem(self.minima)
        self.start_marker = pg.ScatterPlotItem(symbol="o", pxMode=True)
        self.start_marker.setZValue(11)
        self.addItem(self.start_marker)
        # shown instead of the heat map while a new field is computed elsewhere (a worker)
        self.pending_text = pg.TextItem(anchor=(0.5, 0.5))
        self.pending_text.setZValue(40)
        self.pending_text.hide()
        self.addItem(self.pending_text, ignoreBounds=True)

        # they change only with the field or the view: keep their pixels between frames, so a
        # race redraw does not re-stroke thousands of contour segments (~150 ms in software)
        for item in (self.image, self.contours):
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

        self.colorbar = pg.ColorBarItem(
            colorMap=stepped_colormap(colormap, self._bands),
            interactive=False,
            colorMapMenu=False,
            label="f(x, y)",
        )
        self.colorbar.setImageItem(self.image, insert_in=pi)

        self._vb.sigPicked.connect(self.pointClicked)
        self._vb.sigDragged.connect(self.pointDragged)
        self.setToolTip(TOOLTIP)
        self.setAccessibleName("Loss surface contour map")

        th = self._theme
        th.bind(self.contours, lambda it, t: it.setPen(pg.mkPen(t.colors.contour, width=1)))
        th.bind(self.minima, _style_minima)
        th.bind(self.start_marker, _style_start)
        th.bind(self.pending_text, _style_pending)
        th.style_plot(self)

    @property
    def bands(self) -> int:
        return self._bands

    # -- data ----------------------------------------------------------------------------
    def set_field(
        self, xs: np.ndarray, ys: np.ndarray, z: np.ndarray, log_scale: bool = False
    ) -> None:
        """Show ``z[j, i] = f(xs[i], ys[j])``; the view range resets to the field's extent."""
        self.show_field(prepare_field(xs, ys, z, log_scale, self._bands))

    def show_field(self, field: Field, view_all: bool = True) -> None:
        """Show a field :func:`prepare_field` computed (for this map's number of bands);
        ``view_all=False`` keeps the view range (already set by :meth:`show_pending`)."""
        lo, hi = field.levels
        self._levels = field.levels
        self._log = field.log_scale
        self._rect = field_rect(field.xs, field.ys)
        self.image.setImage(field.display.T, autoLevels=False)  # ImageItem is column-major: [x, y]
        self.image.setRect(self._rect)
        self.colorbar.setLevels((lo, hi))
        self.contours.setData(*field.contours)
        self._pending = False
        self.pending_text.hide()
        self.image.show()
        self.contours.show()
        self._label_colorbar()
        if view_all:
            self.view_all()

    def show_pending(self, rect: QRectF, text: str) -> None:
        """No field yet: an empty map of extent ``rect`` (the view moves there, so points can
        be set and runners drawn) saying ``text`` ("computing map…") until :meth:`show_field`."""
        self._pending = True
        self._rect = QRectF(rect)
        self.image.clear()  # the last surface's values are not this one's
        self.image.hide()
        self.contours.hide()
        self.set_pending_text(text)
        self.view_all()

    def set_pending_text(self, text: str) -> None:
        self.pending_text.setText(text)
        self.pending_text.setPos(self._rect.center() if self._rect is not None else QPointF())
        self.pending_text.show()

    @property
    def pending(self) -> bool:
        """True while the map waits for its field (see :meth:`show_pending`)."""
        return self._pending

    def _label_colorbar(self) -> None:
        # only a change of scale type relabels; setLabel keeps the theme's label style, so
        # nothing is restyled (restyling the plot was ~35 ms of every preset load)
        if self._labelled_log == self._log:
            return
        self._labelled_log = self._log
        axis = self.colorbar.axis
        label_axis = self.colorbar.getAxis("left")
        if self._log:
            axis.setLogMode(True)  # ticks at powers of ten, labelled with real values
            label_axis.setLabel("f − min f  (log scale)")
        else:
            axis.setLogMode(False)
            label_axis.setLabel("f(x, y)")

    def set_minima(self, points: Iterable[tuple[float, float]]) -> None:
        """Mark known minima with stars (an empty list clears them)."""
        pts = [(float(x), float(y)) for x, y in points]
        if pts:
            arr = np.asarray(pts)
            self.minima.setData(arr[:, 0], arr[:, 1])
        else:
            self.minima.setData([], [])

    def set_start(self, point: tuple[float, float] | None) -> None:
        """Mark the start point (None hides the marker)."""
        if point is None:
            self.start_marker.setData([], [])
        else:
            self.start_marker.setData([float(point[0])], [float(point[1])])

    def view_all(self) -> None:
        """Zoom to the field's extent and stop auto-ranging (runaway runners don't rescale)."""
        if self._rect is not None:
            r = self._rect
            self._vb.setRange(rect=r, padding=0)
            self._vb.disableAutoRange()

    # -- read-back (tests, views) --------------------------------------------------------
    def levels(self) -> tuple[float, float]:
        """(low, high) of the colour scale in display units (log10 when log scaled)."""
        return self._levels

    def is_log_scale(self) -> bool:
        return self._log


def _style_minima(item: pg.ScatterPlotItem, t: ThemeManager) -> None:
    item.setSize(t.size(18))
    item.setPen(t.pen("#000000", 1.2))
    item.setBrush(pg.mkBrush("#FFFFFF"))


def _style_pending(item: pg.TextItem, t: ThemeManager) -> None:
    item.setColor(t.colors.foreground)
    item.setFont(t.font(1.2))


def _style_start(item: pg.ScatterPlotItem, t: ThemeManager) -> None:
    item.setSize(t.size(12))
    item.setPen(t.pen("#FFFFFF", 2.0))
    item.setBrush(pg.mkBrush(0, 0, 0, 0))
