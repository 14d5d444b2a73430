"""A cancellable background task on a QThread: one function, progress out, one result.

Why this exists: several teaching tools (the network's loss landscape, the learning-rate finder)
run one long computation on demand — seconds of torch work the GUI thread must never wait for —
and each needs the same care: progress without flooding the event loop, a Cancel that works at
once, errors as one line for a label, and a clean stop when the window closes. ``BackgroundTask``
does that once.

The work function runs on a worker thread and sees only two callables, so it can live in ``core``
(Qt-free) and be tested without Qt::

    def work(report, cancelled, *args):
        for i in range(n):
            if cancelled():
                return None          # the task then emits cancelled(), whatever is returned
            ...
            report((i + 1) / n, f"row {i + 1} of {n}")
        return result

    task = BackgroundTask(parent)
    task.progress.connect(bar_update)        # (fraction 0..1, text), at most ~20 a second
    task.succeeded.connect(show_result)      # (the returned object)
    task.failed.connect(show_error)          # (one line)
    task.cancelled.connect(show_cancelled)
    task.start(work, arg1, arg2)

Rules:
* Exactly one of ``succeeded``/``failed``/``cancelled`` follows every ``start`` (on the GUI
  thread), and no ``progress`` of that run comes after it.
* ``cancel()`` is immediate for the GUI: it raises the flag the work function polls, emits
  ``cancelled`` right away and forgets the run; the worker thread ends by itself as soon as the
  function notices (its result, if any, is dropped). So a Cancel button never waits for torch.
* ``start()`` while a run is in progress cancels that run first (``cancelled`` is emitted for
  it), then starts the new one: the newest request wins, which is what a user clicking
  "Compute" again expects.
* ``failed`` text: ``core.errors.error_line(exc, name_type=True)``: a ``GdsimError``'s first line
  as is (it is written for the user), any other exception as ``"TypeError: first line"`` (a bug,
  named so it can be reported).
* Threads: a new ``QThread`` per run, with the worker-object pattern. Python references to the
  worker ``QObject`` and its ``QThread`` are kept until the thread has *finished* (dropping the
  worker early deleted it under the running thread: a segfault we had, see ``app.worker``) *and*
  the worker's last queued signal has been delivered; they are let go later, in ``start()`` or
  ``shutdown()``, never inside a slot those objects triggered (deleting a sender whose queued
  signals are still pending, then asking for ``sender()``, crashed the GUI thread).
  ``shutdown()`` cancels, quits and waits (≤ ``timeout_ms``) for every thread this task ever
  started; ``terminate()`` is never used: a thread still busy after the budget is parked
  (``app.threads.park``) and ends by itself; quitting waits for it (``app.threads``).
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
