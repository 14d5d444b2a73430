"""Start and quit as users do (``gdsim bench``, section "startup"): the real ``gdsim`` entry point
from empty settings, from saved settings and with a session file, and quit (File ▸ Quit to process
exit) after racing and after training for a set time from their first step, each against its
floor: a bare process that imports torch, PySide6 and pyqtgraph, shows an empty window, and quits
the same way.

Each child prints READY at its first paint and QUIT just before it asks to quit; the parent times
process start → READY and QUIT → exit. Children run offscreen with their own XDG_CONFIG_HOME, so
nobody's real settings are read or written.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from core.errors import GdsimError

START_TARGET = 1.3  # start-up within 1.3x of the floor's
QUIT_TARGET_S = 0.5  # quitting may take at most this much longer than the floor's quit
PRESET = "rosenbrock-adam-vs-sgd"

# argv: MODE ("floor" | "gdsim"), then what to do after the first paint ("none" | "idle" |
# "surfaces" | "training"), seconds to run it, then gdsim's own arguments.
_CHILD = """
import os, sys
mode, then, run_s, gdsim_args = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]
from app.display import import_torch_before_qt
import_torch_before_qt()  # the order gdsim imports them in (the floor too: same work)
import pyqtgraph
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1])
QTimer.singleShot(120_000, lambda: os._exit(3))  # never hang the benchmark

def window():
    return next(w for w in app.topLevelWidgets() if isinstance(w, QMainWindow))

def quit_now():
    print("QUIT", flush=True)
    action = window().findChild(QAction, "actionQuit")
    action.trigger() if action is not None else window().close()

def progressed(model):
    return (model.race.t if then == "surfaces" else model.steps) > 0

def after_first_paint():
    if then == "none":
        return
    if then == "idle":
        QTimer.singleShot(int(run_s * 1000), quit_now)
        return
    model = window().show_view(then).model
    model.toggle_run()
    poll = QTimer(app)  # run_s of racing or training, counted from its first step
    def started():
        if progressed(model):
            poll.stop()
            QTimer.singleShot(int(run_s * 1000), quit_now)
    poll.timeout.connect(started)
    poll.start(20)

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            app.removeEventFilter(self)
            print("READY", flush=True)
            QTimer.singleShot(0, after_first_paint)
        return False

probe = FirstPaint()
app.installEventFilter(probe)
if mode == "floor":
    empty = QMainWindow()
    empty.resize(1024, 700)
    empty.show()
    sys.exit(app.exec())
from app.main import main
sys.exit(main(gdsim_args))
"""


def _child(config_home: str, mode: str, then: str, run_s: float, *args: str) -> dict[str, float]:
    """Seconds to the first paint ("start") and, if it was asked to quit, from asking to the
    process's exit ("quit")."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "GDSIM_ERROR_DIALOGS": "0",
        "XDG_CONFIG_HOME": config_home,
    }
    env.pop("GDSIM_SETTINGS_ORG", None)
    t0 = time.perf_counter()
    cmd = [sys.executable, "-c", _CHILD, mode, then, str(run_s), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env)  # fmt: skip
    times: dict[str, float] = {}
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            now = time.perf_counter()
            if line.strip() == "READY":
                times["start"] = now - t0
                if then == "none":
                    break
            elif line.strip() == "QUIT":
                times["quit_asked"] = now
        if "start" not in times:
            raise GdsimError(f"start-up benchmark: the {mode} child never painted")
        if then != "none":
            proc.wait(timeout=60)
            if "quit_asked" not in times or proc.returncode != 0:
                raise GdsimError(f"start-up benchmark: the {mode} child did not quit cleanly")
            times["quit"] = time.perf_counter() - times.pop("quit_asked")
        return times
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def compile_bytecode() -> bool:
    """Write gdsim's own bytecode (``__pycache__``), as Python does on a first start, so that
    both sides start from compiled code: torch, PySide6 and pyqtgraph were compiled when pip
    installed them. With PYTHONDONTWRITEBYTECODE set (as on our CI machines) Python would
    otherwise recompile all of app/ and core/ at every start (~0.1 s here), which is a property
    of that setting, not of gdsim. False if a package folder is read-only (then it is measured
    as it is)."""
    import compileall

    import app
    import core

    ok = True
    for package in (app, core):
        folder = os.path.dirname(package.__file__ or "")
        try:
            ok = bool(compileall.compile_dir(folder, quiet=2)) and ok
        except OSError:
            ok = False
    return ok


def _session_file(folder: str) -> str:
    from core.files.session import load_preset, save_session

    path = os.path.join(folder, "lecture.json")
    save_session(load_preset(PRESET), path)
    return path


def measure_startup(trials: int, run_s: float) -> dict[str, Any]:
    """Seconds per trial of each child's start and quit ("floor start", "session quit", ...)."""
    compiled = compile_bytecode()
    raw: dict[str, list[float]] = {}

    def add(key: str, times: dict[str, float]) -> None:
        for what, seconds in times.items():
            raw.setdefault(f"{key} {what}", []).append(seconds)

    with tempfile.TemporaryDirectory(prefix="gdsim-bench-start-") as folder:
        session = _session_file(folder)
        homes = {k: os.path.join(folder, k) for k in ("empty", "returning", "session")}
        for home in homes.values():
            os.mkdir(home)
        # a returning user: a preset loaded, training shown, settings saved by quitting
        _child(homes["returning"], "gdsim", "training", 0.3, "--preset", PRESET)
        _child(homes["session"], "gdsim", "idle", 0.1)
        _child(homes["empty"], "floor", "none", 0)  # warm the OS file cache
        for _ in range(trials):  # interleaved, so drift in load hits every kind alike
            add("floor", _child(homes["empty"], "floor", "idle", run_s))
            add("first start", _child(homes["empty"], "gdsim", "none", 0))
            add("returning", _child(homes["returning"], "gdsim", "surfaces", run_s))
            add("session", _child(homes["session"], "gdsim", "training", run_s,
                                  "--session", session))  # fmt: skip
            if os.listdir(homes["empty"]):
                raise GdsimError("start-up benchmark: the first-start child saved settings")
    return {**raw, "bytecode_compiled": compiled}
