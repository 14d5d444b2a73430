"""A pyqtgraph ViewBox whose right-click menu is made when first asked for.

pyqtgraph builds each plot's menu (a Qt Designer form per axis) as the plot is made: ~5 ms a
plot, a tenth of the Training view's build, for a menu few lectures open.
"""

from __future__ import annotations

import pyqtgraph as pg
from pyqtgraph.graphicsItems.ViewBox.ViewBoxMenu import ViewBoxMenu


class LazyMenuViewBox(pg.ViewBox):
    """``pg.ViewBox`` with its menu enabled but made on first use."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["enableMenu"] = False  # (pyqtgraph would make the menu here)
        super().__init__(*args, **kwargs)
        self.state["enableMenu"] = True

    def getMenu(self, ev):  # noqa: N802 (pyqtgraph override)
        if self.menu is None and self.menuEnabled():
            self.menu = ViewBoxMenu(self)
            self.updateViewLists()
        return self.menu

    def getContextMenus(self, event):  # noqa: N802 (pyqtgraph override)
        menu = self.getMenu(event)
        return menu.actions() if menu is not None else []


def plot_widget(parent=None, **kwargs) -> pg.PlotWidget:
    """``pg.PlotWidget`` whose view box makes its menu on first use."""
    return pg.PlotWidget(parent, viewBox=LazyMenuViewBox(), **kwargs)
