"""Learning-rate schedulers from ``torch.optim.lr_scheduler``, chosen by a SPEC string.

Why a registry: each scheduler needs arguments that depend on the run (``OneCycleLR`` must know the
total number of batches, ``CosineAnnealingLR`` the number of epochs), steps at a different moment
(per batch or per epoch), and ``ReduceLROnPlateau`` needs the validation loss. The registry holds
that knowledge once, so the engine, ``gdsim train --scheduler`` and the window agree.

Public API
----------
``SCHEDULERS: dict[str, SchedulerInfo]`` (key = lower-case class name), ``scheduler_names()``,
``get_scheduler(name)``.
``parse_scheduler(text) -> SchedulerSpec``: ``"StepLR(step_size=10, gamma=0.5)"`` or ``"steplr"``;
    no invented aliases — the torch class name is what a lecturer will look up. Arguments are
    parsed by ``core.optimizers.parse_call`` (a safe literal-call parser, no eval) and validated
    here; a bad name, argument or value raises ``GdsimError`` with one line.
``SchedulerSpec.build(optimizer, epochs, steps_per_epoch) -> Schedule``: the torch scheduler plus
    when to step it. Arguments not given get defaults derived from the run (see each entry).

When each steps (``SchedulerInfo.interval``)
    ``"batch"``: after every ``optimizer.step()`` (OneCycleLR, CyclicLR).
    ``"epoch"``: after each epoch's validation pass (StepLR, MultiStepLR, ExponentialLR,
    CosineAnnealingLR, CosineAnnealingWarmRestarts, LinearLR).
    ``"plateau"``: after each validation pass, with the validation loss (ReduceLROnPlateau).

On a 2-D surface (``core.race``) there are neither batches nor epochs: one race step is both.
    ``Schedule.after_step(loss)`` steps every scheduler once after each ``optimizer.step()``
    (ReduceLROnPlateau with the new loss), and the run shape is ``RunShape(horizon, 1, lr)``:
    "epochs" in the defaults above read as race steps (StepLR drops every ``horizon // 3`` steps).
    ``SchedulerSpec.check(shape, optimizer_defaults)`` says whether ``build`` would accept the
    spec for such an optimizer without building one (building the first optimizer of a process
    imports ``torch._dynamo``, ~1.6 s: a session file must not cost that just to be validated).

A user's live learning-rate change vs the schedule (``Schedule.rescale``)
    A schedule must not silently undo a change the user just made. The rule: setting lr to ``new``
    while the lr in force is ``old`` multiplies the whole schedule by ``new / old`` — the
    scheduler's ``base_lrs``, its last lr, and OneCycleLR/CyclicLR's ``initial_lr``/``max_lr``/
    ``min_lr`` (and ReduceLROnPlateau's floor ``min_lrs`` stays). The schedule keeps its shape and
    timing; the lr in force is exactly what the user set, and later steps continue from there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.optim import lr_scheduler

from core.errors import GdsimError


@dataclass(frozen=True)
class RunShape:
    """What a default may depend on: the length of the run and the optimizer's lr."""

    epochs: int
    steps_per_epoch: int
    lr: float

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch


@dataclass(frozen=True)
class SchedArg:
    name: str
    kind: str  # "int" | "float" | "bool" | "choice" | "ints" (a list of whole numbers)
    default: Callable[[RunShape], Any]
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: low itself is not allowed
    choices: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class SchedulerInfo:
    name: str
    cls: type
    interval: str  # "batch" | "epoch" | "plateau"
    args: tuple[SchedArg, ...]
    description: str
    fixed: dict[str, Any] = field(default_factory=dict)  # passed always, not user-settable

    def arg(self, name: str) -> SchedArg:
        for a in self.args:
            if a.name == name:
                return a
        raise GdsimError(
            f"{self.name} has no argument '{name}' (arguments: {', '.join(a.name for a in self.args)})"
        )


def _c(value: Any) -> Callable[[RunShape], Any]:
    return lambda _shape: value


_GAMMA = dict(low=0.0, high=1.0, low_open=True)

SCHEDULERS: dict[str, SchedulerInfo] = {
    info.name.lower(): info
    for info in (
        SchedulerInfo(
            "StepLR",
            lr_scheduler.StepLR,
            "epoch",
            (
                SchedArg(
                    "step_size",
                    "int",
                    lambda s: max(1, s.epochs // 3),
                    1,
                    1e9,
                    help="epochs between drops (default: a third of the run)",
                ),
                SchedArg("gamma", "float", _c(0.1), **_GAMMA, help="factor applied at each drop"),
            ),
            "multiply lr by gamma every step_size epochs",
        ),
        SchedulerInfo(
            "MultiStepLR",
            lr_scheduler.MultiStepLR,
            "epoch",
            (
                SchedArg(
                    "milestones",
                    "ints",
                    lambda s: [max(1, s.epochs // 2), max(2, 3 * s.epochs // 4)],
                    1,
                    1e9,
                    help="epochs at which lr drops (default: half and 3/4 of the run)",
                ),
                SchedArg(
                    "gamma", "float", _c(0.1), **_GAMMA, help="factor applied at each milestone"
                ),
            ),
            "multiply lr by gamma at chosen epochs",
        ),
        SchedulerInfo(
            "ExponentialLR",
            lr_scheduler.ExponentialLR,
            "epoch",
            (SchedArg("gamma", "float", _c(0.95), **_GAMMA, help="factor applied every epoch"),),
            "multiply lr by gamma every epoch",
        ),
        SchedulerInfo(
            "CosineAnnealingLR",
            lr_scheduler.CosineAnnealingLR,
            "epoch",
            (
                SchedArg(
                    "T_max",
                    "int",
                    lambda s: s.epochs,
                    1,
                    1e9,
                    help="epochs for half a cosine period (default: the whole run)",
                ),
                SchedArg("eta_min", "float", _c(0.0), 0.0, 1e3, help="lowest lr"),
            ),
            "lr follows half a cosine from its start value down to eta_min",
        ),
        SchedulerInfo(
            "CosineAnnealingWarmRestarts",
            lr_scheduler.CosineAnnealingWarmRestarts,
            "epoch",
            (
                SchedArg(
                    "T_0",
                    "int",
                    lambda s: max(1, s.epochs // 3),
                    1,
                    1e9,
                    help="epochs until the first restart (default: a third of the run)",
                ),
                SchedArg("T_mult", "int", _c(1), 1, 100, help="each period is T_mult times longer"),
                SchedArg("eta_min", "float", _c(0.0), 0.0, 1e3, help="lowest lr"),
            ),
            "cosine decay that jumps back up (a warm restart) every T_0 epochs",
        ),
        SchedulerInfo(
            "LinearLR",
            lr_scheduler.LinearLR,
            "epoch",
            (
                SchedArg(
                    "start_factor",
                    "float",
                    _c(1.0 / 3.0),
                    0.0,
                    1.0,
                    low_open=True,
                    help="lr starts at start_factor × lr (a warm-up)",
                ),
                SchedArg(
                    "end_factor",
                    "float",
                    _c(1.0),
                    0.0,
                    1.0,
                    low_open=True,
                    help="…and ends at end_factor × lr",
                ),
                SchedArg(
                    "total_iters",
                    "int",
                    lambda s: max(1, s.epochs // 5),
                    1,
                    1e9,
                    help="epochs the ramp lasts (default: a fifth of the run)",
                ),
            ),
            "linear ramp of lr over the first epochs (warm-up)",
        ),
        SchedulerInfo(
            "OneCycleLR",
            lr_scheduler.OneCycleLR,
            "batch",
            (
                SchedArg(
                    "max_lr",
                    "float",
                    lambda s: s.lr,
                    0.0,
                    1e6,
                    low_open=True,
                    help="peak lr (default: the optimizer's lr)",
                ),
                SchedArg(
                    "total_steps",
                    "int",
                    lambda s: s.total_steps,
                    1,
                    1e12,
                    help="batches in the cycle (default: every batch of the run)",
                ),
                SchedArg(
                    "pct_start",
                    "float",
                    _c(0.3),
                    0.0,
                    1.0,
                    low_open=True,
                    help="fraction of the cycle spent warming up",
                ),
                SchedArg(
                    "anneal_strategy",
                    "choice",
                    _c("cos"),
                    choices=("cos", "linear"),
                    help="shape of the ramps",
                ),
                SchedArg(
                    "div_factor", "float", _c(25.0), 1.0, 1e9, help="start lr = max_lr / div_factor"
                ),
                SchedArg(
                    "final_div_factor",
                    "float",
                    _c(1e4),
                    1.0,
                    1e12,
                    help="final lr = start lr / final_div_factor",
                ),
                SchedArg("three_phase", "bool", _c(False), help="annihilation phase at the end"),
                SchedArg(
                    "cycle_momentum",
                    "bool",
                    _c(False),
                    help="also cycle momentum/beta1 (off in gdsim so your momentum stays yours)",
                ),
            ),
            "warm up to max_lr, then anneal far below the start, over the whole run (per batch)",
        ),
        SchedulerInfo(
            "CyclicLR",
            lr_scheduler.CyclicLR,
            "batch",
            (
                SchedArg("base_lr", "float", lambda s: s.lr / 10.0, 0.0, 1e6, help="lowest lr"),
                SchedArg(
                    "max_lr",
                    "float",
                    lambda s: s.lr,
                    0.0,
                    1e6,
                    low_open=True,
                    help="highest lr (default: the optimizer's lr)",
                ),
                SchedArg(
                    "step_size_up",
                    "int",
                    lambda s: max(1, 2 * s.steps_per_epoch),
                    1,
                    1e12,
                    help="batches from low to high (default: two epochs)",
                ),
                SchedArg(
                    "mode",
                    "choice",
                    _c("triangular"),
                    choices=("triangular", "triangular2", "exp_range"),
                    help="cycle shape",
                ),
                SchedArg(
                    "gamma", "float", _c(1.0), **_GAMMA, help="decay per batch in exp_range mode"
                ),
                SchedArg(
                    "cycle_momentum",
                    "bool",
                    _c(False),
                    help="also cycle momentum (off in gdsim so your momentum stays yours)",
                ),
            ),
            "lr bounces between base_lr and max_lr (per batch)",
        ),
        SchedulerInfo(
            "ReduceLROnPlateau",
            lr_scheduler.ReduceLROnPlateau,
            "plateau",
            (
                SchedArg(
                    "factor",
                    "float",
                    _c(0.1),
                    0.0,
                    1.0,
                    low_open=True,
                    help="lr is multiplied by factor when validation loss stalls",
                ),
                SchedArg(
                    "patience",
                    "int",
                    _c(5),
                    0,
                    1e9,
                    help="epochs without improvement before reducing",
                ),
                SchedArg(
                    "threshold", "float", _c(1e-4), 0.0, 1.0, help="what counts as improvement"
                ),
                SchedArg("cooldown", "int", _c(0), 0, 1e9, help="epochs to wait after a reduction"),
                SchedArg("min_lr", "float", _c(0.0), 0.0, 1e3, help="lr never goes below this"),
            ),
            "multiply lr by factor when the validation loss stops improving",
            fixed={"mode": "min"},
        ),
    )
}


def scheduler_names() -> list[str]:
    return [info.name for info in SCHEDULERS.values()]


def get_scheduler(name: str) -> SchedulerInfo:
    key = str(name).strip().lower()
    if key not in SCHEDULERS:
        raise GdsimError(
            f"unknown scheduler '{name}' (choose from: {', '.join(scheduler_names())})"
        )
    return SCHEDULERS[key]


def _check(info: SchedulerInfo, arg: SchedArg, value: Any) -> Any:
    where = f"{info.name} {arg.name}"
    if arg.kind == "bool":
        if not isinstance(value, bool):
            raise GdsimError(f"{where} must be True or False, got {value!r}")
        return value
    if arg.kind == "choice":
        if value not in arg.choices:
            raise GdsimError(f"{where} must be one of {', '.join(arg.choices)}, got {value!r}")
        return value
    if arg.kind == "ints":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)) or not value:
            raise GdsimError(f"{where} must be a list of whole numbers, got {value!r}")
        items = [_number(info, arg, v, whole=True) for v in value]
        if items != sorted(set(items)):
            raise GdsimError(f"{where} must be increasing, got {value!r}")
        return items
    return _number(info, arg, value, whole=arg.kind == "int")


def _number(info: SchedulerInfo, arg: SchedArg, value: Any, whole: bool) -> int | float:
    where = f"{info.name} {arg.name}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GdsimError(f"{where} must be a number, got {value!r}")
    if whole:
        if isinstance(value, float) and not value.is_integer():
            raise GdsimError(f"{where} must be a whole number, got {value!r}")
        value = int(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise GdsimError(f"{where} must be finite, got {value!r}")
    low_bad = arg.low is not None and (value <= arg.low if arg.low_open else value < arg.low)
    high_bad = arg.high is not None and value > arg.high
    if low_bad or high_bad:
        lo = "(" if arg.low_open else "["
        raise GdsimError(f"{where} must be in {lo}{arg.low:g}, {arg.high:g}], got {value!r}")
    return value


@dataclass(frozen=True)
class SchedulerSpec:
    info: SchedulerInfo
    kwargs: dict[str, Any]  # validated values the user gave

    @property
    def name(self) -> str:
        return self.info.name

    def resolved(self, shape: RunShape) -> dict[str, Any]:
        """Every argument passed to torch: the user's values, run-derived defaults for the rest."""
        values = {a.name: self.kwargs.get(a.name, a.default(shape)) for a in self.info.args}
        for a in self.info.args:  # a default computed from the run must pass validation too
            values[a.name] = _check(self.info, a, values[a.name])
        return {**values, **self.info.fixed}

    def check(self, shape: RunShape, optimizer_defaults: Iterable[str]) -> dict[str, Any]:
        """The arguments :meth:`build` would pass for an optimizer whose ``defaults`` has these
        names, or GdsimError with the message ``build`` gives. Builds nothing (see module doc)."""
        kwargs = self.resolved(shape)
        names = set(optimizer_defaults)
        if kwargs.get("cycle_momentum") and not ("momentum" in names or "betas" in names):
            raise GdsimError(
                f"{self.name} cycle_momentum=True needs an optimizer with momentum or betas"
            )
        return kwargs

    def build(
        self, optimizer: torch.optim.Optimizer, epochs: int, steps_per_epoch: int
    ) -> Schedule:
        lr = float(optimizer.param_groups[0]["lr"])
        kwargs = self.resolved(RunShape(epochs, steps_per_epoch, lr))
        if kwargs.get("cycle_momentum") and not (
            "momentum" in optimizer.defaults or "betas" in optimizer.defaults
        ):
            raise GdsimError(
                f"{self.name} cycle_momentum=True needs an optimizer with momentum or betas"
            )
        try:
            scheduler = self.info.cls(optimizer, **kwargs)
        except ValueError as exc:  # torch's own argument checks, as one line
            raise GdsimError(f"{self}: {str(exc).splitlines()[0]}") from None
        return Schedule(self, scheduler, kwargs)

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.info.name}({args})"


_PREFIXES = ("torch.optim.lr_scheduler", "optim.lr_scheduler", "lr_scheduler")


def parse_scheduler(text: str) -> SchedulerSpec:
    """Parse ``"OneCycleLR(max_lr=0.1)"`` or ``"StepLR"`` into a validated spec.

    Names are case-insensitive; ``torch.optim.lr_scheduler.`` / ``lr_scheduler.`` prefixes are
    accepted, as in code.
    """
    from core.optimizers import parse_call  # the project's one safe literal-call parser

    name, kwargs = parse_call(str(text), prefixes=_PREFIXES)
    info = get_scheduler(name)
    checked = {k: _check(info, info.arg(k), v) for k, v in dict(kwargs).items()}
    return SchedulerSpec(info, checked)


class Schedule:
    """A built torch scheduler plus when to step it. The engine calls these three methods only.

    ``after_batch()`` after each ``optimizer.step()``, ``after_epoch(val_loss)`` after each
    validation pass; each steps the torch scheduler only if this is its moment.
    """

    def __init__(self, spec: SchedulerSpec, scheduler: Any, kwargs: dict[str, Any]) -> None:
        self.spec = spec
        self.scheduler = scheduler
        self.kwargs = kwargs
        self.per_batch = spec.info.interval == "batch"
        # OneCycleLR raises if stepped past total_steps; stop at the end and hold the final lr.
        self._limit = kwargs.get("total_steps") if spec.info.name == "OneCycleLR" else None

    def after_batch(self) -> None:
        if self.per_batch and (self._limit is None or self.scheduler.last_epoch < self._limit):
            self.scheduler.step()

    def after_epoch(self, val_loss: float) -> None:
        if self.spec.info.interval == "epoch":
            self.scheduler.step()
        elif self.spec.info.interval == "plateau":
            self.scheduler.step(val_loss)

    def after_step(self, loss: float) -> None:
        """A surface race step (a batch and an epoch at once): step the scheduler once.

        ReduceLROnPlateau gets ``loss`` (the loss at the new point); OneCycleLR holds its final
        lr once its cycle is over, as in training.
        """
        interval = self.spec.info.interval
        if interval == "plateau":
            self.scheduler.step(loss)
        elif self._limit is None or self.scheduler.last_epoch < self._limit:
            self.scheduler.step()

    def rescale(self, group_index: int, ratio: float) -> None:
        """Scale the schedule of one param group by ``ratio`` (the user changed lr; see module doc)."""
        s = self.scheduler
        group = s.optimizer.param_groups[group_index]
        for key in ("initial_lr", "max_lr", "min_lr"):
            if key in group:
                group[key] = group[key] * ratio
        for attr in ("base_lrs", "max_lrs", "_last_lr"):
            values = getattr(s, attr, None)
            if isinstance(values, list) and group_index < len(values):
                values[group_index] = values[group_index] * ratio
