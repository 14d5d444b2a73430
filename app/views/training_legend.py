"""Fitting the Training view's legends inside their plots however narrow (zoom 150 %, an 800 px
window, the code panel open, eight optimizers racing). Tried in this order until one fits: the
full names, then "name (lr=...)", then the bare names (the full text is always in the tooltip),
each with fewer columns, then a smaller font; a legend that fits nowhere is hidden rather than
drawn clipped."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt

from app.plaintext import esc, plain_tip
from app.views.training_series import ACC_SERIES, LOSS_SERIES, SERIES
from app.widgets.slider_spin import format_number
from core.engine.optimizers import parse_spec
from core.errors import GdsimError
from core.state.training import lane_short

LEGEND_MARGIN = 6  # px between the legend and the plot's edges (the legend's offset)
LEGEND_FONTS = (1.0, 0.85, 0.72, 0.6, 0.5)  # label font sizes tried, relative to the theme's
LEGEND_MIN_PT = 7.0  # ... but never below this (at 100 % only the first three are tried)
LEGEND_TALL = 0.5  # first choice: a legend at most this share of the plot's height


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


class LegendFitter:
    """Lays out ``plots.legend`` and ``plots.acc_legend`` for the plots' current sizes."""

    def __init__(self, plots: Any, loss_tooltip: str) -> None:  # its TrainingPlots (no cycle)
        self.plots = plots
        self.loss_tooltip = loss_tooltip
        self.theme = plots.theme
        self._fitted: dict[int, tuple] = {}  # id(legend) -> what it was last fitted to
        self._label_sizes: dict[tuple[str, str], tuple[float, float]] = {}
        self._probe = pg.LabelItem(justify="left")  # measures legend texts (never shown)

    def forget(self) -> None:
        """Fit again at the next call (new names, or a theme reset the legends' font)."""
        self._fitted.clear()

    def names(self, brevity: int) -> list[str]:
        """The loss legend's texts, ``brevity`` 0 (full), 1 (name and lr) or 2 (name only).

        Shortened names that would read alike ("SGD" for SGD at two learning rates) get the
        lane's number, so every curve stays identifiable."""
        lanes = self.plots.lanes
        if len(lanes) <= 1:
            diverged = bool(lanes) and lanes[0].diverged
            return [
                SERIES[key].label + (" — diverged" if diverged and key == "smooth" else "")
                for key in LOSS_SERIES
            ]
        names = []
        for lane in lanes:
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
            for text, lane in zip(names, lanes, strict=True)
        ]

    def fit(self) -> None:
        """Lay both legends out so that each fits inside its plot, readable (see LEGEND_FONTS).
        Cheap when nothing changed (the last fit is remembered)."""
        p = self.plots
        if p.loss_plot.getPlotItem() is None:  # closed (pyqtgraph drops it): nothing to lay out
            return
        race = len(p.lanes) > 1
        loss_options = [self.names(b) for b in ((0, 1, 2) if race else (0,))]
        self._fit_one(
            p.legend,
            p.loss_plot.getPlotItem().getViewBox(),
            loss_options,
            max_cols=(2, 4, 4) if race else (3,),
        )
        if p.acc_legend.items:
            self._fit_one(
                p.acc_legend,
                p.acc_plot.getPlotItem().getViewBox(),
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
        if self._fitted.get(id(legend)) == key:
            return
        self._fitted[id(legend)] = key
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
        self._apply(legend, *(chosen or candidates[0]))
        if legend is self.plots.legend:  # hidden: the names are still in the plot's tooltip
            names = "" if chosen else "\n\nCurves: " + " · ".join(full)
            self.plots.loss_plot.setToolTip(plain_tip(self.loss_tooltip + names))

    def _pad(self) -> tuple[float, float]:
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
        pad_x, pad_y = self._pad()
        widths = [max(w for w, _h in labels[j::cols]) for j in range(min(cols, len(labels)))]
        rows = [labels[i : i + cols] for i in range(0, len(labels), cols)]
        heights = [max(sample, *(h for _w, h in row)) for row in rows]
        width = sum(sample + w for w in widths) + spacing_x * (2 * len(widths) - 1) + 2 * pad_x
        height = sum(heights) + spacing_y * (len(heights) - 1) + 2 * pad_y
        return width, height

    def _apply(self, legend: pg.LegendItem, names: list[str], rel: float, cols: int) -> None:
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
        pad_x, pad_y = self._pad()
        layout.setContentsMargins(pad_x, pad_y, pad_x, pad_y)
        layout.invalidate()
        need = layout.effectiveSizeHint(Qt.SizeHint.PreferredSize)
        legend.setGeometry(QRectF(0.0, 0.0, need.width(), need.height()))
        layout.activate()
