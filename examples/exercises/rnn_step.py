r"""Exercise 1: the backward pass of one tanh RNN step.

The forward pass is written for you: it is numrnn's reference step,
``rnn_step_forward(x, h_prev, params)`` in ``numrnn/reference/rnn.py`` (read it)::

    a = x W_ih^T + b_ih + h_prev W_hh^T + b_hh        (N, H)
    h = tanh(a)

``params`` is a dict with PyTorch's names ``weight_ih`` ``(H, D)``, ``weight_hh``
``(H, H)``, ``bias_ih`` and ``bias_hh`` ``(H,)``.  Your task: given
:math:`g = \partial L/\partial h` (shape ``(N, H)``) and the cache, return
``dx, dh_prev, grads`` with ``grads`` a dict with the keys of ``params``:

======================================  ==========  =====================================
gradient                                shape       to derive
======================================  ==========  =====================================
``dx``                                  ``(N, D)``  :math:`\partial L/\partial x`
``dh_prev``                             ``(N, H)``  :math:`\partial L/\partial h_{prev}`
``grads["weight_ih"]``                  ``(H, D)``  :math:`\partial L/\partial W_{ih}`
``grads["weight_hh"]``                  ``(H, H)``  :math:`\partial L/\partial W_{hh}`
``grads["bias_ih"]``, ``["bias_hh"]``   ``(H,)``    :math:`\partial L/\partial b_{ih}`, :math:`b_{hh}`
======================================  ==========  =====================================

Work in two stages: first :math:`\delta = \partial L/\partial a`, which needs only
``g`` and what the forward cached; then the gradients, each a single matrix
product or sum involving :math:`\delta`.  Check every gradient's shape against the
table: a gradient always has the shape of the thing it is the gradient of.

Check with ``python examples/exercises/check.py rnn_step``.
"""

from numrnn.reference.rnn import rnn_step_forward  # noqa: F401  (the forward, given)


def rnn_step_backward(dh, cache):
    """dh (N, H) -> dx (N, D), dh_prev (N, H), grads (the keys of params)."""
    x, h_prev, h, nonlinearity, params = cache
    raise NotImplementedError(
        "write rnn_step_backward; hint: d tanh(a)/da = 1 - tanh(a)^2, and tanh(a) is the cached h"
    )
