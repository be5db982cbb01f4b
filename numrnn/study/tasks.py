r"""Synthetic long-range tasks for studying what recurrent networks can remember.

Each generator returns a fresh batch ``(x, y)`` drawn from a NumPy random
generator, time-major like the recurrent layers' default (``x`` is ``(T, B, D)``),
so a training loop can draw a new batch every step and never see the same
example twice.  Both tasks put the information the answer needs at the *start*
(or anywhere) of the sequence and ask for the answer only after the last step:
the gradient that teaches the network to keep that information has to travel
back through every step in between, which is exactly where a plain tanh RNN's
gradient vanishes.

* :func:`adding_problem` (Hochreiter & Schmidhuber, 1997; in the form of Le,
  Jaitly & Hinton, 2015): add the two numbers that carry a marker.  A
  regression; always answering 1 (the mean of the sum) gives a mean squared
  error of 1/6, the bar any model has to clear.
* :func:`first_symbol_task`: name the first symbol of a random sequence of
  ``K`` symbols.  A classification; guessing gives accuracy ``1/K`` and cross
  entropy :math:`\ln K`.

Only NumPy is needed.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..rng import make_rng

__all__ = ["ADDING_BASELINE_MSE", "adding_problem", "first_symbol_task"]

ADDING_BASELINE_MSE = 1.0 / 6.0
r"""MSE of the constant answer 1 on the adding problem: :math:`\mathrm{Var}(u_1 + u_2) = 2/12`."""


def _check_size(fn, name, value, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{fn}: {name} must be an integer >= {low}; got {value!r}")
    return int(value)


def _check_float_dtype(fn, dtype):
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"{fn}: dtype must be a floating-point type; got {dt}")
    return dt


def adding_problem(batch_size, seq_len, rng=None, *, dtype=np.float64, batch_first=False):
    r"""A batch of the adding problem.

    Every step carries two features: a value :math:`u_t \sim U(0, 1)` and a
    marker :math:`m_t \in \{0, 1\}`.  Exactly two steps are marked, one in the
    first half of the sequence (:math:`t_1 < \lceil T/2 \rceil`) and one in the
    second (:math:`t_2 \ge \lceil T/2 \rceil`), and the target is

    .. math::

        y = u_{t_1} + u_{t_2} = \sum_t m_t u_t .

    The first marked value lies on average :math:`3T/4` steps before the end.

    Args:
        batch_size: ``B`` (>= 1).
        seq_len: ``T`` (>= 2).
        rng: a ``numpy.random.Generator``, an int seed or None.
        dtype: floating dtype of ``x`` and ``y``.
        batch_first: return ``x`` as ``(B, T, 2)`` instead of ``(T, B, 2)``.

    Returns:
        ``x`` ``(T, B, 2)`` (features ``[value, marker]``) and ``y`` ``(B,)``.

    Raises:
        ValueError: ``batch_size < 1`` or ``seq_len < 2``.
        TypeError: a non-float ``dtype`` or a bad ``rng``.
    """
    fn = "adding_problem"
    B = _check_size(fn, "batch_size", batch_size, 1)
    T = _check_size(fn, "seq_len", seq_len, 2)
    dt = _check_float_dtype(fn, dtype)
    rng = make_rng(rng=rng)
    half = math.ceil(T / 2)
    values = rng.random((T, B))  # (T, B)
    markers = np.zeros((T, B))
    cols = np.arange(B)
    t1 = rng.integers(0, half, B)
    t2 = rng.integers(half, T, B)
    markers[t1, cols] = 1.0
    markers[t2, cols] = 1.0
    x = np.stack([values, markers], axis=-1).astype(dt)  # (T, B, 2)
    y = (values[t1, cols] + values[t2, cols]).astype(dt)  # (B,)
    return (x.swapaxes(0, 1).copy() if batch_first else x), y


def first_symbol_task(
    batch_size,
    seq_len,
    num_symbols=8,
    rng=None,
    *,
    one_hot=True,
    dtype=np.float64,
    batch_first=False,
):
    r"""A batch of the first-symbol memory task: remember :math:`s_0` for ``T - 1`` steps.

    The sequence :math:`s_0, \dots, s_{T-1}` has symbols drawn uniformly and
    independently from ``{0 .. K-1}``; the target is :math:`s_0`.  Every later
    symbol is a distractor, so the network has to store the first one and
    protect it from being overwritten.

    Args:
        batch_size: ``B`` (>= 1).
        seq_len: ``T`` (>= 1).
        num_symbols: ``K`` (>= 2).
        rng: a ``numpy.random.Generator``, an int seed or None.
        one_hot: return ``x`` one-hot ``(T, B, K)`` in ``dtype``; otherwise the
            symbols themselves, int64 ``(T, B)`` (for an embedding).
        dtype: floating dtype of the one-hot ``x``.
        batch_first: batch axis first in ``x``.

    Returns:
        ``x`` (see ``one_hot``) and the targets ``y`` ``(B,)`` int64.

    Raises:
        ValueError: sizes out of range.
        TypeError: a non-float ``dtype`` or a bad ``rng``.
    """
    fn = "first_symbol_task"
    B = _check_size(fn, "batch_size", batch_size, 1)
    T = _check_size(fn, "seq_len", seq_len, 1)
    K = _check_size(fn, "num_symbols", num_symbols, 2)
    dt = _check_float_dtype(fn, dtype)
    rng = make_rng(rng=rng)
    s = rng.integers(0, K, (T, B))  # (T, B)
    y = s[0].astype(np.int64)
    x = np.eye(K, dtype=dt)[s] if one_hot else s.astype(np.int64)  # (T, B, K) or (T, B)
    if batch_first:
        x = x.swapaxes(0, 1).copy()
    return x, y
