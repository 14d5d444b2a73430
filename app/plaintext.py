"""Text from a file, a setting, a SPEC or the user, shown as plain text: the one place for it.

Why: Qt shows a QLabel's text (AutoText), a tooltip and a message box as HTML whenever it looks
like HTML, and pyqtgraph's legends, titles and axis labels always take HTML. A shared session
titled ``<img src="/dev/zero">`` made Qt read /dev/zero until the process died, and
``<img src="/some/file.png">`` drew a local file into the window and into exported pictures.

* ``PlainLabel`` -- a QLabel that shows its text as it is. Every label gdsim makes is one,
  except a ``RichLabel``, whose markup gdsim writes itself and where any quoted text goes
  through ``esc``.
* ``esc(text)`` -- HTML-escaped, for pyqtgraph text items (legend entries, titles, axis labels)
  and for the quoted parts of a ``RichLabel``.
* ``plain_tip(text)`` -- a tooltip that shows ``text`` as it is.
* ``message_box(icon, title, text, parent)`` -- a QMessageBox whose text (and informative
  text) is plain.
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
