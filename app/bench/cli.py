"""``gdsim bench``: every performance figure against its baseline, in one process and one run.

Each figure is measured next to its baseline in the same run (medians after warm-up, spread
reported), so the ratios mean something on a noisy shared machine where absolute numbers do not.
Where a faster equivalent of the same work exists (the *limit*), its ratio is printed under the
row; a verdict whose interquartile range straddles the target is "unsure". The measuring lives
next to what it measures (core/bench/, app/bench/); ``SECTIONS`` lists the figures, and this
module turns their results into ``Row``s and prints or writes them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from app.bench.startup import QUIT_TARGET_S, START_TARGET, measure_startup
from core.bench.stats import quartiles, verdict
from core.errors import GdsimError

HELP = "measure gdsim's performance figures against their baselines (a table, and JSON)"


@dataclass
class Limit:
    """The fastest equivalent of a figure's work (fused / batched / chunked plain torch) and
    gdsim's speed as a share of it: how close to the limit, not only to the same work."""

    name: str
    value: float  # in the row's unit
    ratio: float  # median per-pair speed ratio (limit time / gdsim time)
    target: str
    met: bool
    spread: str
    unsure: bool  # the spread straddles the target: another run may say otherwise


@dataclass
class Row:
    """One figure: ``ratio`` compares value to baseline the way its target is written.

    ``unsure``: the ratio's spread (interquartile range of its pairs, where the figure has
    pairs) straddles the target, so the verdict could flip from noise alone."""

    figure: str
    value: float
    unit: str
    baseline: float | None
    ratio: float | None
    target: str
    met: bool | None
    spread: str = ""
    unsure: bool = False
    limit: Limit | None = None


def _at_most(limit: float) -> Callable[[float], bool]:
    return lambda x: x <= limit


def _at_least(limit: float) -> Callable[[float], bool]:
    return lambda x: x >= limit


def _iqr(q1: float, q3: float) -> str:
    return f"IQR {q1:.2f}-{q3:.2f}"


# --------------------------------------------------------------------------------------- engine


def race_rows(p: dict) -> tuple[list[Row], Any]:
    from core.bench.race import TARGET_RATIO, bench_race_step

    raw = bench_race_step(steps=p["race_steps"], trials=p["pairs"])
    check = _at_most(TARGET_RATIO)
    rows = [
        Row(
            f"race step {r['optimizer']}",
            r["race_us"],
            "µs",
            r["bare_us"],
            r["ratio"],
            f"ratio <= {TARGET_RATIO}",
            **verdict(check, r["ratio"], r["ratio_q1"], r["ratio_q3"]),
            spread=_iqr(r["ratio_q1"], r["ratio_q3"]),
        )
        for r in raw
    ]
    return rows, raw


def swarm_rows(p: dict) -> tuple[list[Row], Any]:
    from core.bench.race import bench_swarm

    raw = bench_swarm(seconds=p["swarm_seconds"], trials=p["pairs"])
    rows = []
    for r in raw:
        # core.bench.race's ratio is race time / bare time; the target is written as speed vs bare.
        ratio = 1 / r["ratio"]
        q1, q3 = 1 / r["ratio_q3"], 1 / r["ratio_q1"]
        gated = r["points"] == 10_000
        rows.append(
            Row(
                f"swarm {r['points']:,} points",
                r["race_steps_per_s"],
                "steps/s",
                r["bare_steps_per_s"],
                ratio,
                "ratio >= 0.8" if gated else "(reported)",
                **(verdict(_at_least(0.8), ratio, q1, q3) if gated else {"met": None}),
                spread=_iqr(q1, q3),
            )
        )
    return rows, raw


def grid_rows(p: dict) -> tuple[list[Row], Any]:
    from core.bench.race import TARGET_GRID_MS, bench_grid

    raw = bench_grid(repeats=p["trials"])
    rows = [
        Row(
            f"grid 500x500 {r['surface']}",
            r["ms"],
            "ms",
            None,
            None,
            f"< {TARGET_GRID_MS:g} ms",
            r["ms"] < TARGET_GRID_MS,
            f"{r['ms_min']:.1f}-{r['ms_max']:.1f}",
        )
        for r in raw
    ]
    return rows, raw


def training_rows(p: dict) -> tuple[list[Row], Any]:
    """Per batch size: the engine against the same work, then against the fused limit. Ratios
    are the training thread's CPU time (on a GPU: wall time between device syncs), paired per
    trial; spread = quartiles; a verdict whose quartiles straddle the target is "unsure". A GPU
    also gets its host <-> device copies per step."""
    from core.bench.training import TARGETED, TARGETS, compare, verdict

    devices = ["cpu"] if p["device"] == "cpu" else ["cpu", p["device"]]
    baselines = {"bare": "", "fused_limit": ", fused limit"}
    rows, raw = [], []
    for dev in devices:
        for batch, epochs in ((32, 8), (128, 28)):
            epochs = max(1, round(epochs * p["epochs_scale"]))
            r = compare(batch, epochs, p["training_pairs"], device=dev, only=TARGETED)
            raw.append(r)
            clock, unit, speed = _TRAINING_CLOCKS[r["clock"]]
            engine = r["variants"]["engine"][speed]["median"]
            for name, suffix in baselines.items():
                ratio, target = r["ratios"][name][clock], TARGETS[name]
                judged = verdict(ratio, target)
                rows.append(
                    Row(
                        f"training {dev} batch {batch}{suffix}",
                        engine,
                        unit,
                        r["variants"][name][speed]["median"],
                        ratio["median"],
                        f"ratio >= {target}",
                        judged == "met",
                        f"IQR {ratio['q1']:.2f}-{ratio['q3']:.2f}",
                        unsure=judged == "unsure",
                    )
                )
            if r["transfers"] is not None:
                t = r["transfers"]
                rows.append(
                    Row(
                        f"training {dev} batch {batch}, transfers",
                        t["to_device_per_step"],
                        "in/step",
                        None,
                        None,
                        f"(reported; {t['to_host_per_step']:.2f} out/step)",
                        None,
                    )
                )
    return rows, raw


#: Which clock a training row's verdict reads (``compare``'s "clock"): (ratio key, unit, speed key).
_TRAINING_CLOCKS = {
    "cpu": ("cpu", "steps/CPU-s", "steps_per_cpu_s"),
    "wall": ("wall", "steps/s", "steps_per_s"),
}


def _limit(name: str, r: dict, target: float) -> Limit:
    """A :class:`Limit` from ``core.bench.stats.paired``'s entry for it (an at-least target)."""
    return Limit(
        name,
        r["ms"],
        r["ratio"],
        f"ratio >= {target}",
        **verdict(_at_least(target), r["ratio"], r["q1"], r["q3"]),
        spread=_iqr(r["q1"], r["q3"]),
    )


def landscape_rows(p: dict) -> tuple[list[Row], Any]:
    from core.bench.teach import TARGET_LANDSCAPE, bench_landscape

    raw = bench_landscape(n=p["landscape_n"], pairs=p["pairs"])
    same = raw["vmap"]
    row = Row(
        f"landscape {raw['n']}x{raw['n']}, hidden {raw['hidden'][0]}",
        raw["gdsim_ms"],
        "ms",
        same["ms"],
        same["ratio"],
        "(reported; vs vmap)",
        None,
        _iqr(same["q1"], same["q3"]),
        limit=_limit(f"chunked bmm, {raw['limit_chunk']} networks", raw["limit"], TARGET_LANDSCAPE),
    )
    return [row], raw


def basins_rows(p: dict) -> tuple[list[Row], Any]:
    from core.bench.teach import TARGET_BASINS, bench_basins

    raw = bench_basins(n=p["basins_n"], pairs=p["pairs"])
    wall = raw["limit"]["by_clock"]["wall"]  # beside the CPU-time verdict, when that is read
    faults = "" if raw["page_faults"] is None else f"; {raw['page_faults']:.0f} page faults"
    row = Row(
        f"basins {raw['n']}x{raw['n']}, {raw['spec']}",
        raw["gdsim_ms"],
        "CPU-ms" if raw["clock"] == "cpu" else "ms",
        None,
        None,
        f"(reported; {raw['steps']} steps)"
        if raw["clock"] == "wall"
        else f"({raw['steps']} steps; wall {wall['ratio']:.2f}{faults})",
        None,
        limit=_limit("bare batched torch.optim", raw["limit"], TARGET_BASINS),
    )
    return [row], raw


# --------------------------------------------------------------------------------------- window


def window_rows(p: dict) -> tuple[list[Row], Any]:
    from app.bench.surface import measure_frame_time
    from app.bench.training_view import throughput, tick_latency, x_display_ticks

    ticks = tick_latency(seconds=p["live_seconds"])
    x_ticks = x_display_ticks(seconds=p["live_seconds"])
    live = throughput(seconds=p["slice_seconds"], trials=p["live_trials"])
    frames = measure_frame_time(8, frames=p["frames"], warmup=max(2, p["frames"] // 10))
    q1, q3 = live["ratio_iqr"]
    spread = f"IQR {q1:.2f}-{q3:.2f}"
    rows = [
        Row(
            "GUI tick p50 while training",
            ticks["interval_p50_ms"],
            "ms",
            16.0,
            ticks["interval_p50_ms"] / 16.0,
            "(reported; 16 ms timer)",
            None,
        ),
        Row(
            "GUI tick p99 while training",
            ticks["interval_p99_ms"],
            "ms",
            16.0,
            ticks["interval_p99_ms"] / 16.0,
            "<= 25 ms",
            ticks["interval_p99_ms"] <= 25.0,
            f"max {ticks['interval_max_ms']}",
        ),
        Row(
            "training, window live vs bare",
            live["window_steps_per_s"],
            "steps/s",
            live["bare_steps_per_s"],
            live["ratio"],
            "ratio >= 0.75",
            live["ratio"] >= 0.75,
            spread,
        ),
        Row(  # a tick steps until the next redraw is due (<= 20 ms), then Qt paints
            "GUI turn p99, 8 optimizers racing",
            frames["p99_ms"],
            "ms",
            None,
            None,
            "<= 50 ms",
            frames["p99_ms"] <= 50.0,
            f"median {frames['median_ms']:.1f}",
        ),
    ]
    if x_ticks is not None:  # the same, painted through an X server (offscreen skips it)
        rows.append(Row("GUI tick p99 while training, X display", x_ticks["interval_p99_ms"],
                        "ms", 16.0, x_ticks["interval_p99_ms"] / 16.0, "<= 25 ms",
                        x_ticks["interval_p99_ms"] <= 25.0,
                        f"max {x_ticks['interval_max_ms']}"))  # fmt: skip
    return rows, {"tick_latency": ticks, "x_tick_latency": x_ticks, "throughput": live,
                  "frames": frames}  # fmt: skip


def window_race_rows(p: dict) -> tuple[list[Row], Any]:
    """The window's race rate against the headless race's, and drawing's share of a core."""
    from app.bench.surface import (
        TARGET_DRAW_SHARE,
        TARGET_RACE_RATIO,
        measure_drawing_share,
        measure_race_rate,
    )

    rate = measure_race_rate(pairs=p["pairs"], seconds=p["race_seconds"])
    draw = measure_drawing_share(trials=p["draw_trials"], seconds=p["draw_seconds"])
    rows = [
        Row(
            "window race rate / headless, 8 opt.",
            rate["window_steps_per_s"],
            "steps/s",
            rate["headless_steps_per_s"],
            rate["ratio"],
            f"ratio >= {TARGET_RACE_RATIO}",
            **verdict(_at_least(TARGET_RACE_RATIO), rate["ratio"], rate["q1"], rate["q3"]),
            spread=_iqr(rate["q1"], rate["q3"]) + f"; {rate['redraws_per_s']:.0f} redraws/s",
        ),
        Row(
            "drawing, share of a core at speed 100",
            draw["share"],
            "core",
            None,
            None,
            f"<= {TARGET_DRAW_SHARE}",
            **verdict(_at_most(TARGET_DRAW_SHARE), draw["share"], draw["q1"], draw["q3"]),
            spread=_iqr(draw["q1"], draw["q3"])
            + f"; stepping {draw['stepping_share']:.2f}; {draw['redraws_per_s']:.0f} redraws/s",
        ),
    ]
    return rows, {"race_rate": rate, "drawing": draw}


def stall_rows(p: dict) -> tuple[list[Row], Any]:
    from app.bench.stalls import TARGET_MS, measure_stalls

    raw = measure_stalls(trials=p["stall_trials"])
    rows = [
        Row(
            f"longest stall, {name}",
            r["median_ms"],
            "ms",
            None,
            None,
            f"<= {TARGET_MS:.0f} ms",
            r["median_ms"] <= TARGET_MS,
            f"max {r['max_ms']:.0f}",
        )
        for name, r in raw.items()
    ]
    return rows, raw


def _startup_row(figure: str, window: list[float], floor: list[float], is_quit: bool) -> Row:
    """Start-up: the window's time over the floor's (<= 1.3); quit: the extra seconds over the
    floor's quit (<= 0.5 s). Median of the pairs, interquartile range as the spread."""
    if is_quit:
        q1, med, q3 = quartiles([w - f for w, f in zip(window, floor, strict=True)])
        target, spread = f"<= floor + {QUIT_TARGET_S} s", f"{q1:+.2f} to {q3:+.2f} s"
        check = verdict(lambda x: x <= QUIT_TARGET_S, med, q1, q3)
    else:
        q1, med, q3 = quartiles([w / f for w, f in zip(window, floor, strict=True)])
        target, spread = f"ratio <= {START_TARGET}", f"{q1:.2f}-{q3:.2f}"
        check = verdict(lambda x: x <= START_TARGET, med, q1, q3)
    value, baseline = statistics.median(window), statistics.median(floor)
    return Row(figure, value, "s", baseline, value / baseline, target, check["met"], spread,
               check["unsure"])  # fmt: skip


def memory_rows(p: dict) -> tuple[list[Row], Any]:
    from app.bench.memory import PARTS, TARGET_BYTES_PER_EPOCH, memory_per_epoch

    r = memory_per_epoch(p["memory_epochs"], warmup_epochs=p["memory_epochs"] // 5)
    value = r["bytes_per_epoch"]
    row = Row(f"training in the window, RSS over {r['epochs']:,} epochs", value, "B/epoch", None,
              None, f"< {TARGET_BYTES_PER_EPOCH:.0f} B/epoch", value < TARGET_BYTES_PER_EPOCH,
              f"median of {PARTS} parts; {r['rss_before_mib']:.1f} -> {r['rss_after_mib']:.1f} MiB, "
              f"{r['end_to_end_bytes_per_epoch']:.1f} B/epoch end to end")  # fmt: skip
    return [row], r


def first_step_rows(p: dict) -> tuple[list[Row], Any]:
    from core.bench.first_step import TARGET_RATIO, bench_first_step

    r = bench_first_step(pairs=p["first_step_pairs"])
    check = verdict(lambda x: x <= TARGET_RATIO, r["ratio"], r["q1"], r["q3"])
    row = Row("time to first step (fresh process)", r["gdsim_s"], "s", r["bare_s"], r["ratio"],
              f"ratio <= {TARGET_RATIO}", check["met"], _iqr(r["q1"], r["q3"]), check["unsure"])  # fmt: skip
    return [row], r


def startup_rows(p: dict) -> tuple[list[Row], Any]:
    raw = measure_startup(p["startup_trials"], p["quit_after_s"])
    floor_start, floor_quit = raw["floor start"], raw["floor quit"]
    rows = [
        _startup_row("start-up, first start", raw["first start start"], floor_start, False),
        _startup_row("start-up, saved settings", raw["returning start"], floor_start, False),
        _startup_row("start-up, session file", raw["session start"], floor_start, False),
        _startup_row("quit after racing", raw["returning quit"], floor_quit, True),
        _startup_row("quit after training", raw["session quit"], floor_quit, True),
    ]
    return rows, raw


# ------------------------------------------------------------------------------------ the run

SECTIONS: dict[str, Callable[..., tuple[list[Row], Any]]] = {
    "race_step": race_rows,
    "swarm": swarm_rows,
    "grid": grid_rows,
    "landscape": landscape_rows,
    "basins": basins_rows,
    "training": training_rows,
    "window": window_rows,
    "window_race": window_race_rows,
    "stalls": stall_rows,
    "startup": startup_rows,
    "first_step": first_step_rows,
    "memory": memory_rows,
}


def machine() -> dict[str, Any]:
    import torch

    from core.bench.race import machine as core_machine

    return {**core_machine(), "cuda": torch.cuda.is_available()}


#: How long each section measures. "quick" is the --quick run; "smoke" only proves every figure
#: is produced (the test suite uses it; its numbers mean nothing). ``pairs``: interleaved pairs
#: behind the race, swarm, landscape and basins figures, enough in --quick that the quartiles
#: say whether a verdict could flip ("unsure").
PROFILES: dict[str, dict[str, Any]] = {
    "full": dict(
        race_seconds=3.0,
        draw_trials=5,
        draw_seconds=4.0,
        pairs=15,
        landscape_n=41,
        basins_n=200,
        trials=9,
        training_pairs=15,
        race_steps=400,
        swarm_seconds=0.4,
        epochs_scale=1.0,
        live_seconds=8.0,
        live_trials=10,
        slice_seconds=0.75,
        frames=300,
        stall_trials=5,
        startup_trials=7,
        quit_after_s=2.0,
        first_step_pairs=9,
        memory_epochs=10_000,
    ),
    "quick": dict(
        race_seconds=2.0,
        draw_trials=3,
        draw_seconds=3.0,
        pairs=9,
        landscape_n=41,
        basins_n=200,
        trials=3,
        training_pairs=13,
        race_steps=150,
        swarm_seconds=0.1,
        epochs_scale=0.6,
        live_seconds=2.5,
        live_trials=4,
        slice_seconds=0.5,
        frames=60,
        stall_trials=3,
        startup_trials=5,
        quit_after_s=1.0,
        first_step_pairs=7,
        memory_epochs=10_000,
    ),
    "smoke": dict(
        race_seconds=0.1,
        draw_trials=1,
        draw_seconds=0.2,
        pairs=1,
        landscape_n=5,
        basins_n=10,
        trials=1,
        training_pairs=1,
        race_steps=5,
        swarm_seconds=0.01,
        epochs_scale=0.05,
        live_seconds=0.5,
        live_trials=1,
        slice_seconds=0.2,
        frames=3,
        stall_trials=1,
        startup_trials=1,
        quit_after_s=0.3,
        first_step_pairs=1,
        memory_epochs=50,
    ),
}


def run_bench(
    profile: str = "full", device: str = "auto", sections: list[str] | None = None
) -> dict:
    """Every section (or the named ones); a section that fails is reported, the rest still run."""
    from core.engine.devices import resolve_device

    resolved = str(resolve_device(device))  # GdsimError for a device that is not there
    p = {**PROFILES[profile], "device": resolved}
    result: dict[str, Any] = {"machine": machine(), "profile": profile, "device": resolved}
    rows: list[Row] = []
    details: dict[str, Any] = {}
    errors: dict[str, str] = {}
    t0 = time.perf_counter()
    for name in sections or list(SECTIONS):
        fn = SECTIONS[name]
        try:
            section_rows, raw = fn(p)
        except GdsimError:
            raise
        except Exception as exc:  # a broken figure must not hide the others
            errors[name] = f"{type(exc).__name__}: {exc}"
            continue
        rows.extend(section_rows)
        details[name] = raw
    result["rows"] = [asdict(r) for r in rows]
    result["details"] = details
    result["errors"] = errors
    result["seconds"] = time.perf_counter() - t0
    return result


def format_table(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"gdsim bench ({result['profile']}) on {m['cpus']} cores, torch "
        f"{m['torch']} ({m['torch_threads']} thread(s)), Python {m['python']}, load "
        f"{m['load_average']}, device {result['device']}",
        "",
        f"{'figure':<36}{'value':>12} {'unit':<8}{'baseline':>11}{'ratio':>8}  "
        f"{'target':<24}{'met':<7}spread",
    ]

    def num(x: float | None) -> str:
        if x is None:
            return "-"
        return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"

    def met(r: dict) -> str:
        return "unsure" if r.get("unsure") else {True: "yes", False: "NO", None: ""}[r["met"]]

    missed, unsure = [], []
    for r in result["rows"]:
        lines.append(
            f"{r['figure']:<36}{num(r['value']):>12} {r['unit']:<8}{num(r['baseline']):>11}"
            f"{num(r['ratio']):>8}  {r['target']:<24}{met(r):<7}{r['spread']}"
        )
        lim = r.get("limit")
        if lim:  # the fastest equivalent, under the row it belongs to
            lines.append(
                f"{'  limit: ' + lim['name']:<48} {r['unit']:<8}{num(lim['value']):>11}"
                f"{num(lim['ratio']):>8}  {lim['target']:<24}{met(lim):<7}{lim['spread']}"
            )
        for what, name in ((r, r["figure"]), (lim, f"{r['figure']} (limit)")):
            if what and what.get("unsure"):
                unsure.append(name)
            elif what and what["met"] is False:
                missed.append(name)
    for name, err in result["errors"].items():
        lines.append(f"{name}: FAILED ({err})")
    lines += [
        "",
        f"{len(missed)} figure(s) missed their target"
        + (": " + ", ".join(missed) if missed else ""),
        f"{len(unsure)} figure(s) unsure (their spread straddles the target)"
        + (": " + ", ".join(unsure) if unsure else ""),
        f"took {result['seconds']:.0f} s",
    ]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="fewer, shorter trials (9 pairs where paired)"
    )
    parser.add_argument("--device", default="auto", help="auto|cpu|cuda|cuda:N|mps for training")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON here")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(SECTIONS),
        help="run just this section (repeatable)",
    )


def run(args: argparse.Namespace) -> int:
    """The subcommand: print the table, write JSON; exit 1 if a section could not run."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("GDSIM_ERROR_DIALOGS", "0")
    result = run_bench("quick" if args.quick else "full", args.device, args.only)
    print(format_table(result))
    if args.json:
        from core.files.atomic import write_text_atomic

        write_text_atomic(args.json, json.dumps(result, indent=2, allow_nan=False) + "\n", "--json")
    return 1 if result["errors"] else 0
