"""The optimizer registry, optimizer SPECs, and the safe literal-call parser.

Why a registry: a UI builds its controls (sliders, check boxes, tooltips) from ``OPTIMIZERS``
alone, the race and the trainer build real ``torch.optim`` instances from it, and ``gdsim trace``
reports every effective hyperparameter from it. One entry per optimizer, no if-chains.

Defaults are never typed in here: each entry names the hyperparameters it exposes (with our valid
range, slider scale and a one-line meaning), and the default is read from the torch class's own
``__init__`` signature, so a torch upgrade cannot silently desynchronise them. A hyperparameter the
installed torch does not have is dropped (older torch), and a test fails when a new torch adds an
argument that is neither exposed here nor listed in ``LEFT_OUT``.

A SPEC is written the way it is in code -- ``Adam(lr=0.01, betas=(0.9, 0.99))``,
``sgd(lr=0.001, momentum=0.9, nesterov=True)``, or a bare ``adam`` -- and is parsed with
``ast.parse(mode="eval")`` for structure and ``ast.literal_eval`` on each argument: nothing a user
types is ever evaluated. Every problem raises ``GdsimError`` with one line naming it.

Public API::

    HParam, OptimizerInfo, OPTIMIZERS, optimizer_names(), get_optimizer(name),
    register_optimizer("pkg.mod:Class"), OptimizerSpec, parse_spec(text),
    validate_hparams(info, values), apply_hparams(optimizer, info, changes),
    parse_call(text, prefixes=()), MAX_SPEC_LENGTH, LEFT_OUT, FUSED_ON_CPU, fused_kwargs(cls, device)

Live changes (``apply_hparams``) write into every ``param_group`` and keep ``optimizer.state``, so
momentum buffers and Adam moments survive a learning-rate change. Where torch's state would be
inconsistent after a switch (turning on ``amsgrad`` or RMSprop's ``centered``/``momentum``, resizing
LBFGS's history, ASGD's pre-computed step size) the entry's ``on_change`` hook repairs it.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import importlib
import inspect
import math
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from core.errors import GdsimError, error_line

__all__ = [
    "FUSED_ON_CPU",
    "HParam",
    "LEFT_OUT",
    "MAX_SPEC_LENGTH",
    "OPTIMIZERS",
    "OptimizerInfo",
    "OptimizerSpec",
    "apply_hparams",
    "fused_kwargs",
    "get_optimizer",
    "optimizer_names",
    "parse_call",
    "parse_spec",
    "register_optimizer",
    "validate_hparams",
]

#: Longest SPEC text accepted; bounds the work ``ast.parse`` can be made to do.
MAX_SPEC_LENGTH = 2000

#: torch arguments deliberately not exposed: they change how the step is computed, not what it
#: computes (or, for ``maximize``, turn descent into ascent, which the race has no use for).
LEFT_OUT = frozenset({"foreach", "fused", "differentiable", "capturable", "maximize"})

#: torch classes gdsim steps with ``fused=True`` on the CPU: one kernel over every parameter
#: instead of a Python loop of small ops. Measured here (1 thread, moons MLPs 16-256 wide, batch
#: 32-128, CPU time per tutorial-loop step): Adam/AdamW 1.1-1.6x, Adagrad 1.2-1.3x, SGD 1.0-1.3x
#: faster. Same update; rounding may differ in the last bit (1e-7), so the exported script passes
#: the same flag. ``foreach`` was no faster for any optimizer (0.9-1.2x), so it is left alone.
FUSED_ON_CPU = frozenset(
    {torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW, torch.optim.Adagrad}
)

KINDS = ("float", "int", "bool", "pair", "choice")


# --------------------------------------------------------------------------------------------
# Hyperparameter descriptions
# --------------------------------------------------------------------------------------------


def _num(x: float) -> str:
    """A bound as a person writes it: 0, 1, 1e-08."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}"


@dataclass(frozen=True)
class HParam:
    """One hyperparameter: everything a UI needs to build its control and validate input.

    ``low``/``high`` are the valid range (``None`` = unbounded; inclusive unless the matching
    ``*_inclusive`` is False). For a pair they bound each element; ``elements`` then gives each
    element its own name, range and help when they differ (Rprop's etas). ``ui_range`` suggests
    finite slider bounds inside the valid range; ``slider_range()`` always returns finite ones
    (a log scale without ``ui_range``: ``LOG_SPAN`` decades either side of the default).
    ``optional`` means ``None`` is also accepted (torch then picks, e.g. LBFGS ``max_eval``).
    """

    name: str
    default: Any
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    help: str = ""
    choices: tuple = ()
    low_inclusive: bool = True
    high_inclusive: bool = True
    optional: bool = False
    elements: tuple[HParam, HParam] | None = None
    ui_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"HParam {self.name}: unknown kind {self.kind!r}")

    def range_text(self) -> str:
        """The valid range in words: '> 0', 'in [0, 1)', '>= 1', '' when unbounded."""
        lo, hi = self.low, self.high
        if lo is not None and hi is not None:
            left = "[" if self.low_inclusive else "("
            right = "]" if self.high_inclusive else ")"
            return f"in {left}{_num(lo)}, {_num(hi)}{right}"
        if lo is not None:
            return (">= " if self.low_inclusive else "> ") + _num(lo)
        if hi is not None:
            return ("<= " if self.high_inclusive else "< ") + _num(hi)
        return ""

    def in_range(self, x: float) -> bool:
        if self.low is not None and (x < self.low or (x == self.low and not self.low_inclusive)):
            return False
        if self.high is not None and (
            x > self.high or (x == self.high and not self.high_inclusive)
        ):
            return False
        return True

    def slider_range(self) -> tuple[float, float]:
        """Finite bounds for a slider (positive when ``log``); falls back to the valid range."""
        if self.ui_range is not None:
            return self.ui_range
        if self.log and isinstance(self.default, (int, float)) and self.default > 0:
            # a few decades around the default: each optimizer's lr slider spans its useful
            # range, so a short drag cannot take SGD's 0.001 to 57.8 (issue 15 item 9)
            d, span = float(self.default), 10.0**LOG_SPAN
            lo = d / span if self.low is None else max(d / span, float(self.low))
            hi = d * span if self.high is None else min(d * span, float(self.high))
            return lo, hi
        if self.elements is not None:
            lows, highs = zip(*(e.slider_range() for e in self.elements), strict=True)
            return min(lows), max(highs)
        lo = 0.0 if self.low is None else float(self.low)
        hi = lo + 1.0 if self.high is None else float(self.high)
        return lo, hi

    def check(self, value: Any, label: str | None = None) -> Any:
        """Validate one value; return it normalised (int -> float, list -> tuple)."""
        label = label or self.name
        if value is None:
            if self.optional or (self.kind == "choice" and None in self.choices):
                return None
            raise GdsimError(f"{label} must not be None")
        return _CHECKS[self.kind](self, value, label)


def _describe(value: Any) -> str:
    text = repr(value)
    if isinstance(value, (int, float)):
        return text  # whole: GdsimError shortens a long number itself, keeping its length
    if len(text) > 40:
        text = text[:37] + "..."
    return text


def _check_number(hp: HParam, value: Any, label: str, want_int: bool) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        noun = "an integer" if want_int else "a number"
        raise GdsimError(f"{label} must be {noun}, got {_describe(value)}")
    if want_int and not isinstance(value, int):
        raise GdsimError(f"{label} must be an integer, got {_describe(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise GdsimError(f"{label} must be a finite number, got {value!r}")
    try:
        number, overflow = (int(value) if want_int else float(value)), False
    except OverflowError:  # a whole number of 309+ digits is beyond every float
        number, overflow = value, True
    if not hp.in_range(number):
        raise GdsimError(f"{label} must be {hp.range_text()}, got {_describe(number)}")
    if overflow:
        raise GdsimError(f"{label} is too large, got {_describe(value)}")
    return number


def _check_float(hp: HParam, value: Any, label: str) -> float:
    return _check_number(hp, value, label, want_int=False)


def _check_int(hp: HParam, value: Any, label: str) -> int:
    return _check_number(hp, value, label, want_int=True)


def _check_bool(hp: HParam, value: Any, label: str) -> bool:
    if not isinstance(value, bool):
        raise GdsimError(f"{label} must be True or False, got {_describe(value)}")
    return value


def _check_pair(hp: HParam, value: Any, label: str) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        example = "(" + ", ".join(repr(d) for d in hp.default) + ")"
        raise GdsimError(f"{label} must be a pair like {example}, got {_describe(value)}")
    elements = (
        hp.elements or (dataclasses.replace(hp, kind="float", elements=None, optional=False),) * 2
    )
    return tuple(
        el.check(v, f"{label}[{i}]") for i, (el, v) in enumerate(zip(elements, value, strict=True))
    )


def _check_choice(hp: HParam, value: Any, label: str) -> Any:
    for choice in hp.choices:
        if type(choice) is type(value) and choice == value:
            return choice
    options = ", ".join(repr(c) for c in hp.choices)
    raise GdsimError(f"{label} must be one of {options}, got {_describe(value)}")


_CHECKS: dict[str, Callable[[HParam, Any, str], Any]] = {
    "float": _check_float,
    "int": _check_int,
    "bool": _check_bool,
    "pair": _check_pair,
    "choice": _check_choice,
}


# --------------------------------------------------------------------------------------------
# Optimizer descriptions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptimizerInfo:
    """One optimizer: its torch class, its hyperparameters (lr first) and how it behaves.

    ``elementwise``: the update of each parameter element depends only on that element's own
    gradient and state, so a swarm of points can be stepped as one ``(N, 2)`` tensor with results
    identical to stepping each point alone. ``needs_closure``: ``step()`` needs a closure (LBFGS).
    ``check`` runs cross-field rules on a full set of values; ``on_change`` repairs optimizer state
    after a live change (see ``apply_hparams``). ``import_path`` is set for registered classes.
    """

    name: str
    cls: type[torch.optim.Optimizer]
    hparams: tuple[HParam, ...]
    description: str
    elementwise: bool
    needs_closure: bool = False
    check: Callable[[dict[str, Any]], None] | None = field(default=None, compare=False)
    on_change: Callable[[torch.optim.Optimizer, dict[str, Any], dict[str, Any]], None] | None = (
        field(default=None, compare=False)
    )
    import_path: str | None = None

    def hparam(self, name: str) -> HParam:
        """The named hyperparameter; GdsimError naming the ones that exist if unknown."""
        for hp in self.hparams:
            if hp.name == name:
                return hp
        names = [hp.name for hp in self.hparams]
        if name in LEFT_OUT:
            raise GdsimError(
                f"{name!r} is not a hyperparameter of {self.name}: gdsim sets it itself"
            )
        close = _closest(name, names)
        hint = f" (did you mean {close}?)" if close else ""
        has = f"it has {', '.join(names)}" if names else "it has none"
        raise GdsimError(f"{self.name} has no hyperparameter {name!r}{hint}; {has}")

    def defaults(self) -> dict[str, Any]:
        return {hp.name: hp.default for hp in self.hparams}


_NO_DEFAULT = object()


def _edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: a swapped pair of letters ('adma') counts as one."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _closest(word: str, candidates: list[str]) -> str | None:
    """The likeliest intended candidate: fewest typos (case-insensitive), else difflib's pick."""
    if not candidates or len(word) > 100:
        return None
    lowered = word.lower()
    best = min(candidates, key=lambda c: _edit_distance(lowered, c.lower()))
    if _edit_distance(lowered, best.lower()) <= max(1, len(word) // 4):
        return best
    close = difflib.get_close_matches(lowered, [c.lower() for c in candidates], n=1, cutoff=0.7)
    return next((c for c in candidates if close and c.lower() == close[0]), None)


def _torch_defaults(cls: type) -> dict[str, Any]:
    """Default of every keyword argument of ``cls.__init__`` (``_NO_DEFAULT`` if required)."""
    out = {}
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name in ("self", "params") or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        out[p.name] = _NO_DEFAULT if p.default is inspect.Parameter.empty else p.default
    return out


def _coerce_default(hp: HParam, value: Any) -> Any:
    """Torch writes ``momentum: float = 0``; a UI wants 0.0. Equal values, our kind's type."""
    if value is None:
        return None
    if hp.kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hp.kind == "pair" and isinstance(value, (tuple, list)):
        return tuple(None if v is None else float(v) for v in value)
    return value


def _make_info(
    cls_name: str,
    description: str,
    hparams: Iterable[HParam],
    *,
    elementwise: bool,
    needs_closure: bool = False,
    check: Callable[[dict[str, Any]], None] | None = None,
    on_change: Callable[..., None] | None = None,
) -> OptimizerInfo | None:
    """Fill each HParam's default from the torch signature; None if torch lacks the class."""
    cls = getattr(torch.optim, cls_name, None)
    if cls is None:
        return None
    sig = _torch_defaults(cls)
    filled = []
    for hp in hparams:
        if hp.name not in sig:
            continue  # this torch version does not have it
        default = sig[hp.name]
        if default is _NO_DEFAULT:
            default = hp.default  # our fallback (SGD's lr was required in old torch)
        filled.append(dataclasses.replace(hp, default=_coerce_default(hp, default)))
    return OptimizerInfo(
        name=cls_name,
        cls=cls,
        hparams=tuple(filled),
        description=description,
        elementwise=elementwise,
        needs_closure=needs_closure,
        check=check,
        on_change=on_change,
    )


LOG_SPAN = 2  # decades either side of the default on a log slider without a ui_range


def _fraction(name: str, default: Any, ui_high: float, *, kind: str = "float", **more) -> HParam:
    """A decay rate or carried fraction: valid in [0, 1), where 1 would never forget."""
    return HParam(
        name,
        default,
        kind,
        low=0.0,
        high=1.0,
        high_inclusive=False,
        ui_range=(0.0, ui_high),
        **more,
    )


# Shared templates; entries override help/range with dataclasses.replace where they differ.
_LR = HParam(
    "lr",
    1e-3,
    "float",
    low=0.0,
    low_inclusive=False,
    log=True,  # slider: LOG_SPAN decades around each optimizer's own default
    help="Step size: how far each update moves; too large overshoots or diverges, too small crawls.",
)
_WD = HParam(
    "weight_decay",
    0.0,
    "float",
    low=0.0,
    ui_range=(0.0, 1.0),
    help="L2 penalty: adds weight_decay*theta to the gradient, pulling parameters toward 0.",
)
_EPS = HParam(
    "eps",
    1e-8,
    "float",
    low=0.0,
    low_inclusive=False,
    log=True,
    ui_range=(1e-12, 1.0),
    help="Added to the denominator so it is never ~0; larger values make steps more SGD-like.",
)
_BETA1 = _fraction(
    "beta1",
    0.9,
    0.999,
    help="Decay of the gradient average (momentum): higher = smoother, slower to turn.",
)
_BETA2 = _fraction(
    "beta2",
    0.999,
    0.9999,
    help="Decay of the squared-gradient average: higher = longer memory of the gradient's scale.",
)
_BETAS = _fraction(
    "betas",
    (0.9, 0.999),
    0.9999,
    kind="pair",
    elements=(_BETA1, _BETA2),
    help="(beta1, beta2): decay rates of the running averages of the gradient and its square.",
)
_MOMENTUM = _fraction(
    "momentum",
    0.0,
    0.999,
    help="Fraction of the previous update carried into the next: speeds up along consistent "
    "directions, damps zig-zags.",
)
_AMSGRAD = HParam(
    "amsgrad",
    False,
    "bool",
    help="AMSGrad: divide by the running maximum of the squared-gradient average, so the "
    "effective step size never grows back.",
)
_DECOUPLED = HParam(
    "decoupled_weight_decay",
    False,
    "bool",
    help="Shrink theta by lr*weight_decay directly (AdamW-style) instead of adding the decay to "
    "the gradient.",
)
_DECAY_RATE = _fraction("rho", 0.9, 0.999, help="Decay rate of a running average.")

_COMMON: dict[str, HParam] = {
    hp.name: hp for hp in (_LR, _WD, _EPS, _BETAS, _MOMENTUM, _AMSGRAD, _DECOUPLED)
}
_COMMON["nesterov"] = HParam(
    "nesterov",
    False,
    "bool",
    help="Nesterov momentum: take the gradient step from where momentum is about to land; needs "
    "momentum > 0 and dampening 0.",
)


def _replace(hp: HParam, **changes: Any) -> HParam:
    return dataclasses.replace(hp, **changes)


def _check_sgd(values: dict[str, Any]) -> None:
    if values.get("nesterov") and (values["momentum"] <= 0 or values["dampening"] != 0):
        raise GdsimError(
            "nesterov=True needs momentum > 0 and dampening = 0, got "
            f"momentum={values['momentum']!r}, dampening={values['dampening']!r}"
        )


def _check_rprop(values: dict[str, Any]) -> None:
    lo, hi = values["step_sizes"]
    if lo > hi:
        raise GdsimError(
            f"step_sizes[0] (the minimum) must be <= step_sizes[1] (the maximum), got ({lo!r}, "
            f"{hi!r})"
        )


def _fill_missing_state(
    optimizer: torch.optim.Optimizer, key: str, wanted: Callable[[dict], bool]
) -> None:
    """Give every already-stepped parameter a zero ``key`` buffer if its group now needs one.

    torch creates such buffers only on a parameter's first step, and raises KeyError later when
    a switch (amsgrad, centered, momentum) is turned on mid-run. Zeros make the next step behave
    as if the feature had just started, which is what a live switch means.
    """
    for group in optimizer.param_groups:
        if not wanted(group):
            continue
        for p in group["params"]:
            state = optimizer.state.get(p)
            if state and key not in state:
                state[key] = torch.zeros_like(p, memory_format=torch.preserve_format)


def _adam_on_change(optimizer: torch.optim.Optimizer, changes: dict, before: dict) -> None:
    if changes.get("amsgrad"):
        _fill_missing_state(optimizer, "max_exp_avg_sq", lambda g: g["amsgrad"])


def _rmsprop_on_change(optimizer: torch.optim.Optimizer, changes: dict, before: dict) -> None:
    _fill_missing_state(optimizer, "grad_avg", lambda g: g["centered"])
    _fill_missing_state(optimizer, "momentum_buffer", lambda g: g["momentum"] > 0)


def _asgd_on_change(optimizer: torch.optim.Optimizer, changes: dict, before: dict) -> None:
    """ASGD computes the next step's eta and mu at the end of each step; recompute them from the
    new values so a live change takes effect on the very next step, not one step late."""
    if not {"lr", "lambd", "alpha", "t0"} & changes.keys():
        return
    for group in optimizer.param_groups:
        lr = float(group["lr"])
        for p in group["params"]:
            state = optimizer.state.get(p)
            if not state or "eta" not in state:
                continue
            step = float(state["step"])
            try:
                eta = lr / ((1 + group["lambd"] * lr * step) ** group["alpha"])
            except OverflowError:  # the denominator is beyond any float: the step size is 0
                eta = 0.0
            # eta lives in a float32 scalar tensor: hold what it can (lr=1e300 then diverges on
            # the next step, as a divergence, instead of failing here)
            top = torch.finfo(state["eta"].dtype).max
            state["eta"].fill_(max(-top, min(top, eta)))
            state["mu"].fill_(1 / max(1.0, step - group["t0"]))


def _lbfgs_on_change(optimizer: torch.optim.Optimizer, changes: dict, before: dict) -> None:
    """Keep LBFGS consistent: torch resolves ``max_eval=None`` only in ``__init__``, trims its
    history only by one entry per step, and sizes its scratch list ``al`` once."""
    for group in optimizer.param_groups:
        auto = before.get("max_iter", group["max_iter"]) * 5 // 4
        if group["max_eval"] is None or (
            "max_iter" in changes and "max_eval" not in changes and before.get("max_eval") == auto
        ):
            group["max_eval"] = group["max_iter"] * 5 // 4
    if "history_size" in changes:
        n = changes["history_size"]
        for state in optimizer.state.values():
            for key in ("old_dirs", "old_stps", "ro"):
                if key in state and len(state[key]) > n:
                    del state[key][:-n]
            if "al" in state:
                state["al"] = [None] * n


_BUILTIN: list[OptimizerInfo | None] = [
    _make_info(
        "SGD",
        "Gradient descent, optionally with heavy-ball or Nesterov momentum (Robbins & Monro 1951; "
        "Polyak 1964; Sutskever et al. 2013).",
        [
            # SGD's step scales with the gradient itself: lectures use 0.001 up to ~1 (the
            # too-high-lr preset runs 1.1), so its slider reaches higher than 0.001 * 100
            _replace(_LR, ui_range=(1e-4, 10.0)),
            _MOMENTUM,
            HParam(
                "dampening",
                0.0,
                "float",
                low=0.0,
                high=1.0,
                ui_range=(0.0, 1.0),
                help="Fraction of each new gradient held back from the momentum buffer "
                "(0 = the whole gradient goes in).",
            ),
            _WD,
            _COMMON["nesterov"],
        ],
        elementwise=True,
        check=_check_sgd,
    ),
    _make_info(
        "Adam",
        "Momentum plus a per-coordinate step size from the running RMS of gradients, "
        "bias-corrected (Kingma & Ba 2015).",
        [_LR, _BETAS, _EPS, _WD, _AMSGRAD, _DECOUPLED],
        elementwise=True,
        on_change=_adam_on_change,
    ),
    _make_info(
        "AdamW",
        "Adam with weight decay applied directly to the parameters instead of through the "
        "gradient (Loshchilov & Hutter 2019).",
        [
            _LR,
            _BETAS,
            _EPS,
            _replace(
                _WD,
                help="Decoupled decay: shrinks theta by lr*weight_decay each step, apart from the "
                "adaptive gradient step.",
            ),
            _AMSGRAD,
        ],
        elementwise=True,
        on_change=_adam_on_change,
    ),
    _make_info(
        "RMSprop",
        "Divides each coordinate's step by the running RMS of its gradients (Hinton 2012).",
        [
            _LR,
            _replace(
                _DECAY_RATE,
                name="alpha",
                help="Decay of the squared-gradient average: higher = longer memory of the "
                "gradient's scale.",
            ),
            _EPS,
            _WD,
            _replace(_MOMENTUM, help="Momentum on the normalised step (0 = none)."),
            HParam(
                "centered",
                False,
                "bool",
                help="Divide by the gradient's running standard deviation (mean subtracted) "
                "instead of its raw RMS.",
            ),
        ],
        elementwise=True,
        on_change=_rmsprop_on_change,
    ),
    _make_info(
        "Adagrad",
        "Per-coordinate step size divided by the root of the sum of all past squared gradients, "
        "so steps only shrink (Duchi et al. 2011).",
        [
            _LR,
            HParam(
                "lr_decay",
                0.0,
                "float",
                low=0.0,
                ui_range=(0.0, 1.0),
                help="Shrinks the step size over time as lr / (1 + (t-1)*lr_decay).",
            ),
            _WD,
            HParam(
                "initial_accumulator_value",
                0.0,
                "float",
                low=0.0,
                ui_range=(0.0, 10.0),
                help="Starting value of the sum of squared gradients: larger = smaller, gentler "
                "first steps.",
            ),
            _replace(_EPS, ui_range=(1e-14, 1.0)),
        ],
        elementwise=True,
    ),
    _make_info(
        "Adadelta",
        "Step size from the ratio of running RMS of past updates to running RMS of gradients, "
        "units-consistent and almost tuning-free (Zeiler 2012).",
        [
            _replace(
                _LR, help="Multiplies Adadelta's self-scaled step; 1.0 is the original algorithm."
            ),
            _replace(
                _DECAY_RATE,
                help="Decay of the running averages of squared gradients and squared updates.",
            ),
            _replace(
                _EPS,
                help="Added inside both square roots; it also sets the size of the very first "
                "steps.",
            ),
            _WD,
        ],
        elementwise=True,
    ),
    _make_info(
        "Adamax",
        "Adam with the infinity norm: divides by a decaying running maximum of |gradient| "
        "(Kingma & Ba 2015).",
        [
            _LR,
            _replace(
                _BETAS,
                elements=(
                    _BETA1,
                    _replace(
                        _BETA2,
                        help="Decay of the running maximum of |gradient|: higher = longer memory.",
                    ),
                ),
            ),
            _EPS,
            _WD,
        ],
        elementwise=True,
    ),
    _make_info(
        "NAdam",
        "Adam with Nesterov momentum and a warming-up momentum schedule (Dozat 2016).",
        [
            _LR,
            _BETAS,
            _EPS,
            _WD,
            HParam(
                "momentum_decay",
                4e-3,
                "float",
                low=0.0,
                log=True,
                ui_range=(1e-5, 1.0),
                help="psi in mu_t = beta1*(1 - 0.5*0.96^(t*psi)): larger ramps momentum up to "
                "beta1 faster.",
            ),
            _DECOUPLED,
        ],
        elementwise=True,
    ),
    _make_info(
        "RAdam",
        "Adam that takes plain momentum steps until the variance estimate is reliable, then "
        "rectified adaptive steps (Liu et al. 2020).",
        [_LR, _BETAS, _EPS, _WD, _DECOUPLED],
        elementwise=True,
    ),
    _make_info(
        "Rprop",
        "Uses only the sign of each gradient coordinate; each coordinate's step grows while the "
        "sign holds and shrinks when it flips (Riedmiller & Braun 1993).",
        [
            _replace(
                _LR,
                help="Initial step size of every coordinate; Rprop then grows or shrinks it.",
            ),
            HParam(
                "etas",
                (0.5, 1.2),
                "pair",
                low=0.0,
                low_inclusive=False,
                ui_range=(0.01, 5.0),
                elements=(
                    HParam(
                        "eta_minus",
                        0.5,
                        "float",
                        low=0.0,
                        high=1.0,
                        low_inclusive=False,
                        high_inclusive=False,
                        ui_range=(0.01, 0.99),
                        help="Factor a coordinate's step shrinks by when its gradient flips sign.",
                    ),
                    HParam(
                        "eta_plus",
                        1.2,
                        "float",
                        low=1.0,
                        low_inclusive=False,
                        ui_range=(1.01, 5.0),
                        help="Factor a coordinate's step grows by while its gradient keeps its "
                        "sign.",
                    ),
                ),
                help="(eta_minus, eta_plus): shrink factor on a sign flip, growth factor while "
                "the sign holds.",
            ),
            HParam(
                "step_sizes",
                (1e-6, 50.0),
                "pair",
                low=0.0,
                low_inclusive=False,
                log=True,
                ui_range=(1e-9, 100.0),
                elements=(
                    HParam(
                        "step_min",
                        1e-6,
                        "float",
                        low=0.0,
                        low_inclusive=False,
                        log=True,
                        ui_range=(1e-9, 1.0),
                        help="Smallest step size a coordinate can shrink to.",
                    ),
                    HParam(
                        "step_max",
                        50.0,
                        "float",
                        low=0.0,
                        low_inclusive=False,
                        log=True,
                        ui_range=(1e-3, 100.0),
                        help="Largest step size a coordinate can grow to.",
                    ),
                ),
                help="(min, max) bounds on each coordinate's step size.",
            ),
        ],
        elementwise=True,
        check=_check_rprop,
    ),
    _make_info(
        "ASGD",
        "Gradient descent with a decaying step size that also keeps a running (Polyak) average of "
        "the iterates (Polyak & Juditsky 1992; Bottou 2012).",
        [
            _replace(
                _LR, help="Initial step size eta0; it decays as eta0 / (1 + lambd*eta0*t)^alpha."
            ),
            HParam(
                "lambd",
                1e-4,
                "float",
                low=0.0,
                log=True,
                ui_range=(1e-8, 1.0),
                help="Decay term: shrinks theta by lambd*eta each step and sets how fast the step "
                "size decays.",
            ),
            HParam(
                "alpha",
                0.75,
                "float",
                low=0.0,
                ui_range=(0.0, 2.0),
                help="Exponent of the step-size decay eta = lr / (1 + lambd*lr*t)^alpha.",
            ),
            HParam(
                "t0",
                1e6,
                "float",
                low=0.0,
                log=True,
                ui_range=(1.0, 1e8),
                help="Step after which averaging starts (the average is kept in the state 'ax', "
                "not applied to theta).",
            ),
            _WD,
        ],
        elementwise=True,
        on_change=_asgd_on_change,
    ),
    _make_info(
        "LBFGS",
        "Quasi-Newton: approximates the inverse Hessian from the last few steps and gradient "
        "changes (Liu & Nocedal 1989).",
        [
            _replace(
                _LR,
                help="Step length along the quasi-Newton direction (the first trial step when a "
                "line search is used).",
            ),
            HParam(
                "max_iter",
                20,
                "int",
                low=1,
                high=1000,  # each iteration is a forward + backward: bounds one step's cost
                ui_range=(1, 100),
                help="Quasi-Newton iterations per optimizer step (1 = one iteration per step).",
            ),
            HParam(
                "max_eval",
                None,
                "int",
                low=1,
                high=1250,
                optional=True,
                ui_range=(1, 200),
                help="Most function evaluations per optimizer step (None = max_iter * 5 // 4).",
            ),
            HParam(
                "tolerance_grad",
                1e-7,
                "float",
                low=0.0,
                log=True,
                ui_range=(1e-12, 1.0),
                help="A step ends early once every gradient component is below this.",
            ),
            HParam(
                "tolerance_change",
                1e-9,
                "float",
                low=0.0,
                log=True,
                ui_range=(1e-14, 1.0),
                help="A step ends early once the loss or parameter change is below this.",
            ),
            HParam(
                "history_size",
                100,
                "int",
                low=1,
                high=1000,  # memory: two vectors per entry, and the two-loop recursion's time
                ui_range=(1, 200),
                help="How many recent (step, gradient change) pairs shape the curvature estimate.",
            ),
            HParam(
                "line_search_fn",
                None,
                "choice",
                choices=(None, "strong_wolfe"),
                help="None: fixed steps of size lr; 'strong_wolfe': search along the direction "
                "for a step meeting the Wolfe conditions.",
            ),
        ],
        elementwise=False,
        needs_closure=True,
        on_change=_lbfgs_on_change,
    ),
    _make_info(
        "Adafactor",
        "Memory-light Adam relative: relative step sizes scaled by the parameters' RMS, with "
        "update clipping (Shazeer & Stern 2018).",
        [
            _replace(
                _LR,
                help="Cap on the relative step size rho_t = min(lr, 1/sqrt(t)); also scales "
                "weight decay.",
            ),
            HParam(
                "beta2_decay",
                -0.8,
                "float",
                high=0.0,
                ui_range=(-2.0, 0.0),
                help="tau in beta2_t = 1 - t^tau: how fast the squared-gradient average's memory "
                "lengthens.",
            ),
            HParam(
                "eps",
                (None, 1e-3),
                "pair",
                low=0.0,
                log=True,
                ui_range=(1e-30, 1.0),
                elements=(
                    HParam(
                        "eps1",
                        None,
                        "float",
                        low=0.0,
                        log=True,
                        optional=True,
                        ui_range=(1e-30, 1e-3),
                        help="Floor of the RMS in the denominator (None = machine epsilon).",
                    ),
                    HParam(
                        "eps2",
                        1e-3,
                        "float",
                        low=0.0,
                        log=True,
                        ui_range=(1e-8, 1.0),
                        help="Floor of the parameter scale, so parameters near 0 still move.",
                    ),
                ),
                help="(eps1, eps2): floors of the gradient RMS and of the parameter scale.",
            ),
            HParam(
                "d",
                1.0,
                "float",
                low=1.0,
                ui_range=(1.0, 10.0),
                help="Clipping threshold: an update whose RMS exceeds d is scaled down to RMS d.",
            ),
            _replace(
                _WD, help="Shrinks theta by lr*weight_decay each step (decoupled weight decay)."
            ),
        ],
        elementwise=False,
    ),
]

#: The registry: lower-case name -> OptimizerInfo, in display order.
OPTIMIZERS: dict[str, OptimizerInfo] = {
    info.name.lower(): info for info in _BUILTIN if info is not None
}

#: torch.optim classes deliberately not offered, and why (used in "unknown optimizer" messages).
_NOT_OFFERED = {
    "sparseadam": "SparseAdam only works with sparse gradients",
    "muon": "Muon only optimizes 2-D weight matrices",
    "optimizer": "Optimizer is the abstract base class",
}


def optimizer_names() -> list[str]:
    """Canonical names in display order (registered optimizers last)."""
    return [info.name for info in OPTIMIZERS.values()]


def get_optimizer(name: str) -> OptimizerInfo:
    """Look an optimizer up by name, case-insensitively."""
    if not isinstance(name, str):
        raise GdsimError(f"an optimizer name must be text, got {_describe(name)}")
    key = name.strip().lower()
    info = OPTIMIZERS.get(key)
    if info is not None:
        return info
    known = ", ".join(optimizer_names())
    if key in _NOT_OFFERED:
        raise GdsimError(f"{_NOT_OFFERED[key]}, so gdsim does not offer it; known: {known}")
    close = _closest(key, list(OPTIMIZERS))
    if close:
        raise GdsimError(
            f"unknown optimizer {name.strip()!r}; did you mean {OPTIMIZERS[close].name}?"
        )
    raise GdsimError(f"unknown optimizer {name.strip()!r}; known: {known}")


# --------------------------------------------------------------------------------------------
# Validation and live changes
# --------------------------------------------------------------------------------------------


def _validate(info: OptimizerInfo, values: dict[str, Any], base: dict[str, Any]) -> dict:
    if not isinstance(values, dict):
        raise TypeError(f"hyperparameters must be a dict, got {type(values).__name__}")
    out = {}
    for name, value in values.items():
        out[name] = info.hparam(str(name)).check(value)
    if info.check is not None:
        info.check({**base, **out})
    return out


def validate_hparams(info: OptimizerInfo, values: dict[str, Any]) -> dict[str, Any]:
    """Check ``values`` (a subset of ``info``'s hyperparameters, defaults filling the rest).

    Returns them normalised (ints as floats where floats are meant, lists as tuples). Raises
    GdsimError naming the first problem: unknown name, wrong type, out of range, or a cross-field
    rule (SGD's nesterov needs momentum > 0 and dampening 0) -- before torch would raise.
    """
    return _validate(info, values, info.defaults())


def _plain(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, list):
        return tuple(value)
    return value


def apply_hparams(
    optimizer: torch.optim.Optimizer, info: OptimizerInfo, changes: dict[str, Any]
) -> None:
    """Validate ``changes`` and write them into every param_group, keeping ``optimizer.state``.

    Cross-field rules are checked against the group's current values, so ``nesterov=True`` is
    refused on a group whose momentum is 0. Momentum buffers and Adam moments are kept, so a live
    learning-rate change continues the same run; the entry's ``on_change`` hook repairs state
    torch would otherwise trip over (see the module docstring).
    """
    if not isinstance(optimizer, info.cls):
        raise TypeError(f"{type(optimizer).__name__} is not a {info.name}")
    if not optimizer.param_groups:
        return
    names = [hp.name for hp in info.hparams]
    groups = optimizer.param_groups
    before = {n: _plain(groups[0][n]) for n in names if n in groups[0]}
    checked = _validate(info, changes, {**info.defaults(), **before})
    for group in groups:
        if group is not groups[0] and info.check is not None:
            current = {n: _plain(group[n]) for n in names if n in group}
            info.check({**info.defaults(), **current, **checked})
    for group in groups:
        for name, value in checked.items():
            old = group.get(name)
            if isinstance(old, torch.Tensor) and old.numel() == 1 and value is not None:
                old.fill_(value)  # a tensor lr (capturable/fused setups) stays a tensor
            else:
                group[name] = value
    if info.on_change is not None:
        info.on_change(optimizer, checked, before)


# --------------------------------------------------------------------------------------------
# SPECs
# --------------------------------------------------------------------------------------------


def fused_kwargs(cls: type, device: torch.device | str) -> dict[str, bool]:
    """``{"fused": True}`` for a class in ``FUSED_ON_CPU`` on the CPU, else ``{}`` (torch's own
    default: the per-parameter loop on the CPU, ``foreach`` on CUDA). Exact classes only: a
    registered subclass may not take the flag."""
    return {"fused": True} if cls in FUSED_ON_CPU and torch.device(device).type == "cpu" else {}


def _format_value(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_format_value(v) for v in value) + ")"
    return repr(value)


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer and the hyperparameters a user chose, validated on construction.

    ``kwargs`` holds only the values that differ from the defaults (a value equal to its default
    is dropped), in registry order; so two specs that build the same optimizer compare equal and
    ``parse_spec(str(spec)) == spec``.
    """

    info: OptimizerInfo
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checked = validate_hparams(self.info, dict(self.kwargs))
        kept = {
            hp.name: checked[hp.name]
            for hp in self.info.hparams
            if hp.name in checked and not _same(checked[hp.name], hp.default)
        }
        object.__setattr__(self, "kwargs", kept)

    def __hash__(self) -> int:
        return hash((self.info.name, tuple(self.kwargs.items())))

    @property
    def name(self) -> str:
        return self.info.name

    def hparams(self) -> dict[str, Any]:
        """Every effective hyperparameter, defaults merged, as plain Python values."""
        return {hp.name: self.kwargs.get(hp.name, hp.default) for hp in self.info.hparams}

    def build(self, params: Any, **torch_kwargs: Any) -> torch.optim.Optimizer:
        """The real torch optimizer. ``torch_kwargs`` passes implementation switches the engine
        chooses (e.g. ``foreach=False``); they are not hyperparameters and are not validated."""
        return self.info.cls(params, **self.hparams(), **torch_kwargs)

    def with_changes(self, **changes: Any) -> OptimizerSpec:
        return OptimizerSpec(self.info, {**self.kwargs, **changes})

    def __str__(self) -> str:
        args = ", ".join(f"{k}={_format_value(v)}" for k, v in self.kwargs.items())
        return f"{self.info.name}({args})"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def parse_spec(text: str) -> OptimizerSpec:
    """Parse ``Adam(lr=0.01, betas=(0.9, 0.99))``, ``sgd(momentum=0.9)`` or ``adam``.

    Class names are case-insensitive; ``torch.optim.`` / ``optim.`` prefixes are accepted.
    """
    name, kwargs = parse_call(text, prefixes=("torch.optim", "optim"), example="Adam(lr=0.01)")
    return OptimizerSpec(get_optimizer(name), kwargs)


# --------------------------------------------------------------------------------------------
# The safe literal-call parser
# --------------------------------------------------------------------------------------------


class _Source:
    """Turns AST byte offsets into 1-based character columns of the original text."""

    def __init__(self, text: str, shift: int) -> None:
        self.lines = text.splitlines() or [""]
        self.shift = shift
        self.multiline = len(self.lines) > 1

    def where(self, node: ast.AST) -> str:
        line = getattr(node, "lineno", 1)
        col_bytes = getattr(node, "col_offset", 0)
        src = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        col = len(src.encode("utf-8")[:col_bytes].decode("utf-8", "replace")) + 1
        return self.position(line, col)

    def position(self, line: int, col: int) -> str:
        if line == 1:
            col += self.shift
        return f"line {line}, column {col}" if self.multiline else f"column {col}"


_LITERAL_HINTS = {
    "true": "True",
    "false": "False",
    "none": "None",
    "null": "None",
    "nan": None,
    "inf": None,
    "infinity": None,
}


def _not_literal(node: ast.AST) -> str:
    """Why an argument node is not a plain literal, in words."""
    if isinstance(node, ast.Call):
        return "nested calls are not allowed"
    if isinstance(node, ast.Name):
        hint = _LITERAL_HINTS.get(node.id.lower(), "")
        if node.id.lower() in ("nan", "inf", "infinity"):
            return f"{node.id!r} is not allowed; values must be finite numbers"
        if hint:
            return f"{node.id!r} is not a value; did you mean {hint}?"
        return f"{node.id!r} is not a value; write a number, True/False/None or a quoted string"
    if isinstance(node, ast.Attribute):
        return "names are not values; write a number, True/False/None or a quoted string"
    if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare)):
        return "expressions are not allowed; write the value itself (e.g. 0.001, not 1/1000)"
    return "only plain values are allowed (numbers, True/False/None, strings, tuples)"


def _check_literal(value: Any, where: str, name: str) -> None:
    if isinstance(value, (tuple, list)):
        for v in value:
            _check_literal(v, where, name)
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise GdsimError(f"{name} at {where}: {value!r} is not allowed; values must be finite")
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    raise GdsimError(
        f"{name} at {where}: {type(value).__name__} values are not allowed "
        "(use numbers, True/False/None, strings, tuples)"
    )


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def parse_call(
    text: str, prefixes: Iterable[str] = (), example: str = "Name(arg=value)"
) -> tuple[str, dict[str, Any]]:
    """Parse ``Name`` or ``Name(key=literal, ...)`` safely; return (name, kwargs).

    Shared with scheduler specs (``StepLR(step_size=10, gamma=0.5)``). Arguments are Python
    literals -- numbers, True/False/None, strings, tuples/lists of these -- read with
    ``ast.literal_eval``; nothing is evaluated. ``prefixes`` lists dotted module prefixes to
    accept and drop (``("torch.optim", "optim")`` for optimizers); ``example`` is quoted in
    messages. Refused, with a GdsimError
    naming the problem and its column: text over ``MAX_SPEC_LENGTH``, syntax errors, positional
    arguments, ``*args``/``**kw``, repeated keywords, other dotted names, nested calls,
    expressions, and non-finite numbers.
    """
    if not isinstance(text, str):
        raise GdsimError(f"expected text like {example}, got {_describe(text)}")
    if len(text) > MAX_SPEC_LENGTH:
        raise GdsimError(f"spec is too long ({len(text)} characters; at most {MAX_SPEC_LENGTH})")
    stripped = text.lstrip()
    if not stripped.strip():
        raise GdsimError(f"empty spec; write a name or a call like {example}")
    src = _Source(stripped, len(text) - len(stripped))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. invalid escape sequences in a string
            tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        line, col = exc.lineno or 1, exc.offset or 1
        raise GdsimError(f"syntax error at {src.position(line, col)}: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise GdsimError(f"cannot parse spec: {error_line(exc)}") from None
    body = tree.body
    call = body if isinstance(body, ast.Call) else None
    func = call.func if call is not None else body
    inner = next((n for n in ast.walk(func) if isinstance(n, ast.Call)), None)
    if inner is not None:
        raise GdsimError(f"nested calls are not allowed ({src.where(inner)})")
    dotted = _dotted(func)
    if dotted is None:
        raise GdsimError(f"expected a name or a call like {example} ({src.where(func)})")
    name = dotted
    if "." in dotted:
        module, _, name = dotted.rpartition(".")
        if module not in tuple(prefixes):
            raise GdsimError(
                f"{dotted!r} is not allowed; write the bare name {name!r} ({src.where(func)})"
            )
    kwargs: dict[str, Any] = {}
    if call is None:
        return name, kwargs
    for arg in call.args:
        if isinstance(arg, ast.Starred):
            raise GdsimError(f"*-unpacking is not allowed ({src.where(arg)})")
        raise GdsimError(
            f"positional argument at {src.where(arg)} is not allowed; write it as name=value"
        )
    for kw in call.keywords:
        if kw.arg is None:
            raise GdsimError(f"**-unpacking is not allowed ({src.where(kw)})")
        if kw.arg in kwargs:
            raise GdsimError(f"{kw.arg} is given twice ({src.where(kw)})")
        where = src.where(kw.value)
        try:
            value = ast.literal_eval(kw.value)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            raise GdsimError(f"{kw.arg} at {where}: {_not_literal(kw.value)}") from None
        _check_literal(value, where, kw.arg)
        kwargs[kw.arg] = value
    return name, kwargs


# --------------------------------------------------------------------------------------------
# Optimizers added by import path
# --------------------------------------------------------------------------------------------

_IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _doc_help(cls: type, name: str) -> str:
    """First sentence of ``name (...): text`` in the class docstring's Args, if any."""
    doc = inspect.getdoc(cls) or ""
    m = re.search(rf"^\s*{re.escape(name)}\s*(\([^)]*\))?\s*:\s*(.+)$", doc, re.MULTILINE)
    if not m:
        return ""
    text = m.group(2).strip()
    return text.split(". ")[0].rstrip(".")[:150]


def _derive_hparam(cls: type, name: str, default: Any) -> HParam | None:
    """An HParam for a custom optimizer's argument, or None if its kind is not one we offer."""
    if isinstance(default, bool):
        kind = "bool"
    elif isinstance(default, int):
        kind = "int"
    elif isinstance(default, float):
        kind = "float" if math.isfinite(default) else ""
    elif (
        isinstance(default, (tuple, list))
        and len(default) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in default)
        and all(math.isfinite(v) for v in default)
    ):
        kind = "pair"
    else:
        kind = ""
    if not kind:
        return None
    common = _COMMON.get(name)
    candidate = None
    if common is not None and (common.kind == kind or (common.kind == "float" and kind == "int")):
        candidate = _replace(common, default=_coerce_default(common, default))
        try:
            candidate.check(candidate.default)
        except GdsimError:
            candidate = None  # this class's default is outside our usual range: don't guess
    if candidate is None:
        helptext = _doc_help(cls, name) or f"{name} of {cls.__name__}"
        if kind == "float" and default > 0:
            ui = (default / 1000, default * 1000)
            candidate = HParam(name, float(default), "float", log=True, ui_range=ui, help=helptext)
        elif kind == "float":
            ui = (-1.0, 1.0) if default == 0 else (default * 10, -default * 10)
            candidate = HParam(name, float(default), "float", ui_range=ui, help=helptext)
        elif kind == "int":
            ui = (min(0, default), max(10, abs(default) * 4))
            candidate = HParam(name, default, "int", ui_range=ui, help=helptext)
        elif kind == "pair":
            values = tuple(float(v) for v in default)
            ui = (min(*values, 0.0) * 10 - 1, max(*values, 0.0) * 10 + 1)
            candidate = HParam(name, values, "pair", ui_range=ui, help=helptext)
        else:
            candidate = HParam(name, default, "bool", help=helptext)
    elif _doc_help(cls, name):
        candidate = _replace(candidate, help=_doc_help(cls, name))
    return candidate


def register_optimizer(import_path: str) -> OptimizerInfo:
    """Add any ``torch.optim.Optimizer`` subclass by import path, e.g. ``some_pkg.optim:Lion``.

    SECURITY: importing runs the module's code. Call this only for a path the user gave on the
    command line or in their own settings -- never for a path read from a session, preset or any
    other shared file.

    Hyperparameters are derived from the class's ``__init__`` defaults (floats, ints, bools and
    pairs of numbers; known names such as lr, betas, eps, weight_decay, momentum get our usual
    ranges). Its behaviour is unknown, so ``elementwise`` is False (swarms step each point
    separately); ``needs_closure`` is True when ``step`` requires a closure. Registering the same
    class twice returns the existing entry.
    """
    if not isinstance(import_path, str) or not _IMPORT_PATH.match(import_path.strip()):
        raise GdsimError(
            f"bad optimizer import path {_describe(import_path)}; write it as package.module:Class"
        )
    module_name, _, attr_path = import_path.strip().partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise GdsimError(f"cannot import {module_name!r}: {exc}") from None
    except Exception as exc:  # the module itself failed: report it, not a traceback
        raise GdsimError(
            f"importing {module_name!r} failed: {error_line(exc, name_type=True)}"
        ) from None
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise GdsimError(f"{module_name!r} has no attribute {attr_path!r}")
        obj = getattr(obj, part)
    cls = obj
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        raise GdsimError(f"{import_path.strip()!r} is not a torch.optim.Optimizer subclass")
    if cls is torch.optim.Optimizer:
        raise GdsimError("Optimizer is the abstract base class; give a subclass")
    key = cls.__name__.lower()
    existing = OPTIMIZERS.get(key)
    if existing is not None:
        if existing.cls is cls:
            return existing
        raise GdsimError(f"an optimizer named {existing.name!r} is already registered")

    hparams = []
    for name, default in _torch_defaults(cls).items():
        if name in LEFT_OUT:
            continue
        if default is _NO_DEFAULT:
            if name == "lr":
                hparams.append(_LR)  # our default lr; the class requires one
                continue
            raise GdsimError(
                f"cannot register {cls.__name__}: its argument {name!r} has no default"
            )
        hp = _derive_hparam(cls, name, default)
        if hp is not None:
            hparams.append(hp)
    hparams.sort(key=lambda hp: hp.name != "lr")  # lr first, the rest in signature order
    step_params = inspect.signature(cls.step).parameters
    closure = step_params.get("closure")
    needs_closure = closure is not None and closure.default is inspect.Parameter.empty
    doc = (inspect.getdoc(cls) or "").strip().splitlines()
    info = OptimizerInfo(
        name=cls.__name__,
        cls=cls,
        hparams=tuple(hparams),
        description=doc[0] if doc else f"{cls.__name__} from {import_path.strip()}",
        elementwise=False,
        needs_closure=needs_closure,
        import_path=import_path.strip(),
    )
    OPTIMIZERS[key] = info
    return info


def as_spec(spec: OptimizerSpec | str) -> OptimizerSpec:
    """Accept an OptimizerSpec or its SPEC text (``"Adam(lr=0.01)"``); GdsimError otherwise."""
    if isinstance(spec, OptimizerSpec):
        return spec
    if isinstance(spec, str):
        return parse_spec(spec)
    raise GdsimError(f"optimizer must be a SPEC like 'Adam(lr=0.01)', got {spec!r}")
