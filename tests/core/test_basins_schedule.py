"""Basins: stepping in chunks between checks gives exactly what stepping one step at a time did."""

from __future__ import annotations

import numpy as np
import pytest

import core.teach.basins as basins
from core.teach.basins import BasinsRun


class StepByStepRun(BasinsRun):
    """The loop before chunking, kept as the reference: one race step per call, the check after
    every CHECK_EVERY-th step and after the last."""

    def advance(self, max_steps: int = 100, budget_s: float | None = None) -> float:
        swarm = self.swarm
        limit = min(int(max_steps), self.max_steps - swarm.steps)
        taken = 0
        while taken < limit and not self.done:
            k = swarm.steps + 1
            check = k % basins.CHECK_EVERY == 0 or k == self.max_steps
            if check:
                np.copyto(self._prev, swarm.points.T)
            if self._race.step(1) == 0:
                break
            taken += 1
            if check:
                self._check()
        return self.progress


@pytest.mark.parametrize(
    ("surface", "spec", "steps"),
    [
        ("himmelblau", "Adam(lr=0.05)", 1000),  # stops early at a check
        ("himmelblau", "SGD(lr=0.05)", 300),  # most points diverge, at different steps
        ("(x**2 - 1)**2 + y**2", "SGD(lr=0.01)", 2000),  # settles by calm checks alone
        ("rosenbrock", "SGD(lr=0.0001)", 57),  # runs out between checks: the last step checks
    ],
)
def test_chunked_steps_give_the_step_by_step_map_exactly(surface, spec, steps):
    chunked = BasinsRun(surface, spec, n=16, steps=steps)
    single = StepByStepRun(surface, spec, n=16, steps=steps)
    chunked.run()
    single.run()
    assert chunked.steps == single.steps and chunked.done and single.done
    np.testing.assert_array_equal(chunked._calm, single._calm)
    np.testing.assert_array_equal(chunked.swarm.diverged_at, single.swarm.diverged_at)
    a, b = chunked.result(), single.result()
    assert a.finished == b.finished and a.legend == b.legend
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.end_points, b.end_points)


def test_slices_of_any_size_end_where_one_run_ends():
    whole = BasinsRun("six-hump-camel", "Adam(lr=0.02)", n=12, steps=333)
    whole.run()
    for size in (1, 3, basins.CHECK_EVERY, 17):
        run = BasinsRun("six-hump-camel", "Adam(lr=0.02)", n=12, steps=333)
        while not run.done:
            before = run.steps
            run.advance(size)
            assert 0 < run.steps - before <= size
        assert run.steps == whole.steps
        np.testing.assert_array_equal(run._calm, whole._calm)
        np.testing.assert_array_equal(run.swarm.points, whole.swarm.points)
