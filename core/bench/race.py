"""Benchmarks for the surface engine: ``python -m core.bench.race [--quick] [--json] [--threads N]``.

Speed is measured here, not asserted in tests (the machine is shared and noisy). Three questions,
each answered by a function returning plain dicts (a later ``gdsim bench`` builds on them; the
training benchmarks live in their own module):

- :func:`bench_race_step`: for each registry optimizer, one race step of a single runner
  (``Race.step``) against a bare ``torch.optim`` loop (``zero_grad(); f(p).backward();
  optimizer.step()``) on the same surface, same float64 2-element parameter, same process. Trials
  alternate bare/race so both see the same background load; the ratio is the median of the
  per-trial ratios, with its spread (min-max and quartiles over trials) beside it. Target: <= 1.2.
- :func:`bench_swarm`: steps per second of a swarm of 1, 100, 10,000, 100,000 points against a
  bare batched loop on one ``(N, 2)`` parameter. Target: >= 2,000 steps/s at 10,000 points.
- :func:`bench_grid`: milliseconds for a 500x500 contour grid of every built-in surface.
  Target: < 15 ms.

Warm-up: one untimed trial of each kind before timing (first calls allocate, fill caches, and
torch.optim imports torch._dynamo on the first optimizer built). Specs use a tiny learning rate so
no runner converges or diverges during timing (a stopped runner would time nothing).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import torch

from core.bench.stats import ratio_stats

TARGET_RATIO = 1.2
TARGET_SWARM_STEPS_PER_S = 2000.0
TARGET_GRID_MS = 15.0


def _bench_spec(name: str) -> str:
    """A spec that keeps the runner moving slowly for the whole measurement."""
    return f"{name}(lr=1e-05)"


def _time_bare(spec, fn, start, steps: int) -> float:
    p = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
    opt = spec.build([p])
    if spec.info.needs_closure:

        def closure():
            opt.zero_grad()
            loss = fn(p)
            loss.backward()
            return loss

        t0 = time.perf_counter()
        for _ in range(steps):
            opt.step(closure)
        return (time.perf_counter() - t0) / steps
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        loss = fn(p)
        loss.backward()
        opt.step()
    return (time.perf_counter() - t0) / steps


def _time_race(spec, surface, start, steps: int) -> tuple[float, str]:
    from core.engine.race import Race

    race = Race(surface, start=start)
    runner = race.add(spec)
    t0 = time.perf_counter()
    race.step(steps)
    elapsed = (time.perf_counter() - t0) / steps
    return elapsed, runner.status


def bench_race_step(
    optimizers: Sequence[str] | None = None,
    surface: str = "rosenbrock",
    steps: int = 400,
    trials: int = 9,
) -> list[dict[str, Any]]:
    """Per-runner race step vs a bare torch.optim loop, per optimizer (see module docstring).

    Returns one dict per optimizer: ``optimizer``, ``spec``, ``bare_us`` and ``race_us``
    (medians, microseconds per step), ``ratio`` (median of per-trial race/bare), ``ratio_min``,
    ``ratio_max``, ``status`` (the race runner's status at the end: should be "ok").
    """
    from core.engine.optimizers import optimizer_names, parse_spec
    from core.engine.surfaces import get_surface

    surf = get_surface(surface)
    start = surf.start
    rows = []
    for name in optimizers if optimizers is not None else optimizer_names():
        spec = parse_spec(_bench_spec(name))
        n = max(20, steps // 8) if spec.info.needs_closure else steps
        _time_bare(spec, surf.fn, start, n // 4 + 1)  # warm-up
        _time_race(spec, surf, start, n // 4 + 1)
        bare, race, ratios, status = [], [], [], "ok"
        for _ in range(trials):
            gc.collect()
            b = _time_bare(spec, surf.fn, start, n)
            r, st = _time_race(spec, surf, start, n)
            if st != "ok":
                status = st
            bare.append(b)
            race.append(r)
            ratios.append(r / b)
        rows.append(
            {
                "optimizer": spec.name,
                "spec": str(spec),
                "surface": surf.name,
                "bare_us": statistics.median(bare) * 1e6,
                "race_us": statistics.median(race) * 1e6,
                **ratio_stats(ratios),
                "trials": trials,
                "steps_per_trial": n,
                "status": status,
            }
        )
    return rows


def _time_bare_swarm(spec, fn, starts: torch.Tensor, steps: int) -> float:
    p = torch.nn.Parameter(starts.clone())
    opt = spec.build([p])
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        loss = fn(p).sum()
        loss.backward()
        opt.step()
    return (time.perf_counter() - t0) / steps


def _time_race_swarm(spec, surface, starts, steps: int) -> float:
    from core.engine.race import Race

    race = Race(surface)
    race.add_swarm(spec, starts)
    t0 = time.perf_counter()
    race.step(steps)
    return (time.perf_counter() - t0) / steps


def bench_swarm(
    sizes: Sequence[int] = (1, 100, 10_000, 100_000),
    spec: str = "Adam(lr=0.001)",
    surface: str = "rosenbrock",
    seconds: float = 0.4,
    trials: int = 5,
) -> list[dict[str, Any]]:
    """Swarm steps/s against a bare batched loop, per swarm size.

    Returns one dict per size: ``points``, ``bare_steps_per_s``, ``race_steps_per_s`` (from
    median step times), ``ratio`` (median per-trial race/bare time), ``ratio_min``,
    ``ratio_max``, ``batched``.
    """
    import numpy as np

    from core.engine.optimizers import parse_spec
    from core.engine.surfaces import get_surface

    surf = get_surface(surface)
    sp = parse_spec(spec)
    (x0, x1), (y0, y1) = surf.domain
    rows = []
    for n_points in sizes:
        rng = np.random.default_rng(0)
        starts = np.column_stack(
            [rng.uniform(x0, x1, n_points), rng.uniform(y0, y1, n_points)]
        ).astype(np.float64)
        starts_t = torch.from_numpy(starts)
        # size the trial so it lasts about `seconds / trials`
        probe = _time_bare_swarm(sp, surf.fn, starts_t, 5)
        steps = int(max(5, min(5000, seconds / trials / max(probe, 1e-6))))
        _time_race_swarm(sp, surf, starts, max(2, steps // 4))  # warm-up
        bare, race, ratios = [], [], []
        for _ in range(trials):
            gc.collect()
            b = _time_bare_swarm(sp, surf.fn, starts_t, steps)
            r = _time_race_swarm(sp, surf, starts, steps)
            bare.append(b)
            race.append(r)
            ratios.append(r / b)
        rows.append(
            {
                "points": n_points,
                "spec": str(sp),
                "surface": surf.name,
                "bare_steps_per_s": 1.0 / statistics.median(bare),
                "race_steps_per_s": 1.0 / statistics.median(race),
                **ratio_stats(ratios),
                "steps_per_trial": steps,
                "batched": bool(sp.info.elementwise and not sp.info.needs_closure),
            }
        )
    return rows


def bench_grid(n: int = 500, repeats: int = 9) -> list[dict[str, Any]]:
    """Milliseconds for an ``n`` x ``n`` grid of every built-in surface (median and min)."""
    from core.engine.surfaces import SURFACES

    rows = []
    for name, surface in SURFACES.items():
        surface.grid(n)  # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            surface.grid(n)
            times.append(time.perf_counter() - t0)
        rows.append(
            {
                "surface": name,
                "n": n,
                "ms": statistics.median(times) * 1e3,
                "ms_min": min(times) * 1e3,
                "ms_max": max(times) * 1e3,
            }
        )
    return rows


def machine() -> dict[str, Any]:
    """What the numbers were measured on (they mean little without it)."""
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": load,
        "platform": platform.platform(),
    }


def run_all(quick: bool = False) -> dict[str, Any]:
    """Everything, as one plain dict."""
    if quick:
        race = bench_race_step(steps=200, trials=5)
        swarm = bench_swarm(seconds=0.2, trials=3)
        grid = bench_grid(repeats=5)
    else:
        race = bench_race_step()
        swarm = bench_swarm()
        grid = bench_grid()
    return {"machine": machine(), "race_step": race, "swarm": swarm, "grid": grid}


def format_report(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"machine: {m['cpus']} CPUs, torch {m['torch']} ({m['torch_threads']} threads), "
        f"Python {m['python']}, load average {m['load_average']}",
        "",
        f"race step vs bare torch.optim loop (per runner, on {results['race_step'][0]['surface']};"
        f" target ratio <= {TARGET_RATIO})"
        if results["race_step"]
        else "",
        f"{'optimizer':<12}{'bare µs':>10}{'race µs':>10}{'ratio':>8}  {'spread':<13}{'':>3}",
    ]
    for r in results["race_step"]:
        flag = "" if r["ratio"] <= TARGET_RATIO else " !"
        status = "" if r["status"] == "ok" else f"  (runner {r['status']})"
        lines.append(
            f"{r['optimizer']:<12}{r['bare_us']:>10.1f}{r['race_us']:>10.1f}{r['ratio']:>8.3f}  "
            f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f}{flag}{status}"
        )
    if results["swarm"]:
        s0 = results["swarm"][0]
        lines += [
            "",
            f"swarm of {s0['spec']} on {s0['surface']} (target >= "
            f"{TARGET_SWARM_STEPS_PER_S:,.0f} steps/s at 10,000 points)",
            f"{'points':>8}{'bare steps/s':>14}{'race steps/s':>14}{'ratio':>8}  spread",
        ]
        for r in results["swarm"]:
            lines.append(
                f"{r['points']:>8,}{r['bare_steps_per_s']:>14,.0f}{r['race_steps_per_s']:>14,.0f}"
                f"{r['ratio']:>8.3f}  {r['ratio_min']:.2f}-{r['ratio_max']:.2f}"
            )
    if results["grid"]:
        lines += [
            "",
            f"{results['grid'][0]['n']}x{results['grid'][0]['n']} grid (target < {TARGET_GRID_MS} ms)",
            f"{'surface':<18}{'median ms':>10}{'min':>8}{'max':>8}",
        ]
        for r in results["grid"]:
            flag = "" if r["ms"] < TARGET_GRID_MS else " !"
            lines.append(
                f"{r['surface']:<18}{r['ms']:>10.2f}{r['ms_min']:>8.2f}{r['ms_max']:>8.2f}{flag}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.bench.race", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer, shorter trials (~40 s on a loaded 2-core box)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads(N) first")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    results = run_all(quick=args.quick)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        print(format_report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
