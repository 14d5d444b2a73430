"""Stress: the window driven the way a nervous lecturer drives it, hundreds of times, in a seeded
random order with short random waits -- buttons, Space/S/R, surface changes, optimizers added and
removed, learning-rate sliders dragged, tabs switched, devices switched mid-run, the window
closed at random moments (mid-training, mid-reset, mid-LR-finder, mid-landscape).

Every test checks what a user would suffer from: no exception (pytest-qt's capture and the
window's own exception reporter), no Qt warning, no worker thread left running after close, no
thread parked as an orphan, and a window that still answers (one Step still moves it).

``GDSIM_STRESS_ROUNDS`` (default 120) sets the actions per storm; ``GDSIM_STRESS_SEEDS``
(default "0,1") the seeds.
"""

from __future__ import annotations

import gc
import logging
import os
import random
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from collections import Counter
from pathlib import Path

import pytest
import shiboken6
import torch
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSlider,
    QSpinBox,
    QStyle,
    QStyleOptionSlider,
    QWidget,
)

import app.threads as threads
from app import errors
from app.main_window import SHUTDOWN_BUDGET_S, MainWindow
from core.engine.training import TrainingEngine
from core.state.events import Event
from tests.gui import helpers
from tests.gui.helpers import (
    WAIT,
    reveal,
    settle,
    slow_compute,
    thread_waits,
    tiny_training,
    type_into,
)

ROUNDS = int(os.environ.get("GDSIM_STRESS_ROUNDS", "120"))
SEEDS = [int(s) for s in os.environ.get("GDSIM_STRESS_SEEDS", "0,1").split(",") if s.strip()]
WAITS_MS = (0, 0, 0, 1, 2, 5, 10, 20)
ROOT = Path(__file__).resolve().parents[2]

pytestmark = [*helpers.QT_WARNINGS_FAIL, pytest.mark.usefixtures("warm_torch")]


# --- fixtures and helpers ---------------------------------------------------------------------


class Guard:
    """What must not happen during a test: exceptions, gdsim errors/warnings in the log, threads
    left behind, workers parked as orphans (they would abort the process at exit)."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        self.py_threads = {t.ident for t in threading.enumerate()}
        self.orphans = len(threads._ORPHANS)
        self.reporter = errors.install(show_dialogs=False)
        self.history = len(self.reporter.history)

    def new_orphans(self) -> list:
        return threads._ORPHANS[self.orphans :]

    def check_closed(self, qtbot) -> None:
        """After the window closed: no thread of ours still running, nothing parked."""
        assert self.new_orphans() == [], "a worker was still busy after close"
        qtbot.waitUntil(lambda: not helpers.running_qthreads(), timeout=WAIT)
        gc.collect()
        leaked = [
            t.name
            for t in threading.enumerate()
            if t.ident not in self.py_threads
            and t.is_alive()
            # a QThread that logged gets a _DummyThread entry, which Python never removes
            and not isinstance(t, threading._DummyThread)
        ]
        assert leaked == []

    def check_quiet(self) -> None:
        assert len(self.reporter.history) == self.history, self.reporter.history[-1]
        noisy = [
            r
            for r in self.caplog.records
            if r.name.startswith("gdsim") and r.levelno >= logging.WARNING
        ]
        assert noisy == [], [r.getMessage() for r in noisy]

    def close_quietly(self, qtbot, win) -> None:
        """The end of a storm: nothing was reported, then the window closes leaving nothing."""
        self.check_quiet()
        win.close()
        self.check_closed(qtbot)

    def release_orphans(self) -> None:
        """Let parked workers finish before the test ends (an orphan's QThread destroyed while
        running would abort the whole test process at exit)."""
        for thread, _worker, _what in self.new_orphans():
            if shiboken6.isValid(thread):
                thread.wait(30_000)


@pytest.fixture
def guard(qtbot, caplog):
    caplog.set_level(logging.WARNING, logger="gdsim")
    g = Guard(caplog)
    yield g
    g.release_orphans()


def bounded(waits) -> bool:
    """Every wait had a deadline within the shutdown budget (see helpers.thread_waits)."""
    return all(isinstance(ms, int) and 0 <= ms <= SHUTDOWN_BUDGET_S * 1000 for ms, _ended in waits)


def make_window(qtbot) -> MainWindow:
    win = helpers.shown(qtbot, MainWindow(restore=False))
    win.activateWindow()
    return win


def click(qtbot, button: QPushButton) -> None:
    """Press ``button`` if a user could press it right now. Unlike ``helpers.click`` a disabled
    or hidden button is skipped, not an error: mid-storm a button may be disabled by the events
    that scrolling it into view let through."""
    reveal(button)
    if button.isEnabled() and button.isVisible():
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def drag_slider(qtbot, slider: QSlider, fraction: float) -> None:
    """Press the handle, move to ``fraction`` of the groove in two steps, release."""
    reveal(slider)
    opt = QStyleOptionSlider()
    slider.initStyleOption(opt)
    handle = slider.style().subControlRect(
        QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderHandle, slider
    )
    start = handle.center()
    end = QPoint(int(2 + fraction * (slider.width() - 4)), start.y())
    mid = QPoint((start.x() + end.x()) // 2, start.y())
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(slider, pos=mid)
    qtbot.mouseMove(slider, pos=end)
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=end)


def child(root: QWidget, cls, name: str):
    found = root.findChildren(cls, name)
    assert found, f"no {cls.__name__} named {name!r}"
    return found[0]


def small_training(qtbot, win: MainWindow):
    """The Training tab, set through its fields to a tiny, long run."""
    return tiny_training(qtbot, win, hidden="8")


# --- the storms -------------------------------------------------------------------------------


def surface_actions(qtbot, win: MainWindow, rng: random.Random, done: Counter) -> dict:
    view = win.surface_view
    buttons = {n: child(view, QPushButton, n) for n in ("runButton", "stepButton", "resetButton")}
    combo = child(view, QComboBox, "surfaceCombo")
    add_combo = child(view, QComboBox, "addOptimizerCombo")
    optimizer_list = child(view, QListWidget, "optimizerList")
    # (no expression undefined somewhere on the map: a start there is a known bug, pinned by
    # test_a_start_where_the_surface_is_undefined_is_shown_as_diverged)
    expressions = ["x**2 + 10*y**2", "sin(x)*cos(y) + 0.1*(x^2+y^2)", "x**", "exp(x) + y**4", "z"]

    def press(name: str):
        return lambda: click(qtbot, buttons[name])

    def key():
        qtbot.keyClick(view.plots.map, rng.choice([Qt.Key.Key_Space, Qt.Key.Key_S,
                                                    Qt.Key.Key_Right, Qt.Key.Key_R]))  # fmt: skip

    def surface():
        combo.setCurrentIndex(rng.randrange(combo.count()))

    def expression():
        type_into(qtbot, child(view, QLineEdit, "expressionEdit"), rng.choice(expressions))

    def add():
        if len(view.entries) < 8:
            add_combo.setCurrentIndex(rng.randrange(add_combo.count()))
            click(qtbot, child(view, QPushButton, "addOptimizerButton"))

    def remove():
        if optimizer_list.count() > 1:
            optimizer_list.setCurrentRow(rng.randrange(optimizer_list.count()))
            click(qtbot, child(view, QPushButton, "removeOptimizerButton"))

    def select():
        if optimizer_list.count():
            optimizer_list.setCurrentRow(rng.randrange(optimizer_list.count()))

    def lr():
        sliders = view.findChildren(QSlider, "lrSlider")
        if sliders and sliders[0].isVisible():
            drag_slider(qtbot, sliders[0], rng.random())

    def speed():
        drag_slider(qtbot, child(view, QSlider, "speedSlider"), rng.random())

    def start_point():
        vp = view.plots.map.viewport()
        pos = QPoint(rng.randrange(10, vp.width() - 10), rng.randrange(10, vp.height() - 10))
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=pos)

    table = {
        "run": press("runButton"), "step": press("stepButton"), "reset": press("resetButton"),
        "key": key, "surface": surface, "expression": expression, "add": add, "remove": remove,
        "select": select, "lr": lr, "speed": speed, "start": start_point,
    }  # fmt: skip
    return {name: _counted(fn, name, done) for name, fn in table.items()}


def training_actions(qtbot, win: MainWindow, rng: random.Random, done: Counter) -> dict:
    view = win.training_view
    buttons = {
        n: child(view, QPushButton, n)
        for n in ("trainRunButton", "trainStepButton", "trainResetButton", "addRaceButton")
    }
    optimizer = child(view, QComboBox, "optimizerCombo")
    lr_slider = child(view, QSlider, "trainLrSlider")

    def press(name: str):
        return lambda: click(qtbot, buttons[name])

    def key():
        qtbot.keyClick(view.plots.widgets()[0], rng.choice([Qt.Key.Key_Space, Qt.Key.Key_S,
                                                             Qt.Key.Key_R]))  # fmt: skip

    def lr():
        drag_slider(qtbot, lr_slider, rng.uniform(0.2, 0.75))  # ~1e-3 .. ~1: mostly sane

    def page_key():
        lr_slider.setFocus()
        qtbot.keyClick(lr_slider, rng.choice([Qt.Key.Key_PageUp, Qt.Key.Key_PageDown]))

    def switch_optimizer():
        optimizer.setCurrentIndex(optimizer.findData(rng.choice(["SGD", "Adam", "RMSprop"])))

    def race_lane():
        # a pending lr send (<= 60 ms after a drag) must reach the engine before a lane goes:
        # removing the lane first is a known bug, pinned by test_removing_a_lane_right_after...
        qtbot.waitUntil(lambda: not view.transport.lr_send_timer.isActive(), timeout=WAIT)
        if len(view.controls.specs) < 3:
            click(qtbot, buttons["addRaceButton"])
        else:
            view.controls.select_lane(rng.randrange(len(view.controls.specs)))
            click(qtbot, child(view, QPushButton, "removeRaceButton"))

    table = {
        "train-run": press("trainRunButton"), "train-step": press("trainStepButton"),
        "train-reset": press("trainResetButton"), "train-key": key, "train-lr": lr,
        "train-page": page_key, "train-optimizer": switch_optimizer, "train-lane": race_lane,
    }  # fmt: skip
    return {name: _counted(fn, name, done) for name, fn in table.items()}


def _counted(fn, name: str, done: Counter):
    def run() -> None:
        fn()
        done[name] += 1

    return run


def storm(qtbot, rng: random.Random, actions: dict, rounds: int) -> None:
    names = sorted(actions)
    for _ in range(rounds):
        actions[rng.choice(names)]()
        wait = rng.choice(WAITS_MS)
        if wait:
            qtbot.wait(wait)
        else:
            QApplication.processEvents()


def surfaces_still_answer(qtbot, win: MainWindow) -> None:
    view = win.surface_view
    if view.model.running:
        click(qtbot, child(view, QPushButton, "runButton"))
    if not view.entries:
        view.add_runner("Adam(lr=0.01)")
    click(qtbot, child(view, QPushButton, "resetButton"))
    assert view.race.t == 0 and not view.model.running
    click(qtbot, child(view, QPushButton, "stepButton"))
    assert view.race.t == 1 or not view.race.active
    assert all(len(view.trajectory(rid)[0]) >= 1 for rid in view.entries)


def training_still_answers(qtbot, win: MainWindow) -> None:
    view = win.training_view
    # a Start pressed while a reset was on its way still applies after it (and after a second
    # Reset pressed meanwhile): let that play out first, then pause
    settle(qtbot, view)
    if view.model.state == "running":
        click(qtbot, child(view, QPushButton, "trainRunButton"))
    type_into(qtbot, child(view, QAbstractSpinBox, "trainLrSpin"), "0.01")
    click(qtbot, child(view, QPushButton, "trainResetButton"))
    settle(qtbot, view)

    def state() -> str:
        engine = view.controller.engine
        return (
            f"view {view.model.state} steps {view.model.steps} awaiting-reset {view.model.awaiting_reset} "
            f"message {view.message_text()!r} engine {engine.state if engine else None}"
        )

    try:
        qtbot.waitUntil(lambda: view.model.state == "ready" and view.model.steps == 0, timeout=WAIT)
        click(qtbot, child(view, QPushButton, "trainStepButton"))
        qtbot.waitUntil(lambda: view.model.steps == 1, timeout=WAIT)
    except Exception as exc:
        raise AssertionError(f"the training view does not answer: {state()}") from exc


# --- tests ------------------------------------------------------------------------------------


def test_removing_a_lane_right_after_dragging_its_lr(qtbot, guard):
    win = make_window(qtbot)
    view = small_training(qtbot, win)
    click(qtbot, child(view, QPushButton, "addRaceButton"))  # lane 2, selected
    assert view.controls.current_lane() == 1
    settle(qtbot, view)
    click(qtbot, child(view, QPushButton, "trainRunButton"))  # two lanes racing
    qtbot.waitUntil(lambda: view.model.steps > 10, timeout=WAIT)
    slider = child(view, QSlider, "trainLrSlider")
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key.Key_PageUp)  # the lecturer nudges lane 2's lr...
    click(qtbot, child(view, QPushButton, "removeRaceButton"))  # ...and removes lane 2 at once
    qtbot.wait(200)
    win.close()
    assert len(view.controls.specs) == 1
    guard.check_quiet()


def test_a_start_where_the_surface_is_undefined_is_shown_as_diverged(qtbot, guard):
    win = make_window(qtbot)
    view = win.surface_view
    type_into(qtbot, child(view, QLineEdit, "expressionEdit"), "log(x) + y**2")
    assert view.race.surface.name == "log(x) + y**2"
    try:
        view.set_start(-1.0, 0.5)  # what a click on the map left of x = 0 does
        click(qtbot, child(view, QPushButton, "addOptimizerButton"))
        click(qtbot, child(view, QPushButton, "stepButton"))
    finally:
        win.close()
    assert all(e.runner.status == "diverged" for e in view.entries.values())
    assert "diverged" in win.status_label.text()
    guard.check_quiet()


@pytest.mark.parametrize("seed", SEEDS)
def test_surfaces_storm(qtbot, guard, seed):
    rng = random.Random(seed)
    win = make_window(qtbot)
    done: Counter = Counter()
    storm(qtbot, rng, surface_actions(qtbot, win, rng, done), ROUNDS)
    assert len(done) >= 10, done  # the storm really mixed its actions
    surfaces_still_answer(qtbot, win)
    guard.close_quietly(qtbot, win)


@pytest.mark.parametrize("seed", SEEDS)
def test_training_storm(qtbot, guard, seed):
    rng = random.Random(100 + seed)
    win = make_window(qtbot)
    small_training(qtbot, win)
    done: Counter = Counter()
    storm(qtbot, rng, training_actions(qtbot, win, rng, done), ROUNDS)
    assert len(done) >= 7, done
    training_still_answers(qtbot, win)
    guard.close_quietly(qtbot, win)


@pytest.mark.parametrize("seed", SEEDS)
def test_both_views_and_tab_switches(qtbot, guard, seed):
    """Both views at once (a race running while training runs), tabs switched under them."""
    rng = random.Random(200 + seed)
    win = make_window(qtbot)
    small_training(qtbot, win)
    done: Counter = Counter()
    actions = {
        **surface_actions(qtbot, win, rng, done),
        **training_actions(qtbot, win, rng, done),
    }
    switch = _counted(
        lambda: win.tabs.setCurrentIndex(rng.randrange(win.tabs.count())), "tab", done
    )
    actions["tab"] = switch
    # training actions act on a hidden view too: a user cannot, but shortcuts, timers and
    # queued commands can (and a hidden view must not break)
    storm(qtbot, rng, actions, ROUNDS)
    assert done["tab"] > 0
    win.show_view("surfaces")
    surfaces_still_answer(qtbot, win)
    win.show_view("training")
    training_still_answers(qtbot, win)
    guard.close_quietly(qtbot, win)


@pytest.fixture
def two_devices(monkeypatch):
    """A machine with one (simulated) CUDA GPU: listed and resolvable, not really usable."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Fake GPU")
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)


def test_switching_to_a_failing_device_mid_run_keeps_training(qtbot, guard, two_devices):
    win = make_window(qtbot)
    view = small_training(qtbot, win)
    combo = child(view, QComboBox, "deviceCombo")
    view.controls.refresh_devices()
    assert combo.findData("cuda:0") >= 0
    click(qtbot, child(view, QPushButton, "trainRunButton"))
    qtbot.waitUntil(lambda: view.model.steps > 20, timeout=WAIT)
    combo.setCurrentIndex(combo.findData("cuda:0"))  # this torch has no CUDA: the move fails
    qtbot.waitUntil(
        lambda: "could not move training to cuda:0" in view.message_text(), timeout=WAIT
    )
    assert "still on cpu" in view.message_text()
    steps = view.model.steps
    qtbot.waitUntil(lambda: view.model.steps > steps + 20, timeout=WAIT)  # still training, on cpu
    assert view.controller.engine.device == torch.device("cpu") and view.model.state == "running"
    combo.setCurrentIndex(combo.findData("cpu"))
    training_still_answers(qtbot, win)
    guard.caplog.clear()  # the failed move is logged on purpose
    guard.close_quietly(qtbot, win)


def test_switching_devices_back_and_forth_mid_run(qtbot, guard, two_devices, monkeypatch):
    """A second device that works: 'cuda:0' is mapped to torch.device('cpu', 0), a distinct
    device to the engine (so the whole move happens: model, optimizer state, evaluation data)
    that this machine can really compute on."""
    import core.engine.training as training

    real = training.resolve_device

    def resolve(request):
        device = real(request)
        return torch.device("cpu", 0) if device.type == "cuda" else device

    monkeypatch.setattr(training, "resolve_device", resolve)
    win = make_window(qtbot)
    view = small_training(qtbot, win)
    combo = child(view, QComboBox, "deviceCombo")
    view.controls.refresh_devices()
    # no early stopping: its "not improved" line would replace the last move's message
    type_into(qtbot, child(view, QSpinBox, "patienceSpin"), "0")
    settle(qtbot, view)
    assert view.controller.engine.config.patience is None
    click(qtbot, child(view, QPushButton, "trainRunButton"))
    rng = random.Random(5)
    for i in range(12):
        steps = view.model.steps
        target = "cuda:0" if i % 2 == 0 else "cpu"
        combo.setCurrentIndex(combo.findData(target))
        want = "cpu:0" if target == "cuda:0" else "cpu"
        qtbot.waitUntil(lambda w=want: view.model.device == w, timeout=WAIT)
        qtbot.waitUntil(lambda s=steps: view.model.steps > s + 5, timeout=WAIT)  # goes on training
        qtbot.wait(rng.choice(WAITS_MS))
    engine = view.controller.engine
    assert engine.step_count >= 12 * 5
    lanes = view.controller.drain().lanes
    assert all(lane.state == "training" for lane in lanes)
    assert "moved from" in view.message_text()
    training_still_answers(qtbot, win)
    guard.close_quietly(qtbot, win)


CLOSE_MOMENTS = ["training", "reset-pending", "race", "both", "lr-finder", "landscape"]


@pytest.mark.parametrize("moment", CLOSE_MOMENTS)
def test_closing_at_a_random_moment(qtbot, guard, moment, monkeypatch):
    rng = random.Random(moment)
    win = make_window(qtbot)
    if moment in ("race", "both"):
        sv = win.surface_view
        sv.set_speed(2000)
        click(qtbot, child(sv, QPushButton, "runButton"))
        qtbot.waitUntil(lambda: sv.race.t > 10, timeout=WAIT)
    if moment != "race":
        view = small_training(qtbot, win)
        tools = win.tools["training"]  # installed by the window (MainWindow._install_tools)
        click(qtbot, child(view, QPushButton, "trainRunButton"))
        qtbot.waitUntil(lambda: view.model.steps > 30, timeout=WAIT)
        if moment == "reset-pending":
            click(qtbot, child(view, QPushButton, "trainResetButton"))
            assert view.model.awaiting_reset
        elif moment == "lr-finder":
            finder = tools["training_lrfinder"]
            finder.controls.steps_spin.setValue(2000)
            click(qtbot, child(view, QPushButton, "findLrButton"))
            qtbot.waitUntil(lambda: finder.controls.progress.value() > 0, timeout=WAIT)
            assert finder.running
        elif moment == "landscape":
            tool = tools["training_landscape"]
            view.pages.tabs.setCurrentWidget(tool.page)
            tool.page.grid.setValue(tool.page.grid.maximum())  # a long computation
            slow_compute(monkeypatch)  # long on any machine: still running at the check below
            click(qtbot, child(tool.page, QPushButton, "computeLandscapeButton"))
            qtbot.waitUntil(lambda: tool.page.progress.value() > 0, timeout=WAIT)
            assert tool.task.running
    qtbot.wait(rng.randrange(0, 60))
    with thread_waits(monkeypatch) as waits:
        win.close()
    # the close waited for each busy worker with a deadline, and each obeyed the stop within it
    assert bounded(waits) and all(ended for _ms, ended in waits)
    assert waits or moment == "race"  # the race has no worker thread; everything else has one
    guard.check_closed(qtbot)
    guard.check_quiet()


def test_closing_while_the_engine_is_still_being_built(qtbot, guard, monkeypatch):
    """A slow machine: the worker is still building its engine (first torch import) when the
    window closes. The close must not wait for it (it is parked), and nothing may crash."""
    original = TrainingEngine.__init__

    def slow_init(self, *args, **kwargs):
        time.sleep(1.5)
        original(self, *args, **kwargs)

    monkeypatch.setattr(TrainingEngine, "__init__", slow_init)
    win = make_window(qtbot)
    win.show_view("training")
    controller = win.training_view.controller
    # the worker thread has started building (it starts after the view's first frame)
    qtbot.waitUntil(lambda: controller.thread() is not None and controller.thread().isRunning())
    thread = controller.thread()
    with thread_waits(monkeypatch) as waits:
        win.close()
    assert bounded(waits) and not all(ended for _ms, ended in waits)  # gave up within budget
    assert guard.new_orphans(), "expected the busy worker to be parked, not waited for"
    guard.release_orphans()  # it ends by itself once the build returns
    assert thread.isFinished()
    guard.caplog.clear()  # "still busy after 900 ms; letting it finish" is logged on purpose


EXIT_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from app.main_window import MainWindow
    from core.engine.training import TrainingEngine

    original = TrainingEngine.__init__
    def slow_init(self, *a, **k):  # the worker is busy for BUSY_S when the window closes
        time.sleep(float(sys.argv[1]))
        original(self, *a, **k)
    TrainingEngine.__init__ = slow_init
    app = QApplication(sys.argv[:1])
    win = MainWindow(restore=False)
    win.show()
    QTimer.singleShot(50, lambda: win.show_view("training"))  # the user opens Training...
    QTimer.singleShot(150, win.close)  # ... and quits right away (Ctrl+Q)
    QTimer.singleShot(200, app.quit)
    sys.exit(app.exec())
    """
)


def quit_while_busy(tmp_path: Path, busy_s: float) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "GDSIM_SETTINGS_ORG": "gdsim-tests",
        "XDG_CONFIG_HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, str(busy_s)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_quitting_right_after_opening_training_exits_cleanly(tmp_path):
    """A slow machine's first start (torch's imports): the worker is still building its engine
    past the close budget (0.9 s) and is parked; quitting must wait for it, not abort."""
    out = quit_while_busy(tmp_path, 1.5)
    assert "Destroyed while thread" not in out.stderr
    assert out.returncode == 0, out.stderr[-500:]


def test_quitting_while_a_batch_takes_long_exits_cleanly(tmp_path, monkeypatch):
    """A worker still busy past the exit wait (a big network's batch, a slow first build) was
    destroyed running: 'QThread: Destroyed while thread is still running', SIGABRT, a core dump.
    Now the process ends without it, with status 0 and a one-line warning."""
    monkeypatch.setenv(threads.EXIT_WAIT_ENV, "1")  # 30 s by default; the worker is busy 30 s
    out = quit_while_busy(tmp_path, 30.0)
    assert "Destroyed while thread" not in out.stderr
    assert out.returncode == 0, out.stderr[-500:]
    assert "training worker still busy after 1 s at exit" in out.stderr  # not waited for


# --- unexpected exceptions: a dialog, not a dead window -------------------------------------


def error_dialogs() -> list:
    from PySide6.QtWidgets import QMessageBox

    return [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.objectName() == "errorDialog" and w.isVisible()
    ]


@pytest.mark.qt_no_exception_capture
def test_an_unexpected_exception_is_a_dialog_and_the_session_survives(qtbot, monkeypatch, caplog):
    """A bug in a slot (here: the race's step raising once, as a real bug would) shows the
    error dialog, is logged, and everything the user set up is still there and still works."""
    monkeypatch.setenv(errors.DIALOGS_ENV, "1")
    win = make_window(qtbot)
    reporter = errors.install(show_dialogs=True)
    sv = win.surface_view
    sv.set_surface("himmelblau")
    sv.add_runner("Adagrad(lr=0.3)")
    for _ in range(4):
        click(qtbot, child(sv, QPushButton, "stepButton"))
    before = win.current_session()
    points = [e.runner.point for e in sv.entries.values()]
    real_step = type(sv.race).step
    calls = []

    def buggy_step(self, n=1, anatomy=False):
        calls.append(n)
        if len(calls) == 1:
            raise RuntimeError("a bug in the race")
        return real_step(self, n, anatomy)

    monkeypatch.setattr(type(sv.race), "step", buggy_step)
    seen = len(reporter.history)
    with caplog.at_level(logging.ERROR, logger="gdsim.errors"):
        click(qtbot, child(sv, QPushButton, "stepButton"))  # the bug fires in the slot
        qtbot.waitUntil(lambda: len(error_dialogs()) == 1, timeout=WAIT)
    (dialog,) = error_dialogs()
    assert "RuntimeError: a bug in the race" in dialog.informativeText()
    assert "a bug in the race" in dialog.detailedText() and "buggy_step" in dialog.detailedText()
    assert "still running" in dialog.text()
    assert len(reporter.history) == seen + 1 and "a bug in the race" in caplog.text
    # the user's session is intact, and the window still works
    assert win.current_session() == before
    assert [e.runner.point for e in sv.entries.values()] == points
    click(qtbot, child(sv, QPushButton, "stepButton"))
    assert sv.race.t == 5
    dialog.close()
    win.close()
    reporter.show_dialogs = False


@pytest.mark.qt_no_exception_capture
def test_a_bug_in_every_redraw_gives_one_dialog_not_a_flood(qtbot, monkeypatch):
    monkeypatch.setenv(errors.DIALOGS_ENV, "1")
    win = make_window(qtbot)
    reporter = errors.install(show_dialogs=True)
    sv = win.surface_view
    monkeypatch.setattr(sv.plots, "redraw", lambda *a, **k: 1 / 0)  # raises on every tick
    click(qtbot, child(sv, QPushButton, "runButton"))
    qtbot.waitUntil(lambda: len(reporter.history) >= 2 and bool(error_dialogs()), timeout=WAIT)
    qtbot.waitUntil(lambda: "more since" in error_dialogs()[0].informativeText(), timeout=WAIT)
    assert len(error_dialogs()) == 1  # one dialog, counting repeats
    assert sv.model.running and sv.race.t > 0  # the race itself keeps going
    click(qtbot, child(sv, QPushButton, "runButton"))  # and the user can still pause it
    assert not sv.model.running
    for d in error_dialogs():
        d.close()
    win.close()
    reporter.show_dialogs = False


@pytest.mark.qt_no_exception_capture
def test_a_training_worker_that_dies_is_a_message_and_reset_recovers(qtbot, guard, monkeypatch):
    import core.engine.training as training

    win = make_window(qtbot)
    view = small_training(qtbot, win)
    real = training.TrainingEngine._step_once
    calls = []

    def dying(self):
        calls.append(1)
        if len(calls) == 20:
            raise RuntimeError("a bug in the training loop")
        return real(self)

    monkeypatch.setattr(training.TrainingEngine, "_step_once", dying)
    click(qtbot, child(view, QPushButton, "trainRunButton"))
    qtbot.waitUntil(lambda: "a bug in the training loop" in view.message_text(), timeout=WAIT)
    assert "Training could not run" in view.message_text()
    qtbot.waitUntil(lambda: view.model.state == "idle", timeout=WAIT)
    assert win.surface_view.race is not None  # the other view is untouched
    click(qtbot, child(view, QPushButton, "trainResetButton"))  # a new worker, a fresh run
    settle(qtbot, view)
    click(qtbot, child(view, QPushButton, "trainStepButton"))
    qtbot.waitUntil(lambda: view.model.steps == 1, timeout=WAIT)
    guard.caplog.clear()  # the worker's traceback is logged on purpose
    win.close()
    guard.check_closed(qtbot)


@pytest.mark.parametrize("used", [False, True], ids=["fresh", "both-views-used"])
def test_a_closed_window_is_freed(qtbot, used):
    """Children that keep a Python reference to their window make a cycle through Qt's ownership
    that the collector cannot see: every closed window (one per GUI test) then stayed alive and
    re-styled itself on each theme change, slowing every later window."""
    win = MainWindow(restore=False)
    if used:
        win.show()
        qtbot.waitExposed(win)
        for key in ("training", "surfaces"):
            win.show_view(key)
            qtbot.keyClick(win, Qt.Key.Key_S)  # one step (a race step, one training batch)
            qtbot.wait(100)
        win.code_panel.toggleViewAction().trigger()  # the code dock refers back to its window
        qtbot.wait(50)
    shown = (win.surface_view, win.training_view) if used else (win.surface_view,)
    views = [weakref.ref(v) for v in shown]
    del shown
    win.close()
    ref = weakref.ref(win)
    del win
    gc.collect()
    assert ref() is None
    assert [v() for v in views if v() is not None] == []  # and its views with it


def test_a_deleted_window_leaves_no_callbacks_in_its_surface_model(qtbot):
    """The surface view and its tools subscribe to the Qt-free model; once their widgets are
    gone, nothing of them is left in its event lists to be called on a deleted widget."""
    win = MainWindow(restore=False)
    model = win.surface_view.model
    events = [e for e in vars(model.events).values() if isinstance(e, Event)]
    assert any(e._callbacks for e in events)  # the view, its controls and its tools follow it
    win.close()
    ref = weakref.ref(win)
    del win
    assert ref() is None  # freed by its last reference: nothing in a cycle waits for the collector
    assert [fn for e in events for fn in e._callbacks] == []
    model.reset()  # an event now reaches no deleted widget
