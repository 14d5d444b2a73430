"""PlotDeck: plots side by side while each keeps its minimum, else tabs showing one at a time."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from app.widgets.plot_deck import PlotDeck


def test_an_inner_deck_in_tabs_shows_only_its_front_tab(qtbot):
    """An inner deck gone to tabs beside a split outer one (the Training view at 200 % in a
    1280×800 window) showed its other tab's plot over the front one."""
    outer = PlotDeck(Qt.Orientation.Horizontal)
    inner = PlotDeck(Qt.Orientation.Vertical)
    left, top, bottom = QWidget(), QWidget(), QWidget()
    for plot in (left, top, bottom):
        plot.setMinimumSize(200, 200)
    inner.addItem(top, "Top")
    inner.addItem(bottom, "Bottom")
    outer.addItem(left, "Left")
    outer.addItem(inner, "Inner")
    qtbot.addWidget(outer)
    outer.resize(500, 600)  # room for all three as a split
    outer.show()
    qtbot.waitUntil(lambda: inner.mode == "split" and bottom.height() >= 200)
    outer.resize(500, 300)  # room for two side by side, not for two stacked
    qtbot.waitUntil(lambda: inner.mode == "tabs")
    assert outer.mode == "split"
    front = inner.tabs.currentWidget()
    assert front in (top, bottom)
    assert [plot.isVisible() for plot in (top, bottom)] == [plot is front for plot in (top, bottom)]
    back = bottom if front is top else top
    inner.show_widget(back)
    qtbot.wait(20)
    assert [plot.isVisible() for plot in (top, bottom)] == [plot is back for plot in (top, bottom)]
    page = inner.tabs.currentWidget().parentWidget()  # the tab widget's page area
    assert page.rect().contains(back.geometry()), (back.geometry(), page.rect())
