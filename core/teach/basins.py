"""Basins of attraction: start one optimizer from every point of a grid, see where each ends.

Where you start decides where you end, and the borders between the regions are not where a
student guesses. One batched :class:`core.engine.race.Swarm` steps every grid point with the real
``torch.optim`` optimizer (each row follows the path it would follow alone), so a 100 x 100 map
costs one step of 10,000 points; :class:`BasinsRun` advances in time-budgeted slices for a GUI.
No randomness: the same inputs give the same map.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from core.engine.optimizers import OptimizerSpec, as_spec, get_optimizer, optimizer_names
from core.engine.race import Race, Swarm
from core.engine.surfaces import Domain, Surface, get_surface
from core.errors import GdsimError

__all__ = [
    "DEFAULT_N",
    "DEFAULT_STEPS",
    "MAX_N",
    "MAX_OTHER_CLASSES",
    "MAX_STEPS",
    "MIN_N",
    "BasinClass",
    "BasinsResult",
    "BasinsRun",
    "batchable",
    "compute_basins",
]

DEFAULT_N = 100
MIN_N, MAX_N = 10, 300
DEFAULT_STEPS = 1000
MAX_STEPS = 100_000
#: Default end-point tolerance, as a fraction of the domain's larger side (0.2 on Himmelblau).
TOL_FRACTION = 0.02
#: Default "still moving" threshold for one step, as a fraction of the domain's larger side.
MOVE_FRACTION = 1e-7
#: Motion is checked every CHECK_EVERY steps (checking every step cost ~30 % of the stepping).
#: A point is calm at a check if its last step moved it less than ``move_tol`` and it moved less
#: than ``CHECK_EVERY * move_tol`` since the previous check (one slow step is not enough:
#: momentum slows to a halt at every turning point). Calm at SETTLE_CHECKS checks in a row =
#: settled. A point that is not calm but was within ``tol`` of a known minimum at
#: CAPTURE_CHECKS checks in a row has arrived too (for stopping early).
CHECK_EVERY = 10
SETTLE_CHECKS = 2
CAPTURE_CHECKS = 5
#: Points per piece of work in :meth:`BasinsRun.classify` (~1 ms each here).
CLASSIFY_BLOCK = 16384
#: At most this many "other minimum k" clusters; further settled points are "settled elsewhere".
MAX_OTHER_CLASSES = 48

MINIMUM = "minimum"  # a known minimum of the surface
OTHER = "other"  # a cluster of settled end points the surface does not list
ELSEWHERE = "elsewhere"  # settled, beyond MAX_OTHER_CLASSES clusters
DIVERGED = "diverged"
MOVING = "moving"
UNDEFINED = "undefined"


@dataclass(frozen=True)
class BasinClass:
    """One entry of the legend: a place the optimizer ends (or a way it fails to)."""

    index: int  # the value in BasinsResult.labels
    kind: str  # "minimum" | "other" | "elsewhere" | "diverged" | "moving" | "undefined"
    name: str  # what a legend shows, e.g. "minimum (3, 2)", "other minimum 1", "diverged"
    location: tuple[float, float] | None  # None for diverged / still moving / undefined
    value: float | None  # f at the location
    count: int  # grid starts in this class
    fraction: float  # count / all starts
    minimum_index: int | None = None  # index into Surface.minima (kind "minimum")
    other_index: int | None = None  # k - 1 for "other minimum k" (kind "other")


@dataclass(frozen=True)
class BasinsResult:
    """Where every start of the grid ended. Plain values; the caller may keep them."""

    surface: str  # the surface's name (or expression text)
    spec: str  # e.g. "Adam(lr=0.05)"
    xs: np.ndarray  # (n_x,) grid x coordinates
    ys: np.ndarray  # (n_y,)
    labels: np.ndarray  # (n_y, n_x) int: labels[j, i] is the class of start (xs[i], ys[j])
    legend: tuple[BasinClass, ...]  # legend[k].index == k
    steps: int  # optimizer steps taken
    max_steps: int
    finished: bool  # every point settled or diverged before max_steps
    end_points: np.ndarray  # (n_y, n_x, 2) last accepted point of each start
    end_losses: np.ndarray  # (n_y, n_x)
    tol: float
    move_tol: float

    def counts(self) -> dict[str, int]:
        """``{class name: count}`` (handy in tests and notebooks)."""
        return {c.name: c.count for c in self.legend}

    def class_at(self, x: float, y: float) -> BasinClass:
        """The class of the grid start nearest to (x, y)."""
        i = int(np.abs(self.xs - x).argmin())
        j = int(np.abs(self.ys - y).argmin())
        return self.legend[int(self.labels[j, i])]


def batchable(spec: OptimizerSpec) -> bool:
    """True if a swarm of this optimizer runs as one batched parameter (see ``core.engine.race``)."""
    return bool(spec.info.elementwise and not spec.info.needs_closure)


def _sq_dist(a: np.ndarray, b: np.ndarray, work: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out`` (N,) = squared distances dx² + dy² between the columns of ``a`` (2, N) and those
    of ``b`` (2, N), or one point ``b`` (2, 1); ``work`` (2, N) is scratch (no allocation)."""
    np.subtract(a, b, out=work)
    np.square(work, out=work)
    return np.add(work[0], work[1], out=out)


def _fmt(v: float) -> str:
    """A coordinate for a legend: 3 significant digits, and round-off (-7.8e-26) shown as 0."""
    return "0" if abs(v) < 5e-4 else f"{v:.3g}"


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise GdsimError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    if not low <= int(value) <= high:
        raise GdsimError(f"{name} must be from {low} to {high}, got {value}")
    return int(value)


def _check_positive(name: str, value: object) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise GdsimError(f"{name} must be a positive number, got {value!r}") from None
    if isinstance(value, bool) or not (math.isfinite(v) and v > 0):
        raise GdsimError(f"{name} must be a positive number, got {value!r}")
    return v


def _check_domain(domain: object) -> Domain:
    try:
        (x0, x1), (y0, y1) = domain  # type: ignore[misc]
        x0, x1, y0, y1 = float(x0), float(x1), float(y0), float(y1)
    except (TypeError, ValueError):
        raise GdsimError(f"domain must be ((xmin, xmax), (ymin, ymax)), got {domain!r}") from None
    if not all(math.isfinite(v) and abs(v) <= 1e6 for v in (x0, x1, y0, y1)):
        raise GdsimError("domain must be finite and within |x|, |y| <= 1e6")
    if not (x0 < x1 and y0 < y1):
        raise GdsimError(f"domain must have xmin < xmax and ymin < ymax, got {domain!r}")
    return (x0, x1), (y0, y1)


class BasinsRun:
    """One basins computation, advanced in slices (``advance(50, budget_s=0.01)``).

    ``surface``: a Surface, a registry name or an expression. ``spec``: an OptimizerSpec or a
    SPEC string. ``n``: grid points per side (:data:`MIN_N`..:data:`MAX_N`). ``steps``: the most
    optimizer steps to take. ``tol``/``move_tol``: absolute distances (None = scaled with the
    domain). ``domain``: the grid's extent (None = the surface's). Bad input raises GdsimError
    before any work.
    """

    def __init__(
        self,
        surface: Surface | str,
        spec: OptimizerSpec | str,
        n: int = DEFAULT_N,
        steps: int = DEFAULT_STEPS,
        tol: float | None = None,
        move_tol: float | None = None,
        domain: Domain | None = None,
    ) -> None:
        self.surface = surface if isinstance(surface, Surface) else get_surface(surface)
        self.spec = as_spec(spec)
        # unbatched, one optimizer per point: a 100 x 100 map would take minutes, not seconds
        if not batchable(self.spec):
            ok = ", ".join(
                name for name in optimizer_names() if batchable(OptimizerSpec(get_optimizer(name)))
            )
            raise GdsimError(
                f"basins need an optimizer that updates each point on its own; "
                f"{self.spec.name} cannot be batched over a grid (use {ok})"
            )
        self.n = _check_int("grid size", n, MIN_N, MAX_N)
        self.max_steps = _check_int("steps", steps, 1, MAX_STEPS)
        self.domain = _check_domain(domain if domain is not None else self.surface.domain)
        (x0, x1), (y0, y1) = self.domain
        side = max(x1 - x0, y1 - y0)
        self.tol = TOL_FRACTION * side if tol is None else _check_positive("tolerance", tol)
        self.move_tol = (
            MOVE_FRACTION * side
            if move_tol is None
            else _check_positive("move tolerance", move_tol)
        )
        self.xs = np.linspace(x0, x1, self.n)
        self.ys = np.linspace(y0, y1, self.n)
        gx, gy = np.meshgrid(self.xs, self.ys)  # row j = ys[j], as labels are laid out
        starts = np.stack([gx.ravel(), gy.ravel()], axis=1)
        self._race = Race(self.surface)
        self.swarm: Swarm = self._race.add_swarm(self.spec, starts, label="basins")
        self._undefined = self.swarm.diverged.copy()  # bad at the start itself
        count = len(starts)
        # the check's state: the points as two contiguous rows of x and y, buffers made once
        self._prev = np.empty((2, count))  # the points one step before a check
        # the last CAPTURE_CHECKS checks (check c in slot c % CAPTURE_CHECKS; "check 0" = the
        # starts): the points, who was going, and (computed when asked) who was near a minimum
        self._checks = 0
        self._ring = np.empty((CAPTURE_CHECKS, 2, count))
        self._ring[0] = starts.T
        self._ring_going = np.zeros((CAPTURE_CHECKS, count), dtype=bool)
        self._ring_near = np.empty((CAPTURE_CHECKS, count), dtype=bool)
        self._near_of = [-1] * CAPTURE_CHECKS  # the check whose near mask is in each slot
        self._witness: tuple[int, int] | None = None  # see _arriving
        self._work = np.empty((2, count))  # scratch for _sq_dist
        self._d2 = np.empty(count)
        self._d2m = np.empty(count)
        self._small = np.empty(count, dtype=bool)
        self._anchor_step = 0
        self._calm = np.zeros(count, dtype=np.int32)  # consecutive calm checks
        self._calm_any = False  # some count above 0
        self._minima = [np.array([[m.x], [m.y]]) for m in self.surface.minima]
        self._settled = False  # every live point calm, or circling a known minimum
        self._step_cost = 0.0  # running estimate of one step, s (for budgeted slices)

    # -- progress --------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        return self.swarm.steps

    @property
    def done(self) -> bool:
        swarm = self.swarm
        return swarm.steps >= self.max_steps or self._settled or swarm.status == "diverged"

    @property
    def progress(self) -> float:
        """0 at the start, 1 when done (fraction of ``steps`` taken until then)."""
        return 1.0 if self.done else self.swarm.steps / self.max_steps

    def advance(self, max_steps: int = 100, budget_s: float | None = None) -> float:
        """Take up to ``max_steps`` steps (fewer once done or once ``budget_s`` seconds would be
        exceeded; at least one step if not done). Returns :attr:`progress`.

        The steps between two checks go to the race in one call: where the checks fall (every
        :data:`CHECK_EVERY` steps and the last) does not depend on how the steps are sliced.
        """
        swarm = self.swarm
        limit = min(int(max_steps), self.max_steps - swarm.steps)
        deadline = None if budget_s is None else time.perf_counter() + float(budget_s)
        taken = 0
        t = time.perf_counter()
        while taken < limit and not self.done:
            room = limit - taken
            if deadline is not None:
                cost = self._step_cost
                fit = int((deadline - t) / cost) if cost > 0 else 1
                if fit < 1:
                    if taken:
                        break
                    fit = 1
                room = min(room, fit)
            k = swarm.steps + 1
            check_at = min(-(-k // CHECK_EVERY) * CHECK_EVERY, self.max_steps)
            plain = min(check_at - k, room)
            if plain:
                n = self._race.step(plain)
            else:  # the check step: its check compares with the point one step before
                np.copyto(self._prev, swarm.points.T)
                n = self._race.step(1)
                if n:
                    self._check()
            if n == 0:
                break
            taken += n
            t_next = time.perf_counter()
            dt = (t_next - t) / n
            self._step_cost = dt if self._step_cost == 0 else 0.8 * self._step_cost + 0.2 * dt
            t = t_next
        return self.progress

    def _check(self) -> None:
        """Who has settled, and has everyone arrived? (See :data:`CHECK_EVERY`.)

        Over the whole grid, the points as two contiguous rows of x and y, into buffers made
        once: a few passes, no temporaries or index arrays. numpy, not torch: at this size its
        elementwise ops, comparisons and the transposing copy cost 1.3-15x less than torch's on
        one thread. Squared distances are dx² + dy² as before, so every comparison sees the same
        numbers.
        """
        swarm = self.swarm
        self._checks = c = self._checks + 1
        pts = self._ring[c % CAPTURE_CHECKS]
        anchor = self._ring[(c - 1) % CAPTURE_CHECKS]
        np.copyto(pts, swarm.points.T)
        work, d2, small = self._work, self._d2, self._small
        move2 = self.move_tol * self.move_tol
        # dx² + dy² < move² needs dx² < move² (the rounded sum is never below dx²): the x row
        # alone answers no for every point at most checks, at a third of the work
        dx2 = np.square(np.subtract(pts[0], self._prev[0], out=work[0]), out=work[0])
        if np.less(dx2, move2, out=small).any():
            np.less(_sq_dist(pts, self._prev, work, d2), move2, out=small)
        calm_now = small.any()  # often no one: then the window test can only say no again
        if calm_now:
            window = self.move_tol * (swarm.steps - self._anchor_step)
            small &= _sq_dist(pts, anchor, work, d2) < window * window
            calm_now = small.any()
        self._anchor_step = swarm.steps
        calm = self._calm
        if calm_now or self._calm_any:  # else every count is 0 and stays 0
            calm += 1
            calm *= small  # consecutive calm checks: +1, or back to 0
            self._calm_any = calm_now
        going = self._ring_going[c % CAPTURE_CHECKS]
        np.less(calm, SETTLE_CHECKS, out=going)  # not settled...
        going &= ~swarm.diverged  # ...and live
        # those that keep circling a known minimum (Adam's late spikes) count as arrived once
        # seen near it at CAPTURE_CHECKS checks in a row
        self._settled = not (going.any() and self._arriving(c, going))

    def _arriving(self, c: int, going: np.ndarray) -> bool:
        """Is a going point not yet near a known minimum at each of the last CAPTURE_CHECKS
        checks (going at each)? Asked at every check, answered mostly from one "witness":
        a point seen going and far from every minimum at check j proves "yes" until check
        j + CAPTURE_CHECKS - 1 while it is going, and again at O(1) cost while it stays far;
        the whole grid is looked at only when the witness has arrived."""
        if not self._minima or c < CAPTURE_CHECKS:  # no one can have arrived that way yet
            return True
        if self._witness is not None:
            i, j = self._witness
            if going[i]:
                if self._far(i, c):
                    self._witness = (i, c)
                    return True
                if j > c - CAPTURE_CHECKS:
                    return True
        self._witness = None
        near = self._near_mask(c)
        far = going & ~near
        if far.any():  # the farthest of them (_d2 is check c's) should stay far longest
            self._witness = (int(np.where(far, self._d2, -1.0).argmax()), c)
            return True
        older = range(c - 1, c - CAPTURE_CHECKS, -1)
        arrived = near.copy()
        for k in older:
            arrived &= self._ring_going[k % CAPTURE_CHECKS]
            arrived &= self._near_mask(k)
        late = going & ~arrived
        if not late.any():
            return False
        i = int(late.argmax())

        def held(k: int) -> bool:  # point i going and near a minimum at check k
            slot = k % CAPTURE_CHECKS
            return bool(self._ring_going[slot, i] and self._ring_near[slot, i])

        self._witness = (i, next(k for k in older if not held(k)))  # the latest such check
        return True

    def _near_mask(self, k: int) -> np.ndarray:
        """Who was within ``tol`` of a known minimum at check ``k`` (one of the last
        CAPTURE_CHECKS), worked out once per check; ``_d2`` keeps the squared distances."""
        slot = k % CAPTURE_CHECKS
        out = self._ring_near[slot]
        if self._near_of[slot] != k:
            pts, work, d2 = self._ring[slot], self._work, self._d2
            _sq_dist(pts, self._minima[0], work, d2)
            for m in self._minima[1:]:
                np.minimum(d2, _sq_dist(pts, m, work, self._d2m), out=d2)
            np.less_equal(d2, self.tol * self.tol, out=out)
            self._near_of[slot] = k
        return out

    def _far(self, i: int, k: int) -> bool:
        """Point ``i`` farther than ``tol`` from every known minimum at check ``k`` (the same
        float operations as :meth:`_near_mask`, for one point)."""
        x, y = self._ring[k % CAPTURE_CHECKS, :, i]
        tol2 = self.tol * self.tol
        for m in self._minima:
            dx, dy = x - m[0, 0], y - m[1, 0]
            if dx * dx + dy * dy <= tol2:
                return False
        return True

    def run(self) -> BasinsResult:
        """Advance to the end and return the result (for scripts and tests)."""
        while not self.done:
            self.advance(self.max_steps)
        return self.result()

    # -- result ----------------------------------------------------------------------------
    def result(self) -> BasinsResult:
        """Classify every start by where it is now (the final map once :attr:`done`)."""
        for out in self.classify():
            if out is not None:
                return out
        raise AssertionError("classify() ended without a result")  # pragma: no cover

    def classify(self) -> Iterator[BasinsResult | None]:
        """:meth:`result` in pieces: yields None after each piece of work (a block of
        :data:`CLASSIFY_BLOCK` points or one cluster, a few ms each), then the result.

        Each start is, in this order: "undefined" (f is not finite at the start), "diverged",
        the nearest known minimum within ``tol`` (still circling it counts), "still moving", or
        else settled elsewhere: settled points are clustered greedily, lowest loss first, into
        "other minimum k" (at most :data:`MAX_OTHER_CLASSES`, then "settled elsewhere").
        The state is copied first, so the run may go on stepping meanwhile.
        """
        swarm = self.swarm
        pts = swarm.points.copy()
        losses = swarm.losses.copy()
        diverged_now = swarm.diverged.copy()
        settled = self._calm >= SETTLE_CHECKS
        steps, finished = swarm.steps, self._settled or bool(diverged_now.all())
        count = len(pts)
        labels = np.full(count, -1, dtype=np.int64)
        classes: list[dict] = []

        def add(kind: str, name: str, members: np.ndarray, **extra) -> None:
            """members: indices of the starts in the class."""
            labels[members] = len(classes)
            classes.append({"kind": kind, "name": name, "count": int(members.size), **extra})

        undefined = self._undefined
        diverged = diverged_now & ~undefined
        free = ~diverged_now
        tol2 = self.tol * self.tol

        # known minima: nearest within tol; every known minimum is listed (0 % says something)
        minima = self.surface.minima
        if minima:
            mins = np.array([(m.x, m.y) for m in minima])
            nearest = np.full(count, -1, dtype=np.int64)
            for lo in range(0, count, CLASSIFY_BLOCK):
                hi = min(count, lo + CLASSIFY_BLOCK)
                p = pts[lo:hi]
                d2 = (p[:, None, 0] - mins[None, :, 0]) ** 2 + (
                    p[:, None, 1] - mins[None, :, 1]
                ) ** 2
                k = d2.argmin(axis=1)
                ok = free[lo:hi] & (d2[np.arange(hi - lo), k] <= tol2)
                nearest[lo:hi] = np.where(ok, k, -1)
                yield None
            for k, m in enumerate(minima):
                add(
                    MINIMUM,
                    f"minimum ({_fmt(m.x)}, {_fmt(m.y)})",
                    np.flatnonzero(nearest == k),
                    location=(m.x, m.y),
                    value=m.value,
                    minimum_index=k,
                )
            free &= nearest < 0

        moving = np.flatnonzero(free & ~settled)
        rest = np.flatnonzero(free & settled)
        rest = rest[np.argsort(losses[rest], kind="stable")]  # lowest loss founds first
        yield None
        k = 0
        while rest.size and k < MAX_OTHER_CLASSES:
            founder = rest[0]
            fx, fy = pts[founder]
            join = (pts[rest, 0] - fx) ** 2 + (pts[rest, 1] - fy) ** 2 <= tol2
            x, y = float(fx), float(fy)
            k += 1
            add(
                OTHER,
                f"other minimum {k} ({_fmt(x)}, {_fmt(y)})",
                rest[join],
                location=(x, y),
                value=float(losses[founder]),
                other_index=k - 1,
            )
            rest = rest[~join]
            yield None
        if rest.size:
            add(ELSEWHERE, "settled elsewhere", rest, location=None, value=None)
        for kind, name, members in (
            (MOVING, "still moving", moving),
            (DIVERGED, "diverged", np.flatnonzero(diverged)),
            (UNDEFINED, "undefined at start", np.flatnonzero(undefined)),
        ):
            if members.size:
                add(kind, name, members, location=None, value=None)
        assert (labels >= 0).all()

        legend = tuple(
            BasinClass(
                index=i,
                kind=c["kind"],
                name=c["name"],
                location=c.get("location"),
                value=c.get("value"),
                count=c["count"],
                fraction=c["count"] / count,
                minimum_index=c.get("minimum_index"),
                other_index=c.get("other_index"),
            )
            for i, c in enumerate(classes)
        )
        shape = (self.n, self.n)
        yield BasinsResult(
            surface=self.surface.name,
            spec=str(self.spec),
            xs=self.xs.copy(),
            ys=self.ys.copy(),
            labels=labels.reshape(shape),
            legend=legend,
            steps=steps,
            max_steps=self.max_steps,
            finished=finished,
            end_points=pts.reshape(*shape, 2),
            end_losses=losses.reshape(shape),
            tol=self.tol,
            move_tol=self.move_tol,
        )


def compute_basins(
    surface: Surface | str,
    spec: OptimizerSpec | str,
    n: int = DEFAULT_N,
    steps: int = DEFAULT_STEPS,
    tol: float | None = None,
    move_tol: float | None = None,
    domain: Sequence[Sequence[float]] | None = None,
) -> BasinsResult:
    """The whole computation in one call (blocks: not for a GUI thread)."""
    return BasinsRun(surface, spec, n, steps, tol, move_tol, domain).run()  # type: ignore[arg-type]
