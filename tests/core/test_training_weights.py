"""flat_weights: every parameter in order, as a float32 copy the model no longer touches."""

from __future__ import annotations

import numpy as np
import torch

from core.engine.training import build_mlp, flat_weights


def _expected(model: torch.nn.Module) -> np.ndarray:
    return np.concatenate([p.detach().double().numpy().ravel() for p in model.parameters()])


def test_float32_model_gives_its_parameters_in_order_as_a_copy():
    model = build_mlp((5, 3), "relu", 2, seed=1)
    flat = flat_weights(model)
    assert flat.dtype == np.float32 and flat.flags.owndata
    np.testing.assert_array_equal(flat, _expected(model))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    assert not np.array_equal(flat, _expected(model))  # the copy stayed as it was


def test_float64_model_is_given_as_float32_too():
    model = build_mlp((4,), "tanh", 3, seed=2).double()
    flat = flat_weights(model)
    assert flat.dtype == np.float32
    np.testing.assert_array_equal(flat, _expected(model).astype(np.float32))
