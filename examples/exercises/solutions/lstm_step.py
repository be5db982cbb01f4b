r"""Solution: one LSTM step (gates stacked i, f, g, o as in PyTorch), forward and backward.

.. math::

    a &= x W_{ih}^\top + h_{prev} W_{hh}^\top + b = [a_i, a_f, a_g, a_o] \\
    i &= \sigma(a_i),\ f = \sigma(a_f),\ g = \tanh(a_g),\ o = \sigma(a_o) \\
    c &= f \odot c_{prev} + i \odot g, \qquad h = o \odot \tanh(c)

Backward, with :math:`g_h = \partial L/\partial h` and :math:`g_c = \partial L/\partial c`
(from later steps) given:

.. math::

    \partial o &= g_h \odot \tanh c, \qquad
    \partial c = g_c + g_h \odot o \odot (1 - \tanh^2 c) \\
    \partial i &= \partial c \odot g,\quad \partial f = \partial c \odot c_{prev},\quad
    \partial g = \partial c \odot i,\quad \partial c_{prev} = \partial c \odot f \\
    \delta &= [\partial i\, i(1-i),\ \partial f\, f(1-f),\ \partial g\,(1-g^2),\ \partial o\, o(1-o)] \\
    \partial x &= \delta W_{ih},\ \partial h_{prev} = \delta W_{hh},\
    \partial W_{ih} = \delta^\top x,\ \partial W_{hh} = \delta^\top h_{prev},\
    \partial b = \textstyle\sum_n \delta_n
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
    do = dh * tc
    dc = dc_next + dh * o * (1.0 - tc * tc)  # both paths into c
    di = dc * g
    df = dc * c_prev
    dg = dc * i
    dc_prev = dc * f
    da = np.concatenate(
        [di * i * (1.0 - i), df * f * (1.0 - f), dg * (1.0 - g * g), do * o * (1.0 - o)], axis=1
    )  # (N, 4H)
    dx = da @ w_ih
    dh_prev = da @ w_hh
    dw_ih = da.T @ x
    dw_hh = da.T @ h_prev
    db = da.sum(axis=0)
    return dx, dh_prev, dc_prev, dw_ih, dw_hh, db
