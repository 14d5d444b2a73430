"""The Training view's plots: loss, accuracy and the decision boundary, all created once.

Why built like this:
* Every plot item is created when a run starts (``reset``) and afterwards only fed with
  ``setData``/``setImage`` from the view's ~30 Hz display timer, however fast training runs.
  ``redraw()`` touches only items whose data changed since the last frame.
* Curves are ``CurveBuffer``s (min/max decimation): an hour of training at thousands of batches a
  second keeps a few thousand points per curve and still shows every spike.
* The x axis is in *epochs* (a batch counts as 1/batches-per-epoch), so per-batch training loss,
  per-epoch validation loss, accuracy and the markers share one axis, and the accuracy plot is
  x-linked to the loss plot.
* Raw per-batch loss is noisy by nature (each batch is a different sample of the data); it is
  drawn faint, with a bias-corrected exponential moving average (what TensorBoard calls
  smoothing) drawn bold on top, so the class sees both the noise and the trend.
* The decision boundary is the argmax class of the network on a grid, tinted by its confidence
  (pale near the boundary, saturated far from it), under the data points coloured by class.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, Qt, Slot
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QWidget

from app.plaintext import PlainLabel, esc, plain_tip
from app.theme import ThemeManager, get_theme
from app.views.training_series import (
    ACC_SERIES,
    LOSS_SERIES,
    SERIES,
    style_band_sample,
    style_item,
)
from app.widgets.curve_buffer import CurveBuffer
from app.widgets.slider_spin import format_number
from core.engine.optimizers import parse_spec
from core.errors import GdsimError
from core.state.training import lane_short

# Class colours for data points and the boundary image (Okabe-Ito order, colour-blind safe).
CLASS_COLORS: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # green
    "#CC79A7",  # purple
    "#D55E00",  # vermillion
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#999999",  # grey
    "#8C564B",  # brown
    "#17BECF",  # cyan
)
EMA = 0.9  # smoothing of the per-batch loss (weight of the past)
# CurveBuffer capacities: bounded memory and setData/paint cost. The loss plot is at most ~1500
# pixels wide, and min/max pairs per bucket keep every spike at that resolution.
RAW_POINTS = 1600
BAND_BINS = 200  # the per-batch band's resolution (min/max per bin; ~2 px each)
SMOOTH_POINTS = 800  # a smooth curve needs few points
EPOCH_POINTS = 2000
MAX_MARKERS = 60  # oldest markers are removed beyond this
MARKER_MERGE_S = 1.0  # lr changes closer than this (wall clock) update one marker: a slider drag
FULL_X_EPOCHS = 300  # runs up to this long show their whole length on the x axis from the start
EPOCH_EVERY = 6  # display frames between redraws of a lane's per-epoch curves (~5 Hz)
RAW_EVERY = 4  # ... of a lane's per-batch band (~8 Hz; the smoothed curve is every frame)
MAX_SYMBOLS = 60  # per-epoch curves lose their markers beyond this many points
MAX_SCATTER = 3000  # data points drawn over the boundary (a deterministic subset beyond)
LOSS_FLOOR = 1e-12  # a log axis cannot show 0
# The loss legend must fit inside its plot however narrow (zoom 150 %, an 800 px window, the code
# panel open, eight optimizers racing). Tried in this order until one fits: the full names, then
# "name (lr=...)", then the bare names (the full text is always in the tooltip), each with fewer
# columns, then a smaller font; a legend that fits nowhere is hidden rather than drawn clipped.
LEGEND_MARGIN = 6  # px between the legend and the plot's edges (the legend's offset)
LEGEND_FONTS = (1.0, 0.85, 0.72, 0.6, 0.5)  # label font sizes tried, relative to the theme's
LEGEND_MIN_PT = 7.0  # ... but never below this (at 100 % only the first three are tried)
LEGEND_TALL = 0.5  # first choice: a legend at most this share of the plot's height


LR_TOOLTIP = (
    "The learning rate each batch used, per optimizer (log axis): a schedule's shape and your "
    "live changes · wheel: zoom · right-click: View All"
)
LOSS_TOOLTIP = (
    "Training loss per batch (faint), smoothed (bold) and validation loss per epoch "
    "(dots); dashed lines mark learning-rate changes and where validation stopped "
    "improving · wheel: zoom · right-click: View All"
)


class StrideBuffer:
    """Bounded (x, y) history that keeps every ``stride``-th sample; the stride doubles (and
    every other stored sample goes) when full. For curves that are already smooth (the EMA):
    ``CurveBuffer``'s min/max pairs would draw them as a zigzag ribbon. The newest sample is
    always part of ``data()``."""

    def __init__(self, capacity: int = 1000) -> None:
        self.capacity = int(capacity)
        self._x = np.empty(self.capacity)
        self._y = np.empty(self.capacity)
        self._n = 0
        self._stride = 1
        self._count = 0
        self._last: tuple[float, float] | None = None
        self.version = 0

    def __len__(self) -> int:
        return self._count

    @property
    def last(self) -> tuple[float, float] | None:
        return self._last

    def extend(self, xs: np.ndarray, ys: np.ndarray) -> None:
        xs = np.asarray(xs, dtype=np.float64)
        ys = np.asarray(ys, dtype=np.float64)
        if xs.size == 0:
            return
        idx = np.arange(self._count, self._count + xs.size)
        self._count += xs.size
        self._last = (float(xs[-1]), float(ys[-1]))
        self.version += 1
        keep = idx % self._stride == 0
        xs, ys, idx = xs[keep], ys[keep], idx[keep]
        while xs.size:
            room = self.capacity - self._n
            if room == 0:  # halve the stored history, double the stride
                half = (self._n + 1) // 2
                self._x[:half] = self._x[: self._n : 2]
                self._y[:half] = self._y[: self._n : 2]
                self._n = half
                self._stride *= 2
                keep = idx % self._stride == 0
                xs, ys, idx = xs[keep], ys[keep], idx[keep]
                continue
            take = min(room, xs.size)
            self._x[self._n : self._n + take] = xs[:take]
            self._y[self._n : self._n + take] = ys[:take]
            self._n += take
            xs, ys, idx = xs[take:], ys[take:], idx[take:]

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = self._x[: self._n], self._y[: self._n]
        if self._last is not None and (self._n == 0 or x[-1] != self._last[0]):
            x = np.append(x, self._last[0])
            y = np.append(y, self._last[1])
        return x.copy(), y.copy()


class NoiseBand(QGraphicsPathItem):
    """The per-batch loss as a filled band between its running minimum and maximum.

    Why not a zigzag line through every batch: with thousands of batches the strokes overdraw
    the same pixels many times, and rasterising them 30 times a second was the GUI thread's
    largest cost (through the GIL it slowed training by a third). The band is one polygon of
    at most ``2 * BAND_BINS`` vertices, painted by Qt in C++ (no Python per frame), and shows
    the same thing: how noisy single batches are, spikes included (min/max per bin).
    """

    def __init__(self) -> None:
        super().__init__()
        self.setPen(QPen(Qt.PenStyle.NoPen))
        # filling a polygon with a thousand jagged vertices costs ~5 ms a frame in software
        # rendering: render it into a pixmap when it changes (~8 Hz), blit it otherwise
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._count = 0

    def setData(self, x, y) -> None:  # noqa: N802 (the curve interface the plots use)
        self.set_samples(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))

    def set_samples(self, x: np.ndarray, y: np.ndarray) -> None:
        ok = np.isfinite(x) & np.isfinite(y)
        x, y = x[ok], y[ok]
        self._count = int(x.size)
        self._fresh_cache()
        if x.size < 2:
            self.setPath(pg.QtGui.QPainterPath())
            return
        k = max(1, math.ceil(x.size / BAND_BINS))
        starts = np.arange(0, x.size, k)
        counts = np.diff(np.append(starts, x.size))
        hi = np.maximum.reduceat(y, starts)
        lo = np.minimum.reduceat(y, starts)
        xm = np.add.reduceat(x, starts) / counts
        xm[0], xm[-1] = x[0], x[-1]
        path = pg.arrayToQPath(
            np.concatenate([xm, xm[::-1]]), np.concatenate([hi, lo[::-1]]), connect="all"
        )
        path.closeSubpath()
        self.setPath(path)

    def sample_count(self) -> int:
        return self._count

    def _fresh_cache(self) -> None:
        """Drop the cached pixels before a new path. The band's lucky-batch lows reach far
        below the y range (which follows the trend); for an item over 1.2× the viewport Qt
        caches only its on-screen part and, when that part grows, repaints just the new strip
        although the whole item changed, keeping stale pixels (the early epochs went blank).
        A fresh cache is painted whole, as a changed path is anyway."""
        self.setCacheMode(QGraphicsItem.CacheMode.NoCache)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


def class_color(k: int) -> str:
    return CLASS_COLORS[k % len(CLASS_COLORS)]


def _fmt(value) -> str:
    if isinstance(value, float):
        return format_number(value, 3)
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return str(value)


def lane_label(name: str, lr: float | None = None) -> str:
    """'RMSprop()' -> 'RMSprop (lr=0.01)': the learning rate always (also when it is the
    default, which the canonical SPEC leaves out), then the other settings given."""
    base, _sep, _tag = name.partition(" #")
    try:
        spec = parse_spec(base)
    except GdsimError:
        return name
    if lr is None:
        lr = spec.hparams().get("lr")
    parts = [] if lr is None else [f"lr={_fmt(float(lr))}"]
    parts += [f"{k}={_fmt(v)}" for k, v in spec.kwargs.items() if k != "lr"]
    return f"{lane_short(name)} ({', '.join(parts)})" if parts else lane_short(name)


def lane_label_lr(name: str, lr: float | None = None) -> str:
    """'SGD(lr=0.05, momentum=0.9) #2' -> 'SGD #2 (lr=0.05)': a narrow legend's name."""
    try:
        spec = parse_spec(name.partition(" #")[0])
    except GdsimError:
        return lane_short(name)
    if lr is None:
        lr = spec.hparams().get("lr")
    return lane_short(name) if lr is None else f"{lane_short(name)} (lr={_fmt(float(lr))})"


def point_size(n_points: int) -> float:
    """Marker size (px at 100 %) for a data set of ``n_points``: full size up to 300 points, then
    smaller (area ~ 1/n), so that a thousand points still leave the decision boundary between
    them visible, the part of the picture the lesson is about."""
    return float(np.clip(6.5 * math.sqrt(300.0 / max(1, n_points)), 3.5, 6.5))


def ema_debiased(values: np.ndarray, state: tuple[float, int]) -> tuple[np.ndarray, tuple]:
    """Bias-corrected EMA of ``values`` continuing from ``state`` = (raw average, count).

    Without the correction an EMA started at 0 creeps up from 0 for the first ~1/(1-EMA)
    batches, which would read as "the loss rose at the start".
    """
    s, n = state
    out = np.empty(values.size)
    for i, v in enumerate(values.tolist()):
        s = EMA * s + (1.0 - EMA) * v
        n += 1
        out[i] = s / (1.0 - EMA**n)
    return out, (s, n)


@dataclass
class LaneItems:
    """The plot items and buffers of one race lane (one optimizer)."""

    index: int
    name: str
    color: str
    raw: CurveBuffer = field(default_factory=lambda: CurveBuffer(RAW_POINTS))
    smooth: StrideBuffer = field(default_factory=lambda: StrideBuffer(SMOOTH_POINTS))
    val: CurveBuffer = field(default_factory=lambda: CurveBuffer(EPOCH_POINTS))
    val_acc: CurveBuffer = field(default_factory=lambda: CurveBuffer(EPOCH_POINTS))
    train_acc: CurveBuffer = field(default_factory=lambda: CurveBuffer(EPOCH_POINTS))
    lrs: CurveBuffer = field(default_factory=lambda: CurveBuffer(RAW_POINTS))  # lr per batch
    ema: tuple[float, int] = (0.0, 0)
    lr: float | None = None  # after a live change (None: the SPEC's)
    band_key: object = None  # the legend's sample for the per-batch band
    drawn: dict = field(default_factory=dict)  # item name -> buffer version last drawn
    items: dict = field(default_factory=dict)  # item name -> PlotDataItem
    diverged: bool = False


class TrainingPlots(QObject):
    """Owns ``lossPlot``, ``accuracyPlot`` and ``boundaryPlot`` and everything drawn on them."""

    def __init__(self, theme: ThemeManager | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.theme = theme or get_theme()
        self.loss_plot = pg.PlotWidget()
        self.loss_plot.setObjectName("lossPlot")
        self.loss_plot.setAccessibleName("Loss curves")
        self.loss_plot.setToolTip(LOSS_TOOLTIP)
        self.acc_plot = pg.PlotWidget()
        self.acc_plot.setObjectName("accuracyPlot")
        self.acc_plot.setAccessibleName("Accuracy curves")
        self.acc_plot.setToolTip(
            "Share of points classified correctly after each epoch: validation (hollow dots, "
            "the honest number) and training (filled dots), coloured as in the loss plot"
        )
        self.lr_plot = pg.PlotWidget()
        self.lr_plot.setObjectName("trainingLrPlot")
        self.lr_plot.setAccessibleName("Learning rate against epoch for every optimizer")
        self.lr_plot.setToolTip(LR_TOOLTIP)
        self.boundary_plot = pg.PlotWidget()
        self.boundary_plot.setObjectName("boundaryPlot")
        self.boundary_plot.setAccessibleName("Decision boundary")
        self.boundary_plot.setToolTip(
            "The class the network predicts at each point of the plane (paler = less sure), "
            "with the data: filled dots are training points, rings are validation points"
        )

        lp = self.loss_plot.getPlotItem()
        lp.setLabel("bottom", "epoch")
        lp.setLabel("left", "loss (cross-entropy)")
        lp.setLogMode(y=True)
        lp.getAxis("left").enableAutoSIPrefix(False)  # "×0.001" next to a log axis misleads
        self.legend = lp.addLegend(offset=(-LEGEND_MARGIN, LEGEND_MARGIN), colCount=3)
        # static items are blitted from a pixmap instead of repainted by Python every frame
        self.legend.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.legend.setObjectName("lossLegend")
        ap = self.acc_plot.getPlotItem()
        ap.setLabel("bottom", "epoch")
        ap.setLabel("left", "accuracy")
        ap.setYRange(0.0, 1.0, padding=0.02)
        ap.setLimits(yMin=-0.05, yMax=1.05)
        ap.setXLink(lp)
        self.acc_legend = ap.addLegend(offset=(-LEGEND_MARGIN, -LEGEND_MARGIN), colCount=2)
        self.acc_legend.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.acc_legend.setObjectName("accuracyLegend")
        rp = self.lr_plot.getPlotItem()
        rp.setLabel("bottom", "epoch")
        rp.setLabel("left", "learning rate")
        rp.setLogMode(y=True)
        rp.getAxis("left").enableAutoSIPrefix(False)
        rp.setXLink(lp)
        self.lr_markers: list[pg.InfiniteLine] = []  # "held from here" lines on the lr plot
        self._legend_fitted: dict[int, tuple] = {}  # id(legend) -> what it was last fitted to
        self._label_sizes: dict[tuple[str, str], tuple[float, float]] = {}
        self._probe = pg.LabelItem(justify="left")  # measures legend texts (never shown)
        bp = self.boundary_plot.getPlotItem()
        bp.setAspectLocked(True)
        bp.setLabel("bottom", "x₁")
        bp.setLabel("left", "x₂")
        # the title is a QLabel above the plot, not a pyqtgraph title: a title inside the scene
        # cannot shrink, and at 1024 px with zoom it pushed the plot out of its widget
        self.boundary_title = PlainLabel("Decision boundary")
        self.boundary_title.setObjectName("boundaryTitle")
        self.boundary_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.boundary_title.setMinimumWidth(1)
        self.boundary_title.setWordWrap(True)
        bp.setMenuEnabled(False)
        bp.getViewBox().setDefaultPadding(0.02)

        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-10)
        bp.addItem(self.image)
        self.train_points = pg.ScatterPlotItem(pxMode=True)
        self.val_points = pg.ScatterPlotItem(pxMode=True)
        bp.addItem(self.train_points)
        bp.addItem(self.val_points)

        self.lanes: list[LaneItems] = []
        self.markers: list[pg.InfiniteLine] = []
        self._marker_kinds: list[str] = []
        self._last_lr_marker: tuple[float, pg.InfiniteLine, float] | None = None
        self.batches_per_epoch = 1
        self.boundary_step = -1  # step of the boundary shown (-1: none yet)
        self.boundary_lane = 0
        self._data = None
        self._n_classes = 2
        self._log_y = True
        self._raw_visible = True
        self.focus_lane = 0
        self._frame = 0
        self.epochs = 1
        self._x_hi = 1.0
        self._y_span: tuple[float, float] | None = None  # data min/max (finite, > 0)
        self._y_view: tuple[float, float] | None = None  # range shown, in view units
        self._manual = False  # the user zoomed or panned: stop managing the ranges
        self._acc_low = 0.5
        self._acc_view_low = math.nan
        lp.getViewBox().sigRangeChangedManually.connect(self._on_manual_range)
        lp.getViewBox().sigResized.connect(self._fit_legend)
        ap.getViewBox().sigResized.connect(self._fit_legend)
        bp.getViewBox().sigResized.connect(self._fit_boundary)
        ap.getViewBox().sigRangeChangedManually.connect(self._on_manual_range)
        if isinstance(parent, QWidget):  # the view: restyled when shown, not on a hidden tab
            self.theme.connect_when_shown(parent, self._on_theme)
        else:
            self.theme.changed.connect(self._on_theme)

    # -- widgets ---------------------------------------------------------------------------
    def widgets(self) -> tuple[pg.PlotWidget, pg.PlotWidget, pg.PlotWidget]:
        return self.loss_plot, self.acc_plot, self.boundary_plot

    # -- a new run -------------------------------------------------------------------------
    def reset(self, lane_names: list[str], batches_per_epoch: int, data, epochs: int = 1) -> None:
        """Forget the previous run: one set of items per lane, markers gone, new data drawn."""
        lp, ap = self.loss_plot.getPlotItem(), self.acc_plot.getPlotItem()
        rp = self.lr_plot.getPlotItem()
        for lane in self.lanes:
            for name, item in lane.items.items():
                self._plot_of(name).removeItem(item)
        for m in self.lr_markers:
            rp.removeItem(m)
        self.lr_markers = []
        self.legend.clear()
        self.acc_legend.clear()
        for m in self.markers:
            lp.removeItem(m)
        self.markers, self._marker_kinds, self._last_lr_marker = [], [], None
        self.batches_per_epoch = max(1, int(batches_per_epoch))
        race = len(lane_names) > 1
        self.acc_legend.setVisible(not race)
        self.lanes = []
        for i, name in enumerate(lane_names):
            lane = LaneItems(i, name, self.theme.series_color(i))
            # the per-batch curves are bare PlotCurveItems (a third of PlotDataItem's setData
            # cost, paid 30 times a second); they get log10 values from us in log mode
            lane.items = {
                "raw": NoiseBand(),
                "smooth": pg.PlotCurveItem(connect="finite"),
                "val": pg.PlotDataItem(symbol="o", connect="finite"),
                "val_acc": pg.PlotDataItem(symbol="o", connect="finite"),
                "train_acc": pg.PlotDataItem(connect="finite"),
                "lrs": pg.PlotDataItem(connect="finite"),
            }
            lane.band_key = pg.PlotCurveItem()  # legend sample for the band (not plotted)
            # its visibility is the band's: a click on the legend entry hides the band itself
            lane.band_key.setVisible(self._raw_visible)
            lane.band_key.visibleChanged.connect(self._show_raw)
            for key, item in lane.items.items():
                if hasattr(item, "setObjectName"):  # the band is a plain QGraphicsItem
                    item.setObjectName(f"{key}Curve{i}")
                self._plot_of(key).addItem(item)
            if race:  # the accuracy plot shares the loss plot's colours: one legend is enough
                self.legend.addItem(lane.items["smooth"], esc(lane_label(name)))  # see _fit_legend
            else:  # each series as SERIES names and draws it (the band by its sample)
                for legend, keys in ((self.legend, LOSS_SERIES), (self.acc_legend, ACC_SERIES)):
                    for key in keys:
                        sample = lane.band_key if key == "raw" else lane.items[key]
                        legend.addItem(sample, SERIES[key].label)
            self.lanes.append(lane)
        self._style_lanes()
        self._show_raw()
        self._legend_fitted.clear()
        self._fit_legend()
        self.set_data(data)
        self.boundary_step = -1
        self.image.clear()
        self.epochs = max(1, int(epochs))
        self._manual = False
        self._y_span = self._y_view = None
        n_classes = int(getattr(data, "n_classes", 2))
        self._acc_low = 1.0 / max(2, n_classes)  # chance level: the y axis starts near it
        self._acc_view_low = math.nan
        lp.disableAutoRange()
        ap.disableAutoRange()
        self._x_hi = float(self.epochs if self.epochs <= FULL_X_EPOCHS else min(self.epochs, 8))
        self._apply_x()
        lp.setYRange(-1.0, 0.0) if self._log_y else lp.setYRange(0.0, 1.0)

    def _plot_of(self, key: str) -> pg.PlotItem:
        """Where a lane's item of this name is drawn."""
        if key in ("val_acc", "train_acc"):
            return self.acc_plot.getPlotItem()
        if key == "lrs":
            return self.lr_plot.getPlotItem()
        return self.loss_plot.getPlotItem()

    def set_data(self, data) -> None:
        """Draw a data set's points (training filled, validation hollow) and frame the plot."""
        self._data = data
        self._n_classes = int(data.n_classes)
        self._style_points()
        # auto-range fits the points (and later the grid) whatever the widget's aspect ratio
        self.boundary_plot.getPlotItem().enableAutoRange()
        self._fit_boundary()

    def _style_points(self) -> None:
        data = self._data
        if data is None:
            return
        th = self.theme
        edge = pg.mkPen(th.colors.foreground, width=th.size(0.8))
        for item, idx, hollow in (
            (self.train_points, data.train_idx, False),
            (self.val_points, data.val_idx, True),
        ):
            if idx.size > MAX_SCATTER // (2 if hollow else 1):  # keep drawing cheap
                keep = max(1, MAX_SCATTER // (2 if hollow else 1))
                idx = idx[np.linspace(0, idx.size - 1, keep).astype(np.int64)]
            pts = data.x[idx]
            classes = data.y[idx]
            brushes = [
                pg.mkBrush(th.colors.background if hollow else class_color(int(k)))
                for k in range(self._n_classes)
            ]
            pens = [
                pg.mkPen(class_color(int(k)), width=th.size(1.6)) if hollow else edge
                for k in range(self._n_classes)
            ]
            item.setData(
                x=pts[:, 0],
                y=pts[:, 1],
                size=th.size(point_size(data.x.shape[0]) * (1.0 if not hollow else 0.92)),
                brush=[brushes[int(k)] for k in classes],
                pen=[pens[int(k)] for k in classes],
            )

    # -- feeding ---------------------------------------------------------------------------
    def add_losses(self, lane: int, steps: np.ndarray, losses: np.ndarray) -> None:
        """Per-batch losses of one lane (steps are 0-based global batch indices)."""
        if lane >= len(self.lanes) or steps.size == 0:
            return
        item = self.lanes[lane]
        x = (steps.astype(np.float64) + 1.0) / self.batches_per_epoch
        y = np.where(np.isfinite(losses), np.maximum(losses, LOSS_FLOOR), np.nan)
        item.raw.extend(x, y)
        smooth, item.ema = ema_debiased(losses, item.ema)
        smooth = np.where(np.isfinite(smooth), np.maximum(smooth, LOSS_FLOOR), np.nan)
        item.smooth.extend(x, smooth)
        # the y range follows the trend (smoothed and validation), not the per-batch extremes:
        # single lucky batches near 0 would otherwise squash the curve into a corner
        self._extend_y_span(smooth)

    def add_lrs(self, lane: int, steps: np.ndarray, lrs: np.ndarray) -> None:
        """The lr each batch used (steps as in :meth:`add_losses`); 0 leaves a gap (log axis)."""
        if lane >= len(self.lanes) or steps.size == 0:
            return
        x = (steps.astype(np.float64) + 1.0) / self.batches_per_epoch
        self.lanes[lane].lrs.extend(x, np.where(lrs > 0, lrs, np.nan))

    def add_epoch(self, lane: int, epoch: int, val_loss: float, val_acc: float, train_acc: float):
        if lane >= len(self.lanes):
            return
        item = self.lanes[lane]
        v = max(val_loss, LOSS_FLOOR) if math.isfinite(val_loss) else math.nan
        x = np.array([float(epoch)])
        # extend(), not append(): append() holds up to 64 samples back and shows only their
        # min/max, which would hide most of a per-epoch curve
        item.val.extend(x, np.array([v]))
        self._extend_y_span(np.array([v]))
        low = min(val_acc, train_acc) if math.isfinite(min(val_acc, train_acc)) else 1.0
        self._acc_low = min(self._acc_low, low)
        item.val_acc.extend(x, np.array([val_acc], dtype=np.float64))
        item.train_acc.extend(x, np.array([train_acc], dtype=np.float64))

    def _extend_y_span(self, values: np.ndarray) -> None:
        finite = values[np.isfinite(values)]
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
            span = self._y_span
            self._y_span = (lo, hi) if span is None else (min(span[0], lo), max(span[1], hi))

    def set_diverged(self, lane: int) -> None:
        """Mark a lane as diverged in the legend (its curves stop where it blew up)."""
        if lane >= len(self.lanes):
            return
        item = self.lanes[lane]
        item.diverged = True
        self._fit_legend()  # its name now says so

    def set_lane_lr(self, lane: int, lr: float) -> None:
        """A live lr change: the race legend names each lane by its current learning rate."""
        if lane < len(self.lanes):
            self.lanes[lane].lr = float(lr)
            self._fit_legend()

    def _legend_names(self, brevity: int) -> list[str]:
        """The loss legend's texts, ``brevity`` 0 (full), 1 (name and lr) or 2 (name only).

        Shortened names that would read alike ("SGD" for SGD at two learning rates) get the
        lane's number, so every curve stays identifiable."""
        if len(self.lanes) <= 1:
            diverged = bool(self.lanes) and self.lanes[0].diverged
            return [
                SERIES[key].label + (" — diverged" if diverged and key == "smooth" else "")
                for key in LOSS_SERIES
            ]
        names = []
        for lane in self.lanes:
            if brevity == 0:
                text = lane_label(lane.name, lane.lr)
            elif brevity == 1:
                text = lane_label_lr(lane.name, lane.lr)
            else:
                text = lane_short(lane.name)
            names.append(text)
        if brevity:
            names = [
                f"{text} [{i + 1}]" if names.count(text) > 1 else text
                for i, text in enumerate(names)
            ]
        return [
            f"{text} — diverged" if lane.diverged else text
            for text, lane in zip(names, self.lanes, strict=True)
        ]

    def legend_texts(self) -> list[str]:
        """The texts the loss legend shows now (shortened when the plot is narrow)."""
        return [text.item.toPlainText() for _sample, text in self.legend.items]

    def legend_full_texts(self) -> list[str]:
        """The full names (the legend's tooltips), however short the legend shows them."""
        return [text.toolTip() for _sample, text in self.legend.items]

    # -- markers ---------------------------------------------------------------------------
    def add_lr_marker(self, step: int, old_lr: float | None, new_lr: float, lane_name: str) -> None:
        """A dashed vertical line where the learning rate changed (a drag makes one marker)."""
        x = step / self.batches_per_epoch
        now = time.monotonic()
        prefix = f"{lane_name}: " if len(self.lanes) > 1 else ""
        last = self._last_lr_marker
        if last is not None and now - last[0] < MARKER_MERGE_S and last[1] in self.markers:
            line = last[1]
            first = last[2]
            line.label.setFormat(
                f"{prefix}lr {format_number(first, 3)} → {format_number(new_lr, 3)}"
            )
            self._last_lr_marker = (now, line, first)
            return
        first = old_lr if old_lr is not None else new_lr
        text = f"{prefix}lr {format_number(first, 3)} → {format_number(new_lr, 3)}"
        line = self._add_marker(x, text, "lr")
        self._last_lr_marker = (now, line, first)

    def add_schedule_marker(
        self, step: int, old_lr: float, new_lr: float, scheduler: str, lane_name: str
    ) -> None:
        """A dashed line where a schedule changed the lr (one per change: no merging)."""
        prefix = f"{lane_name}: " if len(self.lanes) > 1 else ""
        text = f"{prefix}{scheduler}: lr {format_number(old_lr, 3)} → {format_number(new_lr, 3)}"
        self._add_marker(step / self.batches_per_epoch, text, "lr")

    def add_hold_marker(self, step: int, scheduler: str) -> None:
        """Where a schedule stops and holds its last lr (OneCycleLR: torch raises past its
        cycle), on the loss plot and the lr plot."""
        text = f"{scheduler}: cycle over, lr held (torch stops here)"
        x = step / self.batches_per_epoch
        self._add_marker(x, text, "lr")
        line = pg.InfiniteLine(
            pos=x,
            angle=90,
            movable=False,
            label=text,
            labelOpts={"position": 0.9, "anchors": [(0, 0), (0, 0)]},
        )
        line.setObjectName("lrHoldMarker")
        self._style_marker(line, "lr")
        self.lr_plot.getPlotItem().addItem(line)
        self.lr_markers.append(line)

    def add_early_stop_marker(
        self, best_epoch: int, epoch: int, patience: int, lane_name: str = ""
    ) -> None:
        """Where validation stopped improving: at its best epoch, with how long it has stalled."""
        prefix = f"{lane_name}: " if lane_name and len(self.lanes) > 1 else ""
        text = f"{prefix}val best @ epoch {best_epoch} (no gain for {patience})"
        self._add_marker(float(best_epoch), text, "early")

    def _add_marker(self, x: float, text: str, kind: str) -> pg.InfiniteLine:
        lp = self.loss_plot.getPlotItem()
        # labels low (the legend is at the top), stepped so neighbours do not overprint
        nth = self._marker_kinds.count(kind)
        position = (0.04 if kind == "lr" else 0.26) + 0.07 * (nth % 3)
        line = pg.InfiniteLine(
            pos=x,
            angle=90,
            movable=False,
            label=text,
            labelOpts={"position": position, "anchors": [(0, 1), (0, 1)]},
        )
        line.setObjectName(f"{kind}Marker")
        self._style_marker(line, kind)
        lp.addItem(line)
        self.markers.append(line)
        self._marker_kinds.append(kind)
        while len(self.markers) > MAX_MARKERS:
            lp.removeItem(self.markers.pop(0))
            self._marker_kinds.pop(0)
        return line

    def marker_positions(self, kind: str | None = None) -> list[float]:
        return [
            float(m.value())
            for m, k in zip(self.markers, self._marker_kinds, strict=True)
            if kind is None or k == kind
        ]

    # -- decision boundary -----------------------------------------------------------------
    def set_boundary(self, xs: np.ndarray, ys: np.ndarray, probs: np.ndarray, step: int) -> None:
        """Colour each grid cell by its predicted class, paler where the network is unsure."""
        k = probs.shape[-1]
        colors = np.array([QColor(class_color(c)).getRgb()[:3] for c in range(k)], np.float32)
        bg = np.array(QColor(self.theme.colors.background).getRgb()[:3], np.float32)
        bad = ~np.isfinite(probs).all(axis=-1)  # a diverged network predicts nan
        probs = np.where(bad[..., None], 1.0 / k, probs)
        cls = probs.argmax(axis=-1)
        top = probs.max(axis=-1)
        conf = np.clip((top - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0)  # 0 at chance, 1 when sure
        # dim regions in the dark theme, or the points (same hues) would vanish into them
        lo, span = (0.12, 0.3) if self.theme.is_dark else (0.12, 0.43)
        strength = (lo + span * conf)[..., None]
        rgb = bg + (colors[cls] - bg) * strength
        rgb[bad] = bg + (np.array([128.0, 128.0, 128.0], np.float32) - bg) * 0.35  # grey
        self.image.setImage(np.ascontiguousarray(rgb.astype(np.uint8)), levels=(0, 255))
        dx = (xs[-1] - xs[0]) / max(1, xs.size - 1)
        dy = (ys[-1] - ys[0]) / max(1, ys.size - 1)
        self.image.setRect(
            QRectF(
                float(xs[0] - dx / 2),
                float(ys[0] - dy / 2),
                float(dx * xs.size),
                float(dy * ys.size),
            )
        )
        self.boundary_step = int(step)

    def set_boundary_title(self, text: str) -> None:
        if self.boundary_title.text() != text:
            self.boundary_title.setText(text)

    # -- drawing ---------------------------------------------------------------------------
    def set_raw_visible(self, on: bool) -> None:
        """Show or hide the per-batch (raw) loss band."""
        self._raw_visible = bool(on)
        for lane in self.lanes:
            lane.band_key.setVisible(self._raw_visible)
        self._show_raw()

    def set_focus_lane(self, lane: int) -> None:
        """In a race, only the selected optimizer shows its per-batch band: eight overlapping
        bands are unreadable (and each costs a full-plot blit every frame)."""
        self.focus_lane = int(lane)
        self._show_raw()

    @Slot()
    def _show_raw(self) -> None:
        race = len(self.lanes) > 1
        for lane in self.lanes:
            on = lane.band_key.isVisible() and (not race or lane.index == self.focus_lane)
            lane.items["raw"].setVisible(on)

    def set_log_y(self, on: bool) -> None:
        if bool(on) == self._log_y:
            return
        self._log_y = bool(on)
        self.loss_plot.getPlotItem().setLogMode(y=self._log_y)
        for lane in self.lanes:  # the per-batch curves take the new transform at the next frame
            lane.drawn.pop("raw", None)
            lane.drawn.pop("smooth", None)
        self._y_view = None
        self._manage_ranges()

    # -- ranges ----------------------------------------------------------------------------
    # pyqtgraph's auto-range would change the ranges on every frame while a curve grows, and
    # every range change regenerates the axes and repaints both linked plots (measured: half
    # the GUI thread's time). Ranges change here only when the data leaves them, with room to
    # grow: x doubles (up to the run's length), y expands by a margin and shrinks only when the
    # data uses less than a third of it.

    @Slot(object)
    def _on_manual_range(self, *_args) -> None:
        self._manual = True

    @Slot(object)
    def _fit_legend(self, *_args) -> None:
        """Lay both legends out so that each fits inside its plot, readable (see LEGEND_FONTS).

        Runs when a plot is resized (window, splitter, code panel), on zoom or theme changes and
        when a name changes. Cheap when nothing changed (the last fit is remembered)."""
        race = len(self.lanes) > 1
        loss_options = [self._legend_names(b) for b in ((0, 1, 2) if race else (0,))]
        self._fit_one(
            self.legend,
            self.loss_plot.getPlotItem().getViewBox(),
            loss_options,
            max_cols=(2, 4, 4) if race else (3,),
        )
        if self.acc_legend.items:
            self._fit_one(
                self.acc_legend,
                self.acc_plot.getPlotItem().getViewBox(),
                [[SERIES[key].label for key in ACC_SERIES]],
                max_cols=(2,),
            )

    def _fit_one(
        self, legend: pg.LegendItem, vb: pg.ViewBox, options: list[list[str]], max_cols: tuple
    ) -> None:
        full = options[0]
        avail_w = vb.width() - 2 * LEGEND_MARGIN
        avail_h = vb.height() - 2 * LEGEND_MARGIN
        key = (round(avail_w), round(avail_h), tuple(full), self.theme.scale, self.theme.name)
        if not legend.items or avail_w <= 0 or avail_h <= 0:
            return  # nothing to show, or not laid out yet (a later resize calls again)
        if self._legend_fitted.get(id(legend)) == key:
            return
        self._legend_fitted[id(legend)] = key
        for (_sample, label), text in zip(legend.items, full, strict=True):
            label.setToolTip(plain_tip(text))
        legend.setToolTip(plain_tip("\n".join(full)))
        candidates = [  # most readable first: full names, then shorter ones, then smaller fonts
            (names, rel, cols)
            for rel in LEGEND_FONTS
            if rel == LEGEND_FONTS[0] or self.theme.point_size(rel) >= LEGEND_MIN_PT
            for names, widest in zip(options, max_cols, strict=True)
            if rel == LEGEND_FONTS[0] or names is options[-1]
            for cols in range(min(widest, len(names)), 0, -1)
        ]
        sizes = [self._legend_size(legend, *c) for c in candidates]
        chosen = next(
            (
                c
                for limit in (LEGEND_TALL * vb.height(), avail_h)
                for c, (w, h) in zip(candidates, sizes, strict=True)
                if w <= avail_w and h <= limit
            ),
            None,
        )
        legend.setVisible(chosen is not None)  # a legend that fits nowhere is not drawn cut
        self._apply_legend(legend, *(chosen or candidates[0]))
        if legend is self.legend:  # hidden: the names are still in the plot's tooltip
            names = "" if chosen else "\n\nCurves: " + " · ".join(full)
            self.loss_plot.setToolTip(plain_tip(LOSS_TOOLTIP + names))

    def _legend_pad(self) -> tuple[float, float]:
        """The legend's inner margins (pyqtgraph's 9 px a side left no room in a 100 px plot)."""
        return self.theme.size(3), self.theme.size(1.5)

    def _label_size(self, text: str, size: str) -> tuple[float, float]:
        """How much room a legend label needs (measured once per text and font size)."""
        known = self._label_sizes.get((text, size))
        if known is None:
            self._probe.setText(esc(text), size=size)
            known = (self._probe.minimumWidth(), self._probe.minimumHeight())
            if len(self._label_sizes) > 500:  # live lr changes make new names: stay bounded
                self._label_sizes.clear()
            self._label_sizes[(text, size)] = known
        return known

    def _legend_size(
        self, legend: pg.LegendItem, names: list[str], rel: float, cols: int
    ) -> tuple[float, float]:
        """The size ``legend`` takes for ``names`` at ``rel`` × the theme's font in ``cols``
        columns, computed as its grid layout lays out (rows filled left to right), without
        touching the legend: a fit tries up to ~20 of these on every resize."""
        size = f"{self.theme.point_size(rel):.1f}pt"
        labels = [self._label_size(text, size) for text in names]
        sample = 20.0  # pyqtgraph's ItemSample is 20 × 20
        spacing_x = legend.layout.horizontalSpacing()
        spacing_y = legend.layout.verticalSpacing()
        pad_x, pad_y = self._legend_pad()
        widths = [max(w for w, _h in labels[j::cols]) for j in range(min(cols, len(labels)))]
        rows = [labels[i : i + cols] for i in range(0, len(labels), cols)]
        heights = [max(sample, *(h for _w, h in row)) for row in rows]
        width = sum(sample + w for w in widths) + spacing_x * (2 * len(widths) - 1) + 2 * pad_x
        height = sum(heights) + spacing_y * (len(heights) - 1) + 2 * pad_y
        return width, height

    def _apply_legend(self, legend: pg.LegendItem, names: list[str], rel: float, cols: int):
        """Show ``names`` at ``rel`` × the theme's font in ``cols`` columns.

        pyqtgraph sizes a legend from its items' last geometry, stale right after a change (it
        left a box wider than its text, or text outside its box): lay it out now, then size the
        box to what the layout needs."""
        size = f"{self.theme.point_size(rel):.1f}pt"
        if legend.opts["labelTextSize"] != size:
            legend.setLabelTextSize(size)
            for _sample, label in legend.items:  # setAttr() alone does not re-render
                label.setText(label.text)
        for (_sample, label), text in zip(legend.items, names, strict=True):
            if label.text != esc(text):  # pyqtgraph takes HTML
                label.setText(esc(text))
        legend.setColumnCount(cols)
        layout = legend.layout
        pad_x, pad_y = self._legend_pad()
        layout.setContentsMargins(pad_x, pad_y, pad_x, pad_y)
        layout.invalidate()
        need = layout.effectiveSizeHint(Qt.SizeHint.PreferredSize)
        legend.setGeometry(QRectF(0.0, 0.0, need.width(), need.height()))
        layout.activate()

    @Slot(object)
    def _fit_boundary(self, *_args) -> None:
        """Refit the data when the plot is resized (pyqtgraph's auto-range does not, with a
        locked aspect ratio)."""
        vb = self.boundary_plot.getPlotItem().getViewBox()
        if any(vb.autoRangeEnabled()):
            vb.autoRange(padding=0.02)

    def _apply_x(self) -> None:
        self.loss_plot.getPlotItem().setXRange(0.0, self._x_hi, padding=0.02)

    def _manage_ranges(self) -> None:
        lp = self.loss_plot.getPlotItem()
        if self._manual or any(lp.getViewBox().autoRangeEnabled()):
            return
        x_now = max((lane.raw.last[0] for lane in self.lanes if lane.raw.last), default=0.0)
        if x_now > self._x_hi and self._x_hi < self.epochs:
            while self._x_hi < x_now:
                self._x_hi = min(float(self.epochs), self._x_hi * 2)
            self._apply_x()
        low = max(0.0, self._acc_low - 0.05)
        if not low >= self._acc_view_low - 1e-9:  # only ever widens (also when nan)
            self._acc_view_low = low
            self.acc_plot.getPlotItem().setYRange(low, 1.0, padding=0.02)
        if self._y_span is None:
            return
        lo, hi = self._y_span
        if self._log_y:
            lo, hi = math.log10(max(lo, LOSS_FLOOR)), math.log10(max(hi, LOSS_FLOOR))
        span = max(hi - lo, 0.05 if self._log_y else 1e-3)
        view = self._y_view
        if view is None or lo < view[0] or hi > view[1] or span < (view[1] - view[0]) / 3:
            # room above the curves for the legend, below for the marker labels
            view = (lo - 0.3 * span, hi + 0.3 * span)
            if not self._log_y:
                view = (max(0.0, view[0]), view[1])
            self._y_view = view
            lp.setYRange(*view, padding=0)

    def redraw(self) -> int:
        """``setData`` on every curve whose buffer changed; returns how many were updated.

        Called once per display frame (~30 Hz). Smoothed curves every frame; the per-batch band
        every ``RAW_EVERY`` frames and the per-epoch curves (validation, accuracy) every
        ``EPOCH_EVERY`` frames, lanes taking turns so a race spreads that work over the frames
        instead of piling it into one (which showed as 20 ms frames with 8 lanes).
        """
        self._manage_ranges()
        frame = self._frame
        self._frame += 1
        n = 0
        for lane in self.lanes:
            for key in ("raw", "smooth", "val", "val_acc", "train_acc", "lrs"):
                buf = getattr(lane, key)
                if lane.drawn.get(key) == buf.version:
                    continue
                if key == "raw" and (frame + lane.index) % RAW_EVERY:
                    continue
                if key not in ("raw", "smooth", "lrs") and (frame + lane.index) % EPOCH_EVERY:
                    continue
                if key == "lrs" and (frame + lane.index) % RAW_EVERY:
                    continue
                lane.drawn[key] = buf.version
                item = lane.items[key]
                if len(buf) == 0:
                    item.setData([], [])
                    n += 1
                    continue
                x, y = buf.data()
                if key == "raw":
                    if self._log_y:
                        with np.errstate(divide="ignore", invalid="ignore"):
                            y = np.log10(y)
                    item.set_samples(x, y)
                elif key == "lrs":
                    item.setData(x, y)
                elif key == "smooth":
                    if self._log_y:
                        with np.errstate(divide="ignore", invalid="ignore"):
                            y = np.log10(y)
                    item.setData(x, y)
                else:
                    # markers cost a Python paint per curve per frame: only a few, and not in a race
                    symbols = x.size <= MAX_SYMBOLS and len(self.lanes) == 1
                    if symbols != (item.opts["symbol"] is not None):
                        item.setSymbol(SERIES[key].symbol if symbols else None)
                        self._repaint_samples()  # the legend shows the markers too
                    item.setData(x, y)
                n += 1
        return n

    def flush(self) -> None:
        """Draw everything pending now (before a screenshot, or when training stops)."""
        for _ in range(max(RAW_EVERY, EPOCH_EVERY)):
            self.redraw()

    def curve_points(self, lane: int, key: str = "raw") -> int:
        """Samples a curve has received (tests: the curve grows, reset empties it)."""
        if lane >= len(self.lanes):
            return 0
        return len(getattr(self.lanes[lane], key))

    # -- theme -----------------------------------------------------------------------------
    @Slot()
    def _on_theme(self) -> None:
        self._style_lanes()
        self._style_points()
        self._legend_fitted.clear()  # the theme reset the legends' font to its own size
        self._fit_legend()
        for m, k in zip(self.markers, self._marker_kinds, strict=True):
            self._style_marker(m, k)
        for m in self.lr_markers:
            self._style_marker(m, "lr")

    def _style_lanes(self) -> None:
        """Every curve as SERIES says (solid pens: dashes are stroked segment by segment, slow
        for long curves)."""
        race = len(self.lanes) > 1
        for lane in self.lanes:
            for key, item in lane.items.items():
                style_item(item, key, lane.color, self.theme, race)
            style_band_sample(lane.band_key, lane.color, self.theme, race)
        self._repaint_samples()

    def _repaint_samples(self) -> None:
        """Legend samples paint their curve's current style, but only when repainted: after a
        style change they showed the old one (a line without the markers drawn)."""
        for legend in (self.legend, self.acc_legend):
            for sample, _label in legend.items:
                sample.update()

    def _style_marker(self, line: pg.InfiniteLine, kind: str) -> None:
        th = self.theme
        color = th.colors.foreground if kind == "lr" else "#C62828"
        if kind == "early" and th.is_dark:
            color = "#FF6B6B"
        line.setPen(th.pen(color, 1.2, style=Qt.PenStyle.DashLine))
        if line.label is not None:
            line.label.setColor(color)
            back = QColor(th.colors.background)
            back.setAlpha(210)
            line.label.fill = pg.mkBrush(back)  # readable over the curves
            line.label.textItem.setFont(th.font(0.85))
            line.label.update()
