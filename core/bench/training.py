"""Benchmark: the training engine against a bare copy of the tutorial loop, same process.

Why: the engine adds commands, events and bookkeeping around the tutorial's loop; the issue's
target is that this costs at most 10 % (engine steps/s >= 0.9x the bare loop) and that emitting
events does not slow training. Run ``python -m core.bench.training [--quick] [--json]``.

What is measured, per batch size (32 and 128), on the same data, model and initial weights:
  bare                  the same work: the tutorial loop with the engine's DataLoader (BatchSampler
                        over a TensorDataset), its optimizer built as the engine builds it (fused
                        on the CPU, ``fused_kwargs``) and the engine's per-epoch validation pass
                        (validation loss and accuracy and training accuracy, one pass); same CPU
                        thread setting (``TrainConfig.threads_for_cpu``), so engine/bare is the
                        engine's own cost (target >= 0.9);
  fused_limit           the fastest way to the tutorial's numbers with its DataLoader: the loop
                        with ``fused=True`` and the tutorial's validation (validation points
                        only) (target >= 0.9);
  engine                ``TrainingEngine.run()`` in the calling thread, nobody draining (events pile
                        up in the bounded buffers; the flush every 20 ms still runs);
  engine_worker_30hz    ``run()`` on a worker thread while the calling thread drains at 30 Hz, as
                        the window does;
  bare_tutorial_optimizer  the loop as the tutorial writes it (torch's default per-parameter
                        optimizer step): what the fused step saves;
  bare_sliced_fused     fused, batches sliced from a permutation without a DataLoader: what the
                        tutorial's DataLoader costs (kept: it is the loop the tutorial teaches);
  bare_default_collate  the bare loop with a default ``DataLoader(batch_size=..., shuffle=True)``
                        (per-sample collate), to show what the BatchSampler saves;
  bare_worker_default_threads  (``--threads-demo`` only) the bare loop on a worker thread with
                        torch's default thread count: why the engine uses 1 intra-op thread
                        (it is several times slower, so not run by default).
Trials are short (~200 steps) and interleaved after a warm-up, the order reversed every trial,
so drift in the machine's load hits every variant alike; each figure is the median over trials
with its quartiles, and each engine/baseline ratio is paired per trial. Two clocks: wall time
(steps/s) and the training thread's own CPU time (``time.thread_time``; steps per CPU second).
On a shared machine other processes make wall time noisy; CPU time of the one thread doing the
work is far less sensitive, so the verdicts use the CPU ratio: "unsure" when its quartiles
straddle the target. Also the cost of one ``drain()`` call and of one flush (turning the
pending loss tensors into floats).

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
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

from core.bench.transfers import count_transfers
from core.engine.devices import device_sync, resolve_device
from core.engine.optimizers import fused_kwargs
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


def _timed(steps_fn: Callable[[], int], device: torch.device | str = "cpu") -> Timing:
    """Steps, wall and thread-CPU seconds of ``steps_fn()``; on a GPU the clocks start and stop
    with the device idle (``device_sync``): the work, not its queueing, is timed."""
    device_sync(device)
    wall, cpu = time.perf_counter(), time.thread_time()
    steps = steps_fn()
    device_sync(device)
    return steps, time.perf_counter() - wall, time.thread_time() - cpu


#: How the bare loops build their optimizer and what their validation pass computes.
#: ``engine``: the optimizer as the engine builds it (``fused_kwargs``: fused on the CPU) and the
#: engine's validation (validation loss and accuracy plus training accuracy, one pass over both
#: sets): the same work, so engine/bare is the engine's own cost. ``fused``: ``fused=True`` and
#: the tutorial's validation (validation points only): the fastest way to get the tutorial's
#: numbers with its DataLoader, the limit. ``tutorial``: the optimizer as the tutorial writes it
#: (torch's default per-parameter loop on the CPU) and its validation.
BUILDS = ("engine", "fused", "tutorial")


def bare_loop(
    config: TrainConfig,
    default_collate: bool = False,
    engine_threads: bool = True,
    build: str = "engine",
    sliced: bool = False,
) -> Timing:
    """The tutorial's loop (+ validation per epoch) on the engine's data and model.

    ``sliced``: batches are slices of a seeded permutation instead of the DataLoader (what the
    loop costs without the tutorial's DataLoader)."""
    with torch_threads(config.threads_for_cpu() if engine_threads else None):
        return _bare_loop(config, default_collate, build, sliced)


def _bare_loop(config: TrainConfig, default_collate: bool, build: str, sliced: bool) -> Timing:
    if build not in BUILDS:
        raise ValueError(f"build must be one of {BUILDS}, got {build!r}")
    data = config.make_data()
    x_train, y_train, x_val, y_val = data.tensors()
    train_set = TensorDataset(x_train, y_train)
    gen = torch.Generator().manual_seed(config.seed)
    if default_collate:
        train_loader = DataLoader(
            train_set, batch_size=config.batch_size, shuffle=True, generator=gen
        )
    elif sliced:
        train_loader = _Slices(x_train, y_train, config.batch_size, gen)
    else:
        train_loader = DataLoader(
            train_set,
            batch_size=None,
            sampler=BatchSampler(RandomSampler(train_set, generator=gen), config.batch_size, False),
        )
    device = resolve_device(config.device)
    model = build_mlp(config.hidden, config.activation, data.n_classes, config.seed).to(device)
    spec = config.optimizer_specs()[0]
    switch = {
        "engine": fused_kwargs(spec.info.cls, device),
        "fused": {"fused": True},
        "tutorial": {},
    }[build]
    optimizer = spec.build(model.parameters(), **switch)
    loss_fn = nn.CrossEntropyLoss()
    num_epochs = config.epochs
    x_val, y_val = x_val.to(device), y_val.to(device)
    x_all = torch.cat((x_val, x_train)).to(device)  # as the engine's validation pass
    y_all = torch.cat((y_val, y_train)).to(device)
    n_val = len(x_val)

    def validate() -> None:
        if build == "engine":  # validation loss and accuracy, and training accuracy
            scores = model(x_all)
            _val_loss = loss_fn(scores[:n_val], y_all[:n_val]).item()
            correct = scores.argmax(dim=1) == y_all
            _val_acc = correct[:n_val].float().mean().item()
            _train_acc = correct[n_val:].float().mean().item()
        else:
            scores = model(x_val)
            _val_loss = loss_fn(scores, y_val).item()
            _val_acc = (scores.argmax(dim=1) == y_val).float().mean().item()

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
                validate()
        return num_epochs * len(train_loader)

    return _timed(tutorial_loop, device)


class _Slices:
    """Batches as slices of a new seeded permutation each epoch (no DataLoader, no sampler)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch: int, gen: torch.Generator):
        self.x, self.y, self.batch, self.gen = x, y, batch, gen

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.x), generator=self.gen)
        for i in range(0, len(order), self.batch):
            idx = order[i : i + self.batch]
            yield self.x[idx], self.y[idx]


def engine_loop(config: TrainConfig) -> Timing:
    """``TrainingEngine.run()`` in this thread, nobody draining."""
    engine = TrainingEngine(config)

    def run() -> int:
        assert engine.run() == "finished", engine.state
        return engine.step_count

    return _timed(run, engine.device)


def engine_transfers(config: TrainConfig) -> dict[str, float]:
    """Host <-> device copies per step of ``TrainingEngine.run()`` (an untimed run: counting
    slows every op). On the CPU both are 0."""
    engine = TrainingEngine(config)
    _, count = count_transfers(engine.run)
    steps = max(1, engine.step_count)
    return {
        "to_device_per_step": count.to_device / steps,
        "to_host_per_step": count.to_host / steps,
    }


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
        result.append(_timed(lambda: (engine.run(), engine.step_count)[1], engine.device))

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    while worker.is_alive():
        engine.drain()
        worker.join(1.0 / hz)
    engine.drain()
    return result[0]


def _summary(values: list[float]) -> dict[str, float]:
    """Median, min-max and quartiles (the middle half: one preempted trial on a shared machine
    moves neither the median nor the quartiles; min and max for fewer than 4 values)."""
    xs = sorted(values)
    q1, q3 = (
        statistics.quantiles(xs, n=4, method="inclusive")[::2] if len(xs) >= 4 else (xs[0], xs[-1])
    )
    return {
        "median": statistics.median(xs),
        "min": xs[0],
        "max": xs[-1],
        "q1": q1,
        "q3": q3,
        "trials": len(xs),
    }


#: The targets (issue 17): the engine at >= 0.9x the bare loop doing the same work, and at
#: >= 0.9x the fused limit with the tutorial's DataLoader.
TARGETS = {"bare": 0.9, "fused_limit": 0.9}
#: What ``gdsim bench`` times: the engine and the two baselines with a target.
TARGETED = ("engine", "bare", "fused_limit")


def verdict(ratio: dict[str, float], target: float) -> str:
    """ "met", "missed", or "unsure" when the quartiles of the paired ratios straddle ``target``
    (another run could land on the other side)."""
    if (ratio["q1"] >= target) != (ratio["q3"] >= target):
        return "unsure"
    return "met" if ratio["median"] >= target else "missed"


def compare(
    batch_size: int,
    epochs: int,
    trials: int,
    threads_demo: bool = False,
    device: str = "cpu",
    only: tuple[str, ...] | None = None,
) -> dict:
    """Interleaved trials of every variant (or of ``only``) for one batch size.

    Returns ``{"batch_size", "epochs", "device", "clock" (the one verdicts read: "cpu" or, on a
    GPU, "wall"), "transfers" (None on the CPU, else ``engine_transfers``), "variants": {name:
    {"steps_per_s": summary,
    "steps_per_cpu_s": summary}}, "ratios": {baseline: {"wall": summary, "cpu": summary}},
    "engine_ratio": ratios["bare"]}`` where a summary is ``{"median", "min", "max", "q1", "q3",
    "trials"}`` and each ratio (engine speed / baseline speed) is paired per trial.
    """
    config = _config(batch_size, epochs, device)
    variants: dict[str, Callable[[], Timing]] = {
        "bare": lambda: bare_loop(config),
        "engine": lambda: engine_loop(config),
        "fused_limit": lambda: bare_loop(config, build="fused"),
        "engine_worker_30hz": lambda: engine_drained(config),
        "bare_tutorial_optimizer": lambda: bare_loop(config, build="tutorial"),
        "bare_sliced_fused": lambda: bare_loop(config, build="fused", sliced=True),
        "bare_default_collate": lambda: bare_loop(config, default_collate=True),
    }
    if threads_demo:
        variants["bare_worker_default_threads"] = lambda: in_worker_thread(
            lambda: bare_loop(config, engine_threads=False)
        )
    if only is not None:
        variants = {name: fn for name, fn in variants.items() if name in only}
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
    # paired per trial: less sensitive to load drift than a ratio of medians
    ratios = {
        name: {
            clock: _summary([e / b for e, b in zip(rate["engine"], rate[name], strict=True)])
            for clock, rate in (("wall", wall), ("cpu", cpu))
        }
        for name in variants
        if name != "engine"
    }
    on_cpu = resolve_device(device).type == "cpu"
    return {
        "batch_size": batch_size,
        "epochs": epochs,
        "device": str(resolve_device(device)),
        # what verdicts read: the training thread's CPU time on the CPU (steadier under load);
        # on a GPU that thread mostly waits, so wall time between device syncs
        "clock": "cpu" if on_cpu else "wall",
        "transfers": None if on_cpu else engine_transfers(config),
        "steps_per_trial": results["engine"][0][0],
        "variants": {
            name: {"steps_per_s": _summary(wall[name]), "steps_per_cpu_s": _summary(cpu[name])}
            for name in variants
        },
        "ratios": ratios,
        "engine_ratio": ratios["bare"],
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
        for name, r in row["ratios"].items():
            target = TARGETS.get(name)
            judged = f", {verdict(r['cpu'], target)} (target {target})" if target else ""
            lines.append(
                f"{'':>5} engine/{name} paired, median (quartiles): wall {r['wall']['median']:.2f}"
                f" ({r['wall']['q1']:.2f}-{r['wall']['q3']:.2f}), CPU {r['cpu']['median']:.2f}"
                f" ({r['cpu']['q1']:.2f}-{r['cpu']['q3']:.2f}){judged}"
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
