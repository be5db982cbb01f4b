"""numrnn.optim.SGD against torch.optim.SGD in float64, step for step.

Tolerances: both sides evaluate the same operations in the same order; they can
differ only where torch's CPU kernels fuse a multiply-add (one rounding instead
of two), i.e. by about one ulp (1.1e-16 relative) per operation.  Measured
errors after 35 steps are below 1e-15; we assert 1e-10 relative to each
tensor's magnitude, far above rounding yet far below any wrong formula (a
missing dampening or momentum term changes parameters at 1e-3 and more).
float32 runs get 1e-5 (about 80 float32 ulps over 35 steps).
"""

import itertools

import numpy as np
import pytest
from optim_parity import (
    assert_float32_matches_torch,
    assert_matches_torch,
    assert_torch_tensors_match_numpy,
    config_id,
    lstm_params,
)

import numrnn
from numrnn.optim import SGD

CONFIGS = [
    dict(lr=0.05, momentum=m, dampening=d, nesterov=n, weight_decay=wd, maximize=mx)
    for m, d, n, wd, mx in itertools.product(
        [0, 0.9], [0, 0.3], [False, True], [0, 0.01], [False, True]
    )
    if not (n and (m == 0 or d != 0))
]


@pytest.mark.parametrize("kwargs", CONFIGS, ids=config_id)
def test_matches_torch_float64(torch, kwargs):
    assert_matches_torch(SGD, torch.optim.SGD, kwargs, seed=1)


def test_float32_stays_float32_and_matches(torch):
    assert_float32_matches_torch(
        SGD,
        torch.optim.SGD,
        dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
        state_keys=["momentum_buffer"],
    )


def test_param_groups_with_their_own_hyperparameters(torch):
    groups = [([0, 1], dict(lr=0.1, momentum=0.5)), ([2, 3], dict(weight_decay=0.1))]
    pair = assert_matches_torch(
        SGD, torch.optim.SGD, dict(lr=0.01, momentum=0.9), groups=groups, seed=2, steps=30
    )
    assert pair.opt.param_groups[0]["lr"] == 0.1 and pair.opt.param_groups[1]["lr"] == 0.01


def test_first_momentum_buffer_is_the_gradient_without_dampening():
    (p,) = lstm_params()[:1]
    p0 = p.data.copy()
    g = np.random.default_rng(3).standard_normal(p.shape)
    p.grad[...] = g
    opt = SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    opt.step()
    np.testing.assert_array_equal(opt.state[p]["momentum_buffer"], g)
    np.testing.assert_array_equal(p.data, p0 - 0.1 * g)
    p.grad[...] = g
    opt.step()  # second step: b = 0.9 g + 0.5 g
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], 1.4 * g, rtol=1e-15)


def test_no_state_without_momentum():
    params = lstm_params()
    opt = SGD(params, lr=0.1)
    opt.step()
    assert opt.state_dict()["state"] == {}


def test_update_is_in_place():
    params = lstm_params()
    before = [p.data for p in params]
    for p in params:
        p.grad[...] = 1.0
    SGD(params, lr=0.1, momentum=0.9).step()
    assert all(p.data is b for p, b in zip(params, before))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr=-0.1), "lr"),
        (dict(lr=0.1, momentum=-0.5), "momentum"),
        (dict(lr=0.1, weight_decay=-1e-4), "weight_decay"),
        (dict(lr=0.1, nesterov=True), "nesterov"),
        (dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
        (dict(lr=float("nan")), "lr"),
        (dict(lr="0.1"), "lr"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SGD(lstm_params(), **kwargs)


def test_bad_group_hyperparameter_raises():
    params = lstm_params()
    with pytest.raises(ValueError, match="momentum"):
        SGD([{"params": params[:2]}, {"params": params[2:], "momentum": -1}], lr=0.1)


def test_torch_tensor_parameters_match_numpy(torch):
    opt, params = assert_torch_tensors_match_numpy(
        torch, lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)
    )
    assert isinstance(opt.state[params[0]]["momentum_buffer"], torch.Tensor)


def test_exported_at_top_level():
    assert numrnn.optim.SGD is SGD
