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
    \delta^h &= [\delta^r, \delta^z, \delta^n \odot r] \quad\text{(reaches } W_{hh}, b_{hh}, h_{t-1}\text{)} \\
    \partial h_{t-1} &= g \odot z + \delta^h W_{hh}

What BPTT keeps per step: the gates ``r, z, n`` (``3H``), ``u`` (``H``) and the
hidden state (``H``).
"""

from __future__ import annotations

from ..backend import ops
from .sequence import (_record, active_rows, check_batch_sizes, input_weight_grads, project_inputs,
                       recurrent_weight_grad, sequence_views, state_slots, time_steps, transposed,
                       zero_padding)

__all__ = ["gru_cell_forward", "gru_cell_backward", "gru_step_forward", "gru_step_backward",
           "gru_forward", "gru_backward"]


def gru_cell_forward(ax, ah, h_prev, h):
    r"""The pointwise part of a step.

    Args:
        ax: ``(B, 3H)`` input pre-activations :math:`x W_{ih}^\top + b_{ih}`; overwritten
            in place by the gates ``[r, z, n]``.
        ah: ``(B, 3H)`` :math:`h_{t-1} W_{hh}^\top + b_{hh}`; its last block is :math:`u`;
            its first two blocks are used as scratch.
        h_prev: ``(B, H)``; h: ``(B, H)`` output buffer for :math:`h_t`.
    """
    xp = ops(ax)
    H = h.shape[-1]
    rz = ax[:, : 2 * H]
    rz += ah[:, : 2 * H]
    xp.sigmoid(rz, out=rz)  # r, z
    r, z, n = ax[:, :H], ax[:, H : 2 * H], ax[:, 2 * H :]
    ru = xp.multiply(r, ah[:, 2 * H :], out=ah[:, :H])  # scratch: r * u
    n += ru
    xp.tanh(n, out=n)  # n = tanh(x W_in^T + b_in + r * u)
    xp.subtract(h_prev, n, out=h)
    h *= z
    h += n  # h_t = n + z * (h_{t-1} - n)


def gru_cell_backward(dh, gates, u, h_prev, dax, dah, work):
    r"""Backward of :func:`gru_cell_forward` (equations in this module's docstring).

    Args:
        dh: ``(B, H)`` gradient of :math:`h_t`; gates: ``(B, 3H)`` ``[r, z, n]``;
        u: ``(B, H)``; h_prev: ``(B, H)``.
        dax, dah: ``(B, 3H)`` output buffers for :math:`\delta^x` and :math:`\delta^h`.
        work: scratch ``(tmp (B, H), deriv (B, 2H))``.

    Returns:
        The direct part :math:`g \odot z` of :math:`\partial L/\partial h_{t-1}`, in ``work[0]``
        (the caller adds :math:`\delta^h W_{hh}`).
    """
    xp = ops(dh)
    H = dh.shape[-1]
    r, z, n = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :]
    tmp, deriv = work
    dr, dz, dn = dax[:, :H], dax[:, H : 2 * H], dax[:, 2 * H :]
    xp.subtract(h_prev, n, out=dz)
    dz *= dh  # dL/dz = g (h_{t-1} - n)
    xp.subtract(1, z, out=dn)
    dn *= dh  # dL/dn = g (1 - z)
    xp.multiply(n, n, out=tmp)
    xp.subtract(1, tmp, out=tmp)
    dn *= tmp  # delta^n = dL/dn (1 - n^2)
    xp.multiply(dn, u, out=dr)  # dL/dr = delta^n u
    rz = gates[:, : 2 * H]
    xp.subtract(1, rz, out=deriv)
    deriv *= rz
    dax[:, : 2 * H] *= deriv  # delta^r, delta^z: through sigma' = s (1 - s)
    dah[:, : 2 * H] = dax[:, : 2 * H]
    xp.multiply(dn, r, out=dah[:, 2 * H :])  # delta^n r reaches W_hn, b_hn and h_{t-1}
    return xp.multiply(dh, z, out=tmp)


def _work(B, H, like):
    xp = ops(like)
    return xp.empty((B, H), like=like), xp.empty((B, 2 * H), like=like)


def _hidden_preact(h_prev, whhT, bias_hh, out=None):
    """``h_prev W_hh^T + b_hh`` ``(B, 3H)``, given ``whhT`` = :math:`W_{hh}^\top`."""
    xp = ops(h_prev)
    ah = xp.matmul(h_prev, whhT, out=out)
    if bias_hh is not None:
        ah += bias_hh
    return ah


def gru_step_forward(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    r"""One GRU step: ``x`` ``(B, D)``, ``h_prev`` ``(B, H)``; weights ``(3H, D)``, ``(3H, H)``.

    Returns:
        ``h`` ``(B, H)`` and the cache.
    """
    xp = ops(x)
    ax = xp.matmul(x, weight_ih.T)  # (B, 3H)
    if bias_ih is not None:
        ax += bias_ih
    ah = _hidden_preact(h_prev, weight_hh.T, bias_hh)  # (B, 3H)
    h = xp.empty_like(h_prev)
    gru_cell_forward(ax, ah, h_prev, h)
    H = h.shape[-1]
    return h, (x, h_prev, ax, ah[:, 2 * H :], weight_ih, weight_hh, bias_ih is not None)


def gru_step_backward(dh, cache):
    r"""Backward of one step: returns ``(dx, dh_prev, grads)``."""
    x, h_prev, gates, u, weight_ih, weight_hh, has_bias = cache
    xp = ops(dh)
    dax, dah = xp.empty_like(gates), xp.empty_like(gates)
    direct = gru_cell_backward(dh, gates, u, h_prev, dax, dah, _work(dh.shape[0], dh.shape[1], dh))
    dh_prev = direct + xp.matmul(dah, weight_hh)
    grads = {"weight_ih": xp.matmul(dax.T, x), "weight_hh": xp.matmul(dah.T, h_prev),
             "bias_ih": xp.sum(dax, axis=0) if has_bias else None,
             "bias_hh": xp.sum(dah, axis=0) if has_bias else None}
    return xp.matmul(dax, weight_ih), dh_prev, grads


def gru_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=False, batch_sizes=None):
    r"""One layer-direction of a GRU over ``T`` steps.

    Args:
        x: ``(T, B, D)``; h0: ``(B, H)``; weight_ih: ``(3H, D)``; weight_hh: ``(3H, H)``;
        biases ``(3H,)`` or None; reverse, batch_sizes: as in :func:`numrnn.functional.rnn_forward`.

    Returns:
        ``out`` ``(T, B, H)`` (zero at padded positions), ``hn`` ``(B, H)`` and the cache.
    """
    xp = ops(x)
    T, B, _ = x.shape
    H = h0.shape[-1]
    batch_sizes = check_batch_sizes(batch_sizes, T, B)
    gates = project_inputs(x, weight_ih, bias_ih)  # (T, B, 3H), becomes [r, z, n]
    us = xp.empty((T, B, H), like=gates)  # u_t = h_{t-1} W_hn^T + b_hn
    hs = xp.empty((T + 1, B, H), like=gates)  # states in time order
    ah = xp.empty((B, 3 * H), like=gates)  # recurrent pre-activations of one step
    hs[T if reverse else 0] = h0
    whhT = transposed(weight_hh)  # (H, 3H) row-major
    for t in time_steps(T, reverse):
        p, c = state_slots(t, reverse)
        n = active_rows(batch_sizes, t, B)
        _hidden_preact(hs[p, :n], whhT, bias_hh, out=ah[:n])
        us[t, :n] = ah[:n, 2 * H :]
        gru_cell_forward(gates[t, :n], ah[:n], hs[p, :n], hs[c, :n])
        if n < B:
            hs[c, n:] = hs[p, n:]
    out, _, hn = sequence_views(hs, reverse)
    if batch_sizes is not None:
        out = zero_padding(xp.copy(out), batch_sizes)
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
    dax = xp.zeros(gates.shape, like=gates)  # (T, B, 3H) delta^x
    dah = xp.zeros(gates.shape, like=gates)  # (T, B, 3H) delta^h
    dh_next = xp.zeros((B, H), like=hs) if dhn is None else xp.copy(dhn)
    work = _work(B, H, hs)
    for t in reversed(time_steps(T, reverse)):
        p, c = state_slots(t, reverse)
        n = active_rows(batch_sizes, t, B)
        dh = dh_next[:n]  # (n, H); rows past n pass their gradient through unchanged
        if dout is not None:
            dh += dout[t, :n]
        if record is not None:
            _record(record, "h", t, T, dh)
        direct = gru_cell_backward(dh, gates[t, :n], us[t, :n], hs[p, :n], dax[t, :n], dah[t, :n],
                                   [w[:n] for w in work])
        xp.matmul(dah[t, :n], weight_hh, out=dh_next[:n])
        dh_next[:n] += direct  # dL/dh_{t-1} = g z + delta^h W_hh
    _, h_prev, _ = sequence_views(hs, reverse)
    dx, dweight_ih, db_ih = input_weight_grads(dax, x, weight_ih)
    grads = {"weight_ih": dweight_ih, "weight_hh": recurrent_weight_grad(dah, h_prev),
             "bias_ih": db_ih if has_bias else None,
             "bias_hh": xp.sum(dah.reshape(T * B, 3 * H), axis=0) if has_bias else None}
    return dx, dh_next, grads
