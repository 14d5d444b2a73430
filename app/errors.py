"""Unexpected exceptions become a message box and a log entry, not a dead lecture.

PySide6 prints exceptions raised in slots and carries on, but an exception that reaches
``sys.excepthook`` from an event handler, or kills a worker thread silently, leaves the user
with a window that no longer does anything and no idea why. ``install()`` routes both hooks to
one ``ExceptionReporter`` that

* logs the traceback at once (``logging`` is thread-safe) and keeps the last few in ``history``,
* chains to the previous hook (so pytest-qt / the terminal still see it),
* marshals the dialog to the GUI thread with a queued signal (a worker thread must never touch
  widgets) and shows at most one non-modal dialog at a time, counting repeats, so an error
  raised 30 times a second in a redraw does not bury the screen in dialogs.

Dialogs are off when ``$GDSIM_ERROR_DIALOGS`` is "0" (the GUI tests set it) or
``install(show_dialogs=False)``.

``protect_singletons()`` guards against a PySide6 bug that would otherwise abort CPython 3.11
after a few minutes of redrawing (see its docstring); call it before the window is built.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from collections import deque
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox

log = logging.getLogger("gdsim.errors")

DIALOGS_ENV = "GDSIM_ERROR_DIALOGS"


def dialogs_enabled_by_env() -> bool:
    return os.environ.get(DIALOGS_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


class ExceptionReporter(QObject):
    """Receives exceptions from any thread; logs them and shows them on the GUI thread."""

    reported = Signal(str)  # the formatted traceback, delivered on the GUI thread
    _deliver = Signal(str, str)  # (one-line summary, traceback) -> GUI thread

    def __init__(self, show_dialogs: bool = True, history: int = 20) -> None:
        super().__init__()
        self.show_dialogs = show_dialogs
        self.history: deque[str] = deque(maxlen=history)
        self._dialog: QMessageBox | None = None
        self._repeats = 0
        self._prev_sys = sys.__excepthook__
        self._prev_thread = threading.__excepthook__
        self._deliver.connect(self._on_deliver, Qt.ConnectionType.QueuedConnection)

    # -- hooks ---------------------------------------------------------------------------
    def install(self) -> None:
        """(Re)install both hooks, remembering whatever was there to chain to it."""
        if sys.excepthook != self._sys_hook:
            self._prev_sys = sys.excepthook
            sys.excepthook = self._sys_hook
        if threading.excepthook != self._thread_hook:
            self._prev_thread = threading.excepthook
            threading.excepthook = self._thread_hook

    def uninstall(self) -> None:
        """Restore the previous hooks if ours are still the active ones."""
        if sys.excepthook == self._sys_hook:
            sys.excepthook = self._prev_sys
        if threading.excepthook == self._thread_hook:
            threading.excepthook = self._prev_thread

    def _sys_hook(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):  # Ctrl+C in a terminal: not a bug
            self._prev_sys(exc_type, exc, tb)
            return
        self.report(exc_type, exc, tb)
        try:
            self._prev_sys(exc_type, exc, tb)
        except Exception:  # a broken previous hook must not hide ours
            log.exception("previous sys.excepthook failed")

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        self.report(args.exc_type, args.exc_value, args.exc_traceback, where=f"thread {name}")
        try:
            self._prev_thread(args)
        except Exception:
            log.exception("previous threading.excepthook failed")

    # -- reporting -----------------------------------------------------------------------
    def report(
        self,
        exc_type: type[BaseException],
        exc: BaseException | None,
        tb: TracebackType | None,
        where: str = "",
    ) -> None:
        """Log now (any thread); queue the dialog for the GUI thread."""
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        summary = f"{exc_type.__name__}: {exc}" if exc is not None else exc_type.__name__
        if where:
            summary = f"{summary} (in {where})"
        log.error("unexpected exception: %s\n%s", summary, text)
        self.history.append(text)
        if QApplication.instance() is not None:
            self._deliver.emit(summary, text)  # queued: safe from a worker thread

    @Slot(str, str)
    def _on_deliver(self, summary: str, text: str) -> None:
        self.reported.emit(text)
        if not (self.show_dialogs and dialogs_enabled_by_env()):
            return
        if self._dialog is not None and self._dialog.isVisible():
            self._repeats += 1
            self._dialog.setInformativeText(
                f"{summary}\n\n(and {self._repeats} more since this message appeared)"
            )
            return
        self._repeats = 0
        parent = QApplication.activeWindow()
        box = QMessageBox(parent)
        box.setObjectName("errorDialog")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("gdsim: unexpected error")
        box.setText(
            "Something went wrong, but the window is still running. "
            "You can carry on; if it happens again, please report the details below."
        )
        box.setInformativeText(summary)
        box.setDetailedText(text)
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(self._on_dialog_closed)
        self._dialog = box
        box.open()  # non-modal to the event loop: timers and workers keep running

    @Slot()
    def _on_dialog_closed(self) -> None:
        self._dialog = None


_REPORTER: ExceptionReporter | None = None
_SINGLETONS_PROTECTED = False


def protect_singletons() -> bool:
    """Work around PySide6 builds that drop references to None/True/False (CPython < 3.12).

    PySide6 6.12.0 on Python 3.11 returns ``None`` from every void method and ``True`` from
    every ``signal.emit()`` without taking a reference, so each call lowers the refcount of
    those singletons by one. A window redrawing at 30 Hz reaches zero within minutes and
    CPython aborts ("Fatal Python error: none_dealloc"). Python 3.12+ makes these objects
    immortal, which is exactly the cure: here we detect the leak with a probe and, only then,
    give the three singletons a reference count no session can exhaust. Idempotent; returns
    True if the workaround was applied (now or earlier).
    """
    global _SINGLETONS_PROTECTED
    if _SINGLETONS_PROTECTED:
        return True
    if sys.version_info >= (3, 12):
        return False
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    probe.ping.connect(probe.deleteLater)  # any receiver; never runs (no event loop here)
    before = (sys.getrefcount(None), sys.getrefcount(True))
    for _ in range(64):
        probe.setObjectName("probe")  # a void method
        probe.ping.emit()
    after = (sys.getrefcount(None), sys.getrefcount(True))
    probe.ping.disconnect()
    if after[0] > before[0] - 32 and after[1] > before[1] - 32:
        return False  # this PySide6 counts correctly: leave CPython alone
    for obj in (None, True, False):
        _add_references(obj, 1 << 40)
    # info, not a warning: it is expected on this PySide6 + Python pair and fully handled
    log.info("PySide6 reference leak on None/True/False detected; applied the workaround")
    _SINGLETONS_PROTECTED = True
    return True


def _add_references(obj: object, count: int) -> None:
    import ctypes

    # ob_refcnt is the first field of a PyObject in release builds; check before writing
    cell = ctypes.c_ssize_t.from_address(id(obj))
    if abs(cell.value - (sys.getrefcount(obj) - 1)) <= 4 and not hasattr(sys, "gettotalrefcount"):
        cell.value += count
        return
    incref = ctypes.pythonapi.Py_IncRef  # unknown layout (debug build): the slow, safe way
    incref.argtypes = [ctypes.py_object]
    for _ in range(1 << 20):
        incref(obj)


def install(show_dialogs: bool = True) -> ExceptionReporter:
    """Install (idempotently) the process-wide reporter; call on the GUI thread."""
    global _REPORTER
    if _REPORTER is None:
        _REPORTER = ExceptionReporter(show_dialogs=show_dialogs)
    else:
        _REPORTER.show_dialogs = show_dialogs
    _REPORTER.install()
    return _REPORTER


def reporter() -> ExceptionReporter | None:
    """The installed reporter, if any (tests inspect ``history``)."""
    return _REPORTER
