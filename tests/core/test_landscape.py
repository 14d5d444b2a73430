"""The network's loss landscape: slices checked against hand computations, directions against
their definitions (filter norms, orthonormal PCA), the engine's weight trajectory and snapshot."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from core.engine.training import TrainConfig, TrainingEngine, WeightTrajectory, flat_weights
from core.errors import GdsimError
from core.teach.landscape import (
    LossPlane,
    compute_landscape,
    filter_normalized,
    loss_grid,
    loss_rows,
    model_for,
    pca_directions,
    project,
    random_directions,
    training_points,
    vmap_loss_rows,
)


def tiny(**changes) -> TrainConfig:
    base = dict(samples=120, epochs=4, batch_size=16, hidden=(6,), device="cpu", patience=None)
    base.update(changes)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def trained():
    """A tiny run trained 3 epochs (and a bit): engine and a snapshot of lane 0."""
    engine = TrainingEngine(tiny())
    engine.step(engine.batches_per_epoch * 3 + 2)
    return engine, engine.weights_snapshot(0)


# -- the slice against a hand computation ------------------------------------------------------


def test_linear_model_slice_matches_the_mse_computed_by_hand() -> None:
    # f(x) = w·x + c, loss = mean((f(x) − y)²): the loss at θ + a·d1 + b·d2 in closed form
    model = nn.Linear(1, 1)
    x = torch.tensor([[-1.0], [0.5], [2.0], [3.0]])
    y = torch.tensor([[1.0], [0.0], [-2.0], [4.0]])
    theta = np.array([0.7, -0.2], np.float32)  # (weight, bias) in parameters() order
    d1 = np.array([1.0, 0.5], np.float32)
    d2 = np.array([-0.3, 1.0], np.float32)
    xs = np.linspace(-2, 2, 5)
    ys = np.linspace(-1, 3, 4)
    grid = loss_grid(LossPlane(model, theta, d1, d2, x, y, xs, ys, F.mse_loss))
    xv, yv = x.numpy().ravel(), y.numpy().ravel()
    expected = np.empty((len(ys), len(xs)))
    for j, b in enumerate(ys):
        for i, a in enumerate(xs):
            w, c = theta + a * d1 + b * d2
            expected[j, i] = np.mean((w * xv + c - yv) ** 2)
    np.testing.assert_allclose(grid, expected, rtol=1e-5)


def test_slice_centre_is_the_trained_networks_own_loss(trained) -> None:
    engine, snap = trained
    lane = engine.lanes[0]
    x, y = training_points(snap)
    with torch.no_grad():
        own = float(F.cross_entropy(lane.model(x), y))
    result = compute_landscape(snap, "random", n=5, span=0.5)
    assert result.centre_loss == pytest.approx(own, rel=1e-6)
    assert result.loss[2, 2] == pytest.approx(own, rel=1e-4)  # the grid's middle is θ itself
    assert result.loss.shape == (5, 5) and np.isfinite(result.loss).all()
    assert result.loss.max() > own  # moving away from trained weights costs something
    assert result.points == len(snap.data.train_idx)
    assert lane.model.training  # the engine's model was not touched (not even put in eval)


def _rows(rows) -> np.ndarray:
    return np.stack([row for _j, row in rows])


def _soft_targets(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A loss with no batched form (it runs under vmap on the batched path)."""
    return (out.softmax(dim=1)[:, 0] - y.float()).abs().mean()


@pytest.mark.parametrize(
    ("layers", "loss_fn"),
    [
        ((nn.Linear(2, 3),), F.cross_entropy),  # no hidden layer: a linear model
        ((nn.Linear(2, 9), nn.ReLU(), nn.Linear(9, 3)), F.cross_entropy),
        (
            (nn.Linear(2, 7), nn.Tanh(), nn.Linear(7, 5), nn.GELU(), nn.Linear(5, 2)),
            F.cross_entropy,
        ),
        ((nn.Linear(2, 6, bias=False), nn.SiLU(), nn.Linear(6, 2)), F.cross_entropy),
        (
            (nn.Linear(2, 4), nn.ELU(), nn.Linear(4, 4), nn.Sigmoid(), nn.Linear(4, 2)),
            _soft_targets,
        ),
        ((nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 2)), _soft_targets),
    ],
)
@pytest.mark.parametrize("chunk_bytes", [1, 5_000, None])  # one network a chunk .. the default
def test_batched_mlp_slice_equals_the_vmap_one(layers, loss_fn, chunk_bytes) -> None:
    # the cache-sized baddbmm path computes the same numbers as vmap over functional_call
    torch.manual_seed(0)
    model = nn.Sequential(*layers)
    theta = flat_weights(model)
    gen = torch.Generator().manual_seed(2)
    d1, d2 = (torch.randn(theta.size, generator=gen).numpy() for _ in range(2))
    x = torch.randn(37, 2, generator=gen)
    y = torch.randint(0, 2, (37,), generator=gen)
    xs, ys = np.linspace(-1.5, 1.5, 7), np.linspace(-1, 2, 5)
    plane = LossPlane(model, theta, d1, d2, x, y, xs, ys, loss_fn)
    fast = _rows(loss_rows(plane, chunk_bytes))
    slow = _rows(vmap_loss_rows(plane))
    assert fast.shape == (5, 7)
    np.testing.assert_allclose(fast, slow, rtol=2e-6, atol=1e-7)


# -- directions ---------------------------------------------------------------------------


def test_filter_normalisation_gives_each_row_its_weight_rows_norm() -> None:
    model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
    theta = flat_weights(model)
    d = filter_normalized(model, theta, torch.Generator().manual_seed(1))
    offset = 0
    for p in model.parameters():
        n = p.numel()
        part = d[offset : offset + n].reshape(p.shape)
        w = p.detach().numpy()
        if p.dim() == 2:
            np.testing.assert_allclose(
                np.linalg.norm(part, axis=1), np.linalg.norm(w, axis=1), rtol=1e-5
            )
            assert not np.allclose(part, w)  # a random direction, not the weights
        else:
            assert not part.any()  # biases: zero direction (the paper's figures)
        offset += n
    copied = filter_normalized(model, theta, torch.Generator().manual_seed(1), biases="copy")
    np.testing.assert_allclose(copied[15:20], model[0].bias.detach().numpy(), rtol=1e-6)
    with pytest.raises(GdsimError, match="biases must be"):
        filter_normalized(model, theta, torch.Generator(), biases="noise")


def test_random_directions_are_deterministic_with_a_seed(trained) -> None:
    _engine, snap = trained
    model = model_for(snap)
    a = random_directions(model, snap.weights, seed=3)
    b = random_directions(model, snap.weights, seed=3)
    c = random_directions(model, snap.weights, seed=4)
    np.testing.assert_array_equal(a.d1, b.d1)
    np.testing.assert_array_equal(a.d2, b.d2)
    assert not np.allclose(a.d1, c.d1)
    assert not np.allclose(a.d1, a.d2)
    one = compute_landscape(snap, "random", n=4, seed=3)
    two = compute_landscape(snap, "random", n=4, seed=3)
    other = compute_landscape(snap, "random", n=4, seed=4)
    np.testing.assert_array_equal(one.loss, two.loss)
    np.testing.assert_array_equal(one.path, two.path)
    assert not np.allclose(one.loss, other.loss)


def test_pca_of_a_straight_path_finds_its_line_and_orthonormal_axes() -> None:
    rng = np.random.default_rng(0)
    end = rng.standard_normal(40)
    v = rng.standard_normal(40)
    t = np.linspace(0, 1, 9)
    traj = end + np.outer(1 - t, v)  # a straight line from end + v to end
    dirs = pca_directions(traj, end)
    d1, d2 = dirs.d1.astype(np.float64), dirs.d2.astype(np.float64)
    assert np.linalg.norm(d1) == pytest.approx(1, abs=1e-6)
    assert np.linalg.norm(d2) == pytest.approx(1, abs=1e-6)
    assert abs(d1 @ d2) < 1e-6
    assert abs(d1 @ v) / np.linalg.norm(v) == pytest.approx(1, abs=1e-6)  # along the path
    assert dirs.explained[0] == pytest.approx(1, abs=1e-9)
    path = project(traj, end, d1, d2)
    np.testing.assert_allclose(path[:, 1], 0, atol=1e-5)
    np.testing.assert_allclose(path[:, 0], -(1 - t) * np.linalg.norm(v), rtol=1e-5, atol=1e-6)


def test_pca_of_a_planar_path_keeps_its_shape_and_orders_the_variance() -> None:
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((30, 2)))
    u, w = q[:, 0], q[:, 1]
    centre = rng.standard_normal(30)
    s = np.linspace(-3, 0, 12)
    traj = centre + np.outer(s, u) + np.outer(0.3 * np.sin(3 * s), w)  # wide in u, narrow in w
    dirs = pca_directions(traj, centre)
    path = project(traj, centre, dirs.d1, dirs.d2)
    # an exact plane: projected distances equal distances in weight space
    orig = np.linalg.norm(traj[:, None] - traj[None], axis=-1)
    proj = np.linalg.norm(path[:, None] - path[None], axis=-1)
    np.testing.assert_allclose(proj, orig, atol=1e-4)
    assert dirs.explained[0] > dirs.explained[1] > 0
    assert sum(dirs.explained) == pytest.approx(1, abs=1e-6)
    assert (path[0] <= 0).all()  # sign convention: the path comes in from the lower left


def test_random_projection_is_least_squares() -> None:
    d1 = np.array([1.0, 1.0, 0.0])
    d2 = np.array([0.0, 1.0, 1.0])  # not orthogonal
    centre = np.array([1.0, 2.0, 3.0])
    on_plane = centre + 2 * d1 - 0.5 * d2
    off = on_plane + 0.7 * np.cross(d1, d2)  # plus a normal component
    np.testing.assert_allclose(project(np.stack([on_plane, off]), centre, d1, d2), [[2, -0.5]] * 2)
    with pytest.raises(GdsimError, match="parallel"):
        project(on_plane, centre, d1, 2 * d1)


def test_pca_landscape_of_a_training_run_contains_its_path(trained) -> None:
    engine, snap = trained
    bpe = engine.batches_per_epoch
    result = compute_landscape(snap, "pca", n=7)
    assert result.kind == "pca" and result.explained[0] > 0.5
    assert len(result.path) == 5  # start, 3 epoch ends, and the current weights (2 batches on)
    assert list(result.path_steps) == [0, bpe, 2 * bpe, 3 * bpe, 3 * bpe + 2]
    np.testing.assert_allclose(result.path[-1], [0, 0], atol=1e-5)  # the slice is around θ now
    assert np.abs(result.path).max() <= result.span  # the automatic range fits the path
    assert result.xs[0] == -result.span and result.ys[-1] == result.span


# -- incremental, cancellable, validated -------------------------------------------------------


def test_progress_is_reported_row_by_row_and_cancel_stops_early(trained) -> None:
    _engine, snap = trained
    reports: list[float] = []
    result = compute_landscape(snap, "random", n=21, report=lambda f, t: reports.append(f))
    assert result is not None and reports[-1] == 1.0 and len(reports) > 5
    assert reports == sorted(reports)

    seen: list[float] = []
    stop = compute_landscape(
        snap, "random", n=21, report=lambda f, t: seen.append(f), cancelled=lambda: len(seen) >= 3
    )
    assert stop is None
    assert 0 < max(seen) < 0.5  # stopped after a few rows, not at the end


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(directions="hessian"), "directions must be one of random, pca"),
        (dict(n=2), "grid size must be between 3 and 201"),
        (dict(n=5.5), "grid size must be a whole number"),
        (dict(span=0.0), "range must be greater than 0"),
        (dict(span=math.inf), "range must be greater than 0"),
        (dict(span="big"), "range must be a number"),
        (dict(seed=-1), "seed must be between"),
    ],
)
def test_bad_settings_are_one_line_errors(trained, kwargs, message) -> None:
    _engine, snap = trained
    with pytest.raises(GdsimError, match=message) as info:
        compute_landscape(snap, **{"n": 5, **kwargs})
    assert "\n" not in str(info.value)


def test_pca_needs_three_snapshots_and_diverged_weights_are_refused() -> None:
    engine = TrainingEngine(tiny())
    engine.step(3)  # inside the first epoch: the start and the current weights only
    snap = engine.weights_snapshot(0)
    with pytest.raises(GdsimError, match="at least 3 different weight snapshots"):
        compute_landscape(snap, "pca", n=5)
    assert compute_landscape(snap, "random", n=3) is not None  # random needs no history
    from dataclasses import replace

    bad = replace(snap, weights=np.full_like(snap.weights, np.nan))
    with pytest.raises(GdsimError, match="not finite"):
        compute_landscape(bad, "random", n=3)


# -- the engine's side: trajectory and snapshot ---------------------------------------------


def test_trajectory_is_bounded_evenly_spaced_and_keeps_first_and_latest() -> None:
    traj = WeightTrajectory(4, limit=10)
    for epoch in range(101):
        traj.add(epoch * 5, epoch, np.full(4, epoch, np.float32))
        assert len(traj) <= 10
    steps, epochs, weights = traj.points()
    assert epochs[0] == 0 and epochs[-1] == 100
    assert weights.shape == (len(epochs), 4) and (weights[:, 0] == epochs).all()
    gaps = np.diff(epochs[:-1])
    assert len(set(gaps.tolist())) == 1  # evenly spaced (the latest may come sooner)
    assert (steps == epochs * 5).all()
    big = WeightTrajectory(50_000_000)  # 200 MB a snapshot: memory bound, still ≥ 3
    assert big.limit == 3


def test_engine_records_weights_at_start_and_epoch_ends_and_serves_copies() -> None:
    engine = TrainingEngine(tiny(optimizers=("SGD(lr=0.1)", "Adam(lr=0.01)")))
    start = flat_weights(engine.lanes[1].model)
    future = engine.request_weights(1)
    assert not future.done()  # served by the driver, between two batches
    engine.step(engine.batches_per_epoch * 2)
    snap = future.result(timeout=1)
    assert snap.lane == 1 and snap.lane_name == "Adam(lr=0.01)" and snap.steps == 0
    np.testing.assert_array_equal(snap.weights, start)
    later = engine.weights_snapshot(1)
    assert list(later.trajectory_epochs) == [0, 1, 2]
    bpe = engine.batches_per_epoch
    assert list(later.trajectory_steps) == [0, bpe, 2 * bpe]
    np.testing.assert_array_equal(later.trajectory[0], start)
    np.testing.assert_array_equal(later.trajectory[-1], later.weights)
    assert later.config is engine.config and later.data is engine.data
    later.weights[:] = 0  # a copy: the engine's model is unaffected
    assert flat_weights(engine.lanes[1].model).any()
    with pytest.raises(GdsimError, match="no lane 2"):
        engine.request_weights(2)
    engine.reset()
    engine.process_commands()
    assert len(engine.weights_snapshot(0).trajectory) == 1  # a reset starts a new path
