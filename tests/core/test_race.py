"""The race engine: real torch.optim steps, divergence, live changes, bounded history, swarms."""

import math

import numpy as np
import pytest
import torch

import core.engine.race as race_module
from core.engine.optimizers import get_optimizer, optimizer_names, parse_spec
from core.engine.race import DEFAULT_HISTORY, LOSS_LIMIT, X_LIMIT, Race, Runner, Trail, plain_state
from core.engine.surfaces import SURFACES, get_surface
from core.errors import GdsimError

# a spec per registry optimizer with settings that exercise its state (momentum, amsgrad, ...)
SPECS = {
    "SGD": "SGD(lr=0.001, momentum=0.9, nesterov=True)",
    "Adam": "Adam(lr=0.05, amsgrad=True)",
    "AdamW": "AdamW(lr=0.05, weight_decay=0.1)",
    "RMSprop": "RMSprop(lr=0.01, momentum=0.5, centered=True)",
    "Adagrad": "Adagrad(lr=0.3)",
    "Adadelta": "Adadelta(lr=1.0)",
    "Adamax": "Adamax(lr=0.05)",
    "NAdam": "NAdam(lr=0.05)",
    "RAdam": "RAdam(lr=0.001)",
    "Rprop": "Rprop(lr=0.01)",
    "ASGD": "ASGD(lr=0.001, t0=3)",
    "LBFGS": "LBFGS(lr=0.5, history_size=5, max_iter=4)",
    "Adafactor": "Adafactor(lr=0.05)",
}


def _spec(name: str):
    return parse_spec(SPECS.get(name, name))


def _reference(spec, surface, start, steps):
    """A bare torch loop: a fresh optimizer of the same class and hyperparameters."""
    p = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
    opt = spec.info.cls([p], **spec.hparams())
    points = [p.detach().clone().numpy()]
    for _ in range(steps):
        if spec.info.needs_closure:

            def closure():
                opt.zero_grad()
                loss = surface.fn(p)
                loss.backward()
                return loss

            opt.step(closure)
        else:
            opt.zero_grad()
            surface.fn(p).backward()
            opt.step()
        points.append(p.detach().clone().numpy())
    return np.array(points), opt, p


def test_every_registry_optimizer_has_a_spec_here():
    assert set(optimizer_names()) <= set(SPECS)


@pytest.mark.parametrize("name", optimizer_names())
def test_one_race_step_is_one_optimizer_step(name):
    spec = _spec(name)
    surface = SURFACES["rosenbrock"]
    race = Race(surface, history=None)
    runner = race.add(spec)
    assert race.step(12) == 12
    expected, _, _ = _reference(spec, surface, surface.start, 12)
    snap = runner.snapshot()
    assert snap.status == "ok" and snap.steps == 12
    np.testing.assert_array_equal(snap.points, expected)  # bit for bit: same ops, same order
    assert snap.losses[-1] == surface.value(*expected[-1])
    assert snap.losses[0] == surface.value(*surface.start)
    assert snap.step_index.tolist() == list(range(13))
    assert snap.point == tuple(expected[-1]) and snap.loss == snap.losses[-1]


def test_outputs_are_plain_values():
    race = Race("himmelblau")
    runner = race.add("Adam(lr=0.1)")
    race.step(3, anatomy=True)
    snap = runner.snapshot()
    for value in (snap.point[0], snap.loss, snap.hparams["lr"]):
        assert type(value) is float
    assert isinstance(snap.points, np.ndarray) and isinstance(snap.losses, np.ndarray)
    a = runner.anatomy
    assert isinstance(a.gradient, np.ndarray) and isinstance(a.state["exp_avg"], np.ndarray)
    assert type(a.state["step"]) is float


def test_divergence_stops_one_runner_and_the_others_go_on():
    race = Race("rosenbrock", history=None)
    wild = race.add("SGD(lr=10)")
    calm = race.add("SGD(lr=0.0005)")
    fast = race.add("Adam(lr=0.02)")
    assert race.step(50) == 50
    assert wild.status == "diverged" and wild.diverged_at == 1 and wild.steps == 0
    snap = wild.snapshot()
    assert len(snap.points) == snap.steps + 1 == 1
    assert np.isfinite(snap.points).all() and np.isfinite(snap.losses).all()
    assert snap.point == race.start
    for r in (calm, fast):
        assert r.status == "ok" and r.steps == 50 and len(r.trail) == 51
    assert race.active
    race.step(10)
    assert wild.steps == 0 and calm.steps == 60


def test_divergence_keeps_the_last_finite_point_of_a_longer_run():
    # on the saddle SGD walks off along y; it is diverged when |y| passes X_LIMIT or |f| LOSS_LIMIT
    race = Race("saddle", history=None)
    r = race.add("SGD(lr=0.1)")
    race.step(1000)
    assert r.status == "diverged"
    assert r.diverged_at == r.steps + 1
    pts, losses = r.trail.points(), r.trail.losses()
    assert len(pts) == r.steps + 1
    assert np.abs(pts).max() <= X_LIMIT and np.abs(losses).max() <= LOSS_LIMIT
    # the step that was refused really went past a limit: y grows by 1.2 per step
    y_next = pts[-1, 1] * 1.2
    assert abs(y_next) > X_LIMIT or y_next**2 > LOSS_LIMIT


def test_non_finite_start_loss_is_diverged_at_step_zero():
    race = Race("log(x)", start=(-1.0, 0.0))
    r = race.add("SGD(lr=0.1)")
    assert r.status == "diverged" and r.diverged_at == 0 and r.steps == 0
    assert race.step(5) == 0


def test_nan_from_a_runner_is_divergence_not_an_error():
    race = Race("sqrt(x)", start=(1.0, 1.0))
    r = race.add("SGD(lr=4)")  # jumps to x < 0 where sqrt is nan
    race.step(5)
    assert r.status == "diverged" and math.isfinite(r.loss)


def test_live_hparam_change_keeps_optimizer_state():
    surface = SURFACES["rosenbrock"]
    race = Race(surface, history=None)
    r = race.add("Adam(lr=0.05)")
    race.step(5)
    race.set_hparams(r, lr=0.01, betas=(0.8, 0.99))
    assert r.spec.hparams()["lr"] == 0.01 and r.label == "Adam(lr=0.01, betas=(0.8, 0.99))"
    race.step(5)
    assert r.optimizer_state()["step"] == 10.0  # same state continued, not a fresh optimizer

    p = torch.nn.Parameter(torch.tensor(surface.start, dtype=torch.float64))
    opt = torch.optim.Adam([p], lr=0.05)
    for i in range(10):
        if i == 5:
            opt.param_groups[0]["lr"] = 0.01
            opt.param_groups[0]["betas"] = (0.8, 0.99)
        opt.zero_grad()
        surface.fn(p).backward()
        opt.step()
    assert r.point == tuple(p.detach().tolist())


def test_bad_hparam_change_is_refused_and_changes_nothing():
    race = Race("bowl")
    r = race.add("SGD(lr=0.1)", label="mine")
    with pytest.raises(GdsimError):
        race.set_hparams(r, lr=-1.0)
    with pytest.raises(GdsimError):
        race.set_hparams(r, nonsense=3)
    assert r.spec.hparams()["lr"] == 0.1 and r._opt.param_groups[0]["lr"] == 0.1
    assert r.label == "mine"  # an explicit label is kept


def test_reset_one_and_all():
    race = Race("booth")
    a = race.add("SGD(lr=0.01)")
    b = race.add("Adam(lr=0.1)")
    race.step(20)
    before_b = b.point
    race.reset(a)
    assert a.steps == 0 and a.point == race.start and len(a.trail) == 1
    assert a.optimizer_state() == {}
    assert b.point == before_b and b.steps == 20
    race.step(3)
    race.reset()
    assert a.steps == b.steps == 0 and race.t == 0


def test_reset_brings_a_diverged_runner_back_with_a_gentler_lr():
    race = Race("rosenbrock")
    r = race.add("SGD(lr=10)")
    race.step(3)
    assert r.status == "diverged"
    race.set_hparams(r, lr=1e-4)
    race.reset(r)
    race.step(3)
    assert r.status == "ok" and r.steps == 3


def test_add_and_remove_runners_mid_race():
    race = Race("himmelblau")
    a = race.add("SGD(lr=0.01)")
    race.step(4)
    b = race.add("Adam(lr=0.1)", start=(1.0, 1.0), label="Adam from (1, 1)")
    race.step(3)
    assert (a.steps, b.steps) == (7, 3)
    assert b.start == (1.0, 1.0) and b.label == "Adam from (1, 1)"
    race.remove(a)
    assert race.runners == [b]
    race.step(2)
    assert b.steps == 5
    with pytest.raises(GdsimError):
        race.remove(a)
    with pytest.raises(GdsimError):
        race.get(999)
    assert race.get(b.id) is b


def test_move_the_start_restarts_everyone_there():
    race = Race("himmelblau")
    a = race.add("SGD(lr=0.01)")
    b = race.add("Adam(lr=0.1)", start=(1.0, 1.0))
    race.step(5)
    race.set_start(-1.0, 2.0)
    assert race.start == (-1.0, 2.0)
    for r in (a, b):
        assert r.start == (-1.0, 2.0) and r.point == (-1.0, 2.0) and r.steps == 0
    with pytest.raises(GdsimError):
        race.set_start(float("nan"), 0.0)


def test_change_the_surface():
    race = Race("rosenbrock")
    r = race.add("Adam(lr=0.1)")
    race.step(5)
    race.set_surface("bowl")
    assert race.surface is SURFACES["bowl"] and r.point == SURFACES["bowl"].start
    race.step(5)
    assert r.loss == pytest.approx(SURFACES["bowl"].value(*r.point))
    race.set_surface("x**2 + (y - 1)**2", start=(0.5, 0.5))
    race.step(2)
    assert r.steps == 2 and r.loss == pytest.approx(r.point[0] ** 2 + (r.point[1] - 1) ** 2)


def test_bad_inputs_are_gdsim_errors():
    with pytest.raises(GdsimError):
        Race("no such surface ((")
    with pytest.raises(GdsimError):
        Race("bowl", start=(float("inf"), 0.0))
    with pytest.raises(GdsimError):
        Race("bowl", start=(1.0,))
    race = Race("bowl")
    with pytest.raises(GdsimError):
        race.add("Adamm(lr=0.1)")
    with pytest.raises(GdsimError):
        race.add("SGD(lr=0.1)", start=(2e6, 0.0))
    with pytest.raises(GdsimError):
        race.add_swarm("SGD", np.zeros((3, 3)))
    with pytest.raises(GdsimError):
        race.add_swarm("SGD", [[0.0, float("nan")]])
    with pytest.raises(GdsimError):
        Race("bowl", history=2)


# --- anatomy -----------------------------------------------------------------------------------


def test_anatomy_reports_gradient_update_and_state():
    surface = SURFACES["ravine"]
    race = Race(surface)
    r = race.add("SGD(lr=0.01, momentum=0.9)")
    race.step(3)
    assert r.anatomy is None  # only on request
    before = np.array(r.point)
    race.step(anatomy=True)
    a = r.anatomy
    assert a.step == 4 and a.runner_id == r.id and not a.diverged
    x, y = before
    np.testing.assert_allclose(a.gradient, [2 * x, 40 * y], rtol=1e-15)
    np.testing.assert_array_equal(a.point_before, before)
    np.testing.assert_array_equal(a.point_after, r.point)
    np.testing.assert_array_equal(a.update, a.point_after - a.point_before)
    # SGD with momentum: the update is -lr * momentum_buffer
    np.testing.assert_allclose(a.update, -0.01 * a.state["momentum_buffer"], rtol=1e-12)
    assert a.lr == 0.01 and a.evaluations == 1
    assert a.loss_before == pytest.approx(surface.value(x, y))
    race.step()
    assert r.anatomy is a  # not recorded again unless asked
    r.watch = True
    race.step()
    assert race.anatomy(r).step == 6


@pytest.mark.parametrize(
    "spec, keys",
    [
        ("Adam(lr=0.1)", {"step", "exp_avg", "exp_avg_sq"}),
        ("Adagrad(lr=0.1)", {"step", "sum"}),
        ("RMSprop(lr=0.01)", {"step", "square_avg"}),
        ("Adadelta", {"step", "square_avg", "acc_delta"}),
    ],
)
def test_anatomy_state_keys(spec, keys):
    race = Race("bowl")
    r = race.add(spec)
    race.step(2, anatomy=True)
    assert keys <= set(r.anatomy.state)


def test_lbfgs_works_and_reports_evaluations():
    race = Race("rosenbrock")
    r = race.add("LBFGS(lr=1, line_search_fn='strong_wolfe')")
    race.step(30)
    assert r.status == "ok"
    assert r.point == pytest.approx((1.0, 1.0), abs=1e-3)
    race.reset(r)
    race.step(1, anatomy=True)
    a = r.anatomy
    assert a.evaluations > 1  # one LBFGS step = several closure evaluations
    x, y = race.start
    expected_grad = [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)]
    np.testing.assert_allclose(a.gradient, expected_grad, rtol=1e-12)


def test_plain_state_converts_tensors():
    state = {
        "step": torch.tensor(3.0),
        "exp_avg": torch.tensor([1.0, 2.0]),
        "old": [torch.tensor([1.0]), 2],
    }
    out = plain_state(state)
    assert out["step"] == 3.0 and type(out["step"]) is float
    assert isinstance(out["exp_avg"], np.ndarray) and out["old"][1] == 2


# --- bounded history ---------------------------------------------------------------------------


def test_trail_stays_bounded_keeps_start_and_latest_evenly_spaced():
    cap = 33
    trail = Trail(cap)
    rng = np.random.default_rng(0)
    xs = rng.normal(size=200_001)
    for k in range(200_001):
        trail.append(k, xs[k], -xs[k], float(k))
        if k % 9973 == 0:
            assert len(trail) <= cap and len(trail.points()) == len(trail)
    pts, losses, steps = trail.points(), trail.losses(), trail.steps()
    assert len(pts) <= cap and trail._pts.shape[0] == cap - 1  # storage never grew
    assert steps[0] == 0 and steps[-1] == 200_000  # the start and the latest
    assert pts[0, 0] == xs[0] and pts[-1, 0] == xs[200_000] and losses[-1] == 200_000.0
    sampled = steps[:-1]
    assert np.all(np.diff(sampled) == trail.stride)  # evenly spaced, stride a power of two
    assert trail.stride & (trail.stride - 1) == 0
    np.testing.assert_array_equal(pts[:, 0], xs[steps])  # each kept point is the real one
    np.testing.assert_array_equal(losses, steps.astype(float))
    assert len(trail) >= cap // 2  # decimation keeps a useful number of points


def test_unbounded_trail_keeps_everything():
    trail = Trail(None, reserve=4)
    for k in range(1000):
        trail.append(k, k, 2 * k, 3.0 * k)
    assert len(trail) == 1000
    np.testing.assert_array_equal(trail.steps(), np.arange(1000))


def test_runner_history_is_bounded_in_a_long_race():
    race = Race("bowl", history=16)
    r = race.add("SGD(lr=1e-6)")
    race.step(3000)
    pts = r.trail.points()
    assert len(pts) <= 16
    assert tuple(pts[0]) == race.start and tuple(pts[-1]) == r.point
    assert r.trail.steps()[-1] == 3000
    assert DEFAULT_HISTORY >= 1000


# --- swarms ------------------------------------------------------------------------------------


def _starts(n, surface, seed=0):
    (x0, x1), (y0, y1) = surface.domain
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)])


@pytest.mark.parametrize("name", [n for n in optimizer_names() if get_optimizer(n).elementwise])
def test_batched_swarm_equals_single_runs(name):
    surface = SURFACES["himmelblau"]
    starts = _starts(6, surface)
    race = Race(surface, history=None)
    swarm = race.add_swarm(_spec(name), starts)
    assert swarm.batched
    singles = [race.add(_spec(name), start=s) for s in starts]
    race.step(15)
    for i, single in enumerate(singles):
        if single.status == "ok":
            np.testing.assert_allclose(swarm.points[i], single.point, rtol=1e-12, atol=1e-12)
            assert swarm.losses[i] == pytest.approx(single.loss, rel=1e-12, abs=1e-12)
        assert bool(swarm.diverged[i]) == (single.status == "diverged")


def test_non_elementwise_swarm_falls_back_to_separate_instances():
    surface = SURFACES["rosenbrock"]
    starts = _starts(3, surface, seed=1)
    race = Race(surface)
    swarm = race.add_swarm("LBFGS(lr=0.5, max_iter=3)", starts)
    assert not swarm.batched
    singles = [race.add("LBFGS(lr=0.5, max_iter=3)", start=s) for s in starts]
    race.step(4)
    for i, single in enumerate(singles):
        np.testing.assert_array_equal(swarm.points[i], single.point)


def test_swarm_per_point_divergence():
    surface = SURFACES["rosenbrock"]
    # SGD(lr=0.0015) blows up from far out on the banana's walls but not near the minimum
    starts = np.array([[1.0, 1.0], [1.01, 1.0], [-2.0, -1.0], [0.9, 0.8]])
    race = Race(surface)
    swarm = race.add_swarm("SGD(lr=0.0015)", starts, trail=4)
    race.step(30)
    assert swarm.diverged.tolist() == [False, False, True, False]
    assert swarm.diverged_at[2] >= 1 and swarm.diverged_at[0] == -1
    assert swarm.status == "ok" and np.isfinite(swarm.points).all()
    assert np.isfinite(swarm.losses).all()
    recent = swarm.recent()
    assert recent.shape == (4, 4, 2)
    np.testing.assert_array_equal(recent[-1], swarm.points)
    snap = swarm.snapshot()
    assert snap.steps == 30 and snap.recent.shape == (4, 4, 2)
    race.set_hparams(swarm, lr=1e-4)
    race.reset(swarm)
    race.step(5)
    assert not swarm.diverged.any() and swarm.spec.hparams()["lr"] == 1e-4


@pytest.mark.parametrize(
    "spec", ["RAdam(lr=0.05)", "SGD(lr=0.0015, momentum=0.5)", "ASGD(lr=0.0018)"]
)
def test_swarm_divergence_keeps_the_rest_equal_to_single_runs(spec):
    """After some points diverge (and are pinned in the shared parameter), every other point
    still follows exactly its solo trajectory, and a diverged point reports the same last
    accepted point as a solo runner that diverged."""
    surface = SURFACES["rosenbrock"]
    starts = np.array([[1.0, 1.0], [-2.0, -1.0], [0.9, 0.8], [-1.9, 2.9], [0.0, 0.0]])
    race = Race(surface)
    swarm = race.add_swarm(spec, starts)
    singles = [race.add(spec, start=s) for s in starts]
    race.step(60)
    statuses = [r.status for r in singles]
    assert "diverged" in statuses and "ok" in statuses  # the case this test is about
    assert swarm.diverged.tolist() == [s == "diverged" for s in statuses]
    for i, r in enumerate(singles):
        np.testing.assert_allclose(swarm.points[i], r.point, rtol=1e-12, atol=1e-12)
        assert swarm.losses[i] == pytest.approx(r.loss, rel=1e-12, abs=1e-12)
        if r.status == "diverged":
            assert swarm.diverged_at[i] == r.diverged_at
    frozen = swarm.points.copy()
    race.step(5)
    np.testing.assert_array_equal(swarm.points[swarm.diverged], frozen[swarm.diverged])
    assert np.isfinite(swarm.points).all() and np.isfinite(swarm.losses).all()


def test_swarm_stops_when_every_point_diverged():
    race = Race("saddle")
    swarm = race.add_swarm("SGD(lr=0.5)", [[0.0, 1.0], [0.0, -1.0]])
    race.step(200)
    assert swarm.status == "diverged" and swarm.diverged.all()
    assert not race.active


def _swarm_history(surface, spec, starts, steps, lr_at=None):
    """(points, losses, diverged_at) after each step, and the swarm."""
    race = Race(surface)
    swarm = race.add_swarm(spec, starts)
    seen = []
    for k in range(steps):
        if k == lr_at:
            race.set_hparams(swarm, lr=3 * swarm.spec.hparams()["lr"])
        race.step(1)
        seen.append((swarm.points.copy(), swarm.losses.copy(), swarm.diverged_at.copy()))
    return seen, swarm


def test_swarm_without_copies_freezes_the_same_points_as_copying_every_step(monkeypatch):
    """A batched swarm's points are its parameter (SNAPSHOT_EVERY): points that diverge at
    scattered steps, some after an lr change, are frozen at the same values, bit for bit, as
    when the swarm copies its points every step. On every surface, several optimizers."""
    replays = 0
    for name, surface in SURFACES.items():
        (x0, x1), (y0, y1) = surface.domain
        # from far outside the domain too, where big steps blow up at different steps
        gx, gy = np.meshgrid(
            np.linspace(x0 - 3 * (x1 - x0), x1 + 3 * (x1 - x0), 13), np.linspace(y0, y1, 7)
        )
        starts = np.column_stack([gx.ravel(), gy.ravel()])
        for spec, lr_at in (("SGD(lr=0.5)", None), ("Adam(lr=0.5)", 17), ("RMSprop(lr=0.3)", 23)):
            monkeypatch.setattr(race_module, "SNAPSHOT_EVERY", 20)
            lazy, swarm = _swarm_history(surface, spec, starts, 40, lr_at)
            replays += swarm.points is not swarm._view
            monkeypatch.setattr(race_module, "SNAPSHOT_EVERY", 0)
            eager, _ = _swarm_history(surface, spec, starts, 40, lr_at)
            for k, (mine, theirs) in enumerate(zip(lazy, eager, strict=True)):
                for a, b in zip(mine, theirs, strict=True):
                    assert np.array_equal(a, b), (name, spec, k)
    assert replays >= 10  # the case this test is about: most of these runs lose points


@pytest.mark.parametrize("every", [0, 20])
def test_swarm_where_torch_raises_mid_run_keeps_its_last_accepted_points(every, monkeypatch):
    monkeypatch.setattr(race_module, "SNAPSHOT_EVERY", every)
    race = Race("himmelblau")
    swarm = race.add_swarm("Adam(lr=0.1)", _starts(50, SURFACES["himmelblau"]))
    race.step(12)
    points, losses = swarm.points.copy(), swarm.losses.copy()
    step, raised = swarm._opt.step, []

    def raises_once(*args, **kwargs):
        step(*args, **kwargs)  # the parameter has moved when torch raises, as NAdam's can
        if not raised:
            raised.append(True)
            raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(swarm._opt, "step", raises_once)
    race.step(1)
    assert swarm.status == "diverged" and (swarm.diverged_at == 13).all()
    assert np.array_equal(swarm.points, points) and np.array_equal(swarm.losses, losses)


def test_large_batched_swarm_is_one_parameter():
    race = Race("rastrigin")
    swarm = race.add_swarm("Adam(lr=0.05)", _starts(10_000, SURFACES["rastrigin"]))
    race.step(3)
    assert swarm._param.shape == (10_000, 2) and len(swarm._opt.param_groups[0]["params"]) == 1
    assert swarm.points.shape == (10_000, 2) and swarm.steps == 3


def test_race_accepts_expression_surfaces_and_spec_objects():
    race = Race(get_surface("(x - 1)**2 + (y + 2)**2"))
    r = race.add(parse_spec("SGD(lr=0.1)"))
    race.step(200)
    assert r.point == pytest.approx((1.0, -2.0), abs=1e-9)
    assert isinstance(r, Runner)


def test_stepping_inside_a_callers_no_grad_still_works():
    with torch.no_grad():
        race = Race("bowl")
        r = race.add("Adam(lr=0.1)")
        s = race.add_swarm("SGD(lr=0.1)", [[1.0, 1.0], [2.0, -1.0]])
        race.step(3)
        race.reset()
        race.step(2)
    assert r.steps == 2 and s.steps == 2 and r.loss < SURFACES["bowl"].value(*race.start)


def test_per_runner_history_override():
    race = Race("bowl", history=8)
    capped = race.add("SGD(lr=1e-4)")
    full = race.add("SGD(lr=1e-4)", history=None)
    race.step(100)
    assert len(capped.trail) <= 8 and len(full.trail) == 101
