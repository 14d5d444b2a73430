"""The training worker: engine built in its own QThread, commands through the engine's API,
results only through drain(), a clean stop within a second, failures as messages."""

from __future__ import annotations

import threading

import pytest
import torch

from app.worker import EngineHandle, TrainingController
from core.engine.commands import Resume, SetHparams, Step
from core.engine.training import TrainConfig, TrainingEngine
from core.errors import GdsimError
from tests.gui.helpers import WAIT


def tiny(**changes) -> TrainConfig:
    base = dict(samples=120, epochs=3, batch_size=16, hidden=(8,), device="cpu", patience=None)
    base.update(changes)
    return TrainConfig(**base)


@pytest.fixture(scope="module", autouse=True)
def _warm_torch():
    TrainingEngine(tiny())  # pay the one-off optimizer import outside the timed waits


@pytest.fixture
def controller(qtbot):
    c = TrainingController()
    yield c
    c.shutdown()


def collect(controller: TrainingController, into: dict) -> bool:
    """Drain once, keep counts (what a view's timer would do); True when something arrived."""
    upd = controller.drain()
    if upd is None:
        return False
    into["steps"] = upd.steps
    into["state"] = upd.state
    into["points"] = into.get("points", 0) + sum(len(c.losses) for c in upd.curves)
    into.setdefault("events", []).extend(upd.events)
    return True


def test_engine_is_built_in_the_worker_thread_and_early_commands_are_replayed(qtbot, controller):
    built_in = []
    original = TrainingEngine.__init__

    def spy(self, *a, **k):
        built_in.append(threading.current_thread().name)
        original(self, *a, **k)

    TrainingEngine.__init__ = spy
    try:
        controller.launch(tiny(epochs=2))
        controller.send(Resume())  # before the engine exists: must not be lost
        seen: dict = {}
        qtbot.waitUntil(
            lambda: collect(controller, seen) and seen["state"] == "finished", timeout=WAIT
        )
    finally:
        TrainingEngine.__init__ = original
    assert built_in and built_in[0] != threading.main_thread().name
    assert seen["steps"] == 2 * controller.engine.batches_per_epoch
    assert seen["points"] == seen["steps"]


def test_step_trains_exactly_the_requested_batches(qtbot, controller):
    controller.launch(tiny())
    controller.send(Step(3))
    seen: dict = {}
    qtbot.waitUntil(lambda: collect(controller, seen) and seen["steps"] == 3, timeout=WAIT)
    qtbot.wait(100)  # nothing more may come
    collect(controller, seen)
    assert seen["steps"] == 3 and seen["state"] == "paused"


def test_live_hparams_and_bad_values(qtbot, controller):
    controller.launch(tiny(epochs=50))
    qtbot.waitUntil(lambda: controller.engine is not None, timeout=WAIT)
    controller.send(Resume())
    controller.send(SetHparams(None, {"lr": 0.05}))
    engine = controller.engine
    qtbot.waitUntil(lambda: engine.lanes[0].optimizer.param_groups[0]["lr"] == 0.05, timeout=WAIT)
    from core.errors import GdsimError

    with pytest.raises(GdsimError):
        controller.send(SetHparams(None, {"lr": -1.0}))


@pytest.mark.qt_log_level_fail("WARNING")
def test_shutdown_mid_run_is_quick_and_leaves_no_thread(qtbot, controller):
    before = {t.ident for t in threading.enumerate()}
    controller.launch(tiny(epochs=100_000, samples=2000))
    controller.send(Resume())
    seen: dict = {}
    qtbot.waitUntil(lambda: collect(controller, seen) and seen["steps"] > 5, timeout=WAIT)
    thread = controller.thread()
    assert thread.isRunning()
    assert controller.shutdown(timeout_ms=1000)
    assert thread.isFinished() and not thread.isRunning()
    leaked = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert leaked == []


@pytest.mark.qt_log_level_fail("WARNING")
def test_a_failing_device_is_a_message_not_a_crash(qtbot, controller, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    config = tiny(device="cuda:0")  # resolves (simulated), but this torch cannot build on it
    with qtbot.waitSignal(controller.failed, timeout=WAIT) as failed:
        controller.launch(config)
    assert failed.args[0] and "\n" not in failed.args[0]
    qtbot.waitUntil(lambda: controller.thread().isFinished(), timeout=WAIT)
    assert not controller.alive
    controller.send(Resume())  # commands to a dead worker are ignored, not raised


def test_relaunch_ignores_the_previous_worker(qtbot, controller):
    controller.launch(tiny())
    first = controller.thread()
    controller.launch(tiny(seed=3))  # stops the first worker
    assert first.isFinished()
    finished = []
    controller.finished.connect(finished.append)
    controller.send(Step(2))
    seen: dict = {}
    qtbot.waitUntil(lambda: collect(controller, seen) and seen["steps"] == 2, timeout=WAIT)
    assert controller.engine.config.seed == 3
    qtbot.wait(50)
    assert finished == []  # the first worker's "done" belongs to an old generation


def test_handle_replays_in_order_and_reports_bad_replays():
    calls = []

    class Fake:
        def send(self, command):
            from core.errors import GdsimError

            if isinstance(command, SetHparams):
                if command.changes["lr"] < 0:
                    raise GdsimError("lr must be > 0, got -1")
                calls.append(("lr", command.changes["lr"]))
            else:
                calls.append(type(command).__name__)

    handle = EngineHandle()
    handle.send(Resume())
    handle.send(SetHparams(None, {"lr": -1}))
    handle.send(SetHparams(None, {"lr": 0.1}))
    errors = []
    handle.attach(Fake(), errors.append)  # type: ignore[arg-type]
    handle.send(Resume())
    assert calls == ["Resume", ("lr", 0.1), "Resume"]
    assert errors == ["lr must be > 0, got -1"]


def test_rapid_relaunches_never_free_a_running_worker(qtbot, controller):
    """Relaunching while the previous worker is still starting used to delete the worker QObject
    on the GUI thread under the running thread (a segfault in about 1 GUI run in 7)."""
    threads = []
    for seed in range(15):
        controller.launch(tiny(seed=seed))
        threads.append(controller.thread())
    assert all(t.isFinished() for t in threads[:-1])
    seen: dict = {}
    controller.send(Step(1))
    qtbot.waitUntil(lambda: collect(controller, seen) and seen["steps"] == 1, timeout=WAIT)
    assert controller.generation >= 15


def test_the_controller_sends_command_values_and_refuses_anything_else(qtbot, controller):
    controller.launch(tiny())
    qtbot.waitUntil(lambda: controller.engine is not None, timeout=WAIT)
    for thing in ("pause", ("resume",), None):
        with pytest.raises(GdsimError, match="not a training command"):
            controller.send(thing)  # type: ignore[arg-type]
    controller.send(Step(2))
    seen: dict = {}
    qtbot.waitUntil(lambda: collect(controller, seen) and seen["steps"] == 2, timeout=WAIT)


def test_the_handle_refuses_anything_but_a_command_before_the_engine_exists():
    handle = EngineHandle()
    with pytest.raises(GdsimError, match="not a training command: 'pause'"):
        handle.send("pause")  # type: ignore[arg-type]
    handle.send(Step(1))
    recorded = []

    class Fake:
        def send(self, command):
            recorded.append(command)

    handle.attach(Fake(), recorded.append)  # type: ignore[arg-type]
    assert recorded == [Step(1)]  # only the command was kept for the engine
