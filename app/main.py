"""``gdsim`` entry point: the window with no arguments, a headless subcommand otherwise.

Dispatch happens before anything imports Qt, so ``gdsim trace`` / ``gdsim train`` run on machines
with no display and never load PySide6.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from app.display import display_problem, import_torch_before_qt

# Subcommands that need Qt (they measure or draw the window offscreen); the Qt-free ones live in
# core.cli.main.SUBCOMMANDS. Both are dispatched by name before anything imports Qt.
APP_SUBCOMMANDS: dict[str, str] = {
    "bench": "app.bench.cli",
    "render": "app.render",
}

USAGE = """usage: gdsim [--preset NAME | --session FILE] [--screenshot PNG [--steps N] [--scale S]]
       gdsim SUBCOMMAND ...

With no arguments, opens the window (as you left it). --preset/--session open it showing a
lecture preset or a saved session. --screenshot opens it offscreen instead, runs the current
view for N steps (race steps or training batches), saves the whole window as a PNG and exits.

subcommands:
{lines}

Run 'gdsim SUBCOMMAND --help' for a subcommand's options.
"""


def _usage() -> str:
    from core.cli.main import SUBCOMMANDS

    lines = "\n".join(f"  {name}" for name in sorted({**SUBCOMMANDS, **APP_SUBCOMMANDS}))
    return USAGE.format(lines=lines)


def run_window(argv: Sequence[str] = (), session: object | None = None) -> int:
    """Get or create the QApplication, show the main window, run the event loop.

    ``session`` (a validated ``core.files.session.Session``) is shown instead of the saved state.
    """
    from core.cli.main import _fail

    problem = display_problem()
    if problem is not None:
        return _fail("gdsim", problem, 1)
    import_torch_before_qt()
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from core.engine.runtime import configure_torch

    configure_torch()

    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("gdsim")
    app.setOrganizationName("gdsim")
    window = MainWindow(tools_after_paint=True)
    if session is not None:
        window.apply_session(session)  # type: ignore[arg-type]
    window.show()
    from app.interrupt import CloseOnSignal

    closer = CloseOnSignal(window)  # Ctrl+C in the terminal closes the window (settings saved)
    # torch.optim imports torch._dynamo on first use (~1.6 s here); runners build their optimizer
    # lazily, so do that import off the GUI thread once the window is up (see app.warmup).
    from PySide6.QtCore import QTimer

    from app.warmup import enable_warmup, start_warmup

    enable_warmup()
    QTimer.singleShot(300, start_warmup)
    try:
        return app.exec()
    finally:
        closer.uninstall()


def _window_parser():
    from core.cli.main import _Parser

    parser = _Parser(prog="gdsim", add_help=False)
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--preset", metavar="NAME")
    src.add_argument("--session", metavar="FILE")
    parser.add_argument("--screenshot", metavar="PNG")
    parser.add_argument("--steps", type=int, metavar="N")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--theme", choices=("light", "dark"))
    return parser


def window_options(argv: Sequence[str]) -> int:
    """``gdsim --preset NAME``, ``gdsim --session FILE``, ``gdsim --screenshot PNG ...``.

    Bad input (an unknown preset, a broken session, a bad path) is one line and exit 2, as for
    the subcommands, and is found before any window is built.
    """
    from core.cli.main import _fail
    from core.errors import GdsimError

    args = _window_parser().parse_args(list(argv))  # usage errors: one line, exit 2
    try:
        session = None
        if args.preset is not None or args.session is not None:
            from app.render import read_source

            session, _name = read_source(args.preset, args.session)
        if args.screenshot is None:
            if args.steps is not None or args.scale != 1.0 or args.theme is not None:
                raise GdsimError("--steps, --scale and --theme go with --screenshot")
            return run_window((), session)
        from app.render import screenshot
        from core.engine.runtime import configure_torch

        configure_torch()
        w, h = screenshot(args.screenshot, session, args.steps, args.scale, args.theme)
    except GdsimError as exc:
        return _fail("gdsim", str(exc), 2)
    print(f"wrote {args.screenshot}: the window, {w}x{h} px")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        return run_window()
    if argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0].startswith("-"):
        return window_options(argv)
    from core.cli.main import SUBCOMMANDS, run_subcommand

    if argv[0] in SUBCOMMANDS:
        return run_subcommand(argv[0], argv[1:])
    if argv[0] in APP_SUBCOMMANDS:
        return run_subcommand(argv[0], argv[1:], APP_SUBCOMMANDS[argv[0]])
    print(f"gdsim: error: unknown subcommand '{argv[0]}' (try 'gdsim --help')", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
