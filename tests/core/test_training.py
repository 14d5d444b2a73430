"""The training engine: learning, determinism, thread control, live changes, schedulers, LBFGS,
divergence, race mode, devices, events. Small data so each test takes well under a second or two;
every wait on another thread has a timeout so a bug cannot hang the suite."""

import json
import math
import threading
import time

import numpy as np
import pytest
import torch

import core.engine.training as training
from core.engine.schedulers import parse_scheduler, scheduler_names
from core.engine.training import (
    ACTIVATIONS,
    Boundary,
    Diverged,
    EarlyStop,
    EpochEnd,
    Error,
    HparamsChanged,
    TrainConfig,
    TrainingEngine,
    build_mlp,
    parse_hidden,
)
from core.errors import GdsimError

TIMEOUT = 20.0


def small(**changes) -> TrainConfig:
    """400 samples, batch 32 -> 10 batches per epoch."""
    settings = dict(samples=400, epochs=5, batch_size=32, device="cpu", seed=0)
    settings.update(changes)
    return TrainConfig(**settings)


def wait_for(predicate, timeout=TIMEOUT):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.005)
    raise AssertionError("timed out waiting")


def run_in_thread(engine, **kwargs):
    result = {}
    thread = threading.Thread(
        target=lambda: result.setdefault("state", engine.run(**kwargs)), daemon=True
    )
    thread.start()
    return thread, result


def stop_and_join(engine, thread):
    """Stop a run driven by :func:`run_in_thread`; its thread must end within TIMEOUT."""
    engine.stop()
    thread.join(TIMEOUT)
    assert not thread.is_alive()


def epoch_events(update):
    return [e for e in update.events if isinstance(e, EpochEnd)]


# ---- model and config ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [("16,16", (16, 16)), (" 8 ", (8,)), ("32, 16, 8", (32, 16, 8)), ("", ()), ("none", ())],
)
def test_parse_hidden(text, expected):
    assert parse_hidden(text) == expected


@pytest.mark.parametrize("text", ["16,x", "16,-4", "0,16", "1.5", "5000", "1,1,1,1,1,1,1,1,1"])
def test_parse_hidden_rejects(text):
    with pytest.raises(GdsimError):
        parse_hidden(text)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_mlp_shapes_and_seeded_init(activation):
    a = build_mlp((8, 4), activation, 3, seed=1)
    b = build_mlp((8, 4), activation, 3, seed=1)
    assert a(torch.zeros(5, 2)).shape == (5, 3)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    c = build_mlp((8, 4), activation, 3, seed=2)
    assert not torch.equal(next(a.parameters()), next(c.parameters()))


def test_build_mlp_leaves_global_rng_alone():
    state = torch.get_rng_state().clone()
    build_mlp((16, 16), "relu", 2, seed=0)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize(
    "changes, words",
    [
        (dict(epochs=0), "epochs must be between 1"),
        (dict(batch_size=0), "batch size must be between 1"),
        (dict(batch_size=2.5), "batch size must be a whole number"),
        (dict(activation="swish"), "unknown activation 'swish'"),
        (dict(optimizers="Adamm"), "Adamm"),
        (dict(optimizers=()), "at least one optimizer"),
        (dict(scheduler="StepLR(gamma=2.0)"), "StepLR gamma"),
        (dict(scheduler="Warmup"), "unknown scheduler 'Warmup'"),
        (dict(dataset="mnist"), "unknown data set 'mnist'"),
        (dict(val_fraction=0.0), "val_fraction"),
        (dict(hidden="a,b"), "hidden layer sizes"),
        (dict(patience=0), "patience"),
    ],
)
def test_config_rejects_bad_input_with_one_line(changes, words):
    with pytest.raises(GdsimError) as info:
        small(**changes)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_config_canonicalises_and_accepts_a_single_spec():
    config = small(optimizers="sgd(lr=0.1, momentum=0.9)", hidden="8,8", scheduler="none")
    assert config.optimizers == ("SGD(lr=0.1, momentum=0.9)",)
    assert config.hidden == (8, 8) and config.scheduler is None


def test_unavailable_device_is_refused_at_construction(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(GdsimError, match="'cuda' is not available.*available: cpu"):
        TrainingEngine(small(device="cuda"))


# ---- learning and determinism -----------------------------------------------------------------


def test_moons_reaches_high_validation_accuracy():
    engine = TrainingEngine(small(samples=600, epochs=15))
    assert engine.run() == "finished"
    history = engine.lanes[0].history
    assert len(history) == 15
    assert history[-1].val_accuracy >= 0.9
    assert history[-1].train_loss < history[0].train_loss / 2


def test_same_seed_same_numbers_other_seed_other_numbers():
    def curve(seed):
        engine = TrainingEngine(small(epochs=2, seed=seed))
        engine.step(1000)
        update = engine.drain()
        return update.curves[0].losses, [e.val_loss for e in epoch_events(update)]

    losses_a, val_a = curve(0)
    losses_b, val_b = curve(0)
    assert len(losses_a) == 20
    assert np.array_equal(losses_a, losses_b) and val_a == val_b
    losses_c, _ = curve(1)
    assert not np.array_equal(losses_a, losses_c)


def test_training_leaves_the_global_rng_alone_and_does_not_depend_on_it():
    """Each epoch's DataLoader iterator draws a seed; from torch's global RNG unless the loader
    has its own generator. Training then moved a notebook's seeded draws made after it."""

    def losses(global_seed: int) -> np.ndarray:
        torch.manual_seed(global_seed)
        torch.rand(5)  # something else used the global RNG before this run
        state = torch.get_rng_state().clone()
        engine = TrainingEngine(small(epochs=3, optimizers=("SGD(lr=0.1)", "Adam(lr=0.01)")))
        engine.run()
        engine.boundary(8)
        engine.reset()
        engine.step(engine.batches_per_epoch + 1)  # an epoch end after a reset too
        assert torch.equal(torch.get_rng_state(), state)  # nothing drawn from it
        return engine.drain().curves[0].losses

    first, second = losses(0), losses(12345)
    assert len(first) == 3 * 10 + 11 and np.array_equal(first, second)  # same seed, same batches


def test_run_and_step_give_the_same_numbers():
    a = TrainingEngine(small(epochs=2))
    a.run()
    b = TrainingEngine(small(epochs=2))
    while b.step(3):
        pass
    assert np.array_equal(a.drain().curves[0].losses, b.drain().curves[0].losses)
    assert b.state == "finished"


def test_steps_are_single_batches_and_epochs_end_with_validation():
    engine = TrainingEngine(small(epochs=2))
    assert engine.batches_per_epoch == 10
    assert engine.step(9) == 9
    update = engine.drain()
    assert update.curves[0].steps.tolist() == list(range(9)) and not epoch_events(update)
    engine.step(1)
    (epoch,) = epoch_events(engine.drain())
    assert epoch.epoch == 1 and epoch.steps == 10 and 0 <= epoch.val_accuracy <= 1
    assert math.isfinite(epoch.train_loss) and math.isfinite(epoch.val_loss)
    assert engine.step(100) == 10 and engine.state == "finished"


def test_events_and_updates_hold_plain_values_only():
    engine = TrainingEngine(small(epochs=1))
    engine.request_boundary(8)
    engine.run()
    update = engine.drain()

    def walk(value):
        assert not isinstance(value, torch.Tensor)
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        elif hasattr(value, "__dataclass_fields__"):
            for name in value.__dataclass_fields__:
                walk(getattr(value, name))
        elif isinstance(value, np.ndarray):
            assert value.dtype != object

    walk(update)
    assert update.boundaries and update.events and len(update.curves[0].losses) == 10
    json.dumps(engine.metrics(), allow_nan=False)


# ---- control from another thread ------------------------------------------------------------


def test_pause_before_the_first_batch_then_single_steps_then_stop():
    engine = TrainingEngine(small(epochs=50))
    engine.pause()  # queued before run(): applied before any batch
    thread, result = run_in_thread(engine)
    wait_for(lambda: engine.drain().state == "paused")
    assert engine.step_count == 0
    engine.request_step()
    wait_for(lambda: engine.step_count == 1)
    engine.request_step(3)
    wait_for(lambda: engine.step_count == 4)
    time.sleep(0.05)
    assert engine.step_count == 4 and engine.state == "paused"  # exactly the steps asked for
    stop_and_join(engine, thread)
    assert result["state"] == "stopped"
    assert engine.step_count == 4


def test_pause_resume_stop_while_running():
    engine = TrainingEngine(small(epochs=10_000))
    thread, result = run_in_thread(engine)
    wait_for(lambda: engine.step_count > 5)
    engine.pause()
    wait_for(lambda: engine.state == "paused")
    paused_at = engine.step_count
    time.sleep(0.1)
    assert engine.step_count == paused_at
    engine.resume()
    wait_for(lambda: engine.step_count > paused_at + 5)
    stop_and_join(engine, thread)
    assert result["state"] == "stopped"
    # stop only ends run(): another run continues the same training
    stopped_at = engine.step_count
    engine.step(2)
    assert engine.step_count == stopped_at + 2


def test_step_requested_while_running_pauses_first():
    engine = TrainingEngine(small(epochs=10_000))
    thread, _ = run_in_thread(engine)
    wait_for(lambda: engine.step_count > 3)
    engine.drain()
    engine.request_step(2)
    events = []

    def paused_event():
        events.extend(e for e in engine.drain().events if e.kind == "state")
        return any(e.state == "paused" for e in events)

    wait_for(paused_event)
    paused_at = next(e.step for e in events if e.state == "paused")
    wait_for(lambda: engine.step_count == paused_at + 2)
    time.sleep(0.05)
    assert engine.step_count == paused_at + 2 and engine.state == "paused"
    stop_and_join(engine, thread)


def test_drain_from_another_thread_while_training():
    engine = TrainingEngine(small(epochs=20))
    thread, _ = run_in_thread(engine)
    steps, epochs = [], []
    while thread.is_alive() or not steps:
        update = engine.drain()
        steps.append(update.curves[0].steps)
        epochs += epoch_events(update)
        thread.join(1 / 60)
    update = engine.drain()
    steps.append(update.curves[0].steps)
    epochs += epoch_events(update)
    all_steps = np.concatenate(steps)
    assert all_steps.tolist() == list(range(200))  # every batch exactly once, in order
    assert [e.epoch for e in epochs] == list(range(1, 21))


def test_run_can_keep_serving_after_finishing():
    engine = TrainingEngine(small(epochs=1))
    thread, _ = run_in_thread(engine, exit_when_done=False)
    wait_for(lambda: engine.state == "finished")
    engine.request_boundary(5)
    wait_for(lambda: bool(engine.drain().boundaries) or False, timeout=TIMEOUT)
    assert thread.is_alive()
    stop_and_join(engine, thread)


def test_a_second_driver_is_refused():
    engine = TrainingEngine(small(epochs=10_000))
    thread, _ = run_in_thread(engine)
    wait_for(lambda: engine.step_count > 0)
    with pytest.raises(RuntimeError, match="already being driven"):
        engine.step()
    stop_and_join(engine, thread)


def test_cpu_thread_setting_is_restored():
    before = torch.get_num_threads()
    engine = TrainingEngine(small(epochs=1, cpu_threads=1))
    engine.step(2)
    assert torch.get_num_threads() == before


# ---- live hyperparameter changes -------------------------------------------------------------


def test_live_lr_change_applies_at_next_step_and_keeps_momentum():
    engine = TrainingEngine(small(optimizers="SGD(lr=0.05, momentum=0.9)"))
    engine.step(3)
    optimizer = engine.lanes[0].optimizer
    params = list(engine.lanes[0].model.parameters())
    old_buffers = [optimizer.state[p]["momentum_buffer"].clone() for p in params]
    changer = threading.Thread(target=lambda: engine.set_hparams(lr=0.5))
    changer.start()
    changer.join(TIMEOUT)
    before = [p.detach().clone() for p in params]
    engine.step(1)
    assert optimizer.param_groups[0]["lr"] == 0.5
    for p, old_buf, b in zip(params, old_buffers, before, strict=True):
        buf = optimizer.state[p]["momentum_buffer"]
        # the buffer continued (0.9 * old + this batch's gradient) ...
        assert torch.allclose(buf, 0.9 * old_buf + p.grad, atol=1e-6)
        # ... and the step used the new lr: p_new = p_old - 0.5 * buf
        assert torch.allclose(p.detach(), b - 0.5 * buf, atol=1e-6)
    update = engine.drain()
    changes = [e for e in update.events if isinstance(e, HparamsChanged)]
    assert changes and changes[0].changes == {"lr": 0.5} and changes[0].step == 3
    # the lane is named for what trains now (messages, the landscape's title, gdsim train)
    assert changes[0].lane_name == engine.lanes[0].name == "SGD(lr=0.5, momentum=0.9)"
    assert update.lanes[0].lr == 0.5 and update.lanes[0].hparams["momentum"] == 0.9
    assert update.curves[0].lrs.tolist()[-1] == 0.5


def test_other_hyperparameters_change_live():
    engine = TrainingEngine(small(optimizers="Adam(lr=0.01)"))
    engine.step(2)
    engine.set_hparams(betas=(0.5, 0.9), weight_decay=0.01)
    engine.step(1)
    group = engine.lanes[0].optimizer.param_groups[0]
    assert tuple(group["betas"]) == (0.5, 0.9) and group["weight_decay"] == 0.01


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(lr=-1.0), "lr"),
        (dict(momentum=0.5), "momentum"),  # Adam has none
        (dict(lane=3, lr=0.1), "no lane 3"),
    ],
)
def test_bad_live_changes_raise_in_the_callers_thread(kwargs, words):
    engine = TrainingEngine(small())
    with pytest.raises(GdsimError, match=words):
        engine.set_hparams(**kwargs)


def test_user_lr_change_rescales_an_epoch_schedule():
    engine = TrainingEngine(small(optimizers="SGD(lr=0.1)", scheduler="StepLR(step_size=1)"))
    engine.step(10)  # epoch 1 ends: StepLR multiplies by the default gamma 0.1
    assert engine.lanes[0].lr == pytest.approx(0.01)
    engine.set_hparams(lr=0.2)
    engine.step(1)
    assert engine.lanes[0].lr == pytest.approx(0.2)  # the user's value is in force
    engine.step(9)  # epoch 2 ends: the schedule continues from the user's level
    assert engine.lanes[0].lr == pytest.approx(0.02)


@pytest.mark.parametrize("scheduler", ["OneCycleLR", "CosineAnnealingLR(T_max=2)", "CyclicLR"])
def test_user_lr_change_rescales_the_rest_of_the_schedule(scheduler):
    """The rule: lr set to new while old is in force scales the schedule by new/old from then on
    (a scheduler that recomputes lr from its own base values must not undo the change)."""

    def lrs(change: bool):
        engine = TrainingEngine(small(epochs=3, optimizers="SGD(lr=0.1)", scheduler=scheduler))
        engine.step(12)
        if change:
            engine.set_hparams(lr=engine.lanes[0].lr * 2)
        engine.run()
        return engine.drain().curves[0].lrs

    reference, changed = lrs(False), lrs(True)
    assert np.allclose(changed[:12], reference[:12])
    assert np.allclose(changed[12:], 2 * reference[12:], rtol=1e-6)


# ---- schedulers -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", scheduler_names())
def test_every_scheduler_runs_a_whole_run_with_defaults(name):
    engine = TrainingEngine(small(epochs=3, optimizers="SGD(lr=0.1, momentum=0.9)", scheduler=name))
    assert engine.run() == "finished"
    lrs = np.concatenate([c.lrs for c in [engine.drain().curves[0]]])
    assert len(lrs) == 30 and np.isfinite(lrs).all() and (lrs >= 0).all()


def test_onecycle_steps_per_batch_over_the_whole_run():
    engine = TrainingEngine(small(epochs=4, optimizers="SGD(lr=0.1)", scheduler="OneCycleLR"))
    engine.run()
    lrs = engine.drain().curves[0].lrs
    assert len(set(lrs[:10].tolist())) == 10  # changes every batch
    assert lrs.max() == pytest.approx(0.1, rel=1e-3)  # max_lr defaults to the optimizer's lr
    assert lrs[0] == pytest.approx(0.1 / 25) and lrs[-1] < lrs[0] / 100


def test_epoch_schedulers_step_once_per_epoch():
    engine = TrainingEngine(
        small(epochs=4, optimizers="SGD(lr=0.1)", scheduler="ExponentialLR(gamma=0.5)")
    )
    engine.run()
    update = engine.drain()
    lrs = update.curves[0].lrs
    assert set(lrs[:10].tolist()) == {0.1} and set(lrs[10:20].tolist()) == {0.05}
    assert [e.lr for e in epoch_events(update)] == pytest.approx([0.1, 0.05, 0.025, 0.0125])


def test_cosine_defaults_to_the_run_length():
    engine = TrainingEngine(
        small(epochs=4, optimizers="SGD(lr=0.1)", scheduler="CosineAnnealingLR")
    )
    engine.run()
    assert engine.lanes[0].history[-1].next_lr == pytest.approx(0.0, abs=1e-12)
    assert engine.lanes[0].history[1].next_lr == pytest.approx(0.05)


def test_plateau_scheduler_uses_validation_loss():
    # lr so small the validation loss cannot improve: after the first epoch (which sets the
    # best), ReduceLROnPlateau(patience=0) halves lr at every epoch end
    engine = TrainingEngine(
        small(
            epochs=3,
            optimizers="SGD(lr=1e-6)",
            scheduler="lr_scheduler.ReduceLROnPlateau(factor=0.5, patience=0)",
        )
    )
    engine.run()
    assert [e.next_lr for e in engine.lanes[0].history] == pytest.approx([1e-6, 5e-7, 2.5e-7])


@pytest.mark.parametrize(
    "text, words",
    [
        ("StepLR(step_size=0)", "StepLR step_size"),
        ("StepLR(gamma=True)", "gamma must be a number"),
        ("StepLR(10)", "positional argument"),
        ("OneCycleLR(anneal_strategy='tri')", "anneal_strategy must be one of"),
        ("MultiStepLR(milestones=(5, 2))", "increasing"),
        ("ExponentialLR(foo=1)", "has no argument 'foo'"),
        ("torch.optim.StepLR", "not allowed"),
        ("", "empty"),
    ],
)
def test_scheduler_specs_are_validated(text, words):
    with pytest.raises(GdsimError, match=words):
        parse_scheduler(text)


def test_cycle_momentum_needs_an_optimizer_with_momentum():
    with pytest.raises(GdsimError, match="cycle_momentum"):
        TrainingEngine(small(optimizers="Adagrad", scheduler="OneCycleLR(cycle_momentum=True)"))


# ---- LBFGS, divergence, early stopping ----------------------------------------------------------


def test_lbfgs_uses_a_closure_and_learns():
    engine = TrainingEngine(small(optimizers="LBFGS(lr=1.0, max_iter=5)", batch_size=400, epochs=6))
    assert engine.batches_per_epoch == 1
    assert engine.run() == "finished"
    history = engine.lanes[0].history
    assert history[-1].val_loss < history[0].val_loss
    assert history[-1].val_accuracy >= 0.8


def test_absurd_lr_diverges_stops_and_reset_recovers():
    engine = TrainingEngine(small(epochs=50, optimizers="SGD(lr=1e6)"))
    assert engine.run() == "diverged"
    update = engine.drain()
    (event,) = [e for e in update.events if isinstance(e, Diverged)]
    assert not math.isfinite(event.loss) and event.epoch >= 1
    assert update.lanes[0].state == "diverged"
    assert engine.step(1) == 0  # a diverged run does not go on
    engine.reset(small(epochs=2, optimizers="SGD(lr=0.1)"))
    engine.process_commands()
    assert engine.state == "ready" and engine.step_count == 0
    (reset,) = [e for e in engine.drain().events if e.kind == "reset"]
    assert reset.config["optimizers"] == ["SGD(lr=0.1)"] and reset.data.x.shape == (400, 2)
    assert engine.run() == "finished"
    assert np.isfinite(engine.drain().curves[0].losses).all()


def test_a_nan_loss_stops_the_lane_at_that_batch():
    engine = TrainingEngine(small(epochs=3, optimizers="SGD(lr=1e30)"))
    done = engine.step(30)  # three epochs' worth: stops early, right after the nan
    update = engine.drain()
    (event,) = [e for e in update.events if isinstance(e, Diverged)]
    assert not math.isfinite(event.loss) and event.batch >= 0
    assert done == engine.step_count == engine.lanes[0].steps == event.step + 1
    assert update.curves[0].steps.tolist() == list(range(event.step + 1))
    assert engine.state == "diverged"


def test_early_stop_is_signalled_once_without_stopping():
    engine = TrainingEngine(small(epochs=6, optimizers="SGD(lr=1e-9)", patience=2))
    engine.run()
    update = engine.drain()
    stops = [e for e in update.events if isinstance(e, EarlyStop)]
    assert len(stops) == 1 and not stops[0].stopped and stops[0].patience == 2
    assert len(engine.lanes[0].history) == 6 and engine.state == "finished"


def test_early_stop_stops_when_asked():
    engine = TrainingEngine(small(epochs=6, optimizers="SGD(lr=1e-9)", patience=2, stop_early=True))
    assert engine.run() == "finished"
    assert engine.lanes[0].state == "stopped early"
    assert len(engine.lanes[0].history) == 3  # best at 1, no improvement at 2 and 3


# ---- race mode --------------------------------------------------------------------------------


def test_race_lanes_start_equal_and_see_the_same_batches():
    config = small(epochs=2, optimizers=("SGD(lr=0.1)", "Adam(lr=0.01)", "SGD(lr=0.1)"))
    engine = TrainingEngine(config)
    models = [lane.model.state_dict() for lane in engine.lanes]
    for other in models[1:]:
        for key in models[0]:
            assert torch.equal(models[0][key], other[key])
    assert [lane.name for lane in engine.lanes] == [
        "SGD(lr=0.1)",
        "Adam(lr=0.01)",
        "SGD(lr=0.1) #2",
    ]
    engine.run()
    curves = engine.drain().curves
    # identical optimizer + identical init + identical batch order = identical numbers
    assert np.array_equal(curves[0].losses, curves[2].losses)
    # a different optimizer: same first loss (same weights, same first batch), then different
    assert curves[0].losses[0] == curves[1].losses[0]
    assert not np.array_equal(curves[0].losses, curves[1].losses)


def test_a_diverging_race_lane_does_not_stop_the_others():
    engine = TrainingEngine(small(epochs=2, optimizers=("SGD(lr=1e6)", "SGD(lr=0.1)")))
    assert engine.run() == "finished"
    states = [lane.state for lane in engine.lanes]
    assert states == ["diverged", "finished"]


# ---- decision boundary, devices, bounded buffers -------------------------------------------------


def test_boundary_grid_probabilities():
    engine = TrainingEngine(small(dataset="spiral(arms=3)", epochs=1))
    engine.step(3)
    (grid,) = engine.boundary(20)
    assert isinstance(grid, Boundary) and grid.probs.shape == (20, 20, 3)
    assert grid.probs.dtype == np.float32 and grid.xs.shape == (20,)
    assert np.allclose(grid.probs.sum(axis=2), 1.0, atol=1e-5)
    assert grid.step == 3 and engine.lanes[0].model.training


def test_move_to_the_same_device_mid_run_keeps_training():
    engine = TrainingEngine(small(epochs=1, optimizers="Adam(lr=0.01)"))
    engine.step(3)
    engine.set_device("cpu")
    engine.step(7)
    assert engine.state == "finished" and not [
        e for e in engine.drain().events if isinstance(e, Error)
    ]


def test_a_move_takes_every_lane_and_its_optimizer_state_along(monkeypatch):
    """A real move without a GPU: "cuda" resolves to torch's ``meta`` device (tensors without
    data), so a move that left anything behind on the CPU shows."""
    engine = TrainingEngine(small(epochs=1, optimizers=("Adam(lr=0.01)", "SGD(momentum=0.9)")))
    engine.step(3)
    monkeypatch.setattr(training, "resolve_device", lambda request: torch.device("meta"))
    swap = torch.__future__.get_swap_module_params_on_conversion()
    torch.__future__.set_swap_module_params_on_conversion(True)  # keep Parameter objects, as a
    try:  # CPU <-> GPU move does (meta would otherwise get new ones)
        engine.set_device("cuda")
        engine.process_commands()
    finally:
        torch.__future__.set_swap_module_params_on_conversion(swap)
    assert engine.device == torch.device("meta")
    assert not [e for e in engine.drain().events if isinstance(e, Error)]
    for lane in engine.lanes:
        for p in lane.model.parameters():
            assert p.device.type == "meta"
            tensors = [v for v in lane.optimizer.state[p].values() if v.dim() > 0]
            assert tensors and all(v.device.type == "meta" for v in tensors)


def test_failed_move_to_a_simulated_gpu_reports_and_keeps_training(monkeypatch):
    engine = TrainingEngine(small(epochs=1, optimizers="Adam(lr=0.01)"))
    engine.step(3)
    optimizer = engine.lanes[0].optimizer
    p = next(engine.lanes[0].model.parameters())
    exp_avg = optimizer.state[p]["exp_avg"].clone()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    engine.set_device("cuda")  # resolves (simulated), but this torch cannot really move there
    engine.process_commands()
    errors = [e for e in engine.drain().events if isinstance(e, Error)]
    if torch.cuda.device_count() and str(engine.device).startswith("cuda"):  # a real GPU
        assert not errors
        return
    assert errors and "could not move training to cuda" in errors[0].message
    assert "\n" not in errors[0].message
    assert engine.device == torch.device("cpu")
    assert torch.equal(
        optimizer.state[next(engine.lanes[0].model.parameters())]["exp_avg"], exp_avg
    )
    engine.step(7)
    assert engine.state == "finished"


def test_undrained_curve_stays_bounded(monkeypatch):
    monkeypatch.setattr(training, "MAX_CURVE_POINTS", 16)
    engine = TrainingEngine(small(epochs=10))
    for _ in range(100):
        engine.step(1)  # a flush after every step
    curve = engine.drain().curves[0]
    assert len(curve.losses) <= 16 and curve.dropped == 100 - len(curve.losses)
    assert np.all(np.diff(curve.steps) > 0) and curve.steps[-1] >= 84


def test_metrics_schema():
    engine = TrainingEngine(small(epochs=2))
    engine.run()
    metrics = json.loads(json.dumps(engine.metrics(), allow_nan=False))
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    for key in ("train_loss", "val_loss", "val_accuracy", "lr", "train_accuracy"):
        assert isinstance(metrics["epochs"][0][key], float)
    assert metrics["device"] == "cpu" and metrics["state"] == "finished"
    assert metrics["final"]["epoch"] == 2 and metrics["dataset"]["train"] == 320


def test_losses_kept_on_the_device_are_converted_in_groups_and_nan_is_caught():
    """The GPU path (detached loss tensors, one stack per flush), exercised with CPU tensors."""
    engine = TrainingEngine(small(epochs=3))
    engine.step(2)
    engine.drain()
    lane = engine.lanes[0]
    lane.pending = [torch.tensor(0.25), torch.tensor(0.5), torch.tensor(float("nan"))]
    lane.pending_lrs = [0.01] * 3
    engine._flush()
    update = engine.drain()
    assert update.curves[0].losses[:2].tolist() == [0.25, 0.5]
    assert update.curves[0].steps.tolist() == [2, 3, 4]
    (event,) = [e for e in update.events if isinstance(e, Diverged)]
    assert event.step == 4 and event.epoch == 1 and event.batch == 4
    assert update.state == "diverged" and update.lanes[0].state == "diverged"
