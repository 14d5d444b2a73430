"""The window always opens inside the available screen area (issue 15, item 1): a first start
on a small screen, and settings saved on a bigger screen, neither may put the window's edges
(Start/Step/Reset, the status bar) off-screen; a geometry that fits is restored as saved.

Offscreen, the screen is 800×600, smaller than the 1280×800 the window used to open at."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QGuiApplication

from app.main_window import MainWindow
from app.settings import open_settings


def _avail() -> QRect:
    return QGuiApplication.primaryScreen().availableGeometry()


def _open(qtbot) -> MainWindow:
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def _inside(win: MainWindow) -> bool:
    return _avail().contains(win.frameGeometry())


@pytest.fixture
def small_screen():
    avail = _avail()
    if avail.width() >= 1280 and avail.height() >= 800:
        pytest.skip("needs a screen smaller than 1280×800 (offscreen: 800×600)")
    return avail


def test_first_start_fits_a_small_screen(qtbot, small_screen):
    win = _open(qtbot)
    assert _inside(win), (win.frameGeometry(), small_screen)
    # it uses the screen rather than a postage stamp
    assert win.width() >= small_screen.width() * 0.8


def test_a_geometry_saved_on_a_bigger_screen_is_fitted(qtbot, small_screen):
    s = open_settings()
    big = MainWindow()  # as saved on a 1920×1080 screen
    qtbot.addWidget(big)
    big.setGeometry(QRect(300, 200, 1600, 1000))
    big.save_settings()
    big.close()
    s.sync()
    win = _open(qtbot)
    assert _inside(win), (win.frameGeometry(), small_screen)
    assert win.width() >= small_screen.width() * 0.8


def test_a_geometry_that_fits_is_restored_as_saved(qtbot, small_screen):
    first = _open(qtbot)
    first.setWindowState(Qt.WindowState.WindowNoState)
    wanted = QRect(small_screen.x() + 20, small_screen.y() + 10, 660, 500)
    first.setGeometry(wanted)
    qtbot.waitUntil(lambda: first.geometry().size() == wanted.size())
    first.close()  # saves
    win = _open(qtbot)
    assert not win.isMaximized()
    assert win.geometry().size() == wanted.size()
    assert _inside(win)
