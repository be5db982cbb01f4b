"""One reference layer-direction against torch.nn (and torch autograd), float64.

Tolerance 1e-12 in the normwise relative error of ``helpers.rel_err``: both sides
evaluate the same float64 expressions in a different order, so they agree to a few
ulps of the largest entries (~1e-15, up to ~1e-14 after 20 steps); a wrong term in
any derivative shows up at 1e-3 or worse.
"""

import itertools

import numpy as np
import pytest
from helpers import layer_weights, rel_err

import numrnn.reference as R

torch = pytest.importorskip("torch")

TOL = 1e-12
T, B, D, H, P = 7, 3, 4, 5, 3

CASES = ["rnn_tanh", "rnn_relu", "lstm", "lstm_proj", "gru"]


def _params(case, bias, rng):
    proj = P if case == "lstm_proj" else 0
    return layer_weights(case.split("_")[0], D, H, rng, bound=0.5, bias=bias, proj=proj)


def _torch_module(case, bias, params):
    kw = {"bias": bias, "dtype": torch.float64}
    if case.startswith("rnn"):
        m = torch.nn.RNN(D, H, nonlinearity=case.split("_")[1], **kw)
    elif case.startswith("lstm"):
        m = torch.nn.LSTM(D, H, proj_size=P if case == "lstm_proj" else 0, **kw)
    else:
        m = torch.nn.GRU(D, H, **kw)
    m.load_state_dict({k + "_l0": torch.tensor(v) for k, v in params.items()})
    return m


def _reference(case, x, state, params):
    if case.startswith("rnn"):
        return R.rnn_forward(x, state[0], params, nonlinearity=case.split("_")[1])
    if case == "gru":
        return R.gru_forward(x, state[0], params)
    return R.lstm_forward(x, tuple(state), params)


def _reference_backward(case, dout, dstate, cache):
    if case.startswith("lstm"):
        return R.lstm_backward(dout, tuple(dstate), cache)
    back = R.rnn_backward if case.startswith("rnn") else R.gru_backward
    return back(dout, dstate[0], cache)


@pytest.mark.parametrize(
    "case,bias,with_h0,with_dhT",
    list(itertools.product(CASES, [True, False], [True, False], [True, False])),
)
def test_sequence_pair_matches_torch(case, bias, with_h0, with_dhT):
    rng = np.random.default_rng(0)
    params = _params(case, bias, rng)
    lstm = case.startswith("lstm")
    Pn = P if case == "lstm_proj" else H
    shapes = [(B, Pn), (B, H)] if lstm else [(B, H)]
    x = rng.standard_normal((T, B, D))
    state = [rng.standard_normal(s) for s in shapes] if with_h0 else [None] * len(shapes)
    out, final, cache = _reference(case, x, state, params)
    finals = list(final) if lstm else [final]
    dout = rng.standard_normal(out.shape)
    dfinal = [rng.standard_normal(s) for s in shapes] if with_dhT else [None] * len(shapes)
    dx, dstate0, grads = _reference_backward(case, dout, dfinal, cache)
    dstates0 = list(dstate0) if lstm else [dstate0]

    m = _torch_module(case, bias, params)
    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in state] if with_h0 else None
    st_in = None if st is None else ([s[None] for s in st] if lstm else st[0][None])
    rout, rfinal = m(xt, tuple(st_in) if lstm and st_in is not None else st_in)
    rfinals = [f[0] for f in rfinal] if lstm else [rfinal[0]]
    loss = (rout * torch.tensor(dout)).sum()
    if with_dhT:
        loss = loss + sum((f * torch.tensor(g)).sum() for f, g in zip(rfinals, dfinal))
    loss.backward()

    assert rel_err(out, rout.detach().numpy()) <= TOL
    for a, b in zip(finals, rfinals):
        assert rel_err(a, b.detach().numpy()) <= TOL
    assert rel_err(dx, xt.grad.numpy()) <= TOL
    if with_h0:
        for a, s in zip(dstates0, st):
            assert rel_err(a, s.grad.numpy()) <= TOL
    assert sorted(grads) == sorted(params)
    for name, p in m.named_parameters():
        assert rel_err(grads[name[:-3]], p.grad.numpy()) <= TOL, name


def test_gru_reset_before_matches_torch_autograd():
    """reset_after=False, n = tanh(x W_in^T + b_in + (r * h) W_hn^T + b_hn), written in torch."""
    rng = np.random.default_rng(1)
    params = _params("gru", True, rng)
    x, h0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H))
    out, hT, cache = R.gru_forward(x, h0, params, reset_after=False)
    dout, dhT = rng.standard_normal(out.shape), rng.standard_normal(hT.shape)
    dx, dh0, grads = R.gru_backward(dout, dhT, cache)

    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    xt, h = torch.tensor(x, requires_grad=True), torch.tensor(h0, requires_grad=True)
    W_ir, W_iz, W_in = tp["weight_ih"].chunk(3)
    W_hr, W_hz, W_hn = tp["weight_hh"].chunk(3)
    b_ir, b_iz, b_in = tp["bias_ih"].chunk(3)
    b_hr, b_hz, b_hn = tp["bias_hh"].chunk(3)
    hs, ht = [], h
    for t in range(T):
        r = torch.sigmoid(xt[t] @ W_ir.T + b_ir + ht @ W_hr.T + b_hr)
        z = torch.sigmoid(xt[t] @ W_iz.T + b_iz + ht @ W_hz.T + b_hz)
        n = torch.tanh(xt[t] @ W_in.T + b_in + (r * ht) @ W_hn.T + b_hn)
        ht = (1 - z) * n + z * ht
        hs.append(ht)
    rout = torch.stack(hs)
    ((rout * torch.tensor(dout)).sum() + (ht * torch.tensor(dhT)).sum()).backward()
    assert rel_err(out, rout.detach().numpy()) <= TOL
    assert rel_err(hT, ht.detach().numpy()) <= TOL
    assert rel_err(dx, xt.grad.numpy()) <= TOL
    assert rel_err(dh0, h.grad.numpy()) <= TOL
    for k in params:
        assert rel_err(grads[k], tp[k].grad.numpy()) <= TOL, k
    # and it is a different function from PyTorch's reset-after form
    assert rel_err(R.gru_forward(x, h0, params)[0], out) > 1e-3


@pytest.mark.parametrize(
    "kind,opts",
    [
        ("rnn", {"nonlinearity": "relu"}),
        ("rnn", {}),
        ("lstm", {}),
        ("lstm", {"proj_size": 2}),
        ("gru", {}),
    ],
)
@pytest.mark.parametrize("lengths", [None, [6, 2, 5, 1]])
def test_stacked_reference_matches_torch(kind, opts, lengths):
    """Two bidirectional layers of the reference (reference_stack.py) against torch.nn,
    with variable lengths through pack_padded_sequence: the same 1e-12 as above."""
    from reference_stack import run_stack

    T, B, D, H = 6, 4, 3, 5
    rng = np.random.default_rng(7)
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    m = cls(D, H, num_layers=2, bidirectional=True, dtype=torch.float64, **opts)
    sd = {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}
    Pn = opts.get("proj_size", 0) or H
    shapes = [(4, B, Pn), (4, B, H)][: 2 if kind == "lstm" else 1]
    x = rng.standard_normal((T, B, D))
    hx = [rng.standard_normal(s) for s in shapes]
    xt = torch.tensor(x, requires_grad=True)
    ht = [torch.tensor(h, requires_grad=True) for h in hx]
    inp = xt
    if lengths is not None:
        inp = torch.nn.utils.rnn.pack_padded_sequence(xt, lengths, enforce_sorted=False)
    rout, rfin = m(inp, tuple(ht) if kind == "lstm" else ht[0])
    if lengths is not None:
        rout, _ = torch.nn.utils.rnn.pad_packed_sequence(rout, total_length=T)
    rfins = list(rfin) if kind == "lstm" else [rfin]
    dout = rng.standard_normal(rout.shape)
    if lengths is not None:
        dout[np.arange(T)[:, None] >= np.asarray(lengths)[None, :]] = 0
    dfin = [rng.standard_normal(s) for s in shapes]
    extra = {"nonlinearity": opts["nonlinearity"]} if "nonlinearity" in opts else {}
    out, fins, dx, dh0, grads = run_stack(
        kind, sd, x, hx, dout, dfin, num_layers=2, bidirectional=True, lengths=lengths, **extra
    )
    loss = (rout * torch.tensor(dout)).sum()
    loss = loss + sum((f * torch.tensor(g)).sum() for f, g in zip(rfins, dfin))
    loss.backward()
    assert rel_err(out, rout.detach().numpy()) <= TOL
    for a, b in zip(fins, rfins):
        assert rel_err(a, b.detach().numpy()) <= TOL
    assert rel_err(dx, xt.grad.numpy()) <= TOL
    for a, b in zip(dh0, ht):
        assert rel_err(a, b.grad.numpy()) <= TOL
    for name, p in m.named_parameters():
        assert rel_err(grads[name], p.grad.numpy()) <= TOL, name
