"""A narrated step is the same step the race takes, told one PyTorch line at a time."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.engine.race import Race
from core.errors import GdsimError

NAMES = ["zero_grad", "forward", "backward", "step"]


@pytest.mark.parametrize(
    "spec", ["SGD(lr=0.001, momentum=0.9)", "Adam(lr=0.05)", "RMSprop(lr=0.01)", "LBFGS(lr=0.5)"]
)
def test_narrated_step_equals_a_plain_step(spec: str) -> None:
    told, plain = Race("rosenbrock"), Race("rosenbrock")
    a, b = told.add(spec), plain.add(spec)
    for _ in range(3):  # warm state (momentum buffers, Adam moments) must carry over too
        phases = list(told.narrate(a))
        plain.step(1)
        assert [p.name for p in phases] == NAMES
        np.testing.assert_allclose(a.point, b.point, rtol=1e-12, atol=1e-15)
        assert phases[-1].point == a.point
    assert a.steps == b.steps == 3
    assert told.t == 3


def test_phases_carry_the_numbers_a_lecturer_reads_out() -> None:
    race = Race("bowl", start=(1.0, -2.0))
    r = race.add("SGD(lr=0.1)")
    zero, fwd, bwd, step = race.narrate(r)
    assert zero.grad is None and zero.loss is None and zero.code == "optimizer.zero_grad()"
    assert fwd.loss == pytest.approx(
        race.surface(torch.tensor([1.0, -2.0], dtype=torch.float64)).item()
    )
    assert bwd.code == "loss.backward()" and bwd.grad is not None
    # plain SGD: the update is exactly -lr * grad
    np.testing.assert_allclose(step.update, -0.1 * np.array(bwd.grad), rtol=1e-12)
    assert step.state == {} or "momentum_buffer" in step.state
    assert (
        f"is {fwd.loss:.4g}" in fwd.text and f"({bwd.grad[0]:.4g}, {bwd.grad[1]:.4g})" in bwd.text
    )
    assert r.anatomy is not None and r.anatomy.step == 1


def test_adam_state_after_the_step_is_reported() -> None:
    race = Race("rosenbrock")
    r = race.add("Adam(lr=0.01)")
    step = list(race.narrate(r))[-1]
    assert {"exp_avg", "exp_avg_sq"} <= set(step.state)
    np.testing.assert_allclose(step.state["exp_avg"], 0.1 * np.array(step.grad), rtol=1e-6)


def test_closing_early_moves_nothing_and_the_race_goes_on() -> None:
    race = Race("himmelblau")
    r = race.add("Adam(lr=0.05)")
    other = race.add("SGD(lr=0.01)")
    start = r.point
    phases = race.narrate(r)
    next(phases), next(phases), next(phases)  # zero_grad, forward, backward: no step yet
    phases.close()
    assert r.point == start and r.steps == 0 and other.steps == 0 and race.t == 0
    race.step(1)
    assert r.steps == 1 and other.steps == 1


def test_the_other_runners_keep_pace() -> None:
    race = Race("rosenbrock")
    r = race.add("SGD(lr=0.001)")
    others = [race.add("Adam(lr=0.02)"), race.add("RMSprop(lr=0.005)")]
    list(race.narrate(r))
    assert all(o.steps == 1 for o in others) and race.t == 1


def test_a_diverging_step_is_told_and_stops_the_runner() -> None:
    race = Race("rosenbrock")
    r = race.add("SGD(lr=1000)")
    last = list(race.narrate(r))[-1]
    assert last.diverged and "diverged" in last.text
    assert r.status == "diverged" and all(math.isfinite(v) for v in r.point)
    with pytest.raises(GdsimError, match="diverged"):
        race.narrate(r)


def test_swarms_are_refused_with_a_message() -> None:
    race = Race("bowl")
    s = race.add_swarm("SGD(lr=0.1)", [[1.0, 1.0], [2.0, 2.0]])
    with pytest.raises(GdsimError, match="swarm"):
        race.narrate(s)
