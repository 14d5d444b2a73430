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


def paired(
    gdsim: Callable[[], Any], others: dict[str, Callable[[], Any]], pairs: int
) -> dict[str, Any]:
    """Time ``gdsim`` and each of ``others`` ``pairs`` times, interleaved (the order reversed
    every other pair); for each other, the median and quartiles of the per-pair speed ratio
    (its time / gdsim's: above 1 when gdsim is faster) and its median milliseconds."""
    fns = {"gdsim": gdsim, **others}
    times: dict[str, list[float]] = {name: [] for name in fns}
    order = list(fns)
    for i in range(pairs):
        gc.collect()
        for name in order if i % 2 == 0 else order[::-1]:
            times[name].append(seconds(fns[name]))
    out: dict[str, Any] = {
        "pairs": pairs,
        "seconds": times,
        "gdsim_ms": statistics.median(times["gdsim"]) * 1e3,
    }
    for name in others:
        q1, med, q3 = quartiles([o / g for o, g in zip(times[name], times["gdsim"], strict=True)])
        out[name] = {"ratio": med, "q1": q1, "q3": q3, "ms": statistics.median(times[name]) * 1e3}
    return out
