"""Pages beside a view's plot: the plot's place in its deck becomes tabs on the first page a tool
adds (a view without such tools shows no tab bar), the plot itself their first tab."""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget, QWidget

from app.widgets.plot_deck import PlotDeck


class PlotPages:
    """``first`` in ``deck`` (shown there as ``deck_title``) and the pages added beside it."""

    def __init__(
        self, deck: PlotDeck, first: QWidget, first_title: str, deck_title: str, object_name: str
    ) -> None:
        self._deck, self._first, self._first_title = deck, first, first_title
        self._deck_title, self._object_name = deck_title, object_name
        self.tabs: QTabWidget | None = None  # made by the first add()

    def add(self, widget: QWidget, title: str) -> None:
        if self.tabs is None:
            tabs = QTabWidget(self._deck)
            tabs.setObjectName(self._object_name)
            tabs.setDocumentMode(True)
            self._deck.replaceItem(self._first, tabs, self._deck_title)
            tabs.addTab(self._first, self._first_title)
            self.tabs = tabs
        self.tabs.addTab(widget, title)
