r"""LSTM, the readable reference: one step forward and back, then the loop over time.

PyTorch's formulation, gates stacked ``i, f, g, o`` in ``weight_ih`` ``(4H, D)`` and
``weight_hh`` ``(4H, P)``; with ``weight_hr`` ``(P, H)`` in ``params`` the output is
projected (``proj_size = P``), else ``P = H``.  Forward of one step::

    a = x W_ih^T + b_ih + h_prev W_hh^T + b_hh      (B, 4H), split into a_i, a_f, a_g, a_o
    i = sigmoid(a_i)
    f = sigmoid(a_f)
    g = tanh(a_g)
    o = sigmoid(a_o)
    c = f * c_prev + i * g
    tanh_c = tanh(c)
    m = o * tanh_c
    h = m W_hr^T            (or h = m without projection)

Backward of one step, given dh = dL/dh and dc_next = dL/dc from the later steps::

    dW_hr = dh^T m
    dm = dh W_hr            (or dm = dh)
    do = dm * tanh_c
    dc = dc_next + dm * o * (1 - tanh_c^2)
    di = dc * g
    df = dc * c_prev
    dg = dc * i
    dc_prev = dc * f
    da_i, da_f, da_g, da_o = di * i(1-i), df * f(1-f), dg * (1-g^2), do * o(1-o)
    da = [da_i, da_f, da_g, da_o]
    dx = da W_ih,  dh_prev = da W_hh,  dW_ih = da^T x,  dW_hh = da^T h_prev,  db = sum_B da

With a dict as ``record=``, each step function also stores its intermediate
quantities there under these names (:mod:`numrnn.trace` prints them).

:mod:`numrnn.kernels.lstm` computes the same, faster; tests/reference ties the two.
"""

from __future__ import annotations

import numpy as np

from numrnn.reference.common import bias_or_zeros, check_sequence, sigmoid

__all__ = ["lstm_backward", "lstm_forward", "lstm_step_backward", "lstm_step_forward"]


def lstm_preactivations(p_ih, p_hh, params):
    """The gates' pre-activations: ``a = p_ih + b_ih + p_hh + b_hh`` split into ``a_i, a_f, a_g, a_o``.

    ``p_ih``, ``p_hh`` (B, 4H): the input's and the recurrent products, ``x W_ih^T`` and
    ``h_prev W_hh^T`` (their layer norms in :mod:`numrnn.reference.lstm_layernorm`).
    An absent bias counts as zeros.  Returns four ``(B, H)`` arrays, in PyTorch's order.
    """
    b_ih = bias_or_zeros(params, "bias_ih", p_ih.shape[1], p_ih.dtype)
    b_hh = bias_or_zeros(params, "bias_hh", p_hh.shape[1], p_hh.dtype)
    return np.split(p_ih + b_ih + p_hh + b_hh, 4, axis=1)


def lstm_step_forward(x, state, params, *, record=None):
    """One step: ``x`` (B, D), ``state = (h_prev (B, P), c_prev (B, H))`` -> ``(h, c), cache``."""
    h_prev, c_prev = state
    p_ih, p_hh = x @ params["weight_ih"].T, h_prev @ params["weight_hh"].T  # (B, 4H) each
    a_i, a_f, a_g, a_o = lstm_preactivations(p_ih, p_hh, params)  # each (B, H)
    i = sigmoid(a_i)
    f = sigmoid(a_f)
    g = np.tanh(a_g)
    o = sigmoid(a_o)
    c = f * c_prev + i * g  # (B, H)
    tanh_c = np.tanh(c)
    m = o * tanh_c  # (B, H)
    h = m @ params["weight_hr"].T if "weight_hr" in params else m  # (B, P)
    if record is not None:
        record.update(a_i=a_i, a_f=a_f, a_g=a_g, a_o=a_o, i=i, f=f, g=g, o=o, c=c, tanh_c=tanh_c)
    return (h, c), (x, h_prev, c_prev, i, f, g, o, tanh_c, m, params)


def lstm_step_backward(dstate, cache, *, record=None):
    """``dstate = (dh (B, P), dc_next (B, H))`` -> ``dx, (dh_prev, dc_prev), grads``.

    ``grads`` has the keys of the step's ``params``.
    """
    dh, dc_next = dstate
    x, h_prev, c_prev, i, f, g, o, tanh_c, m, params = cache
    grads = {}
    if "weight_hr" in params:
        grads["weight_hr"] = dh.T @ m  # (P, H)
        dm = dh @ params["weight_hr"]  # (B, H)
    else:
        dm = dh
    do = dm * tanh_c
    dc = dc_next + dm * o * (1 - tanh_c**2)
    di = dc * g
    df = dc * c_prev
    dg = dc * i
    dc_prev = dc * f
    da_i, da_f, da_g, da_o = di * i * (1 - i), df * f * (1 - f), dg * (1 - g**2), do * o * (1 - o)
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)  # (B, 4H)
    dx = da @ params["weight_ih"]  # (B, D)
    dh_prev = da @ params["weight_hh"]  # (B, P)
    grads["weight_ih"] = da.T @ x  # (4H, D)
    grads["weight_hh"] = da.T @ h_prev  # (4H, P)
    grads["bias_ih"] = grads["bias_hh"] = da.sum(axis=0)  # (4H,)
    if record is not None:
        record.update(do=do, dc=dc, di=di, df=df, dg=dg, da_i=da_i, da_f=da_f, da_g=da_g)
        record.update(da_o=da_o, dc_prev=dc_prev, dh_prev=dh_prev, dx=dx)
    return dx, (dh_prev, dc_prev), {name: grads[name] for name in params}


def lstm_forward(x, state, params):
    """Run over time: ``x`` (T, B, D), ``state = (h0, c0)`` (either may be None: zeros).

    Returns ``out`` (T, B, P), ``(hT, cT)`` and the cache: the list of step caches.
    Raises TypeError or ValueError (naming the argument) for inputs that do not fit.
    """
    H, P = params["weight_hh"].shape[0] // 4, params["weight_hh"].shape[1]
    h0, c0 = state if state is not None else (None, None)
    check_sequence("lstm_forward", x, params, [("h0", h0, P), ("c0", c0, H)])
    T, B, _ = x.shape
    h = np.zeros((B, P), x.dtype) if h0 is None else h0
    c = np.zeros((B, H), x.dtype) if c0 is None else c0
    hs, caches = [], []
    for t in range(T):
        (h, c), cache = lstm_step_forward(x[t], (h, c), params)
        hs.append(h)
        caches.append(cache)
    return np.stack(hs), (h, c), caches


def lstm_backward(dout, dstate, caches):
    """BPTT: ``dout`` (T, B, P), ``dstate = (dhT, dcT)`` (either may be None).

    Returns ``dx`` (T, B, D), ``(dh0, dc0)`` and ``grads`` summed over the steps.
    The gradient of ``h_t`` is what the output receives plus ``dh_next``, what the
    step after it sent back; ``c_t`` receives only ``dc_next``.  (The one-state loop of
    :mod:`numrnn.reference.rnn` carries ``dh_next`` alone; this one names both.)
    """
    dhT, dcT = dstate if dstate is not None else (None, None)
    c_prev = caches[-1][2]  # (B, H), the shape of every c
    dh_next = np.zeros_like(dout[0]) if dhT is None else dhT
    dc_next = np.zeros_like(c_prev) if dcT is None else dcT
    dxs, grads = [], None
    for t in reversed(range(len(caches))):
        dx, (dh_next, dc_next), g = lstm_step_backward((dout[t] + dh_next, dc_next), caches[t])
        dxs.append(dx)
        grads = g if grads is None else {name: grads[name] + g[name] for name in g}
    return np.stack(dxs[::-1]), (dh_next, dc_next), grads
