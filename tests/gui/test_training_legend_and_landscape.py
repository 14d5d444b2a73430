"""Two QA findings in the Training view, checked the way the user saw them.

* The loss legend, with several optimizers racing under long names, was wider than its plot at
  150 % zoom or in an 800×600 window: a box with the names cut off or missing. It must always
  lie inside the plot's view box (scene rectangles compared), still name every curve, and keep
  the full names in its tooltips.
* The landscape's explanation line kept the colour of the theme it was first shown in (black on
  dark grey after switching to dark) or of an earlier error (red): its colour must follow the
  theme and whether it is an error. At 200 % nothing on the landscape page may overlap.

Sessions are opened through ``window.sessions.open_session`` (File ▸ Open) and runs are tiny.
"""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QPushButton, QSpinBox

from app.theme import get_theme
from app.views.training_controls import ERROR_COLORS
from tests.gui.helpers import QT_WARNINGS_FAIL, WAIT, click, named, type_into

pytestmark = QT_WARNINGS_FAIL

LONG_SPECS = [
    "SGD(lr=0.05, momentum=0.9, nesterov=True)",
    "AdamW(lr=0.003, weight_decay=0.1)",
    "RMSprop(lr=0.001, alpha=0.9, momentum=0.5)",
    "SGD(lr=0.01, momentum=0.95, dampening=0.1)",
    "Adam(lr=0.001, betas=(0.8, 0.95), amsgrad=True)",
    "Adagrad(lr=0.05, lr_decay=0.001)",
    "NAdam(lr=0.002, momentum_decay=0.005)",
    "Adamax(lr=0.002, weight_decay=0.01)",
]
# Their legend labels, written out by hand (not with the product's own formatter): the name, then
# the lr always (also Adam's default 0.001), then the other settings as given.
LONG_LABELS = [
    "SGD (lr=0.05, momentum=0.9, nesterov=True)",
    "AdamW (lr=0.003, weight_decay=0.1)",
    "RMSprop (lr=0.001, alpha=0.9, momentum=0.5)",
    "SGD (lr=0.01, momentum=0.95, dampening=0.1)",
    "Adam (lr=0.001, betas=(0.8, 0.95), amsgrad=True)",
    "Adagrad (lr=0.05, lr_decay=0.001)",
    "NAdam (lr=0.002, momentum_decay=0.005)",
    "Adamax (lr=0.002, weight_decay=0.01)",
]


def open_race(qtbot, window, tmp_path, n: int) -> object:
    """File ▸ Open a training session racing the first ``n`` long-named optimizers; the view."""
    session = {
        "format": "gdsim-session",
        "version": 1,
        "view": "training",
        "training": {
            "dataset": "moons",
            "samples": 100,
            "noise": 0.2,
            "val_fraction": 0.2,
            "hidden": [4],
            "activation": "tanh",
            "optimizers": LONG_SPECS[:n],
            "scheduler": None,
            "epochs": 2,
            "batch_size": 50,
            "device": "cpu",
            "seed": 1,
            "patience": 3,
            "stop_early": False,
        },
    }
    path = tmp_path / f"race{n}.json"
    path.write_text(json.dumps(session), encoding="utf-8")
    assert window.sessions.open_session(str(path))
    view = window.training_view
    qtbot.waitUntil(lambda: len(view.plots.lanes) == n, timeout=WAIT)
    qtbot.waitUntil(lambda: window.current_key() == "training", timeout=WAIT)
    return view


def settle() -> None:
    for _ in range(3):  # resize → layout → the plot's sigResized → the legend's refit
        QApplication.processEvents()


def assert_legend_fits(view, n: int) -> None:
    plots = view.plots
    legend = plots.legend
    vb = plots.loss_plot.getPlotItem().getViewBox()
    box, inside = legend.sceneBoundingRect(), vb.sceneBoundingRect()
    assert legend.isVisible(), f"legend hidden in a {inside.width():.0f} px wide plot"
    assert inside.contains(box), f"legend {box} sticks out of the plot {inside}"
    texts = plots.legend_texts()
    assert len(texts) == n and all(texts), texts
    # every label lies inside the legend's box (pyqtgraph once left them outside a stale box)
    for _sample, label in legend.items:
        assert box.contains(label.sceneBoundingRect()), label.text
    # shortened or not, the full names are in the tooltips, and no two shown names read alike
    full = LONG_LABELS[:n]
    assert plots.legend_full_texts() == full
    assert len(set(texts)) == n, texts
    for text, name in zip(texts, full, strict=True):
        assert name.split(" ")[0] == text.split(" ")[0]  # each name starts as its curve's


@pytest.mark.parametrize("n", [3, 8])
def test_race_legend_fits_an_800x600_window(qtbot, window, tmp_path, n) -> None:
    view = open_race(qtbot, window, tmp_path, n)
    window.resize(800, 600)
    qtbot.waitUntil(lambda: window.width() == 800, timeout=WAIT)
    settle()
    assert_legend_fits(view, n)


@pytest.mark.parametrize("n", [3, 8])
def test_race_legend_fits_at_150_percent_zoom(qtbot, window, tmp_path, n) -> None:
    view = open_race(qtbot, window, tmp_path, n)
    get_theme().set_scale(1.5)
    settle()
    assert_legend_fits(view, n)
    get_theme().set_scale(1.0)  # and back: the full names return where they fit
    window.resize(1600, 900)
    settle()
    assert_legend_fits(view, n)
    if n == 3:
        assert view.plots.legend_texts() == LONG_LABELS[:3]


# -- the landscape's explanation ------------------------------------------------------------


@pytest.fixture
def land(qtbot, window, tmp_path):
    """(window, view, tool): a tiny single-optimizer run opened from a session, the landscape
    page shown with a 5×5 grid."""
    view = open_race(qtbot, window, tmp_path, 1)
    qtbot.waitUntil(
        lambda: view.controller.engine is not None and not view.model.awaiting_reset, timeout=WAIT
    )
    tool = window.tools["training"]["training_landscape"]  # MainWindow.VIEW_TOOLS installs it
    view.pages.tabs.setCurrentWidget(tool.page)
    type_into(qtbot, named(tool.page, QSpinBox, "landscapeGrid"), "5")
    return window, view, tool


def compute(qtbot, tool) -> None:
    """Click Compute landscape and wait until the page shows an answer (map or message)."""
    click(qtbot, named(tool.page, QPushButton, "computeLandscapeButton"))  # hides the last one
    qtbot.waitUntil(lambda: not tool.task.running and bool(tool.message_text()), timeout=WAIT)


def train_a_little(qtbot, window, view) -> None:
    click(qtbot, named(window, QPushButton, "trainStepButton"))
    qtbot.waitUntil(lambda: view.model.steps >= 1, timeout=WAIT)


def text_color() -> str:
    """The theme's text colour (what every other label is drawn in)."""
    return QApplication.palette().color(QPalette.ColorRole.WindowText).name()


def assert_message(tool, error: bool) -> None:
    theme = get_theme()
    label = tool.page.message
    label.ensurePolished()
    shown = label.palette().color(QPalette.ColorRole.WindowText).name()  # what it is drawn in
    if error:
        assert shown == QColor(ERROR_COLORS[theme.name]).name(), (theme.name, shown)
    else:
        assert shown == text_color(), (theme.name, shown)
        lightness = QColor(shown).lightness()
        assert lightness > 150 if theme.is_dark else lightness < 100, (theme.name, shown)


def test_explanation_follows_the_theme_and_nothing_overlaps_at_200_percent(qtbot, land) -> None:
    window, view, tool = land
    train_a_little(qtbot, window, view)
    compute(qtbot, tool)
    assert tool.result is not None and "Random directions" in tool.message_text()
    assert_message(tool, error=False)
    window.set_theme("dark")  # View ▸ Theme ▸ dark: was still black on dark grey
    assert_message(tool, error=False)
    window.set_theme("light")
    assert_message(tool, error=False)

    # 200 % in a laptop-sized window: the title, the map and the explanation each get their
    # height, one below the other (the explanation lay over the map's axis, the title clipped)
    window.set_theme("dark")
    get_theme().set_scale(2.0)
    window.resize(1366, 850)
    settle()
    page = tool.page
    rects = [
        QRect(w.mapTo(page, QPoint(0, 0)), w.size()) for w in (page.title, page.map, page.message)
    ]
    for upper, lower in zip(rects, rects[1:], strict=False):
        assert upper.bottom() < lower.top(), (upper, lower)
    for rect in rects:  # and nothing is cut off on the right
        assert rect.left() >= 0 and rect.right() < page.width(), (rect, page.width())
    for label in (page.title, page.message):
        assert label.height() >= label.heightForWidth(label.width()), label.objectName()
    assert_message(tool, error=False)


def test_error_message_follows_the_theme_and_does_not_stain_the_next_explanation(
    qtbot, land
) -> None:
    window, view, tool = land
    compute(qtbot, tool)  # nothing trained yet: a one-line error
    assert "Nothing trained yet" in tool.message_text()
    assert_message(tool, error=True)
    window.set_theme("dark")
    assert_message(tool, error=True)
    window.set_theme("light")
    assert_message(tool, error=True)
    # an explanation after an error is plain text again (it stayed error-red)
    train_a_little(qtbot, window, view)
    compute(qtbot, tool)
    assert tool.result is not None and "Random directions" in tool.message_text()
    assert_message(tool, error=False)
    window.set_theme("dark")
    assert_message(tool, error=False)
