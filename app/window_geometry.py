"""Where the main window opens: always inside the screen it opens on.

Why not just ``QWidget.restoreGeometry``: a lecture moves from a laptop to a 1024×768 projector,
and Qt refuses (returns False for) a geometry saved on a bigger screen, so the window fell back to
a fixed 1280×800 that hid Start/Step/Reset and the status bar. Here the saved geometry is restored
where it fits, and anything that does not fit the screen's available area is made to: the normal
geometry becomes that area and the window is maximised (a window manager then fits the frame too;
without one the window already covers exactly the available area).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QRect, QSettings, QSize, Qt
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QWidget

from app.settings import read_bool, read_bytes, read_int

log = logging.getLogger("gdsim.window")

DEFAULT_SIZE = QSize(1280, 800)
MAX_SIDE = 100_000  # a saved size beyond this is garbage, not a screen


def _screen(window: QWidget) -> QScreen | None:
    return (
        QGuiApplication.screenAt(window.geometry().center())
        or window.screen()
        or QGuiApplication.primaryScreen()
    )


def fit_to_screen(window: QWidget, maximize: bool = True) -> None:
    """Keep the window's size and place if its frame fits the available screen area (moved
    inside it if need be), else make it fill that area (maximised if ``maximize``). Called
    before the first show (no frame known yet; not maximised, so a caller's own ``resize``
    still wins) and at the first show (the platform's frame margins known)."""
    screen = _screen(window)
    if screen is None or window.isFullScreen():
        return
    avail = screen.availableGeometry()
    frame, geo = window.frameGeometry(), window.geometry()
    if avail.contains(frame):
        return
    if (
        frame.width() <= avail.width()
        and frame.height() <= avail.height()
        and not window.isMaximized()
    ):
        x = min(max(frame.x(), avail.left()), avail.right() + 1 - frame.width())
        y = min(max(frame.y(), avail.top()), avail.bottom() + 1 - frame.height())
        window.move(x, y)  # move() places the frame
        return
    margins = (
        geo.x() - frame.x(),
        geo.y() - frame.y(),
        geo.right() - frame.right(),
        geo.bottom() - frame.bottom(),
    )
    window.setGeometry(avail.adjusted(*margins))
    if maximize and not window.isMaximized():
        window.setWindowState(window.windowState() | Qt.WindowState.WindowMaximized)


def save_geometry(window: QWidget, s: QSettings) -> None:
    """Qt's own record plus the plain normal geometry (read back when Qt refuses its record)."""
    s.setValue("window/geometry", window.saveGeometry())
    g = window.normalGeometry()
    for key, value in (("x", g.x()), ("y", g.y()), ("width", g.width()), ("height", g.height())):
        s.setValue(f"window/{key}", int(value))
    s.setValue("window/maximized", bool(window.isMaximized()))


def restore_geometry(window: QWidget, s: QSettings | None) -> None:
    """The saved geometry where it fits the screen, shrunk and maximised where it does not; the
    default size (fitted the same way) on a first start."""
    window.resize(DEFAULT_SIZE)
    if s is not None and not _restore_saved(window, s):
        width = read_int(s, "window/width", 0, 1, MAX_SIDE)
        height = read_int(s, "window/height", 0, 1, MAX_SIDE)
        if width and height:
            x = read_int(s, "window/x", 0, -MAX_SIDE, MAX_SIDE)
            y = read_int(s, "window/y", 0, -MAX_SIDE, MAX_SIDE)
            window.setGeometry(QRect(x, y, width, height))
            if read_bool(s, "window/maximized", False):
                window.setWindowState(window.windowState() | Qt.WindowState.WindowMaximized)
    fit_to_screen(window, maximize=False)


def _restore_saved(window: QWidget, s: QSettings) -> bool:
    blob = read_bytes(s, "window/geometry")
    if blob is None:
        return False
    if window.restoreGeometry(blob):
        return True
    log.info("window/geometry does not fit this screen; fitting the saved size instead")
    return False
