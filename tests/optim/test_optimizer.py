"""The Optimizer base class: groups, zero_grad, step, state_dict / load_state_dict."""

import copy
import re

import numpy as np
import pytest
from helpers import rel_err
from optim_parity import LSTM_SHAPES, Pair, lstm_params

from numrnn import Parameter
from numrnn.optim import SGD, Adagrad, Adam, AdamW, RMSprop

# Every optimiser with every kind of state switched on.
STATEFUL = [
    (SGD, dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    (SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    (Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    (AdamW, dict(lr=0.01, amsgrad=True)),
    (Adagrad, dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    (RMSprop, dict(lr=0.01, momentum=0.9, centered=True)),
]
IDS = [f"{c.__name__}-{i}" for i, (c, _) in enumerate(STATEFUL)]


def _grads(rng):
    return [rng.standard_normal(s) for s in LSTM_SHAPES]


def _run(opt, params, grads):
    for g in grads:
        for p, gi in zip(params, g):
            p.grad[...] = gi
        opt.step()


def _two_groups(cls, kwargs, params):
    return cls([{"params": params[:2]}, {"params": params[2:], "lr": kwargs["lr"] / 2}], **kwargs)


@pytest.mark.parametrize("cls, kwargs", STATEFUL, ids=IDS)
def test_state_dict_round_trip_mid_run_equals_uninterrupted(cls, kwargs):
    rng = np.random.default_rng(0)
    grads = [_grads(rng) for _ in range(35)]
    a = lstm_params()
    opt_a = _two_groups(cls, kwargs, a)
    _run(opt_a, a, grads[:10])
    saved = opt_a.state_dict()
    b = [Parameter(p.data.copy()) for p in a]
    opt_b = _two_groups(cls, {**kwargs, "lr": 123.0}, b)  # hyperparameters come from the state
    opt_b.load_state_dict(saved)
    assert opt_b.param_groups[1]["lr"] == kwargs["lr"] / 2
    _run(opt_a, a, grads[10:])
    _run(opt_b, b, grads[10:])
    for p, q in zip(a, b):
        np.testing.assert_array_equal(q.data, p.data)


@pytest.mark.parametrize("cls, kwargs", STATEFUL, ids=IDS)
def test_state_dict_layout_and_copies(cls, kwargs):
    params = lstm_params()
    opt = _two_groups(cls, kwargs, params)
    _run(opt, params, [_grads(np.random.default_rng(1))] * 3)
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2, 3]]
    assert sorted(sd["state"]) == [0, 1, 2, 3]
    for i, st in sd["state"].items():
        for k, v in st.items():
            if isinstance(v, np.ndarray):
                assert v.shape == params[i].shape and v.dtype == params[i].data.dtype
            else:
                assert type(v) in (int, float), (k, v)
    before = copy.deepcopy(opt.state_dict())
    for st in sd["state"].values():  # mutating the result must not reach the optimiser
        for v in st.values():
            if isinstance(v, np.ndarray):
                v += 1.0
    sd["param_groups"][0]["lr"] = 99.0
    after = opt.state_dict()
    assert after["param_groups"][0]["lr"] == before["param_groups"][0]["lr"]
    for i in before["state"]:
        for k, v in before["state"][i].items():
            np.testing.assert_array_equal(after["state"][i][k], v)


def test_loaded_state_is_not_aliased():
    params = lstm_params()
    opt = Adam(params, lr=0.1)
    _run(opt, params, [_grads(np.random.default_rng(2))])
    sd = opt.state_dict()
    other = Adam([Parameter(p.data.copy()) for p in params], lr=0.1)
    other.load_state_dict(sd)
    sd["state"][0]["exp_avg"] += 1.0
    np.testing.assert_array_equal(
        other.state_dict()["state"][0]["exp_avg"], opt.state[params[0]]["exp_avg"]
    )


def _loaded(opt):
    return copy.deepcopy(opt.state_dict())


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda sd: sd["param_groups"].pop(), "group"),
        (lambda sd: sd["param_groups"][0]["params"].pop(), "parameter"),
        (lambda sd: sd["state"][0].update(exp_avg=np.zeros((3, 3))), "shape"),
        (lambda sd: sd["state"][1].pop("exp_avg_sq"), "lacks"),
        (lambda sd: sd["state"].update({17: {}}), "index"),
        (lambda sd: sd["param_groups"][1].update(lr=-1.0), "lr"),
        (lambda sd: sd["param_groups"][1].update(amsgrad=True), "max_exp_avg_sq"),
        (lambda sd: sd.pop("state"), "state"),
        (lambda sd: sd["state"][0].update(step=-3), "step"),
        (lambda sd: sd["state"][0].update(exp_avg="x"), "exp_avg"),
    ],
)
def test_load_state_dict_validates_before_changing_anything(mutate, match):
    params = lstm_params()
    opt = Adam([{"params": params[:2]}, {"params": params[2:]}], lr=0.01)
    _run(opt, params, [_grads(np.random.default_rng(3))] * 2)
    target = Adam([{"params": lstm_params()[:2]}, {"params": lstm_params()[2:]}], lr=0.5)
    _run(
        target,
        [p for g in target.param_groups for p in g["params"]],
        [_grads(np.random.default_rng(4))],
    )
    before = target.state_dict()
    bad = opt.state_dict()
    mutate(bad)
    with pytest.raises(ValueError, match=match):
        target.load_state_dict(bad)
    after = target.state_dict()
    assert [g["lr"] for g in after["param_groups"]] == [0.5, 0.5]
    for i in before["state"]:
        for k in before["state"][i]:
            np.testing.assert_array_equal(after["state"][i][k], before["state"][i][k])


@pytest.mark.parametrize("cls, kwargs", STATEFUL, ids=IDS)
def test_loads_torch_state_dict_and_continues_like_torch(torch, cls, kwargs):
    """A torch optimiser's state (tensors, float step tensors) loads and continues identically."""
    tcls = getattr(torch.optim, cls.__name__)
    pair = Pair(cls, tcls, kwargs, seed=5)
    pair.step(10)
    fresh = [Parameter(t.detach().numpy().copy()) for t in pair.theirs]
    ours = cls(fresh, **{**kwargs, "lr": 7.0})
    ours.load_state_dict(pair.topt.state_dict())
    pair.ours, pair.opt = fresh, ours
    pair.step(20)
    assert max(pair.errors()) < 1e-10  # float64 rounding, as in the per-optimiser tests


def test_params_validation():
    p = lstm_params()
    with pytest.raises(TypeError, match="iterable"):
        SGD(p[0], lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match="Parameter"):
        SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        SGD([{"params": p[:2]}, {"params": p[1:]}], lr=0.1)
    # a Parameter listed twice in one group (tied weights) is kept once, first place first
    assert SGD([p[0], p[1], p[0]], lr=0.1).param_groups[0]["params"] == [p[0], p[1]]
    with pytest.raises(ValueError, match="'params'"):
        SGD([{"lr": 0.1}], lr=0.1)


def test_add_param_group_fills_defaults():
    p = lstm_params()
    opt = Adam(p[:2], lr=0.01, betas=(0.8, 0.9))
    opt.add_param_group({"params": p[2:], "lr": 0.5})
    g = opt.param_groups[1]
    assert g["lr"] == 0.5 and g["betas"] == (0.8, 0.9) and g["params"] == p[2:]
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p[0]]})


def test_zero_grad_is_in_place_and_step_returns_none_or_closure_loss():
    params = lstm_params()
    grads = [p.grad for p in params]
    for p in params:
        p.grad[...] = 3.0
    opt = SGD(params, lr=0.1)
    assert opt.step() is None
    opt.zero_grad()
    assert all(p.grad is g and not g.any() for p, g in zip(params, grads))
    assert opt.step(lambda: 1.5) == 1.5


def test_step_rejects_a_mismatched_grad_before_changing_anything():
    params = lstm_params()
    before = [p.data.copy() for p in params]
    for p in params:
        p.grad[...] = 1.0
    params[3].grad = np.ones(5)
    opt = Adam(params, lr=0.1)
    with pytest.raises(ValueError, match="grad has shape"):
        opt.step()
    assert opt.state == {}
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p.data, b)


def test_parameters_without_grad_are_skipped():
    params = lstm_params()
    for p in params:
        p.grad[...] = 1.0
    params[0].grad = None
    before = params[0].data.copy()
    opt = Adam(params, lr=0.1)
    opt.step()
    np.testing.assert_array_equal(params[0].data, before)
    assert params[0] not in opt.state and params[1] in opt.state


@pytest.mark.parametrize("weight", [0.0, 0.001, 0.1, 0.49, 0.5, 0.7, 1.0])
@pytest.mark.parametrize("work", [False, True])
def test_lerp_matches_torch_lerp(torch, weight, work):
    """Both of torch's branches (|w| < 0.5 and not).

    torch's vectorised kernel fuses the multiply-add (one rounding, not two), so
    entries may differ by an ulp of the operands: normwise 1e-15, not bitwise.
    """
    from numrnn.optim.optimizer import lerp_

    rng = np.random.default_rng(8)
    a, b = rng.standard_normal(1000), rng.standard_normal(1000) * 5
    expected = torch.lerp(torch.tensor(a), torch.tensor(b), weight).numpy()
    out = lerp_(a.copy(), b, weight, np.empty_like(a) if work else None)
    assert rel_err(out, expected) < 1e-15


@pytest.mark.parametrize("cls", [SGD, Adam, AdamW, Adagrad, RMSprop])
def test_a_hyperparameter_is_checked_alike_in_every_optimiser(cls):
    # One row per name in numrnn.optim.hyperparameters: the same bad value gets the same message,
    # whichever optimiser has it, at construction and in a group added later.
    p, q = Parameter(np.zeros(2)), Parameter(np.zeros(2))
    for name in ("lr", "weight_decay", "eps", "momentum"):
        if name not in cls([p]).defaults:
            continue
        message = f"{cls.__name__}: {name} must satisfy 0 <= {name}; got -1"
        with pytest.raises(ValueError, match=re.escape(message)):
            cls([p], **{name: -1})
        opt = cls([p])
        with pytest.raises(ValueError, match=re.escape(message)):
            opt.add_param_group({"params": [q], name: -1})
        assert len(opt.param_groups) == 1
