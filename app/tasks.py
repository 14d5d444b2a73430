"""``BackgroundTask``: one cancellable function on a QThread, progress out, one result.

For the teaching tools' long torch computations (landscape, lr finder), which the GUI thread must
never wait for. The function sees only ``report(fraction, text)`` and ``cancelled()``, so it can live
in Qt-free ``core``. Exactly one of ``succeeded``/``failed``/``cancelled`` follows every ``start``
(the newest start wins); ``cancel()`` never waits for torch; threads are never terminated.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from app import threads
from core.errors import GdsimError, error_line

log = logging.getLogger("gdsim.tasks")

PROGRESS_INTERVAL_S = 0.05  # progress signals at most ~20 a second (plus the final 100 %)

Report = Callable[[float, str], None]
Cancelled = Callable[[], bool]


class _Worker(QObject):
    """Lives in the worker thread: runs the function once and reports back by signals.

    Every signal carries the run's id, so the task ignores a run it has already let go.
    """

    progress = Signal(int, float, str)
    done = Signal(int, str, object)  # (run id, "ok" | "failed" | "cancelled", result or message)
    ended = Signal()  # last thing the worker does; connected directly to QThread.quit

    def __init__(
        self, run_id: int, fn: Callable[..., Any], args: tuple, flag: threading.Event
    ) -> None:
        super().__init__()
        self._id = run_id
        self._fn = fn
        self._args = args
        self._flag = flag
        self._last_emit = -1e9

    def _report(self, fraction: float, text: str = "") -> None:
        """Throttled: drops reports closer than PROGRESS_INTERVAL_S, except the final one."""
        if self._flag.is_set():
            return
        try:
            value = min(1.0, max(0.0, float(fraction)))
        except (TypeError, ValueError):
            value = 0.0
        now = time.monotonic()
        if value < 1.0 and now - self._last_emit < PROGRESS_INTERVAL_S:
            return
        self._last_emit = now
        self.progress.emit(self._id, value, str(text))

    @Slot()
    def run(self) -> None:
        kind, payload = "failed", "the task did not run"
        try:
            result = self._fn(self._report, self._flag.is_set, *self._args)
            kind, payload = ("cancelled", None) if self._flag.is_set() else ("ok", result)
        except Exception as exc:  # anything: the GUI shows one line, never crashes
            if self._flag.is_set():
                kind, payload = "cancelled", None
            else:
                if not isinstance(exc, GdsimError):
                    log.exception("background task failed")
                kind, payload = "failed", error_line(exc, name_type=True)
        finally:
            self._fn = None  # drop references to big inputs as soon as possible
            self._args = ()
            self.done.emit(self._id, kind, payload)
            self.ended.emit()


class BackgroundTask(QObject):
    """One cancellable computation at a time on a worker thread. See the module docstring.

    Call every method on the GUI thread (the thread this object lives in).
    """

    progress = Signal(float, str)  # fraction 0..1, a short text ("row 12 of 41")
    succeeded = Signal(object)
    failed = Signal(str)  # one line
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None, name: str = "gdsim-task") -> None:
        super().__init__(parent)
        self._name = name
        self._next_id = 0
        self._current: int | None = None  # id of the run whose signals we still deliver
        self._flag: threading.Event | None = None
        # run id -> (thread, worker) of every run not yet purged (see _purge), current or let go
        self._threads: dict[int, tuple[QThread, _Worker]] = {}
        self._delivered: set[int] = set()  # runs whose last signal (done) has arrived here
        self._closed = False
        threads.track(self)

    # -- state -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True from ``start`` until its succeeded/failed/cancelled signal."""
        return self._current is not None

    def thread_count(self) -> int:
        """Worker threads started by this task that have not finished yet (tests check 0)."""
        return sum(1 for t, _ in self._threads.values() if not t.isFinished())

    # -- commands --------------------------------------------------------------------------
    def start(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Run ``fn(report, cancelled, *args)`` on a new worker thread.

        A run in progress is cancelled first (``cancelled`` is emitted for it). Returns False
        (and does nothing) after ``shutdown()``.
        """
        if self._closed:
            return False
        if self._current is not None:
            self.cancel()
        self._purge()
        self._next_id += 1
        run_id = self._next_id
        flag = threading.Event()
        thread = QThread()
        thread.setObjectName(self._name)
        worker = _Worker(run_id, fn, args, flag)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.ended.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        worker.progress.connect(self._on_progress)  # queued: delivered on the GUI thread
        worker.done.connect(self._on_done)
        self._threads[run_id] = (thread, worker)
        self._current, self._flag = run_id, flag
        thread.start()
        return True

    def cancel(self) -> None:
        """Ask the running function to stop and emit ``cancelled`` now (no-op when idle)."""
        if self._current is None:
            return
        if self._flag is not None:
            self._flag.set()
        self._current, self._flag = None, None
        self.cancelled.emit()

    def shutdown(self, timeout_ms: int = 900) -> bool:
        """Cancel, then wait at most ``timeout_ms`` in total for every worker thread to end.

        True if none is left running. Never ``terminate()``: a thread still busy after the budget
        is parked (referenced) until it ends by itself. No signal is emitted after this.
        """
        self._closed = True
        if self._flag is not None:
            self._flag.set()
        self._current, self._flag = None, None
        deadline = time.monotonic() + max(0, int(timeout_ms)) / 1000.0
        all_ended = True
        for run_id, (thread, worker) in list(self._threads.items()):
            thread.quit()
            left_ms = max(0, int((deadline - time.monotonic()) * 1000))
            if not thread.wait(left_ms):
                all_ended = False
                threads.park(thread, worker, "a background task", timeout_ms)
                self._threads.pop(run_id, None)
        # Runs whose last signal is still queued stay referenced until this object goes (Qt drops
        # a receiver's queued events with it); the others can go now.
        self._purge()
        return all_ended

    def _purge(self) -> None:
        """Let go of runs whose thread has finished and whose last signal has been delivered:
        nothing can refer to their worker or thread any more."""
        for run_id, (thread, _worker) in list(self._threads.items()):
            if run_id in self._delivered and thread.isFinished():
                del self._threads[run_id]
                self._delivered.discard(run_id)

    # -- worker reports (GUI thread) -------------------------------------------------------
    @Slot(int, float, str)
    def _on_progress(self, run_id: int, fraction: float, text: str) -> None:
        if run_id == self._current:
            self.progress.emit(fraction, text)

    @Slot(int, str, object)
    def _on_done(self, run_id: int, kind: str, payload: object) -> None:
        self._delivered.add(run_id)
        if run_id != self._current:
            return  # cancelled (already reported) or replaced
        self._current, self._flag = None, None
        if kind == "ok":
            self.succeeded.emit(payload)
        elif kind == "cancelled":
            self.cancelled.emit()
        else:
            self.failed.emit(str(payload))
