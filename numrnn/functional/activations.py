"""Elementwise activations and softmax, each a forward/backward pair.

Every ``*_forward(x)`` returns ``(y, cache)``; every ``*_backward(dy, cache)``
returns ``(dx,)``, a tuple with the gradient of the one array input (the
convention of :mod:`numrnn.functional`).  The cache of ``sigmoid``, ``tanh`` and
``relu`` is their output ``y``: each derivative is cheapest written through ``y``,
so the input need not be kept.  Backward functions never write into
the arrays they are given.  All of them are stable at any magnitude: no overflow
warning at ``|x| = 1e4`` (checked under ``numpy.errstate(all="raise")``).
"""

from __future__ import annotations

import numpy as np

from ..backend import Array, ops

__all__ = [
    "log_softmax",
    "log_softmax_backward",
    "log_softmax_forward",
    "relu",
    "relu_backward",
    "relu_forward",
    "sigmoid",
    "sigmoid_backward",
    "sigmoid_forward",
    "softmax",
    "softmax_backward",
    "softmax_forward",
    "tanh",
    "tanh_backward",
    "tanh_forward",
]


def sigmoid(x: Array) -> Array:
    r"""Logistic function :math:`\sigma(x) = 1 / (1 + e^{-x}) = \tfrac12 \tanh(\tfrac x2) + \tfrac12`.

    The tanh form never evaluates ``exp`` of a large number, so it cannot overflow.
    """
    return ops(x).sigmoid(x)


def sigmoid_forward(x: Array) -> tuple[Array, Array]:
    r""":math:`y = \sigma(x)` elementwise, any shape; ``(y, y)``.

    Computed in :func:`sigmoid`'s tanh form, so no ``x`` overflows.
    """
    y = sigmoid(x)
    return y, y


def sigmoid_backward(dy: Array, cache: Array) -> tuple[Array]:
    r"""``(dx,)``: since :math:`\sigma'(x) = \sigma(x)(1 - \sigma(x))`,
    :math:`\partial L/\partial x = \partial L/\partial y \cdot y (1 - y)`.
    """
    y = cache
    return (dy * y * (1 - y),)


def tanh(x: Array) -> Array:
    r""":math:`\tanh x`, computed by the array library (stable for any ``x``)."""
    return ops(x).tanh(x)


def tanh_forward(x: Array) -> tuple[Array, Array]:
    r""":math:`y = \tanh x` elementwise, any shape; ``(y, y)``."""
    y = tanh(x)
    return y, y


def tanh_backward(dy: Array, cache: Array) -> tuple[Array]:
    r"""``(dx,)``: since :math:`\tanh' x = 1 - \tanh^2 x`,
    :math:`\partial L/\partial x = \partial L/\partial y \cdot (1 - y^2)`.
    """
    y = cache
    return (dy * (1 - y * y),)


def relu(x: Array) -> Array:
    r""":math:`\max(x, 0)`."""
    return ops(x).maximum(x, 0)


def relu_forward(x: Array) -> tuple[Array, Array]:
    r""":math:`y = \max(x, 0)` elementwise, any shape; ``(y, y)``."""
    y = relu(x)
    return y, y


def relu_backward(dy: Array, cache: Array) -> tuple[Array]:
    r"""``(dx,)`` with :math:`\partial L/\partial x = \partial L/\partial y \cdot [y > 0]`.

    The derivative at 0 is taken as 0, as in PyTorch (``y > 0`` is ``x > 0``).
    """
    y = cache
    return (dy * (y > 0),)


_EXP_FLOOR = {}


def _exp_floor(dtype):
    r"""The most negative argument :func:`_exp_nonpositive` exponentiates for ``dtype``.

    :math:`\log(\text{tiny}/\epsilon)`: about -672 in float64 and -71 in float32,
    so every nonzero result is a normal number at least :math:`\text{tiny}/\epsilon`
    and stays normal after multiplication by anything down to :math:`\epsilon`.
    Types with a narrow exponent range (float16), where that margin would be a
    large fraction of the range, use :math:`\log(\text{tiny}) + 1` instead.
    """
    dtype = np.dtype(dtype)
    floor = _EXP_FLOOR.get(dtype)
    if floor is None:
        info = np.finfo(dtype)
        log_tiny, log_eps = np.log(float(info.tiny)), np.log(float(info.eps))
        margin = -log_eps if -log_eps < -log_tiny / 4 else 1.0
        floor = _EXP_FLOOR[dtype] = float(log_tiny + margin)
    return floor


def _exp_nonpositive(z):
    r""":math:`e^{z}` for :math:`z \le 0`, returning exact zeros instead of tiny or subnormal results.

    ``exp`` of a large negative number underflows, which NumPy signals (and
    ``numpy.errstate(all="raise")`` turns into an error) although zero is the
    right answer.  Arguments below :func:`_exp_floor` give exactly 0: in
    float64 that drops values under 1e-292, in float32 under 1e-31, far below
    the rounding of any sum that also holds a term of size 1 (the max-shifted
    softmax always does).  ``-inf`` gives 0.
    """
    xp = ops(z)
    floor = _exp_floor(xp.numpy_dtype(z))
    return xp.exp(xp.maximum(z, floor)) * (z >= floor)


def _minus_max(x, axis):
    r""":math:`x - \max_j x_j` along ``axis``, every entry :math:`\le 0`.

    The difference of two finite numbers of opposite sign can exceed the
    dtype's range (float32 logits :math:`\pm 3 \cdot 10^{38}`); it is then
    ``-inf``, its correctly rounded value, whose exponential is the exact 0.
    NumPy would signal that rounding as an overflow; it is not an error here.
    """
    with np.errstate(over="ignore"):
        return x - ops(x).max(x, axis=axis, keepdims=True)


def log_softmax(x: Array, axis: int = -1) -> Array:
    r""":math:`\log \mathrm{softmax}(x)_i = x_i - m - \log \sum_j e^{x_j - m}` with :math:`m = \max_j x_j`.

    Subtracting the maximum keeps every exponent at or below zero: no overflow,
    and the largest term is exactly 1 so the log never sees zero.  An entry whose
    value lies below the dtype's range (float32 logits :math:`\pm 3 \cdot 10^{38}`)
    is ``-inf``, its correctly rounded value, without a floating-point signal.  Terms too
    small to matter are taken as exact zeros rather than underflowing
    (see :func:`_exp_nonpositive`), so no underflow is signalled either.
    """
    shifted = _minus_max(x, axis)
    xp = ops(x)
    return shifted - xp.log(xp.sum(_exp_nonpositive(shifted), axis=axis, keepdims=True))


def softmax(x: Array, axis: int = -1) -> Array:
    r""":math:`\mathrm{softmax}(x)_i = e^{x_i - m} / \sum_j e^{x_j - m}` (max-shifted, stable)."""
    xp = ops(x)
    e = _exp_nonpositive(_minus_max(x, axis))
    return e / xp.sum(e, axis=axis, keepdims=True)


def softmax_forward(x: Array, axis: int = -1) -> tuple[Array, tuple]:
    r""":math:`y = \mathrm{softmax}(x)` along ``axis``; returns ``(y, cache)``, ``y`` shaped as ``x``."""
    y = softmax(x, axis)
    return y, (y, axis)


def softmax_backward(dy: Array, cache: tuple) -> tuple[Array]:
    r"""Softmax backward: ``(dx,)`` with

    :math:`\partial L/\partial x = y \odot (g - \sum_j g_j y_j)` with :math:`g = \partial L/\partial y`.
    """
    y, axis = cache
    xp = ops(y)
    return (y * (dy - xp.sum(dy * y, axis=axis, keepdims=True)),)


def log_softmax_forward(x: Array, axis: int = -1) -> tuple[Array, tuple]:
    r""":math:`y = \log \mathrm{softmax}(x)` along ``axis``; returns ``(y, cache)``."""
    y = log_softmax(x, axis)
    return y, (y, axis)


def log_softmax_backward(dy: Array, cache: tuple) -> tuple[Array]:
    r"""``(dx,)`` with :math:`\partial L/\partial x = g - \mathrm{softmax}(x) \sum_j g_j`."""
    y, axis = cache
    xp = ops(y)
    return (dy - _exp_nonpositive(y) * xp.sum(dy, axis=axis, keepdims=True),)
