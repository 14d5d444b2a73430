"""The code behind the picture: standalone PyTorch scripts that give the same numbers as gdsim.

``race_script(surface, runners, steps)`` and ``training_script(config)`` write a plain torch
program in the tutorial's style (needing only torch, never gdsim) that reproduces a race or a
training run from the same seed; ``python race.py out.json`` also saves its results, which is how
the tests compare it with gdsim. Registry surfaces and data sets are the engine's own functions,
copied by their source (:func:`_engine_source`), so there is one copy of each.

Safety: user text reaches a script only as sanitised ``#`` comments and string literals
(:func:`comment_text`); a formula becomes code only through :func:`expression_source`, which
emits fixed tokens from the parsed program, and values pass :func:`_literal`.
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
import math
import operator
import re
import sys
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from core.engine.expression import compile_epoch_function
from core.engine.optimizers import FUSED_ON_CPU, OptimizerSpec, as_spec, fused_kwargs
from core.engine.race import (
    DEFAULT_HORIZON,
    Runner,
    Swarm,
    as_scheduler,
    check_horizon,
    check_noise,
    check_point,
    check_schedule,
    check_seed,
    noise_stream,
)
from core.engine.schedulers import SchedulerSpec
from core.engine.surfaces import Surface, get_surface
from core.errors import GdsimError

__all__ = [
    "MAX_STEPS",
    "comment_text",
    "expression_source",
    "race_script",
    "training_script",
]

MAX_STEPS = 1_000_000
MAX_COMMENT = 160  # longest user text put into a comment line

# --------------------------------------------------------------------------------------------
# Safe pieces of code
# --------------------------------------------------------------------------------------------


def comment_text(text: str, limit: int = MAX_COMMENT) -> str:
    """User text made safe for a ``#`` comment or a string literal: one printable line.

    Every non-printable character (newlines, carriage returns, form feeds, U+2028, surrogates...)
    becomes a space, so the text cannot end a comment line and start code.
    """
    cleaned = "".join(c if c.isprintable() else " " for c in str(text))
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 3] + "..."
    return cleaned


def _string(text: str, limit: int = MAX_COMMENT) -> str:
    """A Python string literal (double-quoted) of sanitised user text. A JSON string of printable
    text is a valid Python literal with the same value."""
    return json.dumps(comment_text(text, limit), ensure_ascii=False)


def _float(value: float) -> str:
    value = float(value)
    if math.isnan(value):
        return 'float("nan")'
    if math.isinf(value):
        return "math.inf" if value > 0 else "-math.inf"
    return repr(value)


def _literal(value: Any) -> str:
    """Source for a plain value (a hyperparameter, a scheduler argument). Anything that is not a
    number, bool, None, string or a tuple/list of those is refused: no object can become code."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    raise GdsimError(f"cannot write {type(value).__name__} value {value!r} into a script")


def _call_args(items: Iterable[tuple[str, Any]]) -> str:
    return ", ".join(f"{name}={_literal(value)}" for name, value in items)


def _comment(text: str, limit: int = MAX_COMMENT, width: int = 96) -> str:
    """Sanitised text as ``#`` comment lines of at most ``width`` characters."""
    lines = textwrap.wrap(comment_text(text, limit), width - 2, break_long_words=True)
    return "\n".join(f"# {line}" for line in lines) or "#"


def _indent(code: str, spaces: int) -> str:
    return textwrap.indent(code, " " * spaces)


# --------------------------------------------------------------------------------------------
# Surfaces
# --------------------------------------------------------------------------------------------

# Precedence levels of the generated Python expression (higher binds tighter).
_ADD, _MUL, _UNARY, _POW, _ATOM = 1, 2, 3, 4, 5
_BINARY = {
    operator.add: ("+", _ADD),
    operator.sub: ("-", _ADD),
    operator.mul: ("*", _MUL),
    operator.truediv: ("/", _MUL),
    operator.pow: ("**", _POW),
}


def _function_names() -> dict[Any, str]:
    """torch callable -> its source name, for every function a formula may call."""
    from core.engine.expression import FUNCTIONS

    names: dict[Any, str] = {}
    for key, func in FUNCTIONS.items():
        name = getattr(func.fn, "__name__", "")
        if getattr(torch, name, None) is func.fn:
            names[func.fn] = f"torch.{name}"
        elif getattr(torch.nn.functional, name, None) is func.fn:
            names[func.fn] = f"torch.nn.functional.{name}"
        else:
            raise GdsimError(f"formula function {key!r} has no torch name to export")
    return names


def expression_source(text: str) -> str:
    """The body of ``f(xy)`` (after ``x, y = ...``) for a user formula, as torch code.

    Generated from the compiled program (the parser's output), never from the text: the only
    tokens are ``x``, ``y``, number literals, operators and torch function names. Mirrors the
    evaluation in ``CompiledExpression.__call__`` exactly: Python floats stay floats until they
    meet a tensor; two numbers combined become a tensor first (``x.new_tensor(2.0) ** 3.0``, so
    ``9^9^9`` is inf as in gdsim, not an OverflowError); function arguments are tensors.
    """
    from core.engine.expression import _BIN, _CALL, _NEG, _PUSH_NUM, _PUSH_VAR, compile_expression

    compiled = compile_expression(text)
    functions = _function_names()
    stack: list[tuple[str, int, bool]] = []  # (code, precedence, is a Python float)

    def wrap(item: tuple[str, int, bool], at_least: int) -> str:
        code, prec, _ = item
        return code if prec >= at_least else f"({code})"

    def tensor(item: tuple[str, int, bool]) -> tuple[str, int, bool]:
        code, _, is_float = item
        return (f"x.new_tensor({code})", _ATOM, False) if is_float else item

    for op, arg, nargs in compiled._program:  # the parsed program, see core.engine.expression
        if op == _PUSH_NUM:
            value = float(arg)
            code = {math.pi: "math.pi", math.e: "math.e"}.get(value, _float(value))
            stack.append((code, _ATOM if not code.startswith("-") else _UNARY, True))
        elif op == _PUSH_VAR:
            stack.append(("xy"[int(arg)], _ATOM, False))
        elif op == _NEG:
            item = stack.pop()
            inner = wrap(item, _UNARY)
            if inner.startswith("-"):
                inner = f"({inner})"
            stack.append((f"-{inner}", _UNARY, item[2]))
        elif op == _BIN:
            right, left = stack.pop(), stack.pop()
            if left[2] and right[2]:
                left = tensor(left)
            symbol, prec = _BINARY[arg]
            if prec == _POW:  # right-associative; the left side must be an atom: (-2) ** x
                code = f"{wrap(left, _ATOM)} ** {wrap(right, _UNARY)}"
            else:
                code = f"{wrap(left, prec)} {symbol} {wrap(right, prec + 1)}"
            stack.append((code, prec, False))
        elif op == _CALL:
            args = [tensor(a)[0] for a in stack[len(stack) - nargs :]]
            del stack[len(stack) - nargs :]
            stack.append((f"{functions[arg]}({', '.join(args)})", _ATOM, False))
        else:  # pragma: no cover - a new opcode in core.engine.expression
            raise GdsimError("this formula uses an operation the exporter does not know")
    (result,) = stack
    code = tensor(result)[0]
    if not compiled.variables:
        return (
            "# a constant: keep it connected to x (with zero gradient) so backward() works\n"
            f"return torch.where(torch.zeros((), dtype=torch.bool), x, {code})"
        )
    return f"return {code}"


def _surface_function(surface: Surface) -> str:
    """``def f(xy):`` for the surface: a registry surface's own engine function, renamed."""
    if surface.is_expression:
        about = _comment(f"The loss surface you typed: f(x, y) = {surface.name}", 400)
        body = f"    x, y = xy[..., 0], xy[..., 1]\n{_indent(expression_source(surface.name), 4)}"
        constants, code = [], f"def f(xy):\n{body}"
    else:
        about = f"# The loss surface: {surface.name}\n{_comment(surface.description)}"
        constants, functions = _engine_source(surface.fn)
        code = "\n\n\n".join([*functions[:-1], _renamed(functions[-1], "f")])
    where = "# xy holds points in its last dimension: xy[..., 0] is x, xy[..., 1] is y."
    head = "\n".join([about, *constants])
    return f"{head}\n\n\n{where}\n{code}" if constants else f"{head}\n{where}\n{code}"


@functools.cache
def _module_tree(module_name: str) -> tuple[str, dict[str, ast.stmt]]:
    """A module's source and its top-level constants and functions by name."""
    source = inspect.getsource(sys.modules[module_name])
    top: dict[str, ast.stmt] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            top[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    top[target.id] = node
    return source, top


def _engine_source(*functions: Any) -> tuple[list[str], list[str]]:
    """The source of engine functions as gdsim runs them: the module constants they use (one
    line each) and the functions, each helper before its first user. One copy of the code."""
    constants: list[tuple[int, str]] = []  # (line in the module, source): module order
    defs: list[str] = []
    seen: set[int] = set()

    def visit(module: str, node: ast.stmt) -> None:
        source, top = _module_tree(module)
        seen.add(id(node))
        for name in ast.walk(node):
            used = top.get(name.id) if isinstance(name, ast.Name) else None
            if used is not None and id(used) not in seen:
                visit(module, used)
        text = "\n".join(source.splitlines()[node.lineno - 1 : node.end_lineno])  # whole lines
        if isinstance(node, ast.FunctionDef):
            defs.append(text)
        else:
            constants.append((node.lineno, text))

    for fn in functions:
        node = _module_tree(fn.__module__)[1][fn.__name__]
        if id(node) not in seen:
            visit(fn.__module__, node)
    return [text for _, text in sorted(constants)], defs


def _renamed(function: str, name: str) -> str:
    """``def _x(xy: Tensor) -> Tensor:`` as ``def f(xy):``: the engine's names and annotations
    mean nothing in a script."""
    header, body = function.split("\n", 1)
    params = re.fullmatch(r"def \w+\((.*)\)(?: -> .+)?:", header)
    if params is None:
        raise GdsimError(f"cannot export {header!r}")
    args = ", ".join(p.split(":")[0].strip() for p in params[1].split(","))
    return f"def {name}({args}):\n{body}"


# --------------------------------------------------------------------------------------------
# Optimizers
# --------------------------------------------------------------------------------------------


def _optimizer_class(spec: OptimizerSpec) -> tuple[str, list[str]]:
    """Source of the optimizer class, and any import it needs (a registered third-party class)."""
    cls = spec.info.cls
    if getattr(torch.optim, cls.__name__, None) is cls:
        return f"torch.optim.{cls.__name__}", []
    path = spec.info.import_path
    if not path:
        raise GdsimError(f"optimizer {spec.name} cannot be imported by a script")
    module, _, attr = path.partition(":")  # validated by register_optimizer: dotted identifiers
    return f"{module}.{attr}", [f"import {module}  # provides {attr}"]


def _optimizer_kwargs(spec: OptimizerSpec) -> list[tuple[str, Any]]:
    """lr, then every hyperparameter whose value is not the torch class's own default."""
    try:
        signature = inspect.signature(spec.info.cls.__init__).parameters
    except (TypeError, ValueError):
        signature = {}
    out = []
    for name, value in spec.hparams().items():
        param = signature.get(name)
        default = None if param is None else param.default
        if name == "lr" or param is None or default is inspect.Parameter.empty:
            out.append((name, value))
        elif not _same(value, default):
            out.append((name, value))
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal as a hyperparameter: 0 and 0.0 are the same value, True and 1 are not."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _optimizer_call(spec: OptimizerSpec, params: str, switch: str = "") -> tuple[str, list[str]]:
    """``Class(params, hyperparameters..., switch)``; ``switch`` is source such as ``fused=True``."""
    cls, imports = _optimizer_class(spec)
    args = ", ".join(a for a in (_call_args(_optimizer_kwargs(spec)), switch) if a)
    return f"{cls}({params}{', ' if args else ''}{args})", imports


def _fused_switch(spec: OptimizerSpec, device: str) -> str:
    """The ``fused=`` argument the engine builds ``spec`` with (``fused_kwargs``: on the CPU for
    some classes), as source over the script's ``device``; "" when the engine passes none.
    ``device`` is a request ``_device_line`` accepted."""
    if spec.info.cls not in FUSED_ON_CPU:
        return ""
    if device == "auto":
        return 'fused=device.type == "cpu"'
    return "fused=True" if fused_kwargs(spec.info.cls, device) else ""


# --------------------------------------------------------------------------------------------
# The race
# --------------------------------------------------------------------------------------------

_RACE_HEAD = '''\
"""Optimizers racing on a 2-D surface: the code behind gdsim's picture.

Exported by gdsim. It needs nothing but PyTorch and gives the same numbers as gdsim.
Run it:   python race.py               (prints each optimizer's progress)
          python race.py results.json  (also saves every point and loss as JSON)

The "model" here is one point (x, y): a parameter holding two numbers. The "loss" is the height
of the surface at that point. Each step is the training loop you know: zero the old gradient,
backward (compute the gradient), let the optimizer step, then compute the loss at the new point.
Everything is float64, as in gdsim: near a minimum the interesting part happens at scales
float32 cannot see.
"""

import json
<<MATH>>import sys

import torch
<<IMPORTS>>

<<SURFACE>>


num_steps = <<STEPS>>
print_every = <<PRINT_EVERY>>

# gdsim stops a runner whose point goes this far out, or whose loss gets this big: it diverged.
X_LIMIT = 1e6
LOSS_LIMIT = 1e12


<<NOISE_HEAD>>def race(name, point, optimizer<<EXTRA_ARGS>><<CLOSURE_ARG>>):
    """Let one optimizer move `point` downhill for num_steps steps; return its path."""
<<START>>
    points, losses = [point.tolist()], [loss.item()]
<<LRS_INIT>>    x, y = points[0]
    if not (abs(losses[0]) <= LOSS_LIMIT and abs(x) <= X_LIMIT and abs(y) <= X_LIMIT):
        print(f"{name}: the loss at the start is {losses[0]}: nothing to do")
        return {"name": name, "points": points, "losses": losses, <<LRS_OUT>>"status": "diverged"}
    for step in range(1, num_steps + 1):
<<STEP>>

        x, y = point.tolist()
        if not (abs(loss.item()) <= LOSS_LIMIT and abs(x) <= X_LIMIT and abs(y) <= X_LIMIT):
            print(f"{name}: diverged at step {step} (loss {loss.item()}); try a smaller lr")
            return {"name": name, "points": points, "losses": losses, <<LRS_OUT_INNER>>"status": "diverged"}
        points.append([x, y])
        losses.append(loss.item())
<<SCHEDULER_STEP>>        if step % print_every == 0:
            print(
                f"[{name}] Step [{step}/{num_steps}], Loss: {loss.item():.4f}, "
                f"Point: ({x:.4f}, {y:.4f})"
            )
    return {"name": name, "points": points, "losses": losses, <<LRS_OUT>>"status": "ok"}


results = []
'''

_RACE_START_PLAIN = "    loss = f(point)  # forward pass: the loss at the start"
_RACE_START_CLOSURE = """\
    if use_closure:
        with torch.no_grad():
            loss = f(point)  # the loss at the start (the closure computes its own)
    else:
        loss = f(point)  # forward pass: the loss at the start (kept for the first backward)"""

_RACE_STEP_PLAIN = """\
optimizer.zero_grad()  # 1. clear the gradient of the previous step
loss.backward()  # 2. backward pass: the gradient of f at the current point
<<ADD_NOISE>>optimizer.step()  # 3. the optimizer moves the point
loss = f(point)  # 4. forward pass: the loss at the new point"""

_RACE_ADD_NOISE = """\
if generator is not None:  # gradient noise, as a mini-batch would give
    noise = torch.randn(2, generator=generator, dtype=torch.float64)
    point.grad.add_(noise, alpha=noise_sigma)  # p.grad += noise_sigma * noise
"""

_RACE_NOISE_HEAD = """\
# Gradient noise: every step adds noise_sigma * N(0, 1) to each coordinate of the gradient, as
# estimating it from a random mini-batch would. Each optimizer draws from its own seeded
# torch.Generator, so the run is reproducible; a different seed gives different draws.
noise_sigma = <<SIGMA>>


"""

_RACE_STEP_CLOSURE = """\
if use_closure:
    # LBFGS evaluates the loss and gradient itself, maybe several times per step,
    # so it gets a function (a "closure") that does zero_grad, forward and backward
    def closure():
        optimizer.zero_grad()
        loss = f(point)
        loss.backward()
<<CLOSURE_NOISE>>        return loss

    optimizer.step(closure)
    with torch.no_grad():
        loss = f(point)  # the loss at the new point
else:
"""

_RACE_TAIL = """

if len(sys.argv) > 1:  # python race.py results.json
    with open(sys.argv[1], "w", encoding="utf-8") as fh:
        json.dump({"surface": <<SURFACE_NAME>>, "runs": results}, fh, indent=1)
    print(f"Saved the results to {sys.argv[1]}")
"""


class _Part:
    """One runner as the script needs it."""

    __slots__ = ("spec", "start", "label", "scheduler", "horizon", "sigma", "stream")

    def __init__(self, spec, start, label, scheduler=None, horizon=None, sigma=None, stream=None):
        self.spec: OptimizerSpec = spec
        self.start: tuple[float, float] = start
        self.label: str = label
        self.scheduler: SchedulerSpec | None = scheduler
        self.horizon: int | None = horizon
        self.sigma: float | None = sigma
        self.stream: int | None = stream


def _runner_parts(item: Any, surface: Surface) -> _Part:
    """What the caller passed as a runner (see race_script), as a :class:`_Part`."""
    if isinstance(item, Runner):
        return _Part(
            item.spec,
            check_point(item.start),
            item.label,
            item.scheduler,
            item.horizon,
            item.noise,
            item.noise_stream,
        )
    if isinstance(item, (OptimizerSpec, str)):
        spec = as_spec(item)
        return _Part(spec, check_point(surface.start), str(spec))
    if isinstance(item, (tuple, list)) and len(item) in (2, 3, 4):
        spec = as_spec(item[0])
        start = surface.start if item[1] is None else item[1]
        label = str(item[2]) if len(item) >= 3 and item[2] is not None else str(spec)
        scheduler = as_scheduler(item[3]) if len(item) == 4 else None
        return _Part(spec, check_point(start), label, scheduler)
    raise GdsimError(f"a runner must be a Runner, a SPEC or (SPEC, start), got {item!r}")


def _scheduler_step_code(kinds: set[str]) -> str:
    """``step_scheduler(scheduler, loss)`` with a branch for each kind of scheduler used."""
    lines = [
        "def step_scheduler(scheduler, loss):",
        '    """After each optimizer.step(): the scheduler sets the lr for the next step.',
        "",
        "    On a surface there are no batches or epochs: one step is both, so every scheduler",
        '    steps once per step."""',
    ]
    branches: list[tuple[str, list[str]]] = []
    if "ReduceLROnPlateau" in kinds:
        branches.append(
            (
                "isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)",
                ["scheduler.step(loss.item())  # lowers the lr when the loss stops improving"],
            )
        )
    if "OneCycleLR" in kinds:
        branches.append(
            (
                "isinstance(scheduler, torch.optim.lr_scheduler.OneCycleLR)",
                [
                    "# torch raises past total_steps, and its value at total_steps lies past",
                    "# the cycle: once the cycle's last rate is in force, it stays",
                    "if scheduler.last_epoch < scheduler.total_steps - 1:",
                    "    scheduler.step()",
                ],
            )
        )
    if not branches:
        lines.append("    scheduler.step()")
        return "\n".join(lines)
    for i, (test, body) in enumerate(branches):
        lines.append(f"    {'if' if i == 0 else 'elif'} {test}:")
        lines += [f"        {line}" for line in body]
    if kinds - {"ReduceLROnPlateau", "OneCycleLR"}:
        lines += ["    else:", "        scheduler.step()"]
    return "\n".join(lines)


def _scheduler_call(sched: SchedulerSpec, kwargs: dict[str, Any], defs: list[str]) -> list[str]:
    """``torch.optim.lr_scheduler.X(`` + one source line per argument + ``)``, for resolved
    ``kwargs``. A formula (``lr_lambda``) becomes a ``def`` appended to ``defs``, generated
    from its parsed program (the typed text only ever reaches a comment); a composition's parts
    are calls of their own."""
    exprs = {a.name for a in sched.info.args if a.kind == "expr"}
    args: list = ["optimizer=optimizer" if sched.info.composite else "optimizer"]
    for name, value in kwargs.items():
        if name == "schedulers":
            parts = [_scheduler_call(part, kw, defs) for part, kw in value]
            args.append([f"{h}{', '.join(_flat(a))}{t}" for h, *a, t in parts])
        elif name in exprs:
            fname = f"lr_lambda_{len(defs) + 1}"
            source = compile_epoch_function(value).python_source(fname)
            defs.append(f"{_comment(f'{sched.name} lr_lambda: {value}')}\n{source}")
            args.append(f"{name}={fname}")
        else:
            args.append(f"{name}={_literal(value)}")
    return [f"torch.optim.lr_scheduler.{sched.name}(", *args, ")"]


def _flat(args: list) -> list[str]:
    """A call's arguments on one line each (a composition's parts: ``schedulers=[...]``)."""
    return [a if isinstance(a, str) else f"schedulers=[{', '.join(a)}]" for a in args]


def _scheduler_lines(sched: SchedulerSpec, kwargs: dict[str, Any]) -> list[str]:
    """``scheduler = ...`` for a scheduler with resolved ``kwargs`` (after any defs it needs):
    on one line when it fits, else one argument per line as a formatter would write it."""
    defs: list[str] = []
    head, *args, tail = _scheduler_call(sched, kwargs, defs)
    one_line = f"scheduler = {head}{', '.join(_flat(args))}{tail}"
    lines = [line for d in defs for line in d.rstrip().splitlines()]
    if len(one_line) <= 99:
        return [*lines, one_line]
    lines.append(f"scheduler = {head}")
    for a in args:
        if isinstance(a, str):
            lines.append(f"    {a},")
        else:
            lines += ["    schedulers=[", *(f"        {call}," for call in a), "    ],"]
    return [*lines, tail]


def race_script(
    surface: Surface | str,
    runners: Sequence[Any],
    steps: int,
    noise: float | None = None,
    seed: int | None = None,
    horizon: int | None = None,
) -> str:
    """A standalone script racing ``runners`` on ``surface`` for ``steps`` steps, each as the race
    steps it, so points, losses and lrs agree with ``gdsim trace`` to the last bit.

    ``runners``: :class:`~core.engine.race.Runner` objects, SPECs, or ``(spec, start[, label[,
    scheduler]])`` tuples (start None: the surface's). ``noise``/``seed``/``horizon`` given apply
    to every runner, else each Runner's own. Live changes made mid-race are not replayed, and
    swarms are only named in a comment.
    """
    if not isinstance(surface, Surface):
        surface = get_surface(surface)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise GdsimError(f"steps must be between 1 and {MAX_STEPS:,}, got {steps!r}")
    noise = None if noise is None else check_noise(noise)
    seed = None if seed is None else check_seed(seed)
    horizon = None if horizon is None else check_horizon(horizon)
    parts: list[_Part] = []
    skipped = []
    for index, item in enumerate(runners):
        if isinstance(item, Swarm):
            skipped.append(item)
            continue
        part = _runner_parts(item, surface)
        if noise is not None or part.sigma is None:
            part.sigma = noise or 0.0
        if seed is not None or part.stream is None:
            part.stream = noise_stream(seed or 0, index)
        if horizon is not None or part.horizon is None:
            part.horizon = horizon or DEFAULT_HORIZON
        parts.append(part)
    if not parts and not skipped:
        raise GdsimError("give at least one optimizer to race")
    any_closure = any(p.spec.info.needs_closure for p in parts)
    sigmas = {p.sigma for p in parts if p.sigma}
    if len(sigmas) > 1:
        raise GdsimError("every runner of a race has the same gradient noise; got several")
    sigma = sigmas.pop() if sigmas else 0.0
    kinds = {p.scheduler.name for p in parts if p.scheduler is not None}

    imports: list[str] = []
    blocks = []
    for part in parts:
        spec, (x, y), label = part.spec, part.start, part.label
        call, extra = _optimizer_call(spec, "[point]")
        imports += [i for i in extra if i not in imports]
        lines = [
            _comment(f"{label}, starting at ({_float(x)}, {_float(y)})"),
            f"point = torch.nn.Parameter(torch.tensor([{_float(x)}, {_float(y)}], "
            "dtype=torch.float64))",
            f"optimizer = {call}",
        ]
        args = ""
        if kinds:
            if part.scheduler is None:
                lines.append("scheduler = None  # a constant learning rate")
            else:
                kwargs = check_schedule(spec, part.scheduler, part.horizon)
                lines += _scheduler_lines(part.scheduler, kwargs)
            args += ", scheduler"
        if sigma:
            lines.append(
                f"generator = torch.Generator().manual_seed({part.stream})"
                "  # its own noise: 1000 * seed + its place"
            )
            args += ", generator"
        closure = ", use_closure=True" if spec.info.needs_closure else ""
        lines.append(f"results.append(race({_string(label)}, point, optimizer{args}{closure}))")
        blocks.append("\n".join(lines))
    for swarm in skipped:
        blocks.append(
            _comment(
                f"(not included: the swarm {swarm.label} of {swarm.size} start points; a script"
                " runs one point per optimizer)",
                400,
            )
        )

    plain = _RACE_STEP_PLAIN.replace("<<ADD_NOISE>>", _RACE_ADD_NOISE if sigma else "")
    if any_closure:
        closure_noise = _indent(_RACE_ADD_NOISE, 8) if sigma else ""
        step_code = _RACE_STEP_CLOSURE.replace("<<CLOSURE_NOISE>>", closure_noise)
        step_code += _indent(plain, 4)
    else:
        step_code = plain
    extra_args = (", scheduler" if kinds else "") + (", generator" if sigma else "")
    head = ""
    if sigma:
        head = _RACE_NOISE_HEAD.replace("<<SIGMA>>", _float(sigma))
    if kinds:
        head += _scheduler_step_code(kinds) + "\n\n\n"
    surface_code = _surface_function(surface)
    script = (
        _RACE_HEAD.replace("<<IMPORTS>>", "\n".join(imports))
        .replace("<<MATH>>", "import math\n" if "math." in surface_code else "")
        .replace("<<SURFACE>>", surface_code)
        .replace("<<STEPS>>", str(steps))
        .replace("<<PRINT_EVERY>>", str(max(1, steps // 10)))
        .replace("<<NOISE_HEAD>>", head)
        .replace("<<EXTRA_ARGS>>", extra_args)
        .replace("<<CLOSURE_ARG>>", ", use_closure=False" if any_closure else "")
        .replace("<<START>>", _RACE_START_CLOSURE if any_closure else _RACE_START_PLAIN)
        .replace("<<STEP>>", _indent(step_code, 8))
        .replace(
            "<<LRS_INIT>>",
            '    lrs = [optimizer.param_groups[0]["lr"]]  # the lr each step uses\n'
            if kinds
            else "",
        )
        .replace("<<LRS_OUT_INNER>>", '"lr": lrs,\n' + " " * 20 if kinds else "")
        .replace("<<LRS_OUT>>", '"lr": lrs, ' if kinds else "")
        .replace(
            "<<SCHEDULER_STEP>>",
            "        if scheduler is not None:\n"
            "            step_scheduler(scheduler, loss)  # after optimizer.step(), as always\n"
            '        lrs.append(optimizer.param_groups[0]["lr"])\n'
            if kinds
            else "",
        )
    )
    script += "\n" + "\n\n".join(blocks) + "\n"
    script += _RACE_TAIL.replace("<<SURFACE_NAME>>", _string(surface.name, 2000))
    return _tidy(script)


def _tidy(script: str) -> str:
    """No trailing spaces, at most two blank lines in a row, one final newline."""
    lines = [line.rstrip() for line in script.splitlines()]
    text = "\n".join(lines)
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    return text.strip("\n") + "\n"


# --------------------------------------------------------------------------------------------
# The training run
# --------------------------------------------------------------------------------------------

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")

_TRAIN_HEAD = '''\
"""Training a small neural network on a 2-D data set: the code behind gdsim's picture.

Exported by gdsim. It needs nothing but PyTorch and gives the same losses as gdsim.
Run it:   python train.py               (prints the tutorial's progress lines)
          python train.py results.json  (also saves the per-epoch losses as JSON)

<<ABOUT>>
"""

import json
import math
import sys

import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler, TensorDataset
<<IMPORTS>>

seed = <<SEED>>
num_epochs = <<EPOCHS>>
batch_size = <<BATCH>>
log_every = <<LOG_EVERY>>  # a progress line every this many batches (the tutorial: 100)
<<DEVICE>>



# --- The data set ---------------------------------------------------------------------------
<<DATA_ABOUT>>


<<MAKE_DATA>>


# Every draw comes from one seeded generator: the same points and split as gdsim's
gen = torch.Generator().manual_seed(seed)
x_all, y_all = <<DATA_CALL>>
x_all = x_all.float()  # float32, as the model computes
train_idx, val_idx = split(gen, <<SAMPLES>>, <<N_VAL>>)  # <<N_VAL>> points held out for validation
train_set = TensorDataset(x_all[train_idx], y_all[train_idx])
x_val, y_val = x_all[val_idx].to(device), y_all[val_idx].to(device)


# --- The model ------------------------------------------------------------------------------
<<INIT_MODEL>>


def make_model():
    """A small MLP: one score per class (CrossEntropyLoss applies the softmax)."""
    model = nn.Sequential(
<<LAYERS>>
    )
    init_like_pytorch(model, seed)
    return model


loss_fn = nn.CrossEntropyLoss()


# --- The training loop ----------------------------------------------------------------------
def train(name, model, optimizer<<TRAIN_ARGS>>):
    """The tutorial's training loop, plus a validation pass after every epoch."""
    # Shuffled batches, a new order every epoch; the seeded generator gives gdsim's order
    sampler = RandomSampler(train_set, generator=torch.Generator().manual_seed(seed))
    train_loader = DataLoader(train_set, batch_size=batch_size, sampler=sampler)
    prefix = <<PREFIX>>
    history, batch_losses = [], []

    def finish(state):
        return {"name": name, "state": state, "epochs": history, "batch_losses": batch_losses}

<<EARLY_INIT>>
    model.train()  # Set the model to training mode
    for epoch in range(num_epochs):
        model.train()  # (again: the validation pass below switches to eval mode)
        epoch_losses = []
        for batch_idx, (data, targets) in enumerate(train_loader):
            lr = optimizer.param_groups[0]["lr"]
            # 1. Move data to the target device (e.g., GPU)
            data = data.to(device)
            targets = targets.to(device)

<<STEP>>
<<BATCH_SCHEDULER>>
            batch_losses.append(loss.item())
            epoch_losses.append(loss.item())

            # Print progress
            if batch_idx % log_every == 0:
                print(
                    f"{prefix}Epoch [{epoch + 1}/{num_epochs}], "
                    f"Batch [{batch_idx}/{len(train_loader)}], Loss: {loss.item():.4f}"
                )
            if not math.isfinite(loss.item()):
                print(f"{prefix}Diverged: loss became {loss.item()} in epoch {epoch + 1}, "
                      f"batch {batch_idx} (try a smaller learning rate)")
                return finish("diverged")

        # Validation after each epoch: no gradients needed, eval mode
        model.eval()
        with torch.no_grad():
            scores = model(x_val)
            val_loss = loss_fn(scores, y_val).item()
            val_accuracy = (scores.argmax(dim=1) == y_val).float().mean().item()
        if not math.isfinite(val_loss):
            print(f"{prefix}Diverged: validation loss became {val_loss} at the end of epoch "
                  f"{epoch + 1} (try a smaller learning rate)")
            return finish("diverged")
        train_loss = sum(epoch_losses) / len(epoch_losses)
        # gdsim also calls a finite but absurd loss diverged: above 1000 x the first batch's loss
        # (at least 1000) at an epoch's end, for the validation or the mean training loss
        loss_limit = 1000.0 * max(1.0, batch_losses[0])
        for what, value in (("validation loss", val_loss), ("mean training loss", train_loss)):
            if value > loss_limit:
                print(f"{prefix}Diverged: {what} {value:.3g} exceeded the limit {loss_limit:.4g} "
                      f"at the end of epoch {epoch + 1} (try a smaller learning rate)")
                return finish("diverged")
        print(
            f"{prefix}Epoch [{epoch + 1}/{num_epochs}], Validation Loss: {val_loss:.4f}, "
            f"Validation Accuracy: {val_accuracy:.4f}, Train Loss: {train_loss:.4f}, LR: {lr:.4g}"
        )
        history.append(
            {"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss,
             "val_accuracy": val_accuracy, "lr": lr}
        )
<<EPOCH_SCHEDULER>>
<<EARLY_STOP>>
    return finish("finished")


results = []
'''

_TRAIN_STEP_PLAIN = """\
# 2. Forward Pass: Get model predictions
scores = model(data)
loss = loss_fn(scores, targets)

# 3. Backward Pass: Compute gradients
# First, zero out gradients from the previous step
optimizer.zero_grad()
loss.backward()

# 4. Update Parameters: Tell the optimizer to take a step
optimizer.step()"""

_TRAIN_STEP_CLOSURE = """\
if use_closure:
    # LBFGS evaluates the loss (and gradients) itself, possibly several times,
    # through a function (a "closure") doing the forward and backward pass
    def closure():
        optimizer.zero_grad()
        loss = loss_fn(model(data), targets)
        loss.backward()
        return loss

    loss = optimizer.step(closure)  # the loss of its first evaluation
else:
""" + _indent(_TRAIN_STEP_PLAIN, 4)

_EARLY_INIT = """\
    # Early stopping: watch whether the validation loss still improves (by more than 1e-4)
    best_val, best_epoch, since_best, warned = math.inf, 0, 0, False"""

_EARLY_STOP = """\
        if val_loss < best_val - 1e-4:
            best_val, best_epoch, since_best = val_loss, epoch + 1, 0
        else:
            since_best += 1
        if since_best >= patience and not warned:
            warned = True
            print(
                f"{prefix}Early stopping: validation loss has not improved for {patience} "
                f"epochs (best {best_val:.4f} at epoch {best_epoch})<<WHAT>>"
            )<<STOP>>"""

_TRAIN_TAIL = """

if len(sys.argv) > 1:  # python train.py results.json
    with open(sys.argv[1], "w", encoding="utf-8") as fh:
        json.dump({"runs": results}, fh, indent=1)
    print(f"Saved the results to {sys.argv[1]}")
"""


_FUSED_COMMENT = """\
# fused: torch updates every parameter in one kernel instead of a loop over them. Same maths,
# faster on the CPU; gdsim trains the same way (the rounding can differ in the last bit)."""


def _device_text(request: str) -> str:
    """A device request as written in code: "auto", "cpu", "cuda:1", "mps" (GdsimError if not)."""
    text = str(request).strip().lower().replace(" ", "")
    if not _DEVICE.match(text):
        raise GdsimError(f"unknown device {comment_text(request, 40)!r} (use auto, cpu, cuda, mps)")
    return text


def _device_line(request: str) -> str:
    text = _device_text(request)
    if text == "auto":
        return """\
# Use a GPU if there is one, as gdsim's device "auto" does
if torch.cuda.is_available():
    device = torch.device("cuda")
elif torch.backends.mps.is_available():
    device = torch.device("mps")  # an Apple GPU
else:
    device = torch.device("cpu")"""
    return f"device = torch.device({json.dumps(text)})"


def training_script(config: Any, log_every: int = 100) -> str:
    """A standalone script training like ``TrainingEngine(config)`` does (race lanes one after
    another), printing what ``gdsim train --log-every`` prints. Losses agree to float32 rounding:
    the engine evaluates validation and training points in one pass."""
    from core.engine.datasets import get_dataset, split
    from core.engine.training import TrainConfig, _positive_int, get_activation, init_like_pytorch

    if not isinstance(config, TrainConfig):
        raise GdsimError(f"training_script needs a TrainConfig, got {type(config).__name__}")
    log_every = _positive_int("log_every", log_every, sys.maxsize)
    data = config.make_data()  # validates every data set option (GdsimError)
    params = data.params
    name = data.name
    make = get_dataset(name).generate
    option_names = [o.name for o in get_dataset(name).options]
    n_train, n_val = len(data.train_idx), len(data.val_idx)
    steps_per_epoch = -(-n_train // config.batch_size)
    specs = config.optimizer_specs()
    sched: SchedulerSpec | None = config.scheduler_spec()
    any_closure = any(s.info.needs_closure for s in specs)
    act = get_activation(config.activation)
    act_code = f"nn.{act.__name__}()"
    if getattr(torch.nn, act.__name__, None) is not act:
        raise GdsimError(f"activation {config.activation!r} cannot be exported")

    widths = (2, *config.hidden, data.n_classes)
    layer_lines = []
    for i, (a, b) in enumerate(zip(widths, widths[1:], strict=False)):
        last = i == len(widths) - 2
        layer_lines.append(f"        nn.Linear({a}, {b}),{'' if last else ' ' + act_code + ','}")

    options = "".join(f", {o}={int(params[o])}" for o in option_names)
    data_call = (
        f"{make.__name__}(gen, n={params['samples']}, noise={_float(params['noise'])}{options})"
    )
    constants, functions = _engine_source(make, split)
    noise_text = f"noise {params['noise']:g}"
    extra = "".join(f", {o} {params[o]}" for o in option_names)
    data_about = (
        f"{name}: {get_dataset(name).description}; {params['samples']} points, "
        f"{noise_text}{extra}, "
        f"{n_val} held out for validation."
    )

    # the step, the scheduler, early stopping
    step = _indent(_TRAIN_STEP_CLOSURE if any_closure else _TRAIN_STEP_PLAIN, 12)
    batch_sched = epoch_sched = ""
    train_args = ", use_closure=False" if any_closure else ""
    if sched is not None:
        train_args = ", scheduler" + train_args
        interval = sched.interval
        if interval == "batch":
            if sched.info.name == "OneCycleLR":
                batch_sched = (
                    "            # OneCycleLR sets the lr after every batch. torch raises past"
                    " total_steps, and its\n"
                    "            # value at total_steps lies past the cycle: the last rate"
                    " then stays\n"
                    "            if scheduler.last_epoch < scheduler.total_steps - 1:\n"
                    "                scheduler.step()"
                )
            else:
                batch_sched = f"            scheduler.step()  # {sched.info.name} sets the lr after every batch"
        elif interval == "plateau":
            epoch_sched = (
                "        scheduler.step(val_loss)  # lowers the lr when val_loss stops improving"
            )
        else:
            epoch_sched = (
                f"        scheduler.step()  # {sched.info.name}: the lr for the next epoch"
            )
    early_init = early_stop = ""
    if config.patience is not None:
        early_init = _EARLY_INIT
        stop = config.stop_early
        early_stop = _EARLY_STOP.replace(
            "<<WHAT>>", "; stopping" if stop else "; training would stop here"
        ).replace(
            "<<STOP>>",
            '\n            return finish("stopped early")' if stop else "",
        )
        early_init = early_init + f"\n    patience = {config.patience}"

    race = len(specs) > 1
    device = _device_text(config.device)
    imports: list[str] = []
    blocks = []
    names: list[str] = []
    for spec in specs:
        label = str(spec)
        if label in names:
            label = f"{label} #{names.count(label) + 1}"
        names.append(str(spec))
        switch = _fused_switch(spec, device)
        call, extra_imports = _optimizer_call(spec, "model.parameters()", switch)
        imports += [i for i in extra_imports if i not in imports]
        lines = [_comment(label), "model = make_model().to(device)"]
        if switch and not any("fused=" in b for b in blocks):
            lines.append(_FUSED_COMMENT)
        lines.append(f"optimizer = {call}")
        args = ""
        if sched is not None:
            kwargs = _scheduler_kwargs(sched, spec, config.epochs, steps_per_epoch)
            lines += _scheduler_lines(sched, kwargs)
            args += ", scheduler"
        if any_closure:
            args += f", use_closure={spec.info.needs_closure}"
        lines.append(f"results.append(train({_string(label)}, model, optimizer{args}))")
        blocks.append("\n".join(lines))

    sizes = "-".join(str(w) for w in widths)
    about_lines = [
        f"Data: {name}, {params['samples']} points ({noise_text}{extra}), {n_val} for validation.",
        f"Model: an MLP {sizes} with {act.__name__}; CrossEntropyLoss.",
        f"Training: {config.epochs} epochs, batch size {config.batch_size}, seed {config.seed}.",
    ]
    about = "\n".join(about_lines)
    script = (
        _TRAIN_HEAD.replace("<<ABOUT>>", about)
        .replace("<<IMPORTS>>", "\n".join(imports))
        .replace("<<SEED>>", str(params["seed"]))
        .replace("<<EPOCHS>>", str(config.epochs))
        .replace("<<BATCH>>", str(config.batch_size))
        .replace("<<LOG_EVERY>>", str(log_every))
        .replace("<<DEVICE>>", _device_line(config.device))
        .replace("<<DATA_ABOUT>>", _comment(data_about, 300))
        .replace(
            "<<MAKE_DATA>>", "\n\n\n".join(["\n".join(constants)] * bool(constants) + functions)
        )
        .replace("<<DATA_CALL>>", data_call)
        .replace("<<N_VAL>>", str(n_val))
        .replace("<<SAMPLES>>", str(params["samples"]))
        .replace("<<LAYERS>>", "\n".join(layer_lines))
        .replace("<<INIT_MODEL>>", "\n\n\n".join(_engine_source(init_like_pytorch)[1]))
        .replace("<<TRAIN_ARGS>>", train_args)
        .replace("<<PREFIX>>", 'f"[{name}] "' if race else '""')
        .replace("<<EARLY_INIT>>", early_init)
        .replace("<<STEP>>", step)
        .replace("<<BATCH_SCHEDULER>>", batch_sched)
        .replace("<<EPOCH_SCHEDULER>>", epoch_sched)
        .replace("<<EARLY_STOP>>", early_stop)
    )
    script += "\n" + "\n\n".join(blocks) + "\n" + _TRAIN_TAIL
    return _tidy(script)


def _scheduler_kwargs(
    sched: Any, spec: OptimizerSpec, epochs: int, steps_per_epoch: int
) -> dict[str, Any]:
    """Every argument gdsim passes to the scheduler, validated by building it once (as the
    engine does) on a throwaway parameter."""
    dummy = torch.nn.Parameter(torch.zeros(1))
    optimizer = spec.build([dummy])
    schedule = sched.build(optimizer, epochs, steps_per_epoch)
    return dict(schedule.kwargs)
