"""The Training view's loss and accuracy plots draw what they hold, in the colours they claim
(issue 14, items 5 and 7), checked on rendered pixels and on the items' pens.

* The per-batch band vanished over the early epochs once training ended: it grows a frame at a
  time and its lucky batches reach far below the y range, and Qt's device cache then repainted
  only the newly grown strip of it.
* Orange was training in the loss plot and validation in the accuracy plot, training accuracy
  had pyqtgraph's default navy markers, and on screen the accuracy legend still showed
  "training" as the line it was before the markers came. Every series now has one colour in
  both plots (app.views.training_series), and every legend sample shows what is drawn.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from app.theme import get_theme
from app.views.training_plots import TrainingPlots
from app.views.training_series import ACC_SERIES, LOSS_SERIES, SERIES
from core.engine.datasets import make_dataset

BPE = 25  # batches per epoch
EPOCHS = 10


def fed_plots(qtbot, frames: int = 40) -> TrainingPlots:
    """Shown plots fed a 10-epoch run a frame at a time, painted after every frame as on
    screen. The trend is flat enough that the y range settles in the first frames, and every
    7th batch is a lucky one (1e-4 of the trend): the band reaches 4 decades below the view."""
    plots = TrainingPlots()
    for w in (plots.loss_plot, plots.acc_plot):
        get_theme().style_plot(w)  # as the window does (background, legend frames)
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
    QApplication.processEvents()
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


def expected_color(key: str) -> QColor:
    """What the issue asks, written out: training in the run's colour (the band: 30 % of it
    over the background), validation in the text colour, in both plots."""
    theme = get_theme()
    if SERIES[key].role == "validation":
        return QColor(theme.colors.foreground)
    run = QColor(theme.series_color(0))
    if key != "raw":
        return run
    bg = QColor(theme.colors.background).getRgb()[:3]
    return QColor(*(round(0.3 * a + 0.7 * b) for a, b in zip(run.getRgb()[:3], bg, strict=True)))


def pixels(img: QImage) -> set[int]:
    return {img.pixelColor(x, y).rgb() for x in range(img.width()) for y in range(img.height())}


def test_each_series_has_one_colour_in_both_plots_and_legends_show_what_is_drawn(qtbot) -> None:
    plots = fed_plots(qtbot)
    lane = plots.lanes[0]
    items = lane.items
    assert items["raw"].brush().color().rgb() == expected_color("raw").rgb()
    for key in ("smooth", "val", "val_acc", "train_acc"):
        assert items[key].opts["pen"].color().rgb() == expected_color(key).rgb(), key
    for key in ("val", "val_acc", "train_acc"):  # markers drawn (a few epochs, one run)
        scatter = items[key].scatter.opts
        assert items[key].opts["symbol"] == SERIES[key].symbol, key
        assert scatter["pen"].color().rgb() == expected_color(key).rgb(), key
        fill = get_theme().colors.background if SERIES[key].hollow else expected_color(key)
        assert scatter["brush"].color().rgb() == QColor(fill).rgb(), key
    training = expected_color("smooth").rgb()
    assert training != expected_color("val").rgb()  # two series, two colours

    for legend, keys, widget in (
        (plots.legend, LOSS_SERIES, plots.loss_plot),
        (plots.acc_legend, ACC_SERIES, plots.acc_plot),
    ):
        assert [label.text for _s, label in legend.items] == [SERIES[k].label for k in keys]
        on_screen = widget.screen().grabWindow(widget.winId()).toImage()  # what was painted
        fresh = widget.grab().toImage()  # everything painted anew, as it is now
        for (sample, _label), key in zip(legend.items, keys, strict=True):
            if key == "raw":  # the band's sample is a thick line of the band's colour
                assert sample.item is lane.band_key
                assert sample.item.opts["pen"].color().rgb() == expected_color("raw").rgb()
            else:
                assert sample.item is items[key]  # its own curve's pen and markers
            rect = widget.mapFromScene(sample.sceneBoundingRect()).boundingRect()
            shown = on_screen.copy(rect).convertToFormat(QImage.Format.Format_RGB32)
            now = fresh.copy(rect).convertToFormat(QImage.Format.Format_RGB32)
            assert shown == now, f"{key}: the legend shows a stale sample"
            assert expected_color(key).rgb() in pixels(shown), key


def test_race_lanes_keep_their_colours_across_plots_and_the_band_entry_hides_the_band(
    qtbot,
) -> None:
    plots = fed_plots(qtbot)
    # a click on the legend's "per batch" hides the band, as a click on any other entry hides
    # its curve (it hid only the sample's stand-in)
    band = plots.lanes[0].items["raw"]
    sample = plots.legend.items[0][0]
    view = plots.loss_plot
    at = view.mapFromScene(sample.sceneBoundingRect().center())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert not band.isVisible() and not sample.item.isVisible()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert band.isVisible()

    theme = get_theme()
    plots.reset(["SGD(lr=0.1)", "Adam(lr=0.01)"], BPE, make_dataset("moons", samples=100))
    for i, lane in enumerate(plots.lanes):
        it = lane.items
        run = QColor(theme.series_color(i)).rgb()
        assert it["smooth"].opts["pen"].color().rgb() == run
        assert it["train_acc"].opts["pen"].color().rgb() == run
        val = it["val"].opts["pen"].color().rgb()
        assert val not in (run, QColor(theme.colors.foreground).rgb())  # darkened run colour
        assert it["val_acc"].opts["pen"].color().rgb() == val
    # the raw-band switch and the race's focus lane still decide which bands show
    bands = [lane.items["raw"] for lane in plots.lanes]
    plots.set_raw_visible(False)
    assert not any(b.isVisible() for b in bands)
    plots.set_raw_visible(True)
    plots.set_focus_lane(1)
    assert [b.isVisible() for b in bands] == [False, True]
