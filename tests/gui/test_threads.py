"""One place for the app's threads (app.threads): the training worker and background tasks park a
thread that outlives its budget in the same list, and the one exit path waits for all of them."""

from __future__ import annotations

import threading

import app.worker as worker
from app import threads
from app.tasks import BackgroundTask
from app.worker import TrainingController
from core.engine.training import TrainConfig


def test_a_parked_task_and_a_parked_training_worker_are_both_waited_for_at_exit(
    qtbot, monkeypatch
):
    release = threading.Event()
    task_started, build_started = threading.Event(), threading.Event()

    def stubborn(report, cancelled):
        task_started.set()
        release.wait(60)  # bounded so that a failing test cannot leave it behind for ever

    class SlowEngine(worker.TrainingEngine):
        def __init__(self, config):  # a first build slower than the close budget
            build_started.set()
            release.wait(60)
            super().__init__(config)

    monkeypatch.setattr(worker, "TrainingEngine", SlowEngine)
    monkeypatch.setenv(threads.EXIT_WAIT_ENV, "30")
    exits: list[int] = []
    monkeypatch.setattr(threads.os, "_exit", exits.append)  # would end the test run
    task, controller = BackgroundTask(), TrainingController()
    task.start(stubborn)
    controller.launch(TrainConfig(samples=100, epochs=1, batch_size=50, device="cpu"))
    assert task_started.wait(10) and build_started.wait(10)
    before = len(threads._ORPHANS)
    assert not task.shutdown(10) and not controller.shutdown(10)  # both still busy: parked
    parked = threads._ORPHANS[before:]
    assert sorted(p.what for p in parked) == ["a background task", "the training worker"]
    assert all(p.thread.isRunning() for p in parked)
    threading.Timer(0.3, release.set).start()
    threads.wait_for_parked()  # what quitting does after shutting every owner down
    assert exits == [] and all(p.thread.isFinished() for p in parked)

