"""Benchmarks of the Training view (``gdsim bench``, section "window"): is the window smooth
while training runs flat out, and what does it cost training?

``tick_latency``: a 16 ms GUI timer's interval (what a lecturer feels). ``throughput``: the
window's training steps/s against a bare engine, in alternating slices of one run (the shared
machine's load drifts). ``race_frame``: display frame time with 8 optimizers racing.
Alone: ``python -m app.bench.training_view [--seconds S] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np


def _app():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("GDSIM_ERROR_DIALOGS", "0")
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication(sys.argv[:1])


def _pump(seconds: float) -> None:
    """Run the Qt event loop for ``seconds`` (timers and painting happen as in the app)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def _config_kwargs(optimizers: tuple[str, ...] = ("Adam(lr=0.01)",)) -> dict[str, Any]:
    return dict(
        dataset="moons",
        samples=1000,
        hidden=(16, 16),
        optimizers=optimizers,
        epochs=100_000,  # flat out for the whole measurement
        batch_size=32,
        device="cpu",
        seed=0,
        patience=None,
    )


def _window(optimizers: tuple[str, ...] = ("Adam(lr=0.01)",), size=(1280, 800)):
    """A shown MainWindow on the Training tab, its panel set to ``optimizers``, not running."""
    from app.main_window import MainWindow
    from core.engine.optimizers import parse_spec

    win = MainWindow(restore=False)
    win.resize(*size)
    win.show()
    win.tabs.setCurrentWidget(win.training_view)
    view = win.training_view
    c = view.controls
    c.run.epochs_spin.setValue(100_000)
    c.run.patience_spin.setValue(0)
    c.race.specs = [parse_spec(s) for s in optimizers]
    c.race.refresh_list()
    c.push()
    view.reset_run()
    _wait(lambda: view.controller.engine is not None and not view.model.awaiting_reset, 30)
    return win, view


def _wait(cond, timeout: float) -> None:
    from PySide6.QtWidgets import QApplication

    end = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > end:
            raise TimeoutError("benchmark setup timed out")
        QApplication.processEvents()
        time.sleep(0.005)


def _close(win) -> None:
    from PySide6.QtWidgets import QApplication

    win.close()
    win.deleteLater()
    QApplication.processEvents()


def _warm_up() -> None:
    from core.engine.training import TrainConfig, TrainingEngine

    e = TrainingEngine(TrainConfig(**{**_config_kwargs(), "epochs": 1}))
    e.step(20)


class _PaintClock:
    """Times every paint of the pyqtgraph views (their ``paintEvent`` is Python, so it can be
    wrapped): a display frame is the view's tick plus the paints it causes."""

    def __init__(self) -> None:
        import pyqtgraph as pg

        self.paints: list[tuple[float, float]] = []  # (start, seconds)
        self._cls = pg.GraphicsView
        self._orig = pg.GraphicsView.paintEvent
        clock = self

        def timed(view, ev):
            t0 = time.perf_counter()
            try:
                return clock._orig(view, ev)
            finally:
                clock.paints.append((t0, time.perf_counter() - t0))

        pg.GraphicsView.paintEvent = timed  # before any view exists (PySide caches overrides)

    def close(self) -> None:
        self._cls.paintEvent = self._orig

    def frames(self, ticks: list[tuple[float, float]]) -> list[float]:
        """Per tick: its own time plus every paint that started before the next tick."""
        out = []
        paints = sorted(self.paints)
        j = 0
        for i, (start, dur) in enumerate(ticks):
            end = ticks[i + 1][0] if i + 1 < len(ticks) else float("inf")
            while j < len(paints) and paints[j][0] < start:
                j += 1
            total = dur
            while j < len(paints) and paints[j][0] < end:
                total += paints[j][1]
                j += 1
            out.append(total)
        return out


def _ticks_while_running(view, seconds: float, clock: _PaintClock | None = None) -> dict:
    from PySide6.QtCore import Qt, QTimer

    stamps: list[float] = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(16)
    timer.timeout.connect(lambda: stamps.append(time.perf_counter()))
    view.tick_times.clear()
    view.tick_log = []  # (start, seconds) of every display tick, for frame times
    if clock is not None:
        clock.paints.clear()
    engine = view.controller.engine
    s0, t0, c0 = engine.step_count, time.perf_counter(), time.thread_time()
    timer.start()
    _pump(seconds)
    timer.stop()
    steps, wall = engine.step_count - s0, time.perf_counter() - t0
    gui_cpu = (time.thread_time() - c0) / wall
    intervals = [1000 * (b - a) for a, b in zip(stamps, stamps[1:], strict=False)]
    ticks = [1000 * t for t in view.tick_times]
    frames = [1000 * f for f in clock.frames(view.tick_log)] if clock is not None else []
    view.tick_log = None
    extra = {}
    if frames:
        extra = {
            "frame_p50_ms": round(_pct(frames, 50), 2),
            "frame_p99_ms": round(_pct(frames, 99), 2),
        }
    return {
        **extra,
        "timer_ms": 16,
        "interval_p50_ms": round(_pct(intervals, 50), 2),
        "interval_p99_ms": round(_pct(intervals, 99), 2),
        "interval_max_ms": round(max(intervals), 2) if intervals else None,
        "view_tick_p50_ms": round(_pct(ticks, 50), 2),
        "view_tick_p99_ms": round(_pct(ticks, 99), 2),
        "display_ticks_per_s": round(len(ticks) / seconds, 1),
        "steps_per_s": round(steps / wall, 1),
        "gui_thread_cpu": round(gui_cpu, 3),  # share of one core the GUI thread used
        "samples": len(intervals),
    }


def tick_latency(seconds: float = 5.0) -> dict[str, Any]:
    """(a) GUI timer-tick p50/p99 with a 16 ms QTimer while the view trains flat out."""
    _app()
    _warm_up()
    clock = _PaintClock()
    win, view = _window()
    try:
        view.toggle_run()
        _wait(lambda: view.controller.engine.step_count > 50, 30)
        out = _ticks_while_running(view, seconds, clock)
    finally:
        _close(win)
        clock.close()
    out["target_interval_p99_ms"] = 25
    return out


class _BareEngine:
    """The same config on a bare ``TrainingEngine.run()`` in a plain thread (no Qt at all),
    paused between measurement slices."""

    def __init__(self) -> None:
        from core.engine.training import TrainConfig, TrainingEngine

        self.engine = TrainingEngine(TrainConfig(**_config_kwargs()))
        self.thread = threading.Thread(
            target=self.engine.run, kwargs={"paused": True}, name="bench-bare", daemon=True
        )
        self.thread.start()

    def steps_per_s(self, seconds: float) -> float:
        """Run for ``seconds`` while this (the GUI) thread only sleeps: no events, no paint."""
        e = self.engine
        e.start()
        while e.state != "running":
            time.sleep(0.001)
        s0, t0 = e.step_count, time.perf_counter()
        time.sleep(seconds)
        steps, wall = e.step_count - s0, time.perf_counter() - t0
        e.pause()
        while e.state != "paused":
            time.sleep(0.001)
        return steps / wall

    def close(self) -> None:
        self.engine.stop()
        self.thread.join(5)


def _set_running(view, on: bool) -> None:
    if (view.model.state == "running") != on:
        view.toggle_run()
    want = "running" if on else "paused"
    _wait(lambda: view.controller.engine.state == want and view.model.state == want, 10)


def _window_steps(view, seconds: float) -> float:
    engine = view.controller.engine
    s0, t0 = engine.step_count, time.perf_counter()
    _pump(seconds)
    return (engine.step_count - s0) / (time.perf_counter() - t0)


def throughput(seconds: float = 0.75, trials: int = 10) -> dict[str, Any]:
    """(b) steps/s with the window live vs the bare engine, in one run.

    The machine is shared, so its load drifts by 2x within seconds: the two are measured in
    short alternating slices (window, bare, bare, window, ...) on two warm engines with the same
    config, and the ratio is the median of the per-pair ratios.
    """
    _app()
    _warm_up()
    win, view = _window()
    bare = _BareEngine()
    live_rates, bare_rates, ratios = [], [], []
    try:
        _set_running(view, True)
        _wait(lambda: view.controller.engine.step_count > 50, 30)
        bare.steps_per_s(0.3)  # warm
        for i in range(int(trials)):
            rates = {}
            for mode in ("window", "bare") if i % 2 == 0 else ("bare", "window"):
                _set_running(view, mode == "window")
                if mode == "window":
                    _pump(0.1)  # let the display settle into its rhythm
                    rates[mode] = _window_steps(view, seconds)
                else:
                    rates[mode] = bare.steps_per_s(seconds)
            live_rates.append(rates["window"])
            bare_rates.append(rates["bare"])
            ratios.append(rates["window"] / rates["bare"] if rates["bare"] > 0 else float("nan"))
    finally:
        bare.close()
        _close(win)
    q1, q3 = np.percentile(ratios, [25, 75])
    return {
        "window_steps_per_s": round(statistics.median(live_rates), 1),
        "bare_steps_per_s": round(statistics.median(bare_rates), 1),
        "ratio": round(statistics.median(ratios), 3),
        "ratio_iqr": [round(float(q1), 3), round(float(q3), 3)],
        "trials": int(trials),
        "seconds_per_slice": seconds,
        "target_ratio": 0.75,
    }


def race_frame(lanes: int = 8, seconds: float = 3.0) -> dict[str, Any]:
    """(c) The view's display tick (frame) and the 16 ms timer interval with 8 lanes racing."""
    _app()
    _warm_up()
    from core.engine.optimizers import optimizer_names

    names = [n for n in optimizer_names() if n != "LBFGS"][:lanes]
    clock = _PaintClock()
    win, view = _window(tuple(f"{n}(lr=0.01)" for n in names))
    try:
        view.toggle_run()
        _wait(lambda: view.controller.engine.step_count > 20, 30)
        out = _ticks_while_running(view, seconds, clock)
    finally:
        _close(win)
        clock.close()
    out["lanes"] = len(names)
    out["target_frame_ms"] = 16
    return out


def x_display_ticks(seconds: float) -> dict[str, Any] | None:
    """``tick_latency`` on the X display ``DISPLAY`` names (a child process with Qt's X11
    plugin: offscreen painting skips the X server round trips), or None without one."""
    from app.display import x_server_answers

    display = os.environ.get("DISPLAY", "")
    if not display or x_server_answers(display) is not True:
        return None
    cmd = [sys.executable, "-m", "app.bench.training_view", "--ticks-only", "--json",
           "--seconds", str(seconds)]  # fmt: skip
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])["tick_latency"]
    return {**out, "display": display}


def run_all(seconds: float = 4.0) -> dict[str, Any]:
    return {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "qpa": os.environ.get("QT_QPA_PLATFORM", ""),
        },
        "tick_latency": tick_latency(seconds),
        "throughput": throughput(0.75, trials=max(6, int(seconds * 3))),
        "race_frame": race_frame(8, seconds),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--ticks-only", action="store_true", help="only the GUI tick figure")
    args = parser.parse_args(argv)
    result = (
        {"tick_latency": tick_latency(args.seconds)} if args.ticks_only else run_all(args.seconds)
    )
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {json.dumps(value)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
