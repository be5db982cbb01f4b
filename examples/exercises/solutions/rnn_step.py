r"""Solution: one step of a tanh RNN, forward and backward.

.. math::

    a = x W_{ih}^\top + h_{prev} W_{hh}^\top + b, \qquad h = \tanh(a)

Backward, with :math:`g = \partial L/\partial h` given:

.. math::

    \delta = \partial L/\partial a = g \odot (1 - h^2) \\
    \partial L/\partial x = \delta W_{ih}, \quad
    \partial L/\partial h_{prev} = \delta W_{hh}, \quad
    \partial L/\partial W_{ih} = \delta^\top x, \quad
    \partial L/\partial W_{hh} = \delta^\top h_{prev}, \quad
    \partial L/\partial b = \textstyle\sum_n \delta_n
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
    da = dh * (1.0 - h * h)  # (N, H): tanh'(a) written through h = tanh(a)
    dx = da @ w_ih
    dh_prev = da @ w_hh
    dw_ih = da.T @ x
    dw_hh = da.T @ h_prev
    db = da.sum(axis=0)
    return dx, dh_prev, dw_ih, dw_hh, db
