r"""The LSTM, optimised (PyTorch's formulation, gates stacked ``i, f, g, o``, optional projection).

The readable version is ``numrnn/reference/lstm.py``: the same equations, one
line of code each.  This file computes the same numbers (tested to float64
rounding) with the tricks listed below.

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

The tricks, each with the identity it relies on:

* **One tanh for all four gates.** :math:`\sigma(a) = \tfrac12 \tanh(\tfrac12 a) + \tfrac12`,
  so with a per-column ``scale`` (1/2 on ``i, f, o``, 1 on ``g``) and
  ``shift = 1 - scale`` every gate is ``scale * tanh(scale * a) + shift``: one
  ``tanh`` over the ``(B, 4H)`` block, which also never overflows (``exp`` would).
* **Halved rows.** :math:`a` is linear in the weights and biases, so
  ``scale * a`` is computed by multiplying the ``i, f, o`` rows of :math:`W_{ih}`,
  :math:`W_{hh}` and the bias by 1/2 once per sequence: the inner ``scale * a``
  costs nothing per step.
* **Folded bias**: :math:`b_{ih} + b_{hh}` is added once to the input projection
  (a sum of biases is one bias); both biases get the gradient :math:`\sum \delta`.
* **One derivative expression for all gates**, written through the activated
  value :math:`G`: :math:`\sigma' = s(1-s)` and :math:`\tanh' = 1 - g^2` are both
  ``G * (sigmoid_mask - G) + tanh_mask`` (:class:`GateConstants`).
* **Local factors** (:func:`lstm_local_grads`): everything in the backward except
  :math:`\partial m` and :math:`\partial c` is known once the forward has run,

  .. math::

      \kappa &= [\,g\, i(1-i),\; c_{t-1} f(1-f),\; i (1-g^2),\; \tanh c_t\, o(1-o)\,], \qquad
      k^c = o (1 - \tanh^2 c_t)

  and is formed for a *block* of steps with one array operation per term, the
  block sized to stay in cache (:func:`.driver.backward_blocks`).  The loop over
  time keeps only the recursion (:func:`lstm_chain_step`):

  .. math::

      \partial c_t = \partial c_{t+1} \odot f_{t+1} + \partial m_t \odot k^c_t, \qquad
      \delta_t = [\partial c_t, \partial c_t, \partial c_t, \partial m_t] \odot \kappa_t, \qquad
      \partial h_{t-1} = \delta_t W_{hh}

* **Products out of the loop** (:mod:`.products`), a row-major :math:`W_{hh}^\top`
  (:func:`.products.transposed`), in-place updates into preallocated buffers
  (``out=``), and per-thread workspaces for :math:`\kappa/\delta` and :math:`k^c`
  (:func:`.driver.workspace`: a fresh ``(T, B, 4H)`` array costs a page fault per
  page on its first write, every call).
"""

from __future__ import annotations

import numpy as np

from ..backend import ops
from .driver import TimeLoop, layer_weights, workspace
from .products import (
    layer_weight_grads,
    project_inputs,
    recurrent_weight_grad,
    step_weight_grads,
    transposed,
)

__all__ = [
    "GateConstants",
    "gate_constants",
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

    * ``scale``: 1/2 on the columns of ``i, f, o``, 1 on ``g``; ``shift = 1 - scale``.
      The activation of every gate is ``scale * tanh(scale * a) + shift``, because
      :math:`\sigma(a) = \tfrac12 \tanh(\tfrac12 a) + \tfrac12` and
      :math:`\tanh(a) = 1 \cdot \tanh(1 \cdot a) + 0`.
    * ``sigmoid_mask``: 1 on ``i, f, o``, 0 on ``g``; ``tanh_mask = 1 - sigmoid_mask``.
      The derivative of every gate, through its activated value ``G``, is
      ``G * (sigmoid_mask - G) + tanh_mask``, because :math:`\sigma' = s (1 - s)`
      and :math:`\tanh' = 1 - g^2`.

    Use :func:`gate_constants`, which makes them once per size, backend and dtype.
    """

    __slots__ = ("scale", "shift", "sigmoid_mask", "tanh_mask")

    def __init__(self, H, like):
        xp = ops(like)
        sigmoid_cols = np.ones(4 * H)
        sigmoid_cols[2 * H : 3 * H] = 0  # the g block is a tanh
        dtype = xp.numpy_dtype(like)
        const = lambda v: xp.asarray(np.asarray(v, dtype=dtype))  # noqa: E731
        self.scale = const(1 - 0.5 * sigmoid_cols)
        self.shift = const(0.5 * sigmoid_cols)
        self.sigmoid_mask, self.tanh_mask = const(sigmoid_cols), const(1 - sigmoid_cols)


_GATE_CONSTANTS = {}


def gate_constants(H, like):
    """The :class:`GateConstants` for hidden size ``H`` and the backend and dtype of ``like`` (cached)."""
    key = (H, ops(like), like.dtype)
    k = _GATE_CONSTANTS.get(key)
    if k is None:
        k = _GATE_CONSTANTS[key] = GateConstants(H, like)
    return k


def _halve_sigmoid_rows(param, k):
    """``param`` with the rows of ``i, f, o`` times 1/2 (``k.scale``): a new array, or None."""
    if param is None:
        return None
    return param * (k.scale[:, None] if param.ndim == 2 else k.scale)


def lstm_cell_forward(gates, c_prev, c, m, k):
    r"""The pointwise part of a step: gates, new cell state and :math:`m = o \odot \tanh c`.

    Args:
        gates: ``(B, 4H)``: on entry the pre-activations times ``k.scale`` (the
            layer halves the ``i, f, o`` rows of its weights for that); on return
            the gates ``[i, f, g, o]``, computed in place.
        c_prev: ``(B, H)`` :math:`c_{t-1}`.
        c, m: ``(B, H)`` output buffers for :math:`c_t` and :math:`m_t`.
        k: :class:`GateConstants` for this ``H`` and dtype (:func:`gate_constants`).
    """
    xp = ops(gates)
    H = c.shape[-1]
    xp.tanh(gates, out=gates)  # tanh(a/2) for i, f, o; tanh(a) for g
    gates *= k.scale
    gates += k.shift  # sigma(a) = tanh(a/2)/2 + 1/2 for i, f, o; g = tanh(a)
    i, f, g, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    xp.multiply(i, g, out=m)
    xp.multiply(f, c_prev, out=c)
    c += m  # c_t = f * c_{t-1} + i * g
    xp.tanh(c, out=m)
    m *= o  # m_t = o * tanh(c_t)


def lstm_local_grads(gates, c_prev, c, kappa, k_c):
    r"""The factors of the backward that do not depend on the incoming gradient.

    Works on one step ``(B, .)`` or on a block of steps ``(S, B, .)``.

    Args:
        gates: ``(..., 4H)`` activated ``[i, f, g, o]``; c_prev, c: ``(..., H)``.
        kappa: ``(..., 4H)`` output buffer for
            :math:`\kappa = [g\, i(1-i),\; c_{t-1} f(1-f),\; i(1-g^2),\; \tanh c_t\, o(1-o)]`.
        k_c: ``(..., H)`` output buffer for :math:`k^c = o (1 - \tanh^2 c_t)`.
    """
    xp = ops(gates)
    H = c.shape[-1]
    k = gate_constants(H, gates)
    i, f, g, o = (gates[..., j * H : (j + 1) * H] for j in range(4))
    tanh_c = xp.tanh(c, out=k_c)
    xp.subtract(k.sigmoid_mask, gates, out=kappa)  # the derivatives of all gates at once:
    kappa *= gates  # G (sigmoid_mask - G) + tanh_mask = s (1 - s) for i, f, o; 1 - g^2 for g
    kappa += k.tanh_mask
    kappa[..., :H] *= g  # d c / d i = g
    kappa[..., H : 2 * H] *= c_prev  # d c / d f = c_{t-1}
    kappa[..., 2 * H : 3 * H] *= i  # d c / d g = i
    kappa[..., 3 * H :] *= tanh_c  # d m / d o = tanh c_t
    xp.multiply(tanh_c, tanh_c, out=k_c)
    xp.subtract(1, k_c, out=k_c)
    k_c *= o  # d m / d c = o (1 - tanh^2 c_t)


def lstm_chain_step(dm, dc, kappa, k_c, f, dc_total=None):
    r"""One step of the backward recursion, in place.

    Args:
        dm: ``(B, H)`` gradient of :math:`m_t`.
        dc: ``(B, H)``: on entry :math:`\partial c_{t+1} \odot f_{t+1}` (what reaches
            :math:`c_t` from the next step), on return :math:`\partial L/\partial c_{t-1}`.
        kappa: ``(B, 4H)`` the local factors :math:`\kappa_t`; on return the
            pre-activation gradient :math:`\delta_t`.
        k_c: ``(B, H)`` :math:`k^c_t`; used as scratch (overwritten).
        f: ``(B, H)`` the forget gate :math:`f_t`.
        dc_total: optional ``(B, H)`` buffer that receives the whole :math:`\partial L/\partial c_t`.
    """
    xp = ops(dm)
    B, H = dc.shape
    k_c *= dm
    dc += k_c  # dc_t = dc_{t+1} f_{t+1} + dm k^c
    if dc_total is not None:
        dc_total[...] = dc
    ifg = kappa[:, : 3 * H].reshape(B, 3, H)
    xp.multiply(ifg, dc[:, None, :], out=ifg)  # delta^{i,f,g} = dc * kappa^{i,f,g}
    xp.multiply(kappa[:, 3 * H :], dm, out=kappa[:, 3 * H :])  # delta^o = dm * kappa^o
    dc *= f  # dL/dc_{t-1} = dc_t * f_t


def lstm_forward(x, h0, c0, params, reverse=False, batch_sizes=None):
    r"""One layer-direction of an LSTM over ``T`` steps.

    Called as :func:`numrnn.reference.lstm_forward` is (which takes the states as one
    pair ``(h0, c0)``), with the options of a layer after it.

    Args:
        x: ``(T, B, D)``; h0: ``(B, P)``; c0: ``(B, H)`` (``P = H`` without projection).
        params: the weights, keyed as in :mod:`numrnn.reference`: ``weight_ih`` ``(4H, D)``,
            ``weight_hh`` ``(4H, P)``, ``bias_ih``, ``bias_hh`` ``(4H,)`` both or neither,
            ``weight_hr`` ``(P, H)`` for a projection (an absent or None key: none).
        reverse, batch_sizes: as in :func:`numrnn.kernels.rnn_forward`.

    Returns:
        ``out`` ``(T, B, P)`` (zero at padded positions), ``(hn (B, P), cn (B, H))``, cache.

    Raises:
        TypeError, KeyError: ``params`` as in :func:`numrnn.kernels.rnn_forward`.
        ValueError: one bias without the other, or inconsistent ``batch_sizes``.
    """
    weights = layer_weights("lstm_forward", params, projection=True)
    weight_ih, weight_hh, bias_ih, bias_hh, weight_hr = weights
    xp = ops(x)
    loop = TimeLoop(x, reverse, batch_sizes)
    H = c0.shape[-1]
    k = gate_constants(H, x)
    bias = None if bias_ih is None else bias_ih + bias_hh  # folded bias
    # (T, B, 4H): the pre-activations times k.scale (halved rows); each step turns its own
    # rows into the gates [i, f, g, o] in place, which is what the backward reads
    gates = project_inputs(x, _halve_sigmoid_rows(weight_ih, k), _halve_sigmoid_rows(bias, k))
    hs, cs = loop.states(h0), loop.states(c0)  # (T + 1, B, P), (T + 1, B, H) in time order
    h_prev, h_new = loop.read_write(hs)
    c_prev, c_new = loop.read_write(cs)
    gates_t = loop.per_step(gates)
    recurrent = loop.row_prefixes(xp.empty((loop.B, 4 * H), like=gates))  # h_{t-1} W_hh^T
    whhT = transposed(_halve_sigmoid_rows(weight_hh, k))  # (P, 4H) row-major
    cell = xp.fused(lstm_cell_forward)  # the function itself, or compiled (torch, fused=True)
    if weight_hr is None:

        def step(t, n):
            gates_t[t] += xp.matmul(h_prev[t], whhT, out=recurrent[n])  # (n, 4H), scaled
            cell(gates_t[t], c_prev[t], c_new[t], h_new[t], k)  # the gates; h_t = m_t

    else:
        m_rows = loop.row_prefixes(xp.empty((loop.B, H), like=gates))  # m_t of one step
        whrT = transposed(weight_hr)  # (H, P) row-major

        def step(t, n):
            gates_t[t] += xp.matmul(h_prev[t], whhT, out=recurrent[n])
            cell(gates_t[t], c_prev[t], c_new[t], m_rows[n], k)
            xp.matmul(m_rows[n], whrT, out=h_new[t])  # h_t = m_t W_hr^T

    loop.forward(step, hs, cs)
    out, hn = loop.output(hs)
    loop.clear_padding(gates)  # padded rows hold unused pre-activations
    cache = (x, hs, cs, gates, weight_ih, weight_hh, weight_hr, bias_ih is not None, loop)
    return out, (hn, loop.final(cs)), cache


def lstm_backward(dout, dhn, dcn, cache, record=None):
    r"""BPTT through one LSTM layer-direction (the module docstring has the equations).

    Args:
        dout: ``(T, B, P)`` or None; dhn: ``(B, P)`` or None; dcn: ``(B, H)`` or None.
        cache: from :func:`lstm_forward`.
        record: None, or a dict that receives ``"h"`` and ``"c"``: the norms of
            :math:`\partial L/\partial h_t` and :math:`\partial L/\partial c_t`
            (active rows) for every ``t``, NumPy ``(T,)`` arrays.

    Returns:
        ``(dx (T, B, D), (dh0 (B, P), dc0 (B, H)), grads)`` with ``grads`` holding
        ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` and ``weight_hr``.
    """
    x, hs, cs, gates, weight_ih, weight_hh, weight_hr, has_bias, loop = cache
    xp = ops(hs)
    H = cs.shape[-1]
    c_all, c_prev_all = loop.current(cs), loop.previous(cs)  # c_t, c_{t-1}: (T, B, H)
    # (T, B, 4H): kappa_t, then delta_t in place; 0 where padded
    delta = workspace("lstm.delta", gates.shape, gates)
    k_c = workspace("lstm.k_c", c_all.shape, gates)  # (T, B, H): k^c_t, then scratch
    dh_next, dc_next = loop.carried(dhn, hs), loop.carried(dcn, cs)
    local_grads, chain_step = xp.fused(lstm_local_grads), xp.fused(lstm_chain_step)
    delta_t, k_c_t = loop.per_step(delta), loop.per_step(k_c)
    f_t = loop.per_step(gates[..., H : 2 * H])
    dc_rows = loop.row_prefixes(dc_next)
    if record is not None:
        dc_total = loop.row_prefixes(xp.empty(dc_next.shape, like=cs))  # recorded dL/dc_t
    if weight_hr is not None:
        dhs = xp.zeros(loop.current(hs).shape, like=hs)  # (T, B, P) dL/dh_t, for dW_hr

    def local_factors(lo, hi):
        local_grads(gates[lo:hi], c_prev_all[lo:hi], c_all[lo:hi], delta[lo:hi], k_c[lo:hi])

    def step(t, n, dh):
        if weight_hr is None:
            dm = dh
        else:
            dhs[t, :n] = dh
            dm = xp.matmul(dh, weight_hr)  # (n, H)
        if record is None:
            chain_step(dm, dc_rows[n], delta_t[t], k_c_t[t], f_t[t])
        else:
            chain_step(dm, dc_rows[n], delta_t[t], k_c_t[t], f_t[t], dc_total[n])
            loop.record(record, "c", t, dc_total[n])
        xp.matmul(delta_t[t], weight_hh, out=dh)  # dL/dh_{t-1}

    loop.backward(local_factors, step, dout, dh_next, 4 * H, (delta,), record)
    dx, grads = layer_weight_grads(delta, x, weight_ih, loop.previous(hs), has_bias)
    grads["weight_hr"] = None
    if weight_hr is not None:
        ms = gates[..., 3 * H :] * xp.tanh(c_all)  # m_t = o tanh c_t, recomputed
        grads["weight_hr"] = recurrent_weight_grad(dhs, ms)
    return dx, (dh_next, dc_next), grads


def lstm_step_forward(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    r"""One LSTM step (a cell, no projection), with the pointwise kernels of the layer.

    Args:
        x: ``(B, D)``; h_prev, c_prev: ``(B, H)``; weight_ih: ``(4H, D)``;
        weight_hh: ``(4H, H)``; bias_ih, bias_hh: ``(4H,)`` or both None.

    Returns:
        ``h`` ``(B, H)``, ``c`` ``(B, H)`` and the cache for :func:`lstm_step_backward`.
    """
    xp = ops(x)
    gates = xp.matmul(x, weight_ih.T) + xp.matmul(h_prev, weight_hh.T)  # (B, 4H)
    if bias_ih is not None:
        gates += bias_ih + bias_hh
    c, h = xp.empty_like(c_prev), xp.empty_like(c_prev)
    k = gate_constants(c.shape[-1], gates)
    gates *= k.scale  # one step: scale the pre-activations rather than the weights
    lstm_cell_forward(gates, c_prev, c, h, k)
    return h, c, (x, h_prev, c_prev, gates, c, weight_ih, weight_hh, bias_ih is not None)


def lstm_step_backward(dh, dc, cache):
    r"""Backward of :func:`lstm_step_forward` given the gradients of ``h`` and ``c`` (``dc`` may be None).

    Returns:
        ``(dx (B, D), dh_prev (B, H), dc_prev (B, H), grads)``; ``grads`` holds
        ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``.
    """
    x, h_prev, c_prev, gates, c, weight_ih, weight_hh, has_bias = cache
    xp = ops(dh)
    H = c.shape[-1]
    delta, k_c = xp.empty_like(gates), xp.empty_like(c)  # (B, 4H), (B, H)
    lstm_local_grads(gates, c_prev, c, delta, k_c)
    dc_prev = xp.zeros_like(c) if dc is None else xp.copy(dc)  # becomes dL/dc_{t-1}
    lstm_chain_step(dh, dc_prev, delta, k_c, gates[:, H : 2 * H])
    dx, dh_prev, grads = step_weight_grads(delta, x, h_prev, weight_ih, weight_hh, has_bias)
    return dx, dh_prev, dc_prev, grads
