"""Headless command line: ``gdsim SUBCOMMAND ...``.

A registry maps each subcommand to the module that implements it; modules are imported only when
their subcommand runs, so ``gdsim trace`` never pays for (or imports) anything it does not use, and
nothing here imports Qt. A module provides ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Adding a subcommand is one entry in ``SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from core.errors import GdsimError, shorten_numbers

# name -> module implementing it. Qt-free subcommands only; the app adds its own (see app.main).
SUBCOMMANDS: dict[str, str] = {
    "trace": "core.cli.trace",
    "train": "core.cli.train",
}


# "--surface -x**2": argparse takes any word starting with "-" for an option unless it looks
# like a negative number. These do: numbers ("-1e-3") and expressions (an operator or a
# parenthesis after the dash: "-x**2", "-(x+y)"). A private attribute: if a Python drops it,
# the hint in _Parser.error still says what to type.
NOT_AN_OPTION = re.compile(r"^-((\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|[^-].*[+*/%^()<> ].*)$")
_WANTS_VALUE = re.compile(r"^argument (--[\w-]+)(/[-\w]+)?: expected one argument$")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit status 2 (no usage dump)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NOT_AN_OPTION  # see NOT_AN_OPTION

    def error(self, message: str) -> None:  # type: ignore[override]
        wants = _WANTS_VALUE.match(message)
        if wants:  # "--surface -x": its value was taken for an option
            flag = wants.group(1)
            message += f" (for a value that starts with '-', write {flag}=VALUE)"
        self.exit(2, f"{self.prog}: error: {shorten_numbers(message)}\n")


def _fail(prog: str, message: str, status: int) -> int:
    first_line = str(message).strip().splitlines()[0] if str(message).strip() else "error"
    print(f"{prog}: error: {first_line}", file=sys.stderr)
    return status


def run_subcommand(name: str, argv: Sequence[str], module_path: str | None = None) -> int:
    """Parse ``argv`` for subcommand ``name`` and run it; bad input exits 2 with one line."""
    from core.engine.runtime import configure_torch

    configure_torch()
    module = importlib.import_module(module_path or SUBCOMMANDS[name])
    prog = f"gdsim {name}"
    parser = _Parser(prog=prog, description=getattr(module, "HELP", None))
    module.add_arguments(parser)
    try:
        args = parser.parse_args(list(argv))
        return int(module.run(args) or 0)
    except GdsimError as exc:
        return _fail(prog, str(exc), 2)
    except KeyboardInterrupt:
        return _fail(prog, "interrupted", 130)
    except OSError as exc:
        return _fail(
            prog, f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc), 2
        )
    except Exception as exc:  # a bug, not bad input: still one line unless asked for the traceback
        if os.environ.get("GDSIM_DEBUG"):
            raise
        return _fail(
            prog, f"internal error: {type(exc).__name__}: {exc} (set GDSIM_DEBUG=1 for details)", 1
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry for the headless subcommands (``python -m core.cli.main trace ...`` works too)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in SUBCOMMANDS:
        names = ", ".join(sorted(SUBCOMMANDS))
        return _fail("gdsim", f"expected a subcommand ({names})", 2)
    return run_subcommand(argv[0], argv[1:])


if __name__ == "__main__":
    sys.exit(main())
