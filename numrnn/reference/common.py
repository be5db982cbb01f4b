"""The two small helpers every reference cell uses: the logistic function and absent biases."""

from __future__ import annotations

import numpy as np

__all__ = ["bias_or_zeros", "sigmoid"]


def sigmoid(a):
    r""":math:`\sigma(a) = 1 / (1 + e^{-a})`, written as :math:`\tfrac12 \tanh(\tfrac a2) + \tfrac12`.

    The two are equal; the tanh form never takes ``exp`` of a large number, so no
    overflow warning at any ``a``.  Keeps the dtype of ``a``.
    """
    return 0.5 * np.tanh(0.5 * a) + 0.5


def bias_or_zeros(params, name, size, dtype):
    """``params[name]``, or zeros of shape ``(size,)`` when the layer has no bias."""
    return params[name] if name in params else np.zeros(size, dtype=dtype)
