"""The network's own loss landscape: a 2-D slice of its real loss around given weights.

A network's loss surface cannot be drawn, but a plane through weight space can: this module
evaluates the real training loss ``L(θ + a·d1 + b·d2)`` on an n×n grid and projects the path the
weights took onto the plane (Li et al., 2018, "Visualizing the Loss Landscape of Neural Nets").
The plane is ``"random"`` (:func:`random_directions`: filter-normalised, seeded, so the paper's
method but not its random numbers) or ``"pca"`` (:func:`pca_directions`: the plane the path moved
in most). It works on a copy of the weights, row by row and cancellable, so it runs beside a training that
goes on; an MLP's grid runs as one ``baddbmm`` per layer over chunks of networks whose activations
fit in the cache (``CACHE_BYTES``), any other model through ``torch.func.vmap``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the usual PyTorch spelling)
from torch import nn

from core.engine.runtime import torch_threads
from core.engine.training import ACTIVATIONS, WeightsSnapshot, build_mlp
from core.errors import GdsimError

DIRECTIONS: dict[str, str] = {
    "random": "two random filter-normalised directions",
    "pca": "the top two PCA directions of the weight trajectory",
}
BIASES = ("zero", "copy")
MIN_GRID, MAX_GRID = 3, 201
MAX_SPAN = 1e6
DEFAULT_RANDOM_SPAN = 1.0  # ±1: up to one "weight norm" away along each filter-normalised axis
PCA_MARGIN = 1.25  # the automatic PCA range: the projected path's extent times this
MAX_POINTS = 20_000  # training points the loss is measured on (evenly spaced subset beyond)
CHUNK_BYTES = 64 * 2**20  # vmap path: memory for one batch of grid points (weights + activations)
#: Activations of one chunk of grid networks on the MLP path: small enough to stay in the cache
#: (measured with ``gdsim bench``'s "landscape" rows: 1 MB is ~3x faster than 64 MB here).
CACHE_BYTES = 2**20
WEIGHT_BLOCK_BYTES = 4 * 2**20  # MLP path: the weights of grid networks made in one go
MIN_PATH = 3  # PCA needs this many distinct weight snapshots (the current weights included)

Report = Callable[[float, str], None]
Cancelled = Callable[[], bool]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Directions:
    """Two directions in flattened weight space (``model.parameters()`` order)."""

    kind: str  # "random" | "pca"
    d1: np.ndarray  # (P,) float32
    d2: np.ndarray  # (P,) float32
    explained: tuple[float, float] | None = None  # PCA: share of the path's variance per axis
    seed: int | None = None  # random: the seed that made them


@dataclass(frozen=True)
class LandscapeSlice:
    """A computed slice: ``loss[j, i] = L(θ + xs[i]·d1 + ys[j]·d2)`` plus the projected path."""

    kind: str
    xs: np.ndarray  # (n,) float64
    ys: np.ndarray  # (n,) float64
    loss: np.ndarray  # (n, n) float64, rows = ys; nan/inf kept where the loss overflowed
    centre_loss: float  # L(θ): the loss of the weights the slice is centred on
    path: np.ndarray  # (k, 2) float64: the weight trajectory projected onto the plane
    path_steps: np.ndarray  # (k,) int64 batches trained at each path point
    path_epochs: np.ndarray  # (k,) int64 completed epochs at each path point
    explained: tuple[float, float] | None
    span: float  # the grid covers [-span, span] on both axes
    seed: int | None
    lane: int = 0
    lane_name: str = ""
    steps: int = 0  # batches trained at θ
    epoch: int = 0
    points: int = 0  # training points the loss was measured on
    seconds: float = 0.0  # time spent evaluating the grid

    @property
    def current(self) -> tuple[float, float]:
        """Where θ (the weights the slice is around) is on the plane: the origin."""
        return (0.0, 0.0)


@dataclass(frozen=True, eq=False)
class LossPlane:
    """Where a grid of losses is evaluated: ``loss_fn(f(x; θ + a·d1 + b·d2), y)`` for each ``a``
    in ``xs`` and ``b`` in ``ys``, θ = ``weights`` (``model`` only supplies the architecture)."""

    model: nn.Module
    weights: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    x: torch.Tensor
    y: torch.Tensor
    xs: np.ndarray
    ys: np.ndarray
    loss_fn: LossFn = F.cross_entropy

    def vectors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """θ, d1 and d2 as float32 tensors of their own (the arrays stay untouched)."""
        return tuple(  # type: ignore[return-value]
            torch.from_numpy(np.asarray(v, np.float32).copy())
            for v in (self.weights, self.d1, self.d2)
        )


# --------------------------------------------------------------------------------------------
# Directions
# --------------------------------------------------------------------------------------------


def _flat(weights: np.ndarray | torch.Tensor, name: str = "weights") -> np.ndarray:
    arr = np.asarray(weights.detach().cpu() if torch.is_tensor(weights) else weights)
    if arr.ndim != 1 or arr.size == 0:
        raise GdsimError(f"{name} must be a non-empty flat vector, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise GdsimError(f"the {name} are not finite (the run diverged): press Reset and retrain")
    return arr


def _shapes(model: nn.Module) -> list[tuple[str, torch.Size]]:
    return [(n, p.shape) for n, p in model.named_parameters()]


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _check_size(model: nn.Module, vec: np.ndarray, name: str) -> None:
    if vec.size != _n_params(model):
        raise GdsimError(
            f"{name} have {vec.size} values but the network has {_n_params(model)} parameters"
        )


def filter_normalized(
    model: nn.Module, weights: np.ndarray, gen: torch.Generator, biases: str = "zero"
) -> np.ndarray:
    """One random direction, filter-normalised against ``weights`` (Li et al., 2018, sec. 4).

    For every parameter with ≥ 2 dimensions, row i of a Gaussian direction (one neuron's
    incoming weights, or one convolution filter) is scaled to ``‖weights row i‖``. 1-D
    parameters (biases): ``"zero"`` (not perturbed) or ``"copy"`` (the bias itself).
    """
    if biases not in BIASES:
        raise GdsimError(f"biases must be one of {', '.join(BIASES)}, got {biases!r}")
    w = torch.from_numpy(np.asarray(weights, dtype=np.float64))
    _check_size(model, w.numpy(), "the weights")
    parts: list[torch.Tensor] = []
    offset = 0
    for _name, shape in _shapes(model):
        size = math.prod(shape)
        wp = w[offset : offset + size].reshape(shape)
        offset += size
        if len(shape) <= 1:
            parts.append(
                torch.zeros(size, dtype=torch.float64) if biases == "zero" else wp.flatten()
            )
            continue
        d = torch.randn(shape, generator=gen, dtype=torch.float64)
        rows_w = wp.reshape(shape[0], -1).norm(dim=1, keepdim=True)
        rows_d = d.reshape(shape[0], -1).norm(dim=1, keepdim=True)
        parts.append((d.reshape(shape[0], -1) * rows_w / (rows_d + 1e-10)).flatten())
    return torch.cat(parts).numpy().astype(np.float32)


def random_directions(
    model: nn.Module, weights: np.ndarray, seed: int = 0, biases: str = "zero"
) -> Directions:
    """Two seeded filter-normalised directions (the same seed gives the same plane)."""
    weights = _flat(weights)
    seed = _seed(seed)
    gen = torch.Generator().manual_seed(seed)
    d1 = filter_normalized(model, weights, gen, biases)
    d2 = filter_normalized(model, weights, gen, biases)
    if not np.any(d1) or not np.any(d2):
        raise GdsimError("the network has no weight matrix to perturb (only biases)")
    return Directions("random", d1, d2, None, seed)


def pca_directions(trajectory: np.ndarray, centre: np.ndarray, seed: int = 0) -> Directions:
    """The top two principal components of the path ``trajectory - centre`` (orthonormal).

    As in Li et al.: rows θ_i − θ_centre, mean-centred, SVD. If the path is a straight line the
    second direction is any unit vector orthogonal to the first (seeded). Signs are chosen so the
    path's first point has negative coordinates (it comes in from the lower left).
    """
    centre = _flat(centre)
    traj = np.asarray(trajectory, dtype=np.float64)
    if traj.ndim != 2 or traj.shape[1] != centre.size:
        raise GdsimError(
            f"the trajectory must have shape (k, {centre.size}), got {tuple(traj.shape)}"
        )
    if not np.isfinite(traj).all():
        raise GdsimError("the weight trajectory is not finite (the run diverged)")
    diffs = traj - centre
    distinct = _distinct_rows(np.vstack([diffs, np.zeros((1, centre.size))]))
    if distinct < MIN_PATH:
        raise GdsimError(
            f"PCA of the trajectory needs at least {MIN_PATH} different weight snapshots "
            f"(has {distinct}): train at least 2 epochs, or use random directions"
        )
    centred = diffs - diffs.mean(axis=0)
    _u, s, vt = np.linalg.svd(centred, full_matrices=False)
    var = s**2
    total = float(var.sum())
    d1 = vt[0] / np.linalg.norm(vt[0])
    if len(s) > 1 and s[1] > s[0] * 1e-7:
        d2 = vt[1]
    else:  # a straight path: no second direction in the data, pick an orthogonal one
        d2 = np.random.default_rng(_seed(seed)).standard_normal(centre.size)
    d2 = d2 - (d2 @ d1) * d1
    norm2 = np.linalg.norm(d2)
    if norm2 < 1e-12:
        raise GdsimError("the weights have a single parameter: a plane needs two")
    d2 = d2 / norm2
    first = diffs[0]
    if first @ d1 > 0:
        d1 = -d1
    if first @ d2 > 0:
        d2 = -d2
    explained = (
        (float(var[0] / total), float(var[1] / total) if len(var) > 1 else 0.0)
        if total > 0
        else (0.0, 0.0)
    )
    return Directions("pca", d1.astype(np.float32), d2.astype(np.float32), explained, None)


def _distinct_rows(rows: np.ndarray) -> int:
    scale = max(1e-12, float(np.abs(rows).max()))
    return len(np.unique(np.round(rows / scale, 9), axis=0))


def project(points: np.ndarray, centre: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
    """Coordinates (a, b) of each point's nearest point on the plane ``centre + a·d1 + b·d2``
    (least squares; for orthonormal directions these are plain dot products)."""
    a = np.stack([np.asarray(d1, np.float64), np.asarray(d2, np.float64)], axis=1)  # (P, 2)
    gram = a.T @ a
    if abs(np.linalg.det(gram)) <= 1e-12 * max(1.0, float(np.trace(gram)) ** 2):
        raise GdsimError("the two directions are parallel: they do not span a plane")
    diffs = np.asarray(points, np.float64).reshape(-1, a.shape[0]) - np.asarray(centre, np.float64)
    return np.linalg.solve(gram, (diffs @ a).T).T


# --------------------------------------------------------------------------------------------
# The loss on the grid
# --------------------------------------------------------------------------------------------


def _widest(model: nn.Module, x: torch.Tensor) -> int:
    """The widest activation of one forward pass (for the memory budget of a chunk)."""
    widths = [int(x.shape[-1])]
    for p in model.parameters():
        if p.dim() >= 1:
            widths.append(int(p.shape[0]))
    return max(widths)


def _grid_values(n: int, span: float) -> np.ndarray:
    return np.linspace(-span, span, n)


def _mlp_layers(model: nn.Module) -> list[nn.Module] | None:
    """The model's modules in order if it is a plain MLP (``nn.Linear`` layers and elementwise
    activations, as ``build_mlp`` makes), else None: only then can the grid use ``baddbmm``."""
    modules = list(model) if isinstance(model, nn.Sequential) else [model]
    elementwise = tuple(ACTIVATIONS.values())
    if not all(isinstance(m, (nn.Linear, *elementwise)) for m in modules):
        return None
    if [p for m in modules for p in m.parameters()] != list(model.parameters()):
        return None  # shared or extra parameters: the flat layout would not match
    return modules


def _mean_cross_entropy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``F.cross_entropy(out[k].T, y)`` for every k of ``out`` (k, classes, points), at once."""
    return F.cross_entropy(out, y.expand(len(out), -1), reduction="none").mean(dim=1)


#: Losses with a batched form over (networks, outputs, points); any other runs under vmap.
BATCHED_LOSSES: dict[LossFn, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    F.cross_entropy: _mean_cross_entropy,
}


class _GridMLP:
    """Many copies of one MLP, copy i with weights ``θ + a[i]·d1 + b[i]·d2``, run at once.

    Activations are laid out (networks, features, points): every layer is one ``baddbmm`` whose
    long dimension is the points, and cross-entropy reads the scores in place. The weights of a
    block of copies are made together (few ops per block), the forward passes run over chunks
    of copies whose activations fit in the cache (:data:`CACHE_BYTES`), which is what makes this
    faster than one ``vmap`` over a 64 MB chunk (``gdsim bench``, "landscape").
    """

    def __init__(
        self,
        layers: list[nn.Module],
        vectors: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        x: torch.Tensor,
        y: torch.Tensor,
        loss_fn: LossFn,
    ) -> None:
        self.layers: list[tuple[nn.Module, list[tuple[torch.Tensor, ...]]]] = []
        offset = 0
        for module in layers:
            parts = []
            for p in module.parameters():  # weight, then bias: parameters() order
                size = p.numel()
                parts.append(tuple(v[offset : offset + size].reshape(p.shape) for v in vectors))
                offset += size
            self.layers.append((module, parts))
        self.xt = x.t()  # (features, points)
        self.y = y
        self.batched = BATCHED_LOSSES.get(loss_fn)
        self.loss_fn = loss_fn

    def weights(self, a: torch.Tensor, b: torch.Tensor) -> list[list[torch.Tensor]]:
        """Per layer, its parameters for copies at grid coordinates ``a``, ``b`` (each (k,)):
        elementwise as θ + a·d1 + b·d2 on the flat vector, so the same float32 numbers."""
        out = []
        for _module, parts in self.layers:
            made = []
            for theta, d1, d2 in parts:
                shape = (-1,) + (1,) * theta.dim()
                made.append(theta + a.view(shape) * d1 + b.view(shape) * d2)
            out.append(made)
        return out

    def losses(self, weights: list[list[torch.Tensor]], lo: int, hi: int) -> torch.Tensor:
        """(hi - lo,) losses of copies lo..hi of a block made by :meth:`weights`."""
        h = self.xt.expand(hi - lo, -1, -1)
        for (module, _parts), params in zip(self.layers, weights, strict=True):
            if not params:
                h = module(h)
            elif len(params) == 2:
                h = torch.baddbmm(params[1][lo:hi, :, None], params[0][lo:hi], h)
            else:
                h = torch.bmm(params[0][lo:hi], h)
        if self.batched is not None:
            return self.batched(h, self.y)
        return torch.func.vmap(lambda out: self.loss_fn(out, self.y))(h.transpose(1, 2))


def _networks_per_chunk(points: int, widest: int, cache_bytes: int) -> int:
    return max(1, cache_bytes // (4 * points * widest))


def loss_rows(plane: LossPlane, chunk_bytes: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(j, row)`` with ``row[i] = loss_fn(f(x; θ + xs[i]·d1 + ys[j]·d2), y)``, j = 0..

    ``model`` only supplies the architecture (its parameters are replaced; it is put in eval
    mode). A plain MLP runs as :class:`_GridMLP` in chunks of :data:`CACHE_BYTES` of
    activations; any other model under ``vmap`` (:func:`vmap_loss_rows`). ``chunk_bytes``
    overrides the chunk's memory. Stop iterating to cancel between rows.
    """
    model, x, xs, ys = plane.model, plane.x, plane.xs, plane.ys
    layers = _mlp_layers(model)
    if layers is None:
        yield from vmap_loss_rows(plane, chunk_bytes or CHUNK_BYTES)
        return
    model.eval()
    vectors = plane.vectors()
    grid = _GridMLP(layers, vectors, x, plane.y, plane.loss_fn)  # type: ignore[arg-type]
    n = len(xs)
    xs_t = torch.as_tensor(np.asarray(xs), dtype=torch.float32)
    ys_t = torch.as_tensor(np.asarray(ys), dtype=torch.float32)
    a_all = xs_t.repeat(len(ys_t))  # row-major over the grid, as the rows are yielded
    b_all = ys_t.repeat_interleave(n)
    chunk = _networks_per_chunk(len(x), _widest(model, x), chunk_bytes or CACHE_BYTES)
    per_block = max(1, WEIGHT_BLOCK_BYTES // (4 * len(vectors[0])) // chunk) * chunk
    out = torch.empty(len(a_all))
    row = 0
    with torch.no_grad():
        for start in range(0, len(a_all), per_block):
            end = min(len(a_all), start + per_block)
            params = grid.weights(a_all[start:end], b_all[start:end])
            for lo in range(0, end - start, chunk):
                hi = min(end - start, lo + chunk)
                out[start + lo : start + hi] = grid.losses(params, lo, hi)
                while (row + 1) * n <= start + hi:
                    yield row, out[row * n : (row + 1) * n].to(torch.float64).numpy()
                    row += 1


def vmap_loss_rows(
    plane: LossPlane, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[tuple[int, np.ndarray]]:
    """:func:`loss_rows` for any model: ``torch.func.vmap`` over ``functional_call`` (one
    network at a time where vmap cannot batch an op), several rows per ``chunk_bytes``."""
    model, x, y, xs, ys, loss_fn = plane.model, plane.x, plane.y, plane.xs, plane.ys, plane.loss_fn
    theta, t1, t2 = plane.vectors()
    names = _shapes(model)
    model.eval()
    xs_t = torch.as_tensor(np.asarray(xs), dtype=torch.float32)
    n = len(xs_t)
    per_point = 4 * (theta.numel() + 3 * len(x) * _widest(model, x))
    rows_per_chunk = max(1, min(len(ys), chunk_bytes // max(1, per_point * n)))
    rows_per_chunk = min(rows_per_chunk, max(1, math.ceil(len(ys) / 20)))  # ≥ ~20 progress steps

    def one(flat: torch.Tensor) -> torch.Tensor:
        params = {}
        offset = 0
        for name, shape in names:
            size = math.prod(shape)
            params[name] = flat[offset : offset + size].reshape(shape)
            offset += size
        return loss_fn(torch.func.functional_call(model, params, (x,)), y)

    batched = torch.func.vmap(one)
    with torch.no_grad():
        for j0 in range(0, len(ys), rows_per_chunk):
            b = torch.as_tensor(np.asarray(ys[j0 : j0 + rows_per_chunk]), dtype=torch.float32)
            a_grid = xs_t.repeat(len(b))  # (r·n,)
            b_grid = b.repeat_interleave(n)
            flats = theta + a_grid[:, None] * t1 + b_grid[:, None] * t2
            try:
                values = batched(flats)
            except (RuntimeError, NotImplementedError):  # an op vmap cannot batch: one by one
                values = torch.stack([one(f) for f in flats])
            block = values.to(torch.float64).numpy().reshape(len(b), n)
            for k in range(len(b)):
                yield j0 + k, block[k]


def loss_grid(
    plane: LossPlane,
    report: Report | None = None,
    cancelled: Cancelled | None = None,
    threads: int | None = 1,
) -> np.ndarray | None:
    """The whole grid ``(len(ys), len(xs))``; None if ``cancelled()`` became true."""
    ys = plane.ys
    out = np.full((len(ys), len(plane.xs)), np.nan)
    with torch_threads(threads):
        rows = loss_rows(plane)
        try:
            for j, row in rows:
                out[j] = row
                if report is not None:
                    report((j + 1) / len(ys), f"row {j + 1} of {len(ys)}")
                if cancelled is not None and cancelled():
                    return None
        finally:
            rows.close()
    return out


# --------------------------------------------------------------------------------------------
# From a training snapshot
# --------------------------------------------------------------------------------------------


def _seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise GdsimError(f"seed must be a whole number, got {seed!r}")
    if not 0 <= int(seed) < 2**63:
        raise GdsimError(f"seed must be between 0 and 2**63-1, got {seed}")
    return int(seed)


def check_grid(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise GdsimError(f"grid size must be a whole number, got {n!r}")
    if not MIN_GRID <= n <= MAX_GRID:
        raise GdsimError(f"grid size must be between {MIN_GRID} and {MAX_GRID}, got {n}")
    return int(n)


def check_span(span: object) -> float | None:
    """``None`` (automatic) or a finite positive half-width of the grid."""
    if span is None:
        return None
    if isinstance(span, bool) or not isinstance(span, (int, float, np.floating, np.integer)):
        raise GdsimError(f"range must be a number, got {span!r}")
    value = float(span)
    if not math.isfinite(value) or not 0 < value <= MAX_SPAN:
        raise GdsimError(f"range must be greater than 0 and at most {MAX_SPAN:g}, got {span}")
    return value


def model_for(snapshot: WeightsSnapshot) -> nn.Module:
    """A fresh copy of the snapshot's network with its weights (never the one training)."""
    config = snapshot.config
    model = build_mlp(config.hidden, config.activation, snapshot.data.n_classes, config.seed)
    weights = _flat(snapshot.weights)
    _check_size(model, weights, "the weights")
    torch.nn.utils.vector_to_parameters(
        torch.from_numpy(weights.astype(np.float32)), model.parameters()
    )
    model.eval()
    return model


def training_points(snapshot: WeightsSnapshot, limit: int = MAX_POINTS) -> tuple:
    """(x, y) tensors the loss is measured on: the training split (a fixed subset beyond
    ``limit``, evenly spaced, so the same run always gives the same slice)."""
    x, y, _xv, _yv = snapshot.data.tensors()
    if len(x) > limit:
        idx = torch.from_numpy(np.linspace(0, len(x) - 1, limit).round().astype(np.int64))
        x, y = x[idx], y[idx]
    return x, y


def path_of(snapshot: WeightsSnapshot) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The trajectory with the current weights appended when they are newer than its end."""
    traj = np.asarray(snapshot.trajectory, np.float32)
    steps = np.asarray(snapshot.trajectory_steps, np.int64)
    epochs = np.asarray(snapshot.trajectory_epochs, np.int64)
    if traj.size == 0:
        traj = traj.reshape(0, snapshot.weights.size)
    if len(steps) == 0 or steps[-1] != snapshot.steps:
        traj = np.vstack([traj, snapshot.weights[None, :].astype(np.float32)])
        steps = np.append(steps, snapshot.steps)
        epochs = np.append(epochs, snapshot.epoch)
    return traj, steps, epochs


def compute_landscape(
    snapshot: WeightsSnapshot,
    directions: str = "random",
    n: int = 41,
    span: float | None = None,
    seed: int = 0,
    report: Report | None = None,
    cancelled: Cancelled | None = None,
    biases: str = "zero",
    threads: int | None = 1,
) -> LandscapeSlice | None:
    """The loss landscape around ``snapshot``'s weights; None if cancelled.

    ``span=None`` picks the range: ±1 for random directions, the projected path's extent (×1.25)
    for PCA. Raises GdsimError (one line) for bad input, a diverged run, or PCA without enough
    snapshots. Signature matches ``app.tasks.BackgroundTask`` after its two callables.
    """
    key = str(directions).strip().lower()
    if key not in DIRECTIONS:
        raise GdsimError(f"directions must be one of {', '.join(DIRECTIONS)}, got {directions!r}")
    n = check_grid(n)
    span = check_span(span)
    seed = _seed(seed)
    theta = _flat(snapshot.weights)
    model = model_for(snapshot)
    traj, steps, epochs = path_of(snapshot)
    if report is not None:
        report(0.0, "choosing directions")
    with torch_threads(threads):
        if key == "pca":
            dirs = pca_directions(traj, theta, seed)
        else:
            dirs = random_directions(model, theta, seed, biases)
        path = project(traj, theta, dirs.d1, dirs.d2)
    if span is None:
        if key == "pca":
            extent = float(np.abs(path).max()) if path.size else 0.0
            span = extent * PCA_MARGIN if extent > 0 else DEFAULT_RANDOM_SPAN
        else:
            span = DEFAULT_RANDOM_SPAN
    xs = _grid_values(n, span)
    ys = _grid_values(n, span)
    x, y = training_points(snapshot)
    if cancelled is not None and cancelled():
        return None
    with torch.no_grad(), torch_threads(threads):
        centre = float(F.cross_entropy(model(x), y))
    t0 = time.perf_counter()
    plane = LossPlane(model, theta, dirs.d1, dirs.d2, x, y, xs, ys, F.cross_entropy)
    grid = loss_grid(plane, report, cancelled, threads)
    if grid is None:
        return None
    return LandscapeSlice(
        kind=key,
        xs=xs,
        ys=ys,
        loss=grid,
        centre_loss=centre,
        path=path,
        path_steps=steps,
        path_epochs=epochs,
        explained=dirs.explained,
        span=float(span),
        seed=seed if key == "random" else None,
        lane=snapshot.lane,
        lane_name=snapshot.lane_name,
        steps=snapshot.steps,
        epoch=snapshot.epoch,
        points=len(x),
        seconds=time.perf_counter() - t0,
    )
