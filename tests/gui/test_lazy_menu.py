"""Plots make pyqtgraph's right-click menu when it is first asked for, and it still opens."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMenu

from app.widgets.lazy_menu import plot_widget
from tests.gui.helpers import shown


def test_a_right_click_opens_the_menu_made_on_first_use(qtbot):
    plot = shown(qtbot, plot_widget(), 400, 300)
    box = plot.getPlotItem().getViewBox()
    assert box.menu is None and box.menuEnabled()
    centre = plot.mapFromScene(box.sceneBoundingRect().center())
    qtbot.mouseClick(plot.viewport(), Qt.MouseButton.RightButton, pos=centre)
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu))
    menu = QApplication.activePopupWidget()
    assert "View All" in [a.text() for a in menu.actions()]
    assert box.menu is not None
    menu.close()
