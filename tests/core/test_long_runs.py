"""Long runs, short: the structures a ten-million-step race or a million-batch training run keeps
must stay bounded. Checked structurally (lengths, buffer sizes, live Python objects), never by
timing or RSS -- ``python -m core.bench.soak`` does the long version and watches the process's memory.

``GDSIM_LONG_SCALE`` (default 1) multiplies the step counts for a longer local run.
"""

from __future__ import annotations

import gc
import math
import os

import numpy as np
import pytest

import core.bench.soak as soak
import core.engine.training as training
from core.engine.race import Race, RunnerSnapshot, Trail
from core.engine.runtime import torch_threads
from core.engine.training import TrainConfig, TrainingEngine

SCALE = max(1, int(os.environ.get("GDSIM_LONG_SCALE", "1")))


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Small tensors: one intra-op thread is faster and steadier on a shared machine."""
    with torch_threads(1):
        yield


def live_objects() -> int:
    gc.collect()
    return len(gc.get_objects())


# --- the race -----------------------------------------------------------------------------------


def test_a_trail_keeps_at_most_its_cap_over_millions_of_steps():
    cap = 64
    trail = Trail(cap)
    buffers = (trail._pts, trail._loss, trail._step)
    n = 10_000_000 * SCALE  # the ten million steps: appends are cheap
    checkpoints = {1_000, 65_536, 1_000_003, n - 1}
    for k in range(n):
        trail.append(k, float(k), -float(k), 1.0 / (k + 1))
        if k in checkpoints:
            steps = trail.steps()
            assert len(trail) == len(steps) <= cap
            assert steps[0] == 0 and steps[-1] == k  # the start and the newest are kept
            spacing = np.diff(steps[:-1])
            assert (spacing == trail.stride).all()  # evenly spaced samples
            assert np.array_equal(trail.points()[:, 0], steps.astype(float))
    assert (trail._pts, trail._loss, trail._step) == buffers  # never reallocated
    assert trail.stride == 2 ** math.ceil(math.log2(n / (cap - 1)))


def test_a_long_race_keeps_bounded_histories_and_no_growing_objects():
    race = Race("rosenbrock", history=16)
    runners = [race.add("SGD(lr=0.001, momentum=0.9)"), race.add("Adam(lr=0.02)")]
    diverging = race.add("SGD(lr=1000.0)")  # stops early; must not keep anything growing either
    starts = np.random.default_rng(0).uniform(-2, 2, (16, 2))
    swarm = race.add_swarm("Adam(lr=0.05)", starts, trail=8)
    race.step(1_000)
    before = live_objects()
    steps = 3_000 * SCALE  # ~8 decimations of every trail
    for _ in range(steps // 250):
        race.step(250)
        race.set_hparams(runners[1], lr=0.02 if race.t % 500 else 0.03)  # the slider
        for snap in race.snapshot():  # what every redraw reads
            if isinstance(snap, RunnerSnapshot):
                assert len(snap.points) == len(snap.losses) == len(snap.step_index) <= 16
        assert swarm.recent().shape == (8, 16, 2)
    after = live_objects()
    assert race.t == 1_000 + steps
    assert all(r.steps == race.t and len(r.trail) <= 16 for r in runners)
    assert diverging.status == "diverged" and len(diverging.trail) <= 16
    assert after - before < 50, f"{after - before} Python objects more after {steps} steps"


# --- training -----------------------------------------------------------------------------------


def small(**changes) -> TrainConfig:
    base = dict(
        samples=200, batch_size=32, hidden=(4,), epochs=100_000, device="cpu", patience=3, seed=0
    )
    base.update(changes)
    return TrainConfig(**base)


def test_an_undrained_engine_keeps_its_buffers_capped(monkeypatch):
    monkeypatch.setattr(training, "MAX_CURVE_POINTS", 500)
    monkeypatch.setattr(training, "MAX_EVENTS", 50)
    engine = TrainingEngine(small(optimizers=("Adam(lr=0.01)", "SGD(lr=0.1)")))
    batches = 3_000 * SCALE
    for _ in range(batches // 250):
        engine.step(250)
        for _ in range(5):
            engine.request_boundary(10)  # piles up: only the newest grid per lane is kept
        engine.set_hparams(lr=0.05)
        engine.process_commands()
        with engine._lock:
            for chunks in engine._out.values():
                assert chunks[3] <= 500 and sum(len(c) for c in chunks[1]) == chunks[3]
            assert len(engine._events) <= 50 and len(engine._boundaries) <= 2
        for lane in engine.lanes:
            assert len(lane.pending) == 0 and len(lane.epoch_losses) <= engine.batches_per_epoch
            assert len(lane.history) == lane.epoch <= engine.config.epochs
            assert len(lane.trajectory) <= training.MAX_TRAJECTORY
    assert engine.step_count == batches
    update = engine.drain()
    for curve in update.curves:
        assert len(curve.losses) <= 500 and curve.dropped == batches - len(curve.losses)
        assert np.all(np.diff(curve.steps) > 0) and curve.steps[-1] == batches - 1
    assert len(update.events) <= 50 and update.dropped_events > 0
    assert len(update.boundaries) <= 2
    empty = engine.drain()
    assert empty.events == () and all(len(c.losses) == 0 for c in empty.curves)


def test_a_drained_engine_hands_out_bounded_updates_and_keeps_little():
    engine = TrainingEngine(small())
    engine.step(500)
    engine.drain()
    before = live_objects()
    batches = 3_000 * SCALE
    for _ in range(batches // 100):  # the view's timer: drain after every ~100 batches
        engine.step(100)
        update = engine.drain()
        assert len(update.curves[0].losses) == 100 and update.curves[0].dropped == 0
    epochs = batches // engine.batches_per_epoch
    grown = live_objects() - before
    # one EpochEnd record per epoch stays for metrics() (bounded by config.epochs); nothing else
    assert grown <= epochs + 50, f"{grown} objects more over {epochs} epochs"


# --- the soak script ------------------------------------------------------------------------------


def test_soak_runs_both_phases_and_reports_memory():
    lines: list[str] = []
    status = soak.main(
        ["--race-steps", "600", "--train-batches", "300", "--interval", "0.05"], out=lines.append
    )
    assert status == 0, "\n".join(lines)
    assert lines[0].startswith("soak on ")
    assert any(line.startswith("race ") and "rss" in line for line in lines)
    assert any(line.startswith("train") and "rss" in line for line in lines)
    summary = [line for line in lines if line.endswith(": OK")]
    assert [s.split(":")[0] for s in summary] == ["race", "train"]


def test_soak_exits_non_zero_when_memory_grows(monkeypatch):
    rss = iter(range(100, 10_000, 20))  # +20 MB at every sample: a leak
    monkeypatch.setattr(soak, "rss_mb", lambda: float(next(rss)))
    lines: list[str] = []
    status = soak.main(
        ["--race-steps", "400", "--train-batches", "0", "--interval", "0.001"], out=lines.append
    )
    assert status == 1
    assert lines[-1].startswith("race: ") and lines[-1].endswith("GREW")


def test_growth_is_measured_after_the_warm_up():
    def samples(values):
        return [soak.Sample("race", i * 10, float(i), v, 0) for i, v in enumerate(values)]

    # warm-up (first 10 % = done <= 10) may grow; flat afterwards is no growth
    assert soak.growth_after_warmup(samples([100, 150, 150, 150.5, 150]), 40, 0.25)[1:] == (
        0.5,
        0.0,
    )
    base, peak, final = soak.growth_after_warmup(samples([100, 150, 160, 170, 180]), 40, 0.25)
    assert (base, peak, final) == (150, 30, 30)
    assert all(math.isnan(v) for v in soak.growth_after_warmup([], 10, 0.1))


def test_soak_refuses_bad_arguments(capsys):
    with pytest.raises(SystemExit) as exc:
        soak.main(["--race-steps", "-1"])
    assert exc.value.code == 2
    assert "must be" in capsys.readouterr().err


def test_per_epoch_records_are_thinned_not_kept_forever(monkeypatch) -> None:
    import core.engine.training as training

    monkeypatch.setattr(training, "MAX_HISTORY", 8)
    engine = training.TrainingEngine(
        training.TrainConfig(samples=40, batch_size=40, epochs=40, hidden=(4,), device="cpu")
    )
    assert engine.run() == "finished"
    history = engine.lanes[0].history
    assert len(history) <= 8
    assert history[0].epoch == 1 and history[-1].epoch == 40  # first and latest kept
    epochs = [r.epoch for r in history]
    assert epochs == sorted(epochs)
    assert engine.metrics()["lanes"][0]["final"]["epoch"] == 40


def test_per_epoch_records_stay_few_and_evenly_spaced_over_a_long_run() -> None:
    """The window grew 0.47 KB per epoch over 10,000 epochs (issue 17): one EpochEnd record per
    epoch, kept for metrics(). With the real limit, a run of three times MAX_HISTORY epochs
    keeps at most MAX_HISTORY records, evenly spaced from the first epoch to the latest."""
    engine = TrainingEngine(small(samples=40, batch_size=40, patience=None))
    assert engine.batches_per_epoch == 1
    epochs = 3 * training.MAX_HISTORY + 7 * SCALE
    for _ in range(epochs // 100):
        engine.step(100)
        engine.drain()  # as the window does
        assert len(engine.lanes[0].history) <= training.MAX_HISTORY
    engine.step(epochs % 100)
    history = engine.lanes[0].history
    kept = [r.epoch for r in history]
    assert kept[0] == 1 and kept[-1] == epochs == engine.lanes[0].epoch
    gaps = set(np.diff(kept[:-1]).tolist())
    assert len(gaps) == 1 and gaps.pop() > 1  # evenly spaced (the latest may come sooner)
    assert [e["epoch"] for e in engine.metrics()["epochs"]] == kept
