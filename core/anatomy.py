"""What to draw for one step's anatomy: arrows, the optimizer's per-coordinate scale, numbers.

Why this module: the surface view draws, at the point a step started from, the gradient, the
update the optimizer applied and the optimizer's own quantities read from its real
``optimizer.state`` (see :class:`core.race.Anatomy`). Which quantities an optimizer has, what
they mean, the per-coordinate step size they imply and a common scale are plain arithmetic, so
they live here, Qt-free and tested against torch itself (the step size times the first moment
must give back the update torch applied).

Units, and why there are two scales
-----------------------------------
The quantities come in two units. *Gradient units* (∂f/∂p): the gradient, SGD's momentum buffer,
Adam's first moment ``exp_avg``, RMSprop's ``grad_avg``, and the root of the second moments
(``√v``, ``√sum``, Adamax's ``exp_inf``), drawn as an ellipse (a box for a running max) around
the point. *Step units* (a move of p, map coordinates): the update, Rprop's per-coordinate step
sizes. An adaptive optimizer decouples the two: on Rosenbrock Adam's gradient is ~150 while its
step is ~lr = 0.02, so with one factor for both the update would be a few thousandths of a pixel.
Each family therefore gets ONE factor (every arrow in it is to scale with the others), chosen so
its longest arrow fills ~22 % of the visible map, rounded to 1-2-5 and kept while it still fits
(:func:`fit_factor`), and the legend prints both. A step is never drawn shorter than it is
(factor >= 1), so a large step's arrow ends exactly where the runner went.

Arrows point the way the optimizer pushes: the gradient is drawn as −∇f ("downhill"), the
momentum buffer as −buf (SGD steps by −lr·buf), the first moment as −m.

Per-coordinate step size
------------------------
:func:`step_size` gives, for the step just taken, what each coordinate's (first-moment or
gradient) value was multiplied by, with the formula as text: Adam/AdamW/NAdam ``lr/(√(v/(1−β2^t))+ε)``
with ``v = exp_avg_sq`` (``max_exp_avg_sq`` with amsgrad), RAdam the same times its
rectification (plain ``lr`` while the variance estimate is unreliable), Adamax ``lr/u``,
RMSprop ``lr/(√v+ε)`` (centred: the running variance), Adagrad ``clr/(√sum+ε)``, Adadelta
``lr·√(E[Δp²]+ε)/√(E[g²]+ε)`` (with E[Δp²] as it was before the step), Rprop its own
``step_size``. The state is the state after the step, which is what that step used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "GRADIENT",
    "STEP",
    "TARGET",
    "Arrow",
    "Extent",
    "Picture",
    "factor_text",
    "fit_factor",
    "fmt",
    "fmt_pair",
    "gradient_picture",
    "nice_floor",
    "nice_near",
    "picture",
    "step_size",
]

GRADIENT = "gradient"  # units of ∂f/∂p
STEP = "step"  # units of p (map coordinates)

#: Longest arrow of a family as a fraction of the visible map, when a factor is (re)chosen.
TARGET = 0.22
#: A factor is kept while the longest arrow stays within these fractions (no flicker while
#: running); an extent (ellipse/box half-width) may reach EXTENT_MAX before the factor shrinks.
KEEP_LOW, KEEP_HIGH = 0.08, 0.40
EXTENT_MAX = 0.5

ADAM_LIKE = ("Adam", "AdamW", "NAdam", "RAdam")


@dataclass(frozen=True)
class Arrow:
    """One arrow from the picture's origin, in its family's units (sign as drawn)."""

    key: str  # "gradient", "update", "momentum", "first_moment", "mean_gradient"
    label: str  # legend text
    vector: np.ndarray  # (2,)
    family: str  # GRADIENT or STEP


@dataclass(frozen=True)
class Extent:
    """An axis-aligned ellipse or box around the origin: half-widths per coordinate."""

    key: str  # "rms", "max", "rprop_steps"
    label: str
    half: np.ndarray  # (2,) >= 0
    family: str
    shape: str  # "ellipse" | "box"


@dataclass(frozen=True)
class Picture:
    """Everything the view draws and prints for one step (or one narrated phase)."""

    origin: np.ndarray  # (2,) where the arrows start: the point the step started from
    arrows: tuple[Arrow, ...]
    extents: tuple[Extent, ...]
    step_size: np.ndarray | None  # (2,) per-coordinate step size, None if not adaptive
    step_size_formula: str
    lines: tuple[tuple[str, str], ...]  # (name, value) rows for the info panel

    def keys(self) -> tuple[str, ...]:
        """Legend identity: which items are drawn (the legend is rebuilt when this changes)."""
        return tuple(a.key for a in self.arrows) + tuple(e.key for e in self.extents)


# -- formatting ------------------------------------------------------------------------------


def fmt(v: float) -> str:
    """A number in 4 significant digits with a real minus sign (reads well on a projector)."""
    if v is None:
        return "—"
    v = float(v)
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4g}".replace("-", "−")


def fmt_pair(v: Sequence[float]) -> str:
    return f"({fmt(v[0])}, {fmt(v[1])})"


def _as2(v: Any) -> np.ndarray | None:
    """A (2,) float array from a state value, or None if it is not one."""
    if isinstance(v, np.ndarray) and v.shape == (2,):
        return v.astype(np.float64, copy=False)
    return None


def _num(v: Any, default: float = math.nan) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


# -- step size -------------------------------------------------------------------------------


def step_size(
    optimizer: str,
    state: dict[str, Any],
    hparams: dict[str, Any],
    lr: float,
    update: np.ndarray | None = None,
) -> tuple[np.ndarray | None, str]:
    """Per-coordinate step size of the step that produced ``state`` and its formula.

    ``(None, "")`` for an optimizer without one (SGD, LBFGS, ...) or a state it lacks.
    ``update`` is needed for Adadelta (to recover E[Δp²] as it was before the step).
    """
    t = _num(state.get("step"), 0.0)
    eps = _num(hparams.get("eps"), 0.0)
    if optimizer in ADAM_LIKE:
        v = _as2(state.get("max_exp_avg_sq"))
        if v is None:
            v = _as2(state.get("exp_avg_sq"))
        if v is None or t < 1:
            return None, ""
        beta1, beta2 = (float(b) for b in hparams.get("betas", (0.9, 0.999)))
        bc2 = 1.0 - beta2**t
        if optimizer == "RAdam":
            rho_inf = 2.0 / (1.0 - beta2) - 1.0
            rho_t = rho_inf - 2.0 * t * beta2**t / bc2
            if rho_t <= 5.0:
                return np.full(2, lr), "lr (RAdam: variance not yet reliable, plain momentum)"
            rect = math.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            return lr * rect * math.sqrt(bc2) / (np.sqrt(v) + eps), "lr·r·√(1−β2^t)/(√v+ε)"
        return lr / (np.sqrt(v / bc2) + eps), "lr/(√(v/(1−β2^t))+ε)"
    if optimizer == "Adamax":
        u = _as2(state.get("exp_inf"))
        if u is None:
            return None, ""
        return lr / u, "lr/u"
    if optimizer == "RMSprop":
        v = _as2(state.get("square_avg"))
        if v is None:
            return None, ""
        g_avg = _as2(state.get("grad_avg"))
        if g_avg is not None:
            var = np.maximum(v - g_avg * g_avg, 0.0)
            return lr / (np.sqrt(var) + eps), "lr/(√(v−ḡ²)+ε)"
        return lr / (np.sqrt(v) + eps), "lr/(√v+ε)"
    if optimizer == "Adagrad":
        s = _as2(state.get("sum"))
        if s is None or t < 1:
            return None, ""
        clr = lr / (1.0 + (t - 1.0) * _num(hparams.get("lr_decay"), 0.0))
        return clr / (np.sqrt(s) + eps), "clr/(√sum+ε)"
    if optimizer == "Adadelta":
        sq = _as2(state.get("square_avg"))
        acc = _as2(state.get("acc_delta"))
        if sq is None or acc is None:
            return None, ""
        rho = _num(hparams.get("rho"), 0.9)
        if update is not None and lr > 0 and rho > 0:
            delta = np.asarray(update, dtype=np.float64) / lr
            acc = np.maximum((acc - (1.0 - rho) * delta * delta) / rho, 0.0)
        return lr * np.sqrt(acc + eps) / np.sqrt(sq + eps), "lr·√(E[Δp²]+ε)/√(E[g²]+ε)"
    if optimizer == "Rprop":
        s = _as2(state.get("step_size"))
        if s is None:
            return None, ""
        return s.copy(), "Rprop's own step per coordinate"
    return None, ""


# -- the picture -----------------------------------------------------------------------------

_STATE_NAMES = {
    "momentum_buffer": "buf (momentum)",
    "exp_avg": "m = exp_avg",
    "exp_avg_sq": "v = exp_avg_sq",
    "max_exp_avg_sq": "max v (amsgrad)",
    "exp_inf": "u = exp_inf",
    "square_avg": "square_avg",
    "grad_avg": "ḡ = grad_avg",
    "acc_delta": "acc_delta",
    "sum": "sum (Σg²)",
    "step": "t = step",
    "step_size": "step_size",
    "prev": "prev (last ∇f)",
    "mu_product": "mu_product",
}


def _state_lines(state: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for key, value in state.items():
        name = _STATE_NAMES.get(key, key)
        pair = _as2(value)
        if pair is not None:
            out.append((name, fmt_pair(pair)))
        elif isinstance(value, bool):
            out.append((name, str(value)))
        elif isinstance(value, (int, float)):
            out.append((name, fmt(value) if key != "step" else f"{int(value)}"))
        elif isinstance(value, (list, tuple)):
            out.append((name, f"[{len(value)} items]"))
        # anything else (None, big arrays) is left out: the panel stays compact
    return out


def _rms_extent(optimizer: str, state: dict[str, Any], hparams: dict[str, Any]) -> Extent | None:
    """The second-moment quantity an optimizer divides by, in gradient units."""
    t = _num(state.get("step"), 0.0)
    if optimizer in ADAM_LIKE or "exp_avg_sq" in state:
        v = _as2(state.get("max_exp_avg_sq"))
        if v is None:
            v = _as2(state.get("exp_avg_sq"))
        if v is None:
            return None
        if optimizer in ADAM_LIKE and t >= 1:
            beta2 = float(hparams.get("betas", (0.9, 0.999))[1])
            v = v / (1.0 - beta2**t)
            label = "RMS of ∇f (step size = lr/RMS)"
        else:
            label = "√v: RMS of ∇f (the step divides by it)"
        return Extent("rms", label, np.sqrt(np.maximum(v, 0.0)), GRADIENT, "ellipse")
    if "exp_inf" in state:
        u = _as2(state["exp_inf"])
        if u is None:
            return None
        return Extent("max", "u = exp_inf: max |∇f| (step size = lr/u)", np.abs(u), GRADIENT, "box")
    if optimizer == "RMSprop" or ("square_avg" in state and "acc_delta" not in state):
        v = _as2(state.get("square_avg"))
        if v is None:
            return None
        g_avg = _as2(state.get("grad_avg"))
        if g_avg is not None:
            v = np.maximum(v - g_avg * g_avg, 0.0)
            label = "√(v−ḡ²): std of ∇f (step size = lr/std)"
        else:
            label = "√v: RMS of ∇f (step size = lr/RMS)"
        return Extent("rms", label, np.sqrt(np.maximum(v, 0.0)), GRADIENT, "ellipse")
    if "acc_delta" in state:  # Adadelta
        v = _as2(state.get("square_avg"))
        if v is None:
            return None
        label = "√E[g²]: RMS of ∇f (the step divides by it)"
        return Extent("rms", label, np.sqrt(np.maximum(v, 0.0)), GRADIENT, "ellipse")
    if "sum" in state:  # Adagrad
        s = _as2(state["sum"])
        if s is None:
            return None
        label = "√sum: root of all past ∇f² (step size = lr/√sum)"
        return Extent("rms", label, np.sqrt(np.maximum(s, 0.0)), GRADIENT, "ellipse")
    return None


def picture(
    optimizer: str,
    hparams: dict[str, Any],
    *,
    point: Sequence[float],
    gradient: Sequence[float],
    update: Sequence[float],
    state: dict[str, Any],
    lr: float,
    loss_before: float,
    loss_after: float,
    step: int,
) -> Picture:
    """The picture of one completed step (the fields of a :class:`core.race.Anatomy`).

    ``point`` is where the step started (the arrows' origin); ``state`` the optimizer's state
    after it, as plain values.
    """
    origin = np.asarray(point, dtype=np.float64).copy()
    grad = np.asarray(gradient, dtype=np.float64)
    upd = np.asarray(update, dtype=np.float64)
    arrows = [
        Arrow("gradient", "−∇f: downhill (gradient)", -grad, GRADIENT),
        Arrow("update", "update: the step taken", upd.copy(), STEP),
    ]
    buf = _as2(state.get("momentum_buffer"))
    if buf is not None and optimizer != "RMSprop":  # RMSprop's buffer holds normalised steps
        arrows.append(Arrow("momentum", "−buf: momentum buffer", -buf, GRADIENT))
    m = _as2(state.get("exp_avg"))
    if m is not None:
        arrows.append(Arrow("first_moment", "−m: first moment (exp_avg)", -m, GRADIENT))
    g_avg = _as2(state.get("grad_avg"))
    if g_avg is not None:
        arrows.append(Arrow("mean_gradient", "−ḡ: mean gradient (grad_avg)", -g_avg, GRADIENT))
    extents = []
    rms = _rms_extent(optimizer, state, hparams)
    if rms is not None:
        extents.append(rms)
    if optimizer == "Rprop":
        s = _as2(state.get("step_size"))
        if s is not None:
            extents.append(
                Extent("rprop_steps", "Rprop's step size per axis", s.copy(), STEP, "box")
            )
    size, formula = step_size(optimizer, state, hparams, lr, upd)
    lines = [
        ("step", f"{step} · lr {fmt(lr)}"),
        ("p", fmt_pair(origin)),
        ("f", f"{fmt(loss_before)} → {fmt(loss_after)}"),
        ("∇f", fmt_pair(grad)),
        ("update", fmt_pair(upd)),
    ]
    lines += _state_lines(state)
    if size is not None:
        lines.append(("step size", fmt_pair(size)))
        lines.append(("", f"= {formula}"))
    return Picture(origin, tuple(arrows), tuple(extents), size, formula, tuple(lines))


def gradient_picture(point: Sequence[float], gradient: Sequence[float], loss: float) -> Picture:
    """What is known after ``loss.backward()`` of a narrated step: the gradient, nothing else."""
    origin = np.asarray(point, dtype=np.float64).copy()
    grad = np.asarray(gradient, dtype=np.float64)
    return Picture(
        origin,
        (Arrow("gradient", "−∇f: downhill (gradient)", -grad, GRADIENT),),
        (),
        None,
        "",
        (("p", fmt_pair(origin)), ("f", fmt(loss)), ("∇f", fmt_pair(grad))),
    )


# -- scale -----------------------------------------------------------------------------------


def nice_floor(x: float) -> float:
    """The largest of 1, 2, 5 × 10^k that is <= x (x > 0)."""
    k = math.floor(math.log10(x))
    for m in (5, 2, 1):
        v = m * 10.0**k
        if v <= x * (1 + 1e-12):
            return v
    return 10.0 ** (k - 1) * 5  # pragma: no cover (log10 rounding)


def nice_near(x: float) -> float:
    """The 1, 2, 5 × 10^k nearest to x on a log scale (x > 0): within a factor of 1.6."""
    k = math.floor(math.log10(x))
    candidates = [m * 10.0**j for j in (k - 1, k, k + 1) for m in (1, 2, 5)]
    return min(candidates, key=lambda c: abs(math.log(c / x)))


def _fraction(v: np.ndarray, view: tuple[float, float]) -> float:
    w, h = view
    return math.hypot(float(v[0]) / w, float(v[1]) / h)


def fit_factor(
    arrows: Sequence[np.ndarray],
    extents: Sequence[np.ndarray],
    view: tuple[float, float],
    current: float | None = None,
    minimum: float | None = None,
) -> float | None:
    """One drawing factor for a family of arrows (and extents' half-widths) in a view ``(w, h)``.

    Keeps ``current`` while the longest arrow stays within [KEEP_LOW, KEEP_HIGH] of the view
    and no extent exceeds EXTENT_MAX; otherwise picks a 1-2-5 factor putting the longest arrow
    near TARGET (smaller if an extent would exceed EXTENT_MAX). ``minimum`` bounds it below
    (steps are never drawn shorter than they are). None if there is nothing finite to scale.
    """
    w, h = view
    if not (w > 0 and h > 0 and math.isfinite(w) and math.isfinite(h)):
        return current
    a = [_fraction(v, view) for v in arrows if np.all(np.isfinite(v))]
    a = max((x for x in a if x > 0), default=0.0)
    e = [max(abs(float(v[0])) / w, abs(float(v[1])) / h) for v in extents if np.all(np.isfinite(v))]
    e = max((x for x in e if x > 0), default=0.0)
    if a == 0.0 and e == 0.0:
        return current if current is not None else minimum
    if current is not None:
        fits = a == 0.0 or KEEP_LOW <= a * current <= KEEP_HIGH
        if fits and e * current <= EXTENT_MAX:
            if minimum is None or current >= minimum:
                return current
    factor = nice_near(TARGET / a) if a > 0 else math.inf
    if e > 0 and factor * e > EXTENT_MAX * 0.8:
        factor = nice_floor(EXTENT_MAX * 0.8 / e)
    if minimum is not None:
        factor = max(factor, minimum)
    return factor


def factor_text(factor: float) -> str:
    """'× 0.002', '× 20', 'true size' for 1."""
    if factor == 1.0:
        return "true size"
    return f"× {factor:g}"
