"""numrnn.optim.RMSprop against torch.optim.RMSprop in float64, step for step.

Tolerances as in test_sgd.py: same operations in torch's order (square average
by ``mul`` then ``addcmul``, the centred mean by ``lerp``, ``eps`` added after the
square root); measured below 1e-15 after 35 steps, asserted at 1e-10 (1e-5 in float32).
"""

import itertools

import numpy as np
import pytest
from optim_parity import Pair, lstm_params

from numrnn.optim import RMSprop

RTOL64, RTOL32 = 1e-10, 1e-5

CONFIGS = [
    dict(lr=0.01, alpha=al, momentum=m, centered=c, weight_decay=wd)
    for al, m, c, wd in itertools.product([0.99, 0.3], [0, 0.9], [False, True], [0, 0.1])
]
CONFIGS += [dict(lr=0.01, momentum=0.5, centered=True, maximize=True), dict(eps=1e-2)]


@pytest.mark.parametrize(
    "kwargs", CONFIGS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items())
)
def test_matches_torch_float64(torch, kwargs):
    pair = Pair(RMSprop, torch.optim.RMSprop, kwargs, seed=1)
    pair.step(35)
    assert max(pair.errors()) < RTOL64


def test_float32_stays_float32_and_matches(torch):
    pair = Pair(
        RMSprop,
        torch.optim.RMSprop,
        dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01),
        dtype=np.float32,
    )
    pair.step(35)
    st = pair.opt.state[pair.ours[0]]
    assert all(p.data.dtype == np.float32 for p in pair.ours)
    assert all(st[k].dtype == np.float32 for k in ("square_avg", "grad_avg", "momentum_buffer"))
    assert max(pair.errors()) < RTOL32


def test_param_groups_with_their_own_lr(torch):
    groups = [([0], dict(lr=0.05, centered=True)), ([1, 2, 3], dict(momentum=0.8, alpha=0.9))]
    pair = Pair(RMSprop, torch.optim.RMSprop, dict(lr=0.01), groups=groups, seed=3)
    pair.step(30)
    assert max(pair.errors()) < RTOL64


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
    ref = lstm_params(seed=4)
    tp = lstm_params(seed=4, backend_array=torch.from_numpy)
    opts = [
        RMSprop(ps, lr=0.01, momentum=0.9, centered=True, weight_decay=0.01) for ps in (ref, tp)
    ]
    rng = np.random.default_rng(5)
    for _ in range(10):
        for a, b in zip(ref, tp):
            g = rng.standard_normal(a.shape)
            a.grad[...] = g
            b.grad.copy_(torch.from_numpy(g))
        for opt in opts:
            opt.step()
    for a, b in zip(ref, tp):
        np.testing.assert_allclose(b.data.numpy(), a.data, rtol=1e-12, atol=1e-14)
    assert isinstance(opts[1].state[tp[0]]["grad_avg"], torch.Tensor)
