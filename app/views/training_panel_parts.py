"""Pieces every part of the Training control panel uses: a quiet counter (no signals while the
panel sets its own values), bold headers, labels with a buddy, one-line error labels."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QWidget

from app.plaintext import PlainLabel
from app.theme import ERROR_COLORS, get_theme


class Quiet:
    """Shared by the panel's sections: >0 while the panel sets its own values."""

    def __init__(self) -> None:
        self.depth = 0

    def __bool__(self) -> bool:
        return self.depth > 0

    @contextmanager
    def held(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1


class Section(QObject):
    """One part of the panel: its widgets are children of ``panel`` and sit in its layout."""

    def __init__(self, panel: QWidget, quiet: Quiet) -> None:
        super().__init__(panel)
        self.panel, self.quiet = panel, quiet

    def label(self, text: str, buddy: QWidget) -> QLabel:
        label = PlainLabel(text, self.panel)
        label.setBuddy(buddy)
        label.setToolTip(buddy.toolTip())
        return label

    def error_label(self, name: str) -> QLabel:
        label = PlainLabel("", self.panel)
        label.setObjectName(name)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setWordWrap(True)
        label.setVisible(False)
        return label


def header(text: str, parent: QWidget) -> QLabel:
    label = PlainLabel(text, parent)
    label.setStyleSheet("font-weight: bold; margin-top: 6px;")  # bold via QSS: follows zoom
    return label


def show_error(label: QLabel, text: str) -> None:
    label.setText(text)
    label.setStyleSheet(f"color: {ERROR_COLORS[get_theme().name]};")
    label.setVisible(bool(text))


def swatch(color: str, size: int) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(QColor(color))
    p.setPen(Qt.PenStyle.NoPen)
    p.drawEllipse(1, 1, size - 2, size - 2)
    p.end()
    return QIcon(pm)
