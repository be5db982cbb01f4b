"""Run a numrnn recurrent module and torch.nn's on identical weights and compare everything.

The tolerance is the normwise relative error of ``helpers.rel_err``; see
tests/nn/test_recurrent_parity.py for why 1e-7 in float64.
"""

import numpy as np
import torch
from helpers import assert_errors_within, rel_err

import numrnn

TOL = 1e-7
MODULES = {
    "rnn": (numrnn.RNN, torch.nn.RNN),
    "lstm": (numrnn.LSTM, torch.nn.LSTM),
    "gru": (numrnn.GRU, torch.nn.GRU),
}


def _states_like(kind, shapes, rng):
    arrays = [rng.standard_normal(s) for s in shapes]
    return arrays[0] if kind != "lstm" else tuple(arrays)


def run_parity(kind, *, T=5, B=3, D=4, H=6, lengths=None, unbatched=False, hx=True, seed=0, **opts):
    """Run both implementations and return {name: relative error}."""
    ours_cls, ref_cls = MODULES[kind]
    rng = np.random.default_rng(seed)
    ours = ours_cls(D, H, dtype=np.float64, seed=seed, **opts)
    ref = ref_cls(D, H, dtype=torch.float64, **opts)
    ref.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    nd = 2 if opts.get("bidirectional") else 1
    L = opts.get("num_layers", 1)
    P = opts.get("proj_size", 0) or H
    bf = opts.get("batch_first", False)
    xshape = (T, D) if unbatched else ((B, T, D) if bf else (T, B, D))
    x = rng.standard_normal(xshape)
    sshape = [(L * nd, P), (L * nd, H)] if unbatched else [(L * nd, B, P), (L * nd, B, H)]
    sshape = sshape[: 2 if kind == "lstm" else 1]
    h = _states_like(kind, sshape, rng) if hx else None

    out, hn = ours(x, h, lengths=lengths)

    xt = torch.tensor(x, requires_grad=True)
    ht = None
    if h is not None:
        ht = (
            tuple(torch.tensor(a, requires_grad=True) for a in h)
            if kind == "lstm"
            else torch.tensor(h, requires_grad=True)
        )
    if lengths is not None:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.tensor(lengths), batch_first=bf, enforce_sorted=False
        )
        pout, rhn = ref(packed, ht)
        rout, _ = torch.nn.utils.rnn.pad_packed_sequence(pout, batch_first=bf, total_length=T)
    else:
        rout, rhn = ref(xt, ht)

    errs = {"out": rel_err(out, rout.detach().numpy())}
    hn_list = list(hn) if kind == "lstm" else [hn]
    rhn_list = list(rhn) if kind == "lstm" else [rhn]
    for k, (a, b) in enumerate(zip(hn_list, rhn_list)):
        errs[f"hn[{k}]"] = rel_err(a, b.detach().numpy())

    dout = rng.standard_normal(out.shape)
    dhn = [rng.standard_normal(a.shape) for a in hn_list]
    loss = (rout * torch.tensor(dout)).sum() + sum(
        (b * torch.tensor(g)).sum() for b, g in zip(rhn_list, dhn)
    )
    loss.backward()
    dx, dh0 = ours.backward(dout, tuple(dhn) if kind == "lstm" else dhn[0])
    errs["dx"] = rel_err(dx, xt.grad.numpy())
    if h is not None:
        dh0_list = list(dh0) if kind == "lstm" else [dh0]
        ht_list = list(ht) if kind == "lstm" else [ht]
        for k, (a, b) in enumerate(zip(dh0_list, ht_list)):
            errs[f"dh0[{k}]"] = rel_err(a, b.grad.numpy())
    ref_params = dict(ref.named_parameters())
    names = [n for n, _ in ours.named_parameters()]
    assert names == list(ref_params), "parameter names and order must be PyTorch's"
    for name, p in ours.named_parameters():
        errs[name] = rel_err(p.grad, ref_params[name].grad.numpy())
    assert not ours._caches, "backward must consume the forward's cache"
    return errs


def assert_parity(errs):
    assert_errors_within(errs, TOL)
