"""``gdsim trace``: race optimizers on a surface headlessly and write the trajectories as JSON.

::

    gdsim trace --surface SURFACE [--start X Y] --steps N [--optimizer SPEC ...] [--out FILE]
                [--json-indent K] [--export-script FILE]
                [--scheduler SPEC ...] [--horizon N] [--noise SIGMA] [--seed N]

This is the contract lecturers and notebooks build figures on, so the output is stable and
strict JSON (``allow_nan=False``: no NaN/Infinity anywhere)::

    {"surface": {"name": ..., "domain": [[xmin, xmax], [ymin, ymax]]},
     "runs": [{"optimizer": "Adam", "hparams": {...every effective hyperparameter...},
               "start": [x, y], "points": [[x0, y0], ...], "losses": [f0, ...],
               "status": "ok" | "diverged", "steps": n}, ...]}

One run per ``--optimizer``, in the order given, all from the same start, each stepped through
its own ``torch.optim`` instance by :class:`core.engine.race.Race` (unbounded history: every point is
kept). A run that did not diverge has ``steps == N`` and ``N + 1`` points and losses (the start
included). A diverged run stops at its last accepted point (see core.engine.race for the limits):
``points``/``losses`` have ``steps + 1`` entries, where ``steps`` is the number of steps that
produced an accepted point. Hyperparameter values are JSON numbers, booleans, strings or null;
tuples become lists (a non-finite default, should a custom optimizer have one, is written as the
string ``"inf"``/``"-inf"``/``"nan"``).

Defaults: ``--start`` is the surface's default start; without ``--optimizer`` the run compares
:data:`DEFAULT_OPTIMIZERS`. ``--out`` is written atomically (a temporary file in the same
directory, then ``os.replace``), so a reader never sees half a file; the directory is checked
before any stepping, so a bad path fails at once. Every bad input (unknown surface, bad
expression, bad SPEC, steps outside 1..MAX_STEPS, a non-finite start or one where the surface is
not finite, an unwritable path) raises ``GdsimError``, which ``core.cli.main`` prints as one line on
stderr with exit status 2.

Schedules and noise (``core.engine.race``, "Schedules" and "Noise"): ``--scheduler SPEC`` (a
``core.engine.schedulers`` SPEC such as ``"StepLR(step_size=100, gamma=0.5)"``) given once applies to
every optimizer; given once per ``--optimizer``, the n-th goes with the n-th optimizer (``none``
for one without). Arguments left out are derived for a run of ``--horizon`` steps (default
1000, as in the window, so the same SPEC gives the same lr everywhere). ``--noise SIGMA`` adds
Gaussian noise of that standard deviation to every gradient, drawn from one generator per run
seeded from ``--seed`` (default 0) and the run's place: the same command gives the same numbers.
A scheduled run gets two more keys, ``"scheduler"`` (its SPEC) and ``"lr"`` (``steps + 1``
values: the lr each step from that point used); with noise the document gets
``"noise": {"sigma": ..., "seed": ...}``. Without these options the document is as above.

``--export-script FILE`` also writes (atomically, path checked before stepping) the standalone
PyTorch script of this race (``core.teach.codegen.race_script``): it needs only torch and gives the
same points and losses. The JSON is still printed (or written to ``--out``) as usual.
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
