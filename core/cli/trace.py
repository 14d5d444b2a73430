"""``gdsim trace``: race optimizers on a surface headlessly and write the trajectories as JSON.

Lecturers and notebooks build figures on this output, so it is stable, strict JSON (no NaN)::

    {"surface": {"name": ..., "domain": [[xmin, xmax], [ymin, ymax]]},
     "runs": [{"optimizer": "Adam", "hparams": {...every effective hyperparameter...},
               "start": [x, y], "points": [[x0, y0], ...], "losses": [f0, ...],
               "status": "ok" | "diverged", "steps": n}, ...]}

One run per ``--optimizer``, in order, all from the same start; ``points`` and ``losses`` hold
``steps + 1`` entries (the start included), a diverged run ending at its last accepted point. A
scheduled run adds ``"scheduler"`` and ``"lr"`` (the lr each step used); ``--noise`` adds
``"noise": {"sigma": ..., "seed": ...}``. Paths are checked before any stepping.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from core.errors import GdsimError, error_line
from core.files.atomic import check_writable, write_text_atomic

HELP = "Race optimizers on a surface without a window; print the trajectories as strict JSON."
MAX_STEPS = 1_000_000
MAX_RUNS = 32
MAX_INDENT = 8
DEFAULT_OPTIMIZERS = ("SGD(lr=0.01)", "Adam(lr=0.01)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--surface",
        required=True,
        metavar="SURFACE",
        help="a surface name (rosenbrock, himmelblau, bowl, ...) or an expression in x and y",
    )
    parser.add_argument(
        "--start",
        nargs=2,
        type=float,
        metavar=("X", "Y"),
        help="start point (default: the surface's default start)",
    )
    parser.add_argument(
        "--steps", required=True, type=int, metavar="N", help=f"steps to take (1..{MAX_STEPS:,})"
    )
    parser.add_argument(
        "--optimizer",
        action="append",
        metavar="SPEC",
        help="an optimizer as a call, e.g. 'Adam(lr=0.01)'; repeat to race several "
        f"(default: {' and '.join(DEFAULT_OPTIMIZERS)})",
    )
    parser.add_argument("--out", metavar="FILE", help="write the JSON here instead of stdout")
    parser.add_argument(
        "--json-indent",
        type=int,
        metavar="K",
        help=f"pretty-print with K spaces (0..{MAX_INDENT}); default: compact",
    )
    parser.add_argument(
        "--scheduler",
        action="append",
        metavar="SPEC",
        help="a learning-rate scheduler, e.g. 'StepLR(step_size=100)': once for every optimizer, "
        "or once per --optimizer in the same order ('none' for one without)",
    )
    parser.add_argument(
        "--horizon",
        type=int,
        metavar="N",
        default=None,
        help="steps the schedulers' default arguments assume (default: 1000, as in the window)",
    )
    parser.add_argument(
        "--noise",
        type=float,
        metavar="SIGMA",
        default=0.0,
        help="add Gaussian noise of this standard deviation to every gradient (like mini-batches)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        metavar="N",
        default=0,
        help="seed of the gradient noise (default 0): the same seed gives the same numbers",
    )
    parser.add_argument(
        "--export-script",
        metavar="FILE",
        help="also write a standalone PyTorch script (needs only torch) that reproduces this race; "
        "the JSON is printed as usual",
    )


def _jsonable(value: Any) -> Any:
    """Hyperparameter values as strict-JSON-safe plain values."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    try:
        return _jsonable(float(value))  # numpy scalars, one-element tensors
    except (TypeError, ValueError):
        return str(value)


def _flag(flag: str, check: Any, value: Any) -> Any:
    """``check(value)``, its GdsimError naming the option: ``--noise: ...``."""
    try:
        return check(value)
    except GdsimError as exc:
        raise GdsimError(f"{flag}: {error_line(exc)}") from None


def schedulers_for(
    schedulers: list[str] | tuple[str, ...] | None, n_optimizers: int
) -> list[str | None]:
    """One scheduler SPEC (or None) per optimizer: none given, one for all, or one each."""
    if not schedulers:
        return [None] * n_optimizers
    schedulers = list(schedulers)
    if len(schedulers) == 1:
        schedulers = schedulers * n_optimizers
    if len(schedulers) != n_optimizers:
        raise GdsimError(
            f"give --scheduler once (for every optimizer) or once per --optimizer"
            f" ({n_optimizers}), got {len(schedulers)}"
        )
    return [None if str(s).strip().lower() in ("", "none") else s for s in schedulers]


def trace(
    surface_text: str,
    steps: int,
    optimizers: list[str] | tuple[str, ...] = DEFAULT_OPTIMIZERS,
    start: tuple[float, float] | None = None,
    schedulers: list[str] | tuple[str, ...] | None = None,
    noise: float = 0.0,
    seed: int = 0,
    horizon: int | None = None,
) -> dict[str, Any]:
    """Run the race and return the JSON document as plain Python values (usable from a notebook).

    ``schedulers``: see :func:`schedulers_for`. Raises GdsimError for any bad input.
    """
    from core.engine.optimizers import parse_spec
    from core.engine.race import (
        DEFAULT_HORIZON,
        LOSS_LIMIT,
        Race,
        as_scheduler,
        check_horizon,
        check_noise,
        check_point,
        check_seed,
    )
    from core.engine.surfaces import get_surface

    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise GdsimError(f"--steps must be between 1 and {MAX_STEPS:,}, got {steps}")
    optimizers = list(optimizers)
    if not optimizers:
        raise GdsimError("give at least one --optimizer")
    if len(optimizers) > MAX_RUNS:
        raise GdsimError(f"at most {MAX_RUNS} --optimizer options, got {len(optimizers)}")
    surface = get_surface(surface_text)
    specs = [parse_spec(text) for text in optimizers]
    scheds = [
        _flag("--scheduler", as_scheduler, text) for text in schedulers_for(schedulers, len(specs))
    ]
    x, y = check_point(start if start is not None else surface.start, "--start")
    f0 = surface.value(x, y)
    if not math.isfinite(f0):
        raise GdsimError(
            f"the surface is not finite at the start ({x:g}, {y:g}): f = {f0}; choose another --start"
        )
    if abs(f0) > LOSS_LIMIT:
        raise GdsimError(
            f"the surface is too large at the start ({x:g}, {y:g}): f = {f0:.4g}, beyond"
            f" ±{LOSS_LIMIT:g}; choose another --start"
        )

    noise = _flag("--noise", check_noise, noise)
    seed = _flag("--seed", check_seed, seed)
    horizon = _flag("--horizon", check_horizon, DEFAULT_HORIZON if horizon is None else horizon)
    race = Race(surface, start=(x, y), history=None, horizon=horizon, noise=noise, seed=seed)
    runners = [
        race.add(spec, reserve=steps + 1, scheduler=sched)
        for spec, sched in zip(specs, scheds, strict=True)
    ]
    race.step(steps)

    (x0, x1), (y0, y1) = surface.domain
    runs = []
    for spec, runner in zip(specs, runners, strict=True):
        run = {
            "optimizer": spec.name,
            "hparams": _jsonable(spec.hparams()),
            "start": [x, y],
            "points": runner.trail.points().tolist(),
            "losses": runner.trail.losses().tolist(),
            "status": runner.status,
            "steps": runner.steps,
        }
        if runner.scheduler is not None:
            run["scheduler"] = str(runner.scheduler)
            run["lr"] = _jsonable(runner.lr_series()[1].tolist())
        runs.append(run)
    doc: dict[str, Any] = {
        "surface": {"name": surface.name, "domain": [[x0, x1], [y0, y1]]},
        "runs": runs,
    }
    if race.noise:
        doc["noise"] = {"sigma": race.noise, "seed": race.seed}
    return doc


def run(args: argparse.Namespace) -> int:
    indent = args.json_indent
    if indent is not None and not 0 <= indent <= MAX_INDENT:
        raise GdsimError(f"--json-indent must be between 0 and {MAX_INDENT}, got {indent}")
    if not 1 <= args.steps <= MAX_STEPS:
        raise GdsimError(f"--steps must be between 1 and {MAX_STEPS:,}, got {args.steps}")
    out = args.out if args.out not in (None, "-") else None
    if out is not None:
        check_writable(out, "--out")  # before stepping, not after
    if args.export_script is not None:
        check_writable(args.export_script, "--export-script")
    optimizers = args.optimizer or DEFAULT_OPTIMIZERS
    schedulers = schedulers_for(args.scheduler, len(optimizers))
    doc = trace(
        args.surface,
        args.steps,
        optimizers,
        tuple(args.start) if args.start is not None else None,
        schedulers,
        args.noise,
        args.seed,
        args.horizon,
    )
    if args.export_script is not None:
        from core.teach.codegen import race_script

        start = tuple(doc["runs"][0]["start"])
        runners = [(spec, start, None, s) for spec, s in zip(optimizers, schedulers, strict=True)]
        script = race_script(args.surface, runners, args.steps, args.noise, args.seed, args.horizon)
        write_text_atomic(args.export_script, script, "--export-script")
    text = json.dumps(doc, allow_nan=False, indent=indent) + "\n"
    if out is not None:
        write_text_atomic(out, text, "--out")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0
