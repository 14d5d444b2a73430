"""Benchmarks for the teaching tools: the network's loss landscape and the basins map, each against
the fastest equivalent plain torch code (its *limit*) and, where there is one, the plain code doing
the same work the textbook way. ``python -m core.bench.teach [--quick]``; ``gdsim bench`` shows
them as the "landscape" and "basins" rows.

- :func:`bench_landscape`: ``compute_landscape`` of a trained MLP (hidden 64 by default, 41x41
  random plane, the training points) against (same work) ``torch.func.vmap`` over
  ``functional_call`` in 64 MB chunks, and (limit) plain ``baddbmm`` layer by layer over chunks
  of 4, 8 or 16 networks, whichever is fastest here (chosen at warm-up). Target: >= 0.8 of it.
- :func:`bench_basins`: ``compute_basins`` (200x200, Adam, Himmelblau) against (limit) a bare
  batched ``torch.optim`` loop on one ``(N, 2)`` parameter for the same number of steps, no
  checks. Target: >= 0.85 of it, read from the thread's CPU time when torch runs on one thread
  (as the training figure; the wall-time ratio is reported too).

Both are timed in interleaved pairs (``core.bench.race``): the figure is the median per-pair
speed ratio (the other's time / gdsim's), with its interquartile range.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from core.bench.stats import paired, seconds

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

TARGET_LANDSCAPE = 0.8
TARGET_BASINS = 0.85
LIMIT_CHUNKS = (4, 8, 16)


# --------------------------------------------------------------------------------- landscape


def _trained_snapshot(hidden: tuple[int, ...]):
    from core.engine.training import TrainConfig, TrainingEngine

    engine = TrainingEngine(
        TrainConfig(hidden=hidden, epochs=3, device="cpu", patience=None, seed=0)
    )
    engine.step(engine.batches_per_epoch * 2)
    return engine.weights_snapshot(0)


def _plane(snapshot, n: int):
    from core.teach.landscape import model_for, random_directions, training_points

    model = model_for(snapshot)
    dirs = random_directions(model, snapshot.weights, seed=0)
    x, y = training_points(snapshot)
    grid = np.linspace(-1.0, 1.0, n)
    return model, dirs, x, y, grid


def vmap_grid(model, theta, d1, d2, x, y, grid, chunk_bytes: int = 64 * 2**20) -> np.ndarray:
    """Same work, the textbook way: ``vmap`` over ``functional_call``, chunks of 64 MB."""
    names = [(name, p.shape) for name, p in model.named_parameters()]
    theta, d1, d2 = (torch.from_numpy(np.asarray(v, np.float32)) for v in (theta, d1, d2))
    a = torch.as_tensor(grid, dtype=torch.float32).repeat(len(grid))
    b = torch.as_tensor(grid, dtype=torch.float32).repeat_interleave(len(grid))
    width = max([x.shape[1]] + [p.shape[0] for p in model.parameters()])
    chunk = max(1, chunk_bytes // (4 * (theta.numel() + 3 * len(x) * width)))

    def one(flat):
        params, offset = {}, 0
        for name, shape in names:
            size = shape.numel()
            params[name] = flat[offset : offset + size].view(shape)
            offset += size
        return F.cross_entropy(torch.func.functional_call(model, params, (x,)), y)

    batched = torch.func.vmap(one)
    with torch.no_grad():
        out = [
            batched(theta + a[s : s + chunk, None] * d1 + b[s : s + chunk, None] * d2)
            for s in range(0, len(a), chunk)
        ]
    return torch.cat(out).double().numpy().reshape(len(grid), len(grid))


def bmm_grid(model, theta, d1, d2, x, y, grid, chunk: int) -> np.ndarray:
    """The limit: plain ``baddbmm`` layer by layer over chunks of ``chunk`` networks."""
    theta, d1, d2 = (torch.from_numpy(np.asarray(v, np.float32)) for v in (theta, d1, d2))
    a = torch.as_tensor(grid, dtype=torch.float32).repeat(len(grid))
    b = torch.as_tensor(grid, dtype=torch.float32).repeat_interleave(len(grid))
    flats = theta + a[:, None] * d1 + b[:, None] * d2
    out = torch.empty(len(a))
    with torch.no_grad():
        for s in range(0, len(a), chunk):
            w = flats[s : s + chunk]
            k, offset, h = len(w), 0, x.expand(len(w), -1, -1)
            for layer in model:
                if isinstance(layer, torch.nn.Linear):
                    o, i = layer.weight.shape
                    weight = w[:, offset : offset + o * i].view(k, o, i)
                    bias = w[:, offset + o * i : offset + o * i + o]
                    offset += o * i + o
                    h = torch.baddbmm(bias[:, None, :], h, weight.transpose(1, 2))
                else:
                    h = layer(h)
            losses = F.cross_entropy(h.reshape(k * len(x), -1), y.repeat(k), reduction="none")
            out[s : s + k] = losses.view(k, -1).mean(dim=1)
    return out.double().numpy().reshape(len(grid), len(grid))


def bench_landscape(hidden: tuple[int, ...] = (64,), n: int = 41, pairs: int = 9) -> dict:
    """gdsim's landscape vs vmap (same work) and the best chunked bmm (limit); see the module."""
    from core.teach.landscape import compute_landscape

    snapshot = _trained_snapshot(hidden)
    model, dirs, x, y, grid = _plane(snapshot, n)
    args = (model, snapshot.weights, dirs.d1, dirs.d2, x, y, grid)

    def gdsim():
        return compute_landscape(snapshot, "random", n=n, span=1.0, seed=0, threads=None)

    reference = gdsim().loss
    agree = float(np.max(np.abs(bmm_grid(*args, LIMIT_CHUNKS[0]) - reference)))
    chunk_ms = {}
    for chunk in LIMIT_CHUNKS:  # warm-up, and the best chunk for the limit
        chunk_ms[chunk] = min(seconds(lambda c=chunk: bmm_grid(*args, c)) for _ in range(2))
    best = min(chunk_ms, key=chunk_ms.__getitem__)
    vmap_grid(*args)
    result = paired(
        gdsim, {"vmap": lambda: vmap_grid(*args), "limit": lambda: bmm_grid(*args, best)}, pairs
    )
    return {
        **result,
        "hidden": list(hidden),
        "n": n,
        "points": len(x),
        "limit_chunk": best,
        "limit_chunk_ms": {str(k): v * 1e3 for k, v in chunk_ms.items()},
        "max_abs_difference": agree,
        "target": TARGET_LANDSCAPE,
    }


# ------------------------------------------------------------------------------------ basins


def _minor_faults() -> int:
    """Minor page faults of this thread so far (0 where the platform does not count them)."""
    if resource is None:
        return 0
    who = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)
    return resource.getrusage(who).ru_minflt


def _bare_swarm(spec, fn, starts: torch.Tensor, steps: int) -> None:
    p = torch.nn.Parameter(starts.clone())
    opt = spec.build([p])
    for _ in range(steps):
        opt.zero_grad()
        fn(p).sum().backward()
        opt.step()


def bench_basins(
    surface: str = "himmelblau", spec: str = "Adam(lr=0.05)", n: int = 200, pairs: int = 9
) -> dict:
    """gdsim's basins map vs a bare batched torch.optim loop of as many steps (the limit)."""
    from core.engine.optimizers import parse_spec
    from core.engine.surfaces import get_surface
    from core.teach.basins import BasinsRun

    faults: list[int] = []

    def gdsim():
        before = _minor_faults()
        result = BasinsRun(surface, spec, n=n).run()
        faults.append(_minor_faults() - before)
        return result

    first = gdsim()  # warm-up, and how many steps the map takes
    surf, sp = get_surface(surface), parse_spec(spec)
    (x0, x1), (y0, y1) = surf.domain
    gx, gy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    starts = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], axis=1))
    _bare_swarm(sp, surf.fn, starts, first.steps)
    # CPU time when torch works on this one thread (see core.bench.stats.CLOCKS), else wall
    clock = "cpu" if torch.get_num_threads() == 1 else "wall"

    def limit() -> None:
        _bare_swarm(sp, surf.fn, starts, first.steps)

    result = paired(gdsim, {"limit": limit}, pairs, clock=clock)
    return {
        **result,
        "surface": surf.name,
        "spec": spec,
        "n": n,
        "steps": first.steps,
        # minor page faults of one map (median; runtime.keep_heap keeps this to a few hundred)
        "page_faults": statistics.median(faults[1:]) if resource else None,
        "target": TARGET_BASINS,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.bench.teach", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="fewer pairs")
    args = parser.parse_args(argv)
    from core.engine.runtime import configure_torch

    configure_torch()
    pairs = 7 if args.quick else 15
    land = bench_landscape(pairs=pairs)
    bas = bench_basins(pairs=pairs)
    for name, r in (("landscape", land), ("basins", bas)):
        line = f"{name}: gdsim {r['gdsim_ms']:.0f} ms"
        for other in ("vmap", "limit"):
            if other in r:
                o = r[other]
                line += (
                    f"; {other} {o['ms']:.0f} ms, ratio {o['ratio']:.3f} "
                    f"(IQR {o['q1']:.2f}-{o['q3']:.2f})"
                )
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
