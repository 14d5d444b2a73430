"""Unexpected exceptions become a log entry and a message box, not a dead lecture.

``install()`` routes ``sys.excepthook`` and ``threading.excepthook`` to one ``ExceptionReporter``:
it logs at once, chains to the previous hook, and shows at most one non-modal dialog at a time on
the GUI thread (repeats counted). No dialogs when ``$GDSIM_ERROR_DIALOGS`` is "0".
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

from app.plaintext import message_box

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
        box = message_box(  # plain: the summary may quote a value from a file
            QMessageBox.Icon.Warning,
            "gdsim: unexpected error",
            "Something went wrong, but the window is still running. "
            "You can carry on; if it happens again, please report the details below.",
            parent,
        )
        box.setObjectName("errorDialog")
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


def install(show_dialogs: bool = True) -> ExceptionReporter:
    """Install (idempotently) the process-wide reporter; call on the GUI thread."""
    global _REPORTER
    if _REPORTER is None:
        _REPORTER = ExceptionReporter(show_dialogs=show_dialogs)
    else:
        _REPORTER.show_dialogs = show_dialogs
    _REPORTER.install()
    return _REPORTER
