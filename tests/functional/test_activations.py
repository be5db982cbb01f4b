"""Activation pairs of numrnn.functional against torch autograd, finite differences and extremes.

Tolerances
----------
* Values and gradients against torch in float64: ``rtol=1e-9``.  Both sides
  evaluate the same closed forms, so they agree to within about 1e-13 relative
  (measured), and a wrong formula is off by O(1).  ``atol=1e-15`` covers two
  places where only absolute accuracy (about 1e-16) is possible: our sigmoid is
  0.5 * tanh(x / 2) + 0.5, not relatively accurate where sigmoid(x) itself is
  tiny (x below about -10), while torch's is; and the derivatives 1 - y**2 and
  y * (1 - y), formed (by torch too) from the cached output, cancel where the
  output saturates.
* Central differences with ``h=1e-6`` in float64: truncation ``h**2 f''' ~ 1e-12``,
  rounding ``eps * |f| / h ~ 2e-16 * 10 / 1e-6 = 2e-9`` for the weighted sums
  (of size ~10) differentiated here, hence ``rtol=1e-6`` with ``atol=1e-8``.
* float32 results against float64 torch: ``rtol=1e-5``, a few float32 roundings
  (eps 6e-8) on values of size ~1.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import numrnn.functional as F

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-9, 1e-15
FD_H, FD_RTOL, FD_ATOL = 1e-6, 1e-6, 1e-8

# name -> (forward, backward, torch function of (tensor, axis))
PAIRS = {
    "sigmoid": (F.sigmoid_forward, F.sigmoid_backward, lambda x, axis: torch.sigmoid(x)),
    "tanh": (F.tanh_forward, F.tanh_backward, lambda x, axis: torch.tanh(x)),
    "relu": (F.relu_forward, F.relu_backward, lambda x, axis: torch.relu(x)),
    "softmax": (F.softmax_forward, F.softmax_backward, lambda x, axis: torch.softmax(x, dim=axis)),
    "log_softmax": (
        F.log_softmax_forward,
        F.log_softmax_backward,
        lambda x, axis: torch.log_softmax(x, dim=axis),
    ),
}
ALONG_AXIS = ("softmax", "log_softmax")
PLAIN = {
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
    "relu": F.relu,
    "softmax": F.softmax,
    "log_softmax": F.log_softmax,
}


def forward(name, x, axis=-1):
    fwd = PAIRS[name][0]
    return fwd(x, axis) if name in ALONG_AXIS else fwd(x)


def torch_value_grad(name, x, dy, axis=-1):
    xt = torch.tensor(x, requires_grad=True)
    y = PAIRS[name][2](xt, axis)
    y.backward(torch.tensor(dy))
    return y.detach().numpy(), xt.grad.numpy()


def sample_input(rng, shape, scale=3.0):
    x = rng.normal(scale=scale, size=shape)
    # keep relu away from its kink, where a difference quotient straddles two slopes
    return np.where(np.abs(x) < 1e-3, 0.5, x)


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


@pytest.mark.parametrize("name", list(PAIRS))
@pytest.mark.parametrize("shape,axis", [((7,), -1), ((4, 6), -1), ((4, 6), 0), ((3, 4, 5), 1)])
def test_values_and_gradients_match_torch(rng, name, shape, axis):
    x = sample_input(rng, shape)
    dy = rng.normal(size=shape)
    y, cache = forward(name, x, axis)
    dx = PAIRS[name][1](dy, cache)[0]
    yt, dxt = torch_value_grad(name, x, dy, axis)
    np.testing.assert_allclose(y, yt, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dx, dxt, rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(PLAIN[name](x, axis) if name in ALONG_AXIS else PLAIN[name](x), y)


@pytest.mark.parametrize("name", list(PAIRS))
@pytest.mark.parametrize("axis", [-1, 0])
def test_gradients_match_finite_differences(rng, name, axis):
    shape = (3, 5)
    x = sample_input(rng, shape, scale=2.0)
    dy = rng.normal(size=shape)
    y, cache = forward(name, x, axis)
    dx = PAIRS[name][1](dy, cache)[0]

    def f(z):  # L = sum(dy * op(z)), so dL/dz is the backward of dy
        return float(np.sum(dy * forward(name, z, axis)[0]))

    num = np.zeros_like(x)
    for i in np.ndindex(*shape):
        zp, zm = x.copy(), x.copy()
        zp[i] += FD_H
        zm[i] -= FD_H
        num[i] = (f(zp) - f(zm)) / (2 * FD_H)
    np.testing.assert_allclose(dx, num, rtol=FD_RTOL, atol=FD_ATOL)


EXTREME = np.array(
    [
        [1e4, -1e4, 0.0, 1.0],
        [-1e4, -1e4, -1e4, -1e4],
        [1e4, 1e4, -1e4, 3.0],
        [-750.0, -100.0, 80.0, -1e4],
    ]
)


@pytest.mark.parametrize("name", list(PAIRS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stable_at_extreme_inputs(rng, name, dtype):
    """|x| = 1e4: no overflow/underflow/invalid signal, nothing infinite or NaN, torch's values."""
    x = EXTREME.astype(dtype)
    dy = rng.normal(size=x.shape).astype(dtype)
    for axis in (-1, 0):
        with np.errstate(all="raise"):
            y, cache = forward(name, x, axis)
            dx = PAIRS[name][1](dy, cache)[0]
        assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
        yt, dxt = torch_value_grad(name, x.astype(np.float64), dy.astype(np.float64), axis)
        # float64 to rtol 1e-9; float32 to its own precision.  atol 1e-30: entries whose true
        # value is below about 1e-31 may come back as exact zeros (see _exp_nonpositive)
        rtol = RTOL if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(y, yt, rtol=rtol, atol=1e-30)
        np.testing.assert_allclose(dx, dxt, rtol=rtol, atol=1e-30)


def test_softmax_tiny_probabilities_become_exact_zeros_without_underflow():
    """exp(-100) is subnormal in float32: it comes back as 0, and no underflow is signalled."""
    x = np.array([0.0, -50.0, -100.0, -200.0], dtype=np.float32)
    with np.errstate(all="raise"):
        p = F.softmax(x)
        lp = F.log_softmax(x)
        (dx,) = F.softmax_backward(np.ones_like(x), (p, -1))
    assert p.dtype == np.float32
    np.testing.assert_allclose(p, [1.0, np.exp(-50.0), 0.0, 0.0], rtol=1e-6, atol=0)
    np.testing.assert_array_equal(lp, x)  # the log-sum-exp term is exactly log(1) = 0
    np.testing.assert_array_equal(dx, 0.0)


@pytest.mark.parametrize("name", list(PAIRS))
def test_backward_does_not_modify_its_arguments(rng, name):
    x = sample_input(rng, (4, 5))
    dy = rng.normal(size=(4, 5))
    x_before = x.copy()
    y, cache = forward(name, x)
    y_before, cache_before, dy_before = y.copy(), copy.deepcopy(cache), dy.copy()
    dx = PAIRS[name][1](dy, cache)[0]
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(y, y_before)
    np.testing.assert_array_equal(dy, dy_before)
    for got, want in zip(
        cache if isinstance(cache, tuple) else (cache,),
        cache_before if isinstance(cache_before, tuple) else (cache_before,),
    ):
        np.testing.assert_array_equal(got, want)
    assert dx is not dy and not np.shares_memory(dx, dy)


@pytest.mark.parametrize("name", list(PAIRS))
def test_float32_stays_float32(rng, name):
    x = sample_input(rng, (3, 6))
    dy = rng.normal(size=(3, 6))
    y, cache = forward(name, x.astype(np.float32))
    dx = PAIRS[name][1](dy.astype(np.float32), cache)[0]
    assert y.dtype == np.float32 and dx.dtype == np.float32
    yt, dxt = torch_value_grad(name, x, dy)
    np.testing.assert_allclose(y, yt, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx, dxt, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(PAIRS))
def test_runs_on_torch_tensors(rng, name):
    """The same code on torch tensors (the torch backend) returns tensors with torch's values."""
    x = sample_input(rng, (3, 5))
    dy = rng.normal(size=(3, 5))
    y, cache = forward(name, torch.tensor(x))
    dx = PAIRS[name][1](torch.tensor(dy), cache)[0]
    assert isinstance(y, torch.Tensor) and isinstance(dx, torch.Tensor)
    yt, dxt = torch_value_grad(name, x, dy)
    np.testing.assert_allclose(y.numpy(), yt, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dx.numpy(), dxt, rtol=RTOL, atol=ATOL)


def test_relu_gradient_at_zero_is_zero():
    """torch's convention: the subgradient at exactly 0 is 0."""
    x = np.array([-1.0, 0.0, 1.0])
    _, cache = F.relu_forward(x)
    np.testing.assert_array_equal(F.relu_backward(np.ones(3), cache)[0], [0.0, 0.0, 1.0])


hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies
hnp = pytest.importorskip("hypothesis.extra.numpy")


# Magnitudes from 1e-6 to 1e4 (and exact zeros).  Subnormal inputs are left out: there
# NumPy signals underflow for operations as harmless as 0.5 * x, which says nothing
# about the stability these functions promise at large magnitudes.
_ELEMENTS = st.one_of(st.just(0.0), st.floats(1e-6, 1e4), st.floats(-1e4, -1e-6))


@hypothesis.settings(max_examples=60, deadline=None)
@hypothesis.given(
    x=hnp.arrays(
        np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), elements=_ELEMENTS
    ),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_softmax_properties_any_magnitude(x, dtype):
    """Rows of softmax sum to 1, log_softmax <= 0 and equals log(softmax) where that is finite."""
    x = x.astype(dtype)
    with np.errstate(all="raise"):
        p = F.softmax(x)
        lp = F.log_softmax(x)
        s = F.sigmoid(x)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert p.dtype == dtype and lp.dtype == dtype
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=tol * x.shape[-1])
    assert np.all(lp <= 0) and np.all(np.isfinite(lp))
    assert np.all((s >= 0) & (s <= 1))
    big = p > 1e-30
    np.testing.assert_allclose(np.log(p[big].astype(np.float64)), lp[big], rtol=tol * 10, atol=tol)
