"""The lecture hall's projector: at 1024×768, at 100/150/200 % zoom, every plot keeps the
readable minimum (``ThemeManager.min_plot_size``: 260×180 px at 100 %, 60×50 px more per 100 %
of zoom) and the controls a lecture needs stay on screen. Offscreen by default; the same checks
run on a real X display when ``DISPLAY`` names one (``QT_QPA_PLATFORM=xcb``)."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QPushButton, QStatusBar, QWidget

from app.main_window import MainWindow
from app.theme import get_theme
from app.widgets.collapsible_panel import PANEL_SHARE
from tests.gui.helpers import shown

SIZE = (1024, 768)
PLOTS = {
    "surfaces": ("surfaceView", "surfaceLossPlot"),
    "training": ("lossPlot", "accuracyPlot", "boundaryPlot"),
}
CONTROLS = {
    "surfaces": ("runButton", "stepButton", "resetButton", "addOptimizerButton",
                 "removeOptimizerButton"),
    "training": ("trainRunButton", "trainStepButton", "trainResetButton"),
}  # fmt: skip


@pytest.fixture
def small_window(qtbot):
    win = MainWindow(restore=False)
    shown(qtbot, win, *SIZE)
    yield win


def _settle(qtbot) -> None:
    qtbot.wait(60)  # decks refit on a zero timer after a zoom or a resize


def _fully_shown(widget: QWidget) -> bool:
    """Visible, inside the window, and not clipped by a scroll area or any other parent."""
    if not widget.isVisible():
        return False
    win = widget.window()
    full = QRect(widget.mapTo(win, QPoint(0, 0)), widget.size())
    shown = QRect(full)
    parent = widget.parentWidget()
    while parent is not None and parent is not win:
        shown &= QRect(parent.mapTo(win, QPoint(0, 0)), parent.size())
        parent = parent.parentWidget()
    return shown == full and win.rect().contains(full)


def _plot(win: MainWindow, name: str) -> pg.GraphicsView:
    return next(v for v in win.findChildren(pg.GraphicsView) if v.objectName() == name)


def _bring_to_front(win: MainWindow, key: str, plot: QWidget) -> None:
    """Show the tab holding ``plot`` when the view's plot deck shows its plots as tabs."""
    deck = win.view(key).deck
    for leaf, _title in deck.leaves():
        if leaf is plot or leaf.isAncestorOf(plot):
            deck.show_widget(leaf)
            return
    raise AssertionError(f"{plot.objectName()} is in no plot deck")


ZOOMS_AND_VIEWS = pytest.mark.parametrize(
    ("key", "zoom"), [(k, z) for k in ("surfaces", "training") for z in (1.0, 1.5, 2.0)]
)


@pytest.fixture
def at_zoom(small_window, qtbot, key, zoom):
    """The window at 1024×768 showing view ``key`` at ``zoom``."""
    small_window.show_view(key)
    get_theme().set_scale(zoom)
    _settle(qtbot)
    return small_window


@ZOOMS_AND_VIEWS
def test_every_plot_keeps_its_minimum_at_1024x768(at_zoom, qtbot, key, zoom):
    win = at_zoom
    least = get_theme().min_plot_size()
    assert least.width() >= 260 and least.height() >= 180
    assert win.width() <= SIZE[0] and win.height() <= SIZE[1]
    for name in PLOTS[key]:
        plot = _plot(win, name)
        _bring_to_front(win, key, plot)
        _settle(qtbot)
        assert plot.isVisible(), name
        assert plot.width() >= least.width() and plot.height() >= least.height(), (
            f"{name} is {plot.width()}×{plot.height()} at {zoom:.0%}, below {least.width()}×"
            f"{least.height()}"
        )
        assert _fully_shown(plot), name


@ZOOMS_AND_VIEWS
def test_run_controls_and_status_bar_stay_on_screen(at_zoom, key, zoom):
    win = at_zoom
    for name in CONTROLS[key]:
        button = win.findChild(QPushButton, name)
        assert button is not None, name
        assert _fully_shown(button), f"{name} is off screen at {zoom:.0%}"
    assert _fully_shown(win.findChild(QStatusBar))


@ZOOMS_AND_VIEWS
def test_plots_in_tabs_are_one_row_of_tabs_never_tabs_in_tabs(at_zoom, key, zoom):
    """At 200 % the Training view showed "Loss | Decision boundary | Accuracy" over a second
    row "Decision boundary | Learning rate | …": the tool pages now join the deck's tabs."""
    from PySide6.QtWidgets import QTabWidget

    view = at_zoom.view(key)
    shown = [t for t in view.deck.findChildren(QTabWidget) if t.isVisible() and t.count()]
    nested = [(o.objectName(), i.objectName()) for o in shown for i in shown if o is not i and o.isAncestorOf(i)]
    assert not nested, f"tabs in tabs at {zoom:.0%}: {nested}"
    titles = [t.tabText(i) for t in shown for i in range(t.count())]
    assert len(titles) == len(set(titles)), titles


@pytest.mark.parametrize(
    ("key", "zoom"), [(k, z) for k in ("surfaces", "training") for z in (1.5, 2.0)]
)
def test_the_control_panel_gives_way_before_the_plots(at_zoom, key, zoom):
    """Zooming in made the panel as wide as the plots (540 of 1024 px at 200 %): the panel
    gives way first, its forms wrapping, and the plots keep the rest of the width."""
    win = at_zoom
    view = win.view(key)
    panel = view.control_panel()
    assert panel.isExpanded() and _fully_shown(panel)
    assert panel.width() <= PANEL_SHARE * view.width() + 1, (
        f"the {key} panel takes {panel.width()} of {view.width()} px at {zoom:.0%}"
    )
    assert view.deck.width() >= (1 - PANEL_SHARE) * view.width() - 16
    content = panel.content()
    assert content.width() >= content.minimumSizeHint().width()  # nothing cut off sideways


@pytest.mark.parametrize("zoom", [1.0, 2.0])
def test_the_map_is_never_smaller_than_its_legend(small_window, qtbot, zoom):
    win = small_window
    view = win.surface_view
    for spec in ("Adagrad(lr=0.5)", "SGD(lr=0.01, nesterov=True, momentum=0.9)", "NAdam"):
        view.add_runner(spec)
    get_theme().set_scale(zoom)
    _settle(qtbot)
    _bring_to_front(win, "surfaces", view.plots.map)
    _settle(qtbot)
    box = view.plots.map.getPlotItem().getViewBox()
    legend = view.plots.legend
    assert box.height() >= legend.boundingRect().height()
    assert box.width() >= 200 and box.height() >= 130  # the data area keeps its minimum


def test_a_long_legend_entry_is_shortened_not_cut_off(small_window, qtbot):
    """At 200 % a long label ran past the map's right edge; it ends in "…" inside the map
    instead (the whole label in its tooltip), and comes back whole at 100 %."""
    from PySide6.QtCore import QRectF

    win = small_window
    view = win.surface_view
    long = "Adam with the learning rate the lecturer wants to show today"
    view.add_runner("Adam(lr=0.01)", label=long)
    get_theme().set_scale(2.0)
    _settle(qtbot)
    _bring_to_front(win, "surfaces", view.plots.map)
    _settle(qtbot)
    plot = view.plots.map
    shown = QRectF(0, 0, plot.width(), plot.height())
    texts = view.plots.legend_texts()
    for _sample, label in view.plots.legend.items:
        box = label.item.mapRectToScene(label.item.boundingRect())
        assert shown.contains(box), f"{label.item.toPlainText()!r} is cut off"
    (entry,) = [t for t in texts if t.startswith("Adam with")]
    assert entry.endswith("…") and len(entry) < len(long)
    (label,) = [lab for _s, lab in view.plots.legend.items if long in lab.toolTip()]
    get_theme().set_scale(1.0)
    _settle(qtbot)
    assert long in view.plots.legend_texts()


def test_a_short_window_shows_plots_as_tabs_and_a_tall_one_side_by_side(small_window, qtbot):
    win = small_window
    deck = win.surface_view.deck
    get_theme().set_scale(2.0)
    _settle(qtbot)
    assert deck.mode == "tabs"
    titles = [deck.tabs.tabText(i) for i in range(deck.tabs.count())]
    assert titles[0] == "Map"
    get_theme().set_scale(1.0)
    _settle(qtbot)
    assert deck.mode == "split" and deck.splitter.isVisible()
    assert deck.splitter.indexOf(win.surface_view.plots.map) == 0  # back where it was


# -- what an action shows is on screen when it happens (issue 15, item 7) -------------------
def test_at_100_percent_every_plot_of_each_view_is_on_screen_at_once(small_window, qtbot):
    """At 1024×768 and 100 % no plot hides behind a tab: the loss beside the decision boundary
    over the accuracy (the landscape page's controls made that column 4 px too narrow)."""
    for key in ("surfaces", "training"):
        small_window.show_view(key)
        _settle(qtbot)
        for name in PLOTS[key]:
            assert _fully_shown(_plot(small_window, name)), f"{name} is behind a tab"


def test_narrate_shows_its_line_in_view(small_window, qtbot):
    win = small_window
    anatomy = win.tools["surfaces"]["surface_anatomy"]
    for _ in range(2):  # forward, then backward: each line where the class can read it
        assert win.dispatch("narrate")
        qtbot.wait(30)
        assert _fully_shown(anatomy.text), "the narration is scrolled out of view"
        assert anatomy.text.text()


def test_a_preset_leaves_the_run_buttons_and_surface_in_view(small_window, qtbot):
    from PySide6.QtWidgets import QComboBox

    win = small_window
    panel = win.surface_view.control_panel()
    panel.reveal(win.tools["surfaces"]["surface_anatomy"].text)  # a panel scrolled down, as after narrating
    qtbot.wait(30)
    assert win.sessions.load_preset("ravine-momentum")
    qtbot.wait(30)
    for name in CONTROLS["surfaces"][:3]:
        assert _fully_shown(win.findChild(QPushButton, name)), name
    assert _fully_shown(win.findChild(QComboBox, "surfaceCombo"))


def test_a_presets_explanation_leaves_the_plots_their_size(small_window, qtbot):
    """At 200 % the early-stopping preset's six lines of explanation, over the run's own
    early-stopping message, pushed every Training plot below its minimum (and off the
    window's bottom); the explanation scrolls instead."""
    from app.render import run_training

    win = small_window
    zoom = 2.0
    assert win.sessions.load_preset("early-stopping")
    get_theme().set_scale(zoom)
    run_training(win, win.training_view.progress.maximum())
    assert win.training_view.message_text()  # "validation loss has not improved ..."
    _settle(qtbot)
    banner = win.sessions.banner
    assert banner.isVisible() and banner.text.text()
    least = get_theme().min_plot_size()
    for name in PLOTS["training"]:
        plot = _plot(win, name)
        _bring_to_front(win, "training", plot)
        _settle(qtbot)
        assert plot.width() >= least.width() and plot.height() >= least.height(), (
            f"{name} is {plot.width()}×{plot.height()} under the explanation at {zoom:.0%}"
        )
        assert _fully_shown(plot), name


def test_a_presets_explanation_stays_with_its_view(small_window, qtbot):
    win = small_window
    banner = win.sessions.banner
    assert win.sessions.load_preset("ravine-momentum")  # a Surfaces preset
    assert banner.isVisible() and banner.title.text()
    win.show_view("training")
    assert not banner.isVisible()
    win.show_view("surfaces")
    assert banner.isVisible()
    banner.dismiss()
    win.show_view("training")
    win.show_view("surfaces")
    assert not banner.isVisible()


def test_show_code_gets_room_for_its_lines(small_window, qtbot):
    """Ctrl+K opened the code ~190 px wide at 1024×768 (lines cut): the control panel gives
    its room while the code is shown, and comes back after."""
    win = small_window
    dock = win.code_panel
    need = dock.text.fontMetrics().horizontalAdvance("x" * 72)
    dock.toggleViewAction().trigger()
    qtbot.waitUntil(lambda: dock.width() >= need, timeout=2000)
    assert _fully_shown(dock)
    dock.toggleViewAction().trigger()
    qtbot.waitUntil(lambda: win.surface_view.control_panel().isExpanded(), timeout=2000)


# -- text on the plots stays readable at 1024×768 and 200 % ----------------------------------
def _tick_label_rects(axis: pg.AxisItem) -> list:
    """The rectangles the axis draws its tick labels in, as its paint() lays them out."""
    from PySide6.QtGui import QImage, QPainter

    image = QImage(
        max(1, int(axis.width())), max(1, int(axis.height())), QImage.Format.Format_ARGB32
    )
    painter = QPainter(image)
    try:
        if axis.style["tickFont"]:
            painter.setFont(axis.style["tickFont"])
        _axis, _ticks, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(rect, text) for rect, _flags, text in texts]


@pytest.mark.parametrize("zoom", [1.0, 2.0])
def test_log_loss_axis_labels_never_overlap(small_window, qtbot, zoom):
    """The minor labels of a decade (0.7, 0.8, 0.9) printed over each other at 200 %."""
    import math
    from itertools import combinations

    win = small_window
    view = win.show_view("training")
    get_theme().set_scale(zoom)
    _settle(qtbot)
    _bring_to_front(win, "training", view.plots.loss_plot)
    _settle(qtbot)
    lp = view.plots.loss_plot.getPlotItem()
    lp.getViewBox().setYRange(math.log10(0.035), math.log10(1.3), padding=0)  # as in a run
    _settle(qtbot)
    rects = _tick_label_rects(lp.getAxis("left"))
    assert len(rects) >= 3  # the decades and some minor labels are still there
    for (a, ta), (b, tb) in combinations(rects, 2):
        assert not a.intersects(b), f"tick labels {ta!r} and {tb!r} overlap at {zoom:.0%}"


def _inside_its_plot(label) -> bool:
    """The whole of a marker's label is inside the plot's data area."""
    from PySide6.QtCore import QRectF

    box = label.getViewBox()
    text = label.mapRectToItem(box, label.boundingRect())
    return QRectF(0, 0, box.width(), box.height()).adjusted(-0.5, -0.5, 0.5, 0.5).contains(text)


@pytest.mark.parametrize("zoom", [1.0, 2.0])
def test_marker_labels_stay_inside_the_loss_plot(small_window, qtbot, zoom):
    """The early-stop label ran off the right edge of the loss plot; near an edge it flips
    to the other side of its line."""
    win = small_window
    view = win.show_view("training")
    get_theme().set_scale(zoom)
    _settle(qtbot)
    _bring_to_front(win, "training", view.plots.loss_plot)
    plots = view.plots
    plots.loss_plot.getPlotItem().setXRange(0, 30, padding=0)
    plots.marks.add_early_stop(28, 30, 5)  # near the right edge
    plots.marks.add_early_stop(1, 30, 5)  # near the left edge
    plots.marks.add_lr(29 * plots.batches_per_epoch, 0.01, 0.0464, "Adam")
    _settle(qtbot)
    assert len(plots.marks.lines) >= 3
    for line in plots.marks.lines:
        assert _inside_its_plot(line.label), f"{line.label.toPlainText()!r} cut at {zoom:.0%}"
    plots.loss_plot.getPlotItem().setXRange(0, 60, padding=0)  # the line moves away: back
    _settle(qtbot)
    assert all(_inside_its_plot(line.label) for line in plots.marks.lines)
    plots.loss_plot.setFixedWidth(plots.loss_plot.minimumWidth())  # narrower than a label
    _settle(qtbot)
    assert all(_inside_its_plot(line.label) for line in plots.marks.lines)
