"""Text from a file, a setting, a SPEC or the user, shown as plain text: the one place for it.

Qt renders a label, tooltip or message box as HTML when the text looks like HTML (an ``<img>``
in a shared session's title can read any local file), and pyqtgraph's text items always take
HTML. Hence ``PlainLabel``, ``esc`` (for pyqtgraph and ``RichLabel``), ``plain_tip`` and
``message_box``.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt  # mightBeRichText/convertFromPlainText live in QtGui
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

__all__ = ["PlainLabel", "RichLabel", "esc", "message_box", "plain_tip"]


class PlainLabel(QLabel):
    """A QLabel with ``Qt.PlainText``: takes the same arguments as QLabel."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.setTextFormat(Qt.TextFormat.PlainText)


class RichLabel(QLabel):
    """A QLabel with ``Qt.RichText``, for markup gdsim writes: quote other text with ``esc``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.setTextFormat(Qt.TextFormat.RichText)


def esc(text: object) -> str:
    """``text`` as HTML that reads as ``text`` (line breaks kept)."""
    return html.escape(str(text), quote=False).replace("\n", "<br>")


def plain_tip(text: str) -> str:
    """A tooltip showing ``text`` literally. Qt renders a tooltip as HTML when
    ``mightBeRichText`` says so; only then is it converted (and then it word-wraps)."""
    if not GuiQt.mightBeRichText(text):
        return text
    return GuiQt.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpaceNormal)


def message_box(
    icon: QMessageBox.Icon, title: str, text: str, parent: QWidget | None = None
) -> QMessageBox:
    """A QMessageBox showing ``text`` (and any ``setInformativeText``) as plain text."""
    box = QMessageBox(parent)
    box.setIcon(icon)
    box.setWindowTitle(title)
    box.setTextFormat(Qt.TextFormat.PlainText)  # the informative label follows this format
    box.setText(text)
    return box
