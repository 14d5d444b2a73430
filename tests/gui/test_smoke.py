"""Start-up / close smoke test: no leaked threads, no Qt warnings, a clean second start.

It runs the real views, so once they own workers this is the test that catches a worker
left running after the window closed.
"""

from __future__ import annotations

import gc
import threading

import pytest
from PySide6.QtCore import QThread, QThreadPool
from PySide6.QtWidgets import QApplication

from app.main_window import MainWindow

# The offscreen platform warns about a feature it lacks; that is not our bug.
OFFSCREEN_NOISE = r"This plugin does not support"


def _running_qthreads() -> list[QThread]:
    main = QApplication.instance().thread()
    return [
        o
        for o in gc.get_objects()
        if isinstance(o, QThread) and o is not main and _alive(o) and o.isRunning()
    ]


def _alive(obj) -> bool:
    try:
        import shiboken6

        return shiboken6.isValid(obj)
    except ImportError:  # pragma: no cover
        return True


@pytest.mark.qt_log_level_fail("WARNING")
@pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)
def test_start_and_close_leaves_no_threads_and_no_warnings(qtbot):
    py_before = {t.ident for t in threading.enumerate()}
    qt_before = len(_running_qthreads())
    pool_before = QThreadPool.globalInstance().activeThreadCount()

    for _ in range(2):  # a second start must be as clean as the first
        win = MainWindow()
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        for i in range(win.tabs.count()):
            win.tabs.setCurrentIndex(i)
            qtbot.wait(50)
        win.close()
        win.deleteLater()
        qtbot.wait(50)

    QThreadPool.globalInstance().waitForDone(1000)
    gc.collect()
    leaked_py = [t for t in threading.enumerate() if t.ident not in py_before and t.is_alive()]
    assert leaked_py == [], f"threads left running: {[t.name for t in leaked_py]}"
    assert len(_running_qthreads()) == qt_before
    assert QThreadPool.globalInstance().activeThreadCount() <= pool_before


def test_main_window_constructs_without_arguments(qtbot):
    win = MainWindow()
    qtbot.addWidget(win)
    assert win.windowTitle().startswith("gdsim")
    win.close()
