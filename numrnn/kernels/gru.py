r"""The GRU in PyTorch's formulation (gates ``r, z, n``; ``b_hn`` inside the reset product).

.. math::

    r &= \sigma(x W_{ir}^\top + b_{ir} + h_{t-1} W_{hr}^\top + b_{hr}) \\
    z &= \sigma(x W_{iz}^\top + b_{iz} + h_{t-1} W_{hz}^\top + b_{hz}) \\
    u &= h_{t-1} W_{hn}^\top + b_{hn} \\
    n &= \tanh(x W_{in}^\top + b_{in} + r \odot u) \\
    h_t &= (1 - z) \odot n + z \odot h_{t-1}

Backward of one step, with :math:`g = \partial L/\partial h_t`:

.. math::

    \partial n &= g \odot (1 - z), \qquad \partial z = g \odot (h_{t-1} - n) \\
    \delta^n &= \partial n \odot (1 - n^2), \qquad \partial r = \delta^n \odot u \\
    \delta^r &= \partial r \odot r (1 - r), \qquad \delta^z = \partial z \odot z (1 - z) \\
    \delta^x &= [\delta^r, \delta^z, \delta^n] \quad\text{(reaches } W_{ih}, b_{ih}, x\text{)} \\
    \delta^h &= [\delta^r, \delta^z, \delta^n \odot r]
        \quad\text{(reaches } W_{hh}, b_{hh}, h_{t-1}\text{)} \\
    \partial h_{t-1} &= g \odot z + \delta^h W_{hh}

What BPTT keeps per step: the gates ``r, z, n`` (``3H``), ``u`` (``H``) and the
hidden state (``H``).
"""

from __future__ import annotations

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
    "gru_backward",
    "gru_cell_forward",
    "gru_chain_step",
    "gru_forward",
    "gru_local_grads",
    "gru_step_backward",
    "gru_step_forward",
]


def gru_cell_forward(ax, ah, u, h_prev, h):
    r"""The pointwise part of a step.

    Args:
        ax: ``(B, 3H)`` input pre-activations :math:`x W_{ih}^\top + b_{ih}` plus the
            recurrent biases of ``r`` and ``z`` (:math:`b_{hr}, b_{hz}`, which add
            like any bias); overwritten in place by the gates ``[r, z, n]``.
        ah: ``(B, 3H)`` :math:`h_{t-1} W_{hh}^\top` (no bias); its last block is used as scratch.
        u: ``(B, H)`` :math:`h_{t-1} W_{hn}^\top + b_{hn}`, the term the reset gate scales.
        h_prev: ``(B, H)``; h: ``(B, H)`` output buffer for :math:`h_t`.
    """
    xp = ops(ax)
    H = h.shape[-1]
    rz = ax[:, : 2 * H]
    rz += ah[:, : 2 * H]
    xp.sigmoid(rz, out=rz)  # r, z
    r, z, n = ax[:, :H], ax[:, H : 2 * H], ax[:, 2 * H :]
    ru = xp.multiply(r, u, out=ah[:, 2 * H :])  # scratch: r * u
    n += ru
    xp.tanh(n, out=n)  # n = tanh(x W_in^T + b_in + r * u)
    xp.subtract(h_prev, n, out=h)
    h *= z
    h += n  # h_t = n + z * (h_{t-1} - n)


def gru_local_grads(gates, u, h_prev, coef_x, coef_h):
    r"""The factors of the backward that do not depend on the incoming gradient.

    Works on one step ``(B, .)`` or on a block of steps ``(S, B, .)``.  With
    :math:`\kappa^n = (1 - z)(1 - n^2)`, :math:`\kappa^z = (h_{t-1} - n)\, z (1 - z)` and
    :math:`\kappa^r = \kappa^n u\, r (1 - r)`, the step's gradients are
    :math:`\delta^x = g \odot [\kappa^r, \kappa^z, \kappa^n]` and
    :math:`\delta^h = g \odot [\kappa^r, \kappa^z, \kappa^n r]`.

    Args:
        gates: ``(..., 3H)`` ``[r, z, n]``; u, h_prev: ``(..., H)``.
        coef_x, coef_h: ``(..., 3H)`` output buffers for the two factor sets.
    """
    xp = ops(gates)
    H = u.shape[-1]
    r, z, n = (gates[..., j * H : (j + 1) * H] for j in range(3))
    k_r, k_z, k_n = (coef_x[..., j * H : (j + 1) * H] for j in range(3))
    xp.multiply(n, n, out=k_n)
    xp.subtract(1, k_n, out=k_n)  # dn/da^n = 1 - n^2
    xp.subtract(1, z, out=k_z)
    k_n *= k_z  # kappa^n = (1 - z)(1 - n^2)      [dh/dn = 1 - z]
    k_z *= z  # z (1 - z) = dz/da^z
    xp.subtract(h_prev, n, out=k_r)
    k_z *= k_r  # kappa^z = (h_{t-1} - n) z (1 - z)  [dh/dz = h_{t-1} - n]
    xp.subtract(1, r, out=k_r)
    k_r *= r  # r (1 - r) = dr/da^r
    k_r *= u
    k_r *= k_n  # kappa^r = kappa^n u r (1 - r)     [da^n/dr = u]
    coef_h[..., : 2 * H] = coef_x[..., : 2 * H]
    xp.multiply(k_n, r, out=coef_h[..., 2 * H :])  # delta^n r reaches W_hn, b_hn and h_{t-1}


def gru_chain_step(dh, coef_x, coef_h):
    r"""One step of the recursion, in place.

    :math:`\delta^x = g \odot \kappa^x`, :math:`\delta^h = g \odot \kappa^h`.

    ``dh`` ``(B, H)``; ``coef_x``, ``coef_h`` ``(B, 3H)`` hold the local factors on entry
    and the gradients on return (the caller adds :math:`g z + \delta^h W_{hh}` for
    :math:`\partial L/\partial h_{t-1}`).
    """
    xp = ops(dh)
    B, H = dh.shape
    g = dh[:, None, :]  # broadcast over the three gate blocks
    for coef in (coef_x, coef_h):
        c3 = coef.reshape(B, 3, H)
        xp.multiply(c3, g, out=c3)


def _split_bias(bias_ih, bias_hh, like):
    """The bias added to the input projection (``b_ih`` plus ``b_hr``, ``b_hz``) and ``b_hn``."""
    xp = ops(like)
    H = like.shape[-1] // 3
    if bias_ih is None:
        return None, xp.zeros((H,), like=like)
    b_x = xp.copy(bias_ih)
    b_x[: 2 * H] += bias_hh[: 2 * H]
    return b_x, bias_hh[2 * H :]


def gru_step_forward(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    r"""One GRU step: ``x`` ``(B, D)``, ``h_prev`` ``(B, H)``; weights ``(3H, D)``, ``(3H, H)``.

    Returns:
        ``h`` ``(B, H)`` and the cache.
    """
    xp = ops(x)
    H = h_prev.shape[-1]
    b_x, b_hn = _split_bias(bias_ih, bias_hh, weight_hh.T)
    ax = xp.matmul(x, weight_ih.T)  # (B, 3H)
    if b_x is not None:
        ax += b_x
    ah = xp.matmul(h_prev, weight_hh.T)  # (B, 3H)
    u = ah[:, 2 * H :] + b_hn  # (B, H)
    h = xp.empty_like(h_prev)
    gru_cell_forward(ax, ah, u, h_prev, h)
    return h, (x, h_prev, ax, u, weight_ih, weight_hh, bias_ih is not None)


def gru_step_backward(dh, cache):
    r"""Backward of one step: returns ``(dx, dh_prev, grads)``."""
    x, h_prev, gates, u, weight_ih, weight_hh, has_bias = cache
    xp = ops(dh)
    dax, dah = xp.empty_like(gates), xp.empty_like(gates)
    gru_local_grads(gates, u, h_prev, dax, dah)
    gru_chain_step(dh, dax, dah)
    H = dh.shape[-1]
    dh_prev = dh * gates[:, H : 2 * H] + xp.matmul(dah, weight_hh)  # g z + delta^h W_hh
    grads = {
        "weight_ih": xp.matmul(dax.T, x),
        "weight_hh": xp.matmul(dah.T, h_prev),
        "bias_ih": xp.sum(dax, axis=0) if has_bias else None,
        "bias_hh": xp.sum(dah, axis=0) if has_bias else None,
    }
    return xp.matmul(dax, weight_ih), dh_prev, grads


def gru_forward(
    x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=False, batch_sizes=None
):
    r"""One layer-direction of a GRU over ``T`` steps.

    Args:
        x: ``(T, B, D)``; h0: ``(B, H)``; weight_ih: ``(3H, D)``; weight_hh: ``(3H, H)``;
        biases ``(3H,)`` or None; reverse, batch_sizes: as in :func:`numrnn.kernels.rnn_forward`.

    Returns:
        ``out`` ``(T, B, H)`` (zero at padded positions), ``hn`` ``(B, H)`` and the cache.
    """
    xp = ops(x)
    T, B, _ = x.shape
    H = h0.shape[-1]
    batch_sizes = check_batch_sizes(batch_sizes, T, B)
    b_x, b_hn = _split_bias(bias_ih, bias_hh, weight_hh.T)
    gates = project_inputs(x, weight_ih, b_x)  # (T, B, 3H), becomes [r, z, n]
    us = xp.empty((T, B, H), like=gates)  # u_t = h_{t-1} W_hn^T + b_hn
    hs = xp.empty((T + 1, B, H), like=gates)  # states in time order
    ah = xp.empty((B, 3 * H), like=gates)  # recurrent pre-activations of one step
    hs[T if reverse else 0] = h0
    whhT = transposed(weight_hh)  # (H, 3H) row-major
    cell = xp.fused(gru_cell_forward)  # the function itself, or compiled (torch, fused=True)
    # views of each step's active rows, made once (see sequence.per_step)
    A, U = per_step(gates, batch_sizes), per_step(us, batch_sizes)
    h_read, h_write = states_per_step(hs, reverse, batch_sizes)
    AH = row_prefixes(ah, batch_sizes)
    for t in time_steps(T, reverse):
        n = active_rows(batch_sizes, t, B)
        ah_t = xp.matmul(h_read[t], whhT, out=AH[n])  # (n, 3H) = h_{t-1} W_hh^T
        u_t = xp.add(ah_t[:, 2 * H :], b_hn, out=U[t])  # u = h_{t-1} W_hn^T + b_hn, kept for BPTT
        cell(A[t], ah_t, u_t, h_read[t], h_write[t])
        if n < B:
            p, c = state_slots(t, reverse)
            hs[c, n:] = hs[p, n:]  # inactive rows keep their state
    out, _, hn = sequence_views(hs, reverse)
    if batch_sizes is not None:
        out = zero_padding(xp.copy(out), batch_sizes)
        zero_padding(gates, batch_sizes)  # padded rows hold unused pre-activations: clear them
        zero_padding(us, batch_sizes)  # (never written)
    cache = (x, hs, gates, us, weight_ih, weight_hh, bias_ih is not None, reverse, batch_sizes)
    return out, xp.copy(hn), cache


def gru_backward(dout, dhn, cache, record=None):
    r"""BPTT through one GRU layer-direction.

    Args:
        dout: ``(T, B, H)`` or None; dhn: ``(B, H)`` or None.

        record: None, or a dict that receives ``"h"``: the norm of
            :math:`\partial L/\partial h_t` (over the active rows) for every ``t``
            as a NumPy array ``(T,)``.
            Off (None), it costs one test per step.

    Returns:
        ``(dx (T, B, D), dh0 (B, H), grads)`` with ``grads`` holding ``weight_ih``,
        ``weight_hh``, ``bias_ih``, ``bias_hh``.
    """
    x, hs, gates, us, weight_ih, weight_hh, has_bias, reverse, batch_sizes = cache
    xp = ops(hs)
    T, B, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    _, h_prev, _ = sequence_views(hs, reverse)  # h_{t-1} for every t, (T, B, H)
    dax = workspace(
        "gru.dax", gates.shape, gates
    )  # (T, B, 3H) kappa^x, then delta^x; 0 where padded
    dah = workspace("gru.dah", gates.shape, gates)  # (T, B, 3H) kappa^h, then delta^h
    dh_next = xp.zeros((B, H), like=hs) if dhn is None else xp.copy(dhn)
    direct = xp.empty((B, H), like=hs)
    local_grads, chain_step = xp.fused(gru_local_grads), xp.fused(gru_chain_step)
    # views of each step's active rows, made once (see sequence.per_step)
    DX, DHH, z_gate = (per_step(buf, batch_sizes) for buf in (dax, dah, gates[..., H : 2 * H]))
    dO = None if dout is None else per_step(dout, batch_sizes)
    DH, DIRECT = row_prefixes(dh_next, batch_sizes), row_prefixes(direct, batch_sizes)
    for lo, hi, steps in backward_blocks(T, reverse, B * 3 * H):
        # 1. the local factors of a block of steps at once (see sequence.backward_blocks)
        local_grads(gates[lo:hi], us[lo:hi], h_prev[lo:hi], dax[lo:hi], dah[lo:hi])
        for buf in (dax, dah):
            zero_padding(buf[lo:hi], None if batch_sizes is None else batch_sizes[lo:hi])
        # 2. the recursion through the block
        for t in steps:
            n = active_rows(batch_sizes, t, B)
            dh = DH[n]  # (n, H); rows past n pass their gradient through unchanged
            if dO is not None:
                dh += dO[t]
            if record is not None:
                _record(record, "h", t, T, dh)
            chain_step(dh, DX[t], DHH[t])
            g_z = xp.multiply(dh, z_gate[t], out=DIRECT[n])  # g z
            xp.matmul(DHH[t], weight_hh, out=dh)
            dh += g_z  # dL/dh_{t-1} = g z + delta^h W_hh
    dx, dweight_ih, db_ih = input_weight_grads(dax, x, weight_ih)
    grads = {
        "weight_ih": dweight_ih,
        "weight_hh": recurrent_weight_grad(dah, h_prev),
        "bias_ih": db_ih if has_bias else None,
        "bias_hh": xp.sum(dah.reshape(T * B, 3 * H), axis=0) if has_bias else None,
    }
    return dx, dh_next, grads
