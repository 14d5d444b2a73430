"""Help ▸ Keyboard shortcuts and Help ▸ About: window-modal boxes that never block the event loop."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox

from app.plaintext import esc
from app.window_actions import RUN_KEYS

SHORTCUTS_NOTE = (
    "<p>Space, S, →, R and N act on the current tab unless the focused control uses the key: a "
    "text field types it, a focused button or check box takes Space (and a button Enter), a "
    "slider keeps → and ←. Tab moves the focus; in a number field Enter applies and Esc reverts, "
    "and both give the keys back.</p>"
)


def _open_box(window: QMainWindow, name: str, title: str, text: str) -> QMessageBox:
    box = QMessageBox(window)
    box.setObjectName(name)
    box.setWindowTitle(title)
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(text)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()  # window-modal but never blocks the event loop (races keep running)
    return box


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str]]:
    """(keys, what they do): the run keys, then every menu command with a shortcut."""
    native = QKeySequence.SequenceFormat.NativeText

    def keys(act: QAction) -> str:
        return " or ".join(s.toString(native) for s in act.shortcuts())

    rows = [
        (" or ".join(QKeySequence(k).toString(native) for k in ks), text)
        for ks, text in RUN_KEYS.values()
    ]
    seen: set[int] = set()  # in menu order, so one added to a menu is listed too
    for menu in window.menuBar().findChildren(QMenu):
        for act in menu.actions():
            if act.shortcuts() and id(act) not in seen:
                seen.add(id(act))
                rows.append((keys(act), act.text().replace("&", "").rstrip(".…")))
    rows.append(("Esc", "Leave full screen"))
    return rows


def show_shortcuts(window: QMainWindow) -> QMessageBox:
    table = "".join(
        f"<tr><td><b>{esc(k)}</b></td><td>&nbsp;&nbsp;{esc(t)}</td></tr>"
        for k, t in shortcut_rows(window)
    )
    text = f"<table>{table}</table>{SHORTCUTS_NOTE}"
    return _open_box(window, "shortcutsDialog", "Keyboard shortcuts", text)


def show_about(window: QMainWindow) -> QMessageBox:
    import pyqtgraph
    import PySide6

    text = (
        "<h3>gdsim — Gradient Descent Simulator</h3>"
        "<p>Watch torch.optim optimizers race on loss surfaces and a small network learn, "
        "live. Built for lecture halls and students' laptops.</p>"
        f"<p>PySide6 {PySide6.__version__} · pyqtgraph {pyqtgraph.__version__}</p>"
    )
    return _open_box(window, "aboutDialog", "About gdsim", text)
