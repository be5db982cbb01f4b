r"""GRU, the readable reference: one step forward and back, then the loop over time.

Gates stacked ``r, z, n`` in ``weight_ih`` ``(3H, D)`` and ``weight_hh`` ``(3H, H)``
(and the biases), split below into ``W_ir, W_iz, W_in`` and ``W_hr, W_hz, W_hn``.
Forward of one step (``reset_after=True``, PyTorch's: ``b_hn`` inside the reset product)::

    r = sigmoid(x W_ir^T + b_ir + h_prev W_hr^T + b_hr)
    z = sigmoid(x W_iz^T + b_iz + h_prev W_hz^T + b_hz)
    v = h_prev W_hn^T + b_hn
    n = tanh(x W_in^T + b_in + r * v)
    h = (1 - z) * n + z * h_prev

With ``reset_after=False`` (Cho et al. 2014, Keras) the reset gate acts before the product::

    n = tanh(x W_in^T + b_in + (r * h_prev) W_hn^T + b_hn)

Backward of one step, given dh = dL/dh::

    dn = dh * (1 - z)
    dz = dh * (h_prev - n)
    da_n = dn * (1 - n^2)
    reset after:  dr = da_n * v,                 dh_prev = dh * z + (da_n * r) W_hn
    reset before: dr = (da_n W_hn) * h_prev,     dh_prev = dh * z + (da_n W_hn) * r
    da_r = dr * r(1-r)
    da_z = dz * z(1-z)
    dx = [da_r, da_z, da_n] W_ih,   dh_prev += [da_r, da_z] [W_hr; W_hz]

:mod:`numrnn.functional.gru` computes the same (reset after), faster; tests/reference ties them.
"""

from __future__ import annotations

import numpy as np

from .common import bias_or_zeros, sigmoid

__all__ = ["gru_backward", "gru_forward", "gru_step_backward", "gru_step_forward"]


def gru_step_forward(x, h_prev, params, reset_after=True):
    """One step: ``x`` (B, D), ``h_prev`` (B, H) -> ``h`` (B, H), cache."""
    H = params["weight_hh"].shape[0] // 3
    W_ir, W_iz, W_in = np.split(params["weight_ih"], 3)  # each (H, D)
    W_hr, W_hz, W_hn = np.split(params["weight_hh"], 3)  # each (H, H)
    b_ir, b_iz, b_in = np.split(bias_or_zeros(params, "bias_ih", 3 * H, x.dtype), 3)
    b_hr, b_hz, b_hn = np.split(bias_or_zeros(params, "bias_hh", 3 * H, x.dtype), 3)
    r = sigmoid(x @ W_ir.T + b_ir + h_prev @ W_hr.T + b_hr)  # (B, H)
    z = sigmoid(x @ W_iz.T + b_iz + h_prev @ W_hz.T + b_hz)  # (B, H)
    if reset_after:
        v = h_prev @ W_hn.T + b_hn  # (B, H)
        n = np.tanh(x @ W_in.T + b_in + r * v)
    else:
        v = None
        n = np.tanh(x @ W_in.T + b_in + (r * h_prev) @ W_hn.T + b_hn)
    h = (1 - z) * n + z * h_prev
    return h, (x, h_prev, r, z, n, v, reset_after, params)


def gru_step_backward(dh, cache):
    """``dh`` (B, H) -> ``dx`` (B, D), ``dh_prev`` (B, H), ``grads`` (the keys of ``params``)."""
    x, h_prev, r, z, n, v, reset_after, params = cache
    W_hr, W_hz, W_hn = np.split(params["weight_hh"], 3)
    dn = dh * (1 - z)
    dz = dh * (h_prev - n)
    da_n = dn * (1 - n**2)  # (B, H)
    if reset_after:
        dr = da_n * v
        dv = da_n * r  # gradient of v = h_prev W_hn^T + b_hn
        dh_prev = dh * z + dv @ W_hn
        dW_hn = dv.T @ h_prev
    else:
        drh = da_n @ W_hn  # gradient of r * h_prev
        dr = drh * h_prev
        dv = da_n  # gradient of (r * h_prev) W_hn^T + b_hn
        dh_prev = dh * z + drh * r
        dW_hn = da_n.T @ (r * h_prev)
    da_r = dr * r * (1 - r)
    da_z = dz * z * (1 - z)
    dh_prev = dh_prev + da_r @ W_hr + da_z @ W_hz
    da_x = np.concatenate([da_r, da_z, da_n], axis=1)  # (B, 3H): gradient of x W_ih^T + b_ih
    dx = da_x @ params["weight_ih"]  # (B, D)
    grads = {
        "weight_ih": da_x.T @ x,  # (3H, D)
        "weight_hh": np.concatenate([da_r.T @ h_prev, da_z.T @ h_prev, dW_hn]),  # (3H, H)
        "bias_ih": da_x.sum(axis=0),  # (3H,)
        "bias_hh": np.concatenate([da_r.sum(axis=0), da_z.sum(axis=0), dv.sum(axis=0)]),
    }
    return dx, dh_prev, {name: grads[name] for name in params}


def gru_forward(x, h0, params, reset_after=True):
    """Run over time: ``x`` (T, B, D), ``h0`` (B, H) or None (zeros).

    Returns ``out`` (T, B, H), ``hT`` (B, H) and the cache: the list of step caches.
    """
    T, B, _ = x.shape
    h = np.zeros((B, params["weight_hh"].shape[1]), x.dtype) if h0 is None else h0
    hs, caches = [], []
    for t in range(T):
        h, cache = gru_step_forward(x[t], h, params, reset_after)
        hs.append(h)
        caches.append(cache)
    return np.stack(hs), h, caches


def gru_backward(dout, dhT, caches):
    """BPTT: ``dout`` (T, B, H), ``dhT`` (B, H) or None -> ``dx`` (T, B, D), ``dh0``, ``grads``.

    The gradient of ``h_t`` is what the output receives plus ``dh_next``, what
    the step after it sent back.
    """
    dh_next = np.zeros_like(dout[0]) if dhT is None else dhT
    dxs, grads = [], None
    for t in reversed(range(len(caches))):
        dx, dh_next, g = gru_step_backward(dout[t] + dh_next, caches[t])
        dxs.append(dx)
        grads = g if grads is None else {name: grads[name] + g[name] for name in g}
    return np.stack(dxs[::-1]), dh_next, grads
