"""How far a student's gradient is from the reference's, and in what way it is wrong.

Errors are normwise: ``|a - e| / |e|`` with the Frobenius norm, so one number says
how wrong a whole tensor (or one time step, or one gate's rows) is.  Both sides are
computed analytically in float64, so a right answer differs from the reference only
by rounding, about 1e-15 relative for the small, well-conditioned sizes the checker
draws; the tolerance ``TOL = 1e-7`` leaves eight orders of magnitude of margin for
another order of summation, while every mistake in the catalogue gives 1e-2 or more.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

__all__ = ["TOL", "classify", "close", "rel_error"]

TOL = 1e-7
_TINY = 1e-300


def rel_error(a, e, floor=0.0):
    """``|a - e| / max(|e|, floor)``; ``inf`` when the shapes differ or ``a`` is not finite."""
    a = np.asarray(a, dtype=np.float64)
    e = np.asarray(e, dtype=np.float64)
    if a.shape != e.shape:
        return float("inf")
    if not np.all(np.isfinite(a)):
        return float("inf")
    return float(np.linalg.norm(a - e) / max(np.linalg.norm(e), floor, _TINY))


def close(a, e, floor=0.0):
    """Whether ``a`` equals ``e`` up to :data:`TOL` (same shape, finite)."""
    return rel_error(a, e, floor) <= TOL


def _factor_text(k):
    """``0.3333`` -> ``"1/3"``, ``-2.0`` -> ``"-2"``, other values with 4 significant digits."""
    frac = Fraction(k).limit_denominator(64)
    if abs(float(frac) - k) <= 1e-9 * max(1.0, abs(k)):
        return str(frac)
    return f"{k:.4g}"


def classify(a, e, bias=False):
    """What is wrong with ``a`` against ``e``: a catalogue name, or None if right or unknown.

    ``transposed`` (the transpose is right), ``bias-not-summed`` (a bias gradient with
    extra leading axes, one per example), ``wrong-shape``, ``sign-flip`` (``-a`` is
    right) or ``scaled:<k>`` (``a = k e`` for a constant ``k`` other than 1).
    """
    a = np.asarray(a)
    e = np.asarray(e)
    if a.shape != e.shape:
        if a.ndim == 2 and a.shape == e.shape[::-1] and close(a.T, e):
            return "transposed"
        if bias and a.ndim > e.ndim and a.shape[-e.ndim :] == e.shape:
            return "bias-not-summed"
        return "wrong-shape"
    if close(a, e) or not np.all(np.isfinite(a)):
        return None
    if a.ndim == 2 and a.shape[0] == a.shape[1] and close(a.T, e):
        return "transposed"
    if close(-a, e):
        return "sign-flip"
    e64, a64 = e.astype(np.float64), a.astype(np.float64)
    denom = float(np.sum(e64 * e64))
    if denom > 0:
        k = float(np.sum(a64 * e64)) / denom
        if abs(k - 1) > 1e-6 and abs(k) > 1e-12 and close(a64, k * e64):
            return f"scaled:{_factor_text(k)}"
    return None
