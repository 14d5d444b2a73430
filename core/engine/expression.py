"""User-typed loss surfaces: a formula in ``x`` and ``y`` compiled into a torch function.

Why a hand-written parser: the text comes from a GUI field (re-validated on every keystroke) and
from session files shared between users, so it must never be able to run code. Nothing here calls
``eval``/``exec``/``compile`` or Python's ``ast``; a tokenizer and a recursive-descent parser build a
small AST, which is lowered (iteratively) into a flat stack program of torch operations. Owning the
grammar also lets us own the error messages: every mistake raises :class:`ExpressionError` with one
line saying what and where (1-based column), e.g. ``unexpected ')' at column 7``.

Grammar (lowest to highest precedence)::

    expr    := term (('+' | '-') term)*                 left-associative
    term    := unary (('*' | '/') unary)*               left-associative
    unary   := ('+' | '-')* power                       -x^2 == -(x^2), as in Python
    power   := primary (('^' | '**') ('+' | '-')* primary)*    right-associative: 2^-1, a^b^c = a^(b^c)
    primary := NUMBER | NAME | NAME '(' [expr (',' expr)*] ')' | '(' expr ')'

Numbers: ``3``, ``0.5``, ``.5``, ``2.``, ``1e-3``. Names (variables ``x``, ``y``, constants and
functions, see :data:`CONSTANTS` and :data:`FUNCTIONS`) are case-insensitive: ``X`` is ``x``,
``SIN`` is ``sin``. Whitespace may go anywhere between tokens. Implicit multiplication (``2x``) is
refused with a hint (``write 2*x``) rather than guessed.

Bounded cost, whatever the input: text longer than :data:`MAX_LENGTH` characters and nesting
(parentheses, calls, unary signs, power towers) deeper than :data:`MAX_DEPTH` are refused; only the
parenthesis/call nesting recurses in Python, so no input reaches the recursion limit. Constants are
never folded in Python (``9**9**9**9`` is evaluated by torch in the input's dtype and becomes
``inf``), and number literals go through ``float()`` so a huge literal is ``inf``, never an
OverflowError or a slow big-int.

Evaluation is one torch op per AST node on whole tensors, so a 500x500 grid costs a few
milliseconds. Domain errors (``log(-1)``, ``1/0``) give nan/inf like torch does; callers decide
what a non-finite value means.
"""

from __future__ import annotations

import difflib
import math
import operator
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

from core.errors import GdsimError

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "VARIABLES",
    "CompiledExpression",
    "ExpressionError",
    "Function",
    "EpochFunction",
    "compile_epoch_function",
    "compile_expression",
    "expression_help",
]

MAX_LENGTH = 1000
"""Longest accepted expression text, in characters (bounds parse and evaluation cost)."""

MAX_DEPTH = 64
"""Deepest accepted nesting: each open parenthesis or call, unary sign and ``^`` counts one."""


class ExpressionError(GdsimError):
    """A formula the user typed is not valid; the message is one line saying what and where.

    ``column`` is the 1-based column of the problem (so a GUI can put the caret there), or None
    when the problem is not at one place (empty or too-long text).
    """

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.column = column


class Function(NamedTuple):
    """A function users may call: fixed number of tensor arguments, a torch implementation."""

    arity: int
    fn: Callable[..., torch.Tensor]


# Registries: adding a function or constant is one entry. Keys are lower-case (lookup lower-cases).
FUNCTIONS: dict[str, Function] = {
    "sin": Function(1, torch.sin),
    "cos": Function(1, torch.cos),
    "tan": Function(1, torch.tan),
    "asin": Function(1, torch.asin),
    "arcsin": Function(1, torch.asin),
    "acos": Function(1, torch.acos),
    "arccos": Function(1, torch.acos),
    "atan": Function(1, torch.atan),
    "arctan": Function(1, torch.atan),
    "sinh": Function(1, torch.sinh),
    "cosh": Function(1, torch.cosh),
    "tanh": Function(1, torch.tanh),
    "exp": Function(1, torch.exp),
    "log": Function(1, torch.log),
    "ln": Function(1, torch.log),
    "log2": Function(1, torch.log2),
    "log10": Function(1, torch.log10),
    "sqrt": Function(1, torch.sqrt),
    "abs": Function(1, torch.abs),
    "sigmoid": Function(1, torch.sigmoid),
    "softplus": Function(1, F.softplus),
    "relu": Function(1, torch.relu),
    "atan2": Function(2, torch.atan2),
    "min": Function(2, torch.minimum),
    "max": Function(2, torch.maximum),
    "pow": Function(2, torch.pow),
    "hypot": Function(2, torch.hypot),
}

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

VARIABLES: dict[str, int] = {"x": 0, "y": 1}  # name -> index in the last dimension of xy


def expression_help() -> str:
    """One line listing what a formula may contain (for a tooltip or a CLI help text)."""
    one = ", ".join(n for n, f in FUNCTIONS.items() if f.arity == 1)
    two = ", ".join(f"{n}(a, b)" for n, f in FUNCTIONS.items() if f.arity == 2)
    consts = ", ".join(CONSTANTS)
    return (
        "A formula in x and y: numbers (3, 0.5, 1e-3), + - * / and ^ or ** (power), parentheses; "
        f"functions {one}; {two}; constants {consts}; names ignore case; "
        f"write 2*x, not 2x; at most {MAX_LENGTH} characters."
    )


# ---------------------------------------------------------------------------------------------
# Tokenizer

_NUM, _NAME, _OP, _END = "number", "name", "op", "end"
_SINGLE_OPS = "+-*/^(),"
_DIGITS = "0123456789"
_NAME_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_NAME_CHARS = _NAME_START + _DIGITS
# Characters people paste from papers or type out of habit, with what to write instead.
_CHAR_HINTS = {
    "×": "use *",
    "·": "use *",
    "÷": "use /",
    "−": "use - (an ASCII minus)",
    "²": "use ^2",
    "³": "use ^3",
    "π": "use pi",
    "[": "use ( and )",
    "]": "use ( and )",
    "{": "use ( and )",
    "}": "use ( and )",
}


class _Token(NamedTuple):
    kind: str
    text: str  # as typed ('**' stays '**'; the parser treats it like '^')
    column: int  # 1-based


def _show(text: str, limit: int = 20) -> str:
    """Quote user text for a one-line message: escaped, shortened, in quotes that fit."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return f'"{text}"' if "'" in text else f"'{text}'"


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        col = i + 1
        if ch.isspace():
            i += 1
        elif ch in _DIGITS or (ch == "." and i + 1 < n and text[i + 1] in _DIGITS):
            j = i
            while j < n and text[j] in _DIGITS:
                j += 1
            if j < n and text[j] == ".":
                j += 1
                while j < n and text[j] in _DIGITS:
                    j += 1
            # An exponent only if digits follow: '2e' is 2 then the name e (an error later).
            if j < n and text[j] in "eE":
                k = j + 1
                if k < n and text[k] in "+-":
                    k += 1
                if k < n and text[k] in _DIGITS:
                    while k < n and text[k] in _DIGITS:
                        k += 1
                    j = k
            tokens.append(_Token(_NUM, text[i:j], col))
            i = j
        elif ch in _NAME_START:
            j = i + 1
            while j < n and text[j] in _NAME_CHARS:
                j += 1
            tokens.append(_Token(_NAME, text[i:j], col))
            i = j
        elif ch == "*" and text.startswith("**", i):
            tokens.append(_Token(_OP, "**", col))
            i += 2
        elif ch in _SINGLE_OPS:
            tokens.append(_Token(_OP, ch, col))
            i += 1
        else:
            hint = _CHAR_HINTS.get(ch)
            suffix = f" ({hint})" if hint else ""
            raise ExpressionError(f"unexpected character {_show(ch)} at column {col}{suffix}", col)
    tokens.append(_Token(_END, "", len(text.rstrip()) + 1))
    return tokens


# ---------------------------------------------------------------------------------------------
# AST


class _Num(NamedTuple):
    value: float


class _Var(NamedTuple):
    index: int


class _Neg(NamedTuple):
    operand: object


class _BinOp(NamedTuple):
    fn: Callable[[object, object], object]
    left: object
    right: object


class _Call(NamedTuple):
    fn: Callable[..., torch.Tensor]
    args: tuple


_BINARY = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "^": operator.pow,
    "**": operator.pow,
}


def _is_power(tok: _Token) -> bool:
    return tok.kind == _OP and tok.text in ("^", "**")


def _is_sign(tok: _Token) -> bool:
    return tok.kind == _OP and tok.text in ("+", "-")


class _Parser:
    """Recursive descent; only parentheses and calls recurse (bounded by MAX_DEPTH)."""

    def __init__(self, tokens: list[_Token], variables: dict[str, int] = VARIABLES) -> None:
        self.tokens = tokens
        self.variables = variables
        self.pos = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def advance(self) -> _Token:
        tok = self.tokens[self.pos]
        if tok.kind != _END:
            self.pos += 1
        return tok

    def enter(self, tok: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(
                f"expression is nested too deeply at column {tok.column} "
                f"(at most {MAX_DEPTH} levels)",
                tok.column,
            )

    @staticmethod
    def unexpected(tok: _Token, hint: str = "") -> ExpressionError:
        if tok.kind == _END:
            return ExpressionError("unexpected end of expression", tok.column)
        suffix = f" ({hint})" if hint else ""
        return ExpressionError(
            f"unexpected {_show(tok.text)} at column {tok.column}{suffix}", tok.column
        )

    def parse(self) -> object:
        node = self.expr()
        tok = self.peek()
        if tok.kind != _END:
            raise self.unexpected(tok)
        return node

    def expr(self) -> object:
        node = self.term()
        while (tok := self.peek()).kind == _OP and tok.text in ("+", "-"):
            self.advance()
            node = _BinOp(_BINARY[tok.text], node, self.term())
        return node

    def term(self) -> object:
        node = self.unary()
        while (tok := self.peek()).kind == _OP and tok.text in ("*", "/"):
            self.advance()
            node = _BinOp(_BINARY[tok.text], node, self.unary())
        return node

    def signs(self) -> list[_Token]:
        """Consume a run of unary signs (iteratively: 500 minuses cost no recursion)."""
        signs = []
        while _is_sign(self.peek()):
            tok = self.advance()
            self.enter(tok)
            signs.append(tok)
        return signs

    @staticmethod
    def apply_signs(node: object, signs: list[_Token]) -> object:
        for tok in reversed(signs):
            if tok.text == "-":
                node = _Neg(node)
        return node

    def unary(self) -> object:
        depth = self.depth
        signs = self.signs()
        node = self.apply_signs(self.power(), signs)
        self.depth = depth
        return node

    def power(self) -> object:
        # a ^ -b ^ c == a ^ (-(b ^ c)): collect the chain, then build it from the right.
        depth = self.depth
        items: list[tuple[list[_Token], object]] = [([], self.primary())]
        while _is_power(self.peek()):
            self.enter(self.advance())
            signs = self.signs()
            items.append((signs, self.primary()))
        node = None
        for signs, operand in reversed(items):
            node = operand if node is None else _BinOp(operator.pow, operand, node)
            node = self.apply_signs(node, signs)
        self.depth = depth
        return node

    def primary(self) -> object:
        tok = self.advance()
        if tok.kind == _NUM:
            node: object = _Num(float(tok.text))  # float(): huge literals become inf, never hang
        elif tok.kind == _NAME:
            node = self.name(tok)
        elif tok.kind == _OP and tok.text == "(":
            self.enter(tok)
            node = self.expr()
            self.close(tok)
            self.depth -= 1
        else:
            raise self.unexpected(tok)
        self.refuse_implicit_product(self.tokens[self.pos - 1])
        return node

    def close(self, opener: _Token) -> None:
        tok = self.advance()
        if tok.kind == _OP and tok.text == ")":
            return
        if tok.kind == _END:
            raise ExpressionError(f"missing ')' opened at column {opener.column}", opener.column)
        raise self.unexpected(tok)

    def refuse_implicit_product(self, prev: _Token) -> None:
        nxt = self.peek()
        if nxt.kind in (_NUM, _NAME) or (nxt.kind == _OP and nxt.text == "("):
            if prev.kind in (_NUM, _NAME) and nxt.kind in (_NUM, _NAME):
                raise self.unexpected(nxt, f"write {prev.text[:20]}*{nxt.text[:20]}")
            raise self.unexpected(nxt, "use * to multiply")

    def name(self, tok: _Token) -> object:
        key = tok.text.lower()
        is_call = self.peek().kind == _OP and self.peek().text == "("
        if is_call and key in FUNCTIONS:
            return self.call(tok, key)
        if is_call and key not in self.variables and key not in CONSTANTS:
            raise ExpressionError(
                f"unknown function {_show(tok.text)} at column {tok.column}"
                + _did_you_mean(key, FUNCTIONS),
                tok.column,
            )
        if key in self.variables:
            return _Var(self.variables[key])
        if key in CONSTANTS:
            return _Num(CONSTANTS[key])
        if key in FUNCTIONS:
            raise ExpressionError(
                f"function {_show(tok.text)} needs parentheses at column {tok.column} "
                f"(write {key}(...))",
                tok.column,
            )
        names = " and ".join(self.variables)
        hint = _did_you_mean(key, [*self.variables, *CONSTANTS]) or f" (use {names})"
        raise ExpressionError(
            f"unknown name {_show(tok.text)} at column {tok.column}{hint}", tok.column
        )

    def call(self, name_tok: _Token, key: str) -> object:
        opener = self.advance()  # '('
        self.enter(opener)
        args = []
        if self.peek().kind == _OP and self.peek().text == ")":
            self.advance()
        else:
            while True:
                args.append(self.expr())
                if self.peek().kind == _OP and self.peek().text == ",":
                    self.advance()
                    continue
                self.close(opener)
                break
        self.depth -= 1
        func = FUNCTIONS[key]
        if len(args) != func.arity:
            plural = "" if func.arity == 1 else "s"
            raise ExpressionError(
                f"{key} takes {func.arity} argument{plural}, got {len(args)} "
                f"at column {name_tok.column}",
                name_tok.column,
            )
        return _Call(func.fn, tuple(args))


def _did_you_mean(key: str, names) -> str:
    close = difflib.get_close_matches(key, list(names), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# ---------------------------------------------------------------------------------------------
# Lowering and evaluation

_PUSH_VAR, _PUSH_NUM, _NEG, _BIN, _CALL = range(5)


def _lower(root: object) -> tuple[tuple, ...]:
    """AST -> postfix program, with an explicit stack (the AST of 'x+x+...+x' is deep)."""
    program: list[tuple] = []
    todo: list[tuple[object, bool]] = [(root, False)]
    while todo:
        node, ready = todo.pop()
        if isinstance(node, _Num):
            program.append((_PUSH_NUM, node.value, 0))
        elif isinstance(node, _Var):
            program.append((_PUSH_VAR, node.index, 0))
        elif ready:
            if isinstance(node, _Neg):
                program.append((_NEG, None, 1))
            elif isinstance(node, _BinOp):
                program.append((_BIN, node.fn, 2))
            else:
                program.append((_CALL, node.fn, len(node.args)))
        else:
            todo.append((node, True))
            children = (
                (node.operand,)
                if isinstance(node, _Neg)
                else (node.left, node.right)
                if isinstance(node, _BinOp)
                else node.args
            )
            todo.extend((child, False) for child in reversed(children))
    return tuple(program)


def _run(program: tuple[tuple, ...], variables: tuple[torch.Tensor, ...]) -> torch.Tensor | float:
    """Evaluate a postfix program on ``variables`` (tensors of one dtype and device)."""
    ref = variables[0]

    def tensor(value: float) -> torch.Tensor:
        return torch.tensor(value, dtype=ref.dtype, device=ref.device)

    # Python floats only ever meet a tensor (or are negated): no float/int arithmetic in
    # Python, so nothing can overflow or take unbounded time.
    stack: list = []
    for op, arg, nargs in program:
        if op == _PUSH_NUM:
            stack.append(arg)
        elif op == _PUSH_VAR:
            stack.append(variables[arg])
        elif op == _NEG:
            stack.append(-stack.pop())
        elif op == _BIN:
            b = stack.pop()
            a = stack.pop()
            if isinstance(a, float) and isinstance(b, float):
                a = tensor(a)
            stack.append(arg(a, b))
        else:
            args = [tensor(a) if isinstance(a, float) else a for a in stack[-nargs:]]
            del stack[-nargs:]
            stack.append(arg(*args))
    (result,) = stack
    return result


class CompiledExpression:
    """``f(xy) -> tensor``: the compiled formula. ``xy`` has shape ``(..., 2)``; the result has
    shape ``(...)``, the dtype and device of ``xy`` (integer input is promoted to float64), and is
    differentiable by autograd. Even a constant formula is connected to ``xy`` (with zero
    gradient), so ``f(p).backward()`` always works. Pickles as its text.
    """

    __slots__ = ("_program", "text", "variables")

    def __init__(self, text: str, program: tuple[tuple, ...]) -> None:
        self.text = text
        self._program = program
        used = {arg for op, arg, _ in program if op == _PUSH_VAR}
        self.variables: frozenset[str] = frozenset(n for n, i in VARIABLES.items() if i in used)

    def __repr__(self) -> str:
        return f"compile_expression({self.text!r})"

    def __reduce__(self):
        return (compile_expression, (self.text,))

    def __call__(self, xy: torch.Tensor) -> torch.Tensor:
        if not isinstance(xy, torch.Tensor):
            raise TypeError(f"expected a torch.Tensor of shape (..., 2), got {type(xy).__name__}")
        if xy.ndim == 0 or xy.shape[-1] != 2:
            raise ValueError(f"expected a tensor of shape (..., 2), got {tuple(xy.shape)}")
        if not (xy.is_floating_point() or xy.is_complex()):
            xy = xy.to(torch.float64)
        x, y = xy[..., 0], xy[..., 1]
        result = _run(self._program, (x, y))
        if isinstance(result, float):
            result = torch.tensor(result, dtype=x.dtype, device=x.device)
        if not self.variables:
            # Broadcast to xy.shape[:-1] and stay in the autograd graph with exactly zero
            # gradient (0*x would turn inf into nan).
            result = torch.where(torch.zeros((), dtype=torch.bool, device=x.device), x, result)
        elif result is x or result is y:
            result = result.clone()  # never hand out a view the caller could write through
        return result


def compile_expression(text: str) -> CompiledExpression:
    """Compile a formula in ``x`` and ``y`` into a torch function of a ``(..., 2)`` tensor.

    Names are case-insensitive (``X`` == ``x``, ``Sin`` == ``sin``). Raises
    :class:`ExpressionError` with a one-line message and ``.column`` for any invalid text; never
    evaluates the text as Python. See the module docstring for the grammar and limits, and
    :func:`expression_help` for a user-facing summary.
    """
    return CompiledExpression(text, _compile(text, VARIABLES))


def _compile(text: str, variables: dict[str, int]) -> tuple[tuple, ...]:
    """Text -> postfix program over ``variables``, or ExpressionError (see the module doc)."""
    if not isinstance(text, str):
        raise TypeError(f"expression must be a str, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"expression is too long ({len(text)} characters, at most {MAX_LENGTH})"
        )
    if not text.strip():
        raise ExpressionError("expression is empty")
    return _lower(_Parser(_tokenize(text), variables).parse())


# ---------------------------------------------------------------------------------------------
# A function of the epoch (LambdaLR / MultiplicativeLR's lr_lambda)

EPOCH_VARIABLES: dict[str, int] = {"epoch": 0}

_BIN_CODE = {
    operator.add: ("+", 1),
    operator.sub: ("-", 1),
    operator.mul: ("*", 2),
    operator.truediv: ("/", 2),
    operator.pow: ("**", 4),
}
_NEG_PREC, _ATOM_PREC = 3, 5


def _function_code(fn: Callable) -> str:
    """``torch.sin`` for torch.sin: where a generated script finds a registry function."""
    name = getattr(fn, "__name__", "")
    for module, prefix in ((torch, "torch"), (F, "torch.nn.functional")):
        if getattr(module, name, None) is fn:
            return f"{prefix}.{name}"
    raise GdsimError(f"no torch name for the function {fn!r}")


class EpochFunction:
    """``f(epoch) -> float``: a formula in ``epoch`` (same grammar, functions and limits as a
    surface), for a scheduler's ``lr_lambda``. Evaluated with the same torch operations as a
    surface, in float64, and :meth:`python_source` writes those operations out as Python, so an
    exported script computes bit-identical values. Pickles as its text.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._program = _compile(text, EPOCH_VARIABLES)

    def __repr__(self) -> str:
        return f"EpochFunction({self.text!r})"

    def __reduce__(self):
        return (EpochFunction, (self.text,))

    def __call__(self, epoch: float) -> float:
        value = _run(self._program, (torch.tensor(float(epoch), dtype=torch.float64),))
        return float(value)

    def python_source(self, name: str) -> str:
        """``def name(epoch): ...`` computing exactly what this function computes.

        Built from the parsed program, never from the typed text: only numbers, ``epoch``,
        operators and torch function names can appear. Parentheses are written only where
        precedence needs them (the typed text's nesting is bounded, so Python parses it).
        """
        t = "torch.tensor({}, dtype=torch.float64)"
        stack: list[tuple[str, int, bool]] = []  # (code, precedence, is a Python float)
        for op, arg, nargs in self._program:
            if op == _PUSH_NUM:
                code = repr(arg) if math.isfinite(arg) else 'float("inf")'
                stack.append((code, _ATOM_PREC, True))
            elif op == _PUSH_VAR:
                stack.append(("e", _ATOM_PREC, False))
            elif op == _NEG:
                code, prec, is_float = stack.pop()
                inner = code if prec >= _NEG_PREC else f"({code})"
                stack.append((f"-{inner}", _NEG_PREC, is_float))
            elif op == _BIN:
                symbol, prec = _BIN_CODE[arg]
                (b, pb, fb), (a, pa, fa) = stack.pop(), stack.pop()
                if fa and fb:
                    a, pa = t.format(a), _ATOM_PREC
                if prec == 4:  # ** is right-associative and binds tighter than a unary minus
                    a = a if pa > _NEG_PREC else f"({a})"
                    b = b if pb >= _NEG_PREC else f"({b})"
                else:
                    a = a if pa >= prec else f"({a})"
                    b = b if pb > prec else f"({b})"
                stack.append((f"{a} {symbol} {b}", prec, False))
            else:
                args = stack[-nargs:]
                del stack[-nargs:]
                inner = ", ".join(t.format(c) if f else c for c, _p, f in args)
                stack.append((f"{_function_code(arg)}({inner})", _ATOM_PREC, False))
        ((code, _prec, _is_float),) = stack
        return (
            f"def {name}(epoch):\n"
            "    e = torch.tensor(float(epoch), dtype=torch.float64)\n"
            f"    return float({code})\n"
        )


def compile_epoch_function(text: str) -> EpochFunction:
    """Compile a formula in ``epoch`` (ExpressionError with a column for invalid text)."""
    return EpochFunction(text)
