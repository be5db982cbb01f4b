"""numrnn.optim.Adagrad against torch.optim.Adagrad in float64, step for step.

Tolerances as in test_sgd.py: same operations in torch's order
(``clr = lr / (1 + (t - 1) lr_decay)``, ``sum += g*g``, ``theta += (-clr g) / (sqrt(sum) + eps)``);
measured below 1e-15 after 35 steps, asserted at 1e-10 (1e-5 in float32).
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

from numrnn.optim import Adagrad

CONFIGS = [
    dict(lr=0.1, lr_decay=ld, initial_accumulator_value=ia, weight_decay=wd, maximize=mx)
    for ld, ia, wd, mx in itertools.product([0, 0.1], [0, 0.5], [0, 0.1], [False, True])
]
CONFIGS += [dict(eps=1e-3)]


@pytest.mark.parametrize("kwargs", CONFIGS, ids=config_id)
def test_matches_torch_float64(torch, kwargs):
    assert_matches_torch(Adagrad, torch.optim.Adagrad, kwargs, seed=1)


def test_float32_stays_float32_and_matches(torch):
    assert_float32_matches_torch(
        Adagrad,
        torch.optim.Adagrad,
        dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1),
        state_keys=["sum"],
    )


def test_param_groups_with_their_own_lr(torch):
    groups = [([0, 3], dict(lr=0.5, lr_decay=0.05)), ([1, 2], dict(weight_decay=0.1))]
    assert_matches_torch(
        Adagrad,
        torch.optim.Adagrad,
        dict(lr=0.1, initial_accumulator_value=0.3),
        groups=groups,
        seed=3,
        steps=30,
    )


def test_group_initial_accumulator_value_is_honoured():
    """A deliberate difference from torch, which fills every group's accumulator
    with the constructor's initial_accumulator_value and ignores the group's."""
    params = lstm_params()
    opt = Adagrad(
        [{"params": params[:2]}, {"params": params[2:], "initial_accumulator_value": 2.0}],
        initial_accumulator_value=0.5,
    )
    assert float(opt.state[params[0]]["sum"].max()) == 0.5
    assert float(opt.state[params[3]]["sum"].min()) == 2.0


def test_accumulator_starts_at_initial_value_before_any_step():
    params = lstm_params()
    opt = Adagrad(params, initial_accumulator_value=0.25)
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1, 2, 3]
    assert sd["state"][0]["step"] == 0
    np.testing.assert_array_equal(sd["state"][0]["sum"], np.full(params[0].shape, 0.25))


def test_learning_rate_decay_formula():
    """One coordinate by hand: clr_t = lr / (1 + (t-1) lr_decay), sum_t = t g^2."""
    from numrnn import Parameter

    p = Parameter(np.zeros(1))
    opt = Adagrad([p], lr=1.0, lr_decay=0.5, eps=0.0)
    expected = 0.0
    for t in range(1, 5):
        p.grad[...] = 2.0
        opt.step()
        expected -= (1.0 / (1 + (t - 1) * 0.5)) * 2.0 / np.sqrt(4.0 * t)
        np.testing.assert_allclose(p.data, [expected], rtol=1e-15)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr=-0.1), "lr"),
        (dict(lr_decay=-0.1), "lr_decay"),
        (dict(weight_decay=-0.1), "weight_decay"),
        (dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
        (dict(eps=-1e-10), "eps"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Adagrad(lstm_params(), **kwargs)


def test_torch_tensor_parameters_match_numpy(torch):
    opt, params = assert_torch_tensors_match_numpy(
        torch,
        lambda ps: Adagrad(
            ps, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.01
        ),
    )
    assert isinstance(opt.state[params[0]]["sum"], torch.Tensor)
