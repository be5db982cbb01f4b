"""numrnn.optim.Adam / AdamW against torch.optim.Adam / AdamW in float64, step for step.

Tolerances as in test_sgd.py: the operations and their order are torch's (the
first moment as ``lerp``, bias corrections folded into the step size and the
denominator, ``(1 - beta2^t) ** 0.5`` by ``pow``), so the only differences are
fused multiply-adds in torch's kernels, about one ulp per operation; measured
below 1e-15 after 35 steps, asserted at 1e-10 (1e-5 in float32).
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

from numrnn.optim import Adam, AdamW

ADAM = [
    dict(lr=0.01, amsgrad=a, weight_decay=wd, maximize=mx)
    for a, wd, mx in itertools.product([False, True], [0, 0.1], [False, True])
]
ADAM += [
    dict(lr=0.02, betas=(0.3, 0.6), eps=1e-3),  # beta1 < 0.5: torch's other lerp branch
    dict(lr=0.01, betas=(0.0, 0.0)),
]
ADAMW = [
    dict(lr=0.01, amsgrad=a, weight_decay=wd, maximize=mx)
    for a, wd, mx in itertools.product([False, True], [0, 0.1], [False, True])
]
ADAMW += [dict(lr=0.01)]  # default weight_decay=1e-2


@pytest.mark.parametrize("kwargs", ADAM, ids=config_id)
def test_adam_matches_torch_float64(torch, kwargs):
    assert_matches_torch(Adam, torch.optim.Adam, kwargs, seed=1)


@pytest.mark.parametrize("kwargs", ADAMW, ids=config_id)
def test_adamw_matches_torch_float64(torch, kwargs):
    assert_matches_torch(AdamW, torch.optim.AdamW, kwargs, seed=1)


def test_adamw_is_adam_with_decoupled_decay():
    """AdamW's only difference: theta <- theta (1 - lr wd) before an undecayed Adam step."""
    a, b = lstm_params(seed=6), lstm_params(seed=6)
    opt_w = AdamW(a, lr=0.01, weight_decay=0.1)
    opt_a = Adam(b, lr=0.01, weight_decay=0.0)
    rng = np.random.default_rng(7)
    for _ in range(5):
        for p, q in zip(a, b):
            q.grad[...] = p.grad[...] = rng.standard_normal(p.shape)
            q.data[...] = p.data * (1 - 0.01 * 0.1)
        opt_w.step()
        opt_a.step()
        for p, q in zip(a, b):
            np.testing.assert_array_equal(p.data, q.data)
    assert opt_w.param_groups[0]["decoupled_weight_decay"] is True
    assert AdamW(a).param_groups[0]["weight_decay"] == 1e-2


@pytest.mark.parametrize("cls", [Adam, AdamW])
def test_float32_stays_float32_and_matches(torch, cls):
    pair = assert_float32_matches_torch(
        cls,
        getattr(torch.optim, cls.__name__),
        dict(lr=0.01, amsgrad=True, weight_decay=0.05),
        state_keys=["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
    )
    st = pair.opt.state[pair.ours[1]]
    assert isinstance(st["step"], int) and st["step"] == 35


def test_param_groups_with_their_own_lr(torch):
    groups = [
        ([0], dict(lr=0.1)),
        ([1, 2], dict(lr=0.003, amsgrad=True)),
        ([3], dict(betas=(0.8, 0.99))),
    ]
    assert_matches_torch(Adam, torch.optim.Adam, dict(lr=0.01), groups=groups, seed=3, steps=30)


@pytest.mark.parametrize("cls", [Adam, AdamW])
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr=-1e-3), "lr"),
        (dict(eps=-1e-8), "eps"),
        (dict(betas=(1.0, 0.999)), r"betas\[0\]"),
        (dict(betas=(-0.1, 0.999)), r"betas\[0\]"),
        (dict(betas=(0.9, 1.0)), r"betas\[1\]"),
        (dict(betas=(0.9,)), "betas"),
        (dict(weight_decay=-0.1), "weight_decay"),
    ],
)
def test_bad_hyperparameters_raise(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(lstm_params(), **kwargs)


def test_torch_tensor_parameters_match_numpy(torch):
    opt, params = assert_torch_tensors_match_numpy(
        torch, lambda ps: AdamW(ps, lr=0.01, amsgrad=True, maximize=True)
    )
    assert isinstance(opt.state[params[0]]["exp_avg"], torch.Tensor)
