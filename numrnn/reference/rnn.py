r"""Elman RNN, the readable reference: one step forward and back, then the loop over time.

PyTorch's formulation with ``weight_ih`` ``(H, D)``, ``weight_hh`` ``(H, H)`` and
``phi`` = tanh or relu.  Forward of one step::

    a_x = x W_ih^T + b_ih            (B, H), the input's part
    a_h = h_prev W_hh^T + b_hh       (B, H), the recurrent part
    a = a_x + a_h
    h = phi(a)

Backward of one step, given dh = dL/dh (from the output and from the later steps)::

    da = dh * (1 - h^2)        (tanh)    or    da = dh * [h > 0]   (relu)
    dx = da W_ih,  dh_prev = da W_hh,  dW_ih = da^T x,  dW_hh = da^T h_prev,  db = sum_B da

With a dict as ``record=``, each step function also stores its intermediate
quantities there under these names (:mod:`numrnn.trace` prints them).

:mod:`numrnn.kernels.rnn` computes the same, faster; tests/reference ties the two.
"""

from __future__ import annotations

import numpy as np

from numrnn.reference.common import bias_or_zeros, check_sequence

__all__ = [
    "rnn_backward",
    "rnn_forward",
    "rnn_relu_step_forward",
    "rnn_step_backward",
    "rnn_step_forward",
]


def rnn_step_forward(x, h_prev, params, nonlinearity="tanh", *, record=None):
    """One step: ``x`` (B, D), ``h_prev`` (B, H) -> ``h`` (B, H), cache.

    Raises ValueError if ``nonlinearity`` is not ``"tanh"`` or ``"relu"``.
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")
    H = params["weight_hh"].shape[0]
    b_ih = bias_or_zeros(params, "bias_ih", H, x.dtype)
    b_hh = bias_or_zeros(params, "bias_hh", H, x.dtype)
    a_x = x @ params["weight_ih"].T + b_ih  # (B, H)
    a_h = h_prev @ params["weight_hh"].T + b_hh  # (B, H)
    a = a_x + a_h
    h = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)
    if record is not None:
        record.update(a_x=a_x, a_h=a_h, a=a, h=h)
    return h, (x, h_prev, h, nonlinearity, params)


def rnn_relu_step_forward(x, h_prev, params, *, record=None):
    """:func:`rnn_step_forward` with ``nonlinearity="relu"`` (the step of ``rnn_relu_cell``)."""
    return rnn_step_forward(x, h_prev, params, nonlinearity="relu", record=record)


def rnn_step_backward(dh, cache, *, record=None):
    """``dh`` (B, H) -> ``dx`` (B, D), ``dh_prev`` (B, H), ``grads`` (the keys of ``params``)."""
    x, h_prev, h, nonlinearity, params = cache
    da = dh * (1 - h**2) if nonlinearity == "tanh" else dh * (h > 0)  # (B, H)
    dx = da @ params["weight_ih"]  # (B, D)
    dh_prev = da @ params["weight_hh"]  # (B, H)
    grads = {"weight_ih": da.T @ x, "weight_hh": da.T @ h_prev}  # (H, D), (H, H)
    grads["bias_ih"] = grads["bias_hh"] = da.sum(axis=0)  # (H,)
    if record is not None:
        record.update(da=da, dh_prev=dh_prev, dx=dx)
    return dx, dh_prev, {name: grads[name] for name in params}


def rnn_forward(x, h0, params, nonlinearity="tanh"):
    """Run over time: ``x`` (T, B, D), ``h0`` (B, H) or None (zeros).

    Returns ``out`` (T, B, H), ``hT`` (B, H) and the cache: the list of step caches.
    Raises TypeError or ValueError (naming the argument) for inputs that do not fit.
    """
    H = params["weight_hh"].shape[0]
    check_sequence("rnn_forward", x, params, [("h0", h0, H)])
    T, B, _ = x.shape
    h = np.zeros((B, H), x.dtype) if h0 is None else h0
    hs, caches = [], []
    for t in range(T):
        h, cache = rnn_step_forward(x[t], h, params, nonlinearity)
        hs.append(h)
        caches.append(cache)
    return np.stack(hs), h, caches


def rnn_backward(dout, dhT, caches):
    """BPTT: ``dout`` (T, B, H), ``dhT`` (B, H) or None -> ``dx`` (T, B, D), ``dh0``, ``grads``.

    The gradient of ``h_t`` is what the output receives plus ``dh_next``, what
    the step after it sent back.
    """
    dh_next = np.zeros_like(dout[0]) if dhT is None else dhT
    dxs, grads = [], None
    for t in reversed(range(len(caches))):
        dx, dh_next, g = rnn_step_backward(dout[t] + dh_next, caches[t])
        dxs.append(dx)
        grads = g if grads is None else {name: grads[name] + g[name] for name in g}
    return np.stack(dxs[::-1]), dh_next, grads
