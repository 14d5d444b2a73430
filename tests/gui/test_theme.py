"""Theme: zoom reaches bound pens and widget sizes; bindings die with their items."""

from __future__ import annotations

import gc

import pyqtgraph as pg
import pytest
from PySide6.QtWidgets import QApplication

from app.theme import MAX_ZOOM, MIN_ZOOM, get_theme
from app.widgets import CollapsiblePanel, HParamForm
from tests.gui.helpers import shown


def test_bound_pens_follow_zoom_and_dead_items_are_dropped(qtbot):
    th = get_theme()
    th.apply()
    curve = pg.PlotDataItem([0, 1], [1, 0])
    th.bind_pen(curve, "#E69F00", 2)
    assert curve.opts["pen"].widthF() == pytest.approx(2.0)
    th.set_scale(2.0)
    assert curve.opts["pen"].widthF() == pytest.approx(4.0)
    assert th.pen("r", 1.5).widthF() == pytest.approx(3.0)
    assert th.size(10) == 20
    gc.collect()  # earlier tests' dead items (collection runs on a GUI timer, not at once)
    th.reset_zoom()  # drops their bindings
    th.set_scale(2.0)
    n = len(th._bindings)
    del curve
    gc.collect()
    th.reset_zoom()
    assert len(th._bindings) == n - 1


def test_zoom_is_clamped_and_stepped():
    th = get_theme()
    th.set_scale(100)
    assert th.scale == MAX_ZOOM
    th.zoom_in()
    assert th.scale == MAX_ZOOM
    th.set_scale(0)
    assert th.scale == MIN_ZOOM
    th.zoom_in()
    assert MIN_ZOOM < th.scale <= 1.0
    with pytest.raises(ValueError):
        th.set_theme("neon")


def test_zoom_and_theme_set_no_application_style_sheet_and_reach_every_widget(qtbot):
    """An application style sheet restyled every widget on each zoom step (0.3-0.4 s) and
    stopped the application font reaching widgets; a widget's own sheet (an error label's
    colour) must not stop it either."""
    from PySide6.QtWidgets import QCheckBox, QLabel, QVBoxLayout, QWidget

    th = get_theme()
    th.apply()
    box = QWidget()
    lay = QVBoxLayout(box)
    plain, coloured, check = QLabel("plain"), QLabel("error"), QCheckBox("log y")
    coloured.setStyleSheet("color: #C62828;")
    for w in (plain, coloured, check):
        lay.addWidget(w)
    qtbot.addWidget(box)
    box.show()
    indicator = check.style().pixelMetric(check.style().PixelMetric.PM_IndicatorWidth)
    th.set_scale(2.0)
    th.set_theme("dark")
    qtbot.wait(20)  # Qt passes the application font down from the event loop
    assert QApplication.instance().styleSheet() == ""
    for w in (plain, coloured, check):
        assert w.font().pointSizeF() == pytest.approx(th.point_size()), w.text()
    assert check.style().pixelMetric(check.style().PixelMetric.PM_IndicatorWidth) >= 2 * indicator


def test_panel_grows_with_zoom_so_controls_stay_usable(qtbot):
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class HP:
        name: str = "lr"
        default: float = 0.001
        kind: str = "float"
        low: float = 1e-5
        high: float = 1.0
        log: bool = True
        help: str = "Step size."
        choices: tuple = ()

    th = get_theme()
    th.apply()
    form = HParamForm([HP()])
    panel = CollapsiblePanel("Controls", content=form)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.wait(10)
    before = panel.minimumSizeHint().width()
    slider_before = form.control("lr").slider.minimumWidth()
    th.set_scale(2.0)
    qtbot.waitUntil(lambda: panel.minimumSizeHint().width() > before * 1.4)
    assert form.control("lr").slider.minimumWidth() > slider_before * 1.5
    assert QApplication.font().pointSizeF() == pytest.approx(th.point_size())


def test_dark_theme_restyles_existing_axes(qtbot):
    th = get_theme()
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    plot.setLabel("left", "loss")
    plot.addLegend()
    plot.plot([0, 1], [0, 1], name="Adam")
    plot.show()
    th.set_theme("dark")
    axis = plot.getPlotItem().getAxis("left")
    assert axis.textPen().color().lightness() > 150
    label = plot.getPlotItem().legend.items[0][1]
    assert "color:#dadada" in label.item.toHtml().lower()  # re-rendered, not just re-configured


def test_a_hidden_tab_is_restyled_when_shown_not_on_every_change(qtbot, monkeypatch):
    """Restyling the tab nobody sees doubled each zoom step's freeze; it must still be right
    when it comes to the front."""
    from app.main_window import MainWindow

    win = MainWindow(restore=False)
    shown(qtbot, win, 1024, 768)
    view = win.training_view  # built, then hidden behind the Surfaces tab
    win.show_view("surfaces")
    loss = view.plots.widgets()[0]
    th = get_theme()
    styled = []
    real = th.style_plot
    monkeypatch.setattr(th, "style_plot", lambda v: (styled.append(v), real(v)))
    th.set_theme("dark")
    th.zoom_in()
    assert loss not in styled
    win.show_view("training")
    qtbot.waitUntil(lambda: loss in styled)
    assert styled.count(loss) == 1
    axis = loss.getPlotItem().getAxis("left")
    assert axis.textPen().color().lightness() > 150
    assert axis.style["tickFont"].pointSizeF() == pytest.approx(th.point_size())


def test_a_widget_with_its_own_sheet_follows_a_theme_switch(qtbot):
    """A bold panel title (its own style sheet) kept the palette it was polished with: black
    on the dark panel, and pale grey back in the light theme after a zoom step in the dark."""
    th = get_theme()
    th.apply()
    panel = CollapsiblePanel("Controls")
    qtbot.addWidget(panel)
    panel.show()
    title = panel._title_label
    assert title.styleSheet()
    app_text = lambda: QApplication.palette().windowText().color().name()  # noqa: E731
    th.set_theme("dark")
    assert title.palette().windowText().color().name() == app_text() != "#000000"
    th.set_scale(1.5)
    th.set_theme("light")
    assert title.palette().windowText().color().name() == app_text() == "#000000"


def test_a_combo_box_minimum_follows_zoom(qtbot):
    """QComboBox kept its least width from the zoom it was first measured at, so a panel of
    combos stayed as wide at 100 % as at 200 % (or too narrow the other way round)."""
    from PySide6.QtWidgets import QComboBox

    th = get_theme()
    th.apply()
    combo = QComboBox()
    combo.addItems(["Random (filter-normalised)", "SGD"])
    qtbot.addWidget(combo)
    combo.show()
    before = combo.minimumSizeHint().width()
    th.set_scale(2.0)
    assert combo.minimumSizeHint().width() > before * 1.5
    th.set_scale(1.0)
    assert combo.minimumSizeHint().width() == before


def test_remembered_indicator_size_follows_each_zoom_step(qtbot):
    """The style remembers option-less metrics per zoom: the same zoom gives the same size,
    and a zoom step gives the new one (not the size remembered at the old zoom)."""
    from PySide6.QtWidgets import QStyle

    theme = get_theme()
    theme.reset()
    style = QApplication.instance().style()
    width = QStyle.PixelMetric.PM_IndicatorWidth
    try:
        at_100 = style.pixelMetric(width)
        assert style.pixelMetric(width) == at_100
        theme.set_scale(2.0)
        at_200 = style.pixelMetric(width)
        assert at_200 == round(at_100 * 2.0)
        assert style.pixelMetric(width) == at_200
        theme.set_scale(1.0)
        assert style.pixelMetric(width) == at_100
    finally:
        theme.reset()


def test_a_metric_asked_for_a_non_widget_is_answered_as_for_no_widget(qtbot):
    """Qt may hand the style a pointer whose Python wrapper is stale (another type at a reused
    address); the override answers as for no widget instead of raising (PySide 6.11 crashes
    storing an error raised in an override)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QStyle

    get_theme().reset()
    style = QApplication.instance().style()
    width = QStyle.PixelMetric.PM_IndicatorWidth
    assert style.pixelMetric(width, None, QTimer()) == style.pixelMetric(width)


def test_a_form_too_narrow_for_its_rows_puts_fields_under_labels(qtbot):
    """Forms wrap long rows (the side panel at 200 % zoom) and keep label and field side by
    side where they fit."""
    from PySide6.QtWidgets import QLabel, QLineEdit, QWidget

    from app.widgets.form_rows import wrapping_form

    theme = get_theme()
    theme.reset()
    box = QWidget()
    qtbot.addWidget(box)
    form = wrapping_form(box)
    label = QLabel("A rather long label for a learning rate field")
    field = QLineEdit()
    field.setMinimumWidth(200)
    form.addRow(label, field)
    box.resize(900, 200)
    box.show()
    qtbot.waitExposed(box)
    form.activate()
    assert field.geometry().top() < label.geometry().bottom()  # side by side
    box.setMinimumWidth(0)
    box.resize(260, 200)
    form.activate()
    assert field.geometry().top() >= label.geometry().bottom()  # under its label


def test_every_form_in_the_window_wraps_long_rows(window):
    """Each view's forms, the Training view's and its tools' included, are made wrapping (no
    style override sets it: see ``wrapping_form``)."""
    from PySide6.QtWidgets import QFormLayout

    window.show_view("training")
    forms = window.findChildren(QFormLayout)
    assert len(forms) >= 8
    wrap = QFormLayout.RowWrapPolicy.WrapLongRows
    assert [
        f.objectName() or f.parentWidget().objectName() for f in forms if f.rowWrapPolicy() != wrap
    ] == []
