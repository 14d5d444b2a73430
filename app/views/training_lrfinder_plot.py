"""The LR finder's plot: loss against a log-scale learning rate, with the suggestions marked.

Batch losses are faint, their smoothed average bold; the suggested lr is a dashed line (with a dot
on the curve for the steepest-descent rule), fastai's valley a dotted one. Points of a running test
arrive in a list the worker appends to; ``draw_live()`` (a GUI timer) converts only the new ones.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.theme import ThemeManager
from app.widgets.lazy_menu import LazyMenuViewBox
from app.widgets.slider_spin import format_number
from core.teach.lr_finder import LRFinderResult, LRPoint

MARKER_COLORS = {"light": "#C62828", "dark": "#FF6B6B"}  # the suggestion: the thing to look at
VALLEY_COLORS = {"light": "#6A1B9A", "dark": "#CE93D8"}  # fastai's valley, beside it


def round_lr(lr: float) -> float:
    """Three significant digits, like the lr slider's positions (0.201, not 0.20092330)."""
    return float(f"{lr:.3g}")


def _marker(
    plot: pg.PlotItem, name: str, height: float, anchor: tuple[int, int]
) -> pg.InfiniteLine:
    """A hidden vertical line with a label at ``height`` (0 bottom, 1 top) of the plot."""
    line = pg.InfiniteLine(
        pos=0.0,
        angle=90,
        movable=False,
        label="",
        labelOpts={"position": height, "anchors": [anchor, anchor]},
    )
    line.setObjectName(name)
    line.setVisible(False)
    plot.addItem(line, ignoreBounds=True)
    return line


class LRFinderPlot(pg.PlotWidget):
    """The curves (``raw_curve``, ``smooth_curve``), the dot (``point``) and the two marker lines
    (``marker``, ``valley_marker``) of one range test; restyled on every theme change."""

    def __init__(self, theme: ThemeManager, parent: QWidget | None = None) -> None:
        super().__init__(parent, viewBox=LazyMenuViewBox())
        self.theme = theme
        self._sink: list[LRPoint] = []  # points of the current run (appended by the worker)
        self._live: tuple[list[float], list[float], list[float]] = ([], [], [])  # lr, loss, ema
        self.setObjectName("lrFinderPlot")
        self.setAccessibleName("Loss against learning rate")
        self.setToolTip(
            "Loss of each batch (faint) and its smoothed average (bold) while the learning "
            "rate grows; the dashed line marks the suggested learning rate (steepest descent "
            "of the smoothed loss), the dotted one fastai's 'valley' suggestion · wheel: zoom "
            "· right-click: View All"
        )
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        pi = self.getPlotItem()
        pi.setLogMode(x=True, y=False)
        pi.setLabel("bottom", "learning rate (log scale)")
        pi.setLabel("left", "loss (cross-entropy)")
        pi.showGrid(x=True, y=True, alpha=0.15)
        pi.getAxis("bottom").enableAutoSIPrefix(False)
        # top left: the curve starts low there (the y range ends well above its start), while on
        # the right the marker's label and the blow-up need the room
        self.legend = pi.addLegend(offset=(6, 6), colCount=2)
        self.legend.setObjectName("lrFinderLegend")
        self.raw_curve = pi.plot([], [], name="batch loss")
        self.raw_curve.setObjectName("lrFinderRaw")
        self.smooth_curve = pi.plot([], [], name="smoothed")
        self.smooth_curve.setObjectName("lrFinderSmoothed")
        # a PlotDataItem (not a bare ScatterPlotItem) so the log-x transform applies to it too
        self.point = pi.plot([], [], pen=None, symbol="o")
        self.point.setObjectName("lrFinderPoint")
        self.point.setZValue(5)
        # the suggestion's label top right of its line; the valley's left of its line and low:
        # the valley lies below the suggestion's lr, and the plateau before it runs along the top
        self.marker = _marker(pi, "lrFinderMarker", 0.97, (0, 0))
        self.valley_marker = _marker(pi, "lrFinderValleyMarker", 0.3, (1, 0))
        self.restyle()
        theme.style_plot(self)
        theme.changed.connect(self.restyle)

    # -- a run ------------------------------------------------------------------------------
    def start_live(self, sink: list[LRPoint]) -> None:
        """Clear the plot and follow a new run's points as the worker appends them to ``sink``."""
        self._sink = sink
        self._live = ([], [], [])
        empty = np.zeros(0)
        self.raw_curve.setData(empty, empty)
        self.smooth_curve.setData(empty, empty)
        self.point.setData([], [])
        self.marker.setVisible(False)
        self.valley_marker.setVisible(False)

    @property
    def drawn(self) -> int:
        """Points of the current run on screen."""
        return len(self._live[0])

    @Slot()
    def draw_live(self) -> None:
        """Append the points measured since the last frame (only new ones are converted)."""
        new = self._sink[self.drawn : len(self._sink)]
        if not new:
            return
        for p in new:
            self._live[0].append(p.lr)
            self._live[1].append(p.loss)
            self._live[2].append(p.smoothed)
        self._set_curves(*(np.asarray(v, dtype=np.float64) for v in self._live))

    def show_result(self, r: LRFinderResult) -> None:
        """The finished run's curves, its marker lines and (steepest rule) the dot."""
        self._set_curves(r.lrs, r.losses, r.smoothed)
        for line, lr, name in (
            (self.marker, r.suggestion, "lr"),
            (self.valley_marker, r.valley, "valley"),
        ):
            if lr is None:
                continue
            line.setValue(math.log10(lr))  # a log-x plot's items live in log10 units
            line.setVisible(True)  # first: a hidden label ignores new text
            line.label.setFormat(f"{name} {format_number(round_lr(lr), 3)}")
        if r.suggestion is not None:
            at = int(np.argmin(np.abs(np.log(r.lrs) - math.log(r.suggestion))))
            y = r.smoothed[at]
            if math.isfinite(y) and r.rule == "steepest":
                self.point.setData([float(r.lrs[at])], [float(y)])
            else:
                self.point.setData([], [])

    def _set_curves(self, lrs: np.ndarray, losses: np.ndarray, smoothed: np.ndarray) -> None:
        ok = np.isfinite(losses)
        self.raw_curve.setData(lrs[ok], losses[ok])
        ok = np.isfinite(smoothed)
        self.smooth_curve.setData(lrs[ok], smoothed[ok])
        self._fit_y(losses, smoothed)

    def _fit_y(self, losses: np.ndarray, smoothed: np.ndarray) -> None:
        """Show the interesting part: from the lowest batch loss to a little above where the
        curve started, so the blow-up leaves the top instead of flattening everything else."""
        sm = smoothed[np.isfinite(smoothed)]
        raw = losses[np.isfinite(losses)]
        if not len(sm) or not len(raw):
            return
        low = float(min(raw.min(), sm.min()))
        start = float(np.max(sm[: max(1, len(sm) // 10)]))
        high = max(float(np.max(sm)), start) if len(sm) < 3 else start * 1.6
        high = min(high, float(max(raw.max(), sm.max())))
        if not high > low:
            high = low + max(abs(low) * 0.1, 1e-3)
        pad = 0.05 * (high - low)
        self.getPlotItem().setYRange(max(0.0, low - pad), high + pad, padding=0)
        self.getPlotItem().enableAutoRange(axis="x")

    # -- theme ------------------------------------------------------------------------------
    @Slot()
    def restyle(self) -> None:
        """Pens, the dot and the marker labels in the theme's colours and zoom."""
        th = self.theme
        color = QColor(th.series_color(0))
        faint = QColor(color)
        faint.setAlpha(150 if th.is_dark else 110)  # thin lines fade more on a dark ground
        self.raw_curve.setPen(th.pen(faint, 1))
        self.smooth_curve.setPen(th.pen(color, 2.5))
        mark = MARKER_COLORS.get(th.name, MARKER_COLORS["light"])
        valley = VALLEY_COLORS.get(th.name, VALLEY_COLORS["light"])
        self.marker.setPen(th.pen(mark, 1.5, style=Qt.PenStyle.DashLine))
        self.valley_marker.setPen(th.pen(valley, 1.5, style=Qt.PenStyle.DotLine))
        self.point.setSymbolPen(th.pen(mark, 2))
        self.point.setSymbolBrush(pg.mkBrush(th.colors.background))
        self.point.setSymbolSize(th.size(10))
        back = QColor(th.colors.background)
        back.setAlpha(210)
        for line, color in ((self.marker, mark), (self.valley_marker, valley)):
            label = line.label
            label.setColor(color)
            label.fill = pg.mkBrush(back)
            label.textItem.setFont(th.font(0.95, bold=True))
            label.update()
