"""The race: real ``torch.optim`` optimizers stepped side by side on a 2-D surface.

The engine behind the Surfaces view, ``gdsim trace`` and notebooks. Every move is one
``optimizer.step()`` of a torch optimizer on a float64 parameter, never a hand-written update, so
what students see is what PyTorch does. Out come plain floats, numpy arrays and frozen dataclasses;
live buffers (``Swarm.points``, ...) change in place at each step (``Swarm.losses`` is replaced,
and ``Swarm.points`` once, when a point first diverges), so copy what you keep. Drive a race
from one thread::

    race = Race("rosenbrock")
    adam = race.add("Adam(lr=0.05)", start=(-1.5, 2.5), scheduler="StepLR(step_size=100)")
    race.step(100); race.set_hparams(adam, lr=0.01); adam.snapshot()

``add``'s ``start=None`` follows the race's shared start; ``label`` defaults to the SPEC.

A step is ``zero_grad(); loss.backward(); optimizer.step(); loss = f(param)`` (LBFGS:
``step(closure)``), so the new point's loss is known for the divergence check and the history.

Schedules: one race step is a batch and an epoch at once, so a scheduler steps once after each
accepted ``optimizer.step()``; its defaults assume a run of ``horizon`` steps.

Noise: ``p.grad += sigma * N(0, I)`` between ``backward()`` and ``step()``, as a mini-batch would
give; runner ``i`` draws from its own generator (:func:`noise_stream`), so a reset replays it.

History: a :class:`Trail` keeps at most ``cap`` points however long the run: when full it drops
every other sample and doubles its stride, keeping the start and the newest point.

Anatomy: ``race.step(anatomy=True)`` records what a step did (:class:`Anatomy`). Narrated step:
``race.narrate(runner)`` yields one :class:`Phase` per line of the tutorial's loop.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from core.engine.optimizers import OptimizerSpec, apply_hparams, as_spec
from core.engine.schedulers import RunShape, Schedule, SchedulerSpec, parse_scheduler
from core.engine.surfaces import Surface, get_surface
from core.errors import GdsimError

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_HISTORY",
    "DEFAULT_HORIZON",
    "LOSS_LIMIT",
    "MAX_HORIZON",
    "MAX_NOISE",
    "MAX_SEED",
    "X_LIMIT",
    "Anatomy",
    "LrHistory",
    "Phase",
    "Race",
    "Runner",
    "RunnerSnapshot",
    "Swarm",
    "SwarmSnapshot",
    "Trail",
    "as_scheduler",
    "check_horizon",
    "check_noise",
    "check_schedule",
    "check_seed",
    "noise_stream",
    "plain_state",
]

#: A coordinate beyond this (in absolute value) means the runner has left for good.
X_LIMIT = 1e6
#: A loss beyond this (in absolute value) means divergence (e.g. the saddle, or SGD blowing up).
LOSS_LIMIT = 1e12
#: Default cap on the points a runner's history keeps (see "History" in the module docstring).
DEFAULT_HISTORY = 4096
#: Largest swarm accepted, and largest trail * points product for a swarm's ring buffer.
MAX_SWARM = 1_000_000
MAX_SWARM_TRAIL_POINTS = 4_000_000
#: Race steps a learning-rate schedule's run-derived defaults assume (see "Schedules").
DEFAULT_HORIZON = 1000
MAX_HORIZON = 1_000_000
#: Largest gradient-noise standard deviation accepted (gradients here are ~1 to ~1e4).
MAX_NOISE = 1e4
#: Largest noise seed: runner i draws from ``torch.Generator().manual_seed(1000 * seed + i)``.
MAX_SEED = 999_999
#: A batched swarm's ``points`` are its parameter's own data (diverged rows are pinned there), not
#: a copy made every step (~4 % of a 40,000-point step). Freezing a row that goes bad at step k at
#: its point of step k - 1 needs that point back, so the swarm keeps its parameter and optimizer
#: state every SNAPSHOT_EVERY steps and replays from there: the same kernels on the same tensor
#: give the same bits. After such a replay it copies every step until reset (one replay per
#: swarm, however often rows diverge). 20: the snapshots cost ~0.5 % of the stepping, and a
#: replay of 300 x 300 points stays under ~70 ms here. 0: copy every step from the start.
SNAPSHOT_EVERY = 20

OK = "ok"
DIVERGED = "diverged"


# --- history --------------------------------------------------------------------------------------


class Trail:
    """A runner's history of ``(step, x, y, loss)``: bounded by decimation, or unbounded.

    See "History" in the module docstring. ``cap=None`` keeps every point; ``reserve`` presizes
    an unbounded trail (``gdsim trace`` knows it needs N + 1 points).
    """

    __slots__ = ("cap", "stride", "_pts", "_loss", "_step", "_n", "_last")

    def __init__(self, cap: int | None = DEFAULT_HISTORY, reserve: int = 0) -> None:
        if cap is not None and (not isinstance(cap, int) or cap < 3):
            raise GdsimError(f"history cap must be an integer >= 3 or None, got {cap!r}")
        self.cap = cap
        size = cap - 1 if cap is not None else max(16, int(reserve))
        self._pts = np.empty((size, 2), dtype=np.float64)
        self._loss = np.empty(size, dtype=np.float64)
        self._step = np.empty(size, dtype=np.int64)
        self.clear()

    def clear(self) -> None:
        self.stride = 1
        self._n = 0
        self._last: tuple[int, float, float, float] | None = None

    def append(self, step: int, x: float, y: float, loss: float) -> None:
        """Record the point reached at ``step`` (steps must come 0, 1, 2, ... after a clear)."""
        self._last = (step, x, y, loss)
        if step % self.stride:
            return
        n = self._n
        if n == len(self._step):
            if self.cap is None:
                self._grow()
            else:
                self._decimate()
                if step % self.stride:
                    return
                n = self._n
        self._pts[n, 0] = x
        self._pts[n, 1] = y
        self._loss[n] = loss
        self._step[n] = step
        self._n = n + 1

    def _grow(self) -> None:
        size = 2 * len(self._step)
        for name in ("_pts", "_loss", "_step"):
            old = getattr(self, name)
            new = np.empty((size, *old.shape[1:]), dtype=old.dtype)
            new[: self._n] = old[: self._n]
            setattr(self, name, new)

    def _decimate(self) -> None:
        n = self._n
        keep = (n + 1) // 2
        # slots 0, 2, 4, ... hold steps 0, 2s, 4s, ...; copy them down in place (forward order
        # is safe: slot 2i is read before slot i <= 2i is written, and i < 2i for i > 0)
        self._pts[:keep] = self._pts[0:n:2]
        self._loss[:keep] = self._loss[0:n:2]
        self._step[:keep] = self._step[0:n:2]
        self._n = keep
        self.stride *= 2

    def __len__(self) -> int:
        """Number of points :meth:`points` returns (<= cap)."""
        if self._last is None:
            return 0
        return self._n + (0 if self._n and self._step[self._n - 1] == self._last[0] else 1)

    @property
    def last(self) -> tuple[int, float, float, float] | None:
        """``(step, x, y, loss)`` of the newest point, or None if empty."""
        return self._last

    @property
    def kept(self) -> int:
        """Points stored so far (:meth:`points` adds the newest one if it is not among them)."""
        return self._n

    def stored(self, start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Views of the stored ``(steps, points, losses)`` from index ``start`` on: what a copy
        holding the first ``start`` lacks (valid until the next append; see TrailCopy)."""
        n = self._n
        return self._step[start:n], self._pts[start:n], self._loss[start:n]

    def _export(self, column: str) -> np.ndarray:
        n = self._n
        tail = self._last is not None and not (n and self._step[n - 1] == self._last[0])
        if column == "pts":
            out = np.empty((n + tail, 2), dtype=np.float64)
            out[:n] = self._pts[:n]
            if tail:
                out[n] = self._last[1:3]
        else:
            src = self._loss if column == "loss" else self._step
            out = np.empty(n + tail, dtype=src.dtype)
            out[:n] = src[:n]
            if tail:
                out[n] = self._last[3] if column == "loss" else self._last[0]
        return out

    def points(self) -> np.ndarray:
        """``(M, 2)`` kept points, oldest first, the start first and the newest last (a copy)."""
        return self._export("pts")

    def losses(self) -> np.ndarray:
        """``(M,)`` losses matching :meth:`points`."""
        return self._export("loss")

    def steps(self) -> np.ndarray:
        """``(M,)`` step index of each kept point (0 = the start)."""
        return self._export("step")


class LrHistory:
    """A runner's learning rate per step, bounded and decimated exactly like its :class:`Trail`.

    ``append(k, lr)`` records the lr in force at step ``k`` (the one the step from ``k`` to
    ``k + 1`` uses). With the same cap as the trail it keeps the same steps, so the two line up.
    """

    __slots__ = ("cap", "stride", "_lr", "_step", "_n", "_last")

    def __init__(self, cap: int | None = DEFAULT_HISTORY, reserve: int = 0) -> None:
        if cap is not None and (not isinstance(cap, int) or cap < 3):
            raise GdsimError(f"history cap must be an integer >= 3 or None, got {cap!r}")
        self.cap = cap
        size = cap - 1 if cap is not None else max(16, int(reserve))
        self._lr = np.empty(size, dtype=np.float64)
        self._step = np.empty(size, dtype=np.int64)
        self.clear()

    def clear(self) -> None:
        self.stride = 1
        self._n = 0
        self._last: tuple[int, float] | None = None

    def append(self, step: int, lr: float) -> None:
        self._last = (step, lr)
        if step % self.stride:
            return
        n = self._n
        if n == len(self._step):
            if self.cap is None:
                size = 2 * n
                for name in ("_lr", "_step"):
                    old = getattr(self, name)
                    new = np.empty(size, dtype=old.dtype)
                    new[:n] = old[:n]
                    setattr(self, name, new)
            else:  # keep every other sample, as Trail._decimate does
                keep = (n + 1) // 2
                self._lr[:keep] = self._lr[0:n:2]
                self._step[:keep] = self._step[0:n:2]
                self._n = n = keep
                self.stride *= 2
                if step % self.stride:
                    return
        self._lr[n] = lr
        self._step[n] = step
        self._n = n + 1

    def set_last(self, lr: float) -> None:
        """The lr in force now changed (a live change): overwrite the newest value."""
        if self._last is None:
            return
        step = self._last[0]
        self._last = (step, lr)
        if self._n and self._step[self._n - 1] == step:
            self._lr[self._n - 1] = lr

    @property
    def last(self) -> tuple[int, float] | None:
        """``(step, lr)`` of the newest value, or None if empty."""
        return self._last

    def _tail(self) -> bool:
        n = self._n
        return self._last is not None and not (n and self._step[n - 1] == self._last[0])

    def __len__(self) -> int:
        return self._n + self._tail()

    def steps(self) -> np.ndarray:
        """``(M,)`` the steps kept, oldest first, step 0 first and the newest last (a copy)."""
        return self._column(self._step, 0)

    def values(self) -> np.ndarray:
        """``(M,)`` the lr at each of :meth:`steps`."""
        return self._column(self._lr, 1)

    def _column(self, kept: np.ndarray, field: int) -> np.ndarray:
        """The kept entries of one column plus, when it is newer, ``field`` of the last value."""
        tail = self._tail()
        out = np.empty(self._n + tail, dtype=kept.dtype)
        out[: self._n] = kept[: self._n]
        if tail:
            out[-1] = self._last[field]
        return out


# --- plain values out -----------------------------------------------------------------------------


def plain_state(value: Any) -> Any:
    """Optimizer state as plain values: tensors -> numpy copies, one-element tensors -> float."""
    if isinstance(value, torch.Tensor):
        value = value.detach()
        if value.numel() == 1 and value.ndim == 0:
            return float(value)
        return value.cpu().numpy().copy()
    if isinstance(value, dict):
        return {str(k): plain_state(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_state(v) for v in value]
    return value


@dataclass(frozen=True)
class Anatomy:
    """What one step of one runner did (see "Anatomy" in the module docstring)."""

    runner_id: int
    step: int  # the step described: it moved the runner from step - 1 to step
    point_before: np.ndarray  # (2,)
    point_after: np.ndarray  # (2,) may be non-finite if this step diverged
    loss_before: float
    loss_after: float
    gradient: np.ndarray  # (2,) p.grad the optimizer saw at point_before (noise included)
    update: np.ndarray  # (2,) point_after - point_before, what the optimizer applied
    lr: float  # the lr this step used (a schedule may change it right after)
    evaluations: int  # closure evaluations (1 for an optimizer without a closure)
    state: dict[str, Any]  # the optimizer's state for the parameter after the step
    diverged: bool
    noise: np.ndarray | None = None  # (2,) the gradient noise in `gradient` (None: no noise)
    state_before: dict[str, Any] | None = None  # the optimizer's state before the step


@dataclass(frozen=True)
class Phase:
    """One line of a narrated step (see "Narrated step" in the module docstring)."""

    name: str  # "zero_grad" | "forward" | "backward" | "step"
    code: str  # the PyTorch line this phase ran
    text: str  # what happened, with the numbers, for a lecturer to read out
    point: tuple[float, float]  # the parameter after this phase
    loss: float | None  # known from "forward" on
    grad: tuple[float, float] | None  # p.grad after this phase (None after zero_grad)
    update: tuple[float, float] | None = None  # "step" only: what the optimizer applied
    state: dict[str, Any] | None = None  # "step" only: the optimizer's state afterwards
    diverged: bool = False  # "step" only: the step went out of bounds (the runner stops)


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _pair(v: Sequence[float]) -> str:
    return f"({_fmt(v[0])}, {_fmt(v[1])})"


@dataclass(frozen=True)
class RunnerSnapshot:
    id: int
    label: str
    optimizer: str  # class name, e.g. "Adam"
    spec: str  # e.g. "Adam(lr=0.01)"
    hparams: dict[str, Any]  # every effective hyperparameter
    start: tuple[float, float]
    point: tuple[float, float]  # latest accepted point
    loss: float
    steps: int
    status: str  # "ok" | "diverged"
    diverged_at: int | None
    points: np.ndarray  # (M, 2) history (bounded; see Trail)
    losses: np.ndarray  # (M,)
    step_index: np.ndarray  # (M,) which step each history point was taken at
    scheduler: str | None = None  # the schedule's SPEC, e.g. "StepLR(step_size=100)"
    lr: float = math.nan  # the lr in force now


@dataclass(frozen=True)
class SwarmSnapshot:
    id: int
    label: str
    optimizer: str
    spec: str
    hparams: dict[str, Any]
    starts: np.ndarray  # (N, 2)
    points: np.ndarray  # (N, 2) latest accepted point of each
    losses: np.ndarray  # (N,)
    diverged: np.ndarray  # (N,) bool
    diverged_at: np.ndarray  # (N,) int, -1 = not diverged
    steps: int
    status: str
    batched: bool
    recent: np.ndarray | None  # (T, N, 2) last positions, oldest first, if a trail was asked for


# --- helpers --------------------------------------------------------------------------------------


def _as_surface(surface: Surface | str) -> Surface:
    return surface if isinstance(surface, Surface) else get_surface(surface)


def check_point(point: Sequence[float], what: str = "start") -> tuple[float, float]:
    """A finite (x, y) within the divergence limits, as floats; GdsimError otherwise."""
    try:
        x, y = (float(v) for v in point)
    except (TypeError, ValueError, OverflowError):
        raise GdsimError(f"{what} must be two numbers x y, got {point!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise GdsimError(f"{what} must be finite, got ({x}, {y})")
    if abs(x) > X_LIMIT or abs(y) > X_LIMIT:
        raise GdsimError(f"{what} ({x:g}, {y:g}) is too far out (|x|, |y| must be <= {X_LIMIT:g})")
    return x, y


def _lr(optimizer: torch.optim.Optimizer) -> float:
    lr = optimizer.param_groups[0].get("lr", float("nan"))
    return float(lr)


def as_scheduler(scheduler: SchedulerSpec | str | None) -> SchedulerSpec | None:
    """A SchedulerSpec from a spec, SPEC text (``"StepLR(step_size=100)"``) or None/"none"."""
    if scheduler is None or isinstance(scheduler, SchedulerSpec):
        return scheduler
    if isinstance(scheduler, str):
        if scheduler.strip().lower() in ("", "none"):
            return None
        return parse_scheduler(scheduler)
    raise GdsimError(f"a scheduler must be a SPEC like 'StepLR(step_size=100)', got {scheduler!r}")


def check_schedule(
    spec: OptimizerSpec, scheduler: SchedulerSpec, horizon: int = DEFAULT_HORIZON
) -> dict[str, Any]:
    """The arguments the race passes to ``scheduler`` for a runner of ``spec``, or GdsimError.

    Builds no optimizer (see ``SchedulerSpec.check``): cheap enough for a session reader.
    """
    lr = float(spec.hparams().get("lr", math.nan))
    return scheduler.check(RunShape(check_horizon(horizon), 1, lr), spec.hparams())


def check_noise(sigma: Any) -> float:
    """A gradient-noise standard deviation: a finite number in [0, MAX_NOISE]."""
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)):
        raise GdsimError(f"gradient noise σ must be a number, got {sigma!r}")
    if not 0.0 <= sigma <= MAX_NOISE:  # NaN too; compared before float(): 10**400 overflows it
        raise GdsimError(f"gradient noise σ must be between 0 and {MAX_NOISE:g}, got {sigma}")
    sigma = float(sigma)
    return sigma


def check_seed(seed: Any) -> int:
    """A noise seed: a whole number in [0, MAX_SEED]."""
    if isinstance(seed, float) and seed.is_integer():
        seed = int(seed)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise GdsimError(f"noise seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    return seed


def check_horizon(horizon: Any) -> int:
    """A schedule horizon: whole race steps in [1, MAX_HORIZON]."""
    if isinstance(horizon, bool) or not isinstance(horizon, int) or not 1 <= horizon <= MAX_HORIZON:
        raise GdsimError(
            f"schedule horizon must be a whole number of steps from 1 to {MAX_HORIZON:,},"
            f" got {horizon!r}"
        )
    return horizon


def noise_stream(seed: int, index: int) -> int:
    """The ``torch.Generator`` seed of the runner at ``index`` in a race with noise ``seed``.

    ``1000 * seed + index % 1000``: readable in an exported script, distinct for every runner of
    a race, and below 2**32 (torch seeds its CPU generator with 32 bits).
    """
    return 1000 * int(seed) + int(index) % 1000


def _within(values: np.ndarray, limit: float) -> bool:
    """Every value in [-limit, limit] (nan is not): one pass of ``torch.aminmax`` (over the
    flat view: ~40 % cheaper than over an (N, 2) array)."""
    low, high = torch.aminmax(torch.from_numpy(values).reshape(-1))
    return high.item() <= limit and low.item() >= -limit


def _clone_state(state: dict[str, Any]) -> dict[str, Any]:
    """An optimizer's per-parameter state, its tensors cloned (for a swarm's replay)."""
    return {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in state.items()}


def _ok(x: float, y: float, loss: float) -> bool:
    # written so that nan fails every comparison
    return abs(loss) <= LOSS_LIMIT and abs(x) <= X_LIMIT and abs(y) <= X_LIMIT


#: What torch's own ``optimizer.step()`` can raise on absurd but accepted hyperparameters:
#: ASGD's Python-float step size overflows (OverflowError), NAdam's momentum schedule and LBFGS's
#: line search divide by zero (ZeroDivisionError), a float32 state cannot hold lr=1e300
#: (RuntimeError). For the race these are divergences of that runner, never a crash of the race.
STEP_ERRORS = (ArithmeticError, RuntimeError)


def _step_safely(runner: Runner | Swarm, anatomy: bool) -> bool:
    """``runner._step``, with torch's arithmetic failures turned into that runner diverging."""
    try:
        return runner._step(anatomy)
    except STEP_ERRORS as exc:
        # logged because RuntimeError is also how a genuine bug would show up here
        log.info("%s raised %s inside its step; marked diverged", runner.spec.name, exc)
        runner._fail(runner.steps + 1)
        return False


# --- a single runner ------------------------------------------------------------------------------


class Runner:
    """One optimizer from one start point. Create through :meth:`Race.add`."""

    def __init__(
        self,
        runner_id: int,
        spec: OptimizerSpec,
        surface: Surface,
        start: tuple[float, float],
        label: str | None,
        history: int | None,
        reserve: int = 0,
        scheduler: SchedulerSpec | None = None,
        horizon: int = DEFAULT_HORIZON,
        noise: float = 0.0,
        stream: int = 0,
    ) -> None:
        self.id = runner_id
        self.spec = spec
        self._label = label
        self.start = start
        self.watch = False
        self.anatomy: Anatomy | None = None
        self.trail = Trail(history, reserve=reserve)
        self.lr_history = LrHistory(history, reserve=reserve)
        self.scheduler = scheduler
        self.schedule: Schedule | None = None
        self.horizon = horizon
        self.noise = noise
        self.noise_stream = stream
        self._surface = surface
        self._fn = surface.fn
        self._closure_calls = 0
        self._first_grad: list[float] | None = None
        self._first_clean: list[float] | None = None
        self.reset()

    @property
    def label(self) -> str:
        return self._label if self._label is not None else str(self.spec)

    @label.setter
    def label(self, value: str | None) -> None:
        self._label = value

    # -- lifecycle

    def reset(self) -> None:
        """Back to the start with a fresh optimizer, schedule, noise stream and history."""
        self._param = torch.nn.Parameter(torch.tensor(self.start, dtype=torch.float64))
        self._data = self._param.detach()  # shares storage: cheap reads of the current point
        self._built_opt: torch.optim.Optimizer | None = None  # built on first use: see _opt
        self.schedule = None
        self._gen: torch.Generator | None = None  # made (seeded) at the first noise draw
        self._closure = self._make_closure() if self.spec.info.needs_closure else None
        self.trail.clear()
        self.lr_history.clear()
        self._lr_changes: list[tuple[int, float]] = []  # unscheduled: (from step, lr) live edits
        self.anatomy = None
        self.steps = 0
        self.diverged_at: int | None = None
        self.status = OK
        self._evaluate_current()
        x, y = self.start
        self.trail.append(0, x, y, self.loss)
        if not _ok(x, y, self.loss):
            self.status = DIVERGED
            self.diverged_at = 0
        if self.scheduler is not None:
            self._opt  # noqa: B018 -- the schedule sets the lr of step 0 (lr_history[0])

    def _evaluate_current(self) -> None:
        if self._closure is None:
            self._loss_t = self._fn(self._param)  # with its graph: the next step backprops it
            self.loss = self._loss_t.item()
        else:
            with torch.no_grad():
                self.loss = self._fn(self._data).item()
        self.point = tuple(self._data.tolist())

    @property
    def _opt(self) -> torch.optim.Optimizer:
        """The runner's torch optimizer (and its schedule), built on first use.

        Why lazily: torch's first optimizer in a process imports ``torch._dynamo`` (~1.6 s here),
        so a window that builds its default race eagerly paints that much later. Built on the
        first step (or state/hyperparameter access), it costs the same, but after the window is
        up, and the app can preload ``torch._dynamo`` off the GUI thread meanwhile. A scheduled
        runner builds both at reset: the schedule decides the lr of step 0.
        """
        if self._built_opt is None:
            opt = self.spec.build([self._param])
            if self.scheduler is not None:
                self.schedule = self.scheduler.build(opt, self.horizon, 1)
                self.lr_history.clear()
                self.lr_history.append(self.steps, _lr(opt))
            self._built_opt = opt
        return self._built_opt

    @property
    def lr(self) -> float:
        """The learning rate in force now (what the next step uses)."""
        if self._built_opt is None and self.scheduler is None:
            return float(self.spec.hparams().get("lr", math.nan))
        return _lr(self._opt)

    def lr_series(self) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, lr)`` for an lr-against-step plot, entry ``k`` the lr step ``k + 1`` used
        (the newest: the lr in force now). A scheduled runner: its recorded history (bounded
        like the trail). Otherwise the lr is constant between live changes, so the corners of
        that staircase: a change never rewrites the steps taken before it."""
        if self.scheduler is not None:
            self._opt  # noqa: B018
            return self.lr_history.steps(), self.lr_history.values()
        changes = self._lr_changes
        first = changes[0][1] if changes else self.lr
        steps, lrs = [0], [first]
        for k, lr in changes[1:]:
            steps += [k - 1, k]
            lrs += [lrs[-1], lr]
        steps.append(self.steps)
        lrs.append(lrs[-1])
        return np.array(steps, dtype=np.int64), np.array(lrs, dtype=np.float64)

    @property
    def lr_changed(self) -> bool:
        """The lr changed since step 0 (a schedule, or a live change): worth a plot."""
        return self.scheduler is not None or len(self._lr_changes) > 1

    def _set_surface(self, surface: Surface) -> None:
        self._surface = surface
        self._fn = surface.fn

    def _make_closure(self):
        param, fn = self._param, self._fn

        def closure() -> torch.Tensor:
            self._opt.zero_grad()
            loss = fn(param)
            loss.backward()
            first = self._closure_calls == 0 and self._first_grad is not None
            if first and self.noise:
                self._first_clean[:] = param.grad.tolist()
            if self.noise:
                self._add_noise()
            if first:
                self._first_grad[:] = param.grad.tolist()
            self._closure_calls += 1
            return loss

        return closure

    def _add_noise(self) -> None:
        """p.grad += σ · N(0, I), drawn from this runner's own seeded generator."""
        g = self._gen
        if g is None:
            g = self._gen = torch.Generator()
            g.manual_seed(self.noise_stream)
        self._param.grad.add_(torch.randn(2, generator=g, dtype=torch.float64), alpha=self.noise)

    def _after_step(self, k: int, loss: float) -> None:
        """Step k was accepted: the schedule moves on (torch's order: after optimizer.step())."""
        self.schedule.after_step(loss)
        self.lr_history.append(k, _lr(self._built_opt))

    def _accept(self, k: int, x: float, y: float, loss: float, loss_t) -> None:
        """Step k landed in bounds: the runner moves there and its trail and schedule follow."""
        self._loss_t = loss_t
        self.steps = k
        self.point = (x, y)
        self.loss = loss
        self.trail.append(k, x, y, loss)
        if self.schedule is not None:
            self._after_step(k, loss)

    # -- stepping

    def _step(self, anatomy: bool = False) -> bool:
        """One ``optimizer.step()``; returns whether the runner is still going."""
        if anatomy or self.watch:
            return self._step_with_anatomy()
        opt = self._opt
        if self._closure is None:
            opt.zero_grad()
            self._loss_t.backward()
            if self.noise:
                self._add_noise()
            opt.step()
            loss_t = self._fn(self._param)
            loss = loss_t.item()
        else:
            opt.step(self._closure)
            loss_t = None
            with torch.no_grad():
                loss = self._fn(self._data).item()
        x, y = self._data.tolist()
        k = self.steps + 1
        if abs(loss) <= LOSS_LIMIT and abs(x) <= X_LIMIT and abs(y) <= X_LIMIT:
            self._accept(k, x, y, loss, loss_t)
            return True
        self._diverge(k)
        return False

    def _fail(self, k: int) -> None:
        """torch raised inside this runner's step: a divergence (the point stays where it was)."""
        self._bad_loss = math.nan
        self._diverge(k)

    def _diverge(self, k: int) -> None:
        self.status = DIVERGED
        self.diverged_at = k
        self._loss_t = None

    def _step_with_anatomy(self) -> bool:
        before, loss_before = self.point, self.loss
        opt = self._opt
        state_before = self.optimizer_state()
        lr = _lr(opt)
        self._closure_calls = 0
        noise = None
        if self._closure is None:
            opt.zero_grad()
            self._loss_t.backward()
            if self.noise:
                clean = self._param.grad.tolist()
                self._add_noise()
            grad = self._param.grad.tolist()  # before step(), which may modify it in place
            if self.noise:
                noise = np.array(grad) - np.array(clean)
            opt.step()
            evaluations = 1
        else:
            self._first_grad = grad = [math.nan, math.nan]
            self._first_clean = clean = [math.nan, math.nan]
            try:
                opt.step(self._closure)
            finally:
                self._first_grad = self._first_clean = None
            if self.noise:
                noise = np.array(grad) - np.array(clean)
            evaluations = self._closure_calls
        return self._finish_anatomy(before, loss_before, grad, lr, evaluations, noise, state_before)

    def _finish_anatomy(
        self, before, loss_before: float, grad, lr: float, evaluations: int, noise, state_before
    ) -> bool:
        """Finish the step already taken and record its :class:`Anatomy`; returns alive."""
        alive = self._finish_step_slow()
        after = self._data.tolist()
        self.anatomy = Anatomy(
            runner_id=self.id,
            step=self.steps if alive else self.diverged_at,
            point_before=np.array(before),
            point_after=np.array(after),
            loss_before=loss_before,
            loss_after=self.loss if alive else self._bad_loss,
            gradient=np.array(grad),
            update=np.array(after) - np.array(before),
            lr=lr,
            evaluations=evaluations,
            state=self.optimizer_state(),
            diverged=not alive,
            noise=noise,
            state_before=state_before,
        )
        return alive

    def _finish_step_slow(self) -> bool:
        if self._closure is None:
            loss_t = self._fn(self._param)
            loss = loss_t.item()
        else:
            loss_t = None
            with torch.no_grad():
                loss = self._fn(self._data).item()
        x, y = self._data.tolist()
        k = self.steps + 1
        if _ok(x, y, loss):
            self._accept(k, x, y, loss, loss_t)
            return True
        self._bad_loss = loss
        self._diverge(k)
        return False

    def _narrate(self) -> Iterable[Phase]:
        """The phases of one step (see "Narrated step"); the caller steps the others."""
        opt, param, fn = self._opt, self._param, self._fn
        before, loss_before = self.point, self.loss
        lr = _lr(opt)
        opt.zero_grad()
        yield Phase(
            "zero_grad",
            "optimizer.zero_grad()",
            "Clear the gradient left from the last step (PyTorch adds gradients up otherwise).",
            before,
            None,
            None,
        )
        loss_t = fn(param)
        loss = loss_t.item()
        yield Phase(
            "forward",
            "loss = f(p)",
            f"Forward: the loss at p = {_pair(before)} is {_fmt(loss)}.",
            before,
            loss,
            None,
        )
        loss_t.backward()
        clean = tuple(param.grad.tolist())
        noise = None
        code = "loss.backward()"
        text = (
            f"Backward: autograd fills p.grad with the gradient {_pair(clean)}; "
            "the steepest way down is its opposite."
        )
        if self.noise and self._closure is None:
            self._add_noise()  # the same draw the plain step makes: narrating changes nothing
            grad = tuple(param.grad.tolist())
            noise = np.array(grad) - np.array(clean)
            code = f"loss.backward(); p.grad += {self.noise:g} * torch.randn(2)"
            text = (
                f"Backward: autograd computes the gradient {_pair(clean)}, then gradient noise "
                f"(σ = {_fmt(self.noise)}, standing in for a mini-batch) adds {_pair(noise)}: "
                f"p.grad = {_pair(grad)}. The optimizer only ever sees this noisy gradient."
            )
        else:
            grad = clean
            if self.noise:
                text += (
                    f" (The closure adds gradient noise, σ = {_fmt(self.noise)}, each time "
                    "the optimizer evaluates it.)"
                )
        yield Phase("backward", code, text, before, loss, grad)
        self._closure_calls = 0
        state_before = self.optimizer_state()
        if self._closure is None:
            self._loss_t = loss_t
            opt.step()
            code, evals = "optimizer.step()", ""
        else:
            opt.step(self._closure)
            code = "optimizer.step(closure)"
            evals = f" after {self._closure_calls} evaluations of the closure"
        evaluations = max(1, self._closure_calls)
        alive = self._finish_anatomy(
            before, loss_before, grad, lr, evaluations, noise, state_before
        )
        after = tuple(self._data.tolist())
        update = (after[0] - before[0], after[1] - before[1])
        state = self.anatomy.state
        if alive:
            text = (
                f"Step: {self.spec.name} moves p by {_pair(update)}{evals} to {_pair(after)}; "
                f"the loss there is {_fmt(self.loss)}."
            )
            if self.schedule is not None:
                code += "; scheduler.step()"
                new_lr = _lr(opt)
                change = "keeps it at" if new_lr == lr else "sets it to"
                text += (
                    f" This step used lr = {_fmt(lr)}; then {self.scheduler.name} {change} "
                    f"{_fmt(new_lr)} for the next step."
                )
        else:
            text = f"Step: {self.spec.name}{evals} left the safe range: the runner has diverged."
        yield Phase(
            "step", code, text, self.point, self.loss, grad, update, state, diverged=not alive
        )

    # -- live changes

    def _set_hparams(self, changes: dict[str, Any]) -> None:
        new_spec = self.spec.with_changes(**changes)  # validates: GdsimError changes nothing
        if self.scheduler is not None:  # e.g. OneCycleLR's default max_lr is the lr: lr > 0
            check_schedule(new_spec, self.scheduler, self.horizon)
        if "lr" in changes and self.scheduler is None:
            self._record_lr_change(new_spec)
        opt = self._built_opt
        if opt is not None:  # else the optimizer is built from new_spec when used
            old = [float(g["lr"]) for g in opt.param_groups]
            apply_hparams(opt, self.spec.info, changes)
            if "lr" in changes and self.schedule is not None:
                self.schedule.follow_lr_change(old)
                self.lr_history.set_last(_lr(opt))
        self.spec = new_spec

    def _record_lr_change(self, new_spec: OptimizerSpec) -> None:
        """Steps from ``steps + 1`` on use the new lr (entry ``steps`` of :meth:`lr_series`)."""
        changes = self._lr_changes
        if not changes:
            changes.append((0, self.lr))
        if changes[-1][0] == self.steps:
            changes.pop()
        new = float(new_spec.hparams().get("lr", math.nan))
        if not changes or changes[-1][1] != new:
            changes.append((self.steps, new))

    # -- plain values out

    def optimizer_state(self) -> dict[str, Any]:
        """The optimizer's state for this runner's parameter now, as plain values."""
        if self._built_opt is None:
            return {}
        return plain_state(self._built_opt.state.get(self._param, {}))

    def snapshot(self) -> RunnerSnapshot:
        return RunnerSnapshot(
            id=self.id,
            label=self.label,
            optimizer=self.spec.name,
            spec=str(self.spec),
            hparams=self.spec.hparams(),
            start=self.start,
            point=self.point,
            loss=self.loss,
            steps=self.steps,
            status=self.status,
            diverged_at=self.diverged_at,
            points=self.trail.points(),
            losses=self.trail.losses(),
            step_index=self.trail.steps(),
            scheduler=None if self.scheduler is None else str(self.scheduler),
            lr=self.lr,
        )

    def __repr__(self) -> str:
        return (
            f"Runner(id={self.id}, {self.label!r}, steps={self.steps}, status={self.status!r}, "
            f"point=({self.point[0]:.6g}, {self.point[1]:.6g}), loss={self.loss:.6g})"
        )


# --- a swarm --------------------------------------------------------------------------------------


class _Single:
    """One point of a non-batched swarm: its own parameter and optimizer instance."""

    __slots__ = ("param", "data", "opt", "closure", "loss_t")

    def __init__(self, spec: OptimizerSpec, fn, start: np.ndarray) -> None:
        self.param = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
        self.data = self.param.detach()
        self.opt = spec.build([self.param])
        self.closure = None
        self.loss_t = None
        if spec.info.needs_closure:
            param, opt = self.param, self.opt

            def closure() -> torch.Tensor:
                opt.zero_grad()
                loss = fn(param)
                loss.backward()
                return loss

            self.closure = closure
        else:
            self.loss_t = fn(self.param)

    def step(self, fn) -> tuple[float, float, float]:
        if self.closure is None:
            self.opt.zero_grad()
            self.loss_t.backward()
            self.opt.step()
            self.loss_t = fn(self.param)
            loss = self.loss_t.item()
        else:
            self.opt.step(self.closure)
            with torch.no_grad():
                loss = fn(self.data).item()
        x, y = self.data.tolist()
        return x, y, loss


class Swarm:
    """Many start points driven by one spec. Create through :meth:`Race.add_swarm`."""

    def __init__(
        self,
        runner_id: int,
        spec: OptimizerSpec,
        surface: Surface,
        starts: np.ndarray,
        label: str | None,
        trail: int = 0,
    ) -> None:
        self.id = runner_id
        self.spec = spec
        self._label = label
        self.starts = starts
        self.trail = int(trail)
        self._fn = surface.fn
        self.reset()

    label = Runner.label

    @property
    def batched(self) -> bool:
        return bool(self.spec.info.elementwise and not self.spec.info.needs_closure)

    @property
    def size(self) -> int:
        return len(self.starts)

    @property
    def _no_copy(self) -> bool:
        """``points`` is the parameter's own data (see SNAPSHOT_EVERY)."""
        return self.batched and self.points is self._view

    def reset(self) -> None:
        n = len(self.starts)
        self.steps = 0
        self.status = OK
        self.diverged = np.zeros(n, dtype=bool)
        self.diverged_at = np.full(n, -1, dtype=np.int64)
        self._dead: torch.Tensor | None = None  # indices of diverged rows (batched swarms)
        self._dead_pts: torch.Tensor | None = None  # their last accepted points
        self.points = self.starts.copy()
        self._ring = np.empty((self.trail, n, 2)) if self.trail else None
        self._ring_n = 0
        if self.batched:
            self._param = torch.nn.Parameter(torch.tensor(self.starts, dtype=torch.float64))
            self._data = self._param.detach()
            self._view = self._data.numpy()
            self._ones = torch.ones((), dtype=self._data.dtype).expand(n)
            self._opt = self.spec.build([self._param])
            self._singles: list[_Single] = []
            self._forward_backward()
            self.losses = self._losses_t.numpy().copy()
        else:
            self._singles = [_Single(self.spec, self._fn, s) for s in self.starts]
            with torch.no_grad():
                self.losses = self._fn(torch.tensor(self.starts)).numpy().copy()
        self._check(self.points.copy(), self.losses.copy(), 0)
        # (step, parameter data, optimizer state) to replay from; see SNAPSHOT_EVERY
        self._snap: tuple[int, torch.Tensor, dict[str, Any]] | None = None
        if self.batched and SNAPSHOT_EVERY > 0:
            self.points = self._view  # equal to the starts (bad ones are pinned to theirs)
        self._record()

    def _set_surface(self, surface: Surface) -> None:
        self._fn = surface.fn

    def _check(self, pts: np.ndarray, losses: np.ndarray, k: int) -> bool:
        """Take the new values into ``points``/``losses``, freezing newly diverged points.

        Fast path (every point finite and in range): one ``aminmax`` pass over each array (nan
        propagates and fails the test, sending us to the per-point path), a copy of the points
        unless ``points`` is ``pts`` itself (a swarm without copies, see SNAPSHOT_EVERY), and
        ``losses`` becomes the new array itself (a fresh one every step, never written: the
        losses of the previous step stay intact for the per-point path). False, with nothing
        changed, when a point diverged and its previous values are gone with ``pts``.
        """
        fine = _within(pts, X_LIMIT) and _within(losses, LOSS_LIMIT)
        new_bad = None
        if not fine:
            with np.errstate(invalid="ignore"):
                good = np.abs(losses) <= LOSS_LIMIT
                good &= np.abs(pts[:, 0]) <= X_LIMIT
                good &= np.abs(pts[:, 1]) <= X_LIMIT
            new_bad = ~good & ~self.diverged
            if not new_bad.any():
                new_bad = None
        if new_bad is None:
            if pts is not self.points:
                np.copyto(self.points, pts)
            self.losses = losses
            return True
        if pts is self.points:
            return False
        # the last accepted values of the newly diverged points are still in points/losses
        idx = np.flatnonzero(new_bad)
        kept_pts, kept_losses = self.points[idx], self.losses[idx]
        np.copyto(self.points, pts)
        self.losses = losses.copy()
        self.points[idx] = kept_pts
        self.losses[idx] = kept_losses
        self.diverged[idx] = True
        self.diverged_at[idx] = k
        if self.diverged.all():
            self.status = DIVERGED
        if self.batched:
            dead = np.flatnonzero(self.diverged)
            self._dead = torch.from_numpy(dead)
            self._dead_pts = torch.from_numpy(self.points[dead].copy())
            with torch.no_grad():
                self._data[self._dead] = self._dead_pts
            # the gradient already taken saw the bad values: redo it (once per divergence event)
            self._forward_backward()
        return True

    def _record(self) -> None:
        if self._ring is not None:
            self._ring[self._ring_n % self.trail] = self.points
            self._ring_n += 1

    def _forward_backward(self) -> None:
        """The losses at the points and, right away, their gradient for the next step: the
        backward reads the forward's saved tensors while they are still in cache."""
        self._opt.zero_grad()
        losses = self._fn(self._param)
        # the gradient losses.sum().backward() passes down (a 1 broadcast over the points),
        # without the sum: one reduction over the losses less per step (the check reads them)
        losses.backward(self._ones)
        self._losses_t = losses.detach()

    def _advance(self) -> None:
        """One optimizer step of the batched parameter, and the new losses and gradient."""
        self._opt.step()  # with the gradient taken at the points' last loss
        if self._dead is not None:
            # diverged rows are pinned at their last accepted point after every step, so their
            # (nan/huge) optimizer state never reaches the reported values and the check keeps
            # its fast path; the rows are elementwise-independent
            with torch.no_grad():
                self._data[self._dead] = self._dead_pts
        self._forward_backward()

    def _replay(self) -> None:
        """Back to the snapshot and forward again to the last accepted step (every row fine on
        the way, as before), then keep ``points`` as a copy from here on (see SNAPSHOT_EVERY)."""
        assert self._snap is not None
        step, data, state = self._snap
        self._snap = None
        with torch.no_grad():
            self._data.copy_(data)
        self._opt.state[self._param] = state
        self._forward_backward()
        for _ in range(self.steps - step):
            self._advance()
        self.points = self._view.copy()
        self.losses = self._losses_t.numpy()

    def _step(self, anatomy: bool = False) -> bool:
        k = self.steps + 1
        if self.batched:
            if self._no_copy and (
                self._snap is None or self.steps - self._snap[0] >= SNAPSHOT_EVERY
            ):
                state = _clone_state(self._opt.state[self._param])
                self._snap = (self.steps, self._data.clone(), state)
            self._advance()
            if not self._check(self._view, self._losses_t.numpy(), k):
                self._replay()
                self._advance()
                self._check(self._view, self._losses_t.numpy(), k)
        else:
            live = np.flatnonzero(~self.diverged)
            pts = self.points.copy()
            losses = self.losses.copy()
            singles, fn = self._singles, self._fn
            for i in live:
                x, y, loss = singles[i].step(fn)
                pts[i, 0] = x
                pts[i, 1] = y
                losses[i] = loss
            self._check(pts, losses, k)
        self.steps = k
        self._record()
        return self.status == OK

    def _fail(self, k: int) -> None:
        """torch raised inside the swarm's step: every point still going diverges here, at its
        last accepted point (which a swarm without copies gets back by a replay)."""
        if self._no_copy:
            self._replay()
        live = ~self.diverged
        self.diverged[live] = True
        self.diverged_at[live] = k
        self.status = DIVERGED

    def _set_hparams(self, changes: dict[str, Any]) -> None:
        new_spec = self.spec.with_changes(**changes)
        optimizers = [self._opt] if self.batched else [s.opt for s in self._singles]
        for opt in optimizers:
            apply_hparams(opt, self.spec.info, changes)
        self.spec = new_spec
        self._snap = None  # a replay must step with the new values: snapshot again

    def recent(self) -> np.ndarray | None:
        """``(T, N, 2)`` the last T positions of every point, oldest first (None without a trail)."""
        if self._ring is None:
            return None
        t = min(self._ring_n, self.trail)
        order = [(self._ring_n - t + i) % self.trail for i in range(t)]
        return self._ring[order].copy()

    def snapshot(self) -> SwarmSnapshot:
        return SwarmSnapshot(
            id=self.id,
            label=self.label,
            optimizer=self.spec.name,
            spec=str(self.spec),
            hparams=self.spec.hparams(),
            starts=self.starts.copy(),
            points=self.points.copy(),
            losses=self.losses.copy(),
            diverged=self.diverged.copy(),
            diverged_at=self.diverged_at.copy(),
            steps=self.steps,
            status=self.status,
            batched=self.batched,
            recent=self.recent(),
        )

    def __repr__(self) -> str:
        return (
            f"Swarm(id={self.id}, {self.label!r}, n={self.size}, steps={self.steps}, "
            f"diverged={int(self.diverged.sum())}, batched={self.batched})"
        )


# --- the race -------------------------------------------------------------------------------------


class Race:
    """Runners and swarms stepped together on one surface. See the module docstring."""

    def __init__(
        self,
        surface: Surface | str,
        start: Sequence[float] | None = None,
        history: int | None = DEFAULT_HISTORY,
        horizon: int = DEFAULT_HORIZON,
        noise: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.surface = _as_surface(surface)
        self.start = check_point(start if start is not None else self.surface.start)
        Trail(history)  # validate the cap once, here
        self.history = history
        self.horizon = check_horizon(horizon)
        self.noise = check_noise(noise)
        self.seed = check_seed(seed)
        self.runners: list[Runner | Swarm] = []
        self.t = 0
        self._next_id = 1

    # -- membership

    def add(
        self,
        spec: OptimizerSpec | str,
        start: Sequence[float] | None = None,
        label: str | None = None,
        history: int | None | str = "race",
        reserve: int = 0,
        scheduler: SchedulerSpec | str | None = None,
    ) -> Runner:
        """Add a single runner (see the module docstring); it starts at step 0."""
        spec = as_spec(spec)
        own = check_point(start) if start is not None else None
        sched = as_scheduler(scheduler)
        if sched is not None:
            check_schedule(spec, sched, self.horizon)
        with torch.enable_grad():
            runner = Runner(
                self._take_id(),
                spec,
                self.surface,
                own if own is not None else self.start,
                label,
                self.history if history == "race" else history,
                reserve=reserve,
                scheduler=sched,
                horizon=self.horizon,
                noise=self.noise,
                stream=noise_stream(self.seed, len(self.runners)),
            )
        self.runners.append(runner)
        return runner

    def add_swarm(
        self,
        spec: OptimizerSpec | str,
        starts: Iterable[Sequence[float]] | np.ndarray,
        label: str | None = None,
        trail: int = 0,
    ) -> Swarm:
        """Add a swarm: one spec, many start points (an ``(N, 2)`` array-like)."""
        spec = as_spec(spec)
        try:
            pts = np.array(starts, dtype=np.float64)
        except (TypeError, ValueError):
            raise GdsimError("swarm starts must be an (N, 2) array of numbers") from None
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
            raise GdsimError(f"swarm starts must be an (N, 2) array, got shape {pts.shape}")
        if len(pts) > MAX_SWARM:
            raise GdsimError(f"a swarm has at most {MAX_SWARM:,} points, got {len(pts):,}")
        if not np.isfinite(pts).all() or np.abs(pts).max() > X_LIMIT:
            raise GdsimError("swarm starts must be finite and within |x|, |y| <= 1e6")
        trail = int(trail)
        if trail < 0 or trail * len(pts) > MAX_SWARM_TRAIL_POINTS:
            raise GdsimError(
                f"swarm trail must be >= 0 with trail * points <= {MAX_SWARM_TRAIL_POINTS:,}"
            )
        with torch.enable_grad():
            swarm = Swarm(self._take_id(), spec, self.surface, pts, label, trail)
        self.runners.append(swarm)
        return swarm

    def _take_id(self) -> int:
        rid = self._next_id
        self._next_id += 1
        return rid

    def get(self, runner: int | Runner | Swarm) -> Runner | Swarm:
        if isinstance(runner, (Runner, Swarm)):
            if runner not in self.runners:
                raise GdsimError(f"runner {runner.id} is not in this race")
            return runner
        for r in self.runners:
            if r.id == runner:
                return r
        raise GdsimError(f"no runner with id {runner!r}")

    def remove(self, runner: int | Runner | Swarm) -> None:
        self.runners.remove(self.get(runner))

    # -- stepping

    @property
    def active(self) -> bool:
        return any(r.status == OK for r in self.runners)

    def step(self, n: int = 1, anatomy: bool = False) -> int:
        """``n`` race steps; each steps every active runner once. Returns the steps taken."""
        n = int(n)
        alive = [r for r in self.runners if r.status == OK]
        taken = 0
        last = n - 1
        with torch.enable_grad():
            for i in range(n):
                if not alive:
                    break
                want = anatomy and i == last
                alive = [r for r in alive if _step_safely(r, want)]
                taken += 1
        self.t += taken
        return taken

    def narrate(self, runner: int | Runner) -> Iterable[Phase]:
        """One race step told phase by phase for ``runner`` (see "Narrated step")."""
        r = self.get(runner)
        if not isinstance(r, Runner):
            raise GdsimError("a swarm cannot be narrated; pick a single runner")
        if r.status != OK:
            raise GdsimError(f"{r.label} has diverged: reset it to step again")
        return self._narrate(r)

    def _narrate(self, runner: Runner) -> Iterable[Phase]:
        phases = iter(runner._narrate())
        while True:
            with torch.enable_grad():  # per phase: never left on in the caller between phases
                try:
                    phase = next(phases, None)
                except STEP_ERRORS as exc:  # inside optimizer.step(): see _step_safely
                    runner._fail(runner.steps + 1)
                    phase = Phase(
                        "step", "optimizer.step()",
                        f"Step: torch raised {type(exc).__name__} inside {runner.spec.name}'s "
                        "step: the runner has diverged.",
                        runner.point, runner.loss, None, diverged=True,
                    )  # fmt: skip
                if phase is None:
                    return
                if phase.name == "step":
                    for r in self.runners:
                        if r is not runner and r.status == OK:
                            _step_safely(r, False)
                    self.t += 1
            yield phase

    def anatomy(self, runner: int | Runner) -> Anatomy | None:
        """The last recorded :class:`Anatomy` of a single runner (None if none was recorded)."""
        r = self.get(runner)
        return r.anatomy if isinstance(r, Runner) else None

    # -- live changes

    def set_hparams(self, runner: int | Runner | Swarm, **changes: Any) -> None:
        target = self.get(runner)
        try:
            target._set_hparams(changes)
        except STEP_ERRORS as exc:  # torch could not take the value (see STEP_ERRORS)
            what = ", ".join(f"{k}={v!r}" for k, v in changes.items())
            raise GdsimError(
                f"{target.spec.name} cannot use {what}: {type(exc).__name__}"
            ) from None

    def set_schedule(self, runner: int | Runner, scheduler: SchedulerSpec | str | None) -> None:
        """Give a single runner a learning-rate schedule (None: none); the runner restarts.

        Validated first (GdsimError changes nothing). Why a restart: a schedule is a plan over
        steps from 0, and an lr plot against step only reads right if the run started with it.
        """
        r = self.get(runner)
        if not isinstance(r, Runner):
            raise GdsimError("a swarm takes no learning-rate schedule; pick a single runner")
        sched = as_scheduler(scheduler)
        if sched is not None:
            check_schedule(r.spec, sched, self.horizon)
        old, r.scheduler = r.scheduler, sched
        try:
            self.reset(r)
        except GdsimError:  # torch refused what the check let through: put the old one back
            r.scheduler = old
            self.reset(r)
            raise

    def set_noise(self, sigma: float, seed: int | None = None) -> None:
        """Gradient noise σ for every single runner, live from the next step (see "Noise").

        A new ``seed`` restarts every runner's noise stream now (from that seed); restart the
        race too if the run should be reproducible from its start.
        """
        sigma = check_noise(sigma)
        seed = self.seed if seed is None else check_seed(seed)
        self.noise = sigma
        reseed = seed != self.seed
        self.seed = seed
        for i, r in enumerate(self.runners):
            if isinstance(r, Runner):
                r.noise = sigma
                if reseed:
                    r.noise_stream = noise_stream(seed, i)
                    r._gen = None

    def set_horizon(self, horizon: int) -> None:
        """The run length schedules' defaults assume (see "Schedules"); the race restarts."""
        horizon = check_horizon(horizon)
        for r in self.runners:
            if isinstance(r, Runner) and r.scheduler is not None:
                check_schedule(r.spec, r.scheduler, horizon)
        self.horizon = horizon
        for r in self.runners:
            if isinstance(r, Runner):
                r.horizon = horizon
        self.reset()

    def reset(self, runner: int | Runner | Swarm | None = None) -> None:
        with torch.enable_grad():
            if runner is None:
                for i, r in enumerate(self.runners):
                    if isinstance(r, Runner):
                        r.noise_stream = noise_stream(self.seed, i)
                    r.reset()
                self.t = 0
            else:
                r = self.get(runner)
                if isinstance(r, Runner):
                    r.noise_stream = noise_stream(self.seed, self.runners.index(r))
                r.reset()

    def set_start(self, x: float, y: float) -> None:
        """Move the shared start; every single runner restarts from there, swarms restart."""
        self.start = check_point((x, y))
        for r in self.runners:
            if isinstance(r, Runner):
                r.start = self.start
        self.reset()

    def set_surface(self, surface: Surface | str, start: Sequence[float] | None = None) -> None:
        """Switch surface; the start becomes ``start`` or the surface's default; all restart."""
        surface = _as_surface(surface)
        new_start = check_point(start if start is not None else surface.start)
        self.surface = surface
        self.start = new_start
        for r in self.runners:
            r._set_surface(surface)
            if isinstance(r, Runner):
                r.start = new_start
        self.reset()

    # -- plain values out

    def snapshot(self) -> list[RunnerSnapshot | SwarmSnapshot]:
        return [r.snapshot() for r in self.runners]

    def __repr__(self) -> str:
        return f"Race({self.surface.name!r}, start={self.start}, runners={len(self.runners)})"
