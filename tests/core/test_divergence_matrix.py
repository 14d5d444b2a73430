"""Divergence matrix: every optimizer, every built-in surface, absurd learning rates and extreme
hyperparameters. Nothing may raise; each runner either stays finite or is marked diverged; a
runner's numbers are the same in a crowded race as alone (one bad runner cannot disturb the
others); swarm points are frozen where they went bad; training at absurd learning rates ends in a
clear "diverged" state that Reset recovers from.

Kept fast (a few steps, small swarms, tiny networks): the point is the *combinations*. Cases that
torch itself turns into an exception (a Python ``OverflowError``/``ZeroDivisionError`` inside
``optimizer.step()``, a float32 overflow in training) have their own tests below: in a race
they mark that runner diverged (core.engine.race.STEP_ERRORS), in training that lane. Training also
calls a finite but absurd loss diverged (above core.engine.training's per-lane loss limit).
"""

from __future__ import annotations

import dataclasses
import math
import threading

import numpy as np
import pytest

from core.engine.optimizers import OPTIMIZERS, HParam, OptimizerSpec, parse_spec
from core.engine.race import LOSS_LIMIT, X_LIMIT, Race, Runner, Swarm
from core.engine.runtime import torch_threads
from core.engine.surfaces import get_surface, surface_names
from core.engine.training import LOSS_LIMIT_FACTOR, Diverged, TrainConfig, TrainingEngine
from core.errors import GdsimError

STEPS = 12  # race steps per scenario: enough for every lr=1e3 runner to blow up
#: LBFGS runs max_iter inner iterations per step (20 by default, each walking a history of up to
#: 100 pairs): ~40x an Adam step. The lr matrix gives it max_iter=4 to keep the file fast; the
#: extreme-hyperparameter matrix runs it with its defaults.
LR_MATRIX_EXTRA = {"LBFGS": {"max_iter": 4}}
LRS = (1e-6, 1e-3, 1.0, 1e3)
SWARM_SIZE = 3  # the race's start (compared with the single runner) plus two more
SURFACES = surface_names()


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Small tensors: one intra-op thread is faster and steadier on a shared machine."""
    with torch_threads(1):
        yield


# --- helpers ----------------------------------------------------------------------------------


def torch_raises(spec: OptimizerSpec) -> bool:
    """Specs whose torch step raises a Python arithmetic error: the race must turn that into
    the runner diverging (core.engine.race.STEP_ERRORS); they stay in every matrix below."""
    hp = spec.hparams()
    if spec.name == "ASGD" and (hp["alpha"] > 100 or (hp["alpha"] > 1 and hp["lambd"] > 1e100)):
        return True  # (1 + lambd*lr*step) ** alpha overflows a Python float
    if spec.name == "LBFGS" and hp["line_search_fn"] == "strong_wolfe" and hp["lr"] < 1e-320:
        return True  # _cubic_interpolate divides by x1 - x2 == 0
    if spec.name == "NAdam" and hp["betas"][0] > 1 - 1e-7 and hp["momentum_decay"] > 100:
        return True  # mu_product (a float32) rounds to 1.0: lr * (1 - mu) / (1 - mu_product)
    return False


def check_finite(r: Runner):
    """Finite or diverged, never in between; the kept history is always finite."""
    snap = r.snapshot()
    assert snap.status in ("ok", "diverged")
    assert np.isfinite(snap.points).all() and np.isfinite(snap.losses).all()
    assert np.abs(snap.points).max() <= X_LIMIT and np.abs(snap.losses).max() <= LOSS_LIMIT
    assert all(math.isfinite(v) for v in (*snap.point, snap.loss))
    assert snap.points[-1].tolist() == list(snap.point)
    return snap


def check_runner(r: Runner, steps_asked: int) -> None:
    """As check_finite, and the runner took every step asked for unless it diverged."""
    snap = check_finite(r)
    if snap.status == "ok":
        assert snap.steps == steps_asked and snap.diverged_at is None
    else:
        assert snap.diverged_at == snap.steps + 1 or (snap.diverged_at == 0 == snap.steps)
        assert snap.steps < steps_asked


def check_swarm(sw: Swarm) -> None:
    snap = sw.snapshot()
    assert np.isfinite(snap.points).all() and np.isfinite(snap.losses).all()
    assert np.abs(snap.points).max() <= X_LIMIT and np.abs(snap.losses).max() <= LOSS_LIMIT
    assert ((snap.diverged_at >= 0) == snap.diverged).all()
    assert (snap.diverged_at <= snap.steps + 1).all()
    assert (snap.status == "diverged") == bool(snap.diverged.all())


def same_as_alone(r: Runner, surface: str, steps: int) -> None:
    """The runner's whole history equals the same spec run alone from the same start."""
    alone = Race(surface, start=r.start)
    a = alone.add(r.spec)
    alone.step(steps)
    mine, theirs = r.snapshot(), a.snapshot()
    assert (mine.status, mine.steps, mine.diverged_at) == (
        theirs.status,
        theirs.steps,
        theirs.diverged_at,
    ), str(r.spec)
    assert np.array_equal(mine.points, theirs.points), str(r.spec)
    assert np.array_equal(mine.losses, theirs.losses), str(r.spec)


def swarm_starts(surface: str, race_start: tuple[float, float]) -> np.ndarray:
    (x0, x1), (y0, y1) = get_surface(surface).domain
    others = np.random.default_rng(7).uniform((x0, y0), (x1, y1), (SWARM_SIZE - 1, 2))
    return np.vstack([race_start, others])


def _float_extremes(hp: HParam) -> list[float]:
    """The ends of a float hyperparameter's valid range (just inside an open end), and huge
    values where it is unbounded above."""
    lo = hp.low if hp.low is not None else -1e6
    out = [lo if hp.low_inclusive else (5e-324 if lo == 0 else lo + 1e-9)]
    if hp.high is None:
        out += [1e6, 1e30]
    else:
        out.append(hp.high if hp.high_inclusive else hp.high - 1e-12)  # betas 0.999999999999
    return out


def extreme_values(hp: HParam) -> list:
    if hp.kind == "bool":
        return [True]
    if hp.kind == "choice":
        return [c for c in hp.choices if c != hp.default]
    if hp.kind == "int":
        return [1, 3]  # large ints are a cost question, see test_lbfgs_cost_is_bounded
    if hp.kind == "float":
        return _float_extremes(hp)
    els = hp.elements or (hp, hp)
    plain = [dataclasses.replace(e, kind="float", elements=None) for e in els]
    firsts = _float_extremes(plain[0]) + ([None] if els[0].optional else [])
    return [(a, b) for a in firsts for b in _float_extremes(plain[1])]


def extreme_specs() -> tuple[list[OptimizerSpec], int]:
    """Every optimizer with one hyperparameter at an extreme (lr 1e-3 and 1); how many of the
    combinations were refused by validation (a GdsimError, never anything else)."""
    specs, refused = [], 0
    for info in OPTIMIZERS.values():
        for hp in info.hparams:
            if hp.name == "lr":
                continue
            for value in extreme_values(hp):
                for lr in (1e-3, 1.0):
                    try:
                        specs.append(OptimizerSpec(info, {"lr": lr, hp.name: value}))
                    except GdsimError:
                        refused += 1  # e.g. nesterov=True with momentum 0
    return specs, refused


EXTREMES, EXTREMES_REFUSED = extreme_specs()


# --- the race ---------------------------------------------------------------------------------


@pytest.mark.parametrize("surface", SURFACES)
def test_every_optimizer_at_every_lr_in_one_race(surface):
    race = Race(surface)
    singles, swarms = [], []
    for info in OPTIMIZERS.values():
        for lr in LRS:
            spec = OptimizerSpec(info, {"lr": lr, **LR_MATRIX_EXTRA.get(info.name, {})})
            singles.append(race.add(spec))
            swarms.append(race.add_swarm(spec, swarm_starts(surface, race.start)))
    race.step(STEPS)
    assert race.t <= STEPS
    for r in singles:
        check_runner(r, STEPS)
        same_as_alone(r, surface, STEPS)
    for r, sw in zip(singles, swarms, strict=True):
        check_swarm(sw)
        # row 0 starts where the single runner does: it must have done exactly the same
        assert bool(sw.diverged[0]) == (r.status == "diverged"), str(r.spec)
        assert sw.points[0].tolist() == list(r.point), str(r.spec)
        if r.status == "diverged":
            assert sw.diverged_at[0] == r.diverged_at
    statuses = {(r.spec.name, r.spec.hparams()["lr"]): r.status for r in singles}
    assert all(statuses[(name, 1e-6)] == "ok" for name in (i.name for i in OPTIMIZERS.values()))
    if surface != "plateau":  # flat almost everywhere: nothing to blow up on
        assert "diverged" in {statuses[(i.name, 1e3)] for i in OPTIMIZERS.values()}


@pytest.mark.parametrize("surface", SURFACES)
def test_extreme_hyperparameters_in_one_race(surface):
    """Each extreme spec meets a third of the surfaces (rotating), so every surface sees a third
    of the specs and every spec at least four surfaces, at a third of the full product's cost."""
    j = SURFACES.index(surface)
    specs = [s for k, s in enumerate(EXTREMES) if (k + j) % 3 == 0]
    assert any(torch_raises(s) for s in specs) or j % 3 != 0  # the raising ones are in there
    race = Race(surface)
    runners = [race.add(s) for s in specs]
    race.step(STEPS)
    for r in runners:
        check_runner(r, STEPS)
    for r in runners[j % 4 :: 4]:  # a quarter of them against a solo run
        same_as_alone(r, surface, STEPS)


def test_extreme_matrix_covers_what_it_claims():
    names = {s.name for s in EXTREMES}
    assert names == {i.name for i in OPTIMIZERS.values()}
    texts = {str(s) for s in EXTREMES}
    for wanted in (
        "SGD(lr=1.0, momentum=0.999999999999)",
        "Adam(betas=(0.999999999999, 0.999999999999))",  # lr=0.001 is Adam's default
        "Adam(lr=1.0, eps=1e+30)",
        "Adam(eps=5e-324)",
        "AdamW(lr=1.0, weight_decay=1e+30)",
    ):
        assert wanted in texts
    assert EXTREMES_REFUSED > 0  # validation still refuses the impossible combinations


def test_live_changes_to_extreme_values_mid_race():
    """The slider path: a running race gets extreme values written into its optimizers."""
    race = Race("rosenbrock")
    runners = [race.add(OptimizerSpec(info)) for info in OPTIMIZERS.values()]
    race.step(3)
    changes = 0
    for r in runners:
        for hp in r.spec.info.hparams:
            values = extreme_values(hp) + ([1e3] if hp.name == "lr" else [])
            for value in values:
                try:
                    candidate = r.spec.with_changes(**{hp.name: value})
                except GdsimError:
                    continue  # refused with a message: also a correct outcome
                race.set_hparams(r, **{hp.name: value})
                assert r.spec == candidate
                changes += 1
                race.step(2)
                check_finite(r)
                if r.status != "ok":
                    race.reset(r)
                    race.step(1)
                    assert r.status == "ok" or r.spec.hparams()["lr"] >= 1e3
    assert changes > 100


def test_a_start_that_is_already_bad_is_diverged_at_step_zero():
    race = Race("x**2 + y**2 + 1e13")  # loss beyond LOSS_LIMIT everywhere
    r = race.add("SGD(lr=0.1)")
    ok = Race("x**2 + y**2").add("SGD(lr=0.1)")
    assert (r.status, r.diverged_at, r.steps) == ("diverged", 0, 0)
    assert race.step(5) == 0 and ok.status == "ok"


# --- known crashes: pinned until the engine catches arithmetic errors from torch ----------------

CRASHERS = [
    ("ASGD(lr=0.001, alpha=1e+30)", "rosenbrock"),
    ("ASGD(lr=1.0, alpha=1000000.0)", "rosenbrock"),
    ("ASGD(lr=0.01, lambd=1e+200, alpha=2.0)", "bowl"),
    ("NAdam(betas=(0.9999999999999999, 0.999), momentum_decay=1e+300)", "ravine"),
    ("LBFGS(lr=5e-324, line_search_fn='strong_wolfe')", "bowl"),
]


@pytest.mark.parametrize("spec,surface", CRASHERS)
def test_arithmetic_errors_in_torch_mark_the_runner_diverged(spec, surface):
    race = Race(surface)
    bad = race.add(spec)
    swarm = race.add_swarm(spec, swarm_starts(surface, race.start))
    good = race.add("Adam(lr=0.01)")
    race.step(STEPS)
    assert torch_raises(bad.spec) and bad.status == "diverged"
    check_runner(bad, STEPS)
    check_swarm(swarm)
    assert bool(swarm.diverged[0])  # the row that starts where the single runner does
    same_as_alone(good, surface, STEPS)
    list(race.narrate(good))  # the race goes on, narrated steps included


@pytest.mark.parametrize(
    "start_spec,change",
    [
        ("ASGD(lr=0.001)", {"alpha": 1e30}),
        ("ASGD(lr=5e-324, t0=1.0)", {"lr": 1e300}),
    ],
)
def test_live_asgd_changes_never_raise_anything_but_gdsim_errors(start_spec, change):
    race = Race("rosenbrock")
    r = race.add(start_spec)
    race.step(3)
    try:
        race.set_hparams(r, **change)
    except GdsimError:
        return  # refusing the value with a message is fine too
    race.step(STEPS)
    check_finite(r)


@pytest.mark.parametrize(
    "text",
    ["LBFGS(max_iter=1000000000)", "LBFGS(history_size=100000000)", "LBFGS(max_eval=1000000000)"],
)
def test_lbfgs_cost_is_bounded(text):
    with pytest.raises(GdsimError):
        parse_spec(text)


# --- training at absurd learning rates ------------------------------------------------------


def tiny(**changes) -> TrainConfig:
    base = dict(
        samples=160, batch_size=32, epochs=4, hidden=(8,), device="cpu", patience=None, seed=1
    )
    base.update(changes)
    return TrainConfig(**base)


def diverged_events(engine: TrainingEngine) -> list[Diverged]:
    return [e for e in engine.drain().events if isinstance(e, Diverged)]


def check_diverged(event: Diverged, first_loss: float) -> None:
    """A Diverged event is either a non-finite loss, or a finite one above the lane's limit at an
    epoch's end (core.engine.training "Divergence"), and its reason says which."""
    if math.isfinite(event.loss):
        limit = LOSS_LIMIT_FACTOR * max(1.0, first_loss)
        assert event.limit == limit and event.loss > limit and event.batch == -1
        assert event.quantity in ("validation loss", "mean training loss")
        assert event.reason == f"{event.quantity} {event.loss:.3g} exceeded the limit {limit:.4g}"
    else:
        assert event.limit == math.inf and event.reason == f"loss became {event.loss}"


@pytest.mark.parametrize(
    "spec,hidden,seed",
    [
        ("SGD(lr=1000.0)", (16, 16), 2),
        ("SGD(lr=1000000.0)", (16, 16), 0),
        ("Adadelta(lr=1e+30)", (8,), 1),
    ],
)
def test_training_at_an_absurd_lr_diverges_clearly_and_reset_recovers(spec, hidden, seed):
    config = tiny(optimizers=spec, hidden=hidden, seed=seed)
    engine = TrainingEngine(config)
    assert engine.run() == "diverged"
    update = engine.drain()
    (event,) = [e for e in update.events if isinstance(e, Diverged)]
    assert event.lane == 0
    check_diverged(event, update.curves[0].losses[0])
    assert update.state == "diverged" and update.lanes[0].state == "diverged"
    assert math.isfinite(event.loss) or not math.isfinite(update.lanes[0].last_loss)
    assert engine.step(3) == 0  # a diverged run stays put until reset
    # the same settings again: diverges again, identically (reset really starts over)
    engine.reset()
    engine.process_commands()  # see test_reset_then_run_trains for why this line is needed
    assert engine.state == "ready" and engine.step_count == 0
    assert engine.run() == "diverged"
    (again,) = diverged_events(engine)
    assert (again.step, again.epoch, again.batch) == (event.step, event.epoch, event.batch)
    # a sane lr on the same network: trains normally
    sane = dataclasses.replace(config, optimizers=("SGD(lr=0.1, momentum=0.9)",), samples=400)
    engine.reset(dataclasses.replace(sane, epochs=10))
    engine.process_commands()
    assert engine.run() == "finished"
    update = engine.drain()
    assert not [e for e in update.events if isinstance(e, Diverged)]
    losses = update.curves[0].losses
    assert np.isfinite(losses).all() and losses[-10:].mean() < losses[:10].mean()
    history = engine.lanes[0].history
    assert history[-1].val_loss < history[0].val_loss and history[-1].val_accuracy >= 0.8


def test_every_optimizer_at_lr_1e6_in_one_training_race():
    """Thirteen lanes blow up side by side (non-finite, or finite above the loss limit);
    Adafactor (whose lr only scales a relative step) and a sane lane among them are
    undisturbed."""
    specs = [str(OptimizerSpec(info, {"lr": 1e6})) for info in OPTIMIZERS.values()]
    specs.append("Adam(lr=0.01)")
    engine = TrainingEngine(tiny(optimizers=tuple(specs), epochs=2))
    engine.run()
    update = engine.drain()
    events = {e.lane: e for e in update.events if isinstance(e, Diverged)}
    for lane in update.lanes:
        curve = update.curves[lane.lane]
        if lane.state == "diverged":
            assert lane.lane in events
            check_diverged(events[lane.lane], curve.losses[0])
            assert np.isfinite(curve.losses[:-1]).all()  # only the last point is the bad one
        else:
            assert lane.state == "finished" and np.isfinite(curve.losses).all()
    finished = {lane.name for lane in update.lanes if lane.state == "finished"}
    assert finished == {"Adafactor(lr=1000000.0)", "Adam(lr=0.01)"}
    assert {math.isfinite(e.loss) for e in events.values()} == {True, False}  # both kinds
    alone = TrainingEngine(tiny(optimizers="Adam(lr=0.01)", epochs=2))
    alone.run()
    assert np.array_equal(alone.drain().curves[0].losses, update.curves[-1].losses)


@pytest.mark.parametrize("spec", ["SGD(lr=1000000.0)", "Adam(lr=1000000.0)"])
def test_an_absurd_but_finite_loss_is_reported_as_diverged(spec):
    """SGD at lr=1e6 reaches batch losses of ~4e19 and Adam ~1e11, finite, at chance accuracy:
    they used to end "finished". Now the first epoch's end says diverged, and why."""
    engine = TrainingEngine(tiny(optimizers=spec, epochs=10))
    assert engine.run() == "diverged"
    update = engine.drain()
    (event,) = [e for e in update.events if isinstance(e, Diverged)]
    losses = update.curves[0].losses
    assert np.isfinite(losses).all() and losses.max() > 1e10  # finite, but absurd
    assert (event.epoch, event.batch, event.quantity) == (1, -1, "validation loss")
    assert event.limit == LOSS_LIMIT_FACTOR  # the first loss (~0.54) is below 1
    check_diverged(event, losses[0])
    assert event.explanation == f"{event.reason} (1000× the first batch's loss, at least 1000)"
    assert update.lanes[0].state == "diverged" and engine.step(1) == 0
    engine.reset(tiny(optimizers="Adam(lr=0.01)", epochs=10))  # a sane lr: finishes
    engine.process_commands()
    assert engine.run() == "finished"


@pytest.mark.parametrize(
    "spec",
    [
        "SGD(lr=1e+300)",
        "ASGD(alpha=1e+30)",
        "NAdam(betas=(0.9999999999999999, 0.999), momentum_decay=1e+300)",
    ],
)
def test_training_turns_arithmetic_errors_into_divergence(spec):
    engine = TrainingEngine(tiny(optimizers=(spec, "Adam(lr=0.01)")))
    assert engine.run() == "finished"
    update = engine.drain()
    assert [lane.state for lane in update.lanes] == ["diverged", "finished"]
    assert any(isinstance(e, Diverged) and e.lane == 0 for e in update.events)


def test_reset_then_run_trains():
    engine = TrainingEngine(tiny(optimizers="SGD(lr=1e+300)", epochs=2))
    assert engine.run() == "diverged"
    engine.reset(tiny(optimizers="SGD(lr=0.1)", epochs=2))
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(engine.run()), daemon=True)
    worker.start()
    worker.join(timeout=5)  # two tiny epochs take a few milliseconds
    if worker.is_alive():
        engine.stop()  # free the thread, then report the hang
        worker.join(timeout=5)
    assert result == ["finished"]
