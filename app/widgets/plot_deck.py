"""Plots side by side while each keeps a readable size, tabs when they would not.

Why: at 1024×768, or at 200 % zoom, a splitter squeezed every plot together (a 110 px wide loss
plot with its tick labels running into each other, a 35 px tall loss-per-step plot). A
``PlotDeck`` holds its plots in a ``QSplitter`` only while the splitter can give each one its
minimum size; otherwise it shows them as tabs, one full-size plot at a time. Decks nest (the
Training view's loss plot beside a column of two): an inner deck reflows on its own, and an
outer deck in tabs shows every plot of the inner ones, and every page of a ``QTabWidget`` item
(a view's tool pages), as a tab of its own: never tabs in tabs.

The deck never asks its parent layout for more than its tab mode needs (the largest plot's
minimum plus a tab bar), so a window can always shrink to that, and the choice of mode depends
only on the deck's size, which does not depend on the mode: no flip-flopping.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import QSplitter, QStackedWidget, QTabBar, QTabWidget, QWidget

SPLIT, TABS = "split", "tabs"


def _pages(tabs: QTabWidget) -> list[tuple[QWidget, str]]:
    return [(tabs.widget(i), tabs.tabText(i)) for i in range(tabs.count())]


def _min_size(widget: QWidget) -> QSize:
    """What a layout would give ``widget`` at the least (its minimum, else its hint)."""
    if isinstance(widget, PlotDeck):
        return widget.minimumSizeHint()
    return widget.minimumSize().expandedTo(widget.minimumSizeHint())


class PlotDeck(QWidget):
    """Items (plot widgets or other decks) in a splitter of ``orientation``, or in tabs.

    ``splitter`` and ``tabs`` are public so views can save the splitter's state and pick a tab;
    ``mode`` is "split" or "tabs"; ``modeChanged(mode)`` reports a change.
    """

    modeChanged = Signal(str)

    def __init__(self, orientation: Qt.Orientation, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.splitter = QSplitter(orientation, self)
        self.splitter.setChildrenCollapsible(False)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.hide()
        # a hidden one-tab bar of the same font: the tab bar's height whatever the mode (our
        # own bar is empty in split mode, and a minimum that depends on the mode flip-flops)
        self._bar_gauge = QTabBar(self)
        self._bar_gauge.setDocumentMode(True)
        self._bar_gauge.addTab("Loss")
        self._bar_gauge.hide()
        self._items: list[tuple[QWidget, str]] = []
        self._stretch: list[int] = []
        self._mode = SPLIT
        self._split_state: QByteArray | None = None
        self._outer: PlotDeck | None = None  # an enclosing deck showing our leaves as tabs
        # in tab mode, the pages taken out of each QTabWidget item (to put back in order)
        self._lent: dict[QTabWidget, tuple[list[tuple[QWidget, str]], int]] = {}
        # each QTabWidget item's own chrome (its tab bar and frame) around its largest page,
        # as measured while it held its pages: its minimum while they are lent
        self._chrome: dict[QTabWidget, QSize] = {}
        self._moving = False  # leaves are being moved between the splitter and the tabs
        self._refit_timer = QTimer(self)
        self._refit_timer.setSingleShot(True)
        self._refit_timer.setInterval(0)
        self._refit_timer.timeout.connect(self.refit)

    # -- contents --------------------------------------------------------------------------
    def addItem(self, widget: QWidget, title: str, stretch: int = 1) -> None:  # noqa: N802
        """Append a plot (or a deck) with the title its tab gets in tab mode."""
        self._items.append((widget, title))
        self._stretch.append(stretch)
        if isinstance(widget, PlotDeck):
            widget._outer = self
        self._watch_pages(widget)
        self.splitter.addWidget(widget)
        self.splitter.setStretchFactor(len(self._items) - 1, stretch)
        widget.installEventFilter(self)
        self.schedule_refit()

    def replaceItem(self, old: QWidget, new: QWidget, title: str) -> None:  # noqa: N802
        """Put ``new`` where ``old`` was (``old`` is taken out, not deleted)."""
        index = next(i for i, (w, _t) in enumerate(self._items) if w is old)
        was_tabs = self._mode == TABS
        if was_tabs:
            self._set_mode(SPLIT)
        self._items[index] = (new, title)
        old.removeEventFilter(self)
        self._watch_pages(new)
        self.splitter.replaceWidget(index, new)
        self.splitter.setStretchFactor(index, self._stretch[index])
        new.installEventFilter(self)
        if was_tabs:
            self._set_mode(TABS)
        self.schedule_refit()

    def _watch_pages(self, widget: QWidget) -> None:
        """A page added to a QTabWidget item refits the outermost deck, which may lend it."""
        if isinstance(widget, QTabWidget):
            stack = widget.findChild(
                QStackedWidget, options=Qt.FindChildOption.FindDirectChildrenOnly
            )
            if stack is not None:
                stack.widgetAdded.connect(self._refit_outermost)

    def _refit_outermost(self) -> None:
        self._outermost().schedule_refit()

    def _outermost(self) -> PlotDeck:
        deck = self
        while deck._outer is not None:
            deck = deck._outer
        return deck

    def leaves(self) -> list[tuple[QWidget, str]]:
        """Every plot in this deck and the decks inside it, in order, with its tab title."""
        out: list[tuple[QWidget, str]] = []
        for widget, title in self._items:
            if isinstance(widget, PlotDeck):
                out += widget.leaves()
            elif isinstance(widget, QTabWidget):
                lent = self._lent_pages(widget)
                out += (lent[0] if lent else []) + _pages(widget)
            else:
                out.append((widget, title))
        return out

    def _lent_pages(self, tabs: QTabWidget) -> tuple[list[tuple[QWidget, str]], int] | None:
        deck: PlotDeck | None = self
        while deck is not None:
            if tabs in deck._lent:
                return deck._lent[tabs]
            deck = deck._outer
        return None

    def _tab_items(self) -> list[QTabWidget]:
        """The QTabWidget items of this deck and the decks inside it."""
        out: list[QTabWidget] = []
        for widget, _title in self._items:
            if isinstance(widget, PlotDeck):
                out += widget._tab_items()
            elif isinstance(widget, QTabWidget):
                out.append(widget)
        return out

    @property
    def mode(self) -> str:
        return self._mode

    def show_widget(self, widget: QWidget) -> None:
        """Bring the tab holding ``widget`` to the front: this deck's, an enclosing or an
        inner deck's, or a QTabWidget item's."""
        top = self._outermost()
        for tabs in top._tab_items() + [d.tabs for d in top._decks() if d._mode == TABS]:
            if tabs.indexOf(widget) >= 0:
                tabs.setCurrentWidget(widget)

    def _decks(self) -> list[PlotDeck]:
        """This deck and every deck inside it."""
        out: list[PlotDeck] = [self]
        for widget, _title in self._items:
            if isinstance(widget, PlotDeck):
                out += widget._decks()
        return out

    # -- sizes -----------------------------------------------------------------------------
    def _tab_bar_height(self) -> int:
        return self._bar_gauge.sizeHint().height()

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        """Tab mode's need: the largest plot's minimum plus the tab bar."""
        size = QSize(0, 0)
        for widget, _title in self.leaves():
            size = size.expandedTo(_min_size(widget))
        return QSize(size.width(), size.height() + self._tab_bar_height())

    def split_need(self) -> QSize:
        """The least room the splitter needs to give every item its minimum."""
        handle = self.splitter.handleWidth()
        sizes = [self._item_min(w) for w, _t in self._items]
        if not sizes:
            return QSize(0, 0)
        gaps = handle * (len(sizes) - 1)
        if self.splitter.orientation() == Qt.Orientation.Horizontal:
            return QSize(sum(s.width() for s in sizes) + gaps, max(s.height() for s in sizes))
        return QSize(max(s.width() for s in sizes), sum(s.height() for s in sizes) + gaps)

    def _item_min(self, widget: QWidget) -> QSize:
        """An item's minimum in split mode, also while its pages are lent to tabs (so the
        choice of mode does not depend on the mode)."""
        if not isinstance(widget, QTabWidget):
            return _min_size(widget)
        lent = self._lent_pages(widget)
        own = widget.count() > 0
        largest = QSize(0, 0)
        for page, _title in _pages(widget) if own or lent is None else lent[0]:
            largest = largest.expandedTo(_min_size(page))
        if own:
            self._chrome[widget] = _min_size(widget) - largest
        return largest + self._chrome.get(widget, QSize(0, self._tab_bar_height()))

    def fits_split(self) -> bool:
        need = self.split_need()
        return need.width() <= self.width() and need.height() <= self.height()

    # -- reflowing -------------------------------------------------------------------------
    def schedule_refit(self) -> None:
        """Refit once control returns to the event loop (after a zoom, a legend growing)."""
        self.updateGeometry()
        self._refit_timer.start()

    def refit(self) -> None:
        """Split if every item gets its minimum at the current size, else tabs."""
        if (
            self._moving
            or self._outer is not None
            and (self._outer._mode == TABS or self._outer._moving)
        ):
            return  # our leaves are the outer deck's tabs, or on their way (it refits us next)
        if not self.isVisible() or self.width() <= 0 or self.height() <= 0:
            return  # (sizes before the first show are transient)
        if self._mode == TABS and any(t.count() for t in self._lent):
            self._set_mode(SPLIT)  # a page was added to a lent QTabWidget: lend it too
        self._set_mode(SPLIT if self.fits_split() else TABS)
        for widget, _title in self._items:
            if isinstance(widget, PlotDeck):
                widget.refit()

    def _set_mode(self, mode: str) -> None:
        if mode == self._mode:
            return
        # moving a widget resizes the decks inside: their refits wait until we are done (an
        # inner deck took its leaves back into its own tabs halfway, leaving its side blank)
        self._moving = True
        try:
            self._move_leaves(mode)
        finally:
            self._moving = False
        self._mode = mode
        self.splitter.setVisible(mode == SPLIT)
        self.tabs.setVisible(mode == TABS)
        self._place()
        self.modeChanged.emit(mode)

    def _move_leaves(self, mode: str) -> None:
        if mode == TABS:
            self._split_state = self.splitter.saveState()  # the lecturer's sizes, for later
            for widget, _title in self._items:  # their leaves (and pages) become our tabs
                if isinstance(widget, PlotDeck):
                    widget._set_mode(SPLIT)
            leaves = self.leaves()
            # a page brought to the front (the landscape after Compute) stays in front
            chosen = [t.currentWidget() for t in self._tab_items() if t.currentIndex() > 0]
            for tabs in self._tab_items():
                self._lent[tabs] = (_pages(tabs), tabs.currentIndex())
            for widget, title in leaves:
                self.tabs.addTab(widget, title)
            if chosen:
                self.tabs.setCurrentWidget(chosen[0])
            # only the front tab shows: a page shown explicitly stays visible behind (over)
            # the front one (the accuracy plot painted over the decision boundary)
            for widget, _title in self.leaves():
                widget.setVisible(widget is self.tabs.currentWidget())
        else:
            front = self.tabs.currentWidget()
            while self.tabs.count():
                self.tabs.removeTab(0)
            self._restore_leaves(front)
            if self._split_state is not None:
                self.splitter.restoreState(self._split_state)

    def _restore_leaves(self, front: QWidget | None = None) -> None:
        """Every plot back into its own deck's splitter (or QTabWidget), in order; a page
        that was the front tab stays in front."""
        for tabs, (pages, current) in self._lent.items():
            for i, (page, title) in enumerate(pages):
                tabs.insertTab(i, page, title)
            tabs.setCurrentIndex(current)
            if front is not None and tabs.indexOf(front) >= 0:
                tabs.setCurrentWidget(front)
            for page, _title in pages:  # only the front page shows (the others drew over it)
                page.setVisible(page is tabs.currentWidget())
        self._lent.clear()
        for index, (widget, _title) in enumerate(self._items):
            if isinstance(widget, PlotDeck):
                widget._restore_leaves()
            self.splitter.insertWidget(index, widget)
            self.splitter.setStretchFactor(index, self._stretch[index])
            widget.show()

    def _place(self) -> None:
        page = self.tabs if self._mode == TABS else self.splitter
        page.setGeometry(self.rect())

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._place()
        self.refit()

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.schedule_refit()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        # an item's minimum grew (zoom, a longer legend): its parent got this, we must refit
        if event.type() == QEvent.Type.LayoutRequest:
            self.schedule_refit()
        return False
