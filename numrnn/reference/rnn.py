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

Over time, the step runs for ``t = 0 .. T-1`` and BPTT walks back carrying ``dh_next``:
:func:`sequence_forward` and :func:`sequence_backward`, at the end of this file, written
for any cell with one state ``h`` (:mod:`numrnn.reference.gru` runs its step through them).

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
    "sequence_backward",
    "sequence_forward",
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
    """The Elman RNN over time: :func:`sequence_forward` with :func:`rnn_step_forward`.

    ``x`` (T, B, D), ``h0`` (B, H) or None (zeros).  Returns ``out`` (T, B, H), ``hT``
    (B, H) and the cache.  Raises TypeError or ValueError (naming the argument) for
    inputs that do not fit.
    """
    check_sequence("rnn_forward", x, params, [("h0", h0, params["weight_hh"].shape[1])])
    return sequence_forward(rnn_step_forward, x, h0, params, nonlinearity)


def rnn_backward(dout, dhT, caches):
    """BPTT through the Elman RNN: :func:`sequence_backward` with :func:`rnn_step_backward`.

    ``dout`` (T, B, H), ``dhT`` (B, H) or None -> ``dx`` (T, B, D), ``dh0``, ``grads``.
    """
    return sequence_backward(rnn_step_backward, dout, dhT, caches)


def sequence_forward(step_forward, x, h0, params, *options):
    """The loop over time of any cell with one state ``h`` (this RNN, the GRU).

    ``h_t, cache_t = step_forward(x_t, h_{t-1}, params, *options)`` for ``t = 0 .. T-1``,
    from ``h_{-1} = h0`` (zeros if None).  ``x`` (T, B, D), ``h0`` (B, H) or None.
    Returns ``out`` (T, B, H), every ``h_t``; ``hT`` (B, H), the last; and the cache,
    the list of the step caches: what BPTT keeps.
    """
    T, B, _ = x.shape
    h = np.zeros((B, params["weight_hh"].shape[1]), x.dtype) if h0 is None else h0
    hs, caches = [], []
    for t in range(T):
        h, cache = step_forward(x[t], h, params, *options)
        hs.append(h)
        caches.append(cache)
    return np.stack(hs), h, caches


def sequence_backward(step_backward, dout, dhT, caches):
    """BPTT: the loop over reversed time of any cell with one state ``h`` (this RNN, the GRU).

    ``h_t`` feeds the output at step ``t`` and the step ``t + 1``, so its gradient is
    ``dout[t]`` plus ``dh_next``, what step ``t + 1`` sent back; every step uses the
    same weights, so their gradients add up::

        dh_next = dhT                                       (zeros if None)
        for t = T-1 down to 0:
            dx[t], dh_next, g_t = step_backward(dout[t] + dh_next, caches[t])
            grads += g_t
        dh0 = dh_next

    ``dout`` (T, B, H), ``dhT`` (B, H) or None -> ``dx`` (T, B, D), ``dh0`` (B, H),
    ``grads`` (the keys of ``params``).
    """
    dh_next = np.zeros_like(dout[0]) if dhT is None else dhT
    dxs, grads = [], None
    for t in reversed(range(len(caches))):
        dx, dh_next, g = step_backward(dout[t] + dh_next, caches[t])
        dxs.append(dx)
        grads = g if grads is None else {name: grads[name] + g[name] for name in g}
    return np.stack(dxs[::-1]), dh_next, grads
