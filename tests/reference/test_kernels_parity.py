"""The fast modules (numrnn.RNN / LSTM / GRU) equal the reference, float64.

The reference stack (reference_stack.py) runs each row alone on its own length,
layer-direction by layer-direction; the modules run the packed, blocked kernels.
Tolerance 1e-12 normwise relative (``helpers.rel_err``): both compute the same
float64 expressions in a different order (the kernels use sigma(a) = tanh(a/2)/2 + 1/2
and fold the biases), which costs a few ulps (~1e-15) per step; any wrong term, gate
slice or packing mistake shows up at 1e-3 or worse.
"""

import numpy as np
import pytest
from helpers import assert_errors_within, options_id, recurrent_option_grid, rel_err
from hypothesis import example, given, settings
from hypothesis import strategies as st
from reference_stack import run_stack

import numrnn

TOL = 1e-12
MODULES = {"rnn": numrnn.RNN, "lstm": numrnn.LSTM, "gru": numrnn.GRU}


def compare(kind, *, T=5, B=3, D=4, H=6, lengths=None, seed=0, hx=True, **opts):
    """Run the module and the reference stack on the same weights; return {name: rel error}."""
    rng = np.random.default_rng(seed)
    L, bidir = opts.get("num_layers", 1), opts.get("bidirectional", False)
    bf = opts.get("batch_first", False)
    m = MODULES[kind](D, H, dtype=np.float64, seed=seed, **opts)
    nd = 2 if bidir else 1
    P = opts.get("proj_size", 0) or H
    shapes = [(L * nd, B, P), (L * nd, B, H)][: 2 if kind == "lstm" else 1]
    x = rng.standard_normal((T, B, D))
    states = [rng.standard_normal(s) for s in shapes] if hx else None
    out, hn = m(
        x.swapaxes(0, 1) if bf else x,
        None if states is None else (tuple(states) if kind == "lstm" else states[0]),
        lengths=lengths,
    )
    hn = list(hn) if kind == "lstm" else [hn]
    out = out.swapaxes(0, 1) if bf else out
    dout = rng.standard_normal(out.shape)
    if lengths is not None:  # padded positions carry no gradient in either implementation
        dout[np.arange(T)[:, None] >= np.asarray(lengths)[None, :]] = 0
    dhn = [rng.standard_normal(h.shape) for h in hn]
    dx, dh0 = m.backward(
        dout.swapaxes(0, 1) if bf else dout, tuple(dhn) if kind == "lstm" else dhn[0]
    )
    dx = dx.swapaxes(0, 1) if bf else dx
    dh0 = list(dh0) if kind == "lstm" else [dh0]
    extra = {k: opts[k] for k in ("nonlinearity", "reset_after") if k in opts}
    r_out, r_hn, r_dx, r_dh0, r_grads = run_stack(
        kind, m.state_dict(), x, states, dout, dhn,
        num_layers=L, bidirectional=bidir, lengths=lengths, **extra,
    )  # fmt: skip
    errs = {"out": rel_err(out, r_out), "dx": rel_err(dx, r_dx)}
    for k in range(len(hn)):
        errs[f"hn[{k}]"] = rel_err(hn[k], r_hn[k])
        if states is not None:
            errs[f"dh0[{k}]"] = rel_err(dh0[k], r_dh0[k])
    for name, p in m.named_parameters():
        errs[name] = rel_err(p.grad, r_grads[name])
    return errs


def check(errs):
    assert_errors_within(errs, TOL)


GRID = recurrent_option_grid(["rnn", "lstm", "gru"], [1, 2, 3])


@pytest.mark.parametrize("kind,opts", GRID, ids=options_id)
def test_grid(kind, opts):
    check(compare(kind, **opts))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional,batch_first", [(False, False), (True, False), (True, True)])
def test_lengths(kind, bidirectional, batch_first):
    # unsorted lengths, a full-length row, a length-1 row and ties
    check(
        compare(
            kind, T=7, B=5, lengths=[3, 7, 1, 7, 4], num_layers=2,
            bidirectional=bidirectional, batch_first=batch_first,
        )
    )  # fmt: skip


@pytest.mark.parametrize(
    "num_layers,bidirectional,lengths",
    [(1, False, None), (2, True, None), (2, True, [2, 6, 5, 1])],
)
def test_projection(num_layers, bidirectional, lengths):
    opts = {"num_layers": num_layers, "bidirectional": bidirectional, "lengths": lengths}
    check(compare("lstm", T=6, B=4, proj_size=3, **opts))


@pytest.mark.parametrize(
    "num_layers,bidirectional,batch_first,bias,lengths",
    [
        (1, False, False, True, None),
        (1, False, True, False, None),
        (2, True, False, True, [3, 7, 1, 7, 4]),
        (3, True, True, False, [3, 7, 1, 7, 4]),
    ],
)
def test_gru_reset_before(num_layers, bidirectional, batch_first, bias, lengths):
    """GRU(..., reset_after=False), the reset gate before the product, in both layers."""
    opts = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    check(compare("gru", T=7, B=5, lengths=lengths, bias=bias, reset_after=False, **opts))


@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True)])
def test_relu(num_layers, bidirectional):
    check(compare("rnn", nonlinearity="relu", num_layers=num_layers, bidirectional=bidirectional))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_zero_initial_state(kind):
    check(compare(kind, hx=False, num_layers=2, bidirectional=True))


@settings(max_examples=30, deadline=None)
@given(
    kind=st.sampled_from(["rnn", "lstm", "gru"]),
    T=st.sampled_from([1, 2, 3, 9, 120]),
    B=st.integers(1, 4),
    D=st.integers(1, 4),
    H=st.integers(1, 5),
    num_layers=st.integers(1, 2),
    bidirectional=st.booleans(),
    use_lengths=st.booleans(),
    seed=st.integers(0, 2**16),
)
@example("lstm", 1, 1, 1, 1, 1, False, False, 0)  # the smallest case, always run
@example("gru", 120, 1, 1, 1, 2, True, True, 1)  # long T, one row, one unit
def test_drawn_shapes(kind, T, B, D, H, num_layers, bidirectional, use_lengths, seed):
    lengths = None
    if use_lengths:
        lengths = list(np.random.default_rng(seed).integers(1, T + 1, B))
    check(
        compare(
            kind, T=T, B=B, D=D, H=H, lengths=lengths, seed=seed,
            num_layers=num_layers, bidirectional=bidirectional,
        )
    )  # fmt: skip
