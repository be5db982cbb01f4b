"""Random generators: the one helper every part of numrnn uses to accept ``seed=`` / ``rng=``."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["make_rng"]


def make_rng(seed: int | None = None, rng: np.random.Generator | int | None = None):
    """A ``numpy.random.Generator`` from ``seed`` or from ``rng`` (not both).

    Args:
        seed: an int seed, or None.
        rng: a ``numpy.random.Generator`` (returned as is, so its stream is shared
            with the caller), an int seed, or None.

    Returns:
        ``rng`` when it is a Generator, else ``numpy.random.default_rng(seed or rng)``:
        seeded when an int was given, fresh operating-system entropy when both are None.

    Raises:
        ValueError: both ``seed`` and ``rng`` were given.
        TypeError: ``seed`` is not an int or None, or ``rng`` is not a Generator, an
            int or None.
    """
    if seed is not None and rng is not None:
        raise ValueError("give seed= or rng=, not both")
    if seed is not None and not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int or None; got {type(seed).__name__}")
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is not None and (isinstance(rng, bool) or not isinstance(rng, numbers.Integral)):
        raise TypeError(
            f"rng must be a numpy.random.Generator, an int seed or None; got {type(rng).__name__}"
        )
    return np.random.default_rng(seed if rng is None else rng)
