r"""Exercise 3: the backward pass of one GRU step (PyTorch's formulation).

The forward pass is written for you: it is numrnn's reference step,
``gru_step_forward(x, h_prev, params)`` in ``numrnn/reference/gru.py`` (read it;
gates stacked ``r, z, n``, each weight split into its three ``(H, ·)`` blocks)::

    r = sigmoid(x W_ir^T + b_ir + h_prev W_hr^T + b_hr)
    z = sigmoid(x W_iz^T + b_iz + h_prev W_hz^T + b_hz)
    u = h_prev W_hn^T + b_hn
    n = tanh(x W_in^T + b_in + r * u)
    h = (1 - z) * n + z * h_prev

Note where :math:`b_{hn}` sits: inside the product with :math:`r`.  That is why the
GRU keeps two bias vectors, and why their gradients differ in the ``n`` third.

Your task: given :math:`g = \partial L/\partial h` ``(N, H)``, return
``dx, dh_prev, grads`` with ``grads`` a dict with the keys of ``params``:

======================================  ============  =======================================
gradient                                shape         to derive
======================================  ============  =======================================
``dx``                                  ``(N, D)``    :math:`\partial L/\partial x`
``dh_prev``                             ``(N, H)``    :math:`\partial L/\partial h_{prev}`
``grads["weight_ih"]``                  ``(3H, D)``   :math:`\partial L/\partial W_{ih}`
``grads["weight_hh"]``                  ``(3H, H)``   :math:`\partial L/\partial W_{hh}`
``grads["bias_ih"]``                    ``(3H,)``     :math:`\partial L/\partial b_{ih}`
``grads["bias_hh"]``                    ``(3H,)``     :math:`\partial L/\partial b_{hh}`
======================================  ============  =======================================

A plan: (1) gradients of :math:`n`, :math:`z` and the direct part of
:math:`\partial L/\partial h_{prev}` from the last line; (2) through the ``tanh`` to the
pre-activation of :math:`n`, then to :math:`r` and to :math:`u`; (3) through the
sigmoids; (4) assemble the gradients of the input part ``(N, 3H)`` and of the
recurrent part (they agree in the ``r`` and ``z`` thirds, not in the ``n`` third)
and finish with matrix products.  :math:`h_{prev}` reaches :math:`h` by two routes:
remember to add them.  (The cache's ``reset_after`` is True here; ignore it.)

Check with ``python examples/exercises/check.py gru_step``.
"""

from numrnn.reference.gru import gru_step_forward  # noqa: F401  (the forward, given)


def gru_step_backward(dh, cache):
    """dh (N, H) -> dx (N, D), dh_prev (N, H), grads (the keys of params)."""
    x, h_prev, r, z, u, n, reset_after, params = cache
    raise NotImplementedError(
        "write gru_step_backward; hint: start from h = (1 - z) n + z h_prev: dn = dh (1 - z), "
        "dz = dh (h_prev - n), and h_prev gets dh z directly"
    )
