"""The 2-D loss surfaces optimizers race on: a registry of named surfaces plus user expressions.

A :class:`Surface` is a torch function of a ``(..., 2)`` float64 tensor (last axis = ``(x, y)``)
returning a ``(...)`` tensor, together with what a view needs to show it well: a default view
``domain``, the known global ``minima`` (location and value, so a view can mark them and a test can
check them), a default ``start`` point chosen to make a good demonstration, a one-line
``description`` a lecturer can read out, and whether the contour map should use a log colour
scale (surfaces whose values span many orders of magnitude, such as Rosenbrock's valley).

The same function serves the race (autograd on a 2-element parameter or an ``(N, 2)`` swarm) and
the contour map (:meth:`Surface.grid`, vectorised, no autograd). Everything is float64: the
interesting behaviour of optimizers near a minimum lives below float32's resolution.

Names are case-insensitive and ``-``, ``_`` and spaces are the same (``Six_Hump_Camel`` ==
``six-hump-camel``). Anything that is not a registry name is compiled as an expression in ``x`` and
``y`` by :func:`core.engine.expression.compile_expression` (a parser, never ``eval``), so
:func:`get_surface` is the one entry point for "whatever the user typed".

Textbook surfaces follow the standard definitions (Surjanovic & Bingham's "Virtual Library of
Simulation Experiments"; Jamil & Yang 2013). Minima locations that are not round numbers were
solved to full float64 precision (Newton's method at 40 digits), so the gradient there is ~0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from core.errors import GdsimError

Domain = tuple[tuple[float, float], tuple[float, float]]

#: Domain and start used for user expressions (nothing is known about them).
EXPRESSION_DOMAIN: Domain = ((-3.0, 3.0), (-3.0, 3.0))
#: Candidate starts for an expression, tried in order; the first where f and its gradient are
#: finite wins (so ``log(x)`` or ``sqrt(y)`` still get a usable default start).
_EXPRESSION_STARTS = ((-2.0, 2.0), (2.0, 2.0), (2.0, -2.0), (-2.0, -2.0), (1.0, 1.0), (0.5, 0.5))
MAX_GRID = 4096
#: Points per block in Surface.grid: below ATen's GRAIN_SIZE (32768), see Surface.grid.
GRID_CHUNK = 32000


@dataclass(frozen=True)
class Minimum:
    """A known minimum: location and value."""

    x: float
    y: float
    value: float


@dataclass(frozen=True)
class Surface:
    """A 2-D surface and what a view needs to show it (see the module docstring)."""

    name: str
    fn: Callable[[Tensor], Tensor]
    domain: Domain
    minima: tuple[Minimum, ...]
    start: tuple[float, float]
    description: str
    log_scale: bool = False
    is_expression: bool = False

    def __call__(self, xy: Tensor) -> Tensor:
        return self.fn(xy)

    def value(self, x: float, y: float) -> float:
        """f(x, y) as a float (convenience for labels and tests; not for hot loops)."""
        with torch.no_grad():
            return float(self.fn(torch.tensor([x, y], dtype=torch.float64)))

    def grid(
        self, n: int = 500, domain: Domain | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Evaluate on an ``n`` x ``n`` grid for a contour map: ``xs (n,), ys (n,), z (n, n)``.

        ``z[i, j] = f(xs[j], ys[i])`` (rows are y, as an image is). float64, no autograd; non-finite
        values are kept as nan/inf for the view to mask. The coordinates are laid out as a
        ``(2, n, n)`` block viewed as ``(n, n, 2)``, so ``xy[..., 0]`` and ``xy[..., 1]`` are
        contiguous planes and every elementwise op in ``fn`` runs at full vector speed.

        The grid is evaluated in blocks of rows of fewer than 32768 points (ATen's parallel grain
        size), so each op stays single-threaded (no OpenMP barrier waiting for a descheduled
        thread on a busy machine) and reuses its buffers (see ``python -m core.bench.race``).
        """
        n = int(n)
        if not 2 <= n <= MAX_GRID:
            raise GdsimError(f"grid size must be between 2 and {MAX_GRID}, got {n}")
        (x0, x1), (y0, y1) = domain if domain is not None else self.domain
        xs = torch.linspace(float(x0), float(x1), n, dtype=torch.float64)
        ys = torch.linspace(float(y0), float(y1), n, dtype=torch.float64)
        planes = torch.empty((2, n, n), dtype=torch.float64)
        planes[0] = xs
        planes[1] = ys[:, None]
        xy = planes.permute(1, 2, 0)
        z = torch.empty((n, n), dtype=torch.float64)
        rows = max(1, GRID_CHUNK // n)
        with torch.no_grad():
            for r in range(0, n, rows):
                z[r : r + rows] = self.fn(xy[r : r + rows])
        return xs.numpy(), ys.numpy(), np.ascontiguousarray(z.numpy())


# --- the functions --------------------------------------------------------------------------------
# Each takes xy of shape (..., 2) and uses only elementwise torch ops, so it works unchanged for a
# (2,) parameter, an (N, 2) swarm and an (n, n, 2) grid. An exported script carries a function's
# own source (core.teach.codegen), with the constants it uses: keep them plain torch.

TWO_PI = 2.0 * math.pi


def _rosenbrock(xy: Tensor) -> Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def _beale(xy: Tensor) -> Tensor:
    x, y = xy[..., 0], xy[..., 1]
    y2 = y * y
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y2) ** 2 + (2.625 - x + x * (y2 * y)) ** 2


def _himmelblau(xy: Tensor) -> Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2


def _booth(xy: Tensor) -> Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return (x + 2.0 * y - 7.0) ** 2 + (2.0 * x + y - 5.0) ** 2


def _rastrigin(xy: Tensor) -> Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return 20.0 + x * x - 10.0 * torch.cos(TWO_PI * x) + y * y - 10.0 * torch.cos(TWO_PI * y)


def _ackley(xy: Tensor) -> Tensor:
    x, y = xy[..., 0], xy[..., 1]
    r2 = 0.5 * (x * x + y * y)
    # The textbook Ackley is a cone at the origin: sqrt'(0) is infinite and autograd would give
    # nan there. The `where` pair gives the subgradient 0 at exactly (0, 0) and is exact elsewhere.
    pos = r2 > 0
    r = torch.where(pos, torch.sqrt(torch.where(pos, r2, 1.0)), 0.0)
    waves = torch.exp(0.5 * (torch.cos(TWO_PI * x) + torch.cos(TWO_PI * y)))
    return -20.0 * torch.exp(-0.2 * r) - waves + (math.e + 20.0)


def _goldstein_price(xy: Tensor) -> Tensor:
    x, y = xy[..., 0], xy[..., 1]
    xx, yy, xy_ = x * x, y * y, x * y
    a = 1.0 + (x + y + 1.0) ** 2 * (19.0 - 14.0 * x + 3.0 * xx - 14.0 * y + 6.0 * xy_ + 3.0 * yy)
    b = 30.0 + (2.0 * x - 3.0 * y) ** 2 * (
        18.0 - 32.0 * x + 12.0 * xx + 48.0 * y - 36.0 * xy_ + 27.0 * yy
    )
    return a * b


def _six_hump_camel(xy: Tensor) -> Tensor:
    x, y = xy[..., 0], xy[..., 1]
    xx, yy = x * x, y * y
    return (4.0 - 2.1 * xx + xx * xx / 3.0) * xx + x * y + (-4.0 + 4.0 * yy) * yy


def _styblinski_tang(xy: Tensor) -> Tensor:
    x, y = xy[..., 0], xy[..., 1]
    xx, yy = x * x, y * y
    return 0.5 * (xx * xx - 16.0 * xx + 5.0 * x + yy * yy - 16.0 * yy + 5.0 * y)


def _bowl(xy: Tensor) -> Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return x * x + y * y


RAVINE_STEEPNESS = 20.0


def _ravine(xy: Tensor) -> Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return x * x + RAVINE_STEEPNESS * (y * y)


def _saddle(xy: Tensor) -> Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return x * x - y * y


# Plateau with a cliff: f = s + (1 - s) * 0.5 * r^2 / (r^2 + R^2), s = sigmoid(K * (r - R)), with
# a softened radius r = sqrt(x^2 + y^2 + SOFT^2) so f is smooth everywhere (no cone at the origin).
# - r >> R (the plain): s -> 1, f -> 1, and the gradient decays like K * exp(-K (r - R)):
#   ~4e-5 at r = 3, ~3e-7 at r = 3.6. SGD's step is lr * gradient, so it effectively stands still;
#   Adam/RMSprop normalise the gradient and walk across at ~lr per step (until it sinks below eps).
# - r ~ R (the cliff): the sigmoid drops from ~1 to ~0 within about 1/K * 6 = 0.75 in radius; the
#   slope peaks at ~1.5, five orders of magnitude steeper than where the runner came from, so
#   momentum built on the plain and large learning rates overshoot here.
# - r << R (the pit): s -> 0 and f ~ 0.5 r^2 / (r^2 + R^2), a smooth bowl with its minimum at the
#   origin. f is strictly increasing in r (both terms are), so the origin is the only minimum.
PLATEAU_CLIFF_RADIUS = 1.5
PLATEAU_STEEPNESS = 8.0
PLATEAU_SOFTENING = 0.1


def _plateau(xy: Tensor) -> Tensor:
    x, y = xy[..., 0], xy[..., 1]
    # a plain where the slope is ~1e-5, a cliff at radius 1.5, a smooth pit at the origin
    r2 = x * x + y * y
    r = torch.sqrt(r2 + PLATEAU_SOFTENING**2)
    s = torch.sigmoid(PLATEAU_STEEPNESS * (r - PLATEAU_CLIFF_RADIUS))
    return s + (1.0 - s) * (0.5 * r2 / (r2 + PLATEAU_CLIFF_RADIUS**2))


def _plateau_min() -> float:
    return 1.0 / (1.0 + math.exp(-PLATEAU_STEEPNESS * (PLATEAU_SOFTENING - PLATEAU_CLIFF_RADIUS)))


# --- the registry ---------------------------------------------------------------------------------

_SQ = ((-5.0, 5.0), (-5.0, 5.0))

SURFACES: dict[str, Surface] = {
    s.name: s
    for s in (
        Surface(
            "rosenbrock",
            _rosenbrock,
            ((-2.0, 2.0), (-1.0, 3.0)),
            (Minimum(1.0, 1.0, 0.0),),
            (-1.2, 1.0),
            "Rosenbrock's banana: finding the curved valley is easy, following it to (1, 1) is hard.",
            log_scale=True,
        ),
        Surface(
            "beale",
            _beale,
            ((-4.5, 4.5), (-4.5, 4.5)),
            (Minimum(3.0, 0.5, 0.0),),
            (1.0, 1.5),
            "Beale: flat plains and sharp ridges meeting at one minimum in a narrow valley at (3, 0.5).",
            log_scale=True,
        ),
        Surface(
            "himmelblau",
            _himmelblau,
            _SQ,
            (
                Minimum(3.0, 2.0, 0.0),
                Minimum(-2.805118086952745, 3.131312518250573, 0.0),
                Minimum(-3.779310253377747, -3.2831859912861696, 0.0),
                Minimum(3.5844283403304917, -1.8481265269644036, 0.0),
            ),
            (-0.5, -0.5),
            "Himmelblau: four equally good minima; which one you reach depends on where you start.",
            log_scale=True,
        ),
        Surface(
            "booth",
            _booth,
            ((-10.0, 10.0), (-10.0, 10.0)),
            (Minimum(1.0, 3.0, 0.0),),
            (-8.0, -4.0),
            "Booth: a tilted quadratic bowl, minimum 0 at (1, 3); the gentle warm-up case.",
        ),
        Surface(
            "rastrigin",
            _rastrigin,
            ((-5.12, 5.12), (-5.12, 5.12)),
            (Minimum(0.0, 0.0, 0.0),),
            (3.2, -2.6),
            "Rastrigin: a bowl covered in ripples; gradient descent stops in the nearest dimple.",
        ),
        Surface(
            "ackley",
            _ackley,
            _SQ,
            (Minimum(0.0, 0.0, 0.0),),
            (-3.6, 3.2),
            "Ackley: an almost flat, bumpy plain around one deep narrow funnel at the origin.",
        ),
        Surface(
            "goldstein-price",
            _goldstein_price,
            ((-2.0, 2.0), (-2.0, 2.0)),
            (Minimum(0.0, -1.0, 3.0),),
            (0.5, 1.5),
            "Goldstein-Price: values from 3 to a million, with local minima that trap the unwary.",
            log_scale=True,
        ),
        Surface(
            "six-hump-camel",
            _six_hump_camel,
            ((-2.0, 2.0), (-1.2, 1.2)),
            (
                Minimum(0.08984201310031806, -0.7126564030207396, -1.0316284534898774),
                Minimum(-0.08984201310031806, 0.7126564030207396, -1.0316284534898774),
            ),
            (-1.6, -0.9),
            "Six-hump camel: six valleys, two of them the global minima, mirror images of each other.",
        ),
        Surface(
            "styblinski-tang",
            _styblinski_tang,
            _SQ,
            (Minimum(-2.903534027771177, -2.903534027771177, -78.33233140754282),),
            (4.5, 4.0),
            "Styblinski-Tang: four basins of different depth; only the far corner holds the global one.",
        ),
        Surface(
            "bowl",
            _bowl,
            ((-3.0, 3.0), (-3.0, 3.0)),
            (Minimum(0.0, 0.0, 0.0),),
            (-2.5, 2.0),
            "A perfectly round bowl, x² + y²: the gradient points straight at the minimum.",
        ),
        Surface(
            "ravine",
            _ravine,
            ((-3.0, 3.0), (-2.0, 2.0)),
            (Minimum(0.0, 0.0, 0.0),),
            (-2.5, 1.0),
            "A ravine, x² + 20y²: steep walls, gentle floor; plain SGD zig-zags, momentum helps.",
        ),
        Surface(
            "saddle",
            _saddle,
            ((-2.0, 2.0), (-2.0, 2.0)),
            (),
            (-1.8, 0.02),
            "A saddle, x² − y²: no minimum at all (only the view is bounded); runners slow near the"
            " centre, then slide off along y.",
        ),
        Surface(
            "plateau",
            _plateau,
            ((-4.0, 4.0), (-4.0, 4.0)),
            (Minimum(0.0, 0.0, _plateau_min()),),
            (2.4, 1.8),
            "A plateau with a cliff: gradients near 1e-5 on the plain, then a sudden drop into a"
            " pit; SGD stalls, adaptive methods walk to the edge.",
        ),
    )
}

ALIASES: dict[str, str] = {
    "goldstein": "goldstein-price",
    "camel": "six-hump-camel",
    "six-hump": "six-hump-camel",
    "styblinski": "styblinski-tang",
    "plateau-cliff": "plateau",
    "plateau-with-a-cliff": "plateau",
}


def normalize_name(text: str) -> str:
    """``' Six_Hump Camel '`` -> ``'six-hump-camel'`` (case, ``_``, spaces and ``-`` are one)."""
    return re.sub(r"[-_\s]+", "-", text.strip().lower()).strip("-")


def surface_names() -> list[str]:
    """Canonical registry names in display order (textbook first, then the teaching surfaces)."""
    return list(SURFACES)


def get_surface(name_or_expression: str) -> Surface:
    """A registry surface by name, else the text compiled as an expression in x and y.

    Raises GdsimError (an ``ExpressionError`` for a bad expression) with a one-line message.
    """
    if not isinstance(name_or_expression, str):
        raise GdsimError(f"surface must be a name or an expression, got {name_or_expression!r}")
    text = name_or_expression.strip()
    if not text:
        raise GdsimError("surface is empty: give a name (e.g. rosenbrock) or an expression in x, y")
    key = normalize_name(text)
    key = ALIASES.get(key, key)
    if key in SURFACES:
        return SURFACES[key]
    return expression_surface(text)


def expression_surface(text: str) -> Surface:
    """A Surface for a user expression: default domain, a start where f is finite."""
    from core.engine.expression import compile_expression  # lazily: only when an expression is used

    fn = _make_differentiable(compile_expression(text))
    return Surface(
        name=text,
        fn=fn,
        domain=EXPRESSION_DOMAIN,
        minima=(),
        start=_expression_start(fn),
        description=f"Your surface: f(x, y) = {text}",
        log_scale=False,
        is_expression=True,
    )


def _make_differentiable(fn: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """Make sure f(xy) has shape xy.shape[:-1] and is connected to xy in the autograd graph.

    A constant expression ("3") or one whose value does not track its input would otherwise break
    ``loss.backward()`` in the race; ``where(False, x, value)`` keeps the value (even inf) and gives
    a zero gradient. (core.engine.expression already does this; this guards any other callable.)
    """
    probe = torch.zeros((3, 2), dtype=torch.float64, requires_grad=True)
    try:
        out = fn(probe)
    except Exception:  # the expression module raises for bad input at compile time, not here
        return fn
    if isinstance(out, Tensor) and out.shape == (3,) and out.requires_grad:
        return fn

    def connected(xy: Tensor) -> Tensor:
        value = fn(xy)
        if not isinstance(value, Tensor):
            value = torch.as_tensor(value, dtype=xy.dtype)
        never = torch.zeros((), dtype=torch.bool)
        return torch.where(never, xy[..., 0], value.to(xy.dtype))

    return connected


def _expression_start(fn: Callable[[Tensor], Tensor]) -> tuple[float, float]:
    for start in _EXPRESSION_STARTS:
        p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        try:
            value = fn(p)
            (grad,) = torch.autograd.grad(value, p)
        except Exception:  # e.g. a runtime error in a user's expression: try the next candidate
            continue
        if bool(torch.isfinite(value).all()) and bool(torch.isfinite(grad).all()):
            return start
    return _EXPRESSION_STARTS[0]
