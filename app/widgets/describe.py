"""How a control describes itself: the names every control in gdsim carries (an objectName that
tests, styles and settings find it by, an accessible name a screen reader says, mostly a tool
tip), combo entries with tips of their own, and labels whose text wraps instead of widening."""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QSizePolicy, QWidget

W = TypeVar("W", bound=QWidget)


def describe(widget: W, name: str, accessible: str, tip: str | None = None) -> W:
    """``widget``, named ``name``, read out as ``accessible``, with ``tip`` as its tool tip."""
    widget.setObjectName(name)
    widget.setAccessibleName(accessible)
    if tip is not None:
        widget.setToolTip(tip)
    return widget


L = TypeVar("L", bound=QLabel)


def wrapping(label: L) -> L:
    """``label`` wrapping its text to the width it is given, never asking for more (a long
    message cannot widen the panel it sits in)."""
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    return label


def add_item(combo: QComboBox, text: str, data: object, tip: str) -> int:
    """Add an entry to ``combo`` with a tool tip of its own (what a registry entry is, say);
    returns its index."""
    combo.addItem(text, data)
    index = combo.count() - 1
    combo.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)
    return index
