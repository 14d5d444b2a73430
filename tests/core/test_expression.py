"""The expression compiler: values, gradients, error messages with columns, and hostile input.

User formulas come from a GUI field and from shared session files, so besides correctness these
tests pin down that bad text always ends as a one-line ExpressionError (never another exception,
a hang or a code path into Python's eval).
"""

import inspect
import math
import pickle
import sys

import hypothesis
import numpy as np
import pytest
import torch
from hypothesis import strategies as st

from core.engine.expression import (
    CONSTANTS,
    FUNCTIONS,
    MAX_DEPTH,
    MAX_LENGTH,
    ExpressionError,
    compile_expression,
    expression_help,
)
from core.errors import GdsimError

# A small grid with x, y > 0 and away from 1 so log/sqrt/pow are defined and distinct.
_XS = np.array([0.3, 0.7, 1.9, 2.6])
_YS = np.array([0.2, 1.3, 2.2])
_X, _Y = np.meshgrid(_XS, _YS, indexing="xy")
_XY = torch.from_numpy(np.stack([_X, _Y], axis=-1))  # (3, 4, 2) float64


def evaluate(text: str, xy: torch.Tensor = _XY) -> np.ndarray:
    out = compile_expression(text)(xy)
    assert out.shape == xy.shape[:-1]
    assert out.dtype == xy.dtype
    return out.detach().numpy()


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


X, Y = _X, _Y
VALUE_CASES = [
    # precedence and associativity
    ("x + y * 2", X + Y * 2),
    ("(x + y) * 2", (X + Y) * 2),
    ("x - y - 1", (X - Y) - 1),
    ("x / y / 2", (X / Y) / 2),
    ("x / y * 2", (X / Y) * 2),
    ("x * y ^ 2", X * Y**2),
    ("2 ^ 3 ^ 2", np.full_like(X, 2.0**9)),  # right-associative: 2^(3^2) = 512
    ("2 ** 3 ** 2", np.full_like(X, 512.0)),
    ("x ^ y ^ 0.5", X ** (Y**0.5)),
    ("x^2 + y**2", X**2 + Y**2),
    # unary minus binds looser than power, as in Python
    ("-x^2", -(X**2)),
    ("-x**2", -(X**2)),
    ("(-x)^2", X**2),
    ("2 ** -1", np.full_like(X, 0.5)),
    ("2 ^ -x ^ 2", 2.0 ** (-(X**2))),
    ("--x", X),
    ("-+-x", X),
    ("+x", X),
    ("x * -y", X * -Y),
    ("x - -y", X + Y),
    ("-x * y", -X * Y),
    ("-2 ^ 2", np.full_like(X, -4.0)),
    # numbers
    ("1e-3 * x", 1e-3 * X),
    ("1E3 + x", 1000 + X),
    ("2.5e+1 - y", 25 - Y),
    (".5 * x", 0.5 * X),
    ("2. * y", 2.0 * Y),
    ("007 + x", 7 + X),
    # whitespace anywhere, case-insensitive names
    ("  x\t+\n y  ", X + Y),
    ("X * Y", X * Y),
    ("SIN(X) + Cos(y)", np.sin(X) + np.cos(Y)),
    ("PI * x + E", np.pi * X + np.e),
    # functions
    ("sin(x) * cos(y)", np.sin(X) * np.cos(Y)),
    ("tan(x / 2)", np.tan(X / 2)),
    ("exp(-x) + log(y)", np.exp(-X) + np.log(Y)),
    ("ln(x)", np.log(X)),
    ("log2(x) + log10(y)", np.log2(X) + np.log10(Y)),
    ("sqrt(x + y)", np.sqrt(X + Y)),
    ("abs(x - 1)", np.abs(X - 1)),
    ("tanh(x - y)", np.tanh(X - Y)),
    ("sigmoid(x - y)", sigmoid(X - Y)),
    ("softplus(x - 2)", np.log1p(np.exp(X - 2))),
    ("relu(x - 1)", np.maximum(X - 1, 0)),
    ("sinh(y) + cosh(x)", np.sinh(Y) + np.cosh(X)),
    ("asin(y / 3) + arcsin(x / 3)", np.arcsin(Y / 3) + np.arcsin(X / 3)),
    ("acos(y / 3) + arccos(x / 3)", np.arccos(Y / 3) + np.arccos(X / 3)),
    ("atan(x) + arctan(y)", np.arctan(X) + np.arctan(Y)),
    ("atan2(y, x)", np.arctan2(Y, X)),
    ("atan2(-y, -x)", np.arctan2(-Y, -X)),
    ("min(x, y)", np.minimum(X, Y)),
    ("max(x, y)", np.maximum(X, Y)),
    ("max(x, 1)", np.maximum(X, 1)),
    ("pow(x, y)", X**Y),
    ("hypot(x, y)", np.hypot(X, Y)),
    ("sin(cos(exp(-x*y)))", np.sin(np.cos(np.exp(-X * Y)))),
    ("max(min(x, y), 0.5) ^ 2", np.maximum(np.minimum(X, Y), 0.5) ** 2),
    # textbook surfaces
    ("(1 - x)^2 + 100*(y - x^2)^2", (1 - X) ** 2 + 100 * (Y - X**2) ** 2),
    ("(x^2 + y - 11)^2 + (x + y^2 - 7)^2", (X**2 + Y - 11) ** 2 + (X + Y**2 - 7) ** 2),
    (
        "20 + x^2 - 10*cos(2*pi*x) + y^2 - 10*cos(2*pi*y)",
        20 + X**2 - 10 * np.cos(2 * np.pi * X) + Y**2 - 10 * np.cos(2 * np.pi * Y),
    ),
    (
        "-20*exp(-0.2*sqrt(0.5*(x^2+y^2))) - exp(0.5*(cos(2*pi*x)+cos(2*pi*y))) + e + 20",
        -20 * np.exp(-0.2 * np.sqrt(0.5 * (X**2 + Y**2)))
        - np.exp(0.5 * (np.cos(2 * np.pi * X) + np.cos(2 * np.pi * Y)))
        + np.e
        + 20,
    ),
]


@pytest.mark.parametrize(("text", "expected"), VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_values_match_numpy(text, expected):
    np.testing.assert_allclose(evaluate(text), expected, rtol=1e-12, atol=1e-12)


def test_every_registered_function_is_callable_with_its_arity():
    for name, func in FUNCTIONS.items():
        args = ", ".join(["x / 3"] * func.arity)
        out = evaluate(f"{name}({args})")
        assert np.isfinite(out).all(), name


def test_constants():
    assert CONSTANTS["pi"] == math.pi and CONSTANTS["e"] == math.e
    np.testing.assert_allclose(evaluate("pi"), np.full_like(X, math.pi))
    np.testing.assert_allclose(evaluate("e"), np.full_like(X, math.e))


@pytest.mark.parametrize("text", ["3", "pi", "2 ^ 10", "sin(pi / 2)", "-1.5", "max(2, 3)"])
def test_constant_expressions_broadcast_to_the_input_shape(text):
    expected = {"3": 3.0, "pi": math.pi, "2 ^ 10": 1024.0, "sin(pi / 2)": 1.0}
    expected |= {"-1.5": -1.5, "max(2, 3)": 3.0}
    f = compile_expression(text)
    for shape in [(2,), (5, 2), (4, 3, 2), (0, 2)]:
        out = f(torch.zeros(shape, dtype=torch.float64))
        assert out.shape == shape[:-1]
        assert torch.all(out == expected[text])
    assert f.variables == frozenset()


def test_constant_expression_stays_differentiable_with_zero_gradient():
    p = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    loss = compile_expression("7")(p)
    loss.backward()
    assert loss.item() == 7.0
    assert p.grad.tolist() == [0.0, 0.0]
    # an infinite input does not turn the constant into nan (as 0*x would)
    assert compile_expression("7")(torch.tensor([math.inf, 0.0])).item() == 7.0


def test_single_variable_is_not_a_view_of_the_input():
    xy = torch.tensor([[1.0, 2.0]])
    out = compile_expression("x")(xy)
    out += 10
    assert xy.tolist() == [[1.0, 2.0]]


def test_dtype_and_device_follow_the_input():
    f = compile_expression("x^2 + sin(y) + pi")
    xy32 = torch.tensor([[0.5, 1.0]], dtype=torch.float32)
    out = f(xy32)
    assert out.dtype == torch.float32 and out.device == xy32.device
    assert out.item() == pytest.approx(0.25 + math.sin(1.0) + math.pi, rel=1e-6)
    assert f(torch.tensor([[1, 2]])).dtype == torch.float64  # integers are promoted


def test_bad_input_tensor_shapes_are_programmer_errors():
    f = compile_expression("x + y")
    with pytest.raises(ValueError):
        f(torch.zeros(3, 3))
    with pytest.raises(ValueError):
        f(torch.tensor(1.0))
    with pytest.raises(TypeError):
        f([1.0, 2.0])
    with pytest.raises(TypeError):
        compile_expression(None)


def test_variables_attribute_and_repr_and_pickle():
    f = compile_expression("x^2 + 1")
    assert f.variables == frozenset({"x"})
    assert compile_expression("Y").variables == frozenset({"y"})
    assert "x^2 + 1" in repr(f)
    g = pickle.loads(pickle.dumps(f))
    assert torch.equal(g(_XY), f(_XY))


GRADIENT_CASES = [
    (
        "x^2 * y + sin(x * y)",
        lambda x, y: (2 * x * y + y * np.cos(x * y), x**2 + x * np.cos(x * y)),
    ),
    (
        "(1 - x)^2 + 100*(y - x^2)^2",
        lambda x, y: (-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)),
    ),
    ("x ^ y", lambda x, y: (y * x ** (y - 1), x**y * np.log(x))),
    ("exp(-x) / y", lambda x, y: (-np.exp(-x) / y, -np.exp(-x) / y**2)),
    ("-x^2 - 3*y", lambda x, y: (-2 * x, np.full_like(y, -3.0))),
    ("sqrt(x) + log(y)", lambda x, y: (0.5 / np.sqrt(x), 1 / y)),
    ("atan2(y, x)", lambda x, y: (-y / (x**2 + y**2), x / (x**2 + y**2))),
    (
        "sigmoid(x) * tanh(y)",
        lambda x, y: (
            sigmoid(x) * (1 - sigmoid(x)) * np.tanh(y),
            sigmoid(x) * (1 - np.tanh(y) ** 2),
        ),
    ),
    ("x^3", lambda x, y: (3 * x**2, np.zeros_like(y))),
]


@pytest.mark.parametrize(("text", "grad"), GRADIENT_CASES, ids=[c[0] for c in GRADIENT_CASES])
def test_autograd_gradients_match_analytic(text, grad):
    xy = _XY.clone().requires_grad_(True)
    compile_expression(text)(xy).sum().backward()
    gx, gy = grad(_X, _Y)
    np.testing.assert_allclose(xy.grad[..., 0].numpy(), gx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xy.grad[..., 1].numpy(), gy, rtol=1e-10, atol=1e-12)


def test_domain_errors_give_nan_or_inf_not_exceptions():
    xy = torch.tensor([[-1.0, 0.0]], dtype=torch.float64)
    assert torch.isnan(compile_expression("log(x)")(xy)).all()
    assert torch.isnan(compile_expression("sqrt(x)")(xy)).all()
    assert torch.isinf(compile_expression("1 / y")(xy)).all()
    assert torch.isnan(compile_expression("y / y")(xy)).all()
    assert torch.isinf(compile_expression("log(y)")(xy)).all()
    assert torch.isnan(compile_expression("0 / 0")(xy)).all()
    assert torch.isinf(compile_expression("1 / 0")(xy)).all()


def test_help_is_one_line_and_lists_the_registries():
    text = expression_help()
    assert "\n" not in text
    for name in [*FUNCTIONS, *CONSTANTS, "x", "y", "^"]:
        assert name in text


ERROR_CASES = [
    ("(x + y))", "unexpected ')' at column 8", 8),
    ("x + )", "unexpected ')' at column 5", 5),
    ("x + z", "unknown name 'z' at column 5 (use x and y)", 5),
    ("foo(x)", "unknown function 'foo' at column 1", 1),
    ("x + sinn(y)", "unknown function 'sinn' at column 5 (did you mean 'sin'?)", 5),
    ("sin(x, y)", "sin takes 1 argument, got 2 at column 1", 1),
    ("1 + atan2(x)", "atan2 takes 2 arguments, got 1 at column 5", 5),
    ("cos()", "cos takes 1 argument, got 0 at column 1", 1),
    ("sin(x", "missing ')' opened at column 4", 4),
    ("((x + y) * 2", "missing ')' opened at column 1", 1),
    ("max(x, (y", "missing ')' opened at column 8", 8),
    ("", "expression is empty", None),
    ("  \t ", "expression is empty", None),
    ("x +", "unexpected end of expression", 4),
    ("x * (y - ", "unexpected end of expression", 9),
    ("x + $", "unexpected character '$' at column 5", 5),
    ("2x", "unexpected 'x' at column 2 (write 2*x)", 2),
    ("x y", "unexpected 'y' at column 3 (write x*y)", 3),
    ("2(x + 1)", "unexpected '(' at column 2 (use * to multiply)", 2),
    ("(x + 1)(y)", "unexpected '(' at column 8 (use * to multiply)", 8),
    ("x(y)", "unexpected '(' at column 2 (use * to multiply)", 2),
    ("sin x", "function 'sin' needs parentheses at column 1 (write sin(...))", 1),
    ("x ^^ 2", "unexpected '^' at column 4", 4),
    ("x *** 2", "unexpected '*' at column 5", 5),
    ("* x", "unexpected '*' at column 1", 1),
    ("x, y", "unexpected ',' at column 2", 2),
    ("(x, y)", "unexpected ',' at column 3", 3),
    ("max(x,)", "unexpected ')' at column 7", 7),
    ("x × y", "unexpected character '×' at column 3 (use *)", 3),
]


@pytest.mark.parametrize(
    ("text", "message", "column"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES]
)
def test_error_messages_say_what_and_where(text, message, column):
    with pytest.raises(ExpressionError) as info:
        compile_expression(text)
    assert str(info.value) == message
    assert info.value.column == column
    assert isinstance(info.value, GdsimError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "__import__",
        "x.__class__",
        "x.real",
        "(x).__class__.__bases__",
        "lambda: 1",
        "lambda x: x",
        "'x'",
        '"x"',
        "x[0]",
        "[x, y]",
        "{x: y}",
        "x, y",
        "(x, y)",
        "x if y else 1",
        "x and y",
        "x == y",
        "x < y",
        "not x",
        "x % 2",
        "x // 2",
        "x @ y",
        "x; y",
        "x = 1",
        "open('f')",
        "eval('1')",
        "exec",
        "globals()",
        "print(x)",
        "getattr(x, 'real')",
        "1 j",
        "1j",
        "0x10",
        "f'{x}'",
        "# comment",
        "\\",
        "x\\\ny",
    ],
)
def test_no_python_evaluation_path(text):
    with pytest.raises(ExpressionError):
        compile_expression(text)


# ---------------------------------------------------------------------------------------------
# Hostile input: must finish quickly (no timing asserted) with a value or a clean ExpressionError.


def test_towers_of_powers_are_not_folded_in_python():
    f = compile_expression("x**9**9**9")
    out = f(torch.tensor([[2.0, 0.0], [0.5, 0.0], [1.0, 0.0]], dtype=torch.float64))
    assert out.tolist() == [math.inf, 0.0, 1.0]
    assert torch.isinf(compile_expression("9**9**9**9")(_XY)).all()
    assert torch.isinf(compile_expression("9^9^9^9^9^9^9^9")(_XY)).all()
    assert torch.isinf(compile_expression("(9**9)**(9**9)")(_XY)).all()


def test_giant_literals_become_inf_or_are_refused():
    assert torch.isinf(compile_expression("1" * 999)(_XY)).all()
    assert torch.isinf(compile_expression("1e999999999999")(_XY)).all()
    assert (compile_expression("1e-999999999999")(_XY) == 0).all()
    assert torch.isinf(compile_expression("x * " + "9" * 990)(_XY)).all()
    with pytest.raises(ExpressionError, match=r"too long \(5000 characters, at most 1000\)"):
        compile_expression("1" * 5000)


def test_length_limit_is_exact():
    compile_expression("x" + "+x" * ((MAX_LENGTH - 1) // 2))
    with pytest.raises(ExpressionError, match="too long") as info:
        compile_expression("x" + " " * MAX_LENGTH)
    assert info.value.column is None


@pytest.mark.parametrize(
    "text",
    [
        "(" * 500 + "x" + ")" * 499,
        "(" * 999,
        "-" * 500 + "x",
        "-" * 999 + "x",
        "+-" * 300 + "x",
        "sin(" * 199 + "x" + ")" * 199,
        "x" + "^x" * 400,
        "x" + "^-x" * 300,
        "2^" * 300 + "2",
        "max(x, " * 120 + "y" + ")" * 120,
    ],
    ids=lambda t: t[:12] + "...",
)
def test_deep_nesting_is_a_clean_error_not_a_recursion_error(text):
    assert len(text) <= MAX_LENGTH
    with pytest.raises(ExpressionError, match="nested too deeply") as info:
        compile_expression(text)
    assert info.value.column is not None


def test_nesting_up_to_the_limit_is_allowed():
    f = compile_expression("(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH)
    assert torch.equal(f(_XY), _XY[..., 0])
    assert torch.equal(compile_expression("-" * MAX_DEPTH + "x")(_XY), _XY[..., 0])
    with pytest.raises(ExpressionError, match="nested too deeply at column 65"):
        compile_expression("(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1))


def _recurse(n: int) -> int:
    return 0 if n == 0 else 1 + _recurse(n - 1)


def test_deepest_legal_nesting_needs_little_python_stack():
    # Only parentheses and calls recurse, a bounded number of frames per level, so the parser
    # works even when called from deep inside a GUI callback stack: compiled and evaluated with
    # 600 frames to spare, the deepest legal expressions give the right numbers.
    x, y = _XY[..., 0], _XY[..., 1]
    sines = x
    for _ in range(MAX_DEPTH):
        sines = torch.sin(sines)
    cases = [
        ("sin(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH, sines),
        ("max(x, " * (MAX_DEPTH - 1) + "y" + ")" * (MAX_DEPTH - 1), torch.maximum(x, y)),
        ("(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH, x),
        ("-(" * (MAX_DEPTH // 2) + "x" + ")" * (MAX_DEPTH // 2), x),  # an even number of minuses
    ]
    depth = len(inspect.stack())
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 600)
    try:
        with pytest.raises(RecursionError):  # the limit really bites at this depth
            _recurse(600)
        got = [compile_expression(text)(_XY) for text, _ in cases]
    finally:
        sys.setrecursionlimit(old)
    for (text, want), value in zip(cases, got, strict=True):
        assert torch.equal(value, want), text[:12]


def test_long_flat_chains_are_fine():
    # Left-associative chains are parsed in loops and evaluated without recursion.
    n = 333
    text = "+".join(["x"] * n)
    assert len(text) <= MAX_LENGTH
    np.testing.assert_allclose(evaluate(text), n * X)
    xy = _XY.clone().requires_grad_(True)
    compile_expression("*".join(["x"] * 300)[:999])(xy).sum().backward()
    assert xy.grad.shape == xy.shape


def test_evaluates_a_500x500_grid():
    xs = torch.linspace(-2, 2, 500, dtype=torch.float64)
    gx, gy = torch.meshgrid(xs, xs, indexing="xy")
    xy = torch.stack([gx, gy], dim=-1)
    z = compile_expression("(1 - x)^2 + 100*(y - x^2)^2")(xy)
    assert z.shape == (500, 500)
    assert torch.allclose(z, (1 - gx) ** 2 + 100 * (gy - gx**2) ** 2)


# ---------------------------------------------------------------------------------------------
# Property: any text either compiles to a working function or raises ExpressionError.

_ALPHABET = "xyXYe0123456789.+-*/^()(), \t\n" + "sincoatexplgqrbmhwdu_$#'\"[]{}:;!@&|<>=~`\\%×é"
_TOKENS = [
    *"xy+-*/^(),.e",
    "**",
    "1",
    "0",
    "2.5",
    "1e3",
    "1e-3",
    "9",
    " ",
    "pi",
    "X",
    *FUNCTIONS,
    "sin(",
    "max(",
    "atan2(",
    "zz",
    "2x",
    "$",
]


def _check_total(text: str) -> None:
    try:
        f = compile_expression(text)
    except ExpressionError as exc:
        assert "\n" not in str(exc) and str(exc)
        assert exc.column is None or 1 <= exc.column <= len(text) + 1
        return
    xy = torch.tensor([[0.5, -1.5], [2.0, 3.0], [0.0, 0.0]], dtype=torch.float64)
    xy.requires_grad_(True)
    out = f(xy)
    assert isinstance(out, torch.Tensor)
    assert out.shape == (3,) and out.dtype == torch.float64
    out.sum().backward()  # always differentiable, even for constant formulas
    assert xy.grad is not None and xy.grad.shape == xy.shape


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(st.text(alphabet=_ALPHABET, max_size=40))
def test_property_random_characters(text):
    _check_total(text)


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(st.lists(st.sampled_from(_TOKENS), max_size=25).map("".join))
def test_property_random_token_soup(text):
    _check_total(text)


@hypothesis.settings(max_examples=100, deadline=None)
@hypothesis.given(st.text(max_size=60))
def test_property_any_unicode(text):
    _check_total(text)
