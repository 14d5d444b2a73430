"""``gdsim`` entry point: the window with no arguments, a headless subcommand otherwise.

Dispatch happens before anything imports Qt, so ``gdsim trace`` / ``gdsim train`` run on machines
with no display and never load PySide6.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

# Subcommands that need Qt (they measure or draw the window offscreen); the Qt-free ones live in
# core.cli.SUBCOMMANDS. Both are dispatched by name before anything imports Qt.
APP_SUBCOMMANDS: dict[str, str] = {
    "bench": "app.bench",
}

USAGE = """usage: gdsim [SUBCOMMAND ...]

With no arguments, opens the window.

subcommands:
{lines}

Run 'gdsim SUBCOMMAND --help' for a subcommand's options.
"""


def _usage() -> str:
    from core.cli import SUBCOMMANDS

    lines = "\n".join(f"  {name}" for name in sorted({**SUBCOMMANDS, **APP_SUBCOMMANDS}))
    return USAGE.format(lines=lines)


def run_window(argv: Sequence[str] = ()) -> int:
    """Get or create the QApplication, show the main window, run the event loop."""
    from PySide6.QtWidgets import QApplication

    from app.errors import protect_singletons
    from app.main_window import MainWindow
    from core.runtime import configure_torch

    configure_torch()

    protect_singletons()  # before any Qt call: PySide6 6.12 leaks refs to None (see app.errors)
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("gdsim")
    app.setOrganizationName("gdsim")
    window = MainWindow()
    window.show()
    return app.exec()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        return run_window()
    if argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    from core.cli import SUBCOMMANDS, run_subcommand

    if argv[0] in SUBCOMMANDS:
        return run_subcommand(argv[0], argv[1:])
    if argv[0] in APP_SUBCOMMANDS:
        return run_subcommand(argv[0], argv[1:], APP_SUBCOMMANDS[argv[0]])
    print(f"gdsim: error: unknown subcommand '{argv[0]}' (try 'gdsim --help')", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
