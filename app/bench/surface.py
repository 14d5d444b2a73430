"""Frame time of the Surfaces view with many optimizers racing (for the closing note and a
future ``gdsim bench``).

One frame is what the GUI thread does per timer tick while a race runs flat out: the race
steps the tick's budget allows, the plot updates (``SurfaceView._tick``), then Qt paints the
window (``processEvents``). The window is the real ``MainWindow`` on the Surfaces tab at the
given size, offscreen, with the view's own timer stopped so that every tick is one we time.
The speed is set to the maximum so stepping always uses its whole budget: the worst case.

Run: ``python -m app.bench.surface [n_optimizers] [frames]`` (one torch thread, as ``gdsim``
runs; ``gdsim bench`` reports the median as "frame time, 8 optimizers racing").
"""

from __future__ import annotations

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
