"""The surface registry: textbook minima, grids, names, and the expression fallback."""

import math

import numpy as np
import pytest
import torch

from core.engine.surfaces import SURFACES, Surface, get_surface, normalize_name, surface_names
from core.errors import GdsimError

TEXTBOOK = [
    "rosenbrock",
    "beale",
    "himmelblau",
    "booth",
    "rastrigin",
    "ackley",
    "goldstein-price",
    "six-hump-camel",
    "styblinski-tang",
]
TEACHING = ["bowl", "ravine", "saddle", "plateau"]


def _value_and_grad(surface: Surface, x: float, y: float) -> tuple[float, np.ndarray]:
    p = torch.tensor([x, y], dtype=torch.float64, requires_grad=True)
    value = surface(p)
    (grad,) = torch.autograd.grad(value, p)
    return float(value.detach()), grad.numpy()


def test_registry_has_required_surfaces():
    assert set(TEXTBOOK + TEACHING) <= set(surface_names())
    assert surface_names() == list(SURFACES)


@pytest.mark.parametrize(
    "name, minima",
    [
        ("rosenbrock", [(1, 1, 0)]),
        ("beale", [(3, 0.5, 0)]),
        (
            "himmelblau",
            [
                (3, 2, 0),
                (-2.805118, 3.131312, 0),
                (-3.779310, -3.283186, 0),
                (3.584428, -1.848126, 0),
            ],
        ),
        ("booth", [(1, 3, 0)]),
        ("rastrigin", [(0, 0, 0)]),
        ("ackley", [(0, 0, 0)]),
        ("goldstein-price", [(0, -1, 3)]),
        ("six-hump-camel", [(0.0898, -0.7126, -1.0316), (-0.0898, 0.7126, -1.0316)]),
        ("styblinski-tang", [(-2.903534, -2.903534, -78.33233)]),
        ("bowl", [(0, 0, 0)]),
        ("ravine", [(0, 0, 0)]),
    ],
)
def test_listed_minima_are_the_textbook_ones(name, minima):
    """The registry lists exactly the published global minima (to the published precision)."""
    listed = sorted((m.x, m.y, m.value) for m in SURFACES[name].minima)
    assert len(listed) == len(minima)
    for (x, y, v), (ex, ey, ev) in zip(listed, sorted(minima), strict=True):
        assert x == pytest.approx(ex, abs=1e-4)
        assert y == pytest.approx(ey, abs=1e-4)
        assert v == pytest.approx(ev, abs=1e-4)


@pytest.mark.parametrize("name", [n for n in SURFACES if SURFACES[n].minima])
def test_each_minimum_has_its_value_zero_gradient_and_is_lowest_nearby(name):
    surface = SURFACES[name]
    for m in surface.minima:
        value, grad = _value_and_grad(surface, m.x, m.y)
        assert value == pytest.approx(m.value, abs=1e-9, rel=1e-12)
        assert np.abs(grad).max() < 1e-6, (m, grad)
        # a ring of nearby points is strictly higher
        for k in range(16):
            a = 2 * math.pi * k / 16
            for r in (1e-3, 1e-2):
                assert surface.value(m.x + r * math.cos(a), m.y + r * math.sin(a)) > value


def test_saddle_has_no_minimum_and_is_unbounded_below():
    saddle = SURFACES["saddle"]
    assert saddle.minima == ()
    assert "no minimum" in saddle.description
    assert saddle.value(0, 10) < saddle.value(0, 1) < saddle.value(0, 0)


def test_plateau_is_flat_far_out_and_steep_at_the_cliff():
    plateau = SURFACES["plateau"]
    _, far = _value_and_grad(plateau, *plateau.start)
    _, cliff = _value_and_grad(plateau, 1.5, 0.0)
    assert np.linalg.norm(far) < 1e-4
    assert np.linalg.norm(cliff) > 1.0
    # the value only rises with radius: the origin is the one minimum
    radii = np.linspace(0, 4, 200)
    values = [plateau.value(r, 0.0) for r in radii]
    assert np.all(np.diff(values) > 0)


@pytest.mark.parametrize("name", list(SURFACES))
def test_every_surface_is_well_formed(name):
    s = SURFACES[name]
    (x0, x1), (y0, y1) = s.domain
    assert x0 < x1 and y0 < y1
    assert x0 <= s.start[0] <= x1 and y0 <= s.start[1] <= y1
    for m in s.minima:
        assert x0 <= m.x <= x1 and y0 <= m.y <= y1
    assert s.description and "\n" not in s.description
    value, grad = _value_and_grad(s, *s.start)
    assert math.isfinite(value) and np.all(np.isfinite(grad))
    # works on batches of any leading shape, in float64
    batch = torch.zeros((3, 4, 2), dtype=torch.float64)
    out = s(batch)
    assert out.shape == (3, 4) and out.dtype == torch.float64


def test_log_scale_flags():
    assert SURFACES["rosenbrock"].log_scale and SURFACES["goldstein-price"].log_scale
    assert SURFACES["beale"].log_scale
    assert not SURFACES["bowl"].log_scale and not SURFACES["saddle"].log_scale


@pytest.mark.parametrize("name", ["rosenbrock", "ackley", "goldstein-price", "plateau"])
def test_grid_matches_pointwise_evaluation(name):
    s = SURFACES[name]
    xs, ys, z = s.grid(n=97)  # odd size, not a multiple of the evaluation block
    assert xs.shape == (97,) and ys.shape == (97,) and z.shape == (97, 97)
    assert z.dtype == np.float64
    (x0, x1), (y0, y1) = s.domain
    assert xs[0] == x0 and xs[-1] == x1 and ys[0] == y0 and ys[-1] == y1
    rng = np.random.default_rng(0)
    for i, j in rng.integers(0, 97, size=(40, 2)):
        assert z[i, j] == pytest.approx(s.value(xs[j], ys[i]), rel=1e-12, abs=1e-12)


def test_grid_large_is_evaluated_in_blocks_correctly():
    s = SURFACES["himmelblau"]
    xs, ys, z = s.grid(n=300, domain=((-1.0, 1.0), (0.0, 2.0)))
    X, Y = np.meshgrid(xs, ys)
    expected = (X**2 + Y - 11) ** 2 + (X + Y**2 - 7) ** 2
    np.testing.assert_allclose(z, expected, rtol=1e-13)
    assert xs[0] == -1.0 and ys[-1] == 2.0


def test_grid_keeps_non_finite_values():
    s = get_surface("log(x)")
    xs, ys, z = s.grid(n=11)
    assert np.isnan(z[:, xs < 0]).all()
    assert np.isfinite(z[:, xs > 0]).all()


def test_grid_size_is_checked():
    with pytest.raises(GdsimError):
        SURFACES["bowl"].grid(n=1)
    with pytest.raises(GdsimError):
        SURFACES["bowl"].grid(n=100_000)


@pytest.mark.parametrize(
    "text",
    ["Six_Hump_Camel", "six-hump-camel", "SIX HUMP CAMEL", " six__hump-camel ", "camel"],
)
def test_names_are_case_insensitive_and_dash_underscore_agnostic(text):
    assert get_surface(text) is SURFACES["six-hump-camel"]


def test_normalize_name():
    assert normalize_name(" Goldstein_Price ") == "goldstein-price"
    assert get_surface("GOLDSTEIN_PRICE") is SURFACES["goldstein-price"]
    assert get_surface("Rosenbrock") is SURFACES["rosenbrock"]


def test_expression_fallback():
    s = get_surface("x**2 + 3*y**2")
    assert s.is_expression and s.name == "x**2 + 3*y**2"
    assert s.domain == ((-3.0, 3.0), (-3.0, 3.0))
    assert s.minima == ()
    assert s.value(1.0, 2.0) == pytest.approx(13.0)
    assert s.start in [(-2.0, 2.0), (2.0, 2.0), (2.0, -2.0), (-2.0, -2.0)]


def test_expression_start_avoids_non_finite_points():
    s = get_surface("log(x) + y")
    assert s.start[0] > 0
    assert math.isfinite(s.value(*s.start))


def test_constant_expression_is_still_differentiable():
    s = get_surface("3")
    value, grad = _value_and_grad(s, 0.5, 0.5)
    assert value == 3.0 and np.all(grad == 0)


@pytest.mark.parametrize("text", ["x +* y", "z + 1", "(x", "x)"])
def test_bad_expressions_raise_the_expression_error(text):
    from core.engine.expression import ExpressionError

    with pytest.raises(ExpressionError) as info:
        get_surface(text)
    assert isinstance(info.value, GdsimError)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("text", ["", "   ", None, 3])
def test_empty_or_non_text_is_refused(text):
    with pytest.raises(GdsimError):
        get_surface(text)
