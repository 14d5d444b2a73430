"""Seeded 2-D classification data sets, generated on the spot (nothing is downloaded).

Why generated: a lecture machine may be offline, and a 2-D set can be drawn, so the decision
boundary a network learns can be watched against the points themselves.

Public API
----------
``DATASETS: dict[str, DatasetInfo]``
    The registry, one entry per data set (key = lower-case name): ``moons``, ``circles``,
    ``spiral``, ``xor``, ``blobs``. ``DatasetInfo`` carries the generator, a one-line description,
    the default noise and the extra options a UI can build controls from (``spiral`` has ``arms``,
    ``blobs`` has ``centers``; each is also the number of classes).
``dataset_names() -> list[str]``, ``get_dataset(name) -> DatasetInfo`` (GdsimError if unknown).
``parse_dataset_spec(text) -> (name, options)``
    ``"moons"`` or ``"spiral(arms=4, noise=0.1)"`` (the same safe literal-call syntax as an
    optimizer SPEC, via ``core.engine.optimizers.parse_call``).
``make_dataset(name_or_spec, samples=None, noise=None, val_fraction=0.2, seed=0, **options)``
    -> ``GeneratedData``: every point (``x`` float32 (n, 2), ``y`` int64 (n,)) for a preview plot,
    the fixed train/validation split (index arrays), ``bounds`` for a plot or a decision-boundary
    grid, and ``tensors()`` giving CPU torch tensors ready for a ``TensorDataset``.

Reproducibility: the points depend only on (name, samples, noise, options, seed), drawn from
``numpy.random.default_rng(seed)``; the split comes from a separate stream seeded by ``seed`` alone,
so the same seed always gives the same points and the same split (changing ``val_fraction`` moves
only the boundary between the two parts of one fixed permutation). Nothing here touches the global
numpy or torch random state.

``noise`` is always the standard deviation of Gaussian jitter added to each point, in the units of
the plot (the clean shapes all fit in roughly [-2, 2]²), so the same noise means the same amount of
blur on every data set.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from core.errors import GdsimError

MIN_SAMPLES, MAX_SAMPLES = 10, 200_000


@dataclass(frozen=True)
class DatasetOption:
    """An extra integer option of a data set (a UI builds a spin box from it)."""

    name: str
    default: int
    low: int
    high: int
    help: str


# A generator: (rng, n, noise, options) -> (x float64 (n, 2), y int64 (n,)).
Generator = Callable[
    [np.random.Generator, int, float, dict[str, int]], tuple[np.ndarray, np.ndarray]
]


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str  # one line a lecturer would read out
    default_noise: float
    generate: Generator
    options: tuple[DatasetOption, ...] = ()
    fixed_classes: int | None = None  # None: the class count is an option (arms / centers)

    def n_classes(self, options: dict[str, int]) -> int:
        if self.fixed_classes is not None:
            return self.fixed_classes
        return int(options[self.options[0].name])


@dataclass(frozen=True)
class GeneratedData:
    """One generated data set with its fixed split. Arrays are read-only numpy."""

    name: str
    params: dict[str, Any]  # effective samples, noise, val_fraction, seed and options
    x: np.ndarray  # (n, 2) float32, all points, for a preview plot
    y: np.ndarray  # (n,) int64 class labels 0..n_classes-1
    n_classes: int
    train_idx: np.ndarray  # indices into x / y
    val_idx: np.ndarray
    bounds: tuple[tuple[float, float], tuple[float, float]] = field(default=((0, 0), (0, 0)))

    @property
    def x_train(self) -> np.ndarray:
        return self.x[self.train_idx]

    @property
    def y_train(self) -> np.ndarray:
        return self.y[self.train_idx]

    @property
    def x_val(self) -> np.ndarray:
        return self.x[self.val_idx]

    @property
    def y_val(self) -> np.ndarray:
        return self.y[self.val_idx]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x_train, y_train, x_val, y_val) as fresh CPU tensors (float32 features, int64 labels)."""
        return (
            torch.from_numpy(self.x_train.copy()),
            torch.from_numpy(self.y_train.copy()),
            torch.from_numpy(self.x_val.copy()),
            torch.from_numpy(self.y_val.copy()),
        )


def _per_class(n: int, k: int) -> list[int]:
    """Split n samples over k classes as evenly as possible (the first classes get the extra)."""
    return [n // k + (1 if c < n % k else 0) for c in range(k)]


def _moons(rng: np.random.Generator, n: int, noise: float, _opts: dict) -> tuple:
    n0, n1 = _per_class(n, 2)
    t0 = np.linspace(0.0, math.pi, n0)
    t1 = np.linspace(0.0, math.pi, n1)
    outer = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    inner = np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    x = np.concatenate([outer, inner]) - np.array([0.5, 0.25])  # centred on the origin
    y = np.concatenate([np.zeros(n0), np.ones(n1)])
    return x + rng.normal(0.0, noise, x.shape), y


def _circles(rng: np.random.Generator, n: int, noise: float, _opts: dict) -> tuple:
    n0, n1 = _per_class(n, 2)
    t0 = np.linspace(0.0, 2 * math.pi, n0, endpoint=False)
    t1 = np.linspace(0.0, 2 * math.pi, n1, endpoint=False)
    outer = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    inner = 0.5 * np.stack([np.cos(t1), np.sin(t1)], axis=1)
    x = np.concatenate([outer, inner])
    y = np.concatenate([np.zeros(n0), np.ones(n1)])
    return x + rng.normal(0.0, noise, x.shape), y


def _spiral(rng: np.random.Generator, n: int, noise: float, opts: dict) -> tuple:
    arms = opts["arms"]
    xs, ys = [], []
    for k, m in enumerate(_per_class(n, arms)):
        r = np.linspace(0.1, 1.0, m)
        theta = 2 * math.pi * k / arms + 1.5 * math.pi * r  # three quarters of a turn per arm
        xs.append(1.5 * np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1))
        ys.append(np.full(m, k))
    x = np.concatenate(xs)
    return x + rng.normal(0.0, noise, x.shape), np.concatenate(ys)


def _xor(rng: np.random.Generator, n: int, noise: float, _opts: dict) -> tuple:
    # one quadrant at a time, so both classes get (almost) the same number of points
    xs, ys = [], []
    for (sx, sy), m in zip(((1, 1), (-1, -1), (1, -1), (-1, 1)), _per_class(n, 4), strict=True):
        xs.append(rng.uniform(0.0, 1.0, (m, 2)) * np.array([sx, sy]))
        ys.append(np.full(m, 1 if sx * sy < 0 else 0))  # labels from the clean points
    x = np.concatenate(xs)
    return x + rng.normal(0.0, noise, x.shape), np.concatenate(ys)


def _blobs(rng: np.random.Generator, n: int, noise: float, opts: dict) -> tuple:
    k = opts["centers"]
    xs, ys = [], []
    for c, m in enumerate(_per_class(n, k)):
        angle = 2 * math.pi * c / k + math.pi / 4
        centre = np.array([math.cos(angle), math.sin(angle)]) * 1.2
        xs.append(centre + rng.normal(0.0, noise, (m, 2)))
        ys.append(np.full(m, c))
    return np.concatenate(xs), np.concatenate(ys)


DATASETS: dict[str, DatasetInfo] = {
    "moons": DatasetInfo(
        "moons",
        "two interleaving half circles: needs a curved boundary",
        0.2,
        _moons,
        fixed_classes=2,
    ),
    "circles": DatasetInfo(
        "circles",
        "a ring around a disc: no straight line separates them",
        0.1,
        _circles,
        fixed_classes=2,
    ),
    "spiral": DatasetInfo(
        "spiral",
        "interleaved spiral arms, one class per arm: the hardest of the set",
        0.1,
        _spiral,
        options=(DatasetOption("arms", 3, 2, 8, "number of spiral arms (= classes)"),),
    ),
    "xor": DatasetInfo(
        "xor",
        "opposite quadrants share a class: the problem a single neuron cannot solve",
        0.1,
        _xor,
        fixed_classes=2,
    ),
    "blobs": DatasetInfo(
        "blobs",
        "Gaussian clusters, one class each: nearly linearly separable",
        0.5,
        _blobs,
        options=(DatasetOption("centers", 3, 2, 10, "number of clusters (= classes)"),),
    ),
}


def dataset_names() -> list[str]:
    """Registry names in display order."""
    return list(DATASETS)


def get_dataset(name: str) -> DatasetInfo:
    key = str(name).strip().lower()
    if key not in DATASETS:
        raise GdsimError(f"unknown data set '{name}' (choose from: {', '.join(DATASETS)})")
    return DATASETS[key]


def parse_dataset_spec(text: str) -> tuple[str, dict[str, Any]]:
    """``"spiral(arms=4, noise=0.1)"`` -> ``("spiral", {"arms": 4, "noise": 0.1})``; names checked."""
    from core.engine.optimizers import parse_call  # the one safe literal-call parser of the project

    name, kwargs = parse_call(str(text).strip())
    return get_dataset(name).name, dict(kwargs)


def _int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise GdsimError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise GdsimError(f"{name} must be between {low} and {high}, got {value}")
    return int(value)


def _float(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise GdsimError(f"{name} must be a number, got {value!r}")
    if not low <= value <= high:  # NaN too; compared before float(): 10**400 overflows it
        raise GdsimError(f"{name} must be between {low:g} and {high:g}, got {value}")
    return float(value)


def make_dataset(
    name: str,
    samples: int | None = None,
    noise: float | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    **options: Any,
) -> GeneratedData:
    """Generate data set ``name`` (a registry name or a spec like ``"spiral(arms=4)"``).

    Values given in a spec are overridden by explicit keyword arguments that are not None.
    Raises GdsimError (one line) for an unknown name or option, or a value out of range.
    """
    name, spec_opts = parse_dataset_spec(name)
    info = DATASETS[name]
    explicit = {"samples": samples, "noise": noise, **options}
    merged = {**spec_opts, **{k: v for k, v in explicit.items() if v is not None}}
    samples = merged.pop("samples", 1000)
    noise = merged.pop("noise", info.default_noise)
    val_fraction = merged.pop("val_fraction", val_fraction)
    seed = merged.pop("seed", seed)
    known = {o.name: o for o in info.options}
    unknown = sorted(set(merged) - set(known))
    if unknown:
        allowed = ", ".join(["samples", "noise", "val_fraction", "seed", *known]) or "none"
        raise GdsimError(f"data set '{name}' has no option '{unknown[0]}' (options: {allowed})")
    opts = {
        o.name: _int(o.name, merged.get(o.name, o.default), o.low, o.high) for o in known.values()
    }
    samples = _int("samples", samples, MIN_SAMPLES, MAX_SAMPLES)
    noise = _float("noise", noise, 0.0, 5.0)
    val_fraction = _float("val_fraction", val_fraction, 0.0, 0.9)
    seed = _int("seed", seed, 0, 2**63 - 1)
    n_val = int(round(samples * val_fraction))
    if val_fraction > 0 and n_val == 0:
        n_val = 1
    if samples - n_val < 2:
        raise GdsimError(f"val_fraction {val_fraction:g} leaves fewer than 2 training samples")

    rng = np.random.default_rng([seed, 0])
    x, y = info.generate(rng, samples, noise, opts)
    order = np.random.default_rng([seed, 1]).permutation(samples)  # the fixed split
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.ascontiguousarray(y, dtype=np.int64)
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    for arr in (x, y, val_idx, train_idx):
        arr.setflags(write=False)
    lo, hi = x.min(axis=0), x.max(axis=0)
    pad = 0.1 * float(max(hi - lo)) + 1e-3
    bounds = (
        (float(lo[0]) - pad, float(hi[0]) + pad),
        (float(lo[1]) - pad, float(hi[1]) + pad),
    )
    params = {
        "samples": samples,
        "noise": noise,
        "val_fraction": val_fraction,
        "seed": seed,
        **opts,
    }
    return GeneratedData(name, params, x, y, info.n_classes(opts), train_idx, val_idx, bounds)
