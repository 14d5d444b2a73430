"""Start-up / close smoke test: no leaked threads, no Qt warnings, a clean second start.

It runs the real views, so this is the test that catches a worker left running after the
window closed. A first open/close cycle warms up lazily created pools (torch's intra-op
threads, Qt's global pool) so that they are not mistaken for leaks.
"""

from __future__ import annotations

import gc
import os
import threading

import pytest
from PySide6.QtCore import QThread, QThreadPool
from PySide6.QtWidgets import QApplication

from app.main_window import MainWindow
from tests.gui.helpers import OFFSCREEN_NOISE, WAIT


def _native_threads() -> int | None:
    """OS threads of this process (QThreads included); None where /proc is unavailable."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


def _running_qthreads() -> int:
    main = QApplication.instance().thread()
    count = 0
    for o in gc.get_objects():
        # type(), not isinstance(): isinstance touches __class__ of lazy proxy objects
        if QThread in type(o).__mro__ and o is not main:
            try:
                count += bool(o.isRunning())
            except RuntimeError:  # wrapper whose C++ thread object is already deleted
                pass
    return count


def _cycle(qtbot) -> None:
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    for i in range(win.tabs.count()):
        win.tabs.setCurrentIndex(i)
        qtbot.wait(30)
    win.close()
    win.deleteLater()
    qtbot.wait(30)


@pytest.mark.qt_log_level_fail("WARNING")
@pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)
def test_start_and_close_leaves_no_threads_and_no_warnings(qtbot):
    _cycle(qtbot)  # warm-up
    QThreadPool.globalInstance().waitForDone(WAIT)
    py_before = {t.ident for t in threading.enumerate()}
    native_before = _native_threads()
    qt_before = _running_qthreads()

    _cycle(qtbot)

    QThreadPool.globalInstance().waitForDone(WAIT)
    gc.collect()
    leaked_py = [t.name for t in threading.enumerate() if t.ident not in py_before]
    assert leaked_py == [], f"Python threads left running: {leaked_py}"
    assert _running_qthreads() <= qt_before, "a QThread is still running after close"
    if native_before is not None:  # QThreads that finish need a moment to be reaped
        qtbot.waitUntil(lambda: _native_threads() <= native_before, timeout=WAIT)


def test_main_window_constructs_without_arguments(qtbot):
    win = MainWindow()
    qtbot.addWidget(win)
    assert win.windowTitle().startswith("gdsim")
    win.close()
