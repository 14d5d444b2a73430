"""A plot's copy of a runner's :class:`~core.engine.race.Trail`, kept up to date by appending.

Redrawing a long race by exporting every runner's whole history each frame (three copies of up
to 4,096 points, and the loss transform over all of them) cost more than the new points it
showed. A copy appends only the points stored since the last sync, plus the newest point, into
buffers that double when full; it starts over only when the trail did (a restart, or a
decimation that thinned the stored points).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.engine.race import Trail

INITIAL = 256


class TrailCopy:
    """``steps``, ``points`` and ``values`` (the losses through a transform, e.g. a log axis)
    equal to ``trail.steps()``, ``trail.points()`` and ``transform(trail.losses())`` after
    :meth:`sync`; they are views into buffers the next sync may overwrite."""

    def __init__(self) -> None:
        self._step = np.empty(INITIAL, dtype=np.int64)
        self._pts = np.empty((INITIAL, 2))
        self._val = np.empty((INITIAL, 2))  # (step, transformed loss): the loss plot's points
        self._kept = 0  # stored points of the trail copied (the newest point follows them)
        self._len = 0
        self._stride = 0  # the trail's stride when copied (0: nothing copied yet)

    def clear(self) -> None:
        """Start over at the next sync (e.g. the loss transform changed)."""
        self._kept = self._len = self._stride = 0

    @property
    def steps(self) -> np.ndarray:
        return self._step[: self._len]

    @property
    def points(self) -> np.ndarray:
        return self._pts[: self._len]

    @property
    def values(self) -> np.ndarray:
        return self._val[: self._len, 1]

    @property
    def value_points(self) -> np.ndarray:
        """``(M, 2)``: step and transformed loss, as the loss plot draws them."""
        return self._val[: self._len]

    def _fits(self, size: int) -> None:
        cap = len(self._step)
        if size <= cap:
            return
        while cap < size:
            cap *= 2
        for name in ("_step", "_pts", "_val"):
            old = getattr(self, name)
            new = np.empty((cap, *old.shape[1:]), dtype=old.dtype)
            new[: self._kept] = old[: self._kept]
            setattr(self, name, new)

    def sync(self, trail: Trail, transform: Callable[[np.ndarray], np.ndarray]) -> bool:
        """Bring the copy up to ``trail``; True if it started over (everything was copied),
        False if only new points were appended. A trail cleared and refilled past this copy
        between two syncs looks like one that grew: call :meth:`clear` on a restart."""
        rewritten = trail.stride != self._stride or trail.kept < self._kept
        start = 0 if rewritten else self._kept
        steps, pts, losses = trail.stored(start)
        last = trail.last
        end = trail.kept
        tail = last is not None and not (end and trail.stored(end - 1)[0][0] == last[0])
        self._fits(end + 1)
        self._step[start:end] = steps
        self._pts[start:end] = pts
        self._val[start:end, 0] = steps
        self._val[start:end, 1] = transform(losses)
        if tail:
            self._step[end] = last[0]
            self._pts[end] = last[1:3]
            self._val[end] = last[0], transform(np.array([last[3]]))[0]
        self._kept, self._len, self._stride = end, end + tail, trail.stride
        return rewritten
