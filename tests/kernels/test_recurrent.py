"""Finite-difference checks of every recurrent forward/backward pair in numrnn.kernels.

Central differences in float64 with eps = 1e-6: the truncation error is
O(eps^2) ~ 1e-12 and the rounding error ~ 1e-16 * |L| / eps ~ 1e-10 for the
losses here, so a correct backward agrees to ~1e-8 normwise; the tolerance
1e-6 is two orders above that, while a 1% error in a gradient is 1e-2.
"""

from functools import partial

import numpy as np
import pytest
from helpers import rel_err
from tests_fd import numeric_grad

import numrnn.kernels as K

EPS = 1e-6
TOL = 1e-6

#: the GRU with the reset gate before the recurrent product (Cho et al., 2014), tested as a 4th kind
GRU_BEFORE = "gru_reset_before"
GATES = {"rnn": 1, "lstm": 4, "gru": 3, GRU_BEFORE: 3}


def _layer_pair(kind):
    """The layer-direction forward and backward of an RNN, GRU or reset-before GRU."""
    if kind == GRU_BEFORE:
        return partial(K.gru_forward, reset_after=False), K.gru_backward
    return getattr(K, f"{kind}_forward"), getattr(K, f"{kind}_backward")


def _step_pair(kind):
    """The step forward and backward of an RNN, GRU or reset-before GRU."""
    if kind == GRU_BEFORE:
        return partial(K.gru_step_forward, reset_after=False), K.gru_step_backward
    return getattr(K, f"{kind}_step_forward"), getattr(K, f"{kind}_step_backward")


def _weights(rng, G, D, H, bias, P=None):
    P = P or H
    w = {
        "weight_ih": rng.standard_normal((G * H, D)) * 0.5,
        "weight_hh": rng.standard_normal((G * H, P)) * 0.5,
    }
    w["bias_ih"] = rng.standard_normal(G * H) * 0.5 if bias else None
    w["bias_hh"] = rng.standard_normal(G * H) * 0.5 if bias else None
    return w


def _check(named_inputs, loss, analytic):
    for name, arr in named_inputs.items():
        if arr is None:
            continue
        num = numeric_grad(loss, arr, EPS)
        err = rel_err(analytic[name], num)
        assert err <= TOL, f"{name}: relative error {err:.2e}"


LAYER_CASES = [
    dict(reverse=r, batch_sizes=bs, bias=b)
    for r in (False, True)
    for bs in (None, [4, 4, 3, 1, 1])
    for b in (True, False)
]


def _check_one_state_layer(kind, case, seed, **options):
    """FD of ``L = sum(out * dout) + sum(hn * dhn)`` through a one-state layer (RNN or GRU).

    T, B, D, H = 5, 4, 3, 4; ``case`` one of ``LAYER_CASES``; ``options`` go to the
    forward (the RNN's ``nonlinearity``).  Checks x, h0 and every weight.
    """
    rng = np.random.default_rng(seed)
    T, B, D, H = 5, 4, 3, 4
    x, h0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H))
    w = _weights(rng, GATES[kind], D, H, case["bias"])
    dout, dhn = rng.standard_normal((T, B, H)), rng.standard_normal((B, H))
    kw = dict(options, reverse=case["reverse"], batch_sizes=case["batch_sizes"])

    forward, backward = _layer_pair(kind)

    def loss():
        out, hn, _ = forward(x, h0, w, **kw)
        return np.sum(out * dout) + np.sum(hn * dhn)

    _, _, cache = forward(x, h0, w, **kw)
    dx, dh0, grads = backward(dout, dhn, cache)
    _check({"x": x, "h0": h0, **w}, loss, {"x": dx, "h0": dh0, **grads})


@pytest.mark.parametrize("case", LAYER_CASES)
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_layer(case, nonlinearity):
    _check_one_state_layer("rnn", case, seed=0, nonlinearity=nonlinearity)


@pytest.mark.parametrize("case", LAYER_CASES)
@pytest.mark.parametrize("proj", [0, 2])
def test_lstm_layer(case, proj):
    rng = np.random.default_rng(1)
    T, B, D, H = 5, 4, 3, 3
    P = proj or H
    x, h0, c0 = (
        rng.standard_normal((T, B, D)),
        rng.standard_normal((B, P)),
        rng.standard_normal((B, H)),
    )
    w = _weights(rng, 4, D, H, case["bias"], P)
    w["weight_hr"] = rng.standard_normal((P, H)) * 0.5 if proj else None
    dout, dhn, dcn = (
        rng.standard_normal((T, B, P)),
        rng.standard_normal((B, P)),
        rng.standard_normal((B, H)),
    )
    kw = dict(reverse=case["reverse"], batch_sizes=case["batch_sizes"])

    def loss():
        out, (hn, cn), _ = K.lstm_forward(x, h0, c0, w, **kw)
        return np.sum(out * dout) + np.sum(hn * dhn) + np.sum(cn * dcn)

    _, _, cache = K.lstm_forward(x, h0, c0, w, **kw)
    dx, (dh0, dc0), grads = K.lstm_backward(dout, dhn, dcn, cache)
    _check({"x": x, "h0": h0, "c0": c0, **w}, loss, {"x": dx, "h0": dh0, "c0": dc0, **grads})


@pytest.mark.parametrize("case", LAYER_CASES)
@pytest.mark.parametrize("kind", ["gru", GRU_BEFORE])
def test_gru_layer(case, kind):
    _check_one_state_layer(kind, case, seed=2)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", GRU_BEFORE])
@pytest.mark.parametrize("bias", [True, False])
def test_step_pairs(kind, bias):
    rng = np.random.default_rng(3)
    B, D, H = 3, 4, 3
    G = GATES[kind]
    x, h = rng.standard_normal((B, D)), rng.standard_normal((B, H))
    c = rng.standard_normal((B, H))
    w = _weights(rng, G, D, H, bias)
    dh, dc = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    if kind == "lstm":

        def loss():
            hn, cn, _ = K.lstm_step_forward(x, h, c, **w)
            return np.sum(hn * dh) + np.sum(cn * dc)

        _, _, cache = K.lstm_step_forward(x, h, c, **w)
        dx, dh_prev, dc_prev, grads = K.lstm_step_backward(dh, dc, cache)
        _check({"x": x, "h": h, "c": c, **w}, loss, {"x": dx, "h": dh_prev, "c": dc_prev, **grads})
    else:
        fwd, bwd = _step_pair(kind)

        def loss():
            return np.sum(fwd(x, h, **w)[0] * dh)

        _, cache = fwd(x, h, **w)
        dx, dh_prev, grads = bwd(dh, cache)
        _check({"x": x, "h": h, **w}, loss, {"x": dx, "h": dh_prev, **grads})


def test_step_equals_one_step_layer():
    """The step pair and the layer over one step are the same computation."""
    rng = np.random.default_rng(4)
    B, D, H = 3, 4, 5
    x, h, c = rng.standard_normal((B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    w = _weights(rng, 4, D, H, True)
    hs, cs, _ = K.lstm_step_forward(x, h, c, **w)
    out, (hn, cn), _ = K.lstm_forward(x[None], h, c, w)
    np.testing.assert_allclose(hs, hn, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(cs, cn, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", GRU_BEFORE])
def test_backward_leaves_its_arguments_untouched(kind):
    rng = np.random.default_rng(5)
    T, B, D, H = 4, 3, 2, 3
    G = GATES[kind]
    x, h0, c0 = (
        rng.standard_normal((T, B, D)),
        rng.standard_normal((B, H)),
        rng.standard_normal((B, H)),
    )
    w = _weights(rng, G, D, H, True)
    dout, dhn, dcn = (
        rng.standard_normal((T, B, H)),
        rng.standard_normal((B, H)),
        rng.standard_normal((B, H)),
    )
    given = {"x": x, "h0": h0, "c0": c0, "dout": dout, "dhn": dhn, "dcn": dcn, **w}
    before = {k: v.copy() for k, v in given.items()}
    if kind == "lstm":
        _, _, cache = K.lstm_forward(x, h0, c0, w, batch_sizes=[3, 2, 2, 1])
        K.lstm_backward(dout, dhn, dcn, cache)
    else:
        forward, backward = _layer_pair(kind)
        _, _, cache = forward(x, h0, w, batch_sizes=[3, 2, 2, 1])
        backward(dout, dhn, cache)
    for k, v in given.items():
        np.testing.assert_array_equal(v, before[k], err_msg=f"{k} was modified")


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", GRU_BEFORE])
def test_float32_stays_float32(kind):
    rng = np.random.default_rng(6)
    T, B, D, H = 3, 2, 3, 4
    G = GATES[kind]
    f32 = lambda a: None if a is None else a.astype(np.float32)  # noqa: E731
    x, h0, c0 = (
        f32(rng.standard_normal((T, B, D))),
        f32(rng.standard_normal((B, H))),
        f32(rng.standard_normal((B, H))),
    )
    w = {k: f32(v) for k, v in _weights(rng, G, D, H, True).items()}
    dout = f32(rng.standard_normal((T, B, H)))
    if kind == "lstm":
        out, (hn, cn), cache = K.lstm_forward(x, h0, c0, w)
        dx, (dh0, dc0), grads = K.lstm_backward(dout, None, None, cache)
        arrays = [out, hn, cn, dx, dh0, dc0, *grads.values()]
    else:
        forward, backward = _layer_pair(kind)
        out, hn, cache = forward(x, h0, w)
        dx, dh0, grads = backward(dout, None, cache)
        arrays = [out, hn, dx, dh0, *grads.values()]
    assert all(a.dtype == np.float32 for a in arrays if a is not None)


def test_batch_sizes_validated():
    x, h0 = np.zeros((3, 2, 1)), np.zeros((2, 1))
    w = _weights(np.random.default_rng(0), 1, 1, 1, True)
    for bad in ([2, 2], [1, 1, 1], [2, 1, 2], [2, 2, -1]):
        with pytest.raises(ValueError, match="batch_sizes"):
            K.rnn_forward(x, h0, w, batch_sizes=bad)


@pytest.mark.parametrize("x_scale", [1e4, -1e4])
def test_saturated_gates_no_warnings(x_scale):
    rng = np.random.default_rng(7)
    T, B, D, H = 3, 2, 3, 4
    x = np.full((T, B, D), x_scale)
    w = _weights(rng, 4, D, H, True)
    with np.errstate(all="raise"):
        out, (hn, cn), cache = K.lstm_forward(x, np.zeros((B, H)), np.zeros((B, H)), w)
        K.lstm_backward(np.ones_like(out), None, None, cache)
        for reset_after in (True, False):
            w3 = _weights(rng, 3, D, H, True)
            out, hn, cache = K.gru_forward(x, np.zeros((B, H)), w3, reset_after=reset_after)
            K.gru_backward(np.ones_like(out), None, cache)
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", GRU_BEFORE])
def test_padding_with_extreme_values_raises_no_warning(kind):
    """Padded positions may hold anything; they never reach the arithmetic of the backward."""
    rng = np.random.default_rng(8)
    T, B, D, H = 5, 3, 2, 4
    G = GATES[kind]
    x = rng.standard_normal((T, B, D))
    x[3:, 1] = 1e150  # padding far outside any activation's useful range
    x[3:, 2] = -1e150
    w = _weights(rng, G, D, H, True)
    bs = [3, 3, 3, 1, 1]
    with np.errstate(all="raise"):
        if kind == "lstm":
            out, _, cache = K.lstm_forward(x, np.zeros((B, H)), np.zeros((B, H)), w, batch_sizes=bs)
            dx, _, grads = K.lstm_backward(np.ones_like(out), None, None, cache)
        else:
            forward, backward = _layer_pair(kind)
            out, _, cache = forward(x, np.zeros((B, H)), w, batch_sizes=bs)
            dx, _, grads = backward(np.ones_like(out), None, cache)
    assert all(np.all(np.isfinite(g)) for g in grads.values() if g is not None)
    assert np.all(dx[3:, 1:] == 0)
