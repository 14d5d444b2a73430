"""Generated data sets: shapes, classes, seeding, the fixed split, options and one-line errors."""

import numpy as np
import pytest
import torch

from core.engine.datasets import (
    DATASETS,
    dataset_names,
    get_dataset,
    make_dataset,
    parse_dataset_spec,
)
from core.errors import GdsimError


@pytest.mark.parametrize("name", dataset_names())
def test_every_dataset_generates_labelled_float32_points(name):
    data = make_dataset(name, samples=301, seed=3)
    assert data.x.shape == (301, 2) and data.x.dtype == np.float32
    assert data.y.shape == (301,) and data.y.dtype == np.int64
    assert set(np.unique(data.y)) == set(range(data.n_classes))  # every class present
    counts = np.bincount(data.y)
    assert counts.max() - counts.min() <= 1  # balanced
    assert np.isfinite(data.x).all()
    (x0, x1), (y0, y1) = data.bounds
    assert x0 < data.x[:, 0].min() and data.x[:, 0].max() < x1
    assert y0 < data.x[:, 1].min() and data.x[:, 1].max() < y1
    assert np.abs(data.x).max() < 4  # same scale for every data set


@pytest.mark.parametrize("name", dataset_names())
def test_same_seed_same_points_other_seed_other_points(name):
    a, b = make_dataset(name, seed=1), make_dataset(name, seed=1)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert np.array_equal(a.train_idx, b.train_idx)
    c = make_dataset(name, seed=2)
    assert not np.array_equal(a.x, c.x)


def test_split_is_disjoint_complete_and_sized():
    data = make_dataset("moons", samples=1000, val_fraction=0.25, seed=0)
    assert len(data.val_idx) == 250 and len(data.train_idx) == 750
    both = np.concatenate([data.train_idx, data.val_idx])
    assert np.array_equal(np.sort(both), np.arange(1000))
    assert np.array_equal(data.x_val, data.x[data.val_idx])


def test_split_fixed_per_seed_and_independent_of_noise():
    """The split is drawn after the points, whose number of draws does not depend on the noise:
    changing noise keeps it; changing seed changes it."""
    a = make_dataset("circles", noise=0.05, seed=7)
    b = make_dataset("circles", noise=0.3, seed=7)
    assert np.array_equal(a.val_idx, b.val_idx)
    assert not np.array_equal(a.val_idx, make_dataset("circles", seed=8).val_idx)


def test_noise_zero_gives_the_clean_shape():
    data = make_dataset("circles", samples=200, noise=0.0)
    radii = np.linalg.norm(data.x, axis=1)
    assert np.allclose(radii[data.y == 0], 1.0, atol=1e-6)
    assert np.allclose(radii[data.y == 1], 0.5, atol=1e-6)


def test_class_count_options_and_spec_syntax():
    assert make_dataset("spiral", arms=5).n_classes == 5
    assert make_dataset("spiral(arms=4, noise=0.0)").n_classes == 4
    assert make_dataset("blobs(centers=6)", samples=120).n_classes == 6
    # explicit keyword arguments override the spec's
    data = make_dataset("spiral(arms=4, samples=50)", samples=80)
    assert data.n_classes == 4 and len(data.x) == 80
    assert parse_dataset_spec("Moons") == ("moons", {})
    assert parse_dataset_spec("spiral(arms=2)") == ("spiral", {"arms": 2})


def test_tensors_are_float32_int64_copies():
    data = make_dataset("xor", samples=100)
    x_train, y_train, x_val, y_val = data.tensors()
    assert x_train.dtype == torch.float32 and y_train.dtype == torch.int64
    assert len(x_train) + len(x_val) == 100
    x_train[0, 0] = 123.0  # a copy: the generated (read-only) arrays are untouched
    assert data.x.max() < 100


def test_generation_leaves_global_random_state_alone():
    np_state, torch_state = np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    make_dataset("blobs", seed=5)
    assert np.array_equal(np.random.get_state()[1], np_state)
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_registry_entries_describe_themselves():
    for name, info in DATASETS.items():
        assert info.name == name and info.description and "\n" not in info.description
    assert get_dataset("SPIRAL").options[0].name == "arms"


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: make_dataset("swirl"), ["unknown data set 'swirl'", "moons"]),
        (lambda: make_dataset("moons", arms=3), ["no option 'arms'"]),
        (lambda: make_dataset("spiral", arms=1), ["arms must be between 2 and 8"]),
        (lambda: make_dataset("moons", samples=5), ["samples must be between"]),
        (lambda: make_dataset("moons", samples=10.5), ["whole number"]),
        (lambda: make_dataset("moons", noise=-0.1), ["noise must be between"]),
        (lambda: make_dataset("moons", val_fraction=0.95), ["val_fraction"]),
        (lambda: make_dataset("moons", noise="lots"), ["noise must be a number"]),
        (lambda: make_dataset("spiral(arms=)"), ["syntax error"]),
    ],
)
def test_bad_input_is_a_one_line_gdsim_error(call, words):
    with pytest.raises(GdsimError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message
