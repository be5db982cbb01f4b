"""Shared parity harness for the optimiser tests: numrnn and torch.optim side by side.

Both optimisers see the same initial parameters (the shapes of a one-layer LSTM
with D=5, H=7: ``weight_ih (4H, D)``, ``weight_hh (4H, H)``, two biases
``(4H,)``) and the same random gradients at every step.

Tolerances ``RTOL64`` / ``RTOL32`` (normwise relative, ``helpers.rel_err``) are
explained in test_sgd.py: about one ulp per operation separates the two sides,
so 35 steps stay below 1e-15 in float64; 1e-10 is far above rounding and far
below any wrong formula; float32 gets 1e-5.
"""

import numpy as np
from helpers import rel_err

from numrnn.nn.module import Parameter

D, H = 5, 7
RTOL64, RTOL32 = 1e-10, 1e-5
LSTM_SHAPES = [(4 * H, D), (4 * H, H), (4 * H,), (4 * H,)]


class Pair:
    """Our optimiser and torch's over copies of the same parameters."""

    def __init__(
        self,
        ours_cls,
        torch_cls,
        kwargs=None,
        *,
        groups=None,
        dtype=np.float64,
        seed=0,
        torch_kwargs=None,
    ):
        import torch

        self.torch = torch
        self.rng = np.random.default_rng(seed)
        self.dtype = dtype
        init = [self.rng.standard_normal(s).astype(dtype) for s in LSTM_SHAPES]
        self.ours = [Parameter(a.copy()) for a in init]
        self.theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
        kwargs = dict(kwargs or {})
        tkw = dict(kwargs, foreach=False, **(torch_kwargs or {}))  # pin torch's single-tensor path
        if groups is None:
            self.opt = ours_cls(self.ours, **kwargs)
            self.topt = torch_cls(self.theirs, **tkw)
        else:  # groups: list of (param indices, per-group options)
            self.opt = ours_cls(
                [dict(params=[self.ours[i] for i in idx], **o) for idx, o in groups], **kwargs
            )
            self.topt = torch_cls(
                [dict(params=[self.theirs[i] for i in idx], **o) for idx, o in groups], **tkw
            )

    def grads(self):
        return [
            (self.rng.standard_normal(s) * self.rng.uniform(0.1, 3)).astype(self.dtype)
            for s in LSTM_SHAPES
        ]

    def step(self, n=1):
        for _ in range(n):
            gs = self.grads()
            for p, t, g in zip(self.ours, self.theirs, gs):
                p.grad[...] = g
                t.grad = self.torch.tensor(g.copy())
            assert self.opt.step() is None
            self.topt.step()

    def errors(self):
        return [rel_err(p.data, t.detach().numpy()) for p, t in zip(self.ours, self.theirs)]


def config_id(kwargs):
    """A parametrised test's id from its optimiser options: ``lr=0.1,momentum=0.9``."""
    return ",".join(f"{a}={b}" for a, b in kwargs.items())


def assert_matches_torch(ours_cls, torch_cls, kwargs, *, steps=35, rtol=RTOL64, **pair_options):
    """Step a ``Pair`` ``steps`` times; every parameter within ``rtol`` of torch's.

    ``pair_options`` are ``Pair``'s (``groups``, ``dtype``, ``seed``, ...).
    Returns the pair, for checks on its state.
    """
    pair = Pair(ours_cls, torch_cls, kwargs, **pair_options)
    pair.step(steps)
    assert max(pair.errors()) < rtol
    return pair


def assert_float32_matches_torch(ours_cls, torch_cls, kwargs, state_keys):
    """A float32 run: matches torch's float32 run to ``RTOL32``, and stays float32.

    Every parameter's data and gradient, and its ``state_keys`` entries of the
    optimiser's state, are float32 after 35 steps.  Returns the pair.
    """
    pair = assert_matches_torch(ours_cls, torch_cls, kwargs, dtype=np.float32, rtol=RTOL32)
    for p in pair.ours:
        assert p.data.dtype == np.float32 and p.grad.dtype == np.float32
        assert all(pair.opt.state[p][k].dtype == np.float32 for k in state_keys)
    return pair


def assert_torch_tensors_match_numpy(torch, make_optimizer, steps=10):
    """One optimiser over NumPy parameters, one over torch-tensor parameters, same gradients.

    ``make_optimizer(params)`` builds either.  After ``steps`` steps the torch
    parameters are still torch tensors and equal the NumPy ones to rtol 1e-12
    (the same float64 operations, dispatched to torch's kernels).  Returns the
    torch-side optimiser and its parameters, for checks on its state.
    """
    ref = lstm_params(seed=4)
    tp = lstm_params(seed=4, backend_array=torch.from_numpy)
    opts = [make_optimizer(ps) for ps in (ref, tp)]
    rng = np.random.default_rng(5)
    for _ in range(steps):
        for a, b in zip(ref, tp):
            g = rng.standard_normal(a.shape)
            a.grad[...] = g
            b.grad.copy_(torch.from_numpy(g))
        for opt in opts:
            opt.step()
    for a, b in zip(ref, tp):
        assert isinstance(b.data, torch.Tensor)
        np.testing.assert_allclose(b.data.numpy(), a.data, rtol=1e-12, atol=1e-14)
    return opts[1], tp


def lstm_params(dtype=np.float64, seed=0, backend_array=None):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in LSTM_SHAPES]
    if backend_array is not None:
        arrays = [backend_array(a) for a in arrays]
    return [Parameter(a) for a in arrays]
