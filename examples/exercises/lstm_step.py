r"""Exercise 2: the backward pass of one LSTM step.

The forward pass is written for you: it is numrnn's reference step,
``lstm_step_forward(x, (h_prev, c_prev), params)`` in ``numrnn/reference/lstm.py``
(read it; gates stacked ``i, f, g, o`` as in PyTorch)::

    a = x W_ih^T + b_ih + h_prev W_hh^T + b_hh        (N, 4H), split into a_i, a_f, a_g, a_o
    i = sigmoid(a_i),  f = sigmoid(a_f),  g = tanh(a_g),  o = sigmoid(a_o)
    c = f * c_prev + i * g
    h = o * tanh(c)

Your task: the step has two outputs, so it receives two upstream gradients,
:math:`g_h = \partial L/\partial h` and :math:`g_c = \partial L/\partial c` (the
gradient that reaches :math:`c` from the *next* step), both ``(N, H)``.  Return
``dx, (dh_prev, dc_prev), grads`` with ``grads`` a dict with the keys of ``params``:

======================================  ============  =======================================
gradient                                shape         to derive
======================================  ============  =======================================
``dx``                                  ``(N, D)``    :math:`\partial L/\partial x`
``dh_prev``                             ``(N, H)``    :math:`\partial L/\partial h_{prev}`
``dc_prev``                             ``(N, H)``    :math:`\partial L/\partial c_{prev}`
``grads["weight_ih"]``                  ``(4H, D)``   :math:`\partial L/\partial W_{ih}`
``grads["weight_hh"]``                  ``(4H, H)``   :math:`\partial L/\partial W_{hh}`
``grads["bias_ih"]``, ``["bias_hh"]``   ``(4H,)``     :math:`\partial L/\partial b_{ih}`, :math:`b_{hh}`
======================================  ============  =======================================

A plan: (1) the gradient of :math:`o` and the *total* gradient of :math:`c`, which
arrives by two paths (through :math:`h` and directly as :math:`g_c`); (2) from it the
gradients of :math:`i, f, g` and of :math:`c_{prev}`; (3) through each gate's
nonlinearity to :math:`\delta = \partial L/\partial a` ``(N, 4H)``, stacked in the
same order as the gates; (4) the matrix products, as in the RNN step.  (The cache's
``m`` is ``o * tanh(c)``, used only with a projection; ignore it.)

Check with ``python examples/exercises/check.py lstm_step``.
"""

from numrnn.reference.lstm import lstm_step_forward  # noqa: F401  (the forward, given)


def lstm_step_backward(dstate, cache):
    """dstate = (dh, dc_next), both (N, H) -> dx, (dh_prev, dc_prev), grads."""
    dh, dc_next = dstate
    x, h_prev, c_prev, i, f, g, o, tanh_c, m, params = cache
    raise NotImplementedError(
        "write lstm_step_backward; hint: sigma'(a) = sigma(a) (1 - sigma(a)), and c reaches the "
        "loss both through h = o tanh(c) and directly (dc_next): add the two"
    )
