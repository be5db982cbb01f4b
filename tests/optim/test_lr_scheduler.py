"""Learning-rate schedules against torch.optim.lr_scheduler.

Both sides evaluate the same Python float expressions in the same order (the
chainable recursions, not the closed forms), so the rates agree to the last
bit; we assert 1e-12 relative, as the brief asks, over 3 * T_max steps.
"""

import math

import numpy as np
import pytest
from optim_parity import lstm_params

from numrnn.nn import Parameter
from numrnn.optim import SGD, Adam
from numrnn.optim.lr_scheduler import CosineAnnealingLR, ExponentialLR, LambdaLR, StepLR

LRS = (0.1, 0.03)


def _ours():
    p = lstm_params()
    return SGD([{"params": p[:2], "lr": LRS[0]}, {"params": p[2:], "lr": LRS[1]}], momentum=0.9)


def _theirs(torch):
    p = [torch.zeros(3, requires_grad=True), torch.zeros(2, requires_grad=True)]
    return torch.optim.SGD(
        [{"params": [p[0]], "lr": LRS[0]}, {"params": [p[1]], "lr": LRS[1]}], momentum=0.9
    )


CASES = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("StepLR", dict(step_size=1)),
    ("ExponentialLR", dict(gamma=0.93)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=13, eta_min=1e-3)),
    ("CosineAnnealingLR", dict(T_max=1, eta_min=0.01)),
    ("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1 + e) ** 0.5)),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CASES)]
STEPS = 45  # 3 * T_max and more for every case


def _assert_close(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert abs(x - y) <= 1e-12 * abs(y), (x, y)


def _lrs(opt):
    return [g["lr"] for g in opt.param_groups]


@pytest.mark.parametrize("name, kwargs", CASES, ids=IDS)
def test_matches_torch_over_many_steps(torch, name, kwargs):
    import numrnn.optim.lr_scheduler as ours_mod

    opt, topt = _ours(), _theirs(torch)
    sched = getattr(ours_mod, name)(opt, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    _assert_close(sched.get_last_lr(), tsched.get_last_lr())
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)
    for _ in range(STEPS):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        _assert_close(sched.get_last_lr(), tsched.get_last_lr())
        _assert_close(_lrs(opt), [g["lr"] for g in topt.param_groups])
    assert sched.last_epoch == tsched.last_epoch == STEPS


def test_cosine_follows_the_closed_form_over_its_first_half_period():
    opt = _ours()
    sched = CosineAnnealingLR(opt, T_max=10, eta_min=0.001)
    for e in range(1, 11):
        sched.step()
        for lr, base in zip(sched.get_last_lr(), LRS):
            assert lr == pytest.approx(
                0.001 + (base - 0.001) * (1 + math.cos(math.pi * e / 10)) / 2, rel=1e-12
            )


def test_lambda_list_per_group(torch):
    fns = [lambda e: 0.9**e, lambda e: 1.0 + e]
    opt, topt = _ours(), _theirs(torch)
    s, t = LambdaLR(opt, fns), torch.optim.lr_scheduler.LambdaLR(topt, fns)
    for _ in range(5):
        topt.step()
        s.step()
        t.step()
    _assert_close(s.get_last_lr(), t.get_last_lr())


@pytest.mark.parametrize("name, kwargs", CASES, ids=IDS)
def test_state_dict_round_trip_mid_run(name, kwargs):
    import numrnn.optim.lr_scheduler as mod

    opt_a = _ours()
    a = getattr(mod, name)(opt_a, **kwargs)
    for _ in range(9):
        a.step()
    sd_opt, sd = opt_a.state_dict(), a.state_dict()
    assert all(isinstance(v, (int, float, list)) for v in sd.values())
    opt_b = _ours()
    b = getattr(mod, name)(opt_b, **kwargs)
    opt_b.load_state_dict(sd_opt)
    b.load_state_dict(sd)
    sd["base_lrs"][0] = 5.0  # the saved dict is a copy
    assert b.base_lrs[0] == LRS[0]
    for _ in range(20):
        a.step()
        b.step()
        assert a.get_last_lr() == b.get_last_lr()
        assert _lrs(opt_a) == _lrs(opt_b)


def test_loads_a_torch_scheduler_state(torch):
    opt, topt = _ours(), _theirs(torch)
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=8, eta_min=1e-3)
    for _ in range(5):
        topt.step()
        tsched.step()
    sched = CosineAnnealingLR(opt, T_max=8, eta_min=1e-3)
    sched.load_state_dict(tsched.state_dict())
    for g, tg in zip(opt.param_groups, topt.param_groups):
        g["lr"] = tg["lr"]
    for _ in range(15):
        topt.step()
        tsched.step()
        sched.step()
        _assert_close(sched.get_last_lr(), tsched.get_last_lr())


def test_resume_with_last_epoch(torch):
    opt, topt = _ours(), _theirs(torch)
    for g, tg in zip(opt.param_groups, topt.param_groups):
        g["initial_lr"] = tg["initial_lr"] = g["lr"]
    s = StepLR(opt, step_size=3, gamma=0.5, last_epoch=5)
    t = torch.optim.lr_scheduler.StepLR(topt, step_size=3, gamma=0.5, last_epoch=5)
    for _ in range(8):
        topt.step()
        s.step()
        t.step()
        _assert_close(s.get_last_lr(), t.get_last_lr())


def test_errors():
    opt = _ours()
    with pytest.raises(TypeError, match="Optimizer"):
        StepLR("sgd", step_size=2)
    with pytest.raises(ValueError, match="step_size"):
        StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="gamma"):
        ExponentialLR(opt, gamma=-0.5)
    with pytest.raises(ValueError, match="T_max"):
        CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match="eta_min"):
        CosineAnnealingLR(opt, T_max=5, eta_min=-1.0)
    with pytest.raises(ValueError, match="lr_lambdas"):
        LambdaLR(opt, [lambda e: 1.0])
    with pytest.raises(TypeError, match="callable"):
        LambdaLR(opt, 0.5)
    with pytest.raises(ValueError, match="initial_lr"):
        StepLR(Adam(lstm_params()), step_size=2, last_epoch=3)
    sched = StepLR(opt, step_size=2)
    with pytest.raises(ValueError, match="missing keys"):
        sched.load_state_dict({"last_epoch": 3})
    bad = sched.state_dict()
    bad["base_lrs"] = [0.1]
    with pytest.raises(ValueError, match="base_lrs"):
        sched.load_state_dict(bad)
    assert sched.base_lrs == list(LRS)


def test_scheduled_rate_drives_the_optimiser():
    from numrnn import Parameter

    p = Parameter(np.zeros(1))
    opt = SGD([p], lr=1.0)
    sched = StepLR(opt, step_size=1, gamma=0.5)
    for _k in range(4):
        p.grad[...] = 1.0
        opt.step()
        sched.step()
    assert p.data[0] == -(1 + 0.5 + 0.25 + 0.125)


@pytest.mark.parametrize(
    "key, value",
    [
        ("last_epoch", 10**400),
        ("last_epoch", 2**53 + 1),
        ("_step_count", 10**30),
        ("base_lrs", [float("inf")]),
        ("_last_lr", [float("nan")]),
        ("base_lrs", [10**400]),
    ],
)
def test_load_state_dict_refuses_counts_and_rates_out_of_range_and_changes_nothing(key, value):
    p = Parameter(np.zeros(2))
    sched = StepLR(SGD([p], lr=1.0), step_size=1, gamma=0.5)
    state = sched.state_dict()
    before = dict(state)
    state[key] = value
    with pytest.raises(ValueError, match=key):
        sched.load_state_dict(state)
    assert sched.state_dict() == before
