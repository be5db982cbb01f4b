r"""The matrix products the fast kernels take out of the time loop.

Only the recurrent product :math:`h_{t-1} W_{hh}^\top` (and its backward
:math:`\delta_t W_{hh}`) depends on the previous step.  Everything else is done
for all ``T`` steps at once, as one matrix product over ``T * B`` rows: the input
projection before the loop, and the input and weight gradients after it.  The
same sums as the reference's per-step ``+=``, in bigger pieces.
"""

from __future__ import annotations

from ..backend import ops

__all__ = [
    "input_weight_grads",
    "layer_weight_grads",
    "project_inputs",
    "recurrent_weight_grad",
    "step_weight_grads",
    "transposed",
]


def project_inputs(x, weight_ih, bias=None):
    r"""Input projections of every time step in one matrix product.

    :math:`A^{x}_t = x_t W_{ih}^\top + b` for all ``t`` at once: ``x`` ``(T, B, D)``,
    ``weight_ih`` ``(G, D)``, ``bias`` ``(G,)`` or None; returns ``(T, B, G)``.
    """
    xp = ops(x)
    T, B, D = x.shape
    pre = xp.matmul(x.reshape(T * B, D), xp.contiguous(weight_ih.T))  # (T*B, G)
    if bias is not None:
        pre += bias
    return pre.reshape(T, B, weight_ih.shape[0])


def input_weight_grads(delta, x, weight_ih):
    r"""The gradients that need no loop: one matrix product each over all ``T * B`` rows.

    With :math:`\delta_t = \partial L / \partial A^{x}_t` stacked as ``delta`` ``(T, B, G)``:
    :math:`\partial L/\partial W_{ih} = \sum_t \delta_t^\top x_t`,
    :math:`\partial L/\partial b = \sum_{t,b} \delta_t`,
    :math:`\partial L/\partial x_t = \delta_t W_{ih}`.

    Returns ``(dx (T, B, D), dweight_ih (G, D), dbias (G,))``.
    """
    xp = ops(delta)
    T, B, G = delta.shape
    rows = delta.reshape(T * B, G)
    dweight = xp.matmul(rows.T, x.reshape(T * B, x.shape[-1]))  # (G, D)
    dbias = xp.sum(rows, axis=0)  # (G,)
    dx = xp.matmul(rows, weight_ih).reshape(T, B, x.shape[-1])  # (T, B, D)
    return dx, dweight, dbias


def layer_weight_grads(delta, x, weight_ih, h_prev, has_bias):
    r"""``dx`` and the weight gradients of a layer whose input and recurrent products share
    ``delta`` (RNN, LSTM): :func:`input_weight_grads` and :func:`recurrent_weight_grad`.

    Both biases enter the same pre-activation, so each receives the same sum.
    ``delta`` ``(T, B, G)``, ``x`` ``(T, B, D)``, ``h_prev`` ``(T, B, S)``.

    Returns ``(dx (T, B, D), {"weight_ih", "weight_hh", "bias_ih", "bias_hh"})``; the
    bias entries are None when ``has_bias`` is false.
    """
    dx, dweight_ih, dbias = input_weight_grads(delta, x, weight_ih)
    grads = {
        "weight_ih": dweight_ih,
        "weight_hh": recurrent_weight_grad(delta, h_prev),
        "bias_ih": dbias if has_bias else None,
        "bias_hh": ops(delta).copy(dbias) if has_bias else None,
    }
    return dx, grads


def step_weight_grads(delta, x, h_prev, weight_ih, weight_hh, has_bias):
    r"""One step's gradients for a layer whose input and recurrent products share ``delta``.

    With ``delta`` :math:`\delta` ``(B, G)``: :math:`\bar x = \delta W_{ih}`,
    :math:`\bar h_{prev} = \delta W_{hh}`, :math:`\bar W_{ih} = \delta^\top x`,
    :math:`\bar W_{hh} = \delta^\top h_{prev}` and both biases :math:`\sum_b \delta_b`.

    Returns ``(dx (B, D), dh_prev (B, S), grads)``; the bias entries of ``grads`` are None
    when ``has_bias`` is false.
    """
    xp = ops(delta)
    dbias = xp.sum(delta, axis=0) if has_bias else None
    grads = {
        "weight_ih": xp.matmul(delta.T, x),
        "weight_hh": xp.matmul(delta.T, h_prev),
        "bias_ih": dbias,
        "bias_hh": None if dbias is None else xp.copy(dbias),
    }
    return xp.matmul(delta, weight_ih), xp.matmul(delta, weight_hh), grads


def recurrent_weight_grad(delta, h_prev):
    r""":math:`\partial L/\partial W = \sum_t \delta_t^\top h_{t-1}` as one product: ``(G, S)``.

    ``delta`` ``(T, B, G)`` (may be a column slice of a wider buffer), ``h_prev`` ``(T, B, S)``.
    """
    xp = ops(delta)
    T, B, G = delta.shape
    return xp.matmul(delta.reshape(T * B, G).T, h_prev.reshape(T * B, h_prev.shape[-1]))


def transposed(weight):
    r"""``weight.T`` copied row-major, once per sequence.

    The recurrent product of every step, :math:`h_{t-1} W_{hh}^\top`, runs faster
    on a row-major right operand (BLAS reads it along its rows: 10.5 µs against
    2.8 µs at (8, 64) x (64, 256)); the copy costs one pass over the weights, the
    steps save far more.
    """
    return ops(weight).contiguous(weight.T)
