r"""LSTM with diagonal peephole connections (Gers & Schmidhuber 2000), the readable step pair.

The gates ``i`` and ``f`` also see the previous cell state, the gate ``o`` the new one,
each through a diagonal weight (a vector of ``H`` entries, multiplied elementwise).
PyTorch's layout otherwise: gates stacked ``i, f, g, o`` in ``weight_ih`` ``(4H, D)`` and
``weight_hh`` ``(4H, H)``.  Forward of one step::

    a = x W_ih^T + b_ih + h_prev W_hh^T + b_hh      (B, 4H), split into a_i, a_f, a_g, a_o
    i = sigmoid(a_i + w_ci * c_prev)
    f = sigmoid(a_f + w_cf * c_prev)
    g = tanh(a_g)
    c = f * c_prev + i * g
    o = sigmoid(a_o + w_co * c)                     (the new cell state)
    h = o * tanh(c)

Backward of one step, given dh = dL/dh and dc_next = dL/dc from the later steps::

    do   = dh * tanh(c);      da_o = do * o(1-o)
    dc   = dc_next + dh * o * (1 - tanh(c)^2) + da_o * w_co     (c also reaches o)
    da_i = dc * g * i(1-i);   da_f = dc * c_prev * f(1-f);   da_g = dc * i * (1-g^2)
    dc_prev = dc * f + da_i * w_ci + da_f * w_cf
    dw_ci = sum_B da_i * c_prev,  dw_cf = sum_B da_f * c_prev,  dw_co = sum_B da_o * c
    da = [da_i, da_f, da_g, da_o]
    dx = da W_ih,  dh_prev = da W_hh,  dW_ih = da^T x,  dW_hh = da^T h_prev,  db = sum_B da

Parameters: the four of the plain LSTM plus ``weight_ci``, ``weight_cf``, ``weight_co``,
each ``(H,)``, initialised to zero (so a new peephole LSTM computes what the plain LSTM
with the same weights computes, and learns how much to look at its cell).  Like every
weight, they are kept with ``bias=False``.
"""

from __future__ import annotations

import numpy as np

from .cell import Cell, Weight, gated_weights
from .common import sigmoid
from .lstm import lstm_preactivations

__all__ = [
    "PEEPHOLE_WEIGHTS",
    "lstm_peephole_cell",
    "lstm_peephole_step_backward",
    "lstm_peephole_step_forward",
]


def lstm_peephole_step_forward(x, state, params):
    """One step: ``x`` (B, D), ``state = (h_prev, c_prev)`` each (B, H) -> ``(h, c), cache``."""
    h_prev, c_prev = state
    p_ih, p_hh = x @ params["weight_ih"].T, h_prev @ params["weight_hh"].T  # (B, 4H) each
    a_i, a_f, a_g, a_o = lstm_preactivations(p_ih, p_hh, params)  # as in the plain LSTM
    i = sigmoid(a_i + params["weight_ci"] * c_prev)
    f = sigmoid(a_f + params["weight_cf"] * c_prev)
    g = np.tanh(a_g)
    c = f * c_prev + i * g  # (B, H)
    o = sigmoid(a_o + params["weight_co"] * c)
    h = o * np.tanh(c)  # (B, H)
    return (h, c), (x, h_prev, c_prev, i, f, g, o, c, params)


def lstm_peephole_step_backward(dstate, cache):
    """``dstate = (dh, dc_next)`` each (B, H) -> ``dx, (dh_prev, dc_prev), grads``.

    ``grads`` has the keys of the step's ``params``.
    """
    dh, dc_next = dstate
    x, h_prev, c_prev, i, f, g, o, c, params = cache
    tanh_c = np.tanh(c)
    do = dh * tanh_c
    da_o = do * o * (1 - o)
    dc = dc_next + dh * o * (1 - tanh_c**2) + da_o * params["weight_co"]
    da_i = dc * g * i * (1 - i)
    da_f = dc * c_prev * f * (1 - f)
    da_g = dc * i * (1 - g**2)
    dc_prev = dc * f + da_i * params["weight_ci"] + da_f * params["weight_cf"]
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)  # (B, 4H)
    grads = {
        "weight_ih": da.T @ x,  # (4H, D)
        "weight_hh": da.T @ h_prev,  # (4H, H)
        "bias_ih": da.sum(axis=0),  # (4H,)
        "bias_hh": da.sum(axis=0),
        "weight_ci": (da_i * c_prev).sum(axis=0),  # (H,)
        "weight_cf": (da_f * c_prev).sum(axis=0),
        "weight_co": (da_o * c).sum(axis=0),
    }
    dx = da @ params["weight_ih"]  # (B, D)
    dh_prev = da @ params["weight_hh"]  # (B, H)
    return dx, (dh_prev, dc_prev), {name: grads[name] for name in params}


def _zeros(rng, shape, hidden_size):
    """Peepholes start at zero: the cell starts as the plain LSTM."""
    return np.zeros(shape)


PEEPHOLE_WEIGHTS = tuple(
    Weight(name, lambda D, H: (H,), init=_zeros) for name in ("weight_ci", "weight_cf", "weight_co")
)

lstm_peephole_cell = Cell(
    "lstm_peephole",
    gated_weights(4) + PEEPHOLE_WEIGHTS,
    ("h", "c"),
    lstm_peephole_step_forward,
    lstm_peephole_step_backward,
)
