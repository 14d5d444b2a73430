"""PlotDeck: plots side by side while each keeps its minimum, else tabs showing one at a time."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTabWidget, QWidget

from app.widgets.plot_deck import PlotDeck


def plots(n: int) -> list[QWidget]:
    """``n`` stand-in plots of 200x200 px at the least."""
    out = [QWidget() for _ in range(n)]
    for plot in out:
        plot.setMinimumSize(200, 200)
    return out


def tool_pages(*pages: QWidget) -> QTabWidget:
    """A view's tool pages: the decision boundary, then the learning-rate page."""
    tabs = QTabWidget()
    for page, title in zip(pages, ("Decision boundary", "Learning rate"), strict=True):
        tabs.addTab(page, title)
    return tabs


def right_column(qtbot) -> tuple[PlotDeck, QTabWidget, tuple[QWidget, QWidget]]:
    """The Training view's right column: the tool pages (boundary, lr) over an accuracy plot."""
    deck = PlotDeck(Qt.Orientation.Vertical)
    boundary, lr, accuracy = plots(3)
    tabs = tool_pages(boundary, lr)
    tabs.setDocumentMode(True)
    deck.addItem(tabs, "Decision boundary")
    deck.addItem(accuracy, "Accuracy")
    qtbot.addWidget(deck)
    return deck, tabs, (boundary, lr)


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


def test_a_tab_widget_item_lends_its_pages_to_the_decks_tabs(qtbot):
    """At 200 % on 1024×768 the Training view showed tabs in tabs: "Loss | Decision boundary |
    Accuracy" over "Decision boundary | Learning rate | …" (the tool pages' QTabWidget)."""
    deck = PlotDeck(Qt.Orientation.Horizontal)
    loss, boundary, lr, later = plots(4)
    pages = tool_pages(boundary, lr)
    deck.addItem(loss, "Loss")
    deck.addItem(pages, "Boundary and tools")
    qtbot.addWidget(deck)
    deck.resize(500, 300)
    deck.show()
    qtbot.waitUntil(lambda: deck.mode == "split")
    deck.resize(300, 300)  # room for one plot only
    qtbot.waitUntil(lambda: deck.mode == "tabs")
    titles = [deck.tabs.tabText(i) for i in range(deck.tabs.count())]
    assert titles == ["Loss", "Decision boundary", "Learning rate"]
    pages.addTab(later, "Later")  # a tool installed while the deck is in tabs
    qtbot.waitUntil(lambda: deck.tabs.count() == 4)
    assert deck.tabs.tabText(3) == "Later"
    deck.show_widget(lr)
    assert deck.tabs.currentWidget() is lr
    deck.resize(500, 300)
    qtbot.waitUntil(lambda: deck.mode == "split")
    assert [pages.tabText(i) for i in range(pages.count())] == [
        "Decision boundary", "Learning rate", "Later"
    ]  # fmt: skip
    assert pages.currentWidget() is lr  # the page shown in tabs is still the one in front
    # and the only one shown: pages behind it drew over it (an lr axis over the boundary)
    assert [p.isVisible() for p in (boundary, lr, later)] == [False, True, False]
    assert pages.widget(0) is boundary and loss.parentWidget() is deck.splitter


def test_decks_in_decks_keep_every_plot_through_tabs_and_back(qtbot):
    """At 200 % in a 1280x800 window the Training view's right half went blank: while the outer
    deck moved plots into its tabs, the inner deck refit halfway and took them back, and it
    ended in tabs with none. ``show_widget`` from the outer deck now reaches inner tabs too."""
    outer = PlotDeck(Qt.Orientation.Horizontal)
    inner = PlotDeck(Qt.Orientation.Vertical)
    left, boundary, lr, acc = plots(4)
    pages = tool_pages(boundary, lr)
    inner.addItem(pages, "Boundary")
    inner.addItem(acc, "Accuracy")
    outer.addItem(left, "Loss")
    outer.addItem(inner, "Right")
    qtbot.addWidget(outer)
    outer.resize(500, 300)  # side by side, the right column in tabs
    outer.show()
    qtbot.waitUntil(lambda: outer.mode == "split" and inner.mode == "tabs")
    for size in ((300, 300), (500, 300)):  # everything in the outer tabs, then back
        outer.resize(*size)
        qtbot.wait(30)
    qtbot.waitUntil(lambda: outer.mode == "split" and inner.mode == "tabs")
    titles = [inner.tabs.tabText(i) for i in range(inner.tabs.count())]
    assert titles == ["Decision boundary", "Learning rate", "Accuracy"]
    outer.show_widget(acc)
    qtbot.waitUntil(lambda: acc.isVisible())
    assert not boundary.isVisible() and left.isVisible()


def test_a_size_between_a_tab_widgets_own_minimum_and_its_pages_does_not_flip_flop(qtbot):
    """At 1024×768 the Training view's right deck switched between split and tabs ~10 times
    a second for as long as the window stayed: the tool pages' QTabWidget needs its frame
    around its largest page (337 px), and counted without it while its pages were lent (333 px),
    so a deck 333-336 px wide fitted in tabs and not in split."""
    deck, tabs, (boundary, _lr) = right_column(qtbot)
    changes: list[str] = []
    deck.modeChanged.connect(changes.append)
    chrome = tabs.minimumSizeHint() - boundary.minimumSize()
    assert chrome.width() > 0  # the frame this is about
    deck.resize(200 + chrome.width() - 1, 800)  # the pages fit, the tab widget does not
    deck.show()
    qtbot.waitUntil(lambda: deck.mode == "tabs")
    qtbot.wait(300)  # a flip-flop runs a refit every event-loop turn
    assert changes == ["tabs"]


def test_a_page_brought_to_the_front_stays_in_front_when_the_deck_turns_to_tabs(qtbot):
    """The landscape page shown after Compute went behind the decision boundary when a zoom
    turned the deck into tabs (its first tab came to the front)."""
    deck, _tabs, (boundary, lr) = right_column(qtbot)
    deck.resize(400, 800)
    deck.show()
    qtbot.waitUntil(lambda: deck.mode == "split")
    deck.show_widget(lr)
    deck.resize(400, 400)  # no room for two stacked
    qtbot.waitUntil(lambda: deck.mode == "tabs")
    assert deck.tabs.currentWidget() is lr and lr.isVisible() and not boundary.isVisible()
