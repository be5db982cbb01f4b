r"""The Elman RNN: one step and one layer-direction over time, forward and backward.

.. math::

    a_t = x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh}, \qquad
    h_t = \phi(a_t), \quad \phi \in \{\tanh, \mathrm{relu}\}

Backward, with :math:`g_t = \partial L/\partial h_t` (from the output at ``t``
plus what step ``t+1`` sends back):

.. math::

    \delta_t = g_t \odot \phi'(a_t), \quad \phi' = 1 - h_t^2 \text{ (tanh) or } [h_t > 0] \text{ (relu)}

    \partial L/\partial h_{t-1} \mathrel{+}= \delta_t W_{hh}, \quad
    \partial L/\partial W_{hh} = \textstyle\sum_t \delta_t^\top h_{t-1}, \quad
    \partial L/\partial W_{ih} = \textstyle\sum_t \delta_t^\top x_t

What BPTT keeps: the states ``h_0 .. h_T`` only (``(T+1, B, H)``); the
derivative of :math:`\phi` is recomputed from :math:`h_t`.
"""

from __future__ import annotations

from ..backend import ops
from .sequence import (
    _record,
    active_rows,
    backward_blocks,
    check_batch_sizes,
    input_weight_grads,
    project_inputs,
    recurrent_weight_grad,
    sequence_views,
    state_slots,
    time_steps,
    transposed,
    workspace,
    zero_padding,
)

__all__ = ["rnn_backward", "rnn_forward", "rnn_step_backward", "rnn_step_forward"]

_NONLINEARITIES = ("tanh", "relu")


def _activate(a, nonlinearity, out):
    """``out = phi(a)``."""
    xp = ops(a)
    if nonlinearity == "tanh":
        return xp.tanh(a, out=out)
    return xp.maximum(a, 0, out=out)


def _activation_grad(dh, h, nonlinearity):
    r""":math:`\delta = g \odot \phi'(a)`, with :math:`\phi'` written through :math:`h = \phi(a)`."""
    return dh * _local_grad(h, nonlinearity)


def _local_grad(h, nonlinearity, out=None):
    r""":math:`\phi'(a)` from :math:`h = \phi(a)`: :math:`1 - h^2` (tanh) or :math:`[h > 0]` (relu)."""
    xp = ops(h)
    if nonlinearity == "tanh":
        out = xp.multiply(h, h, out=out)
        return xp.subtract(1, out, out=out)
    mask = h > 0
    if out is None:
        return mask.astype(h.dtype) if xp.name == "numpy" else mask.to(h.dtype)
    out[...] = mask
    return out


def _check_nonlinearity(nonlinearity):
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")


def _bias(bias_ih, bias_hh):
    return None if bias_ih is None else bias_ih + bias_hh


def rnn_step_forward(
    x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"
):
    r"""One step :math:`h = \phi(x W_{ih}^\top + b_{ih} + h_{prev} W_{hh}^\top + b_{hh})`.

    Args:
        x: ``(B, D)``; h_prev: ``(B, H)``; weight_ih: ``(H, D)``; weight_hh: ``(H, H)``;
        bias_ih, bias_hh: ``(H,)`` or both None.

    Returns:
        ``h`` ``(B, H)`` and the cache ``(x, h_prev, h, weights..., nonlinearity)``.
    """
    _check_nonlinearity(nonlinearity)
    xp = ops(x)
    a = xp.matmul(x, weight_ih.T) + xp.matmul(h_prev, weight_hh.T)  # (B, H)
    if bias_ih is not None:
        a += _bias(bias_ih, bias_hh)
    h = _activate(a, nonlinearity, out=a)
    return h, (x, h_prev, h, weight_ih, weight_hh, bias_ih is not None, nonlinearity)


def rnn_step_backward(dh, cache):
    r"""Backward of one step: :math:`\delta = g \odot \phi'`, then the three products.

    Returns:
        ``(dx (B, D), dh_prev (B, H), grads)`` with ``grads`` a dict of
        ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` (biases None without bias).
    """
    x, h_prev, h, weight_ih, weight_hh, has_bias, nonlinearity = cache
    xp = ops(dh)
    da = _activation_grad(dh, h, nonlinearity)  # (B, H)
    db = xp.sum(da, axis=0) if has_bias else None
    grads = {
        "weight_ih": xp.matmul(da.T, x),
        "weight_hh": xp.matmul(da.T, h_prev),
        "bias_ih": db,
        "bias_hh": None if db is None else xp.copy(db),
    }
    return xp.matmul(da, weight_ih), xp.matmul(da, weight_hh), grads


def rnn_forward(
    x,
    h0,
    weight_ih,
    weight_hh,
    bias_ih=None,
    bias_hh=None,
    nonlinearity="tanh",
    reverse=False,
    batch_sizes=None,
):
    r"""One layer-direction of an RNN over ``T`` steps.

    Args:
        x: ``(T, B, D)`` inputs; h0: ``(B, H)`` initial state.
        weight_ih: ``(H, D)``; weight_hh: ``(H, H)``; bias_ih, bias_hh: ``(H,)`` or None.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        reverse: run from ``t = T-1`` down to 0 (the backward direction of a bidirectional layer).
        batch_sizes: ``T`` non-increasing active-row counts (rows sorted by length,
            longest first), or None when every row has length ``T``.

    Returns:
        ``out`` ``(T, B, H)`` (zero at padded positions), ``hn`` ``(B, H)`` and the cache.

    Raises:
        ValueError: unknown nonlinearity or inconsistent ``batch_sizes``.
    """
    _check_nonlinearity(nonlinearity)
    xp = ops(x)
    T, B, _ = x.shape
    H = weight_hh.shape[0]
    batch_sizes = check_batch_sizes(batch_sizes, T, B)
    a = project_inputs(x, weight_ih, _bias(bias_ih, bias_hh))  # (T, B, H), scratch
    hs = xp.empty((T + 1, B, H), like=a)  # states in time order, see sequence.py
    hs[T if reverse else 0] = h0
    whhT = transposed(weight_hh)  # (H, H) row-major
    for t in time_steps(T, reverse):
        p, c = state_slots(t, reverse)
        n = active_rows(batch_sizes, t, B)
        a_t = a[t, :n]  # (n, H)
        a_t += xp.matmul(hs[p, :n], whhT)
        _activate(a_t, nonlinearity, out=hs[c, :n])
        if n < B:
            hs[c, n:] = hs[p, n:]  # inactive rows keep their state
    out, _, hn = sequence_views(hs, reverse)
    if batch_sizes is not None:
        out = zero_padding(xp.copy(out), batch_sizes)
    cache = (x, hs, weight_ih, weight_hh, bias_ih is not None, nonlinearity, reverse, batch_sizes)
    return out, xp.copy(hn), cache


def rnn_backward(dout, dhn, cache, record=None):
    r"""BPTT through one layer-direction (the docstring of this module has the equations).

    Args:
        dout: ``(T, B, H)`` gradient of the outputs (padded positions ignored) or None.
        dhn: ``(B, H)`` gradient of the final state or None.

        record: None, or a dict that receives ``"h"``: the norm of
            :math:`\partial L/\partial h_t` (over the active rows) for every ``t``
            as a NumPy array ``(T,)``.
            Off (None), it costs one test per step.

    Returns:
        ``(dx (T, B, D), dh0 (B, H), grads)``; ``grads`` holds ``weight_ih``,
        ``weight_hh``, ``bias_ih``, ``bias_hh``.
    """
    x, hs, weight_ih, weight_hh, has_bias, nonlinearity, reverse, batch_sizes = cache
    xp = ops(hs)
    T, B, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    h_all, h_prev, _ = sequence_views(hs, reverse)  # h_t and h_{t-1} for every t, (T, B, H)
    da = workspace("rnn.da", (T, B, H), hs)  # phi'(a_t), then delta_t; zero on padded rows
    dh_next = xp.zeros((B, H), like=hs) if dhn is None else xp.copy(dhn)  # carried gradient
    for lo, hi, steps in backward_blocks(T, reverse, B * H):
        # the local factor phi'(a_t) of a block of steps at once (see sequence.backward_blocks)
        _local_grad(h_all[lo:hi], nonlinearity, out=da[lo:hi])
        zero_padding(da[lo:hi], None if batch_sizes is None else batch_sizes[lo:hi])
        for t in steps:
            n = active_rows(batch_sizes, t, B)
            dh = dh_next[:n]  # (n, H) view: rows past n carry their gradient through unchanged
            if dout is not None:
                dh += dout[t, :n]
            if record is not None:
                _record(record, "h", t, T, dh)
            da[t, :n] *= dh  # delta_t = dL/dh_t * phi'(a_t)
            xp.matmul(da[t, :n], weight_hh, out=dh_next[:n])  # dL/dh_{t-1}
    dx, dweight_ih, db = input_weight_grads(da, x, weight_ih)
    grads = {
        "weight_ih": dweight_ih,
        "weight_hh": recurrent_weight_grad(da, h_prev),
        "bias_ih": db if has_bias else None,
        "bias_hh": xp.copy(db) if has_bias else None,
    }
    return dx, dh_next, grads
