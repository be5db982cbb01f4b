r"""Exercise 1: the backward pass of one tanh RNN step.

The forward pass is written for you:

.. math::

    a = x W_{ih}^\top + h_{prev} W_{hh}^\top + b, \qquad h = \tanh(a)

Your task: given :math:`g = \partial L/\partial h` (shape ``(N, H)``) and the cache,
return the gradient of :math:`L` with respect to every input of the forward, in the
order of its arguments:

======================================  ==========  =====================================
gradient                                shape       to derive
======================================  ==========  =====================================
``dx``                                  ``(N, D)``  :math:`\partial L/\partial x`
``dh_prev``                             ``(N, H)``  :math:`\partial L/\partial h_{prev}`
``dw_ih``                               ``(H, D)``  :math:`\partial L/\partial W_{ih}`
``dw_hh``                               ``(H, H)``  :math:`\partial L/\partial W_{hh}`
``db``                                  ``(H,)``    :math:`\partial L/\partial b`
======================================  ==========  =====================================

Work in two stages: first :math:`\delta = \partial L/\partial a`, which needs only
``g`` and what the forward cached; then the five gradients, each a single matrix
product or sum involving :math:`\delta`.  Check every gradient's shape against the
table: a gradient always has the shape of the thing it is the gradient of.

Check with ``python examples/exercises/check.py rnn_step``.
"""

import numpy as np


def rnn_step_forward(x, h_prev, w_ih, w_hh, b):
    """x (N, D), h_prev (N, H), w_ih (H, D), w_hh (H, H), b (H,) -> h (N, H), cache."""
    a = x @ w_ih.T + h_prev @ w_hh.T + b  # (N, H)
    h = np.tanh(a)
    return h, (x, h_prev, w_ih, w_hh, h)


def rnn_step_backward(dh, cache):
    """dh (N, H) -> (dx (N, D), dh_prev (N, H), dw_ih (H, D), dw_hh (H, H), db (H,))."""
    x, h_prev, w_ih, w_hh, h = cache
    raise NotImplementedError(
        "write rnn_step_backward; hint: d tanh(a)/da = 1 - tanh(a)^2, and tanh(a) is the cached h"
    )
