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
from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QWidget

from app.plaintext import esc
from app.theme import ThemeManager, get_theme
from app.views.training_boundary import BoundaryPicture
from app.views.training_legend import LEGEND_MARGIN, LegendFitter, lane_label
from app.views.training_markers import MarkerSet
from app.views.training_series import (
    ACC_SERIES,
    LOSS_SERIES,
    SERIES,
    style_band_sample,
    style_item,
)
from app.widgets.curve_buffer import CurveBuffer
from app.widgets.describe import describe
from app.widgets.lazy_menu import plot_widget
from app.widgets.plot_labels import TidyAxis

EMA = 0.9  # smoothing of the per-batch loss (weight of the past)
# CurveBuffer capacities: bounded memory and setData/paint cost. The loss plot is at most ~1500
# pixels wide, and min/max pairs per bucket keep every spike at that resolution.
RAW_POINTS = 1600
BAND_BINS = 200  # the per-batch band's resolution (min/max per bin; ~2 px each)
SMOOTH_POINTS = 800  # a smooth curve needs few points
EPOCH_POINTS = 2000
FULL_X_EPOCHS = 300  # runs up to this long show their whole length on the x axis from the start
EPOCH_EVERY = 6  # display frames between redraws of a lane's per-epoch curves (~5 Hz)
RAW_EVERY = 4  # ... of a lane's per-batch band (~8 Hz; the smoothed curve is every frame)
MAX_SYMBOLS = 60  # per-epoch curves lose their markers beyond this many points
LOSS_FLOOR = 1e-12  # a log axis cannot show 0


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


def _log_plot() -> pg.PlotWidget:
    # log axes whose minor labels crowd at 200 % zoom: labels that would overlap are left out
    return plot_widget(axisItems={"left": TidyAxis("left")})


#: The loss, accuracy and learning-rate plots' widgets, in that order (~20 ms each here).
_PLOT_MAKERS = (_log_plot, plot_widget, _log_plot)


class TrainingPlots(QObject):
    """Owns ``lossPlot``, ``accuracyPlot`` and ``boundaryPlot`` and everything drawn on them.

    ``made``: the loss, accuracy and learning-rate plot widgets, made before (see ``slices``).
    """

    @classmethod
    def slices(cls, theme: ThemeManager, parent: QObject) -> Generator[None, None, TrainingPlots]:
        """Made one plot widget per step, for a build sliced across event-loop turns."""
        made = []
        for make in _PLOT_MAKERS:
            made.append(make())
            yield
        return cls(theme, parent, made=tuple(made))

    def __init__(
        self,
        theme: ThemeManager | None = None,
        parent: QObject | None = None,
        made: tuple[pg.PlotWidget, ...] | None = None,
    ) -> None:
        super().__init__(parent)
        self.theme = theme or get_theme()
        loss, acc, lr = made if made is not None else tuple(make() for make in _PLOT_MAKERS)
        self.loss_plot = describe(loss, "lossPlot", "Loss curves", LOSS_TOOLTIP)
        self.acc_plot = describe(
            acc,
            "accuracyPlot",
            "Accuracy curves",
            "Share of points classified correctly after each epoch: validation (hollow dots, "
            "the honest number) and training (filled dots), coloured as in the loss plot",
        )
        self.lr_plot = describe(
            lr,
            "trainingLrPlot",
            "Learning rate against epoch for every optimizer",
            LR_TOOLTIP,
        )
        self.boundary = BoundaryPicture(self.theme, self)
        # what the view lays out and tests read
        self.boundary_plot, self.boundary_title = self.boundary.plot, self.boundary.title
        self.image, self.train_points = self.boundary.image, self.boundary.train_points

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
        self.marks = MarkerSet(lp, rp, self.theme)
        self.legend_fit = LegendFitter(self, LOSS_TOOLTIP)
        self.lanes: list[LaneItems] = []
        self.batches_per_epoch = 1
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
        ap.getViewBox().sigRangeChangedManually.connect(self._on_manual_range)
        if isinstance(parent, QWidget):  # the view: restyled when shown, not on a hidden tab
            self.theme.connect_when_shown(parent, self._on_theme)
        else:
            self.theme.changed.connect(self._on_theme)

    # -- widgets ---------------------------------------------------------------------------
    @property
    def boundary_step(self) -> int:
        """The step of the boundary shown (-1: none yet)."""
        return self.boundary.step

    def widgets(self) -> tuple[pg.PlotWidget, pg.PlotWidget, pg.PlotWidget]:
        return self.loss_plot, self.acc_plot, self.boundary_plot

    # -- a new run -------------------------------------------------------------------------
    def reset(self, lane_names: list[str], batches_per_epoch: int, data, epochs: int = 1) -> None:
        """Forget the previous run: one set of items per lane, markers gone, new data drawn."""
        lp, ap = self.loss_plot.getPlotItem(), self.acc_plot.getPlotItem()
        for lane in self.lanes:
            for name, item in lane.items.items():
                self._plot_of(name).removeItem(item)
        self.legend.clear()
        self.acc_legend.clear()
        self.batches_per_epoch = max(1, int(batches_per_epoch))
        race = len(lane_names) > 1
        self.marks.clear(self.batches_per_epoch, race)
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
        self.legend_fit.forget()
        self._fit_legend()
        self.boundary.start(data)
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

    def marker_positions(self, kind: str | None = None) -> list[float]:
        return self.marks.positions(kind)

    @Slot(object)
    def _fit_legend(self, *_args) -> None:
        """Runs when a plot is resized (window, splitter, code panel), on zoom or theme changes
        and when a name changes."""
        self.legend_fit.fit()

    def legend_texts(self) -> list[str]:
        """The texts the loss legend shows now (shortened when the plot is narrow)."""
        return [text.item.toPlainText() for _sample, text in self.legend.items]

    def legend_full_texts(self) -> list[str]:
        """The full names (the legend's tooltips), however short the legend shows them."""
        return [text.toolTip() for _sample, text in self.legend.items]

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
        self.boundary.restyle()
        self.legend_fit.forget()  # the theme reset the legends' font to its own size
        self._fit_legend()
        self.marks.restyle()

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
