r"""GRU, the readable reference: one step forward and back, then the loop over time.

Gates stacked ``r, z, n`` in ``weight_ih`` ``(3H, D)`` and ``weight_hh`` ``(3H, H)``
(and the biases), split below into ``W_ir, W_iz, W_in`` and ``W_hr, W_hz, W_hn``.
Forward of one step (``reset_after=True``, PyTorch's: ``b_hn`` inside the reset product)::

    a_r = x W_ir^T + b_ir + h_prev W_hr^T + b_hr
    a_z = x W_iz^T + b_iz + h_prev W_hz^T + b_hz
    r = sigmoid(a_r)
    z = sigmoid(a_z)
    ax_n = x W_in^T + b_in
    u = h_prev W_hn^T + b_hn
    a_n = ax_n + r * u
    n = tanh(a_n)
    h = (1 - z) * n + z * h_prev

With ``reset_after=False`` (Cho et al. 2014, Keras) the reset gate acts before the product::

    u = (r * h_prev) W_hn^T + b_hn
    a_n = ax_n + u

Backward of one step, given dh = dL/dh::

    dn = dh * (1 - z)
    dz = dh * (h_prev - n)
    dh_direct = dh * z                      (the path h_prev -> h that skips the weights)
    da_n = dn * (1 - n^2)
    reset after:   du = da_n * r,  dr = da_n * u,           dh_prev via u: du W_hn
    reset before:  du = da_n,      dr = (du W_hn) * h_prev,  dh_prev via u: (du W_hn) * r
    da_r = dr * r(1-r)
    da_z = dz * z(1-z)
    dh_prev = dh_direct + (via u) + da_r W_hr + da_z W_hz
    da_x = [da_r, da_z, da_n]
    dx = da_x W_ih,  dW_ih = da_x^T x,  db_ih = sum_B da_x
    dW_hh = [da_r^T h_prev; da_z^T h_prev; du^T h_prev  (or du^T (r * h_prev))]
    db_hh = sum_B [da_r, da_z, du]

Over time, the step runs through the loop of :mod:`numrnn.reference.rnn`, written for any
cell with one state ``h`` (:func:`~numrnn.reference.rnn.sequence_backward` carries ``dh_next``).

With a dict as ``record=``, each step function also stores its intermediate
quantities there under these names (:mod:`numrnn.trace` prints them).

:mod:`numrnn.kernels.gru` computes the same (both forms), faster; tests/reference ties them.
"""

from __future__ import annotations

import numpy as np

from numrnn.reference.common import bias_or_zeros, check_sequence, sigmoid
from numrnn.reference.rnn import sequence_backward, sequence_forward

__all__ = ["gru_backward", "gru_forward", "gru_step_backward", "gru_step_forward"]


def gru_step_forward(x, h_prev, params, reset_after=True, *, record=None):
    """One step: ``x`` (B, D), ``h_prev`` (B, H) -> ``h`` (B, H), cache."""
    H = params["weight_hh"].shape[0] // 3
    W_ir, W_iz, W_in = np.split(params["weight_ih"], 3)  # each (H, D)
    W_hr, W_hz, W_hn = np.split(params["weight_hh"], 3)  # each (H, H)
    b_ir, b_iz, b_in = np.split(bias_or_zeros(params, "bias_ih", 3 * H, x.dtype), 3)
    b_hr, b_hz, b_hn = np.split(bias_or_zeros(params, "bias_hh", 3 * H, x.dtype), 3)
    a_r = x @ W_ir.T + b_ir + h_prev @ W_hr.T + b_hr  # (B, H)
    a_z = x @ W_iz.T + b_iz + h_prev @ W_hz.T + b_hz  # (B, H)
    r = sigmoid(a_r)
    z = sigmoid(a_z)
    ax_n = x @ W_in.T + b_in  # (B, H)
    if reset_after:
        u = h_prev @ W_hn.T + b_hn
        a_n = ax_n + r * u
    else:
        u = (r * h_prev) @ W_hn.T + b_hn
        a_n = ax_n + u
    n = np.tanh(a_n)
    h = (1 - z) * n + z * h_prev
    if record is not None:
        record.update(a_r=a_r, a_z=a_z, r=r, z=z, ax_n=ax_n, u=u, a_n=a_n, n=n, h=h)
    return h, (x, h_prev, r, z, u, n, reset_after, params)


def gru_step_backward(dh, cache, *, record=None):
    """``dh`` (B, H) -> ``dx`` (B, D), ``dh_prev`` (B, H), ``grads`` (the keys of ``params``)."""
    x, h_prev, r, z, u, n, reset_after, params = cache
    W_hr, W_hz, W_hn = np.split(params["weight_hh"], 3)
    dn = dh * (1 - z)
    dz = dh * (h_prev - n)
    dh_direct = dh * z
    da_n = dn * (1 - n**2)  # (B, H)
    if reset_after:
        du = da_n * r
        dr = da_n * u
        dh_via_u = du @ W_hn
        dW_hn = du.T @ h_prev
    else:
        du = da_n
        drh = du @ W_hn  # gradient of r * h_prev
        dr = drh * h_prev
        dh_via_u = drh * r
        dW_hn = du.T @ (r * h_prev)
    da_r = dr * r * (1 - r)
    da_z = dz * z * (1 - z)
    dh_prev = dh_direct + dh_via_u + da_r @ W_hr + da_z @ W_hz
    da_x = np.concatenate([da_r, da_z, da_n], axis=1)  # (B, 3H): gradient of x W_ih^T + b_ih
    dx = da_x @ params["weight_ih"]  # (B, D)
    grads = {
        "weight_ih": da_x.T @ x,  # (3H, D)
        "weight_hh": np.concatenate([da_r.T @ h_prev, da_z.T @ h_prev, dW_hn]),  # (3H, H)
        "bias_ih": da_x.sum(axis=0),  # (3H,)
        "bias_hh": np.concatenate([da_r.sum(axis=0), da_z.sum(axis=0), du.sum(axis=0)]),
    }
    if record is not None:
        record.update(dn=dn, dz=dz, da_n=da_n, dr=dr, da_r=da_r, da_z=da_z)
        record.update(dh_direct=dh_direct, dh_prev=dh_prev, dx=dx)
    return dx, dh_prev, {name: grads[name] for name in params}


def gru_forward(x, h0, params, reset_after=True):
    """The GRU over time: :func:`~numrnn.reference.rnn.sequence_forward` with :func:`gru_step_forward`.

    ``x`` (T, B, D), ``h0`` (B, H) or None (zeros); ``reset_after`` as in the step.
    Returns ``out`` (T, B, H), ``hT`` (B, H) and the cache, the list of step caches.
    Raises TypeError or ValueError (naming the argument) for inputs that do not fit.
    """
    check_sequence("gru_forward", x, params, [("h0", h0, params["weight_hh"].shape[1])])
    return sequence_forward(gru_step_forward, x, h0, params, reset_after)


def gru_backward(dout, dhT, caches):
    """BPTT through the GRU: :func:`~numrnn.reference.rnn.sequence_backward` with its step.

    ``dout`` (T, B, H), ``dhT`` (B, H) or None -> ``dx`` (T, B, D), ``dh0``, ``grads``;
    each step's backward is :func:`gru_step_backward`.
    """
    return sequence_backward(gru_step_backward, dout, dhT, caches)
