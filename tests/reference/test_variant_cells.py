"""The variant step pairs on their own: one step, central differences in float64.

numrnn/reference/lstm_peephole.py, lstm_layernorm.py (with its layer-norm pair) and
variational.py; the sequences, layers and torch parity are in tests/nn/.
"""

import numpy as np
import pytest
from tests_fd import numeric_grad

from numrnn.reference import lstm_cell
from numrnn.reference.lstm_layernorm import (
    layer_norm_backward,
    layer_norm_forward,
    lstm_layernorm_cell,
)
from numrnn.reference.lstm_peephole import lstm_peephole_cell
from numrnn.reference.variational import MASK_H, MASK_X, variational_cell

B, D, H = 3, 4, 5
EPS = 1e-6
# float64 central differences, eps = 1e-6: truncation ~1e-12 and rounding ~1e-10 of an
# O(1) scalar; normwise against the largest gradient entry, 1e-7 leaves room, while a
# missing term of the backward is an O(1e-2..1) error
TOL = 1e-7


def _params(cell, rng, bias=True):
    p = {}
    for w in cell.weights:
        if bias or not w.bias:
            p[w.name] = rng.uniform(-0.8, 0.8, w.shape(D, H))
    return p


def _check_step(cell, params, extra=None):
    """FD of L = sum(h * wh) + sum(c * wc) w.r.t. x, h_prev, c_prev and every parameter."""
    rng = np.random.default_rng(1)
    x, h, c = rng.standard_normal((B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    wh, wc = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    full = dict(params, **(extra or {}))

    def loss():
        (h1, c1), _ = cell.step_forward(x, (h, c), full)
        return float(np.sum(h1 * wh) + np.sum(c1 * wc))

    _, cache = cell.step_forward(x, (h, c), full)
    dx, (dh, dc), grads = cell.step_backward((wh, wc), cache)
    assert set(grads) == set(params)  # one gradient per parameter, none for the masks
    pairs = [(x, dx), (h, dh), (c, dc)] + [(params[k], grads[k]) for k in params]
    for arr, grad in pairs:
        num = numeric_grad(loss, arr, EPS)
        assert np.max(np.abs(num - grad)) / np.max(np.abs(num)) < TOL


@pytest.mark.parametrize("cell", [lstm_peephole_cell, lstm_layernorm_cell])
@pytest.mark.parametrize("bias", [True, False])
def test_variant_steps(cell, bias):
    _check_step(cell, _params(cell, np.random.default_rng(0), bias))


@pytest.mark.parametrize("inner", [lstm_cell, lstm_peephole_cell])
def test_variational_step_with_masks(inner):
    rng = np.random.default_rng(2)
    masks = {
        MASK_X: (rng.random((B, D)) > 0.5) / 0.5,
        MASK_H: (rng.random((B, H)) > 0.5) / 0.5,
    }
    _check_step(variational_cell(inner), _params(inner, rng), masks)


def test_layer_norm_pair():
    rng = np.random.default_rng(3)
    v, g, b = rng.standard_normal((B, 7)), rng.standard_normal(7), rng.standard_normal(7)
    y, cache = layer_norm_forward(v, g, b)
    z = (v - v.mean(1, keepdims=True)) / np.sqrt(v.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, g * z + b, rtol=1e-13, atol=1e-14)  # the definition
    w = rng.standard_normal((B, 7))
    dv, dg, db = layer_norm_backward(w, cache)
    for arr, grad in ((v, dv), (g, dg), (b, db)):
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + EPS
            up = np.sum(layer_norm_forward(v, g, b)[0] * w)
            arr[idx] = old - EPS
            down = np.sum(layer_norm_forward(v, g, b)[0] * w)
            arr[idx] = old
            num[idx] = (up - down) / (2 * EPS)
        assert np.max(np.abs(num - grad)) / np.max(np.abs(num)) < TOL
