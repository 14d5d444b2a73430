"""BackgroundTask: one function on a worker thread, progress out, exactly one ending per start,
Cancel at once, no thread left behind (also when shut down mid-run or restarted rapidly)."""

from __future__ import annotations

import threading
import time

import pytest

from app import threads
from app.tasks import BackgroundTask
from core.errors import GdsimError, error_line

pytestmark = pytest.mark.qt_log_level_fail("WARNING")  # no Qt warning, e.g. about threads

WAIT = 10_000  # ms; generous for a loaded machine, nothing here measures time


class Recorder:
    """Collects every signal of a task, in order."""

    def __init__(self, task: BackgroundTask) -> None:
        self.events: list[tuple] = []
        task.progress.connect(self.on_progress)
        task.succeeded.connect(self.on_ok)
        task.failed.connect(self.on_failed)
        task.cancelled.connect(self.on_cancelled)

    def on_progress(self, fraction: float, text: str) -> None:
        self.events.append(("progress", fraction, text))

    def on_ok(self, result: object) -> None:
        self.events.append(("ok", result))

    def on_failed(self, message: str) -> None:
        self.events.append(("failed", message))

    def on_cancelled(self) -> None:
        self.events.append(("cancelled",))

    def endings(self) -> list[tuple]:
        return [e for e in self.events if e[0] != "progress"]


def count_to(report, cancelled, n: int, pause: float = 0.0):
    """Reports progress n times; returns the worker thread's name and n."""
    for i in range(n):
        if cancelled():
            return None
        if pause:
            time.sleep(pause)
        report((i + 1) / n, f"{i + 1} of {n}")
    return threading.current_thread() is not threading.main_thread(), n


def spin_until_cancelled(report, cancelled, started: threading.Event):
    started.set()
    while not cancelled():
        time.sleep(0.002)
    return "too late"


def stubborn(report, cancelled, started: threading.Event, release: threading.Event):
    """Ignores cancel until released (a long torch call that cannot be interrupted)."""
    started.set()
    release.wait(60)  # bounded only so that a failing test cannot leave it behind for ever
    return "done"


@pytest.fixture
def task(qtbot):
    t = BackgroundTask()
    yield t
    assert t.shutdown(2000)
    assert t.thread_count() == 0


def test_success_runs_off_the_gui_thread_and_reports_progress_up_to_100(qtbot, task):
    rec = Recorder(task)
    with qtbot.waitSignal(task.succeeded, timeout=WAIT):
        assert task.start(count_to, 200)
        assert task.running
    assert not task.running
    assert rec.endings() == [("ok", (True, 200))]
    progress = [e for e in rec.events if e[0] == "progress"]
    assert progress, "no progress arrived"
    assert progress[-1][1:] == (1.0, "200 of 200")  # the final report is never throttled
    assert len(progress) < 200  # throttled: not one signal per report
    fractions = [p[1] for p in progress]
    assert fractions == sorted(fractions)
    qtbot.waitUntil(lambda: task.thread_count() == 0, timeout=WAIT)


def test_failures_are_one_line_and_name_the_type_unless_they_are_user_errors(qtbot, task):
    rec = Recorder(task)

    def bad_input(report, cancelled):
        raise GdsimError("grid size must be 3..201, got 1")

    def bug(report, cancelled):
        raise RuntimeError("weights are missing\nsecond line")

    with qtbot.waitSignal(task.failed, timeout=WAIT):
        task.start(bad_input)
    with qtbot.waitSignal(task.failed, timeout=WAIT):
        task.start(bug)
    assert rec.endings() == [
        ("failed", "grid size must be 3..201, got 1"),
        ("failed", "RuntimeError: weights are missing"),
    ]
    assert error_line(RuntimeError(), name_type=True) == "RuntimeError"


def test_cancel_is_immediate_and_the_function_sees_it(qtbot, task):
    rec = Recorder(task)
    started = threading.Event()
    task.start(spin_until_cancelled, started)
    assert started.wait(5)
    task.cancel()
    assert not task.running
    assert rec.endings() == [("cancelled",)]  # emitted by cancel() itself
    qtbot.waitUntil(lambda: task.thread_count() == 0, timeout=WAIT)  # the function noticed
    qtbot.wait(50)
    assert rec.endings() == [("cancelled",)]  # its late result was dropped
    task.cancel()  # idle: nothing happens
    assert rec.endings() == [("cancelled",)]


def test_start_while_running_cancels_the_old_run_and_the_new_one_wins(qtbot, task):
    rec = Recorder(task)
    started = threading.Event()
    task.start(spin_until_cancelled, started)
    assert started.wait(5)
    with qtbot.waitSignal(task.succeeded, timeout=WAIT):
        task.start(count_to, 3)
    assert rec.endings() == [("cancelled",), ("ok", (True, 3))]


def test_shutdown_mid_run_stops_the_thread_and_refuses_new_work(qtbot):
    task = BackgroundTask()
    rec = Recorder(task)
    started = threading.Event()
    task.start(spin_until_cancelled, started)
    assert started.wait(5)
    assert task.shutdown(2000)
    assert task.thread_count() == 0 and not task.running
    assert not task.start(count_to, 3)
    qtbot.wait(50)
    assert rec.endings() == []  # nothing is emitted after shutdown


def test_shutdown_parks_a_thread_that_outlives_the_budget(qtbot):
    task = BackgroundTask()
    started, release = threading.Event(), threading.Event()
    task.start(stubborn, started, release)
    assert started.wait(5)
    before = len(threads._ORPHANS)
    try:
        assert not task.shutdown(10)  # still busy: parked, not terminated, not destroyed
        assert len(threads._ORPHANS) == before + 1
        thread, _worker, _what = threads._ORPHANS[-1]
        assert thread.isRunning()
    finally:
        release.set()
    assert thread.wait(WAIT)  # ends by itself once its work returns


def test_many_rapid_start_cancel_cycles_leave_no_thread_and_one_ending_each(qtbot, task):
    rec = Recorder(task)
    for i in range(40):
        task.start(count_to, 50, 0.0005)
        if i % 3 == 0:
            task.cancel()
        qtbot.wait(1)
    with qtbot.waitSignal(task.succeeded, timeout=WAIT):
        task.start(count_to, 5)
    qtbot.waitUntil(lambda: task.thread_count() == 0, timeout=WAIT)
    endings = rec.endings()
    assert len(endings) == 41  # exactly one ending per start
    assert endings[-1] == ("ok", (True, 5))
    assert all(e == ("cancelled",) for e in endings[:-1])


def test_shutdown_while_the_last_signals_are_still_queued_is_safe(qtbot):
    """A run ends, the task is shut down before the GUI thread saw its last signals, then the
    event loop runs and the task is deleted: nothing may touch the freed worker or thread (an
    earlier version crashed here, the pending signals' sender having been deleted)."""
    for _ in range(5):
        task = BackgroundTask()
        rec = Recorder(task)
        task.start(count_to, 2)
        deadline = time.monotonic() + 5
        while task.thread_count() and time.monotonic() < deadline:
            time.sleep(0.002)  # no event processing: done() stays queued
        assert task.shutdown(1000)
        qtbot.wait(20)
        task.deleteLater()
        qtbot.wait(20)
        assert rec.endings() == []  # shut down before the result was delivered: dropped
