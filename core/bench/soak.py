"""Soak test: a very long race and a very long training run, with the process's memory watched.

Why: a lecture runs for an hour and a demo machine may be left on all day. A leak of a few
hundred bytes per step is invisible in a test and fatal after ten million steps, so this script
does the ten million steps (headless, Qt-free, the engines exactly as the window drives them)
and reads the resident set size (``VmRSS`` in ``/proc/self/status``) at intervals. After a
warm-up (allocators, caches and torch's lazy state settle during the first part of each phase)
the RSS must stay within ``--max-growth-mb`` of the warm-up level; otherwise the exit status is 1.

::

    python -m core.bench.soak --race-steps 10000000 --train-batches 1000000
    python -m core.bench.soak --race-steps 200000 --train-batches 20000 --interval 5   # a few minutes

What each phase does, per chunk of work (what the window does per display tick):

* race: SGD with momentum and Adam on Rosenbrock (as in the surfaces view's opening race) plus a
  64-point Adam swarm with a 16-step trail; every chunk
  reads every runner's snapshot (what a redraw reads) and moves one learning rate live (the
  slider), then back. Histories are bounded (``core.engine.race.Trail``), so memory must not grow.
* train: the tutorial's loop on a small MLP (``TrainingEngine.step`` in chunks), with
  ``drain()`` after each chunk as the training view's timer does, a decision-boundary request now
  and then and a live lr change; ``--no-drain`` leaves the engine's buffers undrained instead
  (they are capped; memory must stay flat then too).

The output is one line per interval (phase, progress, rate, RSS, growth since warm-up, live
Python objects) and a summary line per phase; ``--json FILE`` writes the samples for plotting.
Speed figures are for orientation only (``python -m core.bench.race`` measures them properly).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from core.engine.race import Race
from core.engine.runtime import torch_threads
from core.engine.training import TrainConfig, TrainingEngine
from core.files.atomic import write_text_atomic

#: Two of the surfaces view's opening runners (its DEFAULT_RACE has four; two keep ten million
#: steps under an hour here while exercising the same code: history, optimizer state, live lr).
SOAK_RACE = ("SGD(lr=0.001, momentum=0.9)", "Adam(lr=0.02)")
SOAK_SURFACE = "rosenbrock"
SWARM_POINTS = 64
SWARM_TRAIL = 16
RACE_CHUNK = 200  # race steps between two "redraws"
TRAIN_CHUNK = 100  # batches between two drains
DEFAULT_MAX_GROWTH_MB = 32.0
DEFAULT_WARMUP = 0.1
DEFAULT_INTERVAL_S = 10.0


def rss_mb() -> float:
    """Resident set size of this process in MiB (``VmRSS``); nan where /proc is unavailable."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return math.nan


@dataclass
class Sample:
    phase: str
    done: int  # steps or batches done so far in this phase
    seconds: float  # since the phase started
    rss_mb: float
    objects: int  # live gc-tracked Python objects


@dataclass
class PhaseResult:
    phase: str
    total: int
    seconds: float
    rate: float  # steps (or batches) per second
    baseline_mb: float  # RSS at the end of the warm-up
    peak_growth_mb: float  # largest RSS above the baseline after the warm-up
    final_growth_mb: float
    ok: bool
    samples: list[Sample] = field(default_factory=list)


def growth_after_warmup(
    samples: Sequence[Sample], total: int, warmup: float
) -> tuple[float, float, float]:
    """(baseline, peak growth, final growth) in MiB: the baseline is the last sample taken
    within the first ``warmup`` fraction of the work (the first sample if none), growth is
    measured over the samples after it. Pure, so the rule is testable without a long run."""
    if not samples:
        return math.nan, math.nan, math.nan
    limit = warmup * total
    base_i = 0
    for i, s in enumerate(samples):
        if s.done <= limit:
            base_i = i
    baseline = samples[base_i].rss_mb
    after = [s.rss_mb for s in samples[base_i + 1 :]] or [baseline]
    return baseline, max(after) - baseline, after[-1] - baseline


class _Meter:
    """Samples RSS at the phase's start, at least every ``interval`` s, and at its end."""

    def __init__(self, phase: str, total: int, interval: float, out: Callable[[str], None]):
        self.phase, self.total, self.interval, self.out = phase, total, interval, out
        self.t0 = time.perf_counter()
        self.next_t = self.t0 + interval
        self.samples: list[Sample] = []
        self.warm_rss: float | None = None
        self.warm_limit = 0

    def sample(self, done: int, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now < self.next_t:
            return
        self.next_t = now + self.interval
        gc.collect()
        objects = len(gc.get_objects()) - len(self.samples)  # not counting our own samples
        s = Sample(self.phase, done, now - self.t0, rss_mb(), objects)
        self.samples.append(s)
        if self.warm_rss is None or done <= self.warm_limit:
            self.warm_rss = s.rss_mb
        rate = done / s.seconds if s.seconds > 0 else math.nan
        delta = s.rss_mb - self.warm_rss
        self.out(
            f"{self.phase:5s} {done:>12,d}/{self.total:,d}  {rate:9,.0f}/s  "
            f"rss {s.rss_mb:8.1f} MB  {delta:+7.1f} MB since warm-up  "
            f"objects {s.objects:,d}"
        )


def soak_race(
    steps: int, interval: float, warmup: float, out: Callable[[str], None]
) -> PhaseResult:
    race = Race(SOAK_SURFACE)
    runners = [race.add(spec) for spec in SOAK_RACE]
    (x0, x1), (y0, y1) = race.surface.domain
    starts = np.random.default_rng(0).uniform((x0, y0), (x1, y1), (SWARM_POINTS, 2))
    swarm = race.add_swarm("Adam(lr=0.05)", starts, trail=SWARM_TRAIL)
    meter = _Meter("race", steps, interval, out)
    meter.warm_limit = int(warmup * steps)
    meter.sample(0, force=True)
    done, flip = 0, False
    lr = runners[-1].spec.hparams()["lr"]
    while done < steps:
        n = race.step(min(RACE_CHUNK, steps - done))
        if n == 0:  # every runner stopped (cannot happen with this race): start over
            race.reset()
            continue
        done += n
        for snap in race.snapshot():  # what a redraw reads
            assert snap.status in ("ok", "diverged")
        swarm.recent()
        flip = not flip  # the lr slider, moved and moved back
        race.set_hparams(runners[-1], lr=lr * (1.5 if flip else 1.0))
        meter.sample(done)
    meter.sample(done, force=True)
    return _result(meter, warmup)


def soak_training(
    batches: int,
    interval: float,
    warmup: float,
    out: Callable[[str], None],
    drain: bool = True,
) -> PhaseResult:
    config = TrainConfig(
        samples=200, batch_size=32, hidden=(8, 8), epochs=1, device="cpu", patience=10, seed=0
    )
    bpe = math.ceil(len(config.make_data().train_idx) / config.batch_size)
    config = TrainConfig(**{**asdict(config), "epochs": min(1_000_000, batches // bpe + 2)})
    engine = TrainingEngine(config)
    meter = _Meter("train", batches, interval, out)
    meter.warm_limit = int(warmup * batches)
    meter.sample(0, force=True)
    done, chunks = 0, 0
    while done < batches:
        n = engine.step(min(TRAIN_CHUNK, batches - done))
        if n == 0:
            raise RuntimeError(f"training stopped early ({engine.state}) after {done} batches")
        done += n
        chunks += 1
        if chunks % 3 == 0:
            engine.request_boundary(40)  # the view asks a few times a second
        if chunks % 10 == 0:
            engine.set_hparams(lr=0.01 if chunks % 20 else 0.02)
        if drain:
            engine.drain()
        meter.sample(done)
    meter.sample(done, force=True)
    return _result(meter, warmup)


def _result(meter: _Meter, warmup: float) -> PhaseResult:
    last = meter.samples[-1]
    baseline, peak, final = growth_after_warmup(meter.samples, meter.total, warmup)
    return PhaseResult(
        phase=meter.phase,
        total=meter.total,
        seconds=last.seconds,
        rate=last.done / last.seconds if last.seconds > 0 else math.nan,
        baseline_mb=baseline,
        peak_growth_mb=peak,
        final_growth_mb=final,
        ok=True,
        samples=meter.samples,
    )


def machine() -> str:
    return (
        f"{platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} thread), numpy {np.__version__}"
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m core.bench.soak",
        description="Run a very long race and training run and check that memory stays flat.",
    )
    p.add_argument("--race-steps", type=int, default=10_000_000, help="race steps (0 skips)")
    p.add_argument("--train-batches", type=int, default=1_000_000, help="batches (0 skips)")
    p.add_argument("--interval", type=float, default=DEFAULT_INTERVAL_S, help="seconds/report")
    p.add_argument(
        "--warmup", type=float, default=DEFAULT_WARMUP, help="fraction of each phase to warm up"
    )
    p.add_argument(
        "--max-growth-mb",
        type=float,
        default=DEFAULT_MAX_GROWTH_MB,
        help="largest RSS growth allowed after the warm-up, per phase",
    )
    p.add_argument("--no-drain", action="store_true", help="never drain the training engine")
    p.add_argument("--json", metavar="FILE", help="write every sample and the verdict as JSON")
    return p


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] | None = None) -> int:
    """Run the soak; 0 if memory stayed within the bound in every phase, 1 if not."""
    args = build_parser().parse_args(argv)
    if args.race_steps < 0 or args.train_batches < 0 or not 0 <= args.warmup < 1:
        build_parser().error("steps and batches must be >= 0 and 0 <= warmup < 1")
    if args.interval <= 0 or args.max_growth_mb <= 0:
        build_parser().error("interval and max-growth-mb must be > 0")
    emit = out or (lambda line: print(line, flush=True))
    with torch_threads(1):  # as the app runs (see core.engine.runtime)
        emit(f"soak on {machine()}")
        results = []
        if args.race_steps:
            results.append(soak_race(args.race_steps, args.interval, args.warmup, emit))
        if args.train_batches:
            results.append(
                soak_training(
                    args.train_batches, args.interval, args.warmup, emit, drain=not args.no_drain
                )
            )
    status = 0
    for r in results:
        r.ok = not (r.peak_growth_mb > args.max_growth_mb)  # nan (no /proc) counts as ok
        status |= 0 if r.ok else 1
        emit(
            f"{r.phase}: {r.total:,d} in {r.seconds:,.0f} s ({r.rate:,.0f}/s); rss after warm-up "
            f"{r.baseline_mb:.1f} MB, peak growth {r.peak_growth_mb:+.1f} MB, final "
            f"{r.final_growth_mb:+.1f} MB (bound {args.max_growth_mb:g} MB): "
            + ("OK" if r.ok else "GREW")
        )
    if args.json:
        doc = {"machine": machine(), "args": vars(args), "phases": [asdict(r) for r in results]}
        write_text_atomic(args.json, json.dumps(doc, indent=1), what="soak report")
    return status


if __name__ == "__main__":
    sys.exit(main())
