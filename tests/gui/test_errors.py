"""Unexpected exceptions are logged and delivered on the GUI thread, from any thread."""

from __future__ import annotations

import logging
import sys
import threading

import pytest
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication

from app import errors


@pytest.fixture
def reporter():
    rep = errors.ExceptionReporter(show_dialogs=True)  # dialogs still off via the env var
    rep.install()
    yield rep
    rep.uninstall()


@pytest.mark.qt_no_exception_capture
def test_sys_excepthook_logs_and_reports(qtbot, reporter, caplog):
    seen: list[str] = []
    reporter.reported.connect(seen.append)
    with caplog.at_level(logging.ERROR, logger="gdsim.errors"):
        try:
            raise RuntimeError("boom in a slot")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())
    assert "boom in a slot" in caplog.text
    qtbot.waitUntil(lambda: len(seen) == 1)
    assert "RuntimeError: boom in a slot" in seen[0]
    assert "boom in a slot" in reporter.history[-1]
    assert not [w for w in QApplication.topLevelWidgets() if w.objectName() == "errorDialog"]


@pytest.mark.qt_no_exception_capture
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_thread_exception_is_marshalled_to_the_gui_thread(qtbot, reporter, caplog):
    delivered_on: list[QThread] = []
    reporter.reported.connect(lambda _t: delivered_on.append(QThread.currentThread()))

    def work() -> None:
        raise ValueError("worker died")

    with caplog.at_level(logging.ERROR, logger="gdsim.errors"):
        t = threading.Thread(target=work, name="worker-x")
        t.start()
        t.join()
    qtbot.waitUntil(lambda: len(delivered_on) == 1)
    assert delivered_on[0] is QApplication.instance().thread()
    assert "worker died" in caplog.text and "worker-x" in caplog.text


def test_install_is_idempotent_and_chains():
    calls = []
    old = sys.excepthook
    sys.excepthook = lambda *a: calls.append(a)
    try:
        rep = errors.ExceptionReporter(show_dialogs=False)
        rep.install()
        rep.install()
        assert rep._prev_sys is not rep._sys_hook
        try:
            raise KeyError("x")
        except KeyError:
            sys.excepthook(*sys.exc_info())
        assert len(calls) == 1  # the previous hook still sees it, exactly once
        rep.uninstall()
    finally:
        sys.excepthook = old


def test_dialog_is_shown_once_for_repeated_errors(qtbot, monkeypatch):
    monkeypatch.setenv(errors.DIALOGS_ENV, "1")
    rep = errors.ExceptionReporter(show_dialogs=True)
    for _ in range(3):
        rep.report(RuntimeError, RuntimeError("again"), None)
    qtbot.waitUntil(lambda: rep._dialog is not None)
    qtbot.wait(20)
    dialogs = [w for w in QApplication.topLevelWidgets() if w.objectName() == "errorDialog"]
    assert len([d for d in dialogs if d.isVisible()]) == 1
    assert "2 more" in rep._dialog.informativeText()
    rep._dialog.close()


def test_qt_calls_keep_references_to_none_and_true():
    """PySide6-Essentials 6.12.0 on CPython 3.11 dropped a reference to None on every void call
    and to True on every emit (none_dealloc abort after minutes of redrawing); pyproject
    excludes that build. Fails if the installed PySide6 leaks."""
    from PySide6.QtCore import QObject, Signal

    class P(QObject):
        s = Signal(bool)

    p = P()
    p.s.connect(lambda _v: None)
    before = (sys.getrefcount(None), sys.getrefcount(True))
    for _ in range(300):  # fewer than the references True has, so a leak fails, not aborts
        p.setObjectName("x")
        p.s.emit(True)
    after = (sys.getrefcount(None), sys.getrefcount(True))
    assert after[0] > before[0] - 150 and after[1] > before[1] - 150
