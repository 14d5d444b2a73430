"""The Surfaces view racing many optimizers: frame time, race rate against the headless race,
and drawing's share of a core (``gdsim bench``, sections "window" and "window_race").

One frame is what the GUI thread does per timer tick while a race runs flat out: the redraw
if one is due, the race steps until the next one is (``core.state.clock``), then Qt paints
the window (``processEvents``): the longest the event loop waits. The window is the real
``MainWindow`` on the Surfaces tab at the given size, offscreen, with the view's own timer
stopped so that every tick is one we time.
The speed is set to the maximum so stepping always uses its whole budget: the worst case.

Run: ``python -m app.bench.surface [n_optimizers] [frames]`` (one torch thread, as ``gdsim``
runs; ``gdsim bench`` reports the p99 as "GUI turn p99, 8 optimizers racing").
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import time
from typing import Any

#: Eight optimizers that all stay finite on Rosenbrock for thousands of steps (a diverged
#: runner stops stepping, which would make the benchmark cheaper than a real race).
BENCH_SPECS = (
    "SGD(lr=0.001)",
    "SGD(lr=0.001, momentum=0.9)",
    "Adam(lr=0.02)",
    "RMSprop(lr=0.005)",
    "Adagrad(lr=0.3)",
    "AdamW(lr=0.02)",
    "NAdam(lr=0.02)",
    "SGD(lr=0.0005, momentum=0.9, nesterov=True)",
)


def _percentile(values: list[float], q: float) -> float:
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(q / 100 * (len(xs) - 1)))))
    return xs[k]


def measure_frame_time(
    n_optimizers: int = 8,
    frames: int = 300,
    size: tuple[int, int] = (1280, 800),
    warmup: int = 30,
    surface: str = "rosenbrock",
) -> dict[str, Any]:
    """Time ``frames`` full ticks (steps + redraw + paint) with ``n_optimizers`` racing.

    Returns milliseconds: ``median_ms``, ``p99_ms``, ``max_ms`` of whole frames, the same
    split into ``tick_ms`` (steps + plot updates) and ``paint_ms`` (Qt painting), plus
    ``steps_per_frame`` and ``steps_per_s`` (race steps: each advances every optimizer once)
    and ``trajectory_points`` (longest history drawn at the end).
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("GDSIM_ERROR_DIALOGS", "0")
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.views.surface_view import SPEED_MAX

    app = QApplication.instance() or QApplication(sys.argv[:1])
    win = MainWindow(restore=False)
    try:
        win.resize(*size)
        win.show()
        win.tabs.setCurrentWidget(win.surface_view)
        view = win.surface_view
        view.set_surface(surface)
        view.clear_runners()
        for i in range(n_optimizers):
            view.add_runner(BENCH_SPECS[i % len(BENCH_SPECS)])
        view.set_speed(SPEED_MAX)
        for _ in range(5):
            app.processEvents()
        view.start()
        view.timer.stop()  # we drive the ticks ourselves, one per frame
        whole: list[float] = []
        ticks: list[float] = []
        paints: list[float] = []
        t_start = time.perf_counter()
        t_race0 = view.race.t
        for i in range(warmup + frames):
            if i == warmup:
                t_start = time.perf_counter()
                t_race0 = view.race.t
            t0 = time.perf_counter()
            view.tick()
            t1 = time.perf_counter()
            app.processEvents()
            t2 = time.perf_counter()
            if i >= warmup:
                ticks.append((t1 - t0) * 1e3)
                paints.append((t2 - t1) * 1e3)
                whole.append((t2 - t0) * 1e3)
        elapsed = time.perf_counter() - t_start
        steps = view.race.t - t_race0
        longest = max((len(view.trajectory(rid)[0]) for rid in view.entries), default=0)
        diverged = sum(e.diverged for e in view.entries.values())
        view.pause()
        return {
            "n_optimizers": n_optimizers,
            "frames": frames,
            "size": f"{size[0]}x{size[1]}",
            "median_ms": statistics.median(whole),
            "p99_ms": _percentile(whole, 99),
            "max_ms": max(whole),
            "tick_ms": statistics.median(ticks),
            "paint_ms": statistics.median(paints),
            "paint_p99_ms": _percentile(paints, 99),
            "steps_per_frame": steps / frames,
            "steps_per_s": steps / elapsed,
            "trajectory_points": longest,
            "diverged": diverged,
        }
    finally:
        win.close()
        win.deleteLater()
        app.processEvents()


TARGET_RACE_RATIO = 0.8  # the window's race rate against the headless race's
TARGET_DRAW_SHARE = 0.10  # of one core, drawing at the default speed
RATE_SIZE = (1024, 768)


def _open_window(size: tuple[int, int], specs) -> tuple[Any, Any, Any]:
    """The real MainWindow on the Surfaces tab, offscreen, racing ``specs`` on Rosenbrock."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("GDSIM_ERROR_DIALOGS", "0")
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    win = MainWindow(restore=False)
    win.resize(*size)
    win.show()
    win.tabs.setCurrentWidget(win.surface_view)
    view = win.surface_view
    view.set_surface("rosenbrock")
    view.clear_runners()
    for spec in specs:
        view.add_runner(spec)
    for _ in range(5):
        app.processEvents()
    from app.warmup import warming_up

    deadline = time.perf_counter() + 60.0
    while warming_up() and time.perf_counter() < deadline:  # the view steps only after it
        app.processEvents()
        time.sleep(0.01)
    return app, win, view


def _close_window(app, win) -> None:
    win.close()
    win.deleteLater()
    app.processEvents()


def _run_loop(seconds: float) -> None:
    """Let Qt's event loop (the view's own timers, painting) run for ``seconds``."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def _window_rate(app, view, speed: float, seconds: float) -> tuple[float, float]:
    """Race steps and redraws per second the window reaches from step 0, its timers driving
    it."""
    view.pause()
    view.reset()
    view.set_speed(speed)
    app.processEvents()
    redraws = [0]

    def count() -> None:
        redraws[0] += 1

    view.redrawn.connect(count)
    view.start()
    t0, s0 = time.perf_counter(), view.race.t
    _run_loop(seconds)
    elapsed = time.perf_counter() - t0
    rate = (view.race.t - s0) / elapsed
    view.pause()
    view.redrawn.disconnect(count)
    app.processEvents()
    return rate, redraws[0] / elapsed


def _headless_rate(specs, seconds: float) -> float:
    """Race steps per second of the same race without a window (``Race.step`` in a loop)."""
    from core.engine.race import Race

    race = Race("rosenbrock")
    for spec in specs:
        race.add(spec)
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while time.perf_counter() < deadline:
        race.step(1)
    return race.t / (time.perf_counter() - t0)


def measure_race_rate(pairs: int = 9, seconds: float = 1.0) -> dict[str, Any]:
    """The window racing :data:`BENCH_SPECS` at full speed against the same race headless,
    in this process, in interleaved pairs (order reversed every other pair): the median of
    the per-pair ratios window / headless, and their quartiles. Each trial starts at step 0;
    ``seconds`` of 2 or more keep its one-off costs (the reset's full repaint, the loss
    plot's first range jumps) from weighing like a race a class watches for minutes."""
    from core.bench.stats import quartiles
    from core.files.session import SPEED_MAX

    app, win, view = _open_window(RATE_SIZE, BENCH_SPECS)
    try:
        _window_rate(app, view, SPEED_MAX, seconds / 2)  # warm-up: first paints, caches
        _headless_rate(BENCH_SPECS, seconds / 2)
        window, headless, redraws = [], [], []
        for i in range(pairs):
            gc.collect()
            if i % 2:
                headless.append(_headless_rate(BENCH_SPECS, seconds))
            rate, hz = _window_rate(app, view, SPEED_MAX, seconds)
            window.append(rate)
            redraws.append(hz)
            if i % 2 == 0:
                headless.append(_headless_rate(BENCH_SPECS, seconds))
    finally:
        _close_window(app, win)
    q1, med, q3 = quartiles([w / h for w, h in zip(window, headless, strict=True)])
    return {
        "pairs": pairs,
        "seconds": seconds,
        "window_steps_per_s": statistics.median(window),
        "headless_steps_per_s": statistics.median(headless),
        "ratio": med,
        "q1": q1,
        "q3": q3,
        "redraws_per_s": statistics.median(redraws),
    }


def measure_drawing_share(trials: int = 3, seconds: float = 3.0) -> dict[str, Any]:
    """The GUI thread's CPU time spent on anything but race steps, as a share of the wall
    time, while the window races :data:`BENCH_SPECS` at the default speed (``thread_time``
    around the whole run and around every ``Race.step``)."""
    from core.bench.stats import quartiles
    from core.files.session import SPEED_DEFAULT

    app, win, view = _open_window(RATE_SIZE, BENCH_SPECS)
    race = view.race
    stepping = [0.0]
    real_step = race.step

    def timed_step(*args, **kwargs):
        t0 = time.thread_time()
        try:
            return real_step(*args, **kwargs)
        finally:
            stepping[0] += time.thread_time() - t0

    race.step = timed_step
    shares, step_shares, hz = [], [], []
    redraws = [0]

    def count() -> None:
        redraws[0] += 1

    try:
        _window_rate(app, view, SPEED_DEFAULT, min(1.0, seconds / 2))  # warm-up
        for _ in range(trials):
            gc.collect()
            view.reset()
            app.processEvents()
            view.redrawn.connect(count)
            view.start()
            stepping[0], redraws[0] = 0.0, 0
            c0, t0 = time.thread_time(), time.perf_counter()
            _run_loop(seconds)
            cpu, wall = time.thread_time() - c0, time.perf_counter() - t0
            view.pause()
            view.redrawn.disconnect(count)
            shares.append((cpu - stepping[0]) / wall)
            step_shares.append(stepping[0] / wall)
            hz.append(redraws[0] / wall)
    finally:
        del race.step
        _close_window(app, win)
    q1, med, q3 = quartiles(shares)
    return {
        "trials": trials,
        "seconds": seconds,
        "share": med,
        "q1": q1,
        "q3": q3,
        "stepping_share": statistics.median(step_shares),
        "redraws_per_s": statistics.median(hz),
    }


def main(argv: list[str] | None = None) -> int:
    from core.engine.runtime import configure_torch

    configure_torch()  # as the app itself runs (one torch thread)
    args = list(sys.argv[1:] if argv is None else argv)
    n = int(args[0]) if args else 8
    frames = int(args[1]) if len(args) > 1 else 300
    r = measure_frame_time(n, frames)
    print(
        f"surfaces view, {r['n_optimizers']} optimizers racing at full speed, {r['size']}, "
        f"{r['frames']} frames:\n"
        f"  frame (steps + redraw + paint): median {r['median_ms']:.1f} ms, "
        f"p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms\n"
        f"  of which steps + plot updates {r['tick_ms']:.1f} ms, paint {r['paint_ms']:.1f} ms "
        f"(p99 {r['paint_p99_ms']:.1f})\n"
        f"  {r['steps_per_frame']:.1f} race steps per frame = {r['steps_per_s']:.0f} steps/s "
        f"({r['n_optimizers']} optimizer steps each); longest trail {r['trajectory_points']} "
        f"points; {r['diverged']} diverged"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
