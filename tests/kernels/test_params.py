"""The sequence kernels take the weights as the reference does: one ``params`` dict.

One dict goes to both ``numrnn.reference.<cell>_forward`` and ``numrnn.kernels.<cell>_forward``
and both give the same numbers.  Tolerance 1e-12 normwise relative (``helpers.rel_err``):
the two compute the same float64 expressions in a different order (folded biases,
sigma(a) = tanh(a/2)/2 + 1/2), a few ulps (~1e-15) per step; a wrong weight or gate
slice shows up at 1e-3 or worse.  Then the checks of the dict's keys.
"""

import numpy as np
import pytest
from helpers import rel_err

import numrnn.kernels as K
import numrnn.reference as R

TOL = 1e-12
GATES = {"rnn": 1, "lstm": 4, "gru": 3}

#: (cell, projection size, the cell's own option): every form of each kernel
FORMS = [
    ("rnn", 0, {"nonlinearity": "tanh"}),
    ("rnn", 0, {"nonlinearity": "relu"}),
    ("lstm", 0, {}),
    ("lstm", 2, {}),
    ("gru", 0, {"reset_after": True}),
    ("gru", 0, {"reset_after": False}),
]


def _params(rng, kind, D, H, bias, P=0):
    """The reference's dict: ``weight_ih``, ``weight_hh``, the biases only when there are any."""
    G = GATES[kind]
    params = {
        "weight_ih": rng.standard_normal((G * H, D)) * 0.5,
        "weight_hh": rng.standard_normal((G * H, P or H)) * 0.5,
    }
    if bias:
        params["bias_ih"] = rng.standard_normal(G * H) * 0.5
        params["bias_hh"] = rng.standard_normal(G * H) * 0.5
    if P:
        params["weight_hr"] = rng.standard_normal((P, H)) * 0.5
    return params


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind,P,option", FORMS)
def test_one_dict_for_the_reference_and_the_kernel(kind, P, option, bias):
    rng = np.random.default_rng(0)
    T, B, D, H = 5, 3, 4, 3
    params = _params(rng, kind, D, H, bias, P)
    x, h0, c0 = (rng.standard_normal(s) for s in ((T, B, D), (B, P or H), (B, H)))
    dout, dhn, dcn = (rng.standard_normal(s) for s in ((T, B, P or H), (B, P or H), (B, H)))
    if kind == "lstm":
        out, (hn, cn), cache = K.lstm_forward(x, h0, c0, params)
        dx, (dh0, dc0), grads = K.lstm_backward(dout, dhn, dcn, cache)
        r_out, (r_hn, r_cn), r_cache = R.lstm_forward(x, (h0, c0), params)
        r_dx, (r_dh0, r_dc0), r_grads = R.lstm_backward(dout, (dhn, dcn), r_cache)
        pairs = {"cn": (cn, r_cn), "dc0": (dc0, r_dc0)}
    else:
        out, hn, cache = getattr(K, f"{kind}_forward")(x, h0, params, **option)
        dx, dh0, grads = getattr(K, f"{kind}_backward")(dout, dhn, cache)
        r_out, r_hn, r_cache = getattr(R, f"{kind}_forward")(x, h0, params, **option)
        r_dx, r_dh0, r_grads = getattr(R, f"{kind}_backward")(dout, dhn, r_cache)
        pairs = {}
    pairs.update(out=(out, r_out), hn=(hn, r_hn), dx=(dx, r_dx), dh0=(dh0, r_dh0))
    pairs.update({name: (grads[name], r_grads[name]) for name in params})
    errs = {name: rel_err(a, b) for name, (a, b) in pairs.items()}
    assert all(e <= TOL for e in errs.values()), errs
    assert all(grads[name] is None for name in grads if name not in params)


def _call(kind, params):
    rng = np.random.default_rng(1)
    x, h0 = rng.standard_normal((2, 1, 3)), np.zeros((1, 2))
    if kind == "lstm":
        return K.lstm_forward(x, h0, h0, params)
    return getattr(K, f"{kind}_forward")(x, h0, params)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_the_keys_of_params_are_checked(kind):
    """Each error names the kernel and the key; absent or None optional keys mean no such weight."""
    params = _params(np.random.default_rng(2), kind, 3, 2, bias=True)
    fn = f"{kind}_forward"
    with pytest.raises(KeyError, match=f"{fn}: params has an unknown key 'weight_ih_l0'"):
        _call(kind, {**params, "weight_ih_l0": params["weight_ih"]})
    for name in ("weight_ih", "weight_hh"):
        with pytest.raises(KeyError, match=f"{fn}: params has no '{name}'"):
            _call(kind, {k: v for k, v in params.items() if k != name})
        with pytest.raises(KeyError, match=f"{fn}: params has no '{name}'"):
            _call(kind, {**params, name: None})
    with pytest.raises(ValueError, match=f"{fn}: params has bias_hh alone"):
        _call(kind, {**params, "bias_ih": None})
    with pytest.raises(TypeError, match=f"{fn}: params must be a dict of weights; got tuple"):
        _call(kind, tuple(params.values()))
    no_bias = {"weight_ih": params["weight_ih"], "weight_hh": params["weight_hh"]}
    out = _call(kind, no_bias)[0]
    np.testing.assert_array_equal(
        out, _call(kind, {**no_bias, "bias_ih": None, "bias_hh": None})[0]
    )


@pytest.mark.parametrize("kind", ["rnn", "gru"])
def test_a_projection_is_the_lstm_s_alone(kind):
    params = _params(np.random.default_rng(3), kind, 3, 2, bias=False)
    with pytest.raises(KeyError, match=f"{kind}_forward: params has an unknown key 'weight_hr'"):
        _call(kind, {**params, "weight_hr": np.zeros((2, 2))})
