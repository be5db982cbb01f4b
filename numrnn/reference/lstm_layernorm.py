r"""Layer-normalised LSTM (Ba, Kiros & Hinton 2016), the readable step pair.

Layer normalisation of a row vector :math:`v` of ``N`` entries, with gain :math:`\gamma`
and bias :math:`\beta` (``(N,)`` each) and :math:`\epsilon = 10^{-5}` (PyTorch's)::

    mu = mean(v),  var = mean((v - mu)^2),  s = sqrt(var + eps)
    v^ = (v - mu) / s
    LN(v) = gamma * v^ + beta

Its backward, given dy = dL/dLN(v)::

    dgamma = sum_B dy * v^,   dbeta = sum_B dy,   dv^ = dy * gamma
    dv = (dv^ - mean(dv^) - v^ * mean(dv^ * v^)) / s          (means over the N entries)

The LSTM step normalises the input and recurrent pre-activations separately, each over
all ``4H`` gate entries, and the cell state before its ``tanh`` (Ba et al., eq. 20-22);
gates stacked ``i, f, g, o`` as in PyTorch::

    a = LN_ih(x W_ih^T) + b_ih + LN_hh(h_prev W_hh^T) + b_hh         (B, 4H)
    i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);   g = tanh(a_g)
    c = f * c_prev + i * g                                            (carried un-normalised)
    h = o * tanh(LN_c(c))

Backward of one step, given dh and dc_next::

    n = LN_c(c);  do = dh * tanh(n);  dn = dh * o * (1 - tanh(n)^2)
    dc = dc_next + LN_c backward of dn
    da = [dc * g * i(1-i), dc * c_prev * f(1-f), dc * i * (1-g^2), do * o(1-o)]
    dc_prev = dc * f;   db_ih = db_hh = sum_B da
    dp_ih = LN_ih backward of da:  dx = dp_ih W_ih,  dW_ih = dp_ih^T x
    dp_hh = LN_hh backward of da:  dh_prev = dp_hh W_hh,  dW_hh = dp_hh^T h_prev

Parameters: the four of the plain LSTM plus ``weight_ln_ih``, ``bias_ln_ih``,
``weight_ln_hh``, ``bias_ln_hh`` (``(4H,)`` each) and ``weight_ln_c``, ``bias_ln_c``
(``(H,)``): gains initialised to 1, biases to 0 (Ba et al.), kept with ``bias=False``
(they belong to the normalisation; ``bias=False`` drops ``bias_ih`` and ``bias_hh``, which
the LN biases make redundant anyway, as the sum ``b_ih + beta_ih`` is what acts).
"""

from __future__ import annotations

import numpy as np

from .cell import Cell, Weight, gated_weights
from .common import sigmoid
from .lstm import lstm_preactivations

__all__ = [
    "LAYERNORM_WEIGHTS",
    "LN_EPS",
    "layer_norm_backward",
    "layer_norm_forward",
    "lstm_layernorm_cell",
    "lstm_layernorm_step_backward",
    "lstm_layernorm_step_forward",
]

LN_EPS = 1e-5


def layer_norm_forward(v, gamma, beta, eps=LN_EPS):
    """LN over the last axis: ``v`` (B, N), ``gamma``, ``beta`` (N,) -> ``y`` (B, N), cache."""
    mu = v.mean(axis=1, keepdims=True)  # (B, 1)
    s = np.sqrt(((v - mu) ** 2).mean(axis=1, keepdims=True) + eps)  # (B, 1)
    v_hat = (v - mu) / s  # (B, N)
    return gamma * v_hat + beta, (v_hat, s, gamma)


def layer_norm_backward(dy, cache):
    """``dy`` (B, N) -> ``dv`` (B, N), ``dgamma`` (N,), ``dbeta`` (N,)."""
    v_hat, s, gamma = cache
    dv_hat = dy * gamma
    dv = (
        dv_hat
        - dv_hat.mean(axis=1, keepdims=True)
        - v_hat * (dv_hat * v_hat).mean(axis=1, keepdims=True)
    ) / s
    return dv, (dy * v_hat).sum(axis=0), dy.sum(axis=0)


def lstm_layernorm_step_forward(x, state, params):
    """One step: ``x`` (B, D), ``state = (h_prev, c_prev)`` each (B, H) -> ``(h, c), cache``."""
    h_prev, c_prev = state
    p_ih, p_hh = x @ params["weight_ih"].T, h_prev @ params["weight_hh"].T  # (B, 4H) each
    n_ih, ln_ih = layer_norm_forward(p_ih, params["weight_ln_ih"], params["bias_ln_ih"])
    n_hh, ln_hh = layer_norm_forward(p_hh, params["weight_ln_hh"], params["bias_ln_hh"])
    a_i, a_f, a_g, a_o = lstm_preactivations(n_ih, n_hh, params)  # each (B, H)
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
    c = f * c_prev + i * g  # (B, H)
    n_c, ln_c = layer_norm_forward(c, params["weight_ln_c"], params["bias_ln_c"])
    h = o * np.tanh(n_c)  # (B, H)
    return (h, c), (x, h_prev, c_prev, i, f, g, o, n_c, ln_ih, ln_hh, ln_c, params)


def lstm_layernorm_step_backward(dstate, cache):
    """``dstate = (dh, dc_next)`` each (B, H) -> ``dx, (dh_prev, dc_prev), grads``.

    ``grads`` has the keys of the step's ``params``.
    """
    dh, dc_next = dstate
    x, h_prev, c_prev, i, f, g, o, n_c, ln_ih, ln_hh, ln_c, params = cache
    tanh_n = np.tanh(n_c)
    do = dh * tanh_n
    dc_ln, d_gamma_c, d_beta_c = layer_norm_backward(dh * o * (1 - tanh_n**2), ln_c)
    dc = dc_next + dc_ln
    da = np.concatenate(
        [dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g**2), do * o * (1 - o)],
        axis=1,
    )  # (B, 4H)
    dp_ih, d_gamma_ih, d_beta_ih = layer_norm_backward(da, ln_ih)
    dp_hh, d_gamma_hh, d_beta_hh = layer_norm_backward(da, ln_hh)
    grads = {
        "weight_ih": dp_ih.T @ x,  # (4H, D)
        "weight_hh": dp_hh.T @ h_prev,  # (4H, H)
        "bias_ih": da.sum(axis=0),  # (4H,)
        "bias_hh": da.sum(axis=0),
        "weight_ln_ih": d_gamma_ih,
        "bias_ln_ih": d_beta_ih,
        "weight_ln_hh": d_gamma_hh,
        "bias_ln_hh": d_beta_hh,
        "weight_ln_c": d_gamma_c,
        "bias_ln_c": d_beta_c,
    }
    dx = dp_ih @ params["weight_ih"]  # (B, D)
    dh_prev = dp_hh @ params["weight_hh"]  # (B, H)
    return dx, (dh_prev, dc * f), {name: grads[name] for name in params}


def _ones(rng, shape, hidden_size):
    return np.ones(shape)


def _zeros(rng, shape, hidden_size):
    return np.zeros(shape)


LAYERNORM_WEIGHTS = (
    Weight("weight_ln_ih", lambda D, H: (4 * H,), init=_ones),
    Weight("bias_ln_ih", lambda D, H: (4 * H,), init=_zeros),
    Weight("weight_ln_hh", lambda D, H: (4 * H,), init=_ones),
    Weight("bias_ln_hh", lambda D, H: (4 * H,), init=_zeros),
    Weight("weight_ln_c", lambda D, H: (H,), init=_ones),
    Weight("bias_ln_c", lambda D, H: (H,), init=_zeros),
)

lstm_layernorm_cell = Cell(
    "lstm_layernorm",
    gated_weights(4) + LAYERNORM_WEIGHTS,
    ("h", "c"),
    lstm_layernorm_step_forward,
    lstm_layernorm_step_backward,
)
