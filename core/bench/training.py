"""Benchmark: the training engine against a bare copy of the tutorial loop, same process.

Why: the engine adds commands, events and bookkeeping around the tutorial's loop; the issue's
target is that this costs at most 10 % (engine steps/s >= 0.9x the bare loop) and that emitting
events does not slow training. Run ``python -m core.bench.training [--quick] [--json]``.

What is measured, per batch size (32 and 128), on the same data, model and initial weights:
  bare                  a verbatim copy of the tutorial loop with the same DataLoader (BatchSampler
                        over a TensorDataset) plus the per-epoch validation pass (loss and accuracy
                        under ``torch.no_grad()``), nothing else; same CPU thread setting as the
                        engine (``TrainConfig.threads_for_cpu``), so the ratio is the engine's cost;
  engine                ``TrainingEngine.run()`` in the calling thread, nobody draining (events pile
                        up in the bounded buffers; the flush every 20 ms still runs);
  engine_worker_30hz    ``run()`` on a worker thread while the calling thread drains at 30 Hz, as
                        the window will;
  bare_default_collate  the bare loop with a default ``DataLoader(batch_size=..., shuffle=True)``
                        (per-sample collate), to show what the BatchSampler saves;
  bare_worker_default_threads  (``--threads-demo`` only) the bare loop on a worker thread with
                        torch's default thread count: why the engine uses 1 intra-op thread
                        (it is several times slower, so not run by default).
Trials are short (~200 steps) and interleaved after a warm-up, the order reversed every trial,
so drift in the machine's load hits every variant alike; each figure is the median over trials
with the min-max spread, and the engine/bare ratio is also given per trial (paired). Two clocks: wall time (steps/s, the headline) and the training thread's own CPU time
(``time.thread_time``; steps per CPU second). On a shared machine other processes make wall time
noisy; CPU time of the one thread doing the work is far less sensitive, so its ratio is the more
reliable estimate of the engine's own overhead. The event cost is the engine's throughput relative
to ``bare`` (engine = bare + commands + events + bookkeeping), plus the cost of one ``drain()``
call and of one flush (turning the pending loss tensors into floats).

The functions return plain dicts so a later ``gdsim bench`` can reuse them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

from core.engine.devices import resolve_device
from core.engine.runtime import torch_threads
from core.engine.training import TrainConfig, TrainingEngine, build_mlp


def _config(batch_size: int, epochs: int, device: str = "cpu") -> TrainConfig:
    return TrainConfig(
        dataset="moons",
        samples=1000,
        hidden=(16, 16),
        optimizers=("Adam(lr=0.01)",),
        epochs=epochs,
        batch_size=batch_size,
        device=device,
        seed=0,
        patience=None,
    )


Timing = tuple[int, float, float]  # (steps, wall seconds, CPU seconds of the training thread)


def _timed(steps_fn: Callable[[], int]) -> Timing:
    wall, cpu = time.perf_counter(), time.thread_time()
    steps = steps_fn()
    return steps, time.perf_counter() - wall, time.thread_time() - cpu


def bare_loop(
    config: TrainConfig, default_collate: bool = False, engine_threads: bool = True
) -> Timing:
    """The tutorial's loop (+ validation per epoch) on the engine's data and model."""
    with torch_threads(config.threads_for_cpu() if engine_threads else None):
        return _bare_loop(config, default_collate)


def _bare_loop(config: TrainConfig, default_collate: bool) -> Timing:
    data = config.make_data()
    x_train, y_train, x_val, y_val = data.tensors()
    train_set = TensorDataset(x_train, y_train)
    gen = torch.Generator().manual_seed(config.seed)
    if default_collate:
        train_loader = DataLoader(
            train_set, batch_size=config.batch_size, shuffle=True, generator=gen
        )
    else:
        train_loader = DataLoader(
            train_set,
            batch_size=None,
            sampler=BatchSampler(RandomSampler(train_set, generator=gen), config.batch_size, False),
        )
    device = resolve_device(config.device)
    model = build_mlp(config.hidden, config.activation, data.n_classes, config.seed).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    num_epochs = config.epochs

    def tutorial_loop() -> int:
        model.train()
        for _epoch in range(num_epochs):
            model.train()
            for _batch_idx, (data_b, targets) in enumerate(train_loader):
                data_b = data_b.to(device)
                targets = targets.to(device)
                scores = model(data_b)
                loss = loss_fn(scores, targets)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            model.eval()
            with torch.no_grad():
                scores = model(x_val.to(device))
                _val_loss = loss_fn(scores, y_val.to(device)).item()
                _val_acc = (scores.argmax(dim=1) == y_val.to(device)).float().mean().item()
        return num_epochs * len(train_loader)

    return _timed(tutorial_loop)


def engine_loop(config: TrainConfig) -> Timing:
    """``TrainingEngine.run()`` in this thread, nobody draining."""
    engine = TrainingEngine(config)

    def run() -> int:
        assert engine.run() == "finished", engine.state
        return engine.step_count

    return _timed(run)


def in_worker_thread(fn: Callable[[], Timing]) -> Timing:
    """Run ``fn`` on a fresh thread (as a QThread would) and return its result."""
    result: list[Timing] = []
    worker = threading.Thread(target=lambda: result.append(fn()), daemon=True)
    worker.start()
    worker.join()
    return result[0]


def engine_drained(config: TrainConfig, hz: float = 30.0) -> Timing:
    """``run()`` on a worker thread while this thread drains at ``hz``."""
    engine = TrainingEngine(config)
    result: list[Timing] = []

    def work() -> None:
        result.append(_timed(lambda: (engine.run(), engine.step_count)[1]))

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    while worker.is_alive():
        engine.drain()
        worker.join(1.0 / hz)
    engine.drain()
    return result[0]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "trials": len(values),
    }


def compare(
    batch_size: int, epochs: int, trials: int, threads_demo: bool = False, device: str = "cpu"
) -> dict:
    """Interleaved trials of every variant for one batch size.

    Returns ``{"batch_size", "epochs", "variants": {name: {"steps_per_s": summary,
    "steps_per_cpu_s": summary}}, "engine_ratio": {"wall": summary, "cpu": summary}}`` where a
    summary is ``{"median", "min", "max", "trials"}`` and the ratios are paired per trial.
    """
    config = _config(batch_size, epochs, device)
    variants: dict[str, Callable[[], Timing]] = {
        "bare": lambda: bare_loop(config),
        "engine": lambda: engine_loop(config),
        "engine_worker_30hz": lambda: engine_drained(config),
        "bare_default_collate": lambda: bare_loop(config, default_collate=True),
    }
    if threads_demo:
        variants["bare_worker_default_threads"] = lambda: in_worker_thread(
            lambda: bare_loop(config, engine_threads=False)
        )
    for fn in variants.values():  # warm-up
        fn()
    results: dict[str, list[Timing]] = {name: [] for name in variants}
    order = list(variants)
    for _ in range(trials):
        for name in order:
            results[name].append(variants[name]())
        order.reverse()  # alternate the order so slow drift in the machine's load cancels out
    wall = {name: [s / w for s, w, _ in values] for name, values in results.items()}
    cpu = {name: [s / c for s, _, c in values] for name, values in results.items()}
    return {
        "batch_size": batch_size,
        "epochs": epochs,
        "steps_per_trial": results["bare"][0][0],
        "variants": {
            name: {"steps_per_s": _summary(wall[name]), "steps_per_cpu_s": _summary(cpu[name])}
            for name in variants
        },
        # paired per trial: less sensitive to load drift than a ratio of medians
        "engine_ratio": {
            "wall": _summary([e / b for e, b in zip(wall["engine"], wall["bare"], strict=True)]),
            "cpu": _summary([e / b for e, b in zip(cpu["engine"], cpu["bare"], strict=True)]),
        },
    }


def event_costs(repeats: int = 200) -> dict[str, float]:
    """Microseconds for one ``drain()`` (1/30 s worth of points pending) and one flush."""
    engine = TrainingEngine(_config(32, 200))
    engine.step(60)
    times = []
    for _ in range(repeats):
        engine.step(60)  # ~ what accumulates in 1/30 s at ~2k steps/s
        t = time.perf_counter()
        engine.drain()
        times.append(time.perf_counter() - t)
    costs = {"drain_us_60_points": statistics.median(times) * 1e6}
    lane = engine.lanes[0]
    times = []
    for _ in range(repeats):
        lane.pending = [torch.tensor(0.5) for _ in range(40)]
        lane.pending_lrs = [0.01] * 40
        t = time.perf_counter()
        engine._flush()
        times.append(time.perf_counter() - t)
    costs["flush_us_40_losses"] = statistics.median(times) * 1e6
    times = []
    for _ in range(max(5, repeats // 10)):
        t = time.perf_counter()
        engine.boundary(100)
        times.append(time.perf_counter() - t)
    costs["boundary_ms_100x100"] = statistics.median(times) * 1e3
    return costs


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def run_benchmark(quick: bool = False, threads_demo: bool = False) -> dict[str, Any]:
    trials = 5 if quick else 15
    rows = [  # ~200 steps per trial
        compare(32, 8, trials, threads_demo),
        compare(128, 28, trials, threads_demo),
    ]
    return {"machine": machine(), "rows": rows, "event_costs": event_costs(50 if quick else 200)}


def format_table(result: dict[str, Any]) -> str:
    m = result["machine"]
    load = m.get("load_average")
    lines = [
        f"torch {m['torch']}, python {m['python']}, {m['cores']} cores, "
        f"{m['torch_threads']} torch threads"
        + (f", load average {load[0]:.2f} at start" if load else ""),
        f"{'batch':>5} {'variant':<28} {'steps/s':>8} {'(min-max)':>13} {'x bare':>6}"
        f" {'steps/CPU-s':>11} {'x bare':>6}",
    ]
    for row in result["rows"]:
        variants = row["variants"]
        bare_wall = variants["bare"]["steps_per_s"]["median"]
        bare_cpu = variants["bare"]["steps_per_cpu_s"]["median"]
        for name, v in variants.items():
            w, c = v["steps_per_s"], v["steps_per_cpu_s"]
            spread = f"({w['min']:.0f}-{w['max']:.0f})"
            lines.append(
                f"{row['batch_size']:>5} {name:<28} {w['median']:>8.0f} {spread:>13} "
                f"{w['median'] / bare_wall:>6.2f} {c['median']:>11.0f} "
                f"{c['median'] / bare_cpu:>6.2f}"
            )
        r = row["engine_ratio"]
        lines.append(
            f"{'':>5} engine/bare paired per trial: wall {r['wall']['median']:.2f} "
            f"({r['wall']['min']:.2f}-{r['wall']['max']:.2f}), CPU {r['cpu']['median']:.2f} "
            f"({r['cpu']['min']:.2f}-{r['cpu']['max']:.2f})"
        )
    c = result["event_costs"]
    lines.append(
        f"drain(): {c['drain_us_60_points']:.0f} us with 60 points pending; "
        f"flush of 40 losses: {c['flush_us_40_losses']:.0f} us; "
        f"decision-boundary grid 100x100: {c['boundary_ms_100x100']:.1f} ms"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.bench.training", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer trials")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--threads-demo",
        action="store_true",
        help="also time the bare loop on a worker thread with torch's default thread count",
    )
    args = parser.parse_args(argv)
    result = run_benchmark(quick=args.quick, threads_demo=args.threads_demo)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
