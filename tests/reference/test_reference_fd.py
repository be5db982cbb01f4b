"""The reference's backward against central finite differences, independently of the kernels.

Loss ``L = sum(out * G) + sum(final states * G_s)`` with fixed random ``G``.  Central
differences with eps = 1e-6 in float64 have truncation error ~eps^2 and rounding error
~1e-16 / eps = 1e-10 relative to the loss, so the normwise relative error of a correct
gradient is ~1e-9; 1e-6 leaves room, while a wrong term gives 1e-2 or worse.
"""

import numpy as np
import pytest
from helpers import layer_weights, rel_err
from tests_fd import numeric_grad

import numrnn.reference as R

TOL = 1e-6
T, B, D, H = 4, 2, 3, 4


def _setup(kind, rng, bias=True, proj=0):
    p = layer_weights(kind, D, H, rng, bound=0.6, bias=bias, proj=proj)
    Pn = proj or H
    states = [rng.standard_normal((B, Pn))] + (
        [rng.standard_normal((B, H))] if kind == "lstm" else []
    )
    return p, rng.standard_normal((T, B, D)), states


OPTIONS = [
    ("rnn", {"nonlinearity": "tanh"}, {}),
    ("rnn", {"nonlinearity": "relu"}, {}),
    ("rnn", {"nonlinearity": "tanh"}, {"bias": False}),
    ("lstm", {}, {}),
    ("lstm", {}, {"proj": 2}),
    ("lstm", {}, {"bias": False}),
    ("gru", {"reset_after": True}, {}),
    ("gru", {"reset_after": False}, {}),
    ("gru", {"reset_after": False}, {"bias": False}),
]


@pytest.mark.parametrize("kind,kw,setup", OPTIONS, ids=[f"{o[0]}-{o[1]}-{o[2]}" for o in OPTIONS])
def test_sequence_backward_matches_finite_differences(kind, kw, setup):
    rng = np.random.default_rng(2)
    params, x, states = _setup(kind, rng, **setup)
    fwd = {"rnn": R.rnn_forward, "lstm": R.lstm_forward, "gru": R.gru_forward}[kind]
    back = {"rnn": R.rnn_backward, "lstm": R.lstm_backward, "gru": R.gru_backward}[kind]

    def run():
        out, final, cache = fwd(x, tuple(states) if kind == "lstm" else states[0], params, **kw)
        return out, (list(final) if kind == "lstm" else [final]), cache

    out, finals, cache = run()
    G = rng.standard_normal(out.shape)
    Gs = [rng.standard_normal(f.shape) for f in finals]

    def loss():
        out, finals, _ = run()
        return float((out * G).sum() + sum((f * g).sum() for f, g in zip(finals, Gs)))

    dfinal = tuple(Gs) if kind == "lstm" else Gs[0]
    dx, dstate0, grads = back(G, dfinal, cache)
    dstates0 = list(dstate0) if kind == "lstm" else [dstate0]
    assert rel_err(dx, numeric_grad(loss, x)) <= TOL
    for a, s in zip(dstates0, states):
        assert rel_err(a, numeric_grad(loss, s)) <= TOL
    assert sorted(grads) == sorted(params)
    for name in params:
        assert rel_err(grads[name], numeric_grad(loss, params[name])) <= TOL, name


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_float32_in_float32_out(kind):
    """float32 inputs give float32 results equal to float64 up to float32 rounding (~1e-7 x T)."""
    rng = np.random.default_rng(4)
    params, x, states = _setup(kind, rng)
    fwd = {"rnn": R.rnn_forward, "lstm": R.lstm_forward, "gru": R.gru_forward}[kind]
    back = {"rnn": R.rnn_backward, "lstm": R.lstm_backward, "gru": R.gru_backward}[kind]
    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    s64 = tuple(states) if kind == "lstm" else states[0]
    s32 = tuple(map(f32, states)) if kind == "lstm" else f32(states[0])
    out64, _, c64 = fwd(x, s64, params)
    out32, _, c32 = fwd(f32(x), s32, {k: f32(v) for k, v in params.items()})
    G = rng.standard_normal(out64.shape)
    dx64, _, g64 = back(G, None, c64)
    dx32, _, g32 = back(f32(G), None, c32)
    assert out32.dtype == dx32.dtype == np.float32
    assert all(v.dtype == np.float32 for v in g32.values())
    assert rel_err(out32, out64) <= 1e-5 and rel_err(dx32, dx64) <= 1e-5
    for k in g64:
        assert rel_err(g32[k], g64[k]) <= 1e-5, k


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_step_pair_matches_finite_differences(kind):
    """The step pair alone (what a reader studies first), with the gradient of every input."""
    rng = np.random.default_rng(6)
    params, x, states = _setup(kind, rng)
    step_f = {"rnn": R.rnn_step_forward, "lstm": R.lstm_step_forward, "gru": R.gru_step_forward}[
        kind
    ]
    step_b = {"rnn": R.rnn_step_backward, "lstm": R.lstm_step_backward, "gru": R.gru_step_backward}[
        kind
    ]
    xt = x[0].copy()
    state = tuple(states) if kind == "lstm" else states[0]
    new, cache = step_f(xt, state, params)
    news = list(new) if kind == "lstm" else [new]
    Gs = [rng.standard_normal(n.shape) for n in news]

    def loss():
        new, _ = step_f(xt, state, params)
        return float(sum((n * g).sum() for n, g in zip(list(new) if kind == "lstm" else [new], Gs)))

    dx, dprev, grads = step_b(tuple(Gs) if kind == "lstm" else Gs[0], cache)
    assert rel_err(dx, numeric_grad(loss, xt)) <= TOL
    for a, s in zip(list(dprev) if kind == "lstm" else [dprev], states):
        assert rel_err(a, numeric_grad(loss, s)) <= TOL
    for name in params:
        assert rel_err(grads[name], numeric_grad(loss, params[name])) <= TOL, name


def test_bad_nonlinearity_is_refused():
    rng = np.random.default_rng(0)
    params, x, states = _setup("rnn", rng)
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'; got 'sigmoid'"):
        R.rnn_forward(x, states[0], params, nonlinearity="sigmoid")


@pytest.mark.parametrize(
    "kind,change,exc,msg",
    [
        ("rnn", {"x": np.zeros((3, 2))}, ValueError, r"rnn_forward: x must have shape \(T, B, D\)"),
        ("rnn", {"x": np.zeros((3, 2, 3), int)}, TypeError, "x must be a floating-point"),
        ("gru", {"x": np.zeros((3, 2, 5))}, ValueError, "x has 5 features but weight_ih"),
        ("gru", {"h0": np.zeros((2, 3))}, ValueError, r"gru_forward: h0 must have shape \(2, 4\)"),
        (
            "lstm",
            {"c0": np.zeros((1, 4))},
            ValueError,
            r"lstm_forward: c0 must have shape \(2, 4\)",
        ),
        ("lstm", {"params": {}}, KeyError, "weight_hh"),
    ],
)
def test_bad_sequence_inputs_are_named(kind, change, exc, msg):
    rng = np.random.default_rng(0)
    params, x, states = _setup(kind, rng)
    args = {"x": x[:, :2], "params": params, "h0": None, "c0": None, **change}
    with pytest.raises(exc, match=msg):
        if kind == "lstm":
            R.lstm_forward(args["x"], (args["h0"], args["c0"]), args["params"])
        else:
            fwd = R.rnn_forward if kind == "rnn" else R.gru_forward
            fwd(args["x"], args["h0"], args["params"])
