"""The names every control in gdsim carries: an objectName (tests, styles and settings find it
by that), an accessible name (what a screen reader says) and, mostly, a tool tip."""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

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
