"""The LR range test: the curve a student would read, the suggestion, and the rules around it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.engine.training import TrainConfig, TrainingEngine
from core.errors import GdsimError
from core.teach.lr_finder import (
    MIN_POINTS,
    LRPoint,
    check_request,
    find_lr,
    suggest_lr,
    valley_lr,
)

MOONS = TrainConfig(dataset="moons", optimizers=("Adam(lr=0.01)",), seed=0)


def test_moons_loss_falls_then_blows_up_and_the_suggestion_lies_in_the_falling_part():
    r = find_lr(MOONS)
    assert r.stopped == "diverged"
    assert r.diverged_at == len(r.lrs) - 1 < 100
    best = r.best_index
    assert best is not None
    # falls: the lowest smoothed loss is well below where it started
    assert r.smoothed[best] < 0.8 * r.smoothed[0]
    # then blows up: the run stopped because the smoothed loss passed 4x its best
    assert r.smoothed[-1] > 4 * r.smoothed[best] or not math.isfinite(r.smoothed[-1])
    assert r.rule == "steepest"
    assert r.lr_min <= r.suggestion <= r.lr_max
    assert r.suggestion < r.lrs[best]  # below the minimum: where it still learns stably
    assert "steepest" in r.reason
    assert r.valley == valley_lr(r.lrs, r.smoothed, r.steps)  # fastai's default, beside it
    assert r.lr_min <= r.valley < r.lrs[best]


def test_lrs_grow_exponentially_from_lr_min_to_lr_max():
    r = find_lr(TrainConfig(optimizers=("SGD(lr=0.1)",)), lr_min=1e-4, lr_max=1e-1, steps=30)
    assert r.stopped == "completed" and len(r.lrs) == 30
    assert r.lrs[0] == pytest.approx(1e-4)
    assert r.lrs[-1] == pytest.approx(1e-1)
    ratios = r.lrs[1:] / r.lrs[:-1]
    assert np.allclose(ratios, ratios[0])


def test_same_seed_same_curve_other_seed_other_curve():
    a = find_lr(MOONS, steps=40)
    b = find_lr(MOONS, steps=40)
    np.testing.assert_array_equal(a.losses, b.losses)
    np.testing.assert_array_equal(a.smoothed, b.smoothed)
    assert a.suggestion == b.suggestion
    c = find_lr(TrainConfig(optimizers=("Adam(lr=0.01)",), seed=1), steps=40)
    assert not np.array_equal(a.losses, c.losses)


def test_starts_from_the_training_runs_initial_weights_and_first_batch():
    """Same seed path as the engine: the first batch loss (before any step) is identical."""
    engine = TrainingEngine(MOONS)
    engine.step(1)
    first = engine.drain().curves[0].losses[0]
    r = find_lr(MOONS, steps=10)
    assert r.losses[0] == pytest.approx(first, abs=0, rel=1e-12)


def test_smoothed_is_a_bias_corrected_ema_of_the_raw_losses():
    r = find_lr(MOONS, steps=20, smoothing=0.9)
    avg = 0.0
    for i, loss in enumerate(r.losses):
        avg = 0.9 * avg + 0.1 * loss
        assert r.smoothed[i] == pytest.approx(avg / (1 - 0.9 ** (i + 1)))
    assert r.smoothed[0] == pytest.approx(r.losses[0])  # no pull towards 0 at the start


def test_early_stop_when_the_loss_explodes():
    cfg = TrainConfig(optimizers=("SGD(lr=0.1, momentum=0.9)",))
    r = find_lr(cfg, lr_min=1e-3, lr_max=1e4, steps=200)
    assert r.stopped == "diverged"
    assert len(r.lrs) < 200
    assert r.diverged_at == len(r.losses) - 1
    last = r.smoothed[-1]
    assert not math.isfinite(last) or last > 4 * np.nanmin(r.smoothed[:-1])
    # the suggestion never sits on the blow-up point
    assert r.suggestion is None or r.suggestion < r.lrs[-1]


def test_diverge_factor_decides_when_to_stop():
    cfg = TrainConfig(optimizers=("SGD(lr=0.1, momentum=0.9)",))
    strict = find_lr(cfg, lr_min=1e-3, lr_max=1e4, steps=200, diverge_factor=1.5)
    loose = find_lr(cfg, lr_min=1e-3, lr_max=1e4, steps=200, diverge_factor=50)
    assert len(strict.lrs) < len(loose.lrs)


def test_cancel_returns_the_partial_curve_without_a_suggestion():
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 7

    r = find_lr(MOONS, steps=100, cancelled=cancelled)
    assert r.stopped == "cancelled"
    assert len(r.lrs) == len(r.losses) == 7
    assert r.suggestion is None and r.rule == "" and r.valley is None
    assert "cancelled after 7 of 100 steps" in r.reason


def test_report_and_on_step_follow_the_run():
    reports: list[tuple[float, str]] = []
    points: list[LRPoint] = []
    r = find_lr(MOONS, steps=25, report=lambda f, t: reports.append((f, t)), on_step=points.append)
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and 0 < fractions[0] and fractions[-1] == 1.0
    assert reports[0][1].startswith("step 1/25")
    assert reports[-1][1] == r.reason
    assert [p.step for p in points] == list(range(len(r.lrs)))
    assert [p.lr for p in points] == list(r.lrs)
    assert [p.smoothed for p in points] == list(r.smoothed)


def test_every_step_is_the_specs_real_torch_optim_step(monkeypatch):
    """The lane's own optimizer class and hyperparameters, stepped by torch.optim, with the lr
    the scheduler put in param_groups (what the curve records)."""
    seen: list[tuple[float, float]] = []
    real_step = torch.optim.SGD.step

    def spy(self, *args, **kwargs):
        group = self.param_groups[0]
        seen.append((group["lr"], group["momentum"]))
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", spy)
    cfg = TrainConfig(optimizers=("Adam(lr=0.01)", "SGD(lr=0.05, momentum=0.5)"))
    r = find_lr(cfg, lane=1, lr_min=1e-3, lr_max=1.0, steps=15)
    assert r.optimizer == "SGD(lr=0.05, momentum=0.5)"
    assert r.optimizer_class == "torch.optim.sgd.SGD"
    assert len(seen) == len(r.lrs) == 15
    assert [lr for lr, _ in seen] == list(r.lrs)
    assert all(m == 0.5 for _, m in seen)


def test_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    find_lr(MOONS, steps=10)
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"lr_min": 1.0, "lr_max": 0.1}, "lr_min must be below lr_max"),
        ({"lr_min": 0.1, "lr_max": 0.1}, "lr_min must be below lr_max"),
        ({"lr_min": 0.0}, "lr_min must be a positive"),
        ({"lr_max": -1.0}, "lr_max must be a positive"),
        ({"lr_max": float("nan")}, "lr_max must be a positive"),
        ({"lr_min": "small"}, "lr_min must be a number"),
        ({"steps": 5}, "needs 10..100000 steps"),
        ({"steps": 2.5}, "steps must be a whole number"),
        ({"lane": 3}, "no lane 3"),
    ],
)
def test_bad_requests_are_refused_in_one_line(kwargs, words):
    with pytest.raises(GdsimError) as info:
        find_lr(MOONS, **kwargs)
    assert words in str(info.value)
    assert "\n" not in str(info.value)


def test_lbfgs_is_refused_with_the_reason():
    cfg = TrainConfig(optimizers=("LBFGS(lr=0.5)",))
    with pytest.raises(GdsimError, match="does not support LBFGS: .*closure") as info:
        check_request(cfg)
    assert "\n" not in str(info.value)


# ---- the suggestion rules on synthetic curves ----------------------------------------------


def _lrs(n: int) -> np.ndarray:
    return np.logspace(-6, 1, n)


def test_steepest_rule_finds_the_steepest_drop():
    lrs = _lrs(100)
    x = np.log10(lrs)
    curve = 1.0 - 0.8 / (1 + np.exp(-(x + 2) * 3))  # falls fastest at lr 1e-2
    lr, rule, reason = suggest_lr(lrs, curve)
    assert rule == "steepest"
    assert lr == pytest.approx(1e-2, rel=0.2)
    assert "\n" not in reason


def test_min_over_ten_when_the_loss_is_lowest_at_the_start():
    lrs = _lrs(50)
    curve = np.linspace(0.5, 2.0, 50)  # only rises
    lr, rule, reason = suggest_lr(lrs, curve)
    assert rule == "min/10"
    assert lr == pytest.approx(lrs[0] / 10)
    assert "try a lower lr_min" in reason


@pytest.mark.parametrize("n", [0, 1, MIN_POINTS - 1])
def test_too_short_gives_no_suggestion(n):
    lr, rule, reason = suggest_lr(_lrs(max(n, 1))[:n], np.linspace(1, 0.5, n))
    assert lr is None and rule == ""
    assert "too short" in reason


def test_flat_gives_no_suggestion():
    lrs = _lrs(60)
    lr, rule, reason = suggest_lr(lrs, 0.69 + 1e-4 * np.sin(np.arange(60)))
    assert lr is None and rule == ""
    assert "flat" in reason


def test_diverged_point_and_nan_tail_are_ignored():
    lrs = _lrs(40)
    curve = np.concatenate([np.linspace(1.0, 0.2, 30), np.linspace(0.3, 0.9, 9), [np.inf]])
    lr, rule, _ = suggest_lr(lrs, curve, diverged=True)
    assert rule == "steepest" and lr is not None and lr < lrs[29]
    with_nan = curve.copy()
    with_nan[35:] = np.nan
    lr2, rule2, _ = suggest_lr(lrs, with_nan)
    assert rule2 == "steepest" and lr2 is not None and lr2 < lrs[35]


# fastai's valley: trim as lr_find does (steps // 10 at the start, 5 at the end), then the middle
# of the longest strictly decreasing subsequence, indexed fastai's way (start = end - length)


def test_valley_of_a_clean_valley_is_half_way_down():
    lrs = _lrs(20)
    # kept: points 2..14 = 10, 9, ..., 1 (a fall of 10 points ending at 11), then 2, 3, 4
    curve = np.array([50.0, 40.0, *range(10, 0, -1), 2, 3, 4, 60, 70, 80, 90, 99])
    # end = 9 (kept index), length 10, start = -1, third = 10/3: -1 + 3 + 1 = 3
    assert valley_lr(lrs, curve, steps=20) == lrs[2 + 3]


def test_valley_takes_the_longest_decreasing_subsequence_not_a_run():
    lrs = _lrs(13)
    # nothing trimmed at the start (13 // 10 = 1: one point), five at the end
    curve = np.array([9.0, 5, 6, 4, 4.5, 3, 7, 2, 8, *[1.0] * 5])
    # kept 5, 6, 4, 4.5, 3, 7, 2, 8: longest 5 > 4 > 3 > 2 (4 points) ends at kept index 6,
    # start = 6 - 4 = 2, third = 4/3: 2 + 1 + 0 = 3
    assert valley_lr(lrs, curve, steps=13) == lrs[1 + 3]


def test_valley_stops_at_the_first_nan_and_needs_two_points():
    lrs = _lrs(30)
    curve = np.linspace(2.0, 1.0, 30)
    curve[8:] = np.nan  # kept: points 3..7, all falling: end 4, start -1, third 5/3 -> idx 0
    assert valley_lr(lrs, curve, steps=30) == lrs[3 + 0]
    curve[4:] = np.nan
    assert valley_lr(lrs, curve, steps=30) is None  # one point left
    # only rising: fastai's index is -1 there (its lowest lr wraps round to the highest)
    assert valley_lr(lrs, np.linspace(1.0, 2.0, 30), steps=30) == lrs[3]
