"""The hooks teaching tools plug into: pages beside the plots, panels in the controls."""

from __future__ import annotations

from PySide6.QtWidgets import QGroupBox, QLabel, QTabWidget


def test_surface_view_takes_tool_panels_and_plot_pages(window, qtbot) -> None:
    view = window.findChild(QTabWidget, "viewTabs").widget(0)
    assert view.objectName() == "surfacesPage"
    tool = QGroupBox("A tool")
    view.add_tool(tool)
    page = QLabel("a page")
    view.add_plot_page(page, "Extra")
    tabs = view.pages.tabs
    titles = [tabs.tabText(i) for i in range(tabs.count())]
    assert titles[0] == "Loss per step" and titles[-1] == "Extra"  # tools' pages between
    assert view.splitter.widget(1) is tabs and tool.parent() is not None
    with qtbot.waitSignal(view.restarted):
        view.reset()
    with qtbot.waitSignal(view.redrawn):
        view.step_once()


def test_training_view_takes_tool_panels_and_plot_pages(window) -> None:
    view = window.training_view
    assert view.objectName() == "trainingPage"
    view.add_tool(QGroupBox("A tool"))
    view.add_plot_page(QLabel("a page"), "Extra")
    tabs = view.pages.tabs
    titles = [tabs.tabText(i) for i in range(tabs.count())]
    assert titles[0] == "Decision boundary" and titles[-1] == "Extra"
    assert view.right_splitter.widget(0) is tabs
