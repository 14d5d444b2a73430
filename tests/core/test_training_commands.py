"""Typed commands to the training engine: every command type has one handler, reached by type;
anything else is refused when sent, in the sender's thread."""

import threading
import time

import pytest

import core.engine.training as training
from core.engine import commands as cmd
from core.engine.training import TrainConfig, TrainingEngine
from core.errors import GdsimError

EXAMPLES = [
    cmd.Resume(),
    cmd.Pause(),
    cmd.Stop(),
    cmd.Step(2),
    cmd.SetHparams(0, {"lr": 0.01}),
    cmd.SetDevice("cpu"),
    cmd.RequestBoundary(5),
    cmd.RequestWeights(0),
    cmd.Reset(),
]


@pytest.fixture(scope="module")
def engine():
    return TrainingEngine(TrainConfig(samples=200, epochs=2, batch_size=50, device="cpu", seed=0))


def test_the_examples_cover_every_command_type_and_each_has_a_handler():
    assert {type(c) for c in EXAMPLES} == set(cmd.COMMANDS)
    assert set(training._HANDLERS) == set(cmd.COMMANDS)


@pytest.mark.parametrize("command", EXAMPLES, ids=lambda c: type(c).__name__)
def test_sending_a_command_reaches_the_handler_of_its_type(engine, command, monkeypatch):
    seen = []
    for kind in cmd.COMMANDS:
        monkeypatch.setitem(training._HANDLERS, kind, lambda _engine, c: seen.append(c))
    engine.send(command)
    engine.process_commands()
    assert [type(c) for c in seen] == [type(command)]


@pytest.mark.parametrize("thing", ["pause", ("resume",), object(), cmd.Pause])
def test_anything_but_a_command_is_refused_naming_it(engine, thing):
    with pytest.raises(GdsimError, match="not a training command") as info:
        engine.send(thing)
    assert repr(thing)[:20] in str(info.value)
    engine.process_commands()  # nothing was queued
    assert engine.state == "ready"


def test_typed_commands_drive_a_running_engine_as_its_methods_do():
    engine = TrainingEngine(TrainConfig(samples=200, epochs=50, batch_size=50, device="cpu"))
    engine.send(cmd.SetHparams(None, {"lr": 0.2}))
    engine.send(cmd.Step(3))
    thread = threading.Thread(target=engine.run, kwargs={"paused": True}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while engine.step_count < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    engine.send(cmd.Stop())
    thread.join(20)
    assert not thread.is_alive() and engine.state == "stopped"
    assert engine.step_count == 3 and engine.lanes[0].lr == pytest.approx(0.2)
    with pytest.raises(GdsimError, match="steps"):
        engine.send(cmd.Step(0))
    with pytest.raises(GdsimError, match="no lane 5"):
        engine.send(cmd.RequestWeights(5))


def test_each_lane_reports_its_optimizer_by_name():
    """What the window matches a live change against (not a parse of the lane's display name)."""
    config = TrainConfig(
        samples=200, batch_size=50, device="cpu", optimizers=("SGD(lr=0.1)", "Adam", "SGD(lr=0.1)")
    )
    lanes = TrainingEngine(config).drain().lanes
    assert [lane.optimizer for lane in lanes] == ["SGD", "Adam", "SGD"]
    assert lanes[2].name.endswith("#2")
