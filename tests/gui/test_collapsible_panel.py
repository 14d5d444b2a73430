"""CollapsiblePanel collapses to a thin strip and back, by button and by call."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QToolButton, QWidget

from app.widgets.collapsible_panel import CollapsiblePanel
from tests.gui.helpers import shown


def _content() -> QWidget:
    w = QWidget()
    form = QFormLayout(w)
    form.addRow("Learning rate", QLineEdit("0.001"))
    form.addRow("Momentum", QLineEdit("0.9"))
    return w


def test_toggle_button_collapses_to_a_strip(qtbot):
    panel = CollapsiblePanel("Controls", content=_content())
    shown(qtbot, panel, 300, 400)
    expanded_width = panel.width()
    states = []
    panel.expandedChanged.connect(states.append)
    toggle = panel.findChild(QToolButton, "panelToggle")
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
    assert states == [False] and not panel.isExpanded()
    assert not panel.content().isVisible()
    assert panel.width() < 60 < expanded_width
    assert "Show" in toggle.toolTip()
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
    assert states == [False, True] and panel.content().isVisible()


def test_set_content_replaces_and_title(qtbot):
    panel = CollapsiblePanel("Controls")
    qtbot.addWidget(panel)
    first = QLabel("one")
    panel.setContent(first)
    second = QLabel("two")
    panel.setContent(second)
    assert panel.content() is second
    panel.setTitle("Training")
    assert panel.title() == "Training"
    panel.setExpanded(False)
    panel.setExpanded(False)  # no second signal, no error
    assert not panel.isExpanded()
