"""core.engine.race: learning-rate schedules and seeded gradient noise on a surface.

The reference is always a bare torch loop written here (optimizer, torch scheduler, a
``torch.Generator``): the race must give the same lr per step and the same points, bit for bit.
"""

import math

import numpy as np
import pytest
import torch

from core.engine.race import (
    DEFAULT_HORIZON,
    MAX_NOISE,
    MAX_SEED,
    LrHistory,
    Race,
    check_schedule,
    noise_stream,
)
from core.engine.schedulers import SCHEDULERS, RunShape, parse_scheduler
from core.engine.surfaces import get_surface
from core.errors import GdsimError

START = (-1.2, 1.5)


def bare_loop(surface, spec_call, steps, sched_call=None, sigma=0.0, stream=0, plateau=False):
    """The tutorial's loop on one point: returns (points, lr in force at each point)."""
    f = get_surface(surface).fn
    p = torch.nn.Parameter(torch.tensor(START, dtype=torch.float64))
    opt = spec_call([p])
    sched = sched_call(opt) if sched_call else None
    g = torch.Generator()
    g.manual_seed(stream)
    points, lrs = [p.detach().tolist()], [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        opt.zero_grad()
        f(p).backward()
        if sigma:
            p.grad.add_(torch.randn(2, generator=g, dtype=torch.float64), alpha=sigma)
        opt.step()
        if sched is not None:
            if plateau:
                with torch.no_grad():
                    sched.step(f(p).item())
            else:
                sched.step()
        points.append(p.detach().tolist())
        lrs.append(opt.param_groups[0]["lr"])
    return np.array(points), np.array(lrs)


# --- schedules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "make", "plateau"),
    [
        (
            "StepLR(step_size=7, gamma=0.5)",
            lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5),
            False,
        ),
        (
            "CosineAnnealingLR(T_max=20, eta_min=1e-5)",
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20, eta_min=1e-5),
            False,
        ),
        (
            "MultiStepLR(milestones=[5, 12], gamma=0.3)",
            lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[5, 12], gamma=0.3),
            False,
        ),
        (
            "ReduceLROnPlateau(patience=1, factor=0.5, threshold=0.5)",
            lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(
                o, patience=1, factor=0.5, threshold=0.5, mode="min"
            ),
            True,
        ),
    ],
)
def test_scheduled_lr_and_path_equal_a_bare_torch_loop(text, make, plateau):
    race = Race("rosenbrock", start=START)
    runner = race.add("SGD(lr=0.001, momentum=0.9)", scheduler=text)
    race.step(30)
    points, lrs = bare_loop(
        "rosenbrock",
        lambda ps: torch.optim.SGD(ps, lr=0.001, momentum=0.9),
        30,
        make,
        plateau=plateau,
    )
    steps, got = runner.lr_series()
    assert steps.tolist() == list(range(31))
    assert np.array_equal(got, lrs)
    assert np.array_equal(runner.trail.points(), points)
    assert len(set(lrs.tolist())) > 1  # the schedule did change the lr


@pytest.mark.parametrize(
    "name",
    [  # formulas and compositions: tests/core/test_scheduler_reference.py builds those
        k
        for k, info in SCHEDULERS.items()
        if not info.composite and all(a.kind != "expr" for a in info.args)
    ],
)
def test_every_registry_scheduler_steps_like_torch_with_the_race_defaults(name):
    """Defaults come from RunShape(horizon, 1, lr); the lr per step is torch's for those args."""
    spec = parse_scheduler(name)
    name = spec.name  # the registry key is lower-case; the class name is what torch knows
    race = Race("himmelblau", start=START, horizon=40)
    runner = race.add("Adam(lr=0.05)", scheduler=spec)
    race.step(50)  # beyond the horizon: OneCycleLR must hold its final lr, not raise
    kwargs = spec.resolved(RunShape(40, 1, 0.05))
    limit = kwargs["total_steps"] if name == "OneCycleLR" else None

    f = get_surface("himmelblau").fn
    p = torch.nn.Parameter(torch.tensor(START, dtype=torch.float64))
    opt = torch.optim.Adam([p], lr=0.05)
    sched = spec.info.cls(opt, **kwargs)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(50):
        opt.zero_grad()
        f(p).backward()
        opt.step()
        if name == "ReduceLROnPlateau":
            with torch.no_grad():
                sched.step(f(p).item())
        elif limit is None or sched.last_epoch < limit - 1:  # the cycle's last rate stays
            sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert np.array_equal(runner.lr_series()[1], lrs)
    assert runner.point == tuple(p.detach().tolist())


def test_default_horizon_places_steplr_drops_a_third_of_the_way():
    race = Race("bowl", start=(1.0, 1.0))
    runner = race.add("SGD(lr=0.01)", scheduler="StepLR")
    race.step(DEFAULT_HORIZON)
    steps, lrs = runner.lr_series()
    drops = [int(s) for s, a, b in zip(steps[1:], lrs[:-1], lrs[1:], strict=True) if b < a]
    assert drops == [333, 666, 999]
    assert runner.schedule.kwargs["step_size"] == 333


def test_unscheduled_lr_series_is_flat_and_builds_nothing():
    race = Race("bowl")
    runner = race.add("Adam(lr=0.02)")
    steps, lrs = runner.lr_series()
    assert steps.tolist() == [0, 0] and lrs.tolist() == [0.02, 0.02]
    assert runner._built_opt is None  # reading the lr did not build an optimizer
    race.step(5)
    assert runner.lr_series()[0].tolist() == [0, 5]


def test_live_lr_change_rescales_the_schedule_like_training():
    race = Race("bowl", start=(1.0, 1.0))
    runner = race.add("SGD(lr=0.1)", scheduler="StepLR(step_size=10, gamma=0.5)")
    race.step(12)  # one drop: lr 0.05 in force
    assert runner.lr == 0.05
    race.set_hparams(runner, lr=0.02)
    assert runner.lr == 0.02 and runner.lr_series()[1][-1] == 0.02
    race.step(8)  # step 20: the next drop continues from the user's value
    assert runner.lr == pytest.approx(0.01, rel=1e-12)
    race.reset()  # the schedule restarts from the spec's (new) lr
    assert runner.lr == 0.02 and runner.lr_series()[0].tolist() == [0]


def test_reset_restarts_the_schedule_and_replays_the_same_lrs():
    race = Race("rosenbrock", start=START)
    runner = race.add("Adam(lr=0.05)", scheduler="OneCycleLR(total_steps=30)")
    race.step(30)
    first = runner.lr_series()
    race.reset()
    assert runner.lr_series()[0].tolist() == [0]
    race.step(30)
    again = runner.lr_series()
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])


def test_set_schedule_restarts_that_runner_and_none_removes_it():
    race = Race("bowl", start=(1.0, 1.0))
    a = race.add("SGD(lr=0.1)")
    b = race.add("SGD(lr=0.1)")
    race.step(5)
    race.set_schedule(a, "ExponentialLR(gamma=0.5)")
    assert a.steps == 0 and b.steps == 5 and a.lr == 0.1
    assert str(a.snapshot().scheduler) == "ExponentialLR(gamma=0.5)"
    race.step(2)
    assert a.lr == 0.025
    race.set_schedule(a, None)
    assert a.scheduler is None and a.schedule is None and a.lr == 0.1 and a.steps == 0


def test_lr_history_is_bounded_and_lines_up_with_the_trail():
    race = Race("rosenbrock", start=START, history=16)
    runner = race.add("SGD(lr=0.001)", scheduler="CosineAnnealingLR(T_max=300)")
    race.step(1000)
    steps, lrs = runner.lr_series()
    assert len(steps) <= 16 and steps[0] == 0 and steps[-1] == 1000
    assert np.array_equal(steps, runner.trail.steps())
    assert len(lrs) == len(steps)


def test_lr_history_unbounded_grows_and_set_last_overwrites():
    h = LrHistory(None)
    for k in range(40):
        h.append(k, 0.1 * k)
    assert len(h) == 40 and h.values()[-1] == pytest.approx(3.9)
    h.set_last(7.0)
    assert h.values()[-1] == 7.0 and h.last == (39, 7.0)


def test_a_diverging_step_does_not_step_the_schedule():
    race = Race("saddle", start=(0.5, 0.1))
    runner = race.add("SGD(lr=0.1)", scheduler="ExponentialLR(gamma=0.99)")
    race.step(400)
    assert runner.status == "diverged"
    steps, lrs = runner.lr_series()
    assert steps[-1] == runner.steps == runner.diverged_at - 1
    assert lrs[-1] == pytest.approx(0.1 * 0.99**runner.steps)


def test_schedule_validation_is_one_line_and_changes_nothing():
    race = Race("bowl", start=(1.0, 1.0))
    runner = race.add("Adagrad(lr=0.1)")
    race.step(3)
    bad = [
        "NoSuchLR",
        "StepLR(step_size=0)",
        "OneCycleLR(cycle_momentum=True)",  # Adagrad has neither momentum nor betas
        "StepLR(gamma=eval('1'))",
        42,
    ]
    for text in bad:
        with pytest.raises(GdsimError) as info:
            race.set_schedule(runner, text)
        assert "\n" not in str(info.value)
        assert runner.scheduler is None and runner.steps == 3
    with pytest.raises(GdsimError, match="unknown scheduler"):
        race.add("SGD(lr=0.1)", scheduler="Warmup")
    assert len(race.runners) == 1
    swarm = race.add_swarm("SGD(lr=0.1)", [[0.0, 1.0]])
    with pytest.raises(GdsimError, match="swarm"):
        race.set_schedule(swarm, "StepLR")
    for horizon in (0, -5, 2.5, True, 10**7):
        with pytest.raises(GdsimError, match="horizon"):
            Race("bowl", horizon=horizon)


def test_check_schedule_builds_no_optimizer(monkeypatch):
    from core.engine.optimizers import OptimizerSpec

    def refuse(*_a, **_k):
        raise AssertionError("check_schedule built an optimizer")

    monkeypatch.setattr(OptimizerSpec, "build", refuse)
    spec = __import__("core.engine.optimizers", fromlist=["parse_spec"]).parse_spec("SGD(lr=0.1)")
    kwargs = check_schedule(spec, parse_scheduler("StepLR"), 90)
    assert kwargs == {"step_size": 30, "gamma": 0.1}


def test_set_horizon_changes_defaults_and_restarts():
    race = Race("bowl", start=(1.0, 1.0))
    runner = race.add("SGD(lr=0.1)", scheduler="StepLR")
    race.step(4)
    race.set_horizon(30)
    assert race.t == 0 and runner.steps == 0 and runner.schedule.kwargs["step_size"] == 10


# --- noise ----------------------------------------------------------------------------------------


def test_noise_equals_a_bare_loop_with_the_documented_generator():
    race = Race("rosenbrock", start=START, noise=0.7, seed=12)
    race.add("SGD(lr=0.001)")
    second = race.add("Adam(lr=0.02)")
    race.step(25)
    points, _ = bare_loop(
        "rosenbrock", lambda ps: torch.optim.Adam(ps, lr=0.02), 25, sigma=0.7, stream=12_001
    )
    assert second.noise_stream == noise_stream(12, 1) == 12_001
    assert np.array_equal(second.trail.points(), points)


def test_noise_is_reproducible_and_depends_on_the_seed():
    def run(seed, sigma=0.5):
        race = Race("himmelblau", start=START, noise=sigma, seed=seed)
        a = race.add("SGD(lr=0.01)")
        b = race.add("SGD(lr=0.01)")
        race.step(40)
        return a.trail.points(), b.trail.points()

    a1, b1 = run(3)
    a2, b2 = run(3)
    a3, _ = run(4)
    assert np.array_equal(a1, a2) and np.array_equal(b1, b2)
    assert not np.array_equal(a1, a3)
    assert not np.array_equal(a1, b1)  # two runners: two streams


def test_zero_noise_is_bit_identical_to_no_noise_and_draws_nothing():
    plain = Race("rosenbrock", start=START)
    p = plain.add("Adam(lr=0.02)")
    quiet = Race("rosenbrock", start=START, noise=0.0, seed=99)
    q = quiet.add("Adam(lr=0.02)")
    plain.step(50)
    quiet.step(50)
    assert np.array_equal(p.trail.points(), q.trail.points())
    assert np.array_equal(p.trail.losses(), q.trail.losses())
    assert q._gen is None


def test_reset_replays_the_same_noise_and_live_sigma_applies_from_the_next_step():
    race = Race("himmelblau", start=START, noise=1.0, seed=5)
    runner = race.add("SGD(lr=0.01, momentum=0.5)")
    race.step(30)
    first = runner.trail.points()
    race.reset()
    race.step(30)
    assert np.array_equal(runner.trail.points(), first)
    race.reset()
    race.step(10)
    race.set_noise(0.0)
    race.step(20)
    path = runner.trail.points()
    assert np.array_equal(path[:11], first[:11]) and not np.array_equal(path, first)


def test_new_seed_restarts_the_streams_now():
    race = Race("bowl", start=(1.0, 1.0), noise=0.3, seed=1)
    runner = race.add("SGD(lr=0.1)")
    race.set_noise(0.3, seed=2)
    assert race.seed == 2 and runner.noise_stream == 2000 and runner._gen is None


def test_noise_streams_follow_the_position_in_the_race():
    race = Race("bowl", noise=0.1, seed=7)
    race.add_swarm("SGD(lr=0.1)", [[0.0, 1.0]])
    a = race.add("SGD(lr=0.1)")
    b = race.add("SGD(lr=0.1)")
    assert (a.noise_stream, b.noise_stream) == (7001, 7002)
    race.remove(a)
    race.reset()
    assert b.noise_stream == 7001


def test_swarms_get_no_noise():
    quiet = Race("himmelblau")
    s1 = quiet.add_swarm("Adam(lr=0.05)", [[0.0, 0.0], [1.0, -1.0]])
    noisy = Race("himmelblau", noise=5.0, seed=1)
    s2 = noisy.add_swarm("Adam(lr=0.05)", [[0.0, 0.0], [1.0, -1.0]])
    quiet.step(20)
    noisy.step(20)
    assert np.array_equal(s1.points, s2.points)


@pytest.mark.parametrize(
    ("sigma", "seed", "match"),
    [
        (-0.1, 0, "between 0"),
        (math.nan, 0, "between 0"),
        (math.inf, 0, "between 0"),
        (MAX_NOISE * 2, 0, "between 0"),
        ("0.5", 0, "must be a number"),
        (True, 0, "must be a number"),
        (0.5, -1, "seed"),
        (0.5, MAX_SEED + 1, "seed"),
        (0.5, 1.5, "seed"),
        (0.5, "3", "seed"),
    ],
)
def test_noise_validation_is_one_line_and_changes_nothing(sigma, seed, match):
    race = Race("bowl", noise=0.2, seed=3)
    runner = race.add("SGD(lr=0.1)")
    with pytest.raises(GdsimError, match=match) as info:
        race.set_noise(sigma, seed)
    assert "\n" not in str(info.value)
    assert (race.noise, race.seed, runner.noise, runner.noise_stream) == (0.2, 3, 0.2, 3000)


# --- schedule + noise through every way of stepping -------------------------------------------


SPECS = ("SGD(lr=0.001, momentum=0.9)", "Adam(lr=0.03)", "LBFGS(lr=0.1, max_iter=3)")


def _race(watch=False):
    race = Race("rosenbrock", start=START, noise=0.4, seed=21)
    runners = [
        race.add(spec, scheduler="StepLR(step_size=4, gamma=0.7)" if i != 1 else None)
        for i, spec in enumerate(SPECS)
    ]
    runners[1].watch = watch
    return race, runners


@pytest.mark.parametrize("who", [0, 2])
def test_narrated_anatomy_and_plain_steps_agree_with_schedule_and_noise(who):
    plain, plain_runners = _race()
    plain.step(12)
    told, told_runners = _race()
    for _ in range(12):
        phases = list(told.narrate(told_runners[who]))
        assert [p.name for p in phases] == ["zero_grad", "forward", "backward", "step"]
    watched, watched_runners = _race(watch=True)
    for _ in range(12):
        watched.step(1, anatomy=True)
    for group in (told_runners, watched_runners):
        for mine, ref in zip(group, plain_runners, strict=True):
            assert np.array_equal(mine.trail.points(), ref.trail.points()), mine.label
            assert np.array_equal(mine.lr_series()[1], ref.lr_series()[1])
    assert told.t == plain.t == 12


def test_narration_reports_the_noisy_gradient_and_the_schedule():
    race, runners = _race()
    race.step(3)
    phases = list(race.narrate(runners[0]))
    backward, step = phases[2], phases[3]
    anatomy = runners[0].anatomy
    assert "noise" in backward.text and "σ = 0.4" in backward.text
    assert "torch.randn(2)" in backward.code
    assert np.array_equal(np.array(backward.grad), anatomy.gradient)
    assert anatomy.noise is not None and np.all(anatomy.noise != 0)
    assert "scheduler.step()" in step.code and "StepLR sets it to" in step.text
    assert anatomy.lr == 0.001 and runners[0].lr == pytest.approx(0.0007)  # used, then next
    lbfgs = list(race.narrate(runners[2]))[2]
    assert "closure adds gradient noise" in lbfgs.text


def test_anatomy_splits_gradient_and_noise():
    race = Race("bowl", start=(1.0, -2.0), noise=0.5, seed=0)
    runner = race.add("SGD(lr=0.1)")
    race.step(1, anatomy=True)
    a = runner.anatomy
    np.testing.assert_allclose(a.gradient - a.noise, [2.0, -4.0], rtol=0, atol=1e-12)
    quiet = Race("bowl", start=(1.0, -2.0))
    q = quiet.add("SGD(lr=0.1)")
    quiet.step(1, anatomy=True)
    assert q.anatomy.noise is None


def lr_at(runner, step):
    """The lr the step from ``step`` to ``step + 1`` used, read off the staircase."""
    steps, lrs = runner.lr_series()
    return float(lrs[np.searchsorted(steps, step, side="right") - 1])


def test_a_live_lr_change_without_a_schedule_keeps_the_history():
    """Issue 14 item 4: after 0.02 -> 0.2, the steps taken at 0.02 still read 0.02."""
    race = Race("bowl", start=(1.0, 1.0))
    runner = race.add("SGD(lr=0.02)")
    race.step(10)
    race.set_hparams(runner, lr=0.2)
    race.step(5)
    assert [lr_at(runner, k) for k in range(15)] == [0.02] * 10 + [0.2] * 5
    assert lr_at(runner, 15) == 0.2 and runner.lr_changed
    steps, _lrs = runner.lr_series()
    assert steps[0] == 0 and steps[-1] == 15


def test_unscheduled_lr_history_matches_a_bare_loop_with_changes():
    """Several changes, one at step 0 (it replaces the start value) and one back to an old value."""
    race = Race("bowl", start=(1.0, 1.0))
    runner = race.add("SGD(lr=0.05)")
    race.set_hparams(runner, lr=0.04)
    plan = {3: 0.01, 7: 0.04, 8: 0.04, 12: 0.002}
    used = []
    for k in range(16):
        if k in plan:
            race.set_hparams(runner, lr=plan[k])
        used.append(runner.lr)
        race.step(1)
    assert [lr_at(runner, k) for k in range(16)] == used
    fresh = race.add("SGD(lr=0.05)")
    assert not fresh.lr_changed and fresh.lr_series()[1].tolist() == [0.05, 0.05]
