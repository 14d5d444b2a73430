"""Plot text that stays readable when the plot is small or the zoom is large.

* ``TidyAxis`` — an axis that never draws two tick labels over each other. pyqtgraph decides
  per level of ticks whether there is room for its labels, by their total size; a log axis's
  minor ticks crowd at the top of each decade (0.7, 0.8, 0.9 on 20 px at 200 % zoom), so their
  labels printed over each other. Here each label that would touch one already placed (the
  decades come first) is left out; the tick itself stays.
* ``EdgeLabel`` — a vertical marker line's label that stays inside the plot: it sits right of
  the line, flips to the left near the right edge, slides in when neither side has room and
  wraps when wider than the plot (the early-stop label "val best @ epoch 12 (no gain for 5)"
  was cut at the right edge).
* ``WrappedTitle`` — a word-wrapped title above a plot whose least height is that of its
  lines at its width: Qt's minimum for a wrapped label is one line, so a title wrapped onto
  two lines at 200 % zoom pushed the decision boundary out of the bottom of its page.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFontMetricsF

from app.plaintext import PlainLabel

GAP = 0.15  # of a label's height: the least space kept between two tick labels


class TidyAxis(pg.AxisItem):
    """``pg.AxisItem`` whose tick labels never overlap (see the module docstring)."""

    def generateDrawSpecs(self, p):  # noqa: N802 (pyqtgraph's name)
        specs = super().generateDrawSpecs(p)
        if specs is None:
            return None
        axis, ticks, texts = specs
        return axis, ticks, apart(texts)


def apart(texts: list[tuple[QRectF, object, str]]) -> list[tuple[QRectF, object, str]]:
    """The text specs in order, leaving out each one whose rectangle (with a ``GAP``) meets
    one kept before it (pyqtgraph lists the most important level first)."""
    kept: list[tuple[QRectF, object, str]] = []
    boxes: list[QRectF] = []
    for spec in texts:
        rect = spec[0]
        pad = GAP * rect.height()
        box = rect.adjusted(-pad, -pad, pad, pad)
        if any(box.intersects(other) for other in boxes):
            continue
        kept.append(spec)
        boxes.append(box)
    return kept


class EdgeLabel(pg.InfLineLabel):
    """The label of a vertical ``pg.InfiniteLine``, kept inside its view box (see above).

    ``rise`` is the vertical anchor (1: the text's bottom at the label's point, 0: its top)."""

    def __init__(self, line: pg.InfiniteLine, text: str, position: float, rise: float) -> None:
        self._rise = rise
        super().__init__(line, text=text, position=position, anchors=[(0, rise), (0, rise)])

    def updatePosition(self) -> None:  # noqa: N802 (pyqtgraph's name)
        super().updatePosition()
        view = self.getViewBox()
        if not isinstance(view, pg.ViewBox) or self.parentItem() is None:
            return
        x = self.parentItem().mapToItem(view, self.pos()).x()
        room = view.width()
        # wider than the whole plot (a narrow plot at 200 %): wrapped onto more lines
        margin = 2 * self.textItem.document().documentMargin()
        natural = QFontMetricsF(self.textItem.font()).horizontalAdvance(self.toPlainText())
        wrap = room - 1 if natural + margin > room and room > 4 * margin else -1
        if self.textItem.textWidth() != wrap:
            self.textItem.setTextWidth(wrap)
        width = self.textItem.boundingRect().width()
        if x + width <= room:
            along = 0.0  # right of the line
        elif x - width >= 0:
            along = 1.0  # left of it
        else:  # neither side has room: as far in as the text allows
            along = min(1.0, max(0.0, (x + width - room) / width)) if width else 0.0
        self.setAnchor((along, self._rise))


def edge_label(line: pg.InfiniteLine, text: str, position: float, rise: float) -> EdgeLabel:
    """Give ``line`` an ``EdgeLabel`` (as ``InfiniteLine(label=...)`` gives it a plain one)."""
    line.label = EdgeLabel(line, text, position, rise)
    return line.label


class WrappedTitle(PlainLabel):
    """A word-wrapped plain-text title that asks its layout for all of its lines (see above)."""

    def __init__(self, text: str = "", parent=None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)
        self.setMinimumWidth(1)

    def _fit_height(self) -> None:
        # measured here: QLabel.heightForWidth answers for its minimum height once it has one
        m = self.contentsMargins()
        width = max(1, self.width() - m.left() - m.right() - 2 * self.margin())
        flags = int(Qt.TextFlag.TextWordWrap.value) | int(self.alignment().value)
        lines = self.fontMetrics().boundingRect(0, 0, width, 1 << 20, flags, self.text())
        need = lines.height() + m.top() + m.bottom() + 2 * self.margin()
        if need != self.minimumHeight():
            self.setMinimumHeight(need)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit_height()

    def setText(self, text: str) -> None:  # noqa: N802
        super().setText(text)
        self._fit_height()

    def changeEvent(self, event) -> None:  # noqa: N802
        super().changeEvent(event)
        self._fit_height()  # a zoom step: more or fewer lines
