"""Seeded 2-D classification data sets, generated on the spot (a lecture machine may be offline).

``make_dataset("spiral(arms=4)", seed=0)`` gives the points, labels and a fixed train/validation
split. Every draw comes from one ``torch.Generator`` seeded with ``seed``, and the generators below
are plain torch functions: an exported script (core.teach.codegen) carries their very source.
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


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str  # one line a lecturer would read out
    default_noise: float
    generate: Callable[..., tuple[torch.Tensor, torch.Tensor]]  # (gen, n, noise, **options)
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


# --- the generators: (gen, n, noise, **options) -> (points float64 (n, 2), labels int64 (n,))
# Exported scripts carry this source as it is, so it stays plain torch a student can read.


def per_class(n, k):
    """Split n points over k classes as evenly as possible (the first classes get the extra)."""
    return [n // k + (1 if c < n % k else 0) for c in range(k)]


def jitter(gen, points, noise):
    """Gaussian noise added to each coordinate; `noise` is its standard deviation."""
    return points + noise * torch.randn(points.shape, generator=gen, dtype=torch.float64)


def make_moons(gen, n, noise):
    """Two interleaving half circles, centred on the origin."""
    n0, n1 = per_class(n, 2)
    t0 = torch.linspace(0.0, math.pi, n0, dtype=torch.float64)
    t1 = torch.linspace(0.0, math.pi, n1, dtype=torch.float64)
    upper = torch.stack([torch.cos(t0) - 0.5, torch.sin(t0) - 0.25], dim=1)  # class 0
    lower = torch.stack([0.5 - torch.cos(t1), 0.25 - torch.sin(t1)], dim=1)  # class 1
    labels = torch.cat([torch.full((n0,), 0), torch.full((n1,), 1)])
    return jitter(gen, torch.cat([upper, lower]), noise), labels


def make_circles(gen, n, noise):
    """A ring of radius 1 (class 0) around a circle of radius 0.5 (class 1)."""
    n0, n1 = per_class(n, 2)
    t0 = torch.arange(n0, dtype=torch.float64) * (2 * math.pi / n0)
    t1 = torch.arange(n1, dtype=torch.float64) * (2 * math.pi / n1)
    outer = torch.stack([torch.cos(t0), torch.sin(t0)], dim=1)
    inner = 0.5 * torch.stack([torch.cos(t1), torch.sin(t1)], dim=1)
    labels = torch.cat([torch.full((n0,), 0), torch.full((n1,), 1)])
    return jitter(gen, torch.cat([outer, inner]), noise), labels


def make_spiral(gen, n, noise, arms):
    """Interleaved spiral arms, one class per arm, three quarters of a turn each."""
    points, labels = [], []
    for k, m in enumerate(per_class(n, arms)):
        r = torch.linspace(0.1, 1.0, m, dtype=torch.float64)
        theta = 2 * math.pi * k / arms + 1.5 * math.pi * r
        points.append(1.5 * torch.stack([r * torch.cos(theta), r * torch.sin(theta)], dim=1))
        labels.append(torch.full((m,), k))
    return jitter(gen, torch.cat(points), noise), torch.cat(labels)


def make_xor(gen, n, noise):
    """Points in the four quadrants; opposite quadrants share a class."""
    points, labels = [], []
    # one quadrant at a time, so both classes get (almost) the same number of points
    for (sx, sy), m in zip(((1, 1), (-1, -1), (1, -1), (-1, 1)), per_class(n, 4), strict=True):
        square = torch.rand((m, 2), generator=gen, dtype=torch.float64)  # the unit square
        points.append(square * torch.tensor([sx, sy], dtype=torch.float64))
        labels.append(torch.full((m,), 1 if sx * sy < 0 else 0))  # labels of the clean points
    return jitter(gen, torch.cat(points), noise), torch.cat(labels)


def make_blobs(gen, n, noise, centers):
    """Gaussian clusters on a circle of radius 1.2, one class each."""
    points, labels = [], []
    for c, m in enumerate(per_class(n, centers)):
        angle = 2 * math.pi * c / centers + math.pi / 4
        centre = 1.2 * torch.tensor([math.cos(angle), math.sin(angle)], dtype=torch.float64)
        points.append(jitter(gen, centre.expand(m, 2), noise))
        labels.append(torch.full((m,), c))
    return torch.cat(points), torch.cat(labels)


def split(gen, n, n_val):
    """A fixed split: a random permutation of the n points; its first n_val are held out."""
    order = torch.randperm(n, generator=gen)
    return order[n_val:].sort().values, order[:n_val].sort().values  # train, validation


DATASETS: dict[str, DatasetInfo] = {
    "moons": DatasetInfo(
        "moons",
        "two interleaving half circles: needs a curved boundary",
        0.2,
        make_moons,
        fixed_classes=2,
    ),
    "circles": DatasetInfo(
        "circles",
        "a ring around a disc: no straight line separates them",
        0.1,
        make_circles,
        fixed_classes=2,
    ),
    "spiral": DatasetInfo(
        "spiral",
        "interleaved spiral arms, one class per arm: the hardest of the set",
        0.1,
        make_spiral,
        options=(DatasetOption("arms", 3, 2, 8, "number of spiral arms (= classes)"),),
    ),
    "xor": DatasetInfo(
        "xor",
        "opposite quadrants share a class: the problem a single neuron cannot solve",
        0.1,
        make_xor,
        fixed_classes=2,
    ),
    "blobs": DatasetInfo(
        "blobs",
        "Gaussian clusters, one class each: nearly linearly separable",
        0.5,
        make_blobs,
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

    gen = torch.Generator().manual_seed(seed)  # the points first, then the split
    points, labels = info.generate(gen, samples, noise, **opts)
    train_idx, val_idx = (i.numpy() for i in split(gen, samples, n_val))
    x, y = points.to(torch.float32).numpy(), labels.numpy()
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
