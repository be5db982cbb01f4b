r"""Exercise 2: the backward pass of one LSTM step.

The forward pass is written for you (PyTorch's gate order ``i, f, g, o``):

.. math::

    a &= x W_{ih}^\top + h_{prev} W_{hh}^\top + b = [a_i, a_f, a_g, a_o] \\
    i &= \sigma(a_i),\ f = \sigma(a_f),\ g = \tanh(a_g),\ o = \sigma(a_o) \\
    c &= f \odot c_{prev} + i \odot g, \qquad h = o \odot \tanh(c)

Your task: the step has two outputs, so it receives two upstream gradients,
:math:`g_h = \partial L/\partial h` and :math:`g_c = \partial L/\partial c` (the
gradient that reaches :math:`c` from the *next* step), both ``(N, H)``.  Return

======================================  ============  =======================================
gradient                                shape         to derive
======================================  ============  =======================================
``dx``                                  ``(N, D)``    :math:`\partial L/\partial x`
``dh_prev``                             ``(N, H)``    :math:`\partial L/\partial h_{prev}`
``dc_prev``                             ``(N, H)``    :math:`\partial L/\partial c_{prev}`
``dw_ih``                               ``(4H, D)``   :math:`\partial L/\partial W_{ih}`
``dw_hh``                               ``(4H, H)``   :math:`\partial L/\partial W_{hh}`
``db``                                  ``(4H,)``     :math:`\partial L/\partial b`
======================================  ============  =======================================

A plan: (1) the gradient of :math:`o` and the *total* gradient of :math:`c`, which
arrives by two paths (through :math:`h` and directly as :math:`g_c`); (2) from it the
gradients of :math:`i, f, g` and of :math:`c_{prev}`; (3) through each gate's
nonlinearity to :math:`\delta = \partial L/\partial a` ``(N, 4H)``, stacked in the
same order as the gates; (4) the matrix products, as in the RNN step.

Check with ``python examples/exercises/check.py lstm_step``.
"""

import numpy as np


def _sigmoid(v):
    # stable: exp of a non-positive number only
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def lstm_step_forward(x, h_prev, c_prev, w_ih, w_hh, b):
    """x (N, D), h_prev/c_prev (N, H), w_ih (4H, D), w_hh (4H, H), b (4H,) -> ((h, c), cache)."""
    H = h_prev.shape[1]
    a = x @ w_ih.T + h_prev @ w_hh.T + b  # (N, 4H)
    i = _sigmoid(a[:, :H])
    f = _sigmoid(a[:, H : 2 * H])
    g = np.tanh(a[:, 2 * H : 3 * H])
    o = _sigmoid(a[:, 3 * H :])
    c = f * c_prev + i * g  # (N, H)
    tc = np.tanh(c)
    h = o * tc
    return (h, c), (x, h_prev, c_prev, w_ih, w_hh, i, f, g, o, tc)


def lstm_step_backward(dout, cache):
    """dout = (dh, dc), both (N, H) ->
    (dx, dh_prev, dc_prev, dw_ih (4H, D), dw_hh (4H, H), db (4H,))."""
    dh, dc_next = dout
    x, h_prev, c_prev, w_ih, w_hh, i, f, g, o, tc = cache
    raise NotImplementedError(
        "write lstm_step_backward; hint: sigma'(a) = sigma(a) (1 - sigma(a)), and c reaches the "
        "loss both through h = o tanh(c) and directly (dc_next): add the two"
    )
