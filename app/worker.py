"""The training engine on a worker ``QThread`` (``TrainingWorker``) and what a view holds of it
(``TrainingController``: ``launch``, ``send(command)``, ``drain``, ``shutdown``).

The engine is built inside its thread (model, optimizer and any CUDA context belong to it) and
blocks in ``run()``, so commands bypass Qt: they go through the engine's thread-safe ``send``
(kept by ``EngineHandle`` until the engine exists) and results come back by ``drain()`` on the
view's display timer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from app import threads
from core.engine.commands import Command, Stop, check_command
from core.engine.training import TrainConfig, TrainingEngine, Update
from core.errors import GdsimError, error_line

log = logging.getLogger("gdsim.worker")


class EngineHandle:
    """The engine as the GUI sees it: commands buffered until the engine exists, then forwarded.

    Thread-safe. ``send`` never blocks for longer than a list append or the engine's check.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._engine: TrainingEngine | None = None
        self._pending: list[Command] = []
        self.stopped = False

    @property
    def engine(self) -> TrainingEngine | None:
        return self._engine

    def send(self, command: Command) -> None:
        """``engine.send(command)`` now, or as soon as the engine exists.

        Once the engine exists, a bad value raises ``GdsimError`` here (the engine checks in
        the caller's thread); before that, errors of replayed commands go to ``on_error``.
        """
        check_command(command)  # refused now, even before the engine exists
        with self._lock:
            if isinstance(command, Stop):
                self.stopped = True
            engine = self._engine
            if engine is None:
                self._pending.append(command)
                return
        engine.send(command)

    def attach(self, engine: TrainingEngine, on_error: Callable[[str], None]) -> None:
        """Make ``engine`` current and replay the buffered commands into its queue (in order)."""
        with self._lock:
            self._engine = engine
            pending, self._pending = self._pending, []
            for command in pending:
                try:
                    engine.send(command)
                except GdsimError as exc:
                    on_error(error_line(exc))


class TrainingWorker(QObject):
    """Lives in the worker thread: builds the engine there and drives it until stopped.

    ``failed(generation, message)`` if the engine could not be built or crashed; ``done(generation,
    state)`` always, last (connected directly to ``QThread.quit`` so the thread ends even while the
    GUI is blocked in ``wait()``). The generation lets the controller ignore a previous worker.
    """

    failed = Signal(int, str)  # (generation, message)
    done = Signal(int, str)  # (generation, final state or "failed")

    def __init__(self, config: TrainConfig, handle: EngineHandle, generation: int = 0) -> None:
        super().__init__()
        self._config = config
        self._handle = handle
        self._generation = generation

    def _fail(self, message: str) -> None:
        self.failed.emit(self._generation, message)

    @Slot()
    def run(self) -> None:
        state = "failed"
        try:
            engine = TrainingEngine(self._config)  # model, optimizer, device: made in this thread
            self._handle.attach(engine, self._fail)
            if not self._handle.stopped:
                # paused until the GUI says start/step; keeps serving reset, boundary and device
                # commands after the run finishes, until stop()
                state = engine.run(paused=True, exit_when_done=False)
            else:
                state = "stopped"
        except Exception as exc:  # a missing device, out of memory, a bug: report, never crash
            log.exception("training worker failed")
            self._fail(error_line(exc))
        finally:
            self.done.emit(self._generation, state)


class TrainingController(QObject):
    """Owns the worker thread of one view; every method is called on the GUI thread.

    ``generation`` increases with every ``launch`` (a new engine, so the view knows to rebuild
    its plots from ``engine.config``/``engine.data``). Commands to a controller without a live
    worker are ignored (``alive`` tells); ``launch`` first.
    """

    failed = Signal(str)  # the worker could not build or run the engine (one line)
    finished = Signal(str)  # the worker thread ended (final engine state, or "failed")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._handle: EngineHandle | None = None
        self.generation = 0
        threads.track(self)

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        """True while a worker thread exists and has not been told to stop."""
        return (
            self._thread is not None
            and self._handle is not None
            and not self._handle.stopped
            and (self._thread.isRunning() or not self._thread.isFinished())
        )

    @property
    def engine(self) -> TrainingEngine | None:
        """The current engine (None while it is being built). Read-only use from the GUI:
        ``drain()``, ``config``, ``data``, ``state``; tests may read ``lanes``."""
        return self._handle.engine if self._handle is not None else None

    def thread(self) -> QThread | None:  # type: ignore[override]
        """The worker QThread (None before the first launch); tests check it has stopped."""
        return self._thread

    def launch(self, config: TrainConfig) -> None:
        """Start a new worker thread with an engine for ``config`` (stops the previous one)."""
        if self._thread is not None:
            self.shutdown()
        handle = EngineHandle()
        thread = QThread()
        thread.setObjectName("gdsim-training")
        self.generation += 1
        worker = TrainingWorker(config, handle, self.generation)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        worker.failed.connect(self._on_failed)  # queued: delivered on the GUI thread
        worker.done.connect(self._on_done)
        thread.finished.connect(worker.deleteLater)
        self._thread, self._worker, self._handle = thread, worker, handle
        thread.start()

    def shutdown(self, timeout_ms: int = 900) -> bool:
        """Stop the worker and wait at most ``timeout_ms`` for its thread. True if it ended.

        Never ``terminate()``: a thread still busy after the budget is parked and ends by itself.
        """
        # Keep the worker's wrapper until its thread has ended: dropping it deletes the C++
        # QObject here, on the GUI thread, while run() may still be using it.
        thread, worker, handle = self._thread, self._worker, self._handle
        self._thread = self._worker = None
        if thread is None:
            return True
        if handle is not None:
            handle.send(Stop())
        thread.quit()
        ended = thread.wait(max(0, int(timeout_ms)))
        if not ended:
            threads.park(thread, worker, "the training worker", timeout_ms)
        return bool(ended)

    # -- commands (forwarded to the engine's thread-safe API) ----------------------------
    def send(self, command: Command) -> None:
        """Send ``command`` to the engine (GdsimError for a bad value once the engine exists);
        ignored without a live worker."""
        if self._handle is not None and self.alive:
            self._handle.send(command)

    def drain(self) -> Update | None:
        """Everything the engine reported since the last drain (None before it exists)."""
        engine = self.engine
        return engine.drain() if engine is not None else None

    # -- worker reports (GUI thread) -----------------------------------------------------
    @Slot(int, str)
    def _on_failed(self, generation: int, message: str) -> None:
        if generation == self.generation:
            self.failed.emit(message)

    @Slot(int, str)
    def _on_done(self, generation: int, state: str) -> None:
        if generation == self.generation:
            self.finished.emit(state)
