"""numrnn.optim.RMSprop against torch.optim.RMSprop in float64, step for step.

Tolerances as in test_sgd.py: same operations in torch's order (square average
by ``mul`` then ``addcmul``, the centred mean by ``lerp``, ``eps`` added after the
square root); measured below 1e-15 after 35 steps, asserted at 1e-10 (1e-5 in float32).
"""

import itertools

import pytest
from optim_parity import (
    assert_float32_matches_torch,
    assert_matches_torch,
    assert_torch_tensors_match_numpy,
    config_id,
    lstm_params,
)

from numrnn.optim import RMSprop

CONFIGS = [
    dict(lr=0.01, alpha=al, momentum=m, centered=c, weight_decay=wd)
    for al, m, c, wd in itertools.product([0.99, 0.3], [0, 0.9], [False, True], [0, 0.1])
]
CONFIGS += [dict(lr=0.01, momentum=0.5, centered=True, maximize=True), dict(eps=1e-2)]


@pytest.mark.parametrize("kwargs", CONFIGS, ids=config_id)
def test_matches_torch_float64(torch, kwargs):
    assert_matches_torch(RMSprop, torch.optim.RMSprop, kwargs, seed=1)


def test_float32_stays_float32_and_matches(torch):
    assert_float32_matches_torch(
        RMSprop,
        torch.optim.RMSprop,
        dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01),
        state_keys=["square_avg", "grad_avg", "momentum_buffer"],
    )


def test_param_groups_with_their_own_lr(torch):
    groups = [([0], dict(lr=0.05, centered=True)), ([1, 2, 3], dict(momentum=0.8, alpha=0.9))]
    assert_matches_torch(
        RMSprop, torch.optim.RMSprop, dict(lr=0.01), groups=groups, seed=3, steps=30
    )


def test_state_entries_follow_the_options():
    params = lstm_params()
    for p in params:
        p.grad[...] = 1.0
    for kwargs, keys in [
        ({}, {"step", "square_avg"}),
        (dict(momentum=0.9), {"step", "square_avg", "momentum_buffer"}),
        (dict(centered=True), {"step", "square_avg", "grad_avg"}),
    ]:
        opt = RMSprop(params, **kwargs)
        opt.step()
        assert set(opt.state[params[0]]) == keys


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr=-0.1), "lr"),
        (dict(alpha=-0.5), "alpha"),
        (dict(eps=-1e-8), "eps"),
        (dict(weight_decay=-0.1), "weight_decay"),
        (dict(momentum=-0.9), "momentum"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RMSprop(lstm_params(), **kwargs)


def test_torch_tensor_parameters_match_numpy(torch):
    opt, params = assert_torch_tensors_match_numpy(
        torch, lambda ps: RMSprop(ps, lr=0.01, momentum=0.9, centered=True, weight_decay=0.01)
    )
    assert isinstance(opt.state[params[0]]["grad_avg"], torch.Tensor)
