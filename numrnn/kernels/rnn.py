r"""The Elman RNN, optimised: one layer-direction over time, forward and BPTT.

The readable version is ``numrnn/reference/rnn.py``; this file computes the same
numbers (tested to float64 rounding) faster.

.. math::

    a_t = x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh}, \qquad
    h_t = \phi(a_t), \quad \phi \in \{\tanh, \mathrm{relu}\}

Backward, with :math:`g_t = \partial L/\partial h_t` (from the output at ``t``
plus what step ``t+1`` sends back):

.. math::

    \delta_t = g_t \odot \phi'(a_t), \quad \phi' = 1 - h_t^2 \text{ (tanh) or } [h_t > 0] \text{ (relu)}

    \partial L/\partial h_{t-1} = \delta_t W_{hh}, \quad
    \partial L/\partial W_{hh} = \textstyle\sum_t \delta_t^\top h_{t-1}, \quad
    \partial L/\partial W_{ih} = \textstyle\sum_t \delta_t^\top x_t

What BPTT keeps: the states ``h_0 .. h_T`` only (``(T+1, B, H)``).

The tricks, each with the identity it relies on:

* **Folded bias.** :math:`b_{ih}` and :math:`b_{hh}` are added once, as
  :math:`b_{ih} + b_{hh}`, to the input projection (a sum of biases is one bias);
  their gradients are equal: :math:`\partial L/\partial b_{ih} = \partial L/\partial b_{hh}
  = \sum_{t} \delta_t`.
* **Products out of the loop** (:mod:`.products`): :math:`x_t W_{ih}^\top` for all
  ``t`` in one product before the loop, :math:`\sum_t \delta_t^\top x_t`,
  :math:`\sum_t \delta_t^\top h_{t-1}` and :math:`\delta_t W_{ih}` in one product
  each after it (matrix products distribute over the sum over ``t``).
* **Derivative from the output**: :math:`\tanh'(a) = 1 - \tanh^2(a) = 1 - h^2` and
  :math:`\mathrm{relu}'(a) = [\mathrm{relu}(a) > 0]`, so :math:`a_t` is never kept.
* **Blocked local factors** (:func:`.driver.backward_blocks`): :math:`\phi'(a_t)`
  does not depend on the incoming gradient, so it is formed for a block of steps
  at once, into the buffer that then receives :math:`\delta_t` in place.
* **Row-major** :math:`W_{hh}^\top` (:func:`.products.transposed`), a reused
  step buffer for the recurrent product (``out=``), and a per-thread workspace for
  :math:`\delta` (:func:`.driver.workspace`: no page faults on every call).
"""

from __future__ import annotations

from ..backend import ops
from .driver import TimeLoop, layer_weights, workspace
from .products import layer_weight_grads, project_inputs, step_weight_grads, transposed

__all__ = ["rnn_backward", "rnn_forward", "rnn_step_backward", "rnn_step_forward"]

_NONLINEARITIES = ("tanh", "relu")


def _check_nonlinearity(nonlinearity):
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")


def _activation(nonlinearity, xp):
    r"""The function ``phi(pre, out=...)``: :math:`\tanh` or :math:`\max(\cdot, 0)` of namespace ``xp``.

    Chosen once per call rather than tested at every step.
    """
    if nonlinearity == "tanh":
        return xp.tanh

    def relu(pre, out=None):
        return xp.maximum(pre, 0, out=out)

    return relu


def _derivative(h, nonlinearity, out):
    r""":math:`\phi'(a)` through :math:`h = \phi(a)`: :math:`1 - h^2` (tanh) or :math:`[h > 0]` (relu)."""
    xp = ops(h)
    if nonlinearity == "tanh":
        out = xp.multiply(h, h, out=out)
        return xp.subtract(1, out, out=out)
    out[...] = h > 0
    return out


def rnn_forward(x, h0, params, nonlinearity="tanh", reverse=False, batch_sizes=None):
    r"""One layer-direction of an RNN over ``T`` steps.

    Called as :func:`numrnn.reference.rnn_forward` is, with the options of a layer after it.

    Args:
        x: ``(T, B, D)`` inputs; h0: ``(B, H)`` initial state.
        params: the weights, keyed as in :mod:`numrnn.reference`: ``weight_ih`` ``(H, D)``,
            ``weight_hh`` ``(H, H)``, and ``bias_ih``, ``bias_hh`` ``(H,)`` both or neither
            (absent or None: no bias).  Read once, before the loop
            (:func:`.driver.layer_weights`).
        nonlinearity: ``"tanh"`` or ``"relu"``.
        reverse: run from ``t = T-1`` down to 0 (the backward direction of a bidirectional layer).
        batch_sizes: ``T`` non-increasing active-row counts (rows sorted by length,
            longest first), or None when every row has length ``T``.

    Returns:
        ``out`` ``(T, B, H)`` (zero at padded positions), ``hn`` ``(B, H)`` and the cache.

    Raises:
        TypeError: ``params`` is not a dict.
        KeyError: an unknown key in ``params``, or no ``weight_ih`` / ``weight_hh``.
        ValueError: one bias without the other, unknown nonlinearity or inconsistent
            ``batch_sizes``.
    """
    weight_ih, weight_hh, bias_ih, bias_hh = layer_weights("rnn_forward", params)
    _check_nonlinearity(nonlinearity)
    xp = ops(x)
    loop = TimeLoop(x, reverse, batch_sizes)
    bias = None if bias_ih is None else bias_ih + bias_hh  # folded bias
    pre = project_inputs(x, weight_ih, bias)  # (T, B, H): x_t W_ih^T + b, scratch
    hs = loop.states(h0)  # (T + 1, B, H), time order (see driver.py)
    h_prev, h_new = loop.read_write(hs)
    pre_t = loop.per_step(pre)
    recurrent = loop.row_prefixes(xp.empty((loop.B, weight_hh.shape[0]), like=pre))
    whhT = transposed(weight_hh)  # (H, H) row-major
    phi = _activation(nonlinearity, xp)

    def step(t, n):
        a = pre_t[t]  # (n, H)
        a += xp.matmul(h_prev[t], whhT, out=recurrent[n])
        phi(a, out=h_new[t])  # h_t = phi(a_t)

    loop.forward(step, hs)
    out, hn = loop.output(hs)
    return out, hn, (x, hs, weight_ih, weight_hh, bias_ih is not None, nonlinearity, loop)


def rnn_backward(dout, dhn, cache, record=None):
    r"""BPTT through one layer-direction (the docstring of this module has the equations).

    Args:
        dout: ``(T, B, H)`` gradient of the outputs (padded positions ignored) or None.
        dhn: ``(B, H)`` gradient of the final state or None.
        cache: from :func:`rnn_forward`.
        record: None, or a dict that receives ``"h"``: the norm of
            :math:`\partial L/\partial h_t` (over the active rows) for every ``t``
            as a NumPy array ``(T,)``.  Off (None), it costs one test per step.

    Returns:
        ``(dx (T, B, D), dh0 (B, H), grads)``; ``grads`` holds ``weight_ih``,
        ``weight_hh``, ``bias_ih``, ``bias_hh``.
    """
    x, hs, weight_ih, weight_hh, has_bias, nonlinearity, loop = cache
    xp = ops(hs)
    h_all = loop.current(hs)  # h_t for every t, (T, B, H)
    delta = workspace("rnn.delta", h_all.shape, hs)  # phi'(a_t), then delta_t; 0 where padded
    delta_t = loop.per_step(delta)
    dh_next = loop.carried(dhn, hs)  # (B, H)

    def local_factors(lo, hi):
        _derivative(h_all[lo:hi], nonlinearity, out=delta[lo:hi])

    def step(t, n, dh):
        d = delta_t[t]  # (n, H)
        d *= dh  # delta_t = dL/dh_t * phi'(a_t)
        xp.matmul(d, weight_hh, out=dh)  # dL/dh_{t-1}

    loop.backward(local_factors, step, dout, dh_next, hs.shape[-1], (delta,), record)
    dx, grads = layer_weight_grads(delta, x, weight_ih, loop.previous(hs), has_bias)
    return dx, dh_next, grads


def rnn_step_forward(
    x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"
):
    r"""One step :math:`h = \phi(x W_{ih}^\top + b_{ih} + h_{prev} W_{hh}^\top + b_{hh})` (a cell).

    Args:
        x: ``(B, D)``; h_prev: ``(B, H)``; weight_ih: ``(H, D)``; weight_hh: ``(H, H)``;
        bias_ih, bias_hh: ``(H,)`` or both None.

    Returns:
        ``h`` ``(B, H)`` and the cache for :func:`rnn_step_backward`.

    Raises:
        ValueError: unknown nonlinearity.
    """
    _check_nonlinearity(nonlinearity)
    xp = ops(x)
    pre = xp.matmul(x, weight_ih.T) + xp.matmul(h_prev, weight_hh.T)  # (B, H)
    if bias_ih is not None:
        pre += bias_ih + bias_hh
    h = _activation(nonlinearity, xp)(pre, out=pre)
    return h, (x, h_prev, h, weight_ih, weight_hh, bias_ih is not None, nonlinearity)


def rnn_step_backward(dh, cache):
    r"""Backward of :func:`rnn_step_forward`: :math:`\delta = g \odot \phi'`, then the products.

    Returns:
        ``(dx (B, D), dh_prev (B, H), grads)`` with ``grads`` as in :func:`rnn_backward`.
    """
    x, h_prev, h, weight_ih, weight_hh, has_bias, nonlinearity = cache
    xp = ops(dh)
    delta = _derivative(h, nonlinearity, out=xp.empty_like(h))
    delta *= dh  # (B, H)
    return step_weight_grads(delta, x, h_prev, weight_ih, weight_hh, has_bias)
