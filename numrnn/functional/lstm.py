r"""The LSTM (PyTorch's formulation, gates stacked ``i, f, g, o``), optionally with projection.

.. math::

    a_t &= x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh}
          = [a^i, a^f, a^g, a^o] \\
    i &= \sigma(a^i), \quad f = \sigma(a^f), \quad g = \tanh(a^g), \quad o = \sigma(a^o) \\
    c_t &= f \odot c_{t-1} + i \odot g \\
    m_t &= o \odot \tanh(c_t), \qquad h_t = m_t \;\text{or}\; h_t = m_t W_{hr}^\top \text{ (proj\_size > 0)}

Backward of one step, with :math:`g^h = \partial L/\partial h_t` and :math:`g^c`
the gradient reaching :math:`c_t` from step ``t+1``:

.. math::

    \partial m &= g^h \;\text{or}\; g^h W_{hr} \\
    \partial o &= \partial m \odot \tanh c_t, \qquad
    \partial c = g^c + \partial m \odot o \odot (1 - \tanh^2 c_t) \\
    \partial i &= \partial c \odot g, \quad \partial f = \partial c \odot c_{t-1}, \quad
    \partial g = \partial c \odot i, \quad \partial c_{t-1} = \partial c \odot f \\
    \delta &= [\partial i\, i(1-i),\; \partial f\, f(1-f),\; \partial g\,(1-g^2),\; \partial o\, o(1-o)] \\
    \partial h_{t-1} &= \delta W_{hh}

What BPTT keeps per step: the four activated gates (``4H``), the cell state
(``H``) and the hidden state (``H``, or ``P`` with projection): exactly what the
equations above read.  :math:`\tanh c_t` and :math:`m_t` are recomputed.
"""

from __future__ import annotations

import numpy as np

from ..backend import ops
from .sequence import (_record, active_rows, check_batch_sizes, input_weight_grads, project_inputs,
                       recurrent_weight_grad, sequence_views, state_slots, time_steps, transposed,
                       zero_padding)

__all__ = ["lstm_cell_forward", "lstm_cell_backward", "lstm_step_forward", "lstm_step_backward",
           "lstm_forward", "lstm_backward"]


class GateConstants:
    r"""Per-column constants of the stacked gates ``[i, f, g, o]``, each ``(4H,)``.

    They let one elementwise expression serve all four gates at once:

    * activation: :math:`\sigma(a) = \tfrac12 \tanh(\tfrac12 a) + \tfrac12` and
      :math:`\tanh(a) = 1 \cdot \tanh(1 \cdot a) + 0`, so
      ``gates = scale * tanh(scale * a) + shift`` with ``scale`` 1/2 on ``i, f, o`` and
      1 on ``g``, ``shift = 1 - scale`` (single pass, never overflows);
    * derivative, written through the activated value ``G``:
      :math:`\sigma' = s(1 - s)` and :math:`\tanh' = 1 - g^2`, so
      ``G * (U - G) + V`` with ``U`` 1 on ``i, f, o`` and 0 on ``g``, ``V = 1 - U``.
    """

    __slots__ = ("scale", "shift", "U", "V")

    def __init__(self, H, like):
        xp = ops(like)
        sigmoid_cols = np.ones(4 * H)
        sigmoid_cols[2 * H : 3 * H] = 0  # the g block is a tanh
        dtype = xp.numpy_dtype(like)
        const = lambda v: xp.asarray(np.asarray(v, dtype=dtype))  # noqa: E731
        self.scale = const(1 - 0.5 * sigmoid_cols)
        self.shift = const(0.5 * sigmoid_cols)
        self.U, self.V = const(sigmoid_cols), const(1 - sigmoid_cols)


def lstm_cell_forward(a, c_prev, c, m, k):
    r"""The pointwise part of a step: gates, new cell state and :math:`m = o \odot \tanh c`.

    Args:
        a: ``(B, 4H)`` pre-activations; overwritten in place by the gates ``[i, f, g, o]``.
        c_prev: ``(B, H)``.
        c, m: ``(B, H)`` output buffers for :math:`c_t` and :math:`m_t`.
        k: :class:`GateConstants` for this ``H`` and dtype.
    """
    xp = ops(a)
    H = c.shape[-1]
    a *= k.scale  # sigma(a) = tanh(a/2)/2 + 1/2 for i, f, o; tanh(a) for g
    xp.tanh(a, out=a)
    a *= k.scale
    a += k.shift
    i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
    xp.multiply(i, g, out=m)
    xp.multiply(f, c_prev, out=c)
    c += m  # c_t = f * c_{t-1} + i * g
    xp.tanh(c, out=m)
    m *= o  # m_t = o * tanh(c_t)


def lstm_cell_backward(dm, dc, gates, c_prev, c, da, k, work, dc_total=None):
    r"""Backward of :func:`lstm_cell_forward` (the equations are in this module's docstring).

    Args:
        dm: ``(B, H)`` gradient of :math:`m_t`.
        dc: ``(B, H)``, updated in place: on entry the gradient reaching
            :math:`c_t` from the next step, on return :math:`\partial L/\partial c_{t-1}`.
        gates: ``(B, 4H)`` activated ``[i, f, g, o]``; c_prev, c: ``(B, H)``.
        da: ``(B, 4H)`` output buffer for :math:`\delta`, the pre-activation gradient.
        k: :class:`GateConstants`; work: scratch ``(tanh_c (B, H), tmp (B, H), deriv (B, 4H))``.
        dc_total: optional ``(B, H)`` buffer that receives the whole :math:`\partial L/\partial c_t`.
    """
    xp = ops(dm)
    H = c.shape[-1]
    i, f, g, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    tanh_c, tmp, deriv = work
    xp.tanh(c, out=tanh_c)
    xp.multiply(tanh_c, tanh_c, out=tmp)
    xp.subtract(1, tmp, out=tmp)
    tmp *= o
    tmp *= dm
    dc += tmp  # dL/dc_t = (from c_{t+1}) + dm * o * (1 - tanh^2 c_t)
    if dc_total is not None:
        dc_total[...] = dc
    xp.multiply(dc, g, out=da[:, :H])  # dL/di = dc * g
    xp.multiply(dc, c_prev, out=da[:, H : 2 * H])  # dL/df = dc * c_{t-1}
    xp.multiply(dc, i, out=da[:, 2 * H : 3 * H])  # dL/dg = dc * i
    xp.multiply(dm, tanh_c, out=da[:, 3 * H :])  # dL/do = dm * tanh c_t
    xp.subtract(k.U, gates, out=deriv)  # through the activations, all gates at once:
    deriv *= gates  # G (U - G) + V = s (1 - s) for i, f, o and 1 - g^2 for g
    deriv += k.V
    da *= deriv
    dc *= f  # dL/dc_{t-1} = dc * f


def _work(B, H, like):
    xp = ops(like)
    return xp.empty((B, H), like=like), xp.empty((B, H), like=like), xp.empty((B, 4 * H), like=like)


def _bias(bias_ih, bias_hh):
    return None if bias_ih is None else bias_ih + bias_hh


def lstm_step_forward(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    r"""One LSTM step (no projection): ``x`` ``(B, D)``, ``h_prev``/``c_prev`` ``(B, H)``.

    Weights ``weight_ih`` ``(4H, D)``, ``weight_hh`` ``(4H, H)``, biases ``(4H,)`` or None.

    Returns:
        ``h`` ``(B, H)``, ``c`` ``(B, H)`` and the cache.
    """
    xp = ops(x)
    a = xp.matmul(x, weight_ih.T) + xp.matmul(h_prev, weight_hh.T)  # (B, 4H)
    if bias_ih is not None:
        a += _bias(bias_ih, bias_hh)
    c, h = xp.empty_like(c_prev), xp.empty_like(c_prev)
    lstm_cell_forward(a, c_prev, c, h, GateConstants(c.shape[-1], a))
    return h, c, (x, h_prev, c_prev, a, c, weight_ih, weight_hh, bias_ih is not None)


def lstm_step_backward(dh, dc, cache):
    r"""Backward of one step: returns ``(dx, dh_prev, dc_prev, grads)``.

    ``dh``, ``dc``: ``(B, H)`` gradients of the step's outputs (``dc`` may be None).
    ``grads`` holds ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``.
    """
    x, h_prev, c_prev, gates, c, weight_ih, weight_hh, has_bias = cache
    xp = ops(dh)
    da = xp.empty_like(gates)  # (B, 4H)
    H = c.shape[-1]
    dc_prev = xp.zeros_like(c) if dc is None else xp.copy(dc)  # becomes dL/dc_{t-1}
    lstm_cell_backward(dh, dc_prev, gates, c_prev, c, da, GateConstants(H, c), _work(c.shape[0], H, c))
    db = xp.sum(da, axis=0) if has_bias else None
    grads = {"weight_ih": xp.matmul(da.T, x), "weight_hh": xp.matmul(da.T, h_prev),
             "bias_ih": db, "bias_hh": None if db is None else xp.copy(db)}
    return xp.matmul(da, weight_ih), xp.matmul(da, weight_hh), dc_prev, grads


def lstm_forward(x, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, weight_hr=None,
                 reverse=False, batch_sizes=None):
    r"""One layer-direction of an LSTM over ``T`` steps.

    Args:
        x: ``(T, B, D)``; h0: ``(B, P)``; c0: ``(B, H)`` (``P = H`` without projection).
        weight_ih: ``(4H, D)``; weight_hh: ``(4H, P)``; biases ``(4H,)`` or None;
        weight_hr: ``(P, H)`` projection or None.
        reverse, batch_sizes: as in :func:`numrnn.functional.rnn_forward`.

    Returns:
        ``out`` ``(T, B, P)`` (zero at padded positions), ``(hn (B, P), cn (B, H))``, cache.
    """
    xp = ops(x)
    T, B, _ = x.shape
    H, P = c0.shape[-1], h0.shape[-1]
    batch_sizes = check_batch_sizes(batch_sizes, T, B)
    gates = project_inputs(x, weight_ih, _bias(bias_ih, bias_hh))  # (T, B, 4H), becomes the gates
    hs = xp.empty((T + 1, B, P), like=gates)  # hidden states in time order
    cs = xp.empty((T + 1, B, H), like=gates)  # cell states in time order
    start = T if reverse else 0
    hs[start], cs[start] = h0, c0
    m = None if weight_hr is None else xp.empty((B, H), like=gates)  # projection input m_t
    rec = xp.empty((B, 4 * H), like=gates)  # recurrent term h_{t-1} W_hh^T of one step
    k = GateConstants(H, gates)
    whhT = transposed(weight_hh)  # (P, 4H) row-major
    whrT = None if weight_hr is None else transposed(weight_hr)  # (H, P)
    for t in time_steps(T, reverse):
        p, c = state_slots(t, reverse)
        n = active_rows(batch_sizes, t, B)
        a = gates[t, :n]  # (n, 4H)
        a += xp.matmul(hs[p, :n], whhT, out=rec[:n])
        if weight_hr is None:
            lstm_cell_forward(a, cs[p, :n], cs[c, :n], hs[c, :n], k)
        else:
            lstm_cell_forward(a, cs[p, :n], cs[c, :n], m[:n], k)
            xp.matmul(m[:n], whrT, out=hs[c, :n])  # h_t = m_t W_hr^T
        if n < B:
            hs[c, n:], cs[c, n:] = hs[p, n:], cs[p, n:]
    out, _, hn = sequence_views(hs, reverse)
    _, _, cn = sequence_views(cs, reverse)
    if batch_sizes is not None:
        out = zero_padding(xp.copy(out), batch_sizes)
    cache = (x, hs, cs, gates, weight_ih, weight_hh, weight_hr, bias_ih is not None, reverse, batch_sizes)
    return out, (xp.copy(hn), xp.copy(cn)), cache


def lstm_backward(dout, dhn, dcn, cache, record=None):
    r"""BPTT through one LSTM layer-direction.

    Args:
        dout: ``(T, B, P)`` or None; dhn: ``(B, P)`` or None; dcn: ``(B, H)`` or None.

    Returns:
        ``(dx (T, B, D), (dh0 (B, P), dc0 (B, H)), grads)`` with ``grads`` holding
        ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` and ``weight_hr``.
    """
    x, hs, cs, gates, weight_ih, weight_hh, weight_hr, has_bias, reverse, batch_sizes = cache
    xp = ops(hs)
    T, B, P = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    H = cs.shape[-1]
    da = xp.zeros(gates.shape, like=gates)  # (T, B, 4H) pre-activation gradients
    dh_next = xp.zeros((B, P), like=hs) if dhn is None else xp.copy(dhn)
    dc_next = xp.zeros((B, H), like=cs) if dcn is None else xp.copy(dcn)
    k, work = GateConstants(H, cs), _work(B, H, cs)
    dc_t = xp.empty((B, H), like=cs) if record is not None else None  # whole dL/dc_t, recorded
    if weight_hr is not None:
        dhs = xp.zeros((T, B, P), like=hs)  # dL/dh_t, for dW_hr after the loop
        ms = xp.zeros((T, B, H), like=hs)  # m_t recomputed, for dW_hr after the loop
    for t in reversed(time_steps(T, reverse)):
        p, c = state_slots(t, reverse)
        n = active_rows(batch_sizes, t, B)
        dh = dh_next[:n]  # (n, P); rows past n pass their gradients through unchanged
        if dout is not None:
            dh += dout[t, :n]
        if record is not None:
            _record(record, "h", t, T, dh)
        if weight_hr is None:
            dm = dh
        else:
            dhs[t, :n] = dh
            ms[t, :n] = gates[t, :n, 3 * H :] * xp.tanh(cs[c, :n])
            dm = xp.matmul(dh, weight_hr)  # (n, H)
        lstm_cell_backward(dm, dc_next[:n], gates[t, :n], cs[p, :n], cs[c, :n], da[t, :n], k,
                           [w[:n] for w in work], dc_t[:n] if record is not None else None)
        if record is not None:
            _record(record, "c", t, T, dc_t[:n])
        xp.matmul(da[t, :n], weight_hh, out=dh_next[:n])  # dL/dh_{t-1}
    _, h_prev, _ = sequence_views(hs, reverse)
    dx, dweight_ih, db = input_weight_grads(da, x, weight_ih)
    grads = {"weight_ih": dweight_ih, "weight_hh": recurrent_weight_grad(da, h_prev),
             "bias_ih": db if has_bias else None, "bias_hh": xp.copy(db) if has_bias else None,
             "weight_hr": None if weight_hr is None else recurrent_weight_grad(dhs, ms)}
    return dx, (dh_next, dc_next), grads
