"""How the Training view draws each series: the one table the loss plot, the accuracy plot and
both legends take their colours and styles from.

A series has one colour in every plot: training (per-batch band, smoothed loss, training
accuracy) in the run's colour, validation (loss and accuracy) in the text colour, or in a race
in the run's colour darkened towards it (the run stays recognisable, validation stays darker).
Markers: validation hollow, training filled, in both plots.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtGui import QBrush, QColor

from app.theme import ThemeManager

TRAINING, VALIDATION = "training", "validation"
RACE_VAL_MIX = 0.55  # in a race, validation is this much of the run's colour over the text's


@dataclass(frozen=True)
class Series:
    """One series' look at 100 % zoom (widths and sizes follow the theme's zoom)."""

    label: str  # its name in a single run's legend
    role: str  # TRAINING or VALIDATION: decides the colour
    width: float = 0.0  # line width (single run)
    race_width: float = 0.0  # ... in a race
    symbol: str | None = None  # marker while a curve has few points (single run only)
    hollow: bool = False  # marker filled with the background, else with the colour
    symbol_size: float = 0.0
    fill: float = 0.0  # a filled band: share of the colour over the background (no line)


SERIES: dict[str, Series] = {
    "raw": Series("per batch", TRAINING, fill=0.3),
    "smooth": Series("smoothed", TRAINING, width=2.5, race_width=2.0),
    "val": Series("validation", VALIDATION, 1.5, 1.2, "o", hollow=True, symbol_size=7),
    "val_acc": Series("validation", VALIDATION, 1.5, 1.2, "o", hollow=True, symbol_size=7),
    "train_acc": Series("training", TRAINING, 1.2, 1.2, "o", hollow=False, symbol_size=5),
    "lrs": Series("learning rate", TRAINING, 2.0, 2.0),  # the lr page: one line per run
}
LOSS_SERIES = ("raw", "smooth", "val")
ACC_SERIES = ("val_acc", "train_acc")
BAND_SAMPLE_WIDTH = 8  # the band's legend sample: a thick line in the band's colour


def mix(color: QColor, background: QColor, amount: float) -> QColor:
    """``amount`` of ``color`` over ``background``, as an opaque colour (an opaque pen or
    brush is cheaper to draw than a transparent one blended over the plot)."""
    return QColor(
        *(
            int(round(amount * a + (1 - amount) * b))
            for a, b in zip(color.getRgb()[:3], background.getRgb()[:3], strict=True)
        )
    )


def series_color(key: str, lane_color: str, theme: ThemeManager, race: bool) -> QColor:
    """The colour series ``key`` of a run drawn in ``lane_color`` is drawn in."""
    s = SERIES[key]
    c = QColor(lane_color)
    if s.role == VALIDATION:
        fg = QColor(theme.colors.foreground)
        c = mix(c, fg, RACE_VAL_MIX) if race else fg
    if s.fill:
        c = mix(c, QColor(theme.colors.background), s.fill)
    return c


def style_item(item, key: str, lane_color: str, theme: ThemeManager, race: bool) -> None:
    """Give the plotted ``item`` of series ``key`` its pen, brush and markers."""
    s = SERIES[key]
    c = series_color(key, lane_color, theme, race)
    if s.fill:
        item.setBrush(QBrush(c))
        return
    item.setPen(theme.pen(c, s.race_width if race else s.width))
    if s.symbol is not None:
        item.setSymbolPen(theme.pen(c, 1.5 if s.hollow else 1))
        item.setSymbolBrush(pg.mkBrush(theme.colors.background if s.hollow else c))
        item.setSymbolSize(theme.size(s.symbol_size))


def style_band_sample(sample_item, lane_color: str, theme: ThemeManager, race: bool) -> None:
    """The band is a filled polygon, which a legend cannot sample: its entry is a thick line of
    the band's colour."""
    sample_item.setPen(theme.pen(series_color("raw", lane_color, theme, race), BAND_SAMPLE_WIDTH))
