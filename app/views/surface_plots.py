"""The two plots of the surface view: the contour map with the race on it, and loss per step.

Everything here is created once and updated with ``setData``; nothing is rebuilt per frame.

* Map (``surfaceView``, the shell's ``ContourMap``): heat map + contours + colour bar + minima
  stars + start marker, then the trajectories (:class:`~app.views.surface_layers.TrajectoryLayer`,
  incremental), one scatter item for every runner's current point (a filled dot, or a large
  cross at the last finite point once a runner has diverged), and the legend above it
  (:class:`~app.views.surface_legend.RaceLegend`; a click on an entry hides/shows that runner,
  kept in sync with the list's check boxes).
* Loss plot (``surfaceLossPlot``): loss against step per runner, drawn incrementally too. On a
  log axis it shows the gap to the minimum, f − f* (what converges to zero, at a rate the class
  can read off as a slope), with f* the surface's known minimum, else the lowest value on the
  map's grid. Its range stays put until the data leave it, then jumps to a rounded range:
  moving the axes every frame would re-render the axes, the grid and every curve.

The heat map and contour items get Qt's device-coordinate cache: they only change when the
surface or the view range does, and without the cache every frame would re-scale a 500×500
image and re-stroke thousands of contour segments.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, QSize, Qt, Signal
from PySide6.QtWidgets import QGraphicsItem

from app.tasks import BackgroundTask
from app.theme import ThemeManager, get_theme
from app.views.surface_layers import TrajectoryLayer
from app.views.surface_legend import LINE_WIDTH, RaceLegend
from app.views.surface_runners import RunnerEntry
from app.widgets.contour_map import ContourMap, Field, field_rect, prepare_field
from app.widgets.lazy_menu import plot_widget
from core.engine.surfaces import Surface
from core.state.format import nice_ceiling
from core.state.trail_copy import TrailCopy

GRID_POINTS = 400
HALO = 1.5  # dark outline each side of a trajectory, px
HEAD_SIZE = 13.0
CROSS_SIZE = 22.0
LOSS_WIDTH = 2.0
ROUGH_GRID = 48  # points a side for the log reference while the map is computed


_FIELDS: OrderedDict[tuple, Field] = OrderedDict()
FIELD_CACHE = 6  # surfaces whose map is kept (~5 MB each at GRID_POINTS): a lecture's presets
PENDING_TEXT = "computing map…"


def field_key(surface: Surface, grid: int, bands: int) -> tuple:
    """What fixes a surface's map: a surface (a registry entry, or an expression by its
    text) never changes."""
    return (surface.name, tuple(map(tuple, surface.domain)), surface.log_scale, grid, bands)


def compute_field(surface: Surface, grid: int, bands: int) -> Field:
    """The map of ``surface`` (torch + numpy only: safe on a worker thread)."""
    xs, ys, z = surface.grid(grid)
    return prepare_field(xs, ys, z, surface.log_scale, bands)


def _field_work(_report, cancelled, surface: Surface, grid: int, bands: int) -> Field | None:
    """``BackgroundTask`` work: evaluating and contouring a surface takes 50-300 ms here."""
    return None if cancelled() else compute_field(surface, grid, bands)


def cached_field(key: tuple) -> Field | None:
    """A map computed before, now the most recently used (GUI thread only)."""
    field = _FIELDS.get(key)
    if field is not None:
        _FIELDS.move_to_end(key)
    return field


def remember_field(key: tuple, field: Field) -> None:
    """Keep a map, forgetting the least recently used beyond :data:`FIELD_CACHE`."""
    _FIELDS[key] = field
    _FIELDS.move_to_end(key)
    while len(_FIELDS) > FIELD_CACHE:
        _FIELDS.popitem(last=False)


def grid_rect(surface: Surface, grid: int) -> QRectF:
    """The extent of ``surface``'s map on a ``grid``-point grid, before it is computed."""
    (x0, x1), (y0, y1) = surface.domain
    return field_rect(np.linspace(x0, x1, grid), np.linspace(y0, y1, grid))


def rough_minimum(surface: Surface) -> float:
    """The lowest finite value on a coarse grid (0 if none): the loss plot's log reference
    while the map, whose minimum replaces it, is being computed."""
    with np.errstate(invalid="ignore", over="ignore"):
        _xs, _ys, z = surface.grid(ROUGH_GRID)
    finite = z[np.isfinite(z)]
    return float(finite.min()) if finite.size else 0.0


class RacePlots(QObject):
    """Owns the map, the loss plot and every plot item of the race."""

    runnerVisibilityToggled = Signal(int, bool)  # from a click on a legend entry
    minimumsChanged = Signal()  # a plot's least size changed (zoom, legend rows)
    #: The current surface's map is drawn: at once from the cache, or when its worker is done.
    mapShown = Signal()
    #: The log axis' reference moved (the map's minimum replaced the rough one): the loss
    #: curves must be pushed again (``set_log_y``).
    referenceChanged = Signal()

    def __init__(self, theme: ThemeManager | None = None) -> None:
        super().__init__()
        self.theme = th = theme or get_theme()
        # -- map
        self.map = ContourMap(theme=th)
        self.map.setObjectName("surfaceView")
        self.map.setAccessibleName("Loss surface with the optimizers' trajectories")
        self.map.setToolTip(
            "The loss surface (dark = low) with each optimizer's path; click or drag to move the "
            "start point, every optimizer restarts there. Wheel zooms, Shift+drag pans, "
            "right-click ▸ View All."
        )
        for item in (self.map.image, self.map.contours):
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        vb = self.map.getPlotItem().getViewBox()
        self.layer = TrajectoryLayer(vb, distinct=True)  # coinciding paths all stay visible
        self.layer.setZValue(5)  # above the contours, below the minima stars and start marker
        self.map.addItem(self.layer, ignoreBounds=True)
        self.heads = pg.ScatterPlotItem(pxMode=True)
        self._head_styles: dict[tuple, dict] = {}  # see _head_style
        self.heads.setZValue(30)
        self.map.addItem(self.heads, ignoreBounds=True)
        self.legend = RaceLegend(self.map.getPlotItem())
        self.legend.visibilityToggled.connect(self.runnerVisibilityToggled)
        self.legend.refitted.connect(self.fit_minimums)
        # a surface's map not seen before is computed on a worker: on the GUI thread it froze
        # a preset load for 50-300 ms; the map says "computing map…" meanwhile
        self._maps = BackgroundTask(self, "gdsim-map")
        self._maps.succeeded.connect(self._on_field)
        self._maps.failed.connect(self._on_field_failed)
        self._map_key: tuple | None = None

        # -- loss plot
        self.loss = plot_widget()
        self.loss.setObjectName("surfaceLossPlot")
        self.loss.setAccessibleName("Loss against step for every optimizer")
        self.loss.setToolTip("Loss against step for every optimizer (same colours as the map).")
        lp = self.loss.getPlotItem()
        lp.setLabel("bottom", "step")
        lp.setLabel("left", "loss")
        # no grid: pyqtgraph's axes draw it, and re-rendering a gridded log axis after a range
        # change took ~18 ms (a dropped frame), against ~1 ms without
        lp.hideButtons()
        # the view box's menu (view all, axes, export) without "Plot Options": its Transforms
        # would put the axis out of step with the "log y" box, the rest does nothing here
        lp.setMenuEnabled(False, enableViewBoxMenu=None)  # (the view box keeps its own, lazy)
        lp.disableAutoRange()  # see _fit_loss_range: ranges move in big jumps, not every frame
        # a fixed axis width: tick labels growing from "1" to "0.0001" must not resize the plot
        # (which would redraw every curve); the theme scales it with the zoom
        lp.getAxis("left").setWidth(52)
        self._loss_range: tuple[float, float, float, float] | None = None
        for axis in self._axes():
            # axes only change when a range does; replaying their QPicture of text each frame
            # cost ~4 ms per axis
            axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._log_y = False
        self._ref = 0.0  # f* (or the grid's minimum) for the log axis
        # a loss below that reference was drawn on the log axis (clamped at the floor: it would
        # look like convergence); the view then switches the axis to linear and says why
        self.below_reference = False
        self._ref_known = False
        self._ref_final = True  # False while _ref is the rough minimum of a map being computed
        self.loss_layer = TrajectoryLayer(
            lp.getViewBox(), width=LOSS_WIDTH, halo=0.0, antialias=False
        )
        self.loss_layer.setZValue(5)
        self.loss.addItem(self.loss_layer, ignoreBounds=True)

        self._drawn: dict[int, tuple[int, int, str]] = {}  # rid -> (generation, steps, status)
        self._copies: dict[int, TrailCopy] = {}  # rid -> what the plots hold of its trail
        self._extent: dict[int, tuple[float, float, float]] = {}  # rid -> (step, y min, y max)
        th.bind(self.layer, _style_layer)
        th.bind(self.loss_layer, _style_loss_layer)
        th.style_plot(self.loss)

    def _axes(self) -> list[pg.AxisItem]:
        out = []
        for view in (self.map, self.loss):
            out += [it for it in view.scene().items() if isinstance(it, pg.AxisItem)]
        return out

    # -- surface -------------------------------------------------------------------------
    def set_surface(self, surface: Surface, grid: int = GRID_POINTS, wait: bool = False) -> None:
        """Show ``surface``: its map at once if it was computed before (or ``wait``), else
        "computing map…" until the worker is done (``mapShown``); the race goes on meanwhile."""
        bands = self.map.bands
        key = field_key(surface, grid, bands)
        field = cached_field(key)
        if field is None and wait:
            field = compute_field(surface, grid, bands)
            remember_field(key, field)
        computing = self._map_key == key and self._maps.running
        self._map_key = key
        self.map.set_minima([(m.x, m.y) for m in surface.minima])
        fstar = min((m.value for m in surface.minima), default=None)
        self._ref_known = fstar is not None
        self.below_reference = False
        if field is not None:
            self._maps.cancel()
            self.map.show_field(field)
            self._ref = fstar if fstar is not None else field.fmin  # fmin: 0 if nothing finite
            self._ref_final = True
        else:
            if not computing:
                self._maps.start(_field_work, surface, grid, bands)
            self.map.show_pending(grid_rect(surface, grid), PENDING_TEXT)
            self._ref = fstar if fstar is not None else rough_minimum(surface)
            self._ref_final = fstar is not None
        self._label_loss_axis()
        self.layer.invalidate()
        if field is not None:
            self.mapShown.emit()

    @property
    def map_pending(self) -> bool:
        """True while the current surface's map is being computed (tests wait for False)."""
        return self._maps.running

    def _on_field(self, field: Field) -> None:
        if self._map_key is None:
            return
        remember_field(self._map_key, field)
        self.map.show_field(field, view_all=False)  # the view may have moved meanwhile
        if not self._ref_final:
            self._ref = field.fmin
            self._ref_final = True
            self.below_reference = False
            self.referenceChanged.emit()
        self.mapShown.emit()

    def _on_field_failed(self, message: str) -> None:
        self.map.set_pending_text(f"the map could not be drawn: {message}")

    def shutdown(self) -> None:
        self._maps.shutdown()

    def set_start(self, point: tuple[float, float]) -> None:
        self.map.set_start(point)

    # -- runners -------------------------------------------------------------------------
    def add_runner(self, entry: RunnerEntry) -> None:
        rid = entry.id
        self.layer.set_track(rid, entry.color, entry.visible)
        self.loss_layer.set_track(rid, _loss_color(entry.color, self.theme), entry.visible)
        self.legend.add_entry(entry)
        self.restyle(entry)
        self._drawn.pop(rid, None)

    def remove_runner(self, rid: int) -> None:
        self.layer.remove_track(rid)
        self.legend.remove_entry(rid)
        self._extent.pop(rid, None)
        self.loss_layer.remove_track(rid)
        self._drawn.pop(rid, None)
        self._copies.pop(rid, None)

    def replace_runner(self, old_rid: int, entry: RunnerEntry) -> None:
        """Show ``entry`` in runner ``old_rid``'s place, reusing its legend row and tracks:
        removing and adding every runner was a third of a preset load."""
        rid = entry.id
        self.legend.replace_entry(old_rid, rid)
        self.layer.replace_track(old_rid, rid, entry.color, entry.visible)
        color = _loss_color(entry.color, self.theme)
        self.loss_layer.replace_track(old_rid, rid, color, entry.visible)
        self._extent.pop(old_rid, None)
        self._drawn.pop(old_rid, None)
        self._copies.pop(old_rid, None)
        self.restyle(entry)

    def clear_runners(self) -> None:
        for rid in list(self.legend.order):
            self.remove_runner(rid)

    def restyle(self, entry: RunnerEntry) -> None:
        """Colour, visibility and legend text of one runner (not its data)."""
        th = self.theme
        rid = entry.id
        self.layer.set_track(rid, entry.color, entry.visible)
        symbol = "x" if entry.diverged else th.series_symbol(entry.color)
        self.legend.restyle_entry(entry, symbol, th.scale)
        self.loss_layer.set_track(rid, _loss_color(entry.color, th), entry.visible)

    # -- data ----------------------------------------------------------------------------
    def redraw(self, entries: Iterable[RunnerEntry], generation: int) -> None:
        """Push what changed since the last call into the items (cheap when nothing did)."""
        entries = list(entries)
        changed = False
        for entry in entries:
            r = entry.runner
            state = (generation, r.steps, r.status)
            old = self._drawn.get(entry.id)
            if old == state:
                continue
            if old is not None and old[0] != generation:
                self.layer.invalidate()
                self.loss_layer.invalidate()
            if old is None or old[2] != r.status:
                self.restyle(entry)
            self._drawn[entry.id] = state
            changed = True
            copy = self._copies.get(entry.id)
            if copy is None:
                copy = self._copies[entry.id] = TrailCopy()
            elif old is None or old[0] != generation:
                copy.clear()
            copy.sync(r.trail, self.loss_values)  # appends what is new
            self.layer.set_data(entry.id, copy.points, copy.steps)
            self._set_loss(entry.id, copy)
        if changed:
            self.update_heads(entries)
            self._fit_loss_range(entries)

    def force_redraw(self, entries: Iterable[RunnerEntry], generation: int) -> None:
        self._drawn.clear()
        self.layer.invalidate()
        self.loss_layer.invalidate()
        self.redraw(entries, generation)

    def update_heads(self, entries: Iterable[RunnerEntry]) -> None:
        spots = []
        for entry in entries:
            if entry.visible:
                x, y = entry.runner.point
                spots.append({"pos": (x, y), **self._head_style(entry.color, entry.diverged)})
        self.heads.setData(spots)

    def _head_style(self, color: str, diverged: bool) -> dict:
        """A head's symbol, size, pen and brush, made once per look: pyqtgraph's symbol atlas
        keeps an entry for every new pen or brush object, so fresh ones each frame grew it
        without bound (~800 entries a minute while racing)."""
        th = self.theme
        key = (color, diverged, th.name, th.scale)
        style = self._head_styles.get(key)
        if style is None:
            style = self._head_styles[key] = {
                "symbol": "x" if diverged else th.series_symbol(color),
                "size": th.size(CROSS_SIZE if diverged else HEAD_SIZE),
                "brush": pg.mkBrush(color),
                "pen": th.pen("#000000", 1.5),
            }
        return style

    def loss_values(self, losses: np.ndarray) -> np.ndarray:
        """What the loss plot's y axis shows for these losses (log10 of the gap on a log axis)."""
        if not self._log_y:
            return losses
        scale = max(1.0, abs(self._ref))
        with np.errstate(invalid="ignore"):  # nan losses stay nan
            if self._ref_final and np.any(losses < self._ref - 1e-9 * scale):
                self.below_reference = True
        return np.log10(np.maximum(losses - self._ref, 1e-16 * scale))

    def _set_loss(self, rid: int, copy: TrailCopy) -> None:
        steps, y = copy.steps, copy.values
        self.loss_layer.set_data(rid, copy.value_points, steps)
        finite = y[np.isfinite(y)]  # a start where f is undefined (log x, x < 0) has nan
        if len(finite):
            self._extent[rid] = (float(steps[-1]), float(finite.min()), float(finite.max()))
        else:
            self._extent.pop(rid, None)

    def _fit_loss_range(self, entries: Iterable[RunnerEntry]) -> None:
        """Keep the loss plot's range still until the data leave it (or shrink a lot), then
        jump to a rounded range: moving axes every frame would redraw the axes and grid."""
        ext = [self._extent[e.id] for e in entries if e.visible and e.id in self._extent]
        if not ext:
            return
        xmax = max(10.0, max(e[0] for e in ext))
        lo = min(e[1] for e in ext)
        hi = max(e[2] for e in ext)
        cur = self._loss_range
        if self._log_y:  # a decade of headroom below: losses fall, and fall on a log axis
            y0, y1 = math.floor(lo) - 1.1, math.ceil(hi) + 0.3
        else:
            pad = 0.08 * (hi - lo) if hi > lo else max(1.0, abs(hi)) * 0.1
            y0, y1 = lo - pad, hi + pad
        x1 = nice_ceiling(xmax * 2.0)
        if cur is not None:
            if cur[1] >= xmax and cur[1] <= 8 * x1:
                x1 = cur[1]  # still fits, and not absurdly loose (a reset shrinks it)
            if cur[2] <= lo and hi <= cur[3] and (cur[3] - cur[2]) <= 4 * (y1 - y0):
                y0, y1 = cur[2], cur[3]
            if (x1, y0, y1) == cur[1:]:
                return
        self._loss_range = (0.0, x1, y0, y1)
        self.loss.getPlotItem().getViewBox().setRange(xRange=(0, x1), yRange=(y0, y1), padding=0)

    def trajectory(self, rid: int) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` the map plots for a runner."""
        return self.layer.track_data(rid)

    def loss_data(self, rid: int) -> tuple[np.ndarray, np.ndarray]:
        """``(step, y)`` the loss plot shows for a runner (y in axis units: log10 on a log axis)."""
        return self.loss_layer.track_data(rid)

    def fit_minimums(self) -> None:
        """Each plot's least size at this zoom: the map keeps a readable map below its legend
        (a legend taller than the map left a thumbnail at 200 %); views reflow, not squeeze."""
        least = self.theme.min_plot_size()
        legend = self.legend.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize).height()
        map_least = QSize(least.width(), least.height() + int(math.ceil(legend)))
        changed = self.map.minimumSize() != map_least or self.loss.minimumSize() != least
        self.map.setMinimumSize(map_least)
        self.loss.setMinimumSize(least)
        if changed:
            self.minimumsChanged.emit()

    def legend_texts(self) -> list[str]:
        return self.legend.texts()

    def head_spots(self) -> list[tuple[float, float, str]]:
        """(x, y, symbol) of every drawn current-point marker."""
        return [(s.pos().x(), s.pos().y(), s.symbol()) for s in self.heads.points()]

    # -- options -------------------------------------------------------------------------
    def set_log_y(self, on: bool, entries: Iterable[RunnerEntry], generation: int) -> None:
        self._log_y = bool(on)
        self.below_reference = False
        self.loss.getPlotItem().getAxis("left").setLogMode(False, self._log_y)
        self._label_loss_axis()
        self._loss_range = None
        self._extent.clear()
        self.force_redraw(entries, generation)

    @property
    def reference_known(self) -> bool:
        """The log axis shows f − f* (a known minimum), not f − the grid's minimum."""
        return self._ref_known

    def _label_loss_axis(self) -> None:
        axis = self.loss.getPlotItem().getAxis("left")
        text = ("f − f*" if self._ref_known else "f − min f") if self._log_y else "loss"
        if axis.labelText != text:  # setLabel keeps the theme's label style: no restyle
            axis.setLabel(text)


def _style_layer(layer: TrajectoryLayer, th: ThemeManager) -> None:
    layer.set_style(th.size(LINE_WIDTH), th.size(HALO))


def _style_loss_layer(layer: TrajectoryLayer, th: ThemeManager) -> None:
    layer.set_style(th.size(LOSS_WIDTH), 0.0)


def _loss_color(color: str, th: ThemeManager) -> str:
    """The runner's colour, darkened where it would vanish on a light background (yellow)."""
    if th.is_dark:
        return color
    c = pg.mkColor(color)
    luminance = 0.2126 * c.redF() + 0.7152 * c.greenF() + 0.0722 * c.blueF()
    if luminance > 0.7:
        return c.darker(160).name()
    return color
