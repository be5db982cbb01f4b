r"""Solution: one GRU step in PyTorch's formulation (gates r, z, n), forward and backward.

.. math::

    r &= \sigma(x W_{ir}^\top + b_{ir} + h W_{hr}^\top + b_{hr}) \\
    z &= \sigma(x W_{iz}^\top + b_{iz} + h W_{hz}^\top + b_{hz}) \\
    n &= \tanh(x W_{in}^\top + b_{in} + r \odot (h W_{hn}^\top + b_{hn})) \\
    h' &= (1 - z) \odot n + z \odot h

with :math:`h = h_{prev}`; ``w_ih`` stacks :math:`[W_{ir}; W_{iz}; W_{in}]` ``(3H, D)``,
``w_hh`` stacks :math:`[W_{hr}; W_{hz}; W_{hn}]` ``(3H, H)``, and likewise the biases.
Write :math:`u = x W_{ih}^\top + b_{ih}` and :math:`v = h W_{hh}^\top + b_{hh}`, both
``(N, 3H)``, split into ``r, z, n`` thirds.

Backward, with :math:`g = \partial L/\partial h'` given:

.. math::

    \partial n &= g \odot (1 - z), \qquad \partial z = g \odot (h - n), \qquad
    \partial h \mathrel{+}= g \odot z \\
    \delta_n &= \partial n \odot (1 - n^2), \qquad \partial r = \delta_n \odot v_n \\
    \delta_r &= \partial r\, r(1-r), \qquad \delta_z = \partial z\, z(1-z) \\
    \partial u &= [\delta_r, \delta_z, \delta_n], \qquad
    \partial v = [\delta_r, \delta_z, \delta_n \odot r] \\
    \partial x &= \partial u\, W_{ih}, \quad \partial h \mathrel{+}= \partial v\, W_{hh}, \quad
    \partial W_{ih} = \partial u^\top x, \quad \partial W_{hh} = \partial v^\top h, \quad
    \partial b_{ih} = \textstyle\sum_n \partial u, \quad \partial b_{hh} = \textstyle\sum_n \partial v
"""

import numpy as np


def _sigmoid(v):
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def gru_step_forward(x, h_prev, w_ih, w_hh, b_ih, b_hh):
    """x (N, D), h_prev (N, H), w_ih (3H, D), w_hh (3H, H), b_ih/b_hh (3H,) -> h (N, H), cache."""
    H = h_prev.shape[1]
    u = x @ w_ih.T + b_ih  # (N, 3H)
    v = h_prev @ w_hh.T + b_hh  # (N, 3H)
    r = _sigmoid(u[:, :H] + v[:, :H])
    z = _sigmoid(u[:, H : 2 * H] + v[:, H : 2 * H])
    vn = v[:, 2 * H :]
    n = np.tanh(u[:, 2 * H :] + r * vn)
    h = (1.0 - z) * n + z * h_prev
    return h, (x, h_prev, w_ih, w_hh, r, z, n, vn)


def gru_step_backward(dh, cache):
    """dh (N, H) -> (dx, dh_prev, dw_ih (3H, D), dw_hh (3H, H), db_ih (3H,), db_hh (3H,))."""
    x, h_prev, w_ih, w_hh, r, z, n, vn = cache
    dn = dh * (1.0 - z)
    dz = dh * (h_prev - n)
    dh_prev = dh * z  # the direct path through the update gate
    dn_pre = dn * (1.0 - n * n)  # (N, H)
    dr = dn_pre * vn
    dr_pre = dr * r * (1.0 - r)
    dz_pre = dz * z * (1.0 - z)
    du = np.concatenate([dr_pre, dz_pre, dn_pre], axis=1)  # (N, 3H)
    dv = np.concatenate([dr_pre, dz_pre, dn_pre * r], axis=1)  # (N, 3H)
    dx = du @ w_ih
    dh_prev = dh_prev + dv @ w_hh
    dw_ih = du.T @ x
    dw_hh = dv.T @ h_prev
    return dx, dh_prev, dw_ih, dw_hh, du.sum(axis=0), dv.sum(axis=0)
