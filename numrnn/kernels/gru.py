r"""The GRU, optimised.  PyTorch's formulation (``b_hn`` inside the reset product) by default.

The readable version is ``numrnn/reference/gru.py``; this file computes the same
numbers (tested to float64 rounding) faster.  Gates ``r, z, n`` stacked in that
order in ``weight_ih`` ``(3H, D)`` and ``weight_hh`` ``(3H, H)``.

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

``reset_after=False`` selects the formulation of Cho et al. (2014) (Keras's
``reset_after=False``), in which the reset gate multiplies the state *before*
the product, :math:`n = \tanh(x W_{in}^\top + b_{in} + (r \odot h_{t-1}) W_{hn}^\top + b_{hn})`;
its kernels are in :mod:`.gru_reset_before`.

The tricks, each with the identity it relies on:

* **Folded biases.** :math:`b_{hr}` and :math:`b_{hz}` sit outside any product, so
  they are added once with the input projection (a sum of biases is one bias);
  only :math:`b_{hn}`, which the reset gate scales, stays in the step.
* **Stable sigmoid**: :math:`\sigma(a) = \tfrac12 \tanh(\tfrac12 a) + \tfrac12`
  (never overflows; ``backend.sigmoid``).
* **Local factors** (:func:`gru_local_grads`): with
  :math:`\kappa^n = (1 - z)(1 - n^2)`, :math:`\kappa^z = (h_{t-1} - n)\, z(1 - z)`,
  :math:`\kappa^r = \kappa^n u\, r(1 - r)`, every pre-activation gradient is the
  incoming :math:`g` times a factor known after the forward:
  :math:`\delta^x = g \odot [\kappa^r, \kappa^z, \kappa^n]`,
  :math:`\delta^h = g \odot [\kappa^r, \kappa^z, \kappa^n r]`.  The factors are formed
  for a block of steps at once (:func:`.driver.backward_blocks`); the loop keeps
  one multiplication and the recurrent product (:func:`gru_chain_step`).
* **Products out of the loop** (:mod:`.products`), a row-major :math:`W_{hh}^\top`,
  in-place updates into preallocated buffers, per-thread workspaces for
  :math:`\delta^x, \delta^h` (:func:`.driver.workspace`).
"""

from __future__ import annotations

from ..backend import ops
from . import gru_reset_before
from .driver import TimeLoop, layer_weights, workspace
from .products import input_weight_grads, project_inputs, recurrent_weight_grad, transposed

__all__ = [
    "gru_backward",
    "gru_cell_forward",
    "gru_chain_step",
    "gru_forward",
    "gru_local_grads",
    "gru_step_backward",
    "gru_step_forward",
]


def gru_cell_forward(gates, recurrent, u, h_prev, h):
    r"""The pointwise part of a step.

    Args:
        gates: ``(B, 3H)``: on entry the input pre-activations
            :math:`x W_{ih}^\top + b_{ih}` plus :math:`b_{hr}, b_{hz}` (folded); on
            return the gates ``[r, z, n]``, computed in place.
        recurrent: ``(B, 3H)`` :math:`h_{t-1} W_{hh}^\top` (no bias); its last block
            is used as scratch.
        u: ``(B, H)`` :math:`h_{t-1} W_{hn}^\top + b_{hn}`, the term the reset gate scales.
        h_prev: ``(B, H)``; h: ``(B, H)`` output buffer for :math:`h_t`.
    """
    xp = ops(gates)
    H = h.shape[-1]
    rz = gates[:, : 2 * H]
    rz += recurrent[:, : 2 * H]
    xp.sigmoid(rz, out=rz)  # r, z
    r, z, n = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :]
    n += xp.multiply(r, u, out=recurrent[:, 2 * H :])
    xp.tanh(n, out=n)  # n = tanh(x W_in^T + b_in + r * u)
    xp.subtract(h_prev, n, out=h)
    h *= z
    h += n  # h_t = n + z * (h_{t-1} - n)


def gru_local_grads(gates, u, h_prev, kappa_x, kappa_h):
    r"""The factors of the backward that do not depend on the incoming gradient.

    Works on one step ``(B, .)`` or on a block of steps ``(S, B, .)``.

    Args:
        gates: ``(..., 3H)`` ``[r, z, n]``; u, h_prev: ``(..., H)``.
        kappa_x: ``(..., 3H)`` output buffer for :math:`[\kappa^r, \kappa^z, \kappa^n]`.
        kappa_h: ``(..., 3H)`` output buffer for :math:`[\kappa^r, \kappa^z, \kappa^n r]`.
    """
    xp = ops(gates)
    H = u.shape[-1]
    r, z, n = (gates[..., j * H : (j + 1) * H] for j in range(3))
    k_r, k_z, k_n = (kappa_x[..., j * H : (j + 1) * H] for j in range(3))
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
    kappa_h[..., : 2 * H] = kappa_x[..., : 2 * H]
    xp.multiply(k_n, r, out=kappa_h[..., 2 * H :])  # delta^n r reaches W_hn, b_hn and h_{t-1}


def gru_chain_step(dh, kappa_x, kappa_h):
    r"""One step of the recursion, in place.

    :math:`\delta^x = g \odot \kappa^x`, :math:`\delta^h = g \odot \kappa^h`.

    ``dh`` ``(B, H)`` is :math:`g`; ``kappa_x``, ``kappa_h`` ``(B, 3H)`` hold the local
    factors on entry and the gradients on return (the caller adds
    :math:`g z + \delta^h W_{hh}` for :math:`\partial L/\partial h_{t-1}`).
    """
    xp = ops(dh)
    B, H = dh.shape
    g = dh[:, None, :]  # broadcast over the three gate blocks
    for kappa in (kappa_x, kappa_h):
        blocks = kappa.reshape(B, 3, H)
        xp.multiply(blocks, g, out=blocks)


def _split_bias(bias_ih, bias_hh, H, like):
    """The bias added to the input projection (``b_ih`` plus ``b_hr``, ``b_hz``) and ``b_hn``."""
    xp = ops(like)
    if bias_ih is None:
        return None, xp.zeros((H,), like=like)
    b_x = xp.copy(bias_ih)
    b_x[: 2 * H] += bias_hh[: 2 * H]
    return b_x, bias_hh[2 * H :]


def gru_forward(x, h0, params, reset_after=True, reverse=False, batch_sizes=None):
    r"""One layer-direction of a GRU over ``T`` steps.

    Called as :func:`numrnn.reference.gru_forward` is, with the options of a layer after it.

    Args:
        x: ``(T, B, D)``; h0: ``(B, H)``.
        params: the weights, keyed as in :mod:`numrnn.reference`: ``weight_ih`` ``(3H, D)``,
            ``weight_hh`` ``(3H, H)``, and ``bias_ih``, ``bias_hh`` ``(3H,)`` both or
            neither (absent or None: no bias).
        reset_after: True (PyTorch's :math:`r \odot (h W_{hn}^\top + b_{hn})`) or False
            (Cho et al.'s :math:`(r \odot h) W_{hn}^\top + b_{hn}`, :mod:`.gru_reset_before`).
        reverse, batch_sizes: as in :func:`numrnn.kernels.rnn_forward`.

    Returns:
        ``out`` ``(T, B, H)`` (zero at padded positions), ``hn`` ``(B, H)`` and the cache.

    Raises:
        TypeError, KeyError: ``params`` as in :func:`numrnn.kernels.rnn_forward`.
        ValueError: one bias without the other, or inconsistent ``batch_sizes``.
    """
    weight_ih, weight_hh, bias_ih, bias_hh = layer_weights("gru_forward", params)
    loop = TimeLoop(x, reverse, batch_sizes)
    if not reset_after:
        return gru_reset_before.forward(x, h0, weight_ih, weight_hh, bias_ih, bias_hh, loop)
    xp = ops(x)
    H = h0.shape[-1]
    b_x, b_hn = _split_bias(bias_ih, bias_hh, H, weight_hh)
    # (T, B, 3H): input pre-activations; each step turns its rows into the gates [r, z, n]
    gates = project_inputs(x, weight_ih, b_x)
    us = xp.empty((loop.T, loop.B, H), like=gates)  # u_t = h_{t-1} W_hn^T + b_hn, kept for BPTT
    hs = loop.states(h0)  # (T + 1, B, H) in time order
    h_prev, h_new = loop.read_write(hs)
    gates_t, u_t = loop.per_step(gates), loop.per_step(us)
    rec_buf = xp.empty((loop.B, 3 * H), like=gates)  # h_{t-1} W_hh^T of one step
    recurrent, recurrent_n = loop.row_prefixes(rec_buf), loop.row_prefixes(rec_buf[:, 2 * H :])
    whhT = transposed(weight_hh)  # (H, 3H) row-major
    cell = xp.fused(gru_cell_forward)  # the function itself, or compiled (torch, fused=True)

    def step(t, n):
        rec = xp.matmul(h_prev[t], whhT, out=recurrent[n])  # (n, 3H)
        u = xp.add(recurrent_n[n], b_hn, out=u_t[t])  # u = h_{t-1} W_hn^T + b_hn
        cell(gates_t[t], rec, u, h_prev[t], h_new[t])

    loop.forward(step, hs)
    out, hn = loop.output(hs)
    loop.clear_padding(gates, us)  # padded rows hold unused pre-activations, or nothing
    return out, hn, (x, hs, gates, us, weight_ih, weight_hh, bias_ih is not None, loop, True)


def gru_backward(dout, dhn, cache, record=None):
    r"""BPTT through one GRU layer-direction (the module docstring has the equations).

    Args:
        dout: ``(T, B, H)`` or None; dhn: ``(B, H)`` or None; cache: from :func:`gru_forward`.
        record: None, or a dict that receives ``"h"``: the norm of
            :math:`\partial L/\partial h_t` (over the active rows) for every ``t``
            as a NumPy array ``(T,)``.  Off (None), it costs one test per step.

    Returns:
        ``(dx (T, B, D), dh0 (B, H), grads)`` with ``grads`` holding ``weight_ih``,
        ``weight_hh``, ``bias_ih``, ``bias_hh``.
    """
    if not cache[-1]:
        return gru_reset_before.backward(dout, dhn, cache, record)
    x, hs, gates, us, weight_ih, weight_hh, has_bias, loop, _ = cache
    xp = ops(hs)
    H = hs.shape[-1]
    h_prev_all = loop.previous(hs)  # h_{t-1} for every t, (T, B, H)
    # (T, B, 3H) each: kappa^x and kappa^h, then delta^x and delta^h in place; 0 where padded
    delta_x = workspace("gru.delta_x", gates.shape, gates)
    delta_h = workspace("gru.delta_h", gates.shape, gates)
    dh_next = loop.carried(dhn, hs)
    local_grads, chain_step = xp.fused(gru_local_grads), xp.fused(gru_chain_step)
    delta_x_t, delta_h_t = loop.per_step(delta_x), loop.per_step(delta_h)
    z_t = loop.per_step(gates[..., H : 2 * H])
    g_z_rows = loop.row_prefixes(xp.empty((loop.B, H), like=hs))  # g z of one step

    def local_factors(lo, hi):
        local_grads(gates[lo:hi], us[lo:hi], h_prev_all[lo:hi], delta_x[lo:hi], delta_h[lo:hi])

    def step(t, n, dh):
        chain_step(dh, delta_x_t[t], delta_h_t[t])
        g_z = xp.multiply(dh, z_t[t], out=g_z_rows[n])
        xp.matmul(delta_h_t[t], weight_hh, out=dh)
        dh += g_z  # dL/dh_{t-1} = g z + delta^h W_hh

    loop.backward(local_factors, step, dout, dh_next, 3 * H, (delta_x, delta_h), record)
    dx, dweight_ih, dbias_ih = input_weight_grads(delta_x, x, weight_ih)
    grads = {
        "weight_ih": dweight_ih,
        "weight_hh": recurrent_weight_grad(delta_h, h_prev_all),
        "bias_ih": dbias_ih if has_bias else None,
        "bias_hh": xp.sum(delta_h.reshape(-1, 3 * H), axis=0) if has_bias else None,
    }
    return dx, dh_next, grads


def gru_step_forward(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reset_after=True):
    r"""One GRU step (a cell), with the pointwise kernels of the layer.

    Args:
        x: ``(B, D)``; h_prev: ``(B, H)``; weight_ih: ``(3H, D)``; weight_hh: ``(3H, H)``;
        bias_ih, bias_hh: ``(3H,)`` or both None; reset_after: as in :func:`gru_forward`.

    Returns:
        ``h`` ``(B, H)`` and the cache for :func:`gru_step_backward`.
    """
    if not reset_after:
        return gru_reset_before.step_forward(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)
    xp = ops(x)
    H = h_prev.shape[-1]
    b_x, b_hn = _split_bias(bias_ih, bias_hh, H, weight_hh)
    gates = xp.matmul(x, weight_ih.T)  # (B, 3H)
    if b_x is not None:
        gates += b_x
    recurrent = xp.matmul(h_prev, weight_hh.T)  # (B, 3H)
    u = recurrent[:, 2 * H :] + b_hn  # (B, H)
    h = xp.empty_like(h_prev)
    gru_cell_forward(gates, recurrent, u, h_prev, h)
    return h, (x, h_prev, gates, u, weight_ih, weight_hh, bias_ih is not None, True)


def gru_step_backward(dh, cache):
    r"""Backward of :func:`gru_step_forward` given :math:`\partial L/\partial h` ``(B, H)``.

    Returns:
        ``(dx (B, D), dh_prev (B, H), grads)`` with ``grads`` as in :func:`gru_backward`.
    """
    if not cache[-1]:
        return gru_reset_before.step_backward(dh, cache)
    x, h_prev, gates, u, weight_ih, weight_hh, has_bias, _ = cache
    xp = ops(dh)
    H = dh.shape[-1]
    delta_x, delta_h = xp.empty_like(gates), xp.empty_like(gates)
    gru_local_grads(gates, u, h_prev, delta_x, delta_h)
    gru_chain_step(dh, delta_x, delta_h)
    dh_prev = dh * gates[:, H : 2 * H] + xp.matmul(delta_h, weight_hh)  # g z + delta^h W_hh
    grads = {
        "weight_ih": xp.matmul(delta_x.T, x),
        "weight_hh": xp.matmul(delta_h.T, h_prev),
        "bias_ih": xp.sum(delta_x, axis=0) if has_bias else None,
        "bias_hh": xp.sum(delta_h, axis=0) if has_bias else None,
    }
    return xp.matmul(delta_x, weight_ih), dh_prev, grads
