"""What every reference file shares: the logistic function, absent biases, input checks."""

from __future__ import annotations

import numpy as np

__all__ = ["bias_or_zeros", "check_sequence", "sigmoid"]


def sigmoid(a):
    r""":math:`\sigma(a) = 1 / (1 + e^{-a})`, written as :math:`\tfrac12 \tanh(\tfrac a2) + \tfrac12`.

    The two are equal; the tanh form never takes ``exp`` of a large number, so no
    overflow warning at any ``a``.  Keeps the dtype of ``a``.
    """
    return 0.5 * np.tanh(0.5 * a) + 0.5


def bias_or_zeros(params, name, size, dtype):
    """``params[name]``, or zeros of shape ``(size,)`` when the layer has no bias."""
    return params[name] if name in params else np.zeros(size, dtype=dtype)


def check_sequence(fn, x, params, states):
    """The checks a sequence forward makes before it starts, with errors naming the argument.

    ``x`` must be a floating ``(T, B, D)`` array with ``T, B >= 1`` and ``params["weight_ih"]``
    ``(G, D)``; ``states`` lists ``(name, array or None, features)``, each array
    ``(B, features)``.  (A weight missing from ``params`` is a KeyError naming it.)

    Raises:
        TypeError: ``x`` is not a floating-point array.
        ValueError: a shape does not fit.
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(f"{fn}: x must be a floating-point numpy array; got {type(x).__name__}")
    if x.ndim != 3 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{fn}: x must have shape (T, B, D) with T, B >= 1; got {x.shape}")
    if params["weight_ih"].shape[1] != x.shape[2]:
        raise ValueError(
            f"{fn}: x has {x.shape[2]} features but weight_ih has shape {params['weight_ih'].shape}"
        )
    for name, state, features in states:
        if state is not None and state.shape != (x.shape[1], features):
            raise ValueError(
                f"{fn}: {name} must have shape {(x.shape[1], features)}; got {state.shape}"
            )
