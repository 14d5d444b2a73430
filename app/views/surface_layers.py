"""Trajectories on the contour map, drawn incrementally so a long race stays cheap to show.

Why not one ``PlotCurveItem`` per runner: Qt's raster engine strokes a thick anti-aliased line
at roughly 3-4 µs per point and per pass (measured on the 2-core lecture machine), and a
readable trajectory on a projector needs a 3 px line plus a dark halo under it. Eight runners
with a few hundred distinct points each cost ~30 ms a frame to redraw from scratch -- twice
the frame budget -- and the cost grows with the run.

:class:`TrajectoryLayer` instead paints into two transparent images the size of the plot (one
for all halos, one for all coloured lines, so a new halo never covers an older coloured line)
and, frame by frame, strokes only the segments added since the last frame. Showing the layer
is two image blits (~0.1 ms). It starts over -- from the runners' bounded histories,
simplified to one point per device pixel -- only when the picture really changes: a pan or
zoom, a resize, a reset, a new start or surface, a runner hidden, removed or restyled.

The layer reads the painter's own transform in ``paint()``, so it always agrees with the
ViewBox, whatever moved it. Tests and the view read back the plotted points with
:meth:`TrajectoryLayer.track_data`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPolygonF, QTransform

#: Device coordinates are clipped to this many pixels: a diverging runner can leave for 1e6
#: data units, and Qt's rasteriser works in fixed point.
PIXEL_LIMIT = 1e6


def simplify_pixels(px: np.ndarray, cell: float = 1.0) -> np.ndarray:
    """Drop points that fall in the same ``cell``-pixel square as the previous point.

    ``px`` is (M, 2) in device pixels. Lossless at screen resolution (a 3 px line cannot show
    sub-pixel wiggles), and keeps the first and the last point. Oscillations across pixels are
    kept: zig-zags are what students are meant to see.
    """
    if len(px) <= 2:
        return px
    q = np.floor(px / cell)
    keep = np.empty(len(px), dtype=bool)
    keep[0] = True
    keep[1:] = np.any(q[1:] != q[:-1], axis=1)
    keep[-1] = True
    return px[keep]


def _to_pixels(t: QTransform, origin: QPointF, pts: np.ndarray) -> np.ndarray:
    """Data -> image pixels (an affine map; pyqtgraph's view transform has no projection)."""
    x = pts[:, 0]
    y = pts[:, 1]
    out = np.empty_like(pts)
    with np.errstate(invalid="ignore", over="ignore"):  # an infinite loss: 0 * inf is NaN, quietly
        out[:, 0] = t.m11() * x + t.m21() * y + t.dx() - origin.x()
        out[:, 1] = t.m12() * x + t.m22() * y + t.dy() - origin.y()
    np.clip(out, -PIXEL_LIMIT, PIXEL_LIMIT, out=out)
    return out


def _end(ph: QPainter, pl: QPainter) -> None:
    if ph is not pl:
        ph.end()
    pl.end()


def _polyline(px: np.ndarray) -> QPolygonF:
    """An (M, 2) array as a QPolygonF, filled through numpy (no Python loop per point)."""
    poly = pg.functions.create_qpolygonf(len(px))
    pg.functions.ndarray_from_qpolygonf(poly)[:] = px
    return poly


#: Dash pattern (in line widths; () = solid) of the runner at each position, cycling, and how
#: much wider (in line widths) each line drawn under a later one is, up to ``MAX_UNDER`` steps.
#: Why: paths that coincide (the too-high-lr preset's runners on one line through the minimum)
#: would hide all but the last runner; a wider line under a dashed or dotted one shows both.
DASHES: tuple[tuple[float, ...], ...] = ((), (3.0, 2.0), (0.5, 2.0), (4.0, 2.0, 0.5, 2.0))
UNDER_STEP = 0.5
MAX_UNDER = 3


def runner_line(position: int, count: int) -> tuple[float, tuple[float, ...]]:
    """(width factor, dash pattern) of the runner drawn ``position``-th of ``count``: the
    earlier (lower) a line, the wider, so the ones drawn over it leave its edges showing."""
    under = min(max(0, count - 1 - position), MAX_UNDER)
    return 1.0 + UNDER_STEP * under, DASHES[position % len(DASHES)]


@dataclass
class Track:
    """One runner's trajectory as the layer knows it."""

    color: QColor
    visible: bool = True
    points: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
    steps: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    pens: tuple[QPen, QPen] | None = None  # (line, halo), rebuilt when the style changes
    drawn_step: int = -1  # step of the last point stroked into the images (-1: none)
    drawn_xy: np.ndarray | None = None  # that point (data coordinates)


class TrajectoryLayer(pg.GraphicsObject):
    """All runners' trajectory lines, painted incrementally (see the module docstring).

    Add it to the plot with ``plot.addItem(layer, ignoreBounds=True)``. Keys are any hashable
    runner ids; drawing order is insertion order. The same layer draws the loss curves (x =
    step): anything that only grows at its end can be drawn this way.
    """

    def __init__(
        self,
        viewbox: pg.ViewBox,
        width: float = 3.0,
        halo: float = 2.0,
        antialias: bool = True,
        distinct: bool = False,
    ) -> None:
        """``halo`` = 0: plain lines. ``antialias=False`` strokes ~5x faster (the loss plot,
        whose full redraws on a range change must fit in a frame). ``distinct``: each track
        gets its ``runner_line`` width and dashes, so coinciding paths all stay visible."""
        super().__init__()
        self._distinct = bool(distinct)
        self._antialias = bool(antialias)
        self._vb = viewbox
        self._width = float(width)
        self._halo = float(halo)
        self._halo_color = QColor(0, 0, 0, 200)
        self._tracks: dict[object, Track] = {}
        self._rect = QRectF(viewbox.viewRect())
        self._key: tuple | None = None
        self._full = True
        self._origin = QPointF()
        self._img_halo: QImage | None = None
        self._img_line: QImage | None = None
        self._pixel = (0.0, 0.0)  # data units per device pixel at the last paint
        viewbox.sigRangeChanged.connect(self._on_range)
        self.setFlag(self.GraphicsItemFlag.ItemUsesExtendedStyleOption, False)

    # -- tracks --------------------------------------------------------------------------
    def set_track(self, key: object, color: str | QColor, visible: bool = True) -> None:
        """Create or restyle a track (restyling redraws everything)."""
        c = QColor(color)
        tr = self._tracks.get(key)
        if tr is None:
            self._tracks[key] = Track(color=c, visible=visible)
        else:
            tr.color = c
            tr.visible = visible
        self.invalidate()

    def set_visible(self, key: object, visible: bool) -> None:
        tr = self._tracks[key]
        if tr.visible != visible:
            tr.visible = visible
            self.invalidate()

    def remove_track(self, key: object) -> None:
        if self._tracks.pop(key, None) is not None:
            self.invalidate()

    def replace_track(self, old: object, new: object, color: str | QColor, visible: bool) -> None:
        """An empty track ``new`` in ``old``'s place in the drawing order (a runner replaced
        by another one, e.g. by a preset)."""
        fresh = Track(color=QColor(color), visible=visible)
        self._tracks = {
            (new if k == old else k): (fresh if k == old else tr) for k, tr in self._tracks.items()
        }
        self.invalidate()

    def pens(self, key: object) -> tuple[QPen, QPen]:
        """(line, halo) pens the track is stroked with (tests read them back)."""
        tr = self._tracks[key]
        if tr.pens is None:
            tr.pens = self._pens(tr.color, list(self._tracks).index(key))
        return tr.pens

    def set_data(self, key: object, points: np.ndarray, steps: np.ndarray) -> None:
        """The runner's history (``Trail.points()``, ``Trail.steps()``); new steps are drawn
        incrementally at the next paint, a history that went back in time redraws."""
        tr = self._tracks[key]
        if len(steps) and steps[-1] < tr.drawn_step:  # went back in time: a reset
            self._full = True
        if tr.drawn_step >= 0 and len(steps) and len(tr.points):
            a, b = points[0], tr.points[0]
            if a[0] != b[0] or a[1] != b[1]:  # restarted elsewhere
                self._full = True
        tr.points = points
        tr.steps = steps
        self.update(self._new_segments(tr))

    def _new_segments(self, tr: Track) -> QRectF:
        """Where the segments not yet drawn lie (data coordinates, padded by the widest
        pen): only that part of the plot is repainted (pyqtgraph's views repaint the minimal
        region), not the whole map and every item on it."""
        if self._full or tr.drawn_xy is None or not tr.visible:
            return self._rect
        first = int(np.searchsorted(tr.steps, tr.drawn_step, side="right"))
        if first >= len(tr.steps):
            return QRectF()
        new = tr.points[first:]
        lo = np.minimum(new.min(axis=0), tr.drawn_xy)  # nan (undefined f) falls back below
        hi = np.maximum(new.max(axis=0), tr.drawn_xy)
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
            return self._rect
        px_w, px_h = self._pixel
        pad = self._width * (1.0 + UNDER_STEP * MAX_UNDER) + 2 * self._halo + 4.0  # px
        rect = QRectF(
            float(lo[0] - pad * px_w),
            float(lo[1] - pad * px_h),
            float(hi[0] - lo[0] + 2 * pad * px_w),
            float(hi[1] - lo[1] + 2 * pad * px_h),
        )
        return rect.intersected(self._rect)

    def track_data(self, key: object) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of the points this track plots (the runner's bounded history)."""
        pts = self._tracks[key].points
        return pts[:, 0].copy(), pts[:, 1].copy()

    def has_track(self, key: object) -> bool:
        return key in self._tracks

    def is_visible(self, key: object) -> bool:
        return self._tracks[key].visible

    # -- style ---------------------------------------------------------------------------
    def set_style(self, width: float, halo: float, halo_color: str | QColor | None = None) -> None:
        """Line width and halo (extra width each side), in device pixels (zoom-scaled)."""
        self._width = float(width)
        self._halo = float(halo)
        if halo_color is not None:
            self._halo_color = QColor(halo_color)
        self.invalidate()

    def invalidate(self) -> None:
        """Redraw everything at the next paint (reset, new start, hidden runner...)."""
        self._full = True
        for tr in self._tracks.values():
            tr.pens = None
        self.update()

    # -- QGraphicsItem -------------------------------------------------------------------
    def _on_range(self, *_args) -> None:
        self.prepareGeometryChange()
        self._rect = QRectF(self._vb.viewRect())
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        return self._rect

    def dataBounds(self, ax, frac=1.0, orthoRange=None):  # noqa: N802,N803 (pyqtgraph API)
        return None  # never part of auto-range: runaway runners must not rescale the map

    def paint(self, p: QPainter, *_args) -> None:
        t = p.transform()
        self._pixel = (1.0 / max(abs(t.m11()), 1e-300), 1.0 / max(abs(t.m22()), 1e-300))
        dev = t.mapRect(self._vb.viewRect())
        w, h = int(math.ceil(dev.width())), int(math.ceil(dev.height()))
        if w <= 0 or h <= 0:
            return
        dev_ratio = p.device().devicePixelRatioF() if p.device() is not None else 1.0
        key = (t.m11(), t.m12(), t.m21(), t.m22(), t.dx(), t.dy(), w, h, dev_ratio)
        if self._full or key != self._key or self._img_line is None:
            self._key = key
            self._origin = dev.topLeft()
            self._rebuild(t, w, h, dev_ratio)
        else:
            self._extend(t)
        p.save()
        p.resetTransform()
        if self._halo > 0:  # else it is empty
            p.drawImage(self._origin, self._img_halo)
        p.drawImage(self._origin, self._img_line)
        p.restore()

    # -- drawing -------------------------------------------------------------------------
    def _pens(self, color: QColor, position: int) -> tuple[QPen, QPen]:
        factor, dashes = runner_line(position, len(self._tracks)) if self._distinct else (1, ())
        width = self._width * factor
        line = QPen(color, width)
        halo = QPen(self._halo_color, width + 2 * self._halo)
        for pen in (line, halo):
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            pen.setCosmetic(True)
        if dashes:  # the halo stays solid: the line's gaps show the wider line under it
            line.setDashPattern(list(dashes))
        return line, halo

    def _painters(self) -> tuple[QPainter, QPainter]:
        pl = QPainter(self._img_line)
        ph = QPainter(self._img_halo) if self._halo > 0 else pl  # no halo: nothing drawn there
        for q in (ph, pl):
            q.setRenderHint(QPainter.RenderHint.Antialiasing, self._antialias)
        return ph, pl

    def _rebuild(self, t: QTransform, w: int, h: int, dev_ratio: float) -> None:
        size = (int(round(w * dev_ratio)), int(round(h * dev_ratio)))
        for name in ("_img_halo", "_img_line"):
            img = getattr(self, name)
            if img is None or (img.width(), img.height()) != size:
                img = QImage(size[0], size[1], QImage.Format.Format_ARGB32_Premultiplied)
                img.setDevicePixelRatio(dev_ratio)
                setattr(self, name, img)
            img.fill(0)
        self._full = False
        ph, pl = self._painters()
        try:
            for key, tr in self._tracks.items():
                tr.drawn_step = -1
                tr.drawn_xy = None
                if not tr.visible or len(tr.points) == 0:
                    continue
                px = simplify_pixels(_to_pixels(t, self._origin, tr.points))
                self._stroke(ph, pl, key, px)
                tr.drawn_step = int(tr.steps[-1])
                tr.drawn_xy = tr.points[-1].copy()
        finally:
            _end(ph, pl)

    def _extend(self, t: QTransform) -> None:
        """Stroke every track's segments since the last paint: all their points go to pixels
        in one call (a frame adds a few points to each track; per track, numpy's overhead
        was most of the paint)."""
        pending, chunks = [], []
        for key, tr in self._tracks.items():
            if not (tr.visible and len(tr.steps)) or int(tr.steps[-1]) <= tr.drawn_step:
                continue
            if tr.drawn_xy is not None:  # from the last point drawn (same transform)
                chunks.append(tr.drawn_xy[None, :])
            new = tr.points[int(tr.steps.searchsorted(tr.drawn_step, side="right")) :]
            chunks.append(new)
            pending.append((key, tr, len(new) + (tr.drawn_xy is not None)))
        if not pending:
            return
        px = _to_pixels(t, self._origin, np.concatenate(chunks))
        ph, pl = self._painters()
        try:
            end = 0
            for key, tr, n in pending:
                self._stroke(ph, pl, key, simplify_pixels(px[end : end + n]))
                end += n
                tr.drawn_step = int(tr.steps[-1])
                tr.drawn_xy = tr.points[-1].copy()
        finally:
            _end(ph, pl)

    def _stroke(self, ph: QPainter, pl: QPainter, key: object, px: np.ndarray) -> None:
        line, halo = self.pens(key)
        with_halo = self._halo > 0
        if len(px) == 1:  # a lone start point: a dot, so a runner that has not moved shows
            pt = QPointF(float(px[0, 0]), float(px[0, 1]))
            if with_halo:
                ph.setPen(halo)
                ph.drawPoint(pt)
            pl.setPen(line)
            pl.drawPoint(pt)
            return
        poly = _polyline(px)
        if with_halo:
            ph.setPen(halo)
            ph.drawPolyline(poly)
        pl.setPen(line)
        pl.drawPolyline(poly)
