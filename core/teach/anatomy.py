"""What to draw for one step's anatomy: arrows, the optimizer's per-coordinate scale, numbers.

The Surfaces view draws, at the point a step started from, the gradient, the update torch applied
and the optimizer's own quantities from its real ``optimizer.state``
(:class:`core.engine.race.Anatomy`). Which quantities an optimizer has, the step they imply
(:func:`update_terms`: its rows multiply out to the update torch applied) and a common drawing
scale (:func:`fit_factor`) are plain arithmetic, so they live here, Qt-free and tested against
torch itself. Arrows point the way the optimizer pushes: −∇f, −buf, −m.
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
    "Term",
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
    "update_terms",
]

# Two families, one drawing factor each: an adaptive optimizer's step (~lr) can be thousands of
# times shorter than its gradient, so one factor for both would shrink the update to nothing.
GRADIENT = "gradient"  # units of ∂f/∂p: the gradient, momentum, moments, √v
STEP = "step"  # units of p (map coordinates): the update, Rprop's step sizes

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
    terms: tuple[Term, ...] = ()  # the update as the rows print it: −Σ size ⊙ along

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


# -- the update as printed ------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One part of the update, ``−size ⊙ along``: an optimizer's update is the sum of its terms
    (one for most; NAdam mixes the gradient and the first moment; decoupled weight decay adds
    ``−lr·weight_decay·p``). The panel prints each factor as a row, so the rows multiply out
    to the update torch applied."""

    size_name: str  # "step size" (per coordinate), or a scalar's name such as "lr"
    size: np.ndarray  # (2,)
    size_formula: str  # in the printed rows' names ("" when the name says it all)
    along_name: str  # the row that prints ``along``: ∇f, p, a state row or a row of its own
    along: np.ndarray  # (2,)
    along_formula: str = ""  # set when ``along`` needs a row of its own: how it is computed
    uses: tuple[tuple[str, np.ndarray], ...] = ()  # values the formula uses, not rows already

    @property
    def per_coordinate(self) -> bool:
        return self.size_name == "step size"


@dataclass(frozen=True)
class _Step:
    """What an update rule reads: the step's inputs and the state before and after it."""

    optimizer: str
    state: dict[str, Any]  # after the step (what torch keeps)
    before: dict[str, Any] | None  # before it ({} before the first step; None: not recorded)
    hp: dict[str, Any]
    lr: float
    grad: np.ndarray  # p.grad as the optimizer saw it
    point: np.ndarray  # p before the step
    t: float  # torch's step count after the step

    def num(self, key: str, default: float = 0.0) -> float:
        return _num(self.hp.get(key), default)

    def g(self, decoupled: bool = False) -> tuple[np.ndarray, str, str]:
        """The gradient the rule uses: with L2 weight decay torch adds weight_decay·p to it."""
        wd = self.num("weight_decay")
        if wd and not decoupled:
            return self.grad + wd * self.point, "g", "∇f + weight_decay·p"
        return self.grad, "∇f", ""

    def grad_term(self, name: str, size, formula: str, decoupled: bool = False, uses=()) -> Term:
        g, g_name, g_formula = self.g(decoupled)
        return Term(name, np.broadcast_to(size, (2,)).astype(np.float64), formula, g_name, g,
                    g_formula, uses)  # fmt: skip

    def decay(self, on: bool = True) -> tuple[Term, ...]:
        """Decoupled weight decay: torch multiplies p by 1 − lr·weight_decay first."""
        wd = self.num("weight_decay")
        if not (on and wd):
            return ()
        return (Term("lr·weight_decay", np.full(2, self.lr * wd), "", "p", self.point),)

    def betas(self) -> tuple[float, float]:
        b1, b2 = self.hp.get("betas", (0.9, 0.999))
        return float(b1), float(b2)

    def m_hat(self, m: np.ndarray) -> tuple[str, np.ndarray, str]:
        """Bias-corrected m (m̂ in the papers; a combining hat renders badly in many fonts)."""
        return "m_hat", m / (1.0 - self.betas()[0] ** self.t), "m/(1−β1^t)"


def _sgd(s: _Step) -> tuple[Term, ...] | None:
    mom = s.num("momentum")
    lr = np.full(2, s.lr)
    if not mom:
        return (s.grad_term("lr", lr, ""),)
    buf = _as2(s.state.get("momentum_buffer"))
    if buf is None:
        return None
    if s.hp.get("nesterov"):
        g, g_name, _ = s.g()
        return (Term("lr", lr, "", "d", g + mom * buf, f"{g_name} + momentum·buf"),)
    return (Term("lr", lr, "", "buf", buf),)


def _adam(s: _Step) -> tuple[Term, ...] | None:
    v = _as2(s.state.get("max_exp_avg_sq" if s.hp.get("amsgrad") else "exp_avg_sq"))
    m = _as2(s.state.get("exp_avg"))
    if v is None or m is None or s.t < 1:
        return None
    bc2 = 1.0 - s.betas()[1] ** s.t
    size = s.lr / (np.sqrt(v / bc2) + s.num("eps"))
    decoupled = bool(s.hp.get("decoupled_weight_decay", s.optimizer == "AdamW"))
    return (Term("step size", size, "lr/(√(v/(1−β2^t))+ε)", *s.m_hat(m)), *s.decay(decoupled))


def _radam(s: _Step) -> tuple[Term, ...] | None:
    v, m = _as2(s.state.get("exp_avg_sq")), _as2(s.state.get("exp_avg"))
    if v is None or m is None or s.t < 1:
        return None
    beta2 = s.betas()[1]
    bc2 = 1.0 - beta2**s.t
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho_t = rho_inf - 2.0 * s.t * beta2**s.t / bc2
    if rho_t <= 5.0:
        size, formula = np.full(2, s.lr), "lr (RAdam: variance not yet reliable, plain momentum)"
    else:
        rect = math.sqrt(
            (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
        )
        size = s.lr * rect * math.sqrt(bc2) / (np.sqrt(v) + s.num("eps"))
        formula = "lr·r·√(1−β2^t)/(√v+ε)"
    decoupled = bool(s.hp.get("decoupled_weight_decay"))
    return (Term("step size", size, formula, *s.m_hat(m)), *s.decay(decoupled))


def _nadam(s: _Step) -> tuple[Term, ...] | None:
    v, m = _as2(s.state.get("exp_avg_sq")), _as2(s.state.get("exp_avg"))
    prod = _num(s.state.get("mu_product"))
    if v is None or m is None or s.t < 1 or not math.isfinite(prod):
        return None
    beta1, beta2 = s.betas()
    psi = s.num("momentum_decay", 0.004)
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (s.t * psi))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((s.t + 1) * psi))
    denom = np.sqrt(v / (1.0 - beta2**s.t)) + s.num("eps")
    decoupled = bool(s.hp.get("decoupled_weight_decay"))
    uses = (("μt", np.full(2, mu)), ("μt+1", np.full(2, mu_next)))
    return (
        s.grad_term("step size", s.lr * (1 - mu) / (1 - prod) / denom,
                    "lr·(1−μt)/(1−mu_product)/(√(v/(1−β2^t))+ε)", decoupled, uses),
        Term("step size (m)", s.lr * mu_next / (1 - prod * mu_next) / denom,
             "lr·μt+1/(1−mu_product·μt+1)/(√(v/(1−β2^t))+ε)", "m", m),
        *s.decay(decoupled),
    )  # fmt: skip


def _adamax(s: _Step) -> tuple[Term, ...] | None:
    u, m = _as2(s.state.get("exp_inf")), _as2(s.state.get("exp_avg"))
    if u is None or m is None or s.t < 1:
        return None
    return (Term("step size", s.lr / u, "lr/u", *s.m_hat(m)),)


def _rmsprop(s: _Step) -> tuple[Term, ...] | None:
    v = _as2(s.state.get("square_avg"))
    if v is None:
        return None
    if s.num("momentum"):
        buf = _as2(s.state.get("momentum_buffer"))
        return None if buf is None else (Term("lr", np.full(2, s.lr), "", "buf", buf),)
    g_avg = _as2(s.state.get("grad_avg"))
    if g_avg is not None:
        size = s.lr / (np.sqrt(np.maximum(v - g_avg * g_avg, 0.0)) + s.num("eps"))
        return (s.grad_term("step size", size, "lr/(√(v−ḡ²)+ε)"),)
    return (s.grad_term("step size", s.lr / (np.sqrt(v) + s.num("eps")), "lr/(√v+ε)"),)


def _adagrad(s: _Step) -> tuple[Term, ...] | None:
    total = _as2(s.state.get("sum"))
    if total is None or s.t < 1:
        return None
    clr = s.lr / (1.0 + (s.t - 1.0) * s.num("lr_decay"))
    size = clr / (np.sqrt(total) + s.num("eps"))
    return (s.grad_term("step size", size, "lr/(1+(t−1)·lr_decay)/(√sum+ε)"),)


def _adadelta(s: _Step) -> tuple[Term, ...] | None:
    sq = _as2(s.state.get("square_avg"))
    if sq is None or s.before is None:
        return None
    acc0 = _as2(s.before.get("acc_delta"))
    acc0 = np.zeros(2) if acc0 is None else acc0  # torch starts it at 0
    eps = s.num("eps")
    size = s.lr * np.sqrt(acc0 + eps) / np.sqrt(sq + eps)
    formula = "lr·√(acc_delta₀+ε)/√(square_avg+ε)"
    return (s.grad_term("step size", size, formula, uses=(("acc_delta₀", acc0),)),)


def _rprop(s: _Step) -> tuple[Term, ...] | None:
    size, prev = _as2(s.state.get("step_size")), _as2(s.state.get("prev"))
    if size is None or prev is None:
        return None
    return (
        Term("step size", size.copy(), "Rprop's step_size", "sign(prev)", np.sign(prev),
             "sign of ∇f, 0 where it flipped"),
    )  # fmt: skip


def _asgd(s: _Step) -> tuple[Term, ...] | None:
    if s.before is None:
        return None
    eta = _num(s.before.get("eta"), s.lr)  # torch starts eta at lr
    decay = s.num("lambd") * eta
    return (
        s.grad_term("eta₀", np.full(2, eta), "eta before the step"),
        Term("lambd·eta₀", np.full(2, decay), "", "p", s.point),
    )


def _adafactor(s: _Step) -> tuple[Term, ...] | None:
    var = _as2(s.state.get("variance"))
    if var is None or s.t < 1:
        return None
    eps1, eps2 = s.hp.get("eps", (None, 1e-3))
    eps1 = np.finfo(np.float64).eps if eps1 is None else float(eps1)
    alpha = max(float(eps2), float(np.sqrt(np.mean(s.point**2)))) * min(s.lr, s.t**-0.5)
    inv = 1.0 / np.sqrt(np.maximum(var, eps1 * eps1))
    denom = max(1.0, float(np.sqrt(np.mean((s.grad * inv) ** 2))) / s.num("d", 1.0))
    formula = "α/max(1, RMS(∇f/√variance)/d)/√variance, α = max(eps₂, RMS(p))·min(lr, 1/√t)"
    return (s.grad_term("step size", alpha / denom * inv, formula, True), *s.decay())


#: optimizer name -> its update rule as printed terms (None: its state does not tell). LBFGS
#: has none: one step runs up to max_iter inner iterations with their own directions.
_RULES = {
    "SGD": _sgd,
    "Adam": _adam,
    "AdamW": _adam,
    "NAdam": _nadam,
    "RAdam": _radam,
    "Adamax": _adamax,
    "RMSprop": _rmsprop,
    "Adagrad": _adagrad,
    "Adadelta": _adadelta,
    "Rprop": _rprop,
    "ASGD": _asgd,
    "Adafactor": _adafactor,
}


def update_terms(
    optimizer: str,
    state: dict[str, Any],
    hparams: dict[str, Any],
    lr: float,
    *,
    point: Sequence[float],
    gradient: Sequence[float],
    state_before: dict[str, Any] | None = None,
) -> tuple[Term, ...]:
    """The terms whose sum ``−Σ size ⊙ along`` is the update of the step that left ``state``
    (``()`` for an optimizer whose state does not tell, e.g. LBFGS). ``state_before`` is the
    state before the step (Adadelta and ASGD use values the step overwrote)."""
    rule = _RULES.get(optimizer)
    if rule is None:
        return ()
    step = _Step(
        optimizer,
        state,
        state_before,
        hparams,
        float(lr),
        np.asarray(gradient, dtype=np.float64),
        np.asarray(point, dtype=np.float64),
        _num(state.get("step"), 0.0),
    )
    return rule(step) or ()


# -- the picture -----------------------------------------------------------------------------

#: Short names the formulas use, defined in the state rows as "alias = torch's name".
_ALIASES = {
    "momentum_buffer": "buf",
    "exp_avg": "m",
    "exp_avg_sq": "v",
    "exp_inf": "u",
    "grad_avg": "ḡ",
    "step": "t",
}
_ROLE_NOTES = {"sum": "Σg²", "prev": "last ∇f, 0 where it flipped"}


def _state_name(key: str, optimizer: str, hparams: dict[str, Any]) -> str:
    alias = _ALIASES.get(key)
    if optimizer == "RMSprop" and key == "square_avg":
        alias = "v"
    if hparams.get("amsgrad"):  # torch divides by the running max: that is the v used
        alias = {"max_exp_avg_sq": "v", "exp_avg_sq": None}.get(key, alias)
    name = f"{alias} = {key}" if alias else key
    return f"{name} ({_ROLE_NOTES[key]})" if key in _ROLE_NOTES else name


def _state_lines(
    state: dict[str, Any], optimizer: str, hparams: dict[str, Any]
) -> list[tuple[str, str]]:
    out = []
    for key, value in state.items():
        name = _state_name(key, optimizer, hparams)
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
    state_before: dict[str, Any] | None = None,
) -> Picture:
    """The picture of one completed step (the fields of a :class:`core.engine.race.Anatomy`).

    ``point`` is where the step started (the arrows' origin); ``state`` the optimizer's state
    after it and ``state_before`` before it, as plain values.
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
    terms = update_terms(
        optimizer, state, hparams, lr, point=origin, gradient=grad, state_before=state_before
    )
    adaptive = next((t for t in terms if t.per_coordinate), None)
    lines = [
        ("step", f"{step} · lr {fmt(lr)}"),
        ("p", fmt_pair(origin)),
        ("f", f"{fmt(loss_before)} → {fmt(loss_after)}"),
        ("∇f", fmt_pair(grad)),
        ("update", fmt_pair(upd)),
    ]
    lines += _state_lines(state, optimizer, hparams)
    lines += _term_lines(terms)
    return Picture(
        origin,
        tuple(arrows),
        tuple(extents),
        None if adaptive is None else adaptive.size,
        "" if adaptive is None else adaptive.size_formula,
        tuple(lines),
        terms,
    )


def recorded_picture(runner: Any, anatomy: Any) -> Picture:
    """The picture of ``runner``'s last recorded step (``anatomy``: its race Anatomy)."""
    a = anatomy
    return picture(
        runner.spec.name,
        runner.spec.hparams(),
        point=a.point_before,
        gradient=a.gradient,
        update=a.update,
        state=a.state,
        lr=a.lr,
        loss_before=a.loss_before,
        loss_after=a.loss_after,
        step=a.step,
        state_before=a.state_before,
    )


def _term_lines(terms: tuple[Term, ...]) -> list[tuple[str, str]]:
    """Each factor of the update as a row, then how they combine: the rows multiply out to
    the update row (to the 4 digits shown)."""
    lines: list[tuple[str, str]] = []

    def number(v: np.ndarray) -> str:
        return fmt(v[0]) if v[0] == v[1] else fmt_pair(v)

    for term in terms:
        lines.append((term.size_name, number(term.size)))
        if term.size_formula:
            lines.append(("", f"= {term.size_formula}"))
        lines += [(name, number(value)) for name, value in term.uses]
        if term.along_formula and all(name != term.along_name for name, _v in lines):
            lines.append((term.along_name, fmt_pair(term.along)))
            lines.append(("", f"= {term.along_formula}"))
    if terms:
        parts = " + ".join(f"{t.size_name}·{t.along_name}" for t in terms)
        lines.append(("", f"update = −({parts})" if len(terms) > 1 else f"update = −{parts}"))
    return lines


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
