"""The app's thread bookkeeping, shared by the training worker (``app.worker``) and background tasks
(``app.tasks``): who owns a QThread, where a thread that outlived its budget is parked, and what
happens to both when the process exits.

Why one place: a ``QThread`` destroyed while it runs aborts the process ("QThread: Destroyed while
thread is still running", SIGABRT). So every owner is registered here (``track``) and shut down at
exit; a thread still busy after its owner's budget is parked (``park``), referenced with its worker
until it ends by itself (``terminate()`` is never used: it can kill a thread holding a lock); and at
exit the parked threads get ``exit_wait_s()`` in total, after which the process ends without them.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import time
import weakref
from typing import NamedTuple, Protocol

from PySide6.QtCore import QObject, QThread

log = logging.getLogger("gdsim.threads")

# How long quitting waits, in total, for threads still busy after their close budget, before the
# process ends without them. Generous: a big network's batch or a slow first engine build finishes
# well within it. The environment variable overrides it (tests use ~1 s).
EXIT_WAIT_S = 30.0
EXIT_WAIT_ENV = "GDSIM_EXIT_WAIT_S"
SHUTDOWN_MS = 900  # each owner's close budget at exit


class Owner(Protocol):
    def shutdown(self, timeout_ms: int = SHUTDOWN_MS) -> bool: ...


class Parked(NamedTuple):
    """A thread still busy after its owner's budget, kept with its worker until it ends."""

    thread: QThread
    worker: QObject | None
    what: str  # for the exit warning: "the training worker", "a background task"


# Kept for the rest of the process: dropping the last reference from the thread's own finished
# signal would destroy it in that very thread. (Rare and tiny.)
_ORPHANS: list[Parked] = []
_OWNERS: weakref.WeakSet[Owner] = weakref.WeakSet()


def track(owner: Owner) -> None:
    """Shut ``owner`` down at exit if it is still alive then (e.g. a window deleted unclosed)."""
    _OWNERS.add(owner)


def park(thread: QThread, worker: QObject | None, what: str, budget_ms: int) -> None:
    """Keep ``thread`` (and its worker) referenced until it ends by itself; waited for at exit."""
    log.warning("%s still busy after %d ms; letting it finish", what, budget_ms)
    thread.setParent(None)
    _ORPHANS.append(Parked(thread, worker, what))


def exit_wait_s() -> float:
    """The exit budget in seconds: ``$GDSIM_EXIT_WAIT_S`` if it is a number >= 0, else 30."""
    try:
        value = float(os.environ.get(EXIT_WAIT_ENV, EXIT_WAIT_S))
    except ValueError:
        return EXIT_WAIT_S
    return value if value >= 0 else EXIT_WAIT_S  # nan fails >= 0 too


def wait_for_parked() -> None:
    """Wait (``exit_wait_s()`` in total) for every parked thread; if one is still running after
    that, end the process at once with status 0.

    Why: the interpreter would otherwise go on to destroy that ``QThread`` while it runs. A worker
    holds nothing unsaved (the window wrote its settings on close), so ending the process is what
    the user asked for. Logging and stdio are flushed first, since ``os._exit`` skips the remaining
    exit handlers.
    """
    budget = exit_wait_s()
    deadline = time.monotonic() + budget
    for parked in list(_ORPHANS):
        left_ms = max(0, int((deadline - time.monotonic()) * 1000))
        try:
            if parked.thread.wait(left_ms) or not parked.thread.isRunning():
                continue
        except RuntimeError:  # its C++ object is already gone: nothing left to abort on
            continue
        log.warning("%s still busy after %.0f s at exit; quitting without it", parked.what, budget)
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - closed or replaced streams: exit regardless
                pass
        os._exit(0)


@atexit.register
def _at_exit() -> None:
    for owner in list(_OWNERS):
        try:
            owner.shutdown(SHUTDOWN_MS)
        except RuntimeError:  # its Qt objects are already gone
            pass
    wait_for_parked()
