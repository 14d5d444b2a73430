"""Dashed vertical markers on the Training view's loss plot (and the lr plot): where the learning
rate changed, where a schedule jumped or stopped, where validation stopped improving."""

from __future__ import annotations

import time

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from app.theme import ThemeManager
from app.widgets.plot_labels import edge_label
from app.widgets.slider_spin import format_number

MAX_MARKERS = 60  # oldest markers are removed beyond this
MARKER_MERGE_S = 1.0  # lr changes closer than this (wall clock) update one marker: a slider drag


class MarkerSet:
    """The markers of one run: ``lines`` on the loss plot (their ``kinds``), ``lr_lines`` on the
    lr plot."""

    def __init__(self, loss: pg.PlotItem, lr: pg.PlotItem, theme: ThemeManager) -> None:
        self.loss, self.lr, self.theme = loss, lr, theme
        self.lines: list[pg.InfiniteLine] = []
        self.kinds: list[str] = []
        self.lr_lines: list[pg.InfiniteLine] = []  # "held from here" lines on the lr plot
        self._last_lr: tuple[float, pg.InfiniteLine, float] | None = None
        self.batches_per_epoch = 1
        self.race = False  # several lanes: each label names its lane

    def clear(self, batches_per_epoch: int, race: bool) -> None:
        for m in self.lr_lines:
            self.lr.removeItem(m)
        for m in self.lines:
            self.loss.removeItem(m)
        self.lines, self.kinds, self.lr_lines, self._last_lr = [], [], [], None
        self.batches_per_epoch, self.race = batches_per_epoch, race

    def _prefix(self, lane_name: str) -> str:
        return f"{lane_name}: " if lane_name and self.race else ""

    def add_lr(self, step: int, old_lr: float | None, new_lr: float, lane_name: str) -> None:
        """Where the learning rate changed (a drag makes one marker)."""
        now = time.monotonic()
        prefix = self._prefix(lane_name)
        last = self._last_lr
        if last is not None and now - last[0] < MARKER_MERGE_S and last[1] in self.lines:
            line, first = last[1], last[2]
            line.label.setFormat(
                f"{prefix}lr {format_number(first, 3)} → {format_number(new_lr, 3)}"
            )
            self._last_lr = (now, line, first)
            return
        first = old_lr if old_lr is not None else new_lr
        text = f"{prefix}lr {format_number(first, 3)} → {format_number(new_lr, 3)}"
        line = self._add(step / self.batches_per_epoch, text, "lr")
        self._last_lr = (now, line, first)

    def add_schedule(
        self, step: int, old_lr: float, new_lr: float, scheduler: str, lane_name: str
    ) -> None:
        """Where a schedule changed the lr (one per change: no merging)."""
        prefix = self._prefix(lane_name)
        text = f"{prefix}{scheduler}: lr {format_number(old_lr, 3)} → {format_number(new_lr, 3)}"
        self._add(step / self.batches_per_epoch, text, "lr")

    def add_hold(self, step: int, scheduler: str) -> None:
        """Where a schedule stops and holds its last lr (OneCycleLR: torch raises past its
        cycle), on the loss plot and the lr plot."""
        text = f"{scheduler}: cycle over, lr held (torch stops here)"
        x = step / self.batches_per_epoch
        self._add(x, text, "lr")
        line = pg.InfiniteLine(pos=x, angle=90, movable=False)
        edge_label(line, text, position=0.9, rise=0)
        line.setObjectName("lrHoldMarker")
        self._style(line, "lr")
        self.lr.addItem(line)
        self.lr_lines.append(line)

    def add_early_stop(self, best_epoch: int, epoch: int, patience: int, lane_name: str = ""):
        """Where validation stopped improving: at its best epoch, with how long it has stalled."""
        text = f"{self._prefix(lane_name)}val best @ epoch {best_epoch} (no gain for {patience})"
        self._add(float(best_epoch), text, "early")

    def _add(self, x: float, text: str, kind: str) -> pg.InfiniteLine:
        # labels low (the legend is at the top), stepped so neighbours do not overprint
        nth = self.kinds.count(kind)
        position = (0.04 if kind == "lr" else 0.26) + 0.07 * (nth % 3)
        line = pg.InfiniteLine(pos=x, angle=90, movable=False)
        edge_label(line, text, position=position, rise=1)  # inside the plot at either edge
        line.setObjectName(f"{kind}Marker")
        self._style(line, kind)
        self.loss.addItem(line)
        self.lines.append(line)
        self.kinds.append(kind)
        while len(self.lines) > MAX_MARKERS:
            self.loss.removeItem(self.lines.pop(0))
            self.kinds.pop(0)
        return line

    def positions(self, kind: str | None = None) -> list[float]:
        return [
            float(m.value())
            for m, k in zip(self.lines, self.kinds, strict=True)
            if kind is None or k == kind
        ]

    def restyle(self) -> None:
        for m, k in zip(self.lines, self.kinds, strict=True):
            self._style(m, k)
        for m in self.lr_lines:
            self._style(m, "lr")

    def _style(self, line: pg.InfiniteLine, kind: str) -> None:
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
            line.label.updatePosition()  # a bigger font may need the other side of the line
            line.label.update()
