"""The race's legend above the map: one entry per runner, in as many columns as the map's width
allows, each a sample of the runner's line and marker and its name ("— diverged at step N").

Clicking an entry hides or shows its runner, as pyqtgraph's legends do: the entry toggles a proxy
item, and ``visibilityToggled`` tells the view. A name wider than the map is shortened with "…"
and kept whole in its tooltip.
"""

from __future__ import annotations

import pyqtgraph as pg
from pyqtgraph.graphicsItems.ScatterPlotItem import drawSymbol
from PySide6.QtCore import QPointF, QRectF, Signal
from PySide6.QtWidgets import QGraphicsItem, QSizePolicy

from app.plaintext import esc, plain_tip
from app.views.surface_layers import runner_line
from app.views.surface_runners import RunnerEntry

LINE_WIDTH = 3.0  # a trajectory line on the map (and its legend sample), px at 100 % zoom


def invisible_eye():
    from pyqtgraph.icons import invisibleEye

    return invisibleEye.qicon


class LegendSample(pg.ItemSample):
    """A legend sample drawn at the zoomed size: the runner's line with its marker (a dot, or a
    cross once it diverged). Clicking it toggles the runner, as pyqtgraph's samples do."""

    def __init__(self, item: pg.PlotDataItem) -> None:
        super().__init__(item)
        self.color = "#000000"
        self.symbol = "o"
        self.scale = 1.0
        self.dashes: tuple[float, ...] = ()  # the runner's line pattern on the map

    def set_style(self, color: str, symbol: str, scale: float) -> None:
        self.color, self.symbol, self.scale = color, symbol, float(scale)
        self.prepareGeometryChange()
        self.setFixedWidth(24.0 * self.scale)
        self.setFixedHeight(18.0 * self.scale)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(0, 0, 24.0 * self.scale, 18.0 * self.scale)

    def paint(self, p, *args) -> None:
        s = self.scale
        p.setRenderHint(p.RenderHint.Antialiasing)
        if not self.item.isVisible():
            p.drawPixmap(3, 1, invisible_eye().pixmap(int(16 * s), int(16 * s)))
            return
        line = pg.mkPen(self.color, width=LINE_WIDTH * s)
        if self.dashes:
            line.setDashPattern(list(self.dashes))
        p.setPen(line)
        p.drawLine(QPointF(1 * s, 9 * s), QPointF(23 * s, 9 * s))
        p.translate(12 * s, 9 * s)
        size = (14 if self.symbol == "x" else 11) * s
        drawSymbol(p, self.symbol, size, pg.mkPen("#000000", width=s), pg.mkBrush(self.color))


class RaceLegend(pg.LegendItem):
    """The entries of the runners in ``order`` (ids): each a ``LegendSample`` (``samples``) that
    toggles a proxy item (``proxies``) when clicked."""

    visibilityToggled = Signal(int, bool)  # a click on an entry (runner id, now visible)
    refitted = Signal()  # columns or entries changed: the map's least height may have too

    def __init__(self, plot: pg.PlotItem) -> None:
        super().__init__(
            offset=None, sampleType=LegendSample, verSpacing=-4, horSpacing=4, frame=False
        )
        self.order: list[int] = []
        self.samples: dict[int, LegendSample] = {}
        self.proxies: dict[int, pg.PlotDataItem] = {}
        self._shown_n = 0
        # above the map, in the plot's (unused) title row, in as many columns as fit: inside
        # the map, eight entries would hide a third of the surface
        plot.layout.removeItem(plot.titleLabel)
        plot.titleLabel.setVisible(False)
        plot.layout.addItem(self, 0, 1, 1, 5)  # above the map and the colour bar
        # never let the legend widen the plot: it gets what is there, fit() fills it
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(0)
        plot.layout.setRowMinimumHeight(0, 0)
        plot.layout.setRowMaximumHeight(0, 1e6)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        plot.getViewBox().sigResized.connect(self.fit)

    # -- entries ---------------------------------------------------------------------------
    def add_entry(self, entry: RunnerEntry) -> None:
        rid = entry.id
        self.order.append(rid)
        proxy = pg.PlotDataItem()
        proxy.visibleChanged.connect(self._on_proxy_visibility)
        self.proxies[rid] = proxy
        sample = LegendSample(proxy)
        self.samples[rid] = sample
        self.addItem(sample, esc(entry.legend_text()))  # pyqtgraph takes HTML
        for it in self.items[-1]:  # repainted with every frame of the map otherwise
            it.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        _set_full_text(self.items[-1][1], entry.legend_text())
        self.fit()

    def remove_entry(self, rid: int) -> None:
        if rid in self.order:
            self.order.remove(rid)
        proxy = self.proxies.pop(rid, None)
        self.samples.pop(rid, None)
        if proxy is not None:
            self.removeItem(proxy)
            self.fit()
        self._dash_samples()  # positions moved up: the map's dashes did too

    def replace_entry(self, old_rid: int, rid: int) -> None:
        """Runner ``rid`` takes ``old_rid``'s row (restyle it next)."""
        self.order[self.order.index(old_rid)] = rid
        self.proxies[rid] = self.proxies.pop(old_rid)
        self.samples[rid] = self.samples.pop(old_rid)

    def restyle_entry(self, entry: RunnerEntry, symbol: str, scale: float) -> None:
        """Sample look, visibility and text of one runner's entry."""
        rid = entry.id
        self.samples[rid].set_style(entry.color, symbol, scale)
        self._dash_samples()
        proxy = self.proxies[rid]
        if proxy.isVisible() != entry.visible:
            proxy.blockSignals(True)
            proxy.setVisible(entry.visible)
            proxy.blockSignals(False)
        label = self.label(rid)
        if label is not None and getattr(label, "full_text", None) != entry.legend_text():
            _set_full_text(label, entry.legend_text())
            self.fit()
        self.update()

    def _dash_samples(self) -> None:
        """Each legend sample shows its runner's dash pattern (``runner_line``)."""
        for position, rid in enumerate(self.order):
            sample = self.samples.get(rid)
            dashes = runner_line(position, len(self.order))[1]
            if sample is not None and sample.dashes != dashes:
                sample.dashes = dashes
                sample.update()

    def label(self, rid: int):
        sample = self.samples.get(rid)
        for smp, label in self.items:
            if smp is sample:
                return label
        return None

    def texts(self) -> list[str]:
        return [label.item.toPlainText() for _sample, label in self.items]

    def _on_proxy_visibility(self) -> None:
        proxy = self.sender()
        for rid, p in self.proxies.items():
            if p is proxy:
                self.visibilityToggled.emit(rid, p.isVisible())
                return

    # -- layout ----------------------------------------------------------------------------
    def fit(self, *_args) -> None:
        """As many columns as the map's width allows (entries fill rows left to right, as
        pyqtgraph lays them out; each column is as wide as its widest entry)."""
        items = self.items
        if items:
            for _s, label in items:
                _set_full_text(label, getattr(label, "full_text", None))  # undo any _shorten
            sample_w = items[0][0].boundingRect().width() + 4 + 10  # spacing and a gap
            widths = [label.item.boundingRect().width() + sample_w for _s, label in items]
            pi = self.parentItem()  # the map's plot item, whose layout holds the legend
            avail = pi.width() - pi.getAxis("left").width() - 8
            cols = 1
            for c in range(len(widths), 1, -1):
                total = sum(max(widths[i::c]) for i in range(c))
                if total <= avail:
                    cols = c
                    break
            if cols == 1:  # an entry wider than the map was cut off: shortened, "…" at the end
                for _s, label in items:
                    _shorten(label, avail - sample_w)
            if cols != self.columnCount or len(items) != self._shown_n:
                self._shown_n = len(items)
                self.columnCount = -1  # force pyqtgraph to lay the entries out again
                self.setColumnCount(cols)
        self.updateGeometry()
        self.refitted.emit()


def _set_full_text(label: pg.LabelItem, text: str | None) -> None:
    """A legend entry's whole text, kept as ``full_text`` (and its tooltip) for _shorten."""
    if text is None:
        return
    if getattr(label, "full_text", None) != text or label.text != esc(text):
        label.full_text = text
        label.setText(esc(text))
        label.setToolTip(plain_tip(text))


def _shorten(label: pg.LabelItem, room: float) -> None:
    """The longest start of the entry's text that, with "…", fits ``room`` px."""
    full = getattr(label, "full_text", "")
    if label.item.boundingRect().width() <= room or len(full) < 2:
        return
    low, high = 1, len(full) - 1  # a start of ``low`` characters fits (or nothing does)
    while low < high:
        mid = (low + high + 1) // 2
        label.setText(esc(full[:mid].rstrip() + "…"))
        if label.item.boundingRect().width() <= room:
            low = mid
        else:
            high = mid - 1
    label.setText(esc(full[:low].rstrip() + "…"))
