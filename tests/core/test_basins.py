"""Basins of attraction: every grid start classified by the minimum the real optimizer reaches."""

from __future__ import annotations

import numpy as np
import pytest

import core.teach.basins as basins
from core.engine.surfaces import get_surface
from core.errors import GdsimError
from core.teach.basins import BasinsRun, compute_basins

HIMMELBLAU_MINIMA = 4


def fractions(res) -> dict[str, float]:
    return {c.name: c.fraction for c in res.legend}


@pytest.mark.parametrize("spec", ["SGD(lr=0.001)", "Adam(lr=0.05)"])
def test_himmelblau_reaches_all_four_minima_in_sensible_shares(spec):
    res = compute_basins("himmelblau", spec, n=30, steps=1500)
    minima = [c for c in res.legend if c.kind == "minimum"]
    assert len(minima) == HIMMELBLAU_MINIMA
    assert [c.minimum_index for c in minima] == [0, 1, 2, 3]
    for c in minima:  # four basins of roughly a quarter each (a symmetric-ish surface)
        assert 0.15 < c.fraction < 0.35, (c.name, c.fraction)
    assert sum(c.count for c in res.legend) == 30 * 30
    assert {c.kind for c in res.legend} == {"minimum"}  # nothing diverged, nothing still moving
    assert res.finished and res.steps < 1500  # stopped early once everything had arrived
    # every start labelled with a minimum really ended there
    surface = get_surface("himmelblau")
    for c in minima:
        m = surface.minima[c.minimum_index]
        ends = res.end_points[res.labels == c.index]
        assert np.hypot(ends[:, 0] - m.x, ends[:, 1] - m.y).max() <= res.tol


def test_labels_follow_the_grid_layout():
    res = compute_basins("himmelblau", "SGD(lr=0.001)", n=20)
    assert res.labels.shape == (20, 20)
    assert res.xs[0] == -5 and res.xs[-1] == 5 and res.ys[0] == -5 and res.ys[-1] == 5
    # the corners go to the minimum in their own quadrant: labels[j, i] is (xs[i], ys[j])
    expect = {(-1, -1): (-3.78, -3.28), (1, 1): (3.0, 2.0), (-1, 1): (-2.81, 3.13)}
    for (sx, sy), (mx, my) in expect.items():
        c = res.legend[res.labels[0 if sy < 0 else -1, 0 if sx < 0 else -1]]
        assert c.location == pytest.approx((mx, my), abs=0.01)
        assert c.location == pytest.approx(res.class_at(5 * sx, 5 * sy).location)


def test_a_start_exactly_at_a_minimum_gets_that_minimum():
    # an 11-point grid over [-5, 5] has a start exactly at Himmelblau's (3, 2), gradient 0 there
    res = compute_basins("himmelblau", "Adam(lr=0.05)", n=11, steps=300)
    i = int(np.flatnonzero(res.xs == 3.0)[0])
    j = int(np.flatnonzero(res.ys == 2.0)[0])
    c = res.legend[res.labels[j, i]]
    assert c.kind == "minimum" and c.minimum_index == 0 and c.location == (3.0, 2.0)
    assert tuple(res.end_points[j, i]) == (3.0, 2.0)


def test_a_divergent_learning_rate_is_labelled_diverged():
    res = compute_basins("himmelblau", "SGD(lr=0.05)", n=20, steps=300)
    diverged = [c for c in res.legend if c.kind == "diverged"]
    assert len(diverged) == 1 and diverged[0].name == "diverged"
    assert diverged[0].fraction > 0.9
    assert (res.labels == diverged[0].index).sum() == diverged[0].count
    assert all(c.count == 0 for c in res.legend if c.kind == "minimum")
    assert diverged[0].location is None and diverged[0].value is None


def test_an_expression_with_two_minima_clusters_into_two_classes():
    res = compute_basins("(x**2 - 1)**2 + y**2", "SGD(lr=0.01)", n=20, steps=2000)
    assert [c.kind for c in res.legend] == ["other", "other"]
    locs = sorted(c.location for c in res.legend)
    assert locs[0] == pytest.approx((-1.0, 0.0), abs=1e-3)
    assert locs[1] == pytest.approx((1.0, 0.0), abs=1e-3)
    assert [c.fraction for c in res.legend] == [0.5, 0.5]
    assert all(c.value == pytest.approx(0.0, abs=1e-9) for c in res.legend)
    assert res.legend[0].name.startswith("other minimum 1")
    # the left half of the grid ends at x = -1, the right half at x = +1
    left = res.legend[res.labels[0, 0]].location[0]
    right = res.legend[res.labels[0, -1]].location[0]
    assert left == pytest.approx(-1.0, abs=1e-3) and right == pytest.approx(1.0, abs=1e-3)
    assert len(set(res.labels[:, :10].ravel())) == 1 and len(set(res.labels[:, 10:].ravel())) == 1


def test_results_are_deterministic():
    a = compute_basins("six-hump-camel", "Adam(lr=0.02)", n=25, steps=400)
    b = compute_basins("six-hump-camel", "Adam(lr=0.02)", n=25, steps=400)
    assert np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.end_points, b.end_points)
    assert a.legend == b.legend
    assert len(a.legend) >= 3  # two global minima and local valleys found by clustering


def test_slices_give_the_same_map_as_one_run():
    whole = compute_basins("himmelblau", "SGD(lr=0.001, momentum=0.9)", n=15, steps=200)
    run = BasinsRun("himmelblau", "SGD(lr=0.001, momentum=0.9)", n=15, steps=200)
    seen = []
    while not run.done:
        seen.append(run.advance(7))
    assert seen == sorted(seen) and 0 < seen[0] < 1 and seen[-1] == 1.0
    assert run.progress == 1.0
    res = run.result()
    assert np.array_equal(res.labels, whole.labels) and res.steps == whole.steps


def test_a_budget_of_zero_still_takes_one_step_and_result_works_midway():
    run = BasinsRun("himmelblau", "Adam(lr=0.02)", n=10, steps=500)
    assert run.steps == 0 and run.progress == 0.0 and not run.done
    run.advance(1000, budget_s=0.0)
    assert run.steps == 1
    mid = run.result()  # a partial map: most points are still on their way
    assert not mid.finished and mid.steps == 1
    assert "still moving" in mid.counts()


def test_too_few_steps_leave_points_still_moving():
    res = compute_basins("rosenbrock", "SGD(lr=0.0001)", n=10, steps=30)
    assert not res.finished and res.steps == 30
    assert fractions(res)["still moving"] > 0.8


def test_starts_where_the_expression_is_undefined():
    res = compute_basins("log(x) + y**2 + 1/x", "Adam(lr=0.05)", n=10, steps=50)
    undefined = [c for c in res.legend if c.kind == "undefined"]
    assert len(undefined) == 1
    assert undefined[0].fraction == 0.5  # every start with x < 0 (the grid skips x = 0)
    assert (res.labels[:, :5] == undefined[0].index).all()
    assert not (res.labels[:, 5:] == undefined[0].index).any()


def test_many_local_minima_are_capped(monkeypatch):
    monkeypatch.setattr(basins, "MAX_OTHER_CLASSES", 3)
    res = compute_basins("rastrigin", "SGD(lr=0.002)", n=30, steps=300)
    kinds = [c.kind for c in res.legend]
    assert kinds.count("other") == 3 and kinds.count("elsewhere") == 1
    others = [c for c in res.legend if c.kind == "other"]
    assert [c.value for c in others] == sorted(c.value for c in others)  # lowest first
    assert sum(c.count for c in res.legend) == 900


def test_tolerances_scale_with_the_domain():
    small = BasinsRun("himmelblau", "SGD(lr=0.001)", n=10, domain=((2.0, 4.0), (1.0, 2.0)))
    assert small.tol == pytest.approx(basins.TOL_FRACTION * 2.0)
    big = BasinsRun("booth", "SGD(lr=0.001)", n=10)
    assert big.tol == pytest.approx(basins.TOL_FRACTION * 20.0)
    assert BasinsRun("booth", "SGD", n=10, tol=0.5, move_tol=1e-3).tol == 0.5


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"n": 9}, "grid size"),
        ({"n": 301}, "grid size"),
        ({"n": True}, "grid size"),
        ({"n": 2.5}, "grid size"),
        ({"steps": 0}, "steps"),
        ({"steps": 10**6}, "steps"),
        ({"tol": -1.0}, "tolerance"),
        ({"tol": float("nan")}, "tolerance"),
        ({"move_tol": "x"}, "move tolerance"),
        ({"domain": ((1.0, 0.0), (0.0, 1.0))}, "domain"),
        ({"domain": "big"}, "domain"),
        ({"spec": "LBFGS"}, "LBFGS cannot be batched"),
        ({"spec": "Adafactor"}, "Adafactor cannot be batched"),
        ({"spec": "Adam(lr=-1)"}, "lr"),
        ({"surface": "no_such_thing("}, ""),
    ],
)
def test_bad_input_is_refused_in_one_line(kwargs, needle):
    args = {"surface": "himmelblau", "spec": "SGD(lr=0.001)", "n": 20} | kwargs
    with pytest.raises(GdsimError) as err:
        BasinsRun(**args)
    msg = str(err.value)
    assert needle in msg and "\n" not in msg


def test_refusal_names_optimizers_that_work():
    with pytest.raises(GdsimError, match="use SGD, Adam"):
        BasinsRun("himmelblau", "LBFGS", n=10)


def test_classify_in_pieces_gives_the_same_result(monkeypatch):
    monkeypatch.setattr(basins, "CLASSIFY_BLOCK", 64)  # a 20 x 20 grid in several blocks
    run = BasinsRun("six-hump-camel", "Adam(lr=0.02)", n=20, steps=300)
    run.run()
    pieces = list(run.classify())
    assert len(pieces) > 7 and all(p is None for p in pieces[:-1])
    last = pieces[-1]
    whole = run.result()
    assert np.array_equal(last.labels, whole.labels) and last.legend == whole.legend


class _MadeUpSwarm:
    """What BasinsRun._check reads of a swarm, set by hand."""

    def __init__(self, points: np.ndarray) -> None:
        self.points = points
        self.diverged = np.zeros(len(points), dtype=bool)
        self.steps = 0


def test_the_stop_shortcut_stops_where_counting_every_check_would():
    """BasinsRun._arriving answers from a witness and the last checks' masks; the rule it stands
    for counts, per point, the checks in a row at which it was going and near a minimum, and
    stops when no going point has a count below CAPTURE_CHECKS. Made-up points: a few wander
    between near, far and resting (calm), the rest rest far from every minimum."""
    answers = set()
    for seed in range(40):
        rng = np.random.default_rng(seed)
        run = BasinsRun("himmelblau", "Adam(lr=0.05)", n=basins.MIN_N, steps=10_000)
        count, tol = run.swarm.size, run.tol
        minima = np.array([(m.x, m.y) for m in run.surface.minima])
        pts = minima[np.arange(count) % len(minima)] + (3 * tol, 0)
        run.swarm = swarm = _MadeUpSwarm(pts.copy())
        wanderers = rng.choice(count, size=3, replace=False)
        counts = np.zeros(count, dtype=int)
        for _ in range(60):
            prev = swarm.points.copy()
            pts = swarm.points.copy()
            for i in wanderers:
                if rng.random() < 0.15:
                    continue  # resting: calm once it has rested at two checks in a row
                m = minima[rng.integers(len(minima))]
                pts[i] = m + ((0.3 if rng.random() < 0.85 else 3.0) * tol, 0)
                prev[i] = pts[i] + 1.0  # its last step was long
            swarm.points, swarm.steps = pts, swarm.steps + basins.CHECK_EVERY
            run._prev[:] = prev.T
            run._check()
            going = (run._calm < basins.SETTLE_CHECKS) & ~swarm.diverged
            d2 = ((pts[:, None, :] - minima[None]) ** 2).sum(axis=2).min(axis=1)
            counts = np.where(going & (d2 <= tol * tol), counts + 1, 0)
            expected = not (going & (counts < basins.CAPTURE_CHECKS)).any()
            assert run._settled == expected, (seed, swarm.steps)
            answers.add(expected)
    assert answers == {False, True}  # the rule said both "go on" and "stop"


class NumpyRuleRun(BasinsRun):
    """The numpy check the torch one replaced, kept verbatim as the reference for its rule."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._anchor = self.swarm.starts.copy()
        self._near = np.zeros(self.swarm.size, dtype=np.int32)
        minima = self.surface.minima
        self._minima = np.array([(m.x, m.y) for m in minima]) if minima else None

    def _check(self) -> None:
        swarm = self.swarm
        pts = swarm.points
        d = pts - self._prev.T
        d *= d
        small = d[:, 0] + d[:, 1] < self.move_tol * self.move_tol
        d = pts - self._anchor
        d *= d
        window = self.move_tol * (swarm.steps - self._anchor_step)
        small &= d[:, 0] + d[:, 1] < window * window
        np.copyto(self._anchor, pts)
        self._anchor_step = swarm.steps
        calm = self._calm
        calm += 1
        calm[~small] = 0
        settled = calm >= basins.SETTLE_CHECKS
        going = np.flatnonzero(~settled & ~swarm.diverged)
        self._near[settled] = 0
        if going.size and self._minima is not None:
            p = pts[going]
            m = self._minima
            d2 = (p[:, None, 0] - m[None, :, 0]) ** 2 + (p[:, None, 1] - m[None, :, 1]) ** 2
            near = d2.min(axis=1) <= self.tol * self.tol
            self._near[going] = np.where(near, self._near[going] + 1, 0)
            going = going[self._near[going] < basins.CAPTURE_CHECKS]
        self._settled = going.size == 0


@pytest.mark.parametrize(
    ("surface", "spec", "steps"),
    [
        ("himmelblau", "Adam(lr=0.05)", 1000),  # stops early: settled or circling a minimum
        ("himmelblau", "SGD(lr=0.001, momentum=0.9)", 400),
        ("himmelblau", "SGD(lr=0.05)", 300),  # most diverge
        ("rastrigin", "SGD(lr=0.002)", 300),  # settled in local minima the surface does not list
        ("(x**2 - 1)**2 + y**2", "SGD(lr=0.01)", 2000),  # no known minima: calm points only
        ("rosenbrock", "SGD(lr=0.0001)", 60),  # still moving at the end
        ("six-hump-camel", "RMSprop(lr=0.01)", 1000),  # calm, then moving again: counts reset
    ],
)
def test_the_torch_check_labels_and_stops_as_the_numpy_rule(surface, spec, steps):
    new = BasinsRun(surface, spec, n=24, steps=steps)
    old = NumpyRuleRun(surface, spec, n=24, steps=steps)
    while not (new.done and old.done):  # check by check: the same calm counts, the same stop
        new.advance(basins.CHECK_EVERY)
        old.advance(basins.CHECK_EVERY)
        assert new.steps == old.steps and new.done == old.done
        np.testing.assert_array_equal(new._calm, old._calm)
    a, b = new.result(), old.result()
    assert a.steps == b.steps and a.finished == b.finished
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.legend == b.legend
