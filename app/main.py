"""``gdsim`` entry point: the window with no arguments, a headless subcommand otherwise.

Dispatch happens before anything imports Qt, so ``gdsim trace`` / ``gdsim train`` run on machines
with no display and never load PySide6.
"""

from __future__ import annotations

import importlib
import sys
import threading
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
    # torch.optim imports torch._dynamo on first use (~1.6 s here); runners build their optimizer
    # lazily, so do that import off the GUI thread once the window is up.
    from PySide6.QtCore import QTimer

    QTimer.singleShot(300, lambda: preload_in_background(("torch._dynamo",)))
    return app.exec()


def preload_in_background(modules: Sequence[str]) -> threading.Thread:
    """Import ``modules`` on a daemon thread (a failure is logged by whoever imports them next)."""

    def work() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the real import later reports it properly
                return

    thread = threading.Thread(target=work, name="gdsim-preload", daemon=True)
    thread.start()
    return thread


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
