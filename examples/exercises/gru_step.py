r"""Exercise 3: the backward pass of one GRU step (PyTorch's formulation).

The forward pass is written for you, with :math:`h = h_{prev}`:

.. math::

    u &= x W_{ih}^\top + b_{ih} = [u_r, u_z, u_n], \qquad
    v = h W_{hh}^\top + b_{hh} = [v_r, v_z, v_n] \\
    r &= \sigma(u_r + v_r), \quad z = \sigma(u_z + v_z), \quad
    n = \tanh(u_n + r \odot v_n) \\
    h' &= (1 - z) \odot n + z \odot h

Note where :math:`b_{hn}` sits: inside the product with :math:`r`.  That is why the
GRU keeps two bias vectors, and why their gradients differ in the ``n`` third.

Your task: given :math:`g = \partial L/\partial h'` ``(N, H)``, return

======================================  ============  =======================================
gradient                                shape         to derive
======================================  ============  =======================================
``dx``                                  ``(N, D)``    :math:`\partial L/\partial x`
``dh_prev``                             ``(N, H)``    :math:`\partial L/\partial h`
``dw_ih``                               ``(3H, D)``   :math:`\partial L/\partial W_{ih}`
``dw_hh``                               ``(3H, H)``   :math:`\partial L/\partial W_{hh}`
``db_ih``                               ``(3H,)``     :math:`\partial L/\partial b_{ih}`
``db_hh``                               ``(3H,)``     :math:`\partial L/\partial b_{hh}`
======================================  ============  =======================================

A plan: (1) gradients of :math:`n`, :math:`z` and the direct part of
:math:`\partial L/\partial h` from the last line; (2) through the ``tanh`` to the
pre-activation of :math:`n`, then to :math:`r` and to :math:`v_n`; (3) through the
sigmoids; (4) assemble :math:`\partial u` and :math:`\partial v` ``(N, 3H)`` (they
agree in the ``r`` and ``z`` thirds, not in the ``n`` third) and finish with matrix
products.  :math:`h` reaches :math:`h'` by two routes: remember to add them.

Check with ``python examples/exercises/check.py gru_step``.
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
    raise NotImplementedError(
        "write gru_step_backward; hint: start from h' = (1 - z) n + z h: dn = dh (1 - z), "
        "dz = dh (h - n), and h gets dh z directly"
    )
