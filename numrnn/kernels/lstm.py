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

Everything in these equations except :math:`\partial m` and :math:`\partial c` is
known once the forward has run, so the backward first forms, for every step at
once, the *local factors* (:func:`lstm_local_grads`)

.. math::

    \kappa &= [\,g\, i(1-i),\; c_{t-1} f(1-f),\; i (1-g^2),\; \tanh c_t\, o(1-o)\,], \qquad
    k^c = o (1 - \tanh^2 c_t)

and the loop over time keeps only the recursion (:func:`lstm_chain_step`):

.. math::

    \partial c_t = \partial c_{t+1} \odot f_{t+1} + \partial m_t \odot k^c_t, \qquad
    \delta_t = [\partial c_t, \partial c_t, \partial c_t, \partial m_t] \odot \kappa_t, \qquad
    \partial h_{t-1} \mathrel{+}= \delta_t W_{hh}

What BPTT keeps per step: the four activated gates (``4H``), the cell state
(``H``) and the hidden state (``H``, or ``P`` with projection): exactly what the
equations above read.  :math:`\tanh c_t` and :math:`m_t` are recomputed.
"""

from __future__ import annotations

import numpy as np

from ..backend import ops
from .sequence import (
    _record,
    active_rows,
    backward_blocks,
    check_batch_sizes,
    input_weight_grads,
    per_step,
    project_inputs,
    recurrent_weight_grad,
    row_prefixes,
    sequence_views,
    state_slots,
    states_per_step,
    time_steps,
    transposed,
    workspace,
    zero_padding,
)

__all__ = [
    "lstm_backward",
    "lstm_cell_forward",
    "lstm_chain_step",
    "lstm_forward",
    "lstm_local_grads",
    "lstm_step_backward",
    "lstm_step_forward",
]


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

    Use :func:`gate_constants`, which makes them once per size, backend and dtype.
    """

    __slots__ = ("U", "V", "scale", "shift")

    def __init__(self, H, like):
        xp = ops(like)
        sigmoid_cols = np.ones(4 * H)
        sigmoid_cols[2 * H : 3 * H] = 0  # the g block is a tanh
        dtype = xp.numpy_dtype(like)
        const = lambda v: xp.asarray(np.asarray(v, dtype=dtype))  # noqa: E731
        self.scale = const(1 - 0.5 * sigmoid_cols)
        self.shift = const(0.5 * sigmoid_cols)
        self.U, self.V = const(sigmoid_cols), const(1 - sigmoid_cols)


_GATE_CONSTANTS = {}


def gate_constants(H, like):
    """The :class:`GateConstants` for hidden size ``H`` and the backend and dtype of ``like`` (cached)."""
    key = (H, ops(like), like.dtype)
    k = _GATE_CONSTANTS.get(key)
    if k is None:
        k = _GATE_CONSTANTS[key] = GateConstants(H, like)
    return k


def lstm_cell_forward(a, c_prev, c, m, k):
    r"""The pointwise part of a step: gates, new cell state and :math:`m = o \odot \tanh c`.

    Args:
        a: ``(B, 4H)`` pre-activations *times* ``k.scale`` (halved for ``i, f, o``:
            :math:`\sigma(a) = \tfrac12\tanh(\tfrac12 a) + \tfrac12`); overwritten in place
            by the gates ``[i, f, g, o]``.  The layer gets the halving for free by
            halving those rows of the weights once per sequence (the pre-activation
            is linear in them).
        c_prev: ``(B, H)``.
        c, m: ``(B, H)`` output buffers for :math:`c_t` and :math:`m_t`.
        k: :class:`GateConstants` for this ``H`` and dtype (:func:`gate_constants`).
    """
    xp = ops(a)
    H = c.shape[-1]
    xp.tanh(a, out=a)  # tanh(a/2) for i, f, o; tanh(a) for g
    a *= k.scale
    a += k.shift
    i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
    xp.multiply(i, g, out=m)
    xp.multiply(f, c_prev, out=c)
    c += m  # c_t = f * c_{t-1} + i * g
    xp.tanh(c, out=m)
    m *= o  # m_t = o * tanh(c_t)


def lstm_local_grads(gates, c_prev, c, coef, k_c):
    r"""The factors of the backward that do not depend on the incoming gradient.

    Works on one step ``(B, .)`` or on every step at once ``(T, B, .)``.

    Args:
        gates: ``(..., 4H)`` activated ``[i, f, g, o]``; c_prev, c: ``(..., H)``.
        coef: ``(..., 4H)`` output buffer for
            :math:`\kappa = [g\, i(1-i),\; c_{t-1} f(1-f),\; i(1-g^2),\; \tanh c_t\, o(1-o)]`.
        k_c: ``(..., H)`` output buffer for :math:`k^c = o (1 - \tanh^2 c_t)`.
    """
    xp = ops(gates)
    H = c.shape[-1]
    k = gate_constants(H, gates)
    i, f, g, o = (gates[..., j * H : (j + 1) * H] for j in range(4))
    tanh_c = xp.tanh(c, out=k_c)
    xp.subtract(k.U, gates, out=coef)  # the activations' derivatives, all gates at once:
    coef *= gates  # G (U - G) + V = s (1 - s) for i, f, o and 1 - g^2 for g
    coef += k.V
    coef[..., :H] *= g  # d c / d i = g
    coef[..., H : 2 * H] *= c_prev  # d c / d f = c_{t-1}
    coef[..., 2 * H : 3 * H] *= i  # d c / d g = i
    coef[..., 3 * H :] *= tanh_c  # d m / d o = tanh c_t
    xp.multiply(tanh_c, tanh_c, out=k_c)
    xp.subtract(1, k_c, out=k_c)
    k_c *= o  # d m / d c = o (1 - tanh^2 c_t)


def lstm_chain_step(dm, dc, coef, k_c, f, work, dc_total=None):
    r"""One step of the backward recursion, in place.

    Args:
        dm: ``(B, H)`` gradient of :math:`m_t`.
        dc: ``(B, H)``: on entry :math:`\partial c_{t+1} \odot f_{t+1}` (what reaches
            :math:`c_t` from the next step), on return :math:`\partial L/\partial c_{t-1}`.
        coef: ``(B, 4H)`` the local factors :math:`\kappa_t`; on return the
            pre-activation gradient :math:`\delta_t`.
        k_c: ``(B, H)`` :math:`k^c_t`; f: ``(B, H)`` the forget gate; work: ``(B, H)`` scratch.
        dc_total: optional ``(B, H)`` buffer that receives the whole :math:`\partial L/\partial c_t`.
    """
    xp = ops(dm)
    B, H = dc.shape
    dc += xp.multiply(dm, k_c, out=work)  # dc_t = dc_{t+1} f_{t+1} + dm k^c
    if dc_total is not None:
        dc_total[...] = dc
    ifg = coef[:, : 3 * H].reshape(B, 3, H)
    xp.multiply(ifg, dc[:, None, :], out=ifg)  # delta^{i,f,g} = dc * kappa^{i,f,g}
    xp.multiply(coef[:, 3 * H :], dm, out=coef[:, 3 * H :])  # delta^o = dm * kappa^o
    dc *= f  # dL/dc_{t-1} = dc_t * f


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
    k = gate_constants(c.shape[-1], a)
    a *= k.scale
    lstm_cell_forward(a, c_prev, c, h, k)
    return h, c, (x, h_prev, c_prev, a, c, weight_ih, weight_hh, bias_ih is not None)


def lstm_step_backward(dh, dc, cache):
    r"""Backward of one step: returns ``(dx, dh_prev, dc_prev, grads)``.

    ``dh``, ``dc``: ``(B, H)`` gradients of the step's outputs (``dc`` may be None).
    ``grads`` holds ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``.
    """
    x, h_prev, c_prev, gates, c, weight_ih, weight_hh, has_bias = cache
    xp = ops(dh)
    H = c.shape[-1]
    da, k_c = xp.empty_like(gates), xp.empty_like(c)  # (B, 4H), (B, H)
    lstm_local_grads(gates, c_prev, c, da, k_c)
    dc_prev = xp.zeros_like(c) if dc is None else xp.copy(dc)  # becomes dL/dc_{t-1}
    lstm_chain_step(dh, dc_prev, da, k_c, gates[:, H : 2 * H], xp.empty_like(c))
    db = xp.sum(da, axis=0) if has_bias else None
    grads = {
        "weight_ih": xp.matmul(da.T, x),
        "weight_hh": xp.matmul(da.T, h_prev),
        "bias_ih": db,
        "bias_hh": None if db is None else xp.copy(db),
    }
    return xp.matmul(da, weight_ih), xp.matmul(da, weight_hh), dc_prev, grads


def lstm_forward(
    x,
    h0,
    c0,
    weight_ih,
    weight_hh,
    bias_ih=None,
    bias_hh=None,
    weight_hr=None,
    reverse=False,
    batch_sizes=None,
):
    r"""One layer-direction of an LSTM over ``T`` steps.

    Args:
        x: ``(T, B, D)``; h0: ``(B, P)``; c0: ``(B, H)`` (``P = H`` without projection).
        weight_ih: ``(4H, D)``; weight_hh: ``(4H, P)``; biases ``(4H,)`` or None;
        weight_hr: ``(P, H)`` projection or None.
        reverse, batch_sizes: as in :func:`numrnn.kernels.rnn_forward`.

    Returns:
        ``out`` ``(T, B, P)`` (zero at padded positions), ``(hn (B, P), cn (B, H))``, cache.
    """
    xp = ops(x)
    T, B, _ = x.shape
    H, P = c0.shape[-1], h0.shape[-1]
    batch_sizes = check_batch_sizes(batch_sizes, T, B)
    k = gate_constants(H, x)
    scaled = lambda w: None if w is None else w * (k.scale[:, None] if w.ndim == 2 else k.scale)  # noqa: E731
    # pre-activations times k.scale for every step, then the gates (see lstm_cell_forward)
    gates = project_inputs(x, scaled(weight_ih), scaled(_bias(bias_ih, bias_hh)))  # (T, B, 4H)
    hs = xp.empty((T + 1, B, P), like=gates)  # hidden states in time order
    cs = xp.empty((T + 1, B, H), like=gates)  # cell states in time order
    start = T if reverse else 0
    hs[start], cs[start] = h0, c0
    m = None if weight_hr is None else xp.empty((B, H), like=gates)  # projection input m_t
    rec = xp.empty((B, 4 * H), like=gates)  # recurrent term h_{t-1} W_hh^T of one step
    whhT = transposed(scaled(weight_hh))  # (P, 4H) row-major, rows of i, f, o halved
    cell = xp.fused(lstm_cell_forward)  # the function itself, or compiled (torch, fused=True)
    whrT = None if weight_hr is None else transposed(weight_hr)  # (H, P)
    # views of each step's active rows, made once (see sequence.per_step)
    A = per_step(gates, batch_sizes)
    h_read, h_write = states_per_step(hs, reverse, batch_sizes)
    c_read, c_write = states_per_step(cs, reverse, batch_sizes)
    R = row_prefixes(rec, batch_sizes)
    M = None if weight_hr is None else row_prefixes(m, batch_sizes)
    for t in time_steps(T, reverse):
        n = active_rows(batch_sizes, t, B)
        a = A[t]  # (n, 4H)
        a += xp.matmul(h_read[t], whhT, out=R[n])
        if weight_hr is None:
            cell(a, c_read[t], c_write[t], h_write[t], k)
        else:
            cell(a, c_read[t], c_write[t], M[n], k)
            xp.matmul(M[n], whrT, out=h_write[t])  # h_t = m_t W_hr^T
        if n < B:
            p, c = state_slots(t, reverse)
            hs[c, n:], cs[c, n:] = hs[p, n:], cs[p, n:]  # inactive rows keep their states
    out, _, hn = sequence_views(hs, reverse)
    _, _, cn = sequence_views(cs, reverse)
    if batch_sizes is not None:
        out = zero_padding(xp.copy(out), batch_sizes)
        zero_padding(gates, batch_sizes)  # padded rows hold unused pre-activations: clear them
    cache = (
        x,
        hs,
        cs,
        gates,
        weight_ih,
        weight_hh,
        weight_hr,
        bias_ih is not None,
        reverse,
        batch_sizes,
    )
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
    c_all, c_prev_all, _ = sequence_views(cs, reverse)  # c_t and c_{t-1} for every t, (T, B, H)
    da = workspace(
        "lstm.da", gates.shape, gates
    )  # (T, B, 4H): kappa_t, then delta_t; 0 where padded
    if weight_hr is not None:
        ms = gates[..., 3 * H :] * xp.tanh(c_all)  # m_t = o tanh c_t, for dW_hr after the loop
        dhs = xp.zeros((T, B, P), like=hs)  # dL/dh_t, for dW_hr after the loop
    # the gradients carried from step to step, t = T-1 .. 0
    dh_next = xp.zeros((B, P), like=hs) if dhn is None else xp.copy(dhn)
    dc_next = xp.zeros((B, H), like=cs) if dcn is None else xp.copy(dcn)
    work = xp.empty((B, H), like=cs)
    dc_t = xp.empty((B, H), like=cs) if record is not None else None  # whole dL/dc_t, recorded
    local_grads, chain_step = xp.fused(lstm_local_grads), xp.fused(lstm_chain_step)
    # views of each step's active rows, made once (see sequence.per_step)
    delta, f_gate = per_step(da, batch_sizes), per_step(gates[..., H : 2 * H], batch_sizes)
    dO = None if dout is None else per_step(dout, batch_sizes)
    DH, DC, W = (row_prefixes(buf, batch_sizes) for buf in (dh_next, dc_next, work))
    for lo, hi, steps in backward_blocks(T, reverse, B * 4 * H):
        # 1. the local factors kappa, k^c of a block of steps at once, kappa written into da
        k_c = xp.empty((hi - lo, B, H), like=cs)
        local_grads(gates[lo:hi], c_prev_all[lo:hi], c_all[lo:hi], da[lo:hi], k_c)
        zero_padding(da[lo:hi], None if batch_sizes is None else batch_sizes[lo:hi])
        # 2. the recursion through the block, step by step
        for t in steps:
            n = active_rows(batch_sizes, t, B)
            dh = DH[n]  # (n, P); rows past n pass their gradients through unchanged
            if dO is not None:
                dh += dO[t]
            if record is not None:
                _record(record, "h", t, T, dh)
            if weight_hr is None:
                dm = dh
            else:
                dhs[t, :n] = dh
                dm = xp.matmul(dh, weight_hr)  # (n, H)
            chain_step(
                dm,
                DC[n],
                delta[t],
                k_c[t - lo, :n],
                f_gate[t],
                W[n],
                None if record is None else dc_t[:n],
            )
            if record is not None:
                _record(record, "c", t, T, dc_t[:n])
            xp.matmul(delta[t], weight_hh, out=DH[n])  # dL/dh_{t-1}
    # 3. after the loop: every weight gradient and dx as one product over all steps
    _, h_prev, _ = sequence_views(hs, reverse)
    dx, dweight_ih, db = input_weight_grads(da, x, weight_ih)
    grads = {
        "weight_ih": dweight_ih,
        "weight_hh": recurrent_weight_grad(da, h_prev),
        "bias_ih": db if has_bias else None,
        "bias_hh": xp.copy(db) if has_bias else None,
        "weight_hr": None if weight_hr is None else recurrent_weight_grad(dhs, ms),
    }
    return dx, (dh_next, dc_next), grads
