"""Interleaved pairs, what every ``gdsim bench`` figure reports.

A figure is the median of per-pair ratios (each pair timed back to back, so both members see the
same background load) and its spread the interquartile range of those ratios: the middle half, so
one preempted trial on a shared machine neither moves the figure nor widens the spread. A verdict
is "unsure" when that range straddles the target: another run could land on the other side.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """(q1, median, q3) of ``values``; with fewer than 4 values q1/q3 are the min and max."""
    xs = sorted(values)
    if len(xs) < 4:
        return xs[0], statistics.median(xs), xs[-1]
    q1, med, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return q1, med, q3


def ratio_stats(ratios: Sequence[float]) -> dict[str, float]:
    """A row's ``ratio`` figure (the median) and its spread: min, max and quartiles."""
    q1, _, q3 = quartiles(ratios)
    return {
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "ratio_q1": q1,
        "ratio_q3": q3,
    }


def verdict(check: Callable[[float], bool], median: float, q1: float, q3: float) -> dict:
    """``met``: the median passes ``check``; ``unsure``: the quartiles disagree about it."""
    return {"met": check(median), "unsure": check(q1) != check(q3)}


def seconds(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


#: The clocks ``paired`` reads. "cpu" is the calling thread's CPU time: with torch on one thread
#: all the work is there, and it hardly moves when other processes take the cores (wall time
#: then swings by 2-3x on the shared 2-core machine), so a verdict read from it does not flip
#: from load alone. Its ratios are reported beside the wall-time ones, never instead of them.
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.thread_time}


def paired(
    gdsim: Callable[[], Any],
    others: dict[str, Callable[[], Any]],
    pairs: int,
    clock: str = "wall",
) -> dict[str, Any]:
    """Time ``gdsim`` and each of ``others`` ``pairs`` times, interleaved (the order reversed
    every other pair); for each other, the median and quartiles of the per-pair speed ratio
    (its time / gdsim's: above 1 when gdsim is faster) and its median milliseconds, read from
    ``clock`` (a key of :data:`CLOCKS`); ``by_clock`` has the ratios on every clock."""
    fns = {"gdsim": gdsim, **others}
    times: dict[str, dict[str, list[float]]] = {c: {name: [] for name in fns} for c in CLOCKS}
    order = list(fns)
    for i in range(pairs):
        gc.collect()
        for name in order if i % 2 == 0 else order[::-1]:
            start = {c: read() for c, read in CLOCKS.items()}
            fns[name]()
            for c, read in CLOCKS.items():
                times[c][name].append(read() - start[c])
    chosen = times[clock]
    out: dict[str, Any] = {
        "pairs": pairs,
        "clock": clock,
        "seconds": chosen,
        "gdsim_ms": statistics.median(chosen["gdsim"]) * 1e3,
    }
    for name in others:
        by_clock = {}
        for c, t in times.items():
            if c != clock and min(t["gdsim"]) <= 0:
                continue  # e.g. no CPU time in this thread while a child process does the work
            q1, med, q3 = quartiles([o / g for o, g in zip(t[name], t["gdsim"], strict=True)])
            by_clock[c] = {"ratio": med, "q1": q1, "q3": q3}
        out[name] = {**by_clock[clock], "ms": statistics.median(chosen[name]) * 1e3}
        out[name]["by_clock"] = by_clock
    return out
