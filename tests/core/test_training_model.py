"""TrainingModel without Qt: commands reach the runner in order, a reset in flight holds back
what is made meanwhile, drained states update the run state, sessions round-trip."""

import math

import pytest

from core.engine import commands as cmd
from core.engine.training import (
    Error,
    HparamsChanged,
    LaneStatus,
    ResetDone,
    TrainConfig,
    Update,
)
from core.errors import GdsimError
from core.files.session import Session
from core.state.training import INTENT_S, RunStart, TrainingModel, lane_names

NAMED = {  # a command as a short tuple the assertions read
    cmd.Resume: lambda c: ("start",),
    cmd.Pause: lambda c: ("pause",),
    cmd.Step: lambda c: ("request_step", c.n),
    cmd.SetHparams: lambda c: ("set_hparams", c.lane, *c.changes.items()),
    cmd.SetDevice: lambda c: ("set_device", c.device),
    cmd.Reset: lambda c: ("reset", c.config),
    cmd.RequestBoundary: lambda c: ("request_boundary", c.n, c.lanes),
    cmd.RequestWeights: lambda c: ("request_weights", c.lane),
}


class FakeRunner:
    """Records the commands the model sends; ``alive`` after ``launch``."""

    def __init__(self):
        self.alive = False
        self.engine = None
        self.calls: list[tuple] = []
        self.updates: list[Update] = []

    def launch(self, config):
        self.alive = True
        self.calls.append(("launch", config))

    def shutdown(self, timeout_ms=900):
        self.alive = False
        self.calls.append(("shutdown",))
        return True

    def send(self, command):
        cmd.check_command(command)
        self.calls.append(NAMED[type(command)](command))

    def drain(self):
        return self.updates.pop(0) if self.updates else None

    def names(self):
        return [c[0] for c in self.calls]


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _lane(i, name, lr=0.01):
    nan = math.nan
    kind = name.split("(")[0]
    return LaneStatus(i, name, "training", 0, 0, 0, lr, {}, nan, nan, nan, optimizer=kind)


def _update(model, state="paused", steps=0, events=(), lrs=None):
    names = model.lane_names
    lrs = lrs or [0.01] * len(names)
    lanes = tuple(_lane(i, n, lr) for i, (n, lr) in enumerate(zip(names, lrs, strict=True)))
    return Update(state, "cpu", 30, 25, steps, 100.0, lanes, (), tuple(events), ())


def _reset_done(config):
    return ResetDone(config.as_dict(), config.make_data())


@pytest.fixture
def setup():
    runner, clock = FakeRunner(), Clock()
    config = TrainConfig(samples=200, device="cpu", optimizers=("SGD(lr=0.1)", "Adam(lr=0.01)"))
    model = TrainingModel(runner, config, clock=clock)
    return model, runner, clock


def test_start_launches_then_starts_and_says_running(setup):
    model, runner, _clock = setup
    started, states = [], []
    model.run_started.connect(started.append)
    model.state_changed.connect(states.append)
    model.toggle_run()
    assert runner.names() == ["launch", "start"]
    assert model.state == "running" and states[-1] == "running"
    assert isinstance(started[0], RunStart)
    assert started[0].names == ("SGD(lr=0.1)", "Adam(lr=0.01)")
    model.toggle_run()
    assert runner.names()[-1] == "pause" and model.state == "paused"


def test_a_reset_in_flight_holds_back_start_and_live_changes_then_replays_them(setup):
    model, runner, _clock = setup
    model.ensure_engine()
    model.reset()
    assert model.awaiting_reset and runner.names()[-1] == "reset"
    model.toggle_run()  # Start while the reset is on its way: waits for it
    model.send_hparams(0, {"lr": 0.5})
    assert "start" not in runner.names() and "set_hparams" not in runner.names()
    # what the old run reported meanwhile is dropped
    assert model.apply_update(_update(model, "running", steps=40)) is None
    assert model.steps == 0
    drained = model.apply_update(_update(model, events=[_reset_done(model.config)]))
    assert drained is not None and drained.curves == ()
    assert not model.awaiting_reset
    assert runner.calls[-2] == ("set_hparams", 0, ("lr", 0.5))
    assert runner.names()[-1] == "start" and model.state == "running"


def test_a_second_start_during_a_reset_cancels_the_first(setup):
    model, runner, _clock = setup
    model.ensure_engine()
    model.reset()
    model.toggle_run()
    model.toggle_run()
    model.apply_update(_update(model, events=[_reset_done(model.config)]))
    assert "start" not in runner.names()


def test_a_failed_reset_starts_afresh(setup):
    model, runner, _clock = setup
    messages = []
    model.message.connect(lambda text, error: messages.append((text, error)))
    model.ensure_engine()
    model.reset()
    model.apply_update(_update(model, events=[Error("out of memory")]))
    assert messages[-1] == ("out of memory", True)
    assert runner.names()[-1] == "shutdown" and model.state == "idle"
    assert not model.awaiting_reset


def test_settings_changed_mid_run_wait_for_reset_but_reset_a_fresh_run_at_once(setup):
    model, runner, _clock = setup
    pending = []
    model.pending_changed.connect(pending.append)
    edited = []
    model.settings_edited.connect(lambda: edited.append(True))
    assert model.settings_changed() is False  # no run yet: nothing to reset
    model.ensure_engine()
    assert model.settings_changed()  # nothing trained yet: reset at once
    assert runner.names()[-1] == "reset" and not model.pending
    model.apply_update(_update(model, events=[_reset_done(model.config)]))
    model.toggle_run()
    model.apply_update(_update(model, "running", steps=10))
    model.settings_changed()
    assert model.pending and pending == [True]
    assert runner.names()[-1] == "start"
    model.reset()
    assert not model.pending and pending == [True, False] and len(edited) == 3


def test_live_changes_go_only_to_a_lane_training_the_same_optimizer(setup):
    model, runner, _clock = setup
    model.ensure_engine()
    model.send_hparams(1, {"lr": 0.02})
    assert runner.calls[-1] == ("set_hparams", 1, ("lr", 0.02))
    # the panel switched lane 0 to another optimizer: applies on Reset
    model.set_config(TrainConfig(samples=200, device="cpu", optimizers=("RMSprop", "Adam")))
    model.send_hparams(0, {"lr": 0.3})
    model.send_hparams(2, {"lr": 0.3})  # a lane only the panel has
    assert runner.calls[-1] == ("set_hparams", 1, ("lr", 0.02))


def test_invalid_settings_refuse_commands_with_their_reason(setup):
    model, runner, _clock = setup
    messages = []
    model.message.connect(lambda text, error: messages.append((text, error)))
    model.set_invalid("hidden layers: 'x' is not a number")
    model.toggle_run()
    assert runner.calls == []
    assert messages == [("hidden layers: 'x' is not a number", True)]
    cyclic = "CyclicLR(cycle_momentum=True)"
    bad = TrainConfig(samples=200, device="cpu", optimizers=("Adagrad",), scheduler=cyclic)
    with pytest.raises(GdsimError):
        model.set_config(bad)  # Adagrad has no momentum to cycle: refused before any reset
    assert model.config.scheduler is None
    model.reset()
    assert runner.calls == []


def test_a_click_wins_over_stale_drained_states_for_a_moment(setup):
    model, _runner, clock = setup
    model.toggle_run()
    model.apply_update(_update(model, "paused", steps=3))  # drained before the engine saw Start
    assert model.state == "running"
    clock.t += INTENT_S + 0.1
    model.apply_update(_update(model, "paused", steps=3))
    assert model.state == "paused"


def test_an_untouched_parked_engine_reads_ready_not_paused(setup):
    model, _runner, clock = setup
    model.ensure_engine()
    clock.t += INTENT_S + 0.1
    model.apply_update(_update(model, "paused", steps=0))
    assert model.state == "ready"


def test_drained_lane_status_and_lr_changes(setup):
    model, _runner, _clock = setup
    model.ensure_engine()
    change = HparamsChanged(1, "Adam(lr=0.01)", {"lr": 0.2}, 0.2, 5)
    drained = model.apply_update(_update(model, steps=5, events=[change], lrs=[0.1, 0.2]))
    assert len(drained.lrs_before) == 2 and all(math.isnan(x) for x in drained.lrs_before)
    assert model.lane_lr(1) == 0.2 and math.isnan(model.lane_lr(5))
    assert model.steps == 5 and model.epoch_batch() == (1, 5)
    assert model.status_text() == "Training ready · 2 optimizers racing · epoch 1/30 · cpu"


def test_device_changes_go_live_and_unknown_devices_are_refused(setup):
    model, runner, _clock = setup
    messages = []
    model.message.connect(lambda text, error: messages.append((text, error)))
    model.ensure_engine()
    model.set_device("cpu")
    assert runner.calls[-1] == ("set_device", "cpu")
    model.set_device("cuda:99")
    assert runner.calls[-1] == ("set_device", "cpu")
    assert messages[-1][0].startswith("Cannot use this device") and messages[-1][1]


def test_sessions_round_trip_and_applying_one_pauses_and_resets(setup):
    model, runner, _clock = setup
    loaded = []
    model.config_loaded.connect(loaded.append)
    model.toggle_run()
    other = TrainConfig(dataset="circles", samples=300, device="cpu", optimizers=("SGD",))
    model.apply(Session(view="training", training=other))
    assert loaded == [other]
    assert runner.names()[-2:] == ["pause", "reset"]
    assert runner.calls[-1][1] == other
    session = model.to_session()
    assert session.view == "training" and session.training == other


def test_a_panel_that_cannot_hold_a_loaded_value_says_so_after_the_reset(setup):
    model, runner, _clock = setup
    messages = []
    model.message.connect(lambda text, error: messages.append((text, error)))
    fitted = TrainConfig(samples=200, device="cpu", optimizers=("SGD",))

    def panel_fits(_config):
        model.set_config(fitted)
        model.fitted("Seed changed to fit.")

    model.config_loaded.connect(panel_fits)
    model.apply(Session(view="training", training=TrainConfig(samples=200, seed=2**40)))
    assert runner.calls[-1] == ("launch", fitted)
    assert messages[-1] == ("Seed changed to fit.", False)


def test_a_suggested_lr_selects_its_lane_first(setup):
    model, _runner, _clock = setup
    seen = []
    model.lane_selected.connect(lambda lane: seen.append(("lane", lane)))
    model.lr_suggested.connect(lambda lr: seen.append(("lr", lr)))
    model.suggest_lr(1, 0.03)
    model.suggest_lr(1, 0.04)
    assert seen == [("lane", 1), ("lr", 0.03), ("lr", 0.04)] and model.selected_lane == 1


def test_weights_are_asked_of_a_live_engine_only(setup):
    model, runner, _clock = setup
    assert model.request_weights(0) is None
    model.ensure_engine()
    assert model.request_weights(0) is None  # launched, but the engine is still being built
    runner.engine = object()
    future = model.request_weights(1)
    assert runner.calls[-1] == ("request_weights", 1) and not future.done()


def test_lane_names_number_repeated_specs():
    assert lane_names(("SGD", "Adam", "SGD", "SGD")) == ["SGD", "Adam", "SGD #2", "SGD #3"]
