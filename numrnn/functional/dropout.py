"""Inverted dropout: the one mask helper the layers and models share."""

from __future__ import annotations

import numpy as np

__all__ = ["dropout_mask"]


def dropout_mask(rng: np.random.Generator, shape: tuple, p: float, dtype) -> np.ndarray:
    r"""An inverted-dropout mask: 0 with probability ``p``, else :math:`1/(1-p)`.

    Multiplying by the mask drops units in training and keeps the expected
    value of every unit: :math:`E[m x] = (1-p) \cdot x/(1-p) = x`; so evaluation
    uses no mask at all.  The backward multiplies the upstream gradient by the
    same mask.  With ``p = 1`` every entry is 0.

    Args:
        rng: the generator the mask is drawn from (one uniform per entry).
        shape: the mask's shape.
        p: the drop probability, in ``[0, 1]``.
        dtype: the float dtype of the mask.

    Returns:
        a NumPy array of ``shape`` and ``dtype``.
    """
    keep = rng.random(shape) >= p  # (shape)
    scale = 0.0 if p >= 1 else 1.0 / (1.0 - p)
    return (keep * scale).astype(dtype)
