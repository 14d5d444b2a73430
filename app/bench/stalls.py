"""The longest GUI-thread stall of each lecture action: the first switch to Training, preset
load, session open, theme switch, zoom step, in a 1024×768 window (``gdsim bench``, section "stalls").

How: a zero-interval timer beats every time the event loop turns; the action is started
from the loop, and the longest gap between two beats until the window has settled is the
stall a user would see (the action itself, and the relayout and repaint it causes). Each
action runs ``trials`` times; the median trial is the figure, the worst one the spread.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from itertools import pairwise

TARGET_MS = 100.0
SIZE = (1024, 768)
SETTLE_S = 0.5  # the loop has to run this long without a stall before the action counts as done
MAX_WAIT_S = 10.0


def _longest_stall(app, action: Callable[[], None]) -> float:
    """Seconds of the longest gap between event-loop turns from ``action`` until settled."""
    from PySide6.QtCore import QTimer

    beats: list[float] = []
    beat = QTimer()
    beat.setInterval(0)
    beat.timeout.connect(lambda: beats.append(time.perf_counter()))
    beat.start()
    t_end = time.perf_counter() + 0.05
    while time.perf_counter() < t_end:  # beats are running
        app.processEvents()
    start = time.perf_counter()
    beats.append(start)
    action()
    beats.append(time.perf_counter())
    deadline = start + MAX_WAIT_S
    while True:
        app.processEvents()
        now = time.perf_counter()
        longest_recent = max((b - a for a, b in pairwise(beats[-50:])), default=0.0)
        if now - beats[-1] < 0.01 and now - start > SETTLE_S and longest_recent < 0.05:
            break
        if now > deadline:
            break
    beat.stop()
    return max(b - a for a, b in pairwise(beats))


def _check(ok: bool, what: str) -> None:
    """A figure for an action that failed would time an error message."""
    if not ok:
        raise RuntimeError(what)


def measure_stalls(trials: int = 3) -> dict[str, dict[str, float]]:
    """{action: {"median_ms", "max_ms"}} for each lecture action, in one window."""
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.theme import get_theme
    from app.warmup import start_warmup
    from core.files.session import save_session

    app = QApplication.instance() or QApplication([])
    folder = tempfile.mkdtemp(prefix="gdsim-bench-")
    window = MainWindow(settings_file=os.path.join(folder, "settings.ini"), restore=False)
    theme = get_theme()
    try:
        window.resize(*SIZE)
        window.show()
        # actions are timed once start-up is over: the warm-up import of torch._dynamo (which
        # also freezes start-up objects out of the collector) holds the GIL for ~1-2 s
        start_warmup().join()
        _longest_stall(app, lambda: None)
        # the Training view is built on first use, in slices, from a click on its tab: one
        # trial per window (both views built from here on, as in a lecture)
        first = 1000 * _longest_stall(app, lambda: window.show_tab("training"))
        _check(window.training_page.view is not None, "the Training view was not built")
        window.show_view("surfaces")
        _longest_stall(app, lambda: None)
        session_path = os.path.join(folder, "session.json")
        _check(window.sessions.load_preset("rosenbrock-adam-vs-sgd"), "a preset did not load")
        save_session(window.current_session(), session_path)
        presets = ("ravine-momentum", "saddle-escape")
        actions: dict[str, Callable[[int], None]] = {
            "preset load": lambda i: _check(
                window.sessions.load_preset(presets[i % 2]), "a preset did not load"
            ),
            "session open": lambda i: _check(
                window.sessions.open_session(session_path), "the session did not open"
            ),
            "theme switch": lambda i: theme.set_theme("dark" if i % 2 == 0 else "light"),
            "zoom step": lambda i: theme.zoom_in() if i % 2 == 0 else theme.zoom_out(),
        }
        out: dict[str, dict[str, float]] = {
            "first switch to Training": {"median_ms": first, "max_ms": first}
        }
        for name, act in actions.items():
            stalls = [1000 * _longest_stall(app, partial(act, i)) for i in range(trials)]
            out[name] = {"median_ms": statistics.median(stalls), "max_ms": max(stalls)}
        return out
    finally:
        theme.reset()
        window.close()
        window.deleteLater()
