"""A plot's copy of a runner's trail, appended to instead of re-exported, holds exactly what the
trail would export, through decimation, a tail point and a restart."""

import numpy as np

from core.engine.race import Trail
from core.state.trail_copy import TrailCopy


def _check(copy: TrailCopy, trail: Trail) -> None:
    np.testing.assert_array_equal(copy.steps, trail.steps())
    np.testing.assert_array_equal(copy.points, trail.points())
    np.testing.assert_array_equal(copy.values, -trail.losses())
    np.testing.assert_array_equal(copy.value_points[:, 0], trail.steps())


def test_a_copy_synced_after_every_few_appends_equals_the_trail():
    trail, copy = Trail(cap=16), TrailCopy()
    rewrites = 0
    for k in range(300):  # decimates several times (stride 1 -> 32)
        trail.append(k, float(k), 2.0 * k, k**0.5)
        if k % 3 == 0 or k % 7 == 0:
            rewrites += copy.sync(trail, np.negative)
            _check(copy, trail)
    assert trail.stride > 8
    assert rewrites <= 7  # the first sync, then one per decimation: the rest appended


def test_a_long_unbounded_trail_grows_the_buffers():
    trail, copy = Trail(cap=None), TrailCopy()
    for k in range(1000):
        trail.append(k, float(k), 0.0, 1.0)
        if k % 100 == 0:
            copy.sync(trail, np.negative)
    assert not copy.sync(trail, np.negative)  # appended
    _check(copy, trail)


def test_a_cleared_copy_starts_over_after_a_restart():
    trail, copy = Trail(cap=64), TrailCopy()
    for k in range(10):
        trail.append(k, float(k), 0.0, 1.0)
    copy.sync(trail, np.negative)
    trail.clear()
    for k in range(20):
        trail.append(k, -float(k), 1.0, 2.0)
    copy.clear()
    assert copy.sync(trail, np.negative)
    _check(copy, trail)
