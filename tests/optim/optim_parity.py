"""Shared parity harness for the optimiser tests: numrnn and torch.optim side by side.

Both optimisers see the same initial parameters (the shapes of a one-layer LSTM
with D=5, H=7: ``weight_ih (4H, D)``, ``weight_hh (4H, H)``, two biases
``(4H,)``) and the same random gradients at every step.
"""

import numpy as np
from helpers import rel_err

from numrnn.nn.module import Parameter

D, H = 5, 7
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


def lstm_params(dtype=np.float64, seed=0, backend_array=None):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in LSTM_SHAPES]
    if backend_array is not None:
        arrays = [backend_array(a) for a in arrays]
    return [Parameter(a) for a in arrays]
