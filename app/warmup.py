"""Warm-up imports on a background thread, and keeping the GUI thread out of their way.

torch.optim imports ``torch._dynamo`` the first time an optimizer is built or steps (~0.8-1.6 s
on our 2-core machine). The window imports it on a daemon thread once it is up; a first Start,
Step, narrated step or basins computation that comes while that import is still running would
block the GUI thread on Python's import lock for the rest of it. Instead, timers skip their tick
(``warming_up()``) and one-shot actions wait on a GUI timer (``run_when_warm``), with a status
line saying why.

Nothing here starts unless asked (``start_warmup``): tests and ``gdsim render`` stay synchronous.
"""

from __future__ import annotations

import gc
import importlib
import sys
import threading
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QTimer

WARM_MODULES: tuple[str, ...] = ("torch._dynamo",)
POLL_MS = 30
LOADING_NOTE = "loading PyTorch's optimizers (once per start)…"

_thread: threading.Thread | None = None
_enabled = False  # set by the app (not by tests): an early click starts the warm-up itself


def start_warmup(modules: Sequence[str] | None = None) -> threading.Thread:
    """Import ``modules`` on a daemon thread (once; later calls return the same thread). A failed
    import is left for whoever imports the module next, who reports it properly."""
    global _thread
    if _thread is not None:
        return _thread

    names = WARM_MODULES if modules is None else tuple(modules)

    def work() -> None:
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the real import later reports it
                break
        freeze_startup_objects()

    _thread = threading.Thread(target=work, name="gdsim-warmup", daemon=True)
    _thread.start()
    return _thread


def freeze_startup_objects() -> None:
    """Leave what start-up made (modules, the window, torch's imports: ~250 000 objects, alive
    as long as the process) out of the cyclic collector's full passes: each scanned them all,
    ~170 ms of the GUI thread every few actions (``collect_garbage_on_gui_thread`` runs the
    collector from a GUI timer). Objects made later are collected as before."""
    gc.freeze()


def enable_warmup() -> None:
    """From now on, a step asked for before the warm-up has started starts it and waits too
    (the window schedules the warm-up a little after its first paint)."""
    global _enabled
    _enabled = True


def warming_up() -> bool:
    """True while the warm-up import runs (a step now would wait for it on the GUI thread)."""
    if _thread is None and _enabled and not all(m in sys.modules for m in WARM_MODULES):
        start_warmup()
    return _thread is not None and _thread.is_alive()


def run_when_warm(context: QObject, fn: Callable[[], object]) -> bool:
    """Call ``fn`` now, or once the warm-up has finished (then True). The poll timer is a child
    of ``context``: if that is deleted first, ``fn`` is never called."""
    if not warming_up():
        fn()
        return False
    timer = QTimer(context)
    timer.setInterval(POLL_MS)

    def poll() -> None:
        if warming_up():
            return
        timer.stop()
        timer.deleteLater()
        fn()

    timer.timeout.connect(poll)
    timer.start()
    return True
