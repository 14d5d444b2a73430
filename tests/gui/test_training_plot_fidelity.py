"""The Training view's loss and accuracy plots draw what they hold, in the colours they claim
(issue 14, items 5 and 7), checked on rendered pixels and on the items' pens.

* The per-batch band vanished over the early epochs once training ended: it grows a frame at a
  time and its lucky batches reach far below the y range, and Qt's device cache then repainted
  only the newly grown strip of it.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QApplication

from app.views.training_plots import TrainingPlots
from core.datasets import make_dataset

BPE = 25  # batches per epoch
EPOCHS = 10


def fed_plots(qtbot, frames: int = 40) -> TrainingPlots:
    """Shown plots fed a 10-epoch run a frame at a time, painted after every frame as on
    screen. The trend is flat enough that the y range settles in the first frames, and every
    7th batch is a lucky one (1e-4 of the trend): the band reaches 4 decades below the view."""
    plots = TrainingPlots()
    plots.reset(["Adam(lr=0.201)"], BPE, make_dataset("moons", samples=100), epochs=EPOCHS)
    for w in (plots.loss_plot, plots.acc_plot):
        qtbot.addWidget(w)
        w.resize(560, 420)
        w.show()
    qtbot.waitExposed(plots.loss_plot)
    steps = np.arange(BPE * EPOCHS)
    trend = 0.2 * np.exp(-steps / 80.0) + 0.3
    losses = trend * np.where(steps % 7 == 3, 1e-4, np.where(steps % 5 == 1, 1.6, 0.8))
    for k, chunk in enumerate(np.array_split(steps, frames)):
        plots.add_losses(0, chunk, losses[chunk])
        if (k + 1) % (frames // EPOCHS) == 0:
            e = int(chunk[-1] + 1) // BPE
            plots.add_epoch(0, e, float(trend[chunk[-1]]), 0.8 + 0.01 * e, 0.82 + 0.01 * e)
        plots.flush()
        QApplication.processEvents()  # paints the plots
    plots.flush()
    return plots


def color_per_epoch(plots: TrainingPlots, rgb: int) -> list[int]:
    """Pixels of colour ``rgb`` in the rendered loss plot, in a column strip of each epoch."""
    img = plots.loss_plot.grab().toImage()
    vb = plots.loss_plot.getPlotItem().getViewBox()

    def px(x: float) -> int:
        return plots.loss_plot.mapFromScene(vb.mapViewToScene(pg.Point(x, 0.0))).x()

    return [
        sum(
            img.pixelColor(x, y).rgb() == rgb
            for x in range(px(e + 0.15), px(e + 0.85), 2)
            for y in range(0, img.height(), 2)
        )
        for e in range(EPOCHS)
    ]


def test_the_per_batch_band_is_drawn_over_every_epoch(qtbot) -> None:
    plots = fed_plots(qtbot)
    band = plots.lanes[0].items["raw"]
    assert band.sample_count() == BPE * EPOCHS
    counts = color_per_epoch(plots, band.brush().color().rgb())
    assert all(c > 20 for c in counts), counts  # the first epochs were blank
