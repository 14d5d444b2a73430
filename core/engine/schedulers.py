"""Learning-rate schedulers from ``torch.optim.lr_scheduler``, chosen by a SPEC string.

Each scheduler needs arguments that depend on the run (``OneCycleLR`` the number of batches,
``CosineAnnealingLR`` of epochs), steps at its own moment (per batch, per epoch, or with the
validation loss), and some cannot be parts of a composition. The registry holds that knowledge
once, so the engine, ``gdsim train --scheduler`` and the window agree. ``parse_scheduler`` reads
``"StepLR(step_size=10)"`` (torch's class names, no aliases; ``lr_lambda`` is a formula in
``epoch``, never Python) and ``SchedulerSpec.build`` gives a :class:`Schedule`. On a 2-D surface
one race step is both a batch and an epoch (``Schedule.after_step``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.optim import lr_scheduler

from core.engine.expression import ExpressionError, compile_epoch_function
from core.errors import GdsimError, error_line


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
    kind: str  # "int" | "float" | "bool" | "choice" | "ints" (whole numbers) | "expr" (f(epoch))
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
    #: a composition (SequentialLR, ChainedScheduler): the parts used when none are given
    default_parts: tuple[str, ...] = ()

    @property
    def composite(self) -> bool:
        return bool(self.default_parts)

    def arg(self, name: str) -> SchedArg:
        for a in self.args:
            if a.name == name:
                return a
        if name == "schedulers" and self.composite:
            raise GdsimError(f"{self.name} schedulers must be a list like [StepLR, ExponentialLR]")
        raise GdsimError(
            f"{self.name} has no argument '{name}' (arguments: {', '.join(a.name for a in self.args)})"
        )


def _c(value: Any) -> Callable[[RunShape], Any]:
    return lambda _shape: value


_GAMMA = dict(low=0.0, high=1.0, low_open=True)


def _whole_run(name: str, help: str) -> SchedArg:
    """An epoch count that by default spans the whole run."""
    return SchedArg(name, "int", lambda s: s.epochs, 1, 1e9, help=help)


def _third_of_the_run(name: str, help: str) -> SchedArg:
    """An epoch count that by default is a third of the run's epochs."""
    return SchedArg(name, "int", lambda s: max(1, s.epochs // 3), 1, 1e9, help=help)


def _fifth_of_the_run(help: str) -> SchedArg:
    """A warm-up style ``total_iters``: by default the first fifth of the run's epochs."""
    return SchedArg("total_iters", "int", lambda s: max(1, s.epochs // 5), 1, 1e9, help=help)


SCHEDULERS: dict[str, SchedulerInfo] = {
    info.name.lower(): info
    for info in (
        SchedulerInfo(
            "StepLR",
            lr_scheduler.StepLR,
            "epoch",
            (
                _third_of_the_run(
                    "step_size", "epochs between drops (default: a third of the run)"
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
                _whole_run("T_max", "epochs for half a cosine period (default: the whole run)"),
                SchedArg("eta_min", "float", _c(0.0), 0.0, 1e3, help="lowest lr"),
            ),
            "lr follows half a cosine from its start value down to eta_min",
        ),
        SchedulerInfo(
            "CosineAnnealingWarmRestarts",
            lr_scheduler.CosineAnnealingWarmRestarts,
            "epoch",
            (
                _third_of_the_run(
                    "T_0", "epochs until the first restart (default: a third of the run)"
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
                _fifth_of_the_run("epochs the ramp lasts (default: a fifth of the run)"),
            ),
            "linear ramp of lr over the first epochs (warm-up)",
        ),
        SchedulerInfo(
            "ConstantLR",
            lr_scheduler.ConstantLR,
            "epoch",
            (
                SchedArg(
                    "factor",
                    "float",
                    _c(1.0 / 3.0),
                    0.0,
                    1.0,
                    help="lr is factor × lr until total_iters, then the lr itself",
                ),
                _fifth_of_the_run("epochs at the reduced lr (default: a fifth of the run)"),
            ),
            "a reduced lr for the first epochs, then the lr itself",
        ),
        SchedulerInfo(
            "PolynomialLR",
            lr_scheduler.PolynomialLR,
            "epoch",
            (
                _whole_run("total_iters", "epochs until lr reaches 0 (default: the whole run)"),
                SchedArg("power", "float", _c(1.0), 0.0, 1e3, help="1 is a straight line down"),
            ),
            "lr falls as (1 - epoch/total_iters)^power to 0, then stays there",
        ),
        SchedulerInfo(
            "LambdaLR",
            lr_scheduler.LambdaLR,
            "epoch",
            (
                SchedArg(
                    "lr_lambda",
                    "expr",
                    _c("1 / (1 + 0.1 * epoch)"),
                    help="lr = lr × f(epoch), a formula in epoch (e.g. 0.95^epoch)",
                ),
            ),
            "lr = the start lr × a formula in epoch that you write",
        ),
        SchedulerInfo(
            "MultiplicativeLR",
            lr_scheduler.MultiplicativeLR,
            "epoch",
            (
                SchedArg(
                    "lr_lambda",
                    "expr",
                    _c("0.99"),
                    help="each epoch multiplies lr by f(epoch), a formula in epoch",
                ),
            ),
            "each epoch multiplies lr by a formula in epoch that you write",
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
        SchedulerInfo(
            "SequentialLR",
            lr_scheduler.SequentialLR,
            "epoch",
            (
                SchedArg(
                    "milestones",
                    "ints",
                    _c(None),  # see SchedulerSpec.resolved: the run split into equal parts
                    1,
                    1e9,
                    help="epochs at which the next scheduler takes over (default: equal parts)",
                ),
            ),
            "one scheduler after another, switching at the milestones",
            default_parts=("LinearLR(start_factor=0.1)", "CosineAnnealingLR"),
        ),
        SchedulerInfo(
            "ChainedScheduler",
            lr_scheduler.ChainedScheduler,
            "epoch",
            (),
            "several schedulers at once: their effects multiply",
            default_parts=("LinearLR(start_factor=0.1)", "ExponentialLR(gamma=0.99)"),
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
    if arg.kind == "expr":
        if not isinstance(value, str):
            raise GdsimError(
                f"{where} must be a formula in epoch, like '0.95 ^ epoch', got {value!r}"
            )
        try:
            compile_epoch_function(value)
        except ExpressionError as exc:
            raise GdsimError(f"{where}: {exc}") from None
        return value
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
    parts: tuple[SchedulerSpec, ...] | None = None  # a composition's schedulers, if given

    @property
    def name(self) -> str:
        return self.info.name

    def schedulers(self) -> tuple[SchedulerSpec, ...]:
        """A composition's schedulers: the ones given, else the registry's default parts."""
        if self.parts is not None:
            return self.parts
        return tuple(parse_scheduler(text) for text in self.info.default_parts)

    @property
    def interval(self) -> str:
        """When to step: ``"batch"`` (after each optimizer.step()), ``"epoch"`` (after each
        validation pass) or ``"plateau"`` (with the validation loss); a composition as its parts."""
        if self.info.composite:
            return self.schedulers()[0].info.interval
        return self.info.interval

    def resolved(self, shape: RunShape) -> dict[str, Any]:
        """Every argument passed to torch: the user's values, run-derived defaults for the rest.

        A composition's ``schedulers`` are ``(SchedulerSpec, arguments)`` pairs. SequentialLR's
        milestones default to the run split into equal parts, and each part's own defaults
        assume its stretch of the run (ChainedScheduler's parts: the whole run).
        """
        values: dict[str, Any] = {}
        parts = self.schedulers() if self.info.composite else ()
        for a in self.info.args:
            value = self.kwargs.get(a.name, a.default(shape))
            if value is None and a.name == "milestones":
                n = len(parts)
                value = [max(i, shape.epochs * i // n) for i in range(1, n)]
            values[a.name] = _check(self.info, a, value) if value != [] else []
        if not parts:
            return {**values, **self.info.fixed}
        bounds = [0, shape.epochs]
        if "milestones" in values:
            milestones = values["milestones"]
            if len(milestones) != len(parts) - 1:
                raise GdsimError(
                    f"{self.name} needs one milestone fewer than schedulers "
                    f"({len(parts)} schedulers, {len(milestones)} milestones)"
                )
            bounds = [0, *milestones, max(shape.epochs, milestones[-1] + 1 if milestones else 0)]
        resolved = []
        for i, part in enumerate(parts):
            lo, hi = (bounds[i], bounds[i + 1]) if len(bounds) > 2 else (0, shape.epochs)
            part_shape = RunShape(max(1, hi - lo), shape.steps_per_epoch, shape.lr)
            resolved.append((part, part.resolved(part_shape)))
        return {"schedulers": resolved, **values}

    def held_after(self, kwargs: dict[str, Any]) -> int | None:
        """Steps after which this schedule holds its last lr (see :class:`Schedule`), for
        its resolved ``kwargs``; None if it never does."""
        return kwargs.get("total_steps") if self.name == "OneCycleLR" else None

    def check(self, shape: RunShape, optimizer_defaults: Iterable[str]) -> dict[str, Any]:
        """The arguments :meth:`build` would pass for an optimizer whose ``defaults`` has these
        names, or GdsimError with the message ``build`` gives. Builds nothing: the first optimizer
        of a process imports ``torch._dynamo`` (~1.6 s), too slow just to validate a file."""
        kwargs = self.resolved(shape)
        _check_momentum(self, kwargs, set(optimizer_defaults))
        return kwargs

    def build(
        self, optimizer: torch.optim.Optimizer, epochs: int, steps_per_epoch: int
    ) -> Schedule:
        lr = float(optimizer.param_groups[0]["lr"])
        kwargs = self.check(RunShape(epochs, steps_per_epoch, lr), optimizer.defaults)
        return Schedule(self, _make(self, optimizer, kwargs), kwargs)

    def __str__(self) -> str:
        args = [f"{k}={v!r}" for k, v in self.kwargs.items()]
        if self.parts is not None:
            args.insert(0, f"schedulers=[{', '.join(str(p) for p in self.parts)}]")
        return f"{self.info.name}({', '.join(args)})"


def _check_momentum(spec: SchedulerSpec, kwargs: dict[str, Any], names: set[str]) -> None:
    if kwargs.get("cycle_momentum") and not ("momentum" in names or "betas" in names):
        raise GdsimError(
            f"{spec.name} cycle_momentum=True needs an optimizer with momentum or betas"
        )
    for part, part_kwargs in kwargs.get("schedulers", ()):
        _check_momentum(part, part_kwargs, names)


def _make(spec: SchedulerSpec, optimizer: torch.optim.Optimizer, kwargs: dict[str, Any]) -> Any:
    """The torch scheduler for resolved ``kwargs``; a composition's parts are built first, in
    order, on the same optimizer (as torch's documentation does)."""
    args = dict(kwargs)
    if "schedulers" in args:
        args["schedulers"] = [_make(part, optimizer, kw) for part, kw in args["schedulers"]]
    for a in spec.info.args:
        if a.kind == "expr":
            args[a.name] = compile_epoch_function(args[a.name])
    try:
        return spec.info.cls(optimizer=optimizer, **args)
    except ValueError as exc:  # torch's own argument checks, as one line
        raise GdsimError(f"{spec}: {error_line(exc)}") from None


_PREFIXES = ("torch.optim.lr_scheduler", "optim.lr_scheduler", "lr_scheduler")


def parse_scheduler(text: str) -> SchedulerSpec:
    """Parse ``"OneCycleLR(max_lr=0.1)"`` or ``"StepLR"`` into a validated spec.

    Names are case-insensitive; ``torch.optim.lr_scheduler.`` / ``lr_scheduler.`` prefixes are
    accepted, as in code. A composition lists its parts as SPECs:
    ``SequentialLR(schedulers=[LinearLR(start_factor=0.1), CosineAnnealingLR], milestones=[10])``.
    """
    from core.engine.optimizers import parse_call  # the project's one safe literal-call parser

    part_texts, rest = _split_parts(str(text))
    name, kwargs = parse_call(rest, prefixes=_PREFIXES)
    info = get_scheduler(name)
    parts = None
    if part_texts is not None:
        if not info.composite:
            info.arg("schedulers")  # raises: "StepLR has no argument 'schedulers'"
        parts = tuple(_parse_part(info, t) for t in part_texts)
        if len({p.info.interval for p in parts}) > 1:
            raise GdsimError(
                f"{info.name} schedulers must all step per epoch or all per batch "
                "(CyclicLR steps per batch)"
            )
    checked = {k: _check(info, info.arg(k), v) for k, v in dict(kwargs).items()}
    return SchedulerSpec(info, checked, parts)


def _parse_part(info: SchedulerInfo, text: str) -> SchedulerSpec:
    part = parse_scheduler(text)
    why = ""
    if part.info.composite:
        why = "list plain schedulers"
    elif part.info.interval == "plateau":
        why = "torch steps its parts without the loss it needs"
    elif part.name == "OneCycleLR":
        why = "torch raises when it is stepped past its cycle"
    if why:
        raise GdsimError(f"{info.name} cannot contain {part.name} ({why})")
    return part


def _split_parts(text: str) -> tuple[list[str] | None, str]:
    """A composition's ``schedulers=[...]`` as SPEC texts, and the call without it.

    ``ast.parse`` only reads the text (nothing runs); anything unusual is left for
    ``parse_call``, which gives the one-line message.
    """
    import ast

    from core.engine.optimizers import MAX_SPEC_LENGTH

    stripped = text.strip()
    if len(text) > MAX_SPEC_LENGTH:
        return None, text
    try:
        call = ast.parse(stripped, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None, text
    if not isinstance(call, ast.Call):
        return None, text
    found = [kw for kw in call.keywords if kw.arg == "schedulers"]
    if not found:
        return None, text
    if len(found) > 1:
        raise GdsimError("schedulers is given twice")
    value = found[0].value
    if not isinstance(value, (ast.List, ast.Tuple)) or not value.elts:
        raise GdsimError(
            "schedulers must be a list of scheduler SPECs, like "
            "[LinearLR(start_factor=0.1), CosineAnnealingLR]"
        )

    def source(node: ast.AST) -> str:
        return ast.get_source_segment(stripped, node) or ""

    others = [source(a) for a in call.args]
    others += [source(kw) for kw in call.keywords if kw.arg != "schedulers"]
    return [source(e) for e in value.elts], f"{source(call.func)}({', '.join(others)})"


class Schedule:
    """A built torch scheduler plus when to step it. The engine calls these methods only.

    ``after_batch()`` after each ``optimizer.step()``, ``after_epoch(val_loss)`` after each
    validation pass; each steps the torch scheduler only if this is its moment.

    Past its end every scheduler gives what a bare ``optimizer.step(); scheduler.step()`` loop
    gives, except OneCycleLR: torch raises when it is stepped past ``total_steps``, and the value
    it computes at ``total_steps`` lies one step beyond the cycle (below ``min_lr``; negative
    with three_phase and linear annealing). So it is not stepped once its last rate is in force:
    batches ``total_steps``, ``total_steps + 1``, ... all use the cycle's final lr (``held``).
    """

    def __init__(self, spec: SchedulerSpec, scheduler: Any, kwargs: dict[str, Any]) -> None:
        self.spec = spec
        self.scheduler = scheduler
        self.kwargs = kwargs
        self.interval = spec.interval
        self.per_batch = self.interval == "batch"
        #: steps after which the lr is held (OneCycleLR's total_steps), else None
        self.end = spec.held_after(kwargs)

    @property
    def held(self) -> bool:
        """The cycle is over: the lr in force is its final one and stays (see the class doc)."""
        return self.end is not None and self.scheduler.last_epoch >= self.end - 1

    def _step(self, loss: float) -> None:
        if self.interval == "plateau":
            self.scheduler.step(loss)
        elif not self.held:
            self.scheduler.step()

    def after_batch(self) -> None:
        if self.per_batch:
            self._step(math.nan)

    def after_epoch(self, val_loss: float) -> None:
        if not self.per_batch:
            self._step(val_loss)

    def after_step(self, loss: float) -> None:
        """A surface race step (a batch and an epoch at once): step the scheduler once.

        ReduceLROnPlateau gets ``loss`` (the loss at the new point); OneCycleLR holds its final
        lr once its cycle is over, as in training.
        """
        self._step(loss)

    def follow_lr_change(self, old_lrs: Sequence[float]) -> None:
        """The user just changed each param group's lr from ``old_lrs``: scale the whole schedule
        by new / old, so it keeps its shape and timing and never undoes the change. A change made
        at lr 0 scales against the schedule's ``initial_lr`` (there is no old value to scale)."""
        for i, group in enumerate(self.scheduler.optimizer.param_groups):
            base = self._initial_lr(i) if old_lrs[i] <= 0 else old_lrs[i]
            if base > 0:
                self._rescale(i, float(group["lr"]) / base)

    def _initial_lr(self, group_index: int) -> float:
        group = self.scheduler.optimizer.param_groups[group_index]
        if "initial_lr" in group:
            return float(group["initial_lr"])
        return float(getattr(self.scheduler, "base_lrs", [math.nan])[group_index])

    def _rescale(self, group_index: int, ratio: float) -> None:
        # every value a torch scheduler computes lrs from (ReduceLROnPlateau's min_lrs floor stays)
        group = self.scheduler.optimizer.param_groups[group_index]
        for key in ("initial_lr", "max_lr", "min_lr"):
            if key in group:
                group[key] = group[key] * ratio
        todo = [self.scheduler]
        while todo:  # a composition: its parts too
            s = todo.pop()
            todo += getattr(s, "_schedulers", [])
            for attr in ("base_lrs", "max_lrs", "_last_lr"):
                values = getattr(s, attr, None)
                if isinstance(values, list) and group_index < len(values):
                    values[group_index] = values[group_index] * ratio
