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

from ..backend import ops
from .sequence import (_record, active_rows, check_batch_sizes, input_weight_grads, project_inputs,
                       recurrent_weight_grad, sequence_views, state_slots, time_steps, zero_padding)

__all__ = ["lstm_cell_forward", "lstm_cell_backward", "lstm_step_forward", "lstm_step_backward",
           "lstm_forward", "lstm_backward"]


def lstm_cell_forward(a, c_prev, c, m):
    r"""The pointwise part of a step: gates, new cell state and :math:`m = o \odot \tanh c`.

    Args:
        a: ``(B, 4H)`` pre-activations; overwritten in place by the gates ``[i, f, g, o]``.
        c_prev: ``(B, H)``.
        c, m: ``(B, H)`` output buffers for :math:`c_t` and :math:`m_t`.
    """
    xp = ops(a)
    H = c.shape[-1]
    xp.sigmoid(a[:, : 2 * H], out=a[:, : 2 * H])  # i, f
    xp.tanh(a[:, 2 * H : 3 * H], out=a[:, 2 * H : 3 * H])  # g
    xp.sigmoid(a[:, 3 * H :], out=a[:, 3 * H :])  # o
    i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
    xp.multiply(f, c_prev, out=c)
    c += i * g  # c_t = f * c_{t-1} + i * g
    xp.tanh(c, out=m)
    m *= o  # m_t = o * tanh(c_t)


def lstm_cell_backward(dm, dc_next, gates, c_prev, c, da):
    r"""Backward of :func:`lstm_cell_forward` (the equations are in this module's docstring).

    Args:
        dm: ``(B, H)`` gradient of :math:`m_t`.
        dc_next: ``(B, H)`` gradient reaching :math:`c_t` from the next step.
        gates: ``(B, 4H)`` activated ``[i, f, g, o]``; c_prev, c: ``(B, H)``.
        da: ``(B, 4H)`` output buffer for :math:`\delta`, the pre-activation gradient.

    Returns:
        :math:`\partial L/\partial c_{t-1}` and the whole :math:`\partial L/\partial c_t`, both ``(B, H)``.
    """
    xp = ops(dm)
    H = c.shape[-1]
    i, f, g, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    tanh_c = xp.tanh(c)
    do = dm * tanh_c
    dc = dc_next + dm * o * (1 - tanh_c * tanh_c)
    di, df, dg = dc * g, dc * c_prev, dc * i
    da[:, :H] = di * i * (1 - i)
    da[:, H : 2 * H] = df * f * (1 - f)
    da[:, 2 * H : 3 * H] = dg * (1 - g * g)
    da[:, 3 * H :] = do * o * (1 - o)
    return dc * f, dc


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
    lstm_cell_forward(a, c_prev, c, h)
    return h, c, (x, h_prev, c_prev, a, c, weight_ih, weight_hh, bias_ih is not None)


def lstm_step_backward(dh, dc, cache):
    r"""Backward of one step: returns ``(dx, dh_prev, dc_prev, grads)``.

    ``dh``, ``dc``: ``(B, H)`` gradients of the step's outputs (``dc`` may be None).
    ``grads`` holds ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``.
    """
    x, h_prev, c_prev, gates, c, weight_ih, weight_hh, has_bias = cache
    xp = ops(dh)
    da = xp.empty_like(gates)  # (B, 4H)
    dc_prev, _ = lstm_cell_backward(dh, 0 if dc is None else dc, gates, c_prev, c, da)
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
    whhT = weight_hh.T
    for t in time_steps(T, reverse):
        p, c = state_slots(t, reverse)
        n = active_rows(batch_sizes, t, B)
        a = gates[t, :n]  # (n, 4H)
        a += xp.matmul(hs[p, :n], whhT)
        if weight_hr is None:
            lstm_cell_forward(a, cs[p, :n], cs[c, :n], hs[c, :n])
        else:
            lstm_cell_forward(a, cs[p, :n], cs[c, :n], m[:n])
            xp.matmul(m[:n], weight_hr.T, out=hs[c, :n])  # h_t = m_t W_hr^T
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
        dc_next[:n], dc_t = lstm_cell_backward(dm, dc_next[:n], gates[t, :n], cs[p, :n], cs[c, :n], da[t, :n])
        if record is not None:
            _record(record, "c", t, T, dc_t)
        dh_next[:n] = xp.matmul(da[t, :n], weight_hh)  # dL/dh_{t-1}
    _, h_prev, _ = sequence_views(hs, reverse)
    dx, dweight_ih, db = input_weight_grads(da, x, weight_ih)
    grads = {"weight_ih": dweight_ih, "weight_hh": recurrent_weight_grad(da, h_prev),
             "bias_ih": db if has_bias else None, "bias_hh": xp.copy(db) if has_bias else None,
             "weight_hr": None if weight_hr is None else recurrent_weight_grad(dhs, ms)}
    return dx, (dh_next, dc_next), grads
