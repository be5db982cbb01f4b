r"""The GRU of Cho et al. (2014), optimised: the reset gate applied *before* the recurrent product.

Reached through ``gru_forward(..., reset_after=False)`` (``numrnn.GRU(...,
reset_after=False)``); the readable version is ``numrnn/reference/gru.py`` with
the same keyword.  Keras calls it ``reset_after=False``; PyTorch has no such
module.  Same parameters, names and gate order ``r, z, n`` as the default GRU:

.. math::

    r &= \sigma(x W_{ir}^\top + b_{ir} + h_{t-1} W_{hr}^\top + b_{hr}) \\
    z &= \sigma(x W_{iz}^\top + b_{iz} + h_{t-1} W_{hz}^\top + b_{hz}) \\
    n &= \tanh(x W_{in}^\top + b_{in} + (r \odot h_{t-1}) W_{hn}^\top + b_{hn}) \\
    h_t &= (1 - z) \odot n + z \odot h_{t-1}

Backward of one step, with :math:`g = \partial L/\partial h_t`:

.. math::

    \delta^n &= g \odot (1 - z) \odot (1 - n^2), \qquad
    \delta^z = g \odot (h_{t-1} - n) \odot z (1 - z) \\
    \partial (r \odot h_{t-1}) &= \delta^n W_{hn}, \qquad
    \delta^r = \partial (r \odot h_{t-1}) \odot h_{t-1} \odot r (1 - r) \\
    \partial h_{t-1} &= g \odot z + \partial (r \odot h_{t-1}) \odot r
        + [\delta^r, \delta^z] W_{h\{r,z\}} \\
    \partial W_{h\{r,z\}} &= \textstyle\sum_t [\delta^r, \delta^z]^\top h_{t-1}, \qquad
    \partial W_{hn} = \textstyle\sum_t {\delta^n}^\top (r \odot h_{t-1})

Every bias sits outside a product, so :math:`b_{ih} + b_{hh}` is folded into the
input projection and both biases get :math:`\sum [\delta^r, \delta^z, \delta^n]`.
:math:`\delta^r` needs :math:`\delta^n W_{hn}`, so each backward step makes two
recurrent products (``(B, H) x (H, H)`` then ``(B, 2H) x (2H, H)``), as the forward
does (``h W_{h\{r,z\}}^\top`` before ``(r \odot h) W_{hn}^\top``).

What BPTT keeps per step: the gates ``r, z, n`` (``3H``), :math:`r \odot h_{t-1}`
(``H``, for :math:`\partial W_{hn}`) and the hidden state (``H``), as many numbers
as the default GRU.  The local factors
:math:`[\kappa^r, \kappa^z, \kappa^n] = [h_{t-1} r(1-r),\; (h_{t-1} - n) z(1-z),\; (1-z)(1-n^2)]`
are formed for a block of steps at once, as in :mod:`.gru`.
"""

from __future__ import annotations

from ..backend import ops
from .driver import workspace
from .products import input_weight_grads, project_inputs, recurrent_weight_grad, transposed

__all__ = ["backward", "forward", "step_backward", "step_forward"]


def reset_gates(gates, recurrent_rz, h_prev, rh):
    r"""The gates ``r, z`` and the reset state :math:`r \odot h_{t-1}` of one step.

    ``gates`` ``(B, 3H)``: on entry the input pre-activations (biases folded), on
    return ``r, z`` in its first ``2H`` columns; ``recurrent_rz`` ``(B, 2H)``
    :math:`h_{t-1} W_{h\{r,z\}}^\top`; ``rh`` ``(B, H)`` receives :math:`r \odot h_{t-1}`.
    """
    xp = ops(gates)
    H = h_prev.shape[-1]
    rz = gates[:, : 2 * H]
    rz += recurrent_rz
    xp.sigmoid(rz, out=rz)  # r, z
    xp.multiply(gates[:, :H], h_prev, out=rh)  # r * h_{t-1}


def candidate_and_state(gates, recurrent_n, h_prev, h):
    r"""The candidate :math:`n` (in place in ``gates[:, 2H:]``) and the new state :math:`h_t` into ``h``.

    ``recurrent_n`` ``(B, H)`` is :math:`(r \odot h_{t-1}) W_{hn}^\top`.
    """
    xp = ops(gates)
    H = h.shape[-1]
    n, z = gates[:, 2 * H :], gates[:, H : 2 * H]
    n += recurrent_n
    xp.tanh(n, out=n)
    xp.subtract(h_prev, n, out=h)
    h *= z
    h += n  # h_t = n + z * (h_{t-1} - n)


def local_grads(gates, h_prev, kappa):
    r"""``kappa`` ``(..., 3H)`` :math:`= [h_{t-1} r(1-r),\; (h_{t-1} - n) z(1-z),\; (1-z)(1-n^2)]`."""
    xp = ops(gates)
    H = h_prev.shape[-1]
    r, z, n = (gates[..., j * H : (j + 1) * H] for j in range(3))
    k_r, k_z, k_n = (kappa[..., j * H : (j + 1) * H] for j in range(3))
    xp.multiply(n, n, out=k_n)
    xp.subtract(1, k_n, out=k_n)  # 1 - n^2
    xp.subtract(1, z, out=k_z)
    k_n *= k_z  # kappa^n = (1 - z)(1 - n^2)
    k_z *= z
    xp.subtract(h_prev, n, out=k_r)
    k_z *= k_r  # kappa^z = (h_{t-1} - n) z (1 - z)
    xp.subtract(1, r, out=k_r)
    k_r *= r
    k_r *= h_prev  # kappa^r = h_{t-1} r (1 - r)   [d(r h)/dr = h_{t-1}]


def _bias(bias_ih, bias_hh):
    return None if bias_ih is None else bias_ih + bias_hh


def forward(x, h0, weight_ih, weight_hh, bias_ih, bias_hh, loop):
    """The layer-direction's forward (:func:`.gru.gru_forward`); ``loop`` is its :class:`.driver.TimeLoop`."""
    xp = ops(x)
    H = h0.shape[-1]
    # (T, B, 3H): x W_ih^T + b_ih + b_hh; each step turns its rows into the gates [r, z, n]
    gates = project_inputs(x, weight_ih, _bias(bias_ih, bias_hh))
    rhs = xp.empty((loop.T, loop.B, H), like=gates)  # r_t * h_{t-1}, kept for dW_hn
    hs = loop.states(h0)
    h_prev, h_new = loop.read_write(hs)
    gates_t, rh_t = loop.per_step(gates), loop.per_step(rhs)
    rec_rz = loop.row_prefixes(xp.empty((loop.B, 2 * H), like=gates))  # h W_h{r,z}^T
    rec_n = loop.row_prefixes(xp.empty((loop.B, H), like=gates))  # (r * h) W_hn^T
    w_rzT, w_nT = transposed(weight_hh[: 2 * H]), transposed(weight_hh[2 * H :])
    gates_fn, update_fn = xp.fused(reset_gates), xp.fused(candidate_and_state)

    def step(t, n):
        gates_fn(gates_t[t], xp.matmul(h_prev[t], w_rzT, out=rec_rz[n]), h_prev[t], rh_t[t])
        update_fn(gates_t[t], xp.matmul(rh_t[t], w_nT, out=rec_n[n]), h_prev[t], h_new[t])

    loop.forward(step, hs)
    out, hn = loop.output(hs)
    loop.clear_padding(gates, rhs)
    return out, hn, (x, hs, gates, rhs, weight_ih, weight_hh, bias_ih is not None, loop, False)


def chain_step(dh, delta):
    r""":math:`\delta^z, \delta^n = g \odot \kappa^z, g \odot \kappa^n` in place in ``delta[:, H:]``."""
    xp = ops(dh)
    B, H = dh.shape
    zn = delta[:, H:].reshape(B, 2, H)
    xp.multiply(zn, dh[:, None, :], out=zn)


def reset_step(delta, d_rh, dh, g_z, z, r):
    r"""The rest of a step's pointwise backward, in place.

    :math:`\delta^r = \partial(r h) \odot \kappa^r` into ``delta[:, :H]``; ``g_z`` receives
    :math:`g \odot z`; ``d_rh`` becomes :math:`\partial(r h) \odot r`.
    """
    xp = ops(dh)
    H = dh.shape[-1]
    delta[:, :H] *= d_rh  # delta^r = d(r h) * h_{t-1} r (1 - r)
    xp.multiply(dh, z, out=g_z)
    d_rh *= r  # what reaches h_{t-1} through r * h_{t-1}


def backward(dout, dhn, cache, record=None):
    """The layer-direction's BPTT (the module docstring has the equations).  See :func:`.gru.gru_backward`."""
    x, hs, gates, rhs, weight_ih, weight_hh, has_bias, loop, _ = cache
    xp = ops(hs)
    H = hs.shape[-1]
    h_prev_all = loop.previous(hs)
    delta = workspace("gru.delta_x", gates.shape, gates)  # kappa, then delta; 0 where padded
    dh_next = loop.carried(dhn, hs)
    local_fn, chain_fn, reset_fn = xp.fused(local_grads), xp.fused(chain_step), xp.fused(reset_step)
    delta_t, z_t = loop.per_step(delta), loop.per_step(gates[..., H : 2 * H])
    r_t = loop.per_step(gates[..., :H])
    d_rh_rows = loop.row_prefixes(xp.empty((loop.B, H), like=hs))  # dL/d(r * h_{t-1})
    g_z_rows = loop.row_prefixes(xp.empty((loop.B, H), like=hs))  # g z
    w_rz, w_n = weight_hh[: 2 * H], weight_hh[2 * H :]

    def local_factors(lo, hi):
        local_fn(gates[lo:hi], h_prev_all[lo:hi], delta[lo:hi])

    def step(t, n, dh):
        d = delta_t[t]  # (n, 3H)
        chain_fn(dh, d)
        d_rh = xp.matmul(d[:, 2 * H :], w_n, out=d_rh_rows[n])  # d(r h) = delta^n W_hn
        reset_fn(d, d_rh, dh, g_z_rows[n], z_t[t], r_t[t])
        xp.matmul(d[:, : 2 * H], w_rz, out=dh)  # [delta^r, delta^z] W_h{r,z}
        dh += g_z_rows[n]
        dh += d_rh  # dL/dh_{t-1} = g z + d(r h) r + [delta^r, delta^z] W_h{r,z}

    loop.backward(local_factors, step, dout, dh_next, 3 * H, (delta,), record)
    dx, dweight_ih, dbias = input_weight_grads(delta, x, weight_ih)
    dweight_hh = xp.concatenate(
        [
            recurrent_weight_grad(delta[..., : 2 * H], h_prev_all),  # (2H, H)
            recurrent_weight_grad(delta[..., 2 * H :], rhs),  # (H, H)
        ]
    )
    grads = {
        "weight_ih": dweight_ih,
        "weight_hh": dweight_hh,
        "bias_ih": dbias if has_bias else None,
        "bias_hh": xp.copy(dbias) if has_bias else None,
    }
    return dx, dh_next, grads


def step_forward(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One step (a cell): see :func:`.gru.gru_step_forward`; returns ``h`` and the cache."""
    xp = ops(x)
    H = h_prev.shape[-1]
    gates = xp.matmul(x, weight_ih.T)  # (B, 3H)
    if bias_ih is not None:
        gates += bias_ih + bias_hh
    rh, h = xp.empty_like(h_prev), xp.empty_like(h_prev)
    reset_gates(gates, xp.matmul(h_prev, weight_hh[: 2 * H].T), h_prev, rh)
    candidate_and_state(gates, xp.matmul(rh, weight_hh[2 * H :].T), h_prev, h)
    return h, (x, h_prev, gates, rh, weight_ih, weight_hh, bias_ih is not None, False)


def step_backward(dh, cache):
    """Backward of :func:`step_forward`: ``(dx, dh_prev, grads)``."""
    x, h_prev, gates, rh, weight_ih, weight_hh, has_bias, _ = cache
    xp = ops(dh)
    H = dh.shape[-1]
    delta, g_z = xp.empty_like(gates), xp.empty_like(dh)
    local_grads(gates, h_prev, delta)
    chain_step(dh, delta)
    d_rh = xp.matmul(delta[:, 2 * H :], weight_hh[2 * H :])  # d(r h) = delta^n W_hn
    reset_step(delta, d_rh, dh, g_z, gates[:, H : 2 * H], gates[:, :H])
    dh_prev = xp.matmul(delta[:, : 2 * H], weight_hh[: 2 * H]) + g_z + d_rh
    dbias = xp.sum(delta, axis=0) if has_bias else None
    grads = {
        "weight_ih": xp.matmul(delta.T, x),
        "weight_hh": xp.concatenate(
            [xp.matmul(delta[:, : 2 * H].T, h_prev), xp.matmul(delta[:, 2 * H :].T, rh)]
        ),
        "bias_ih": dbias,
        "bias_hh": None if dbias is None else xp.copy(dbias),
    }
    return xp.matmul(delta, weight_ih), dh_prev, grads
