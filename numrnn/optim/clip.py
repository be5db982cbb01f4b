"""Gradient clipping by global norm and by value, as ``torch.nn.utils``."""

from __future__ import annotations

import math

import numpy as np

from ..backend import ops
from ..nn.module import Parameter
from .optimizer import _is_number

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(fn, parameters):
    if isinstance(parameters, Parameter):
        parameters = [parameters]
    try:
        parameters = list(parameters)
    except TypeError:
        raise TypeError(
            f"{fn}: parameters must be a Parameter or an iterable of Parameters; "
            f"got {type(parameters).__name__}"
        ) from None
    for i, p in enumerate(parameters):
        if not isinstance(p, Parameter):
            raise TypeError(
                f"{fn}: parameters must be numrnn Parameters; item {i} is a {type(p).__name__}"
            )
    unique = {id(p): p for p in parameters}.values()  # a tied Parameter counts once, as in torch
    return [p.grad for p in unique if p.grad is not None]


def _vector_norm(g, norm_type):
    """The ``norm_type``-norm of one array as a Python float, without overflow."""
    xp = ops(g)
    if math.prod(g.shape) == 0:
        return 0.0
    if norm_type == math.inf:
        return float(xp.max(xp.abs(g)))
    g = xp.asarray(g, dtype=np.float64)  # accumulate in double, like torch's CPU norm kernels

    def raw(x):
        if norm_type == 1:
            return float(xp.sum(xp.abs(x)))
        if norm_type == 2:
            return math.sqrt(float(xp.sum(x * x)))
        return float(xp.sum(xp.abs(x) ** norm_type)) ** (1.0 / norm_type)

    with np.errstate(over="ignore", under="ignore"):
        n = raw(g)
        if math.isinf(n):
            # The sum overflowed although every entry is finite: rescale by the
            # largest magnitude, so that the result is exact up to rounding.
            m = float(xp.max(xp.abs(g)))
            if math.isfinite(m) and m > 0:
                n = m * raw(g / m)
    return n


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    r"""Scale all gradients together so that their joint norm is at most ``max_norm``.

    .. math::
        N = \Big\| \big(\|\nabla_1\|_p, \dots, \|\nabla_k\|_p\big) \Big\|_p, \qquad
        c = \min\!\Big(1, \frac{\text{max\_norm}}{N + 10^{-6}}\Big), \qquad
        \nabla_i \leftarrow c\, \nabla_i

    as ``torch.nn.utils.clip_grad_norm_``: the norm of all gradients concatenated,
    ``norm_type`` :math:`p` a positive number or ``inf`` (the largest magnitude).
    Gradients are scaled in place, only when :math:`c < 1`, all or nothing: a
    floating-point error (under ``numpy.errstate``) leaves every gradient as it was.
    A Parameter listed twice (tied weights) counts once.  Parameters whose
    grad is ``None`` are skipped.  Sums are accumulated in float64 and rescaled
    when they would overflow, so exploding float32 gradients give a finite norm.

    Args:
        parameters: a Parameter or an iterable of Parameters.
        max_norm: the largest allowed total norm (``>= 0``).
        norm_type: ``p`` of the p-norm (float > 0, or ``inf`` / ``"inf"``).
        error_if_nonfinite: raise if the total norm is ``nan`` or ``inf``.

    Returns:
        the total norm :math:`N` before clipping, a Python float (0.0 when
        there are no gradients).

    Raises:
        TypeError: ``parameters`` holds something that is not a Parameter.
        ValueError: ``max_norm`` negative or ``norm_type`` not positive.
        RuntimeError: the total norm is not finite and ``error_if_nonfinite``
            is set (nothing is changed).
        FloatingPointError: under ``numpy.errstate(invalid="raise")``, scaling an
            infinite gradient by a zero factor (nothing is changed).
    """
    grads = _grads("clip_grad_norm_", parameters)
    if not _is_number(max_norm) or not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be a number >= 0; got {max_norm!r}")
    try:
        if isinstance(norm_type, bool):
            raise TypeError
        norm_type = float(norm_type)
    except (TypeError, ValueError):
        raise ValueError(
            f"clip_grad_norm_: norm_type must be a positive number or inf; got {norm_type!r}"
        ) from None
    if not norm_type > 0:
        raise ValueError(
            f"clip_grad_norm_: norm_type must be a positive number or inf; got {norm_type!r}"
        )
    if not grads:
        return 0.0
    norms = [_vector_norm(g, norm_type) for g in grads]
    if norm_type == math.inf:
        total = max(norms)
    elif any(math.isnan(n) for n in norms):
        total = math.nan
    else:
        total = _vector_norm(np.array(norms, dtype=np.float64), norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is non-finite "
            f"({total}), so it cannot be clipped; pass error_if_nonfinite=False to scale anyway"
        )
    coef = float(max_norm) / (total + 1e-6)
    if not coef >= 1.0:  # also scales (to nan) when the norm is nan, as torch does
        # All or nothing: every scaled gradient is computed before any is written, so a
        # floating-point error raised under numpy.errstate(invalid="raise") (an inf
        # gradient times a zero factor) leaves every gradient as it was.
        with np.errstate(under="ignore"):
            scaled = [g * coef for g in grads]
        for g, new in zip(grads, scaled):
            g[...] = new
    return total


def clip_grad_value_(parameters, clip_value):
    r"""Clamp every gradient entry into ``[-clip_value, clip_value]``, in place.

    :math:`\nabla \leftarrow \min(\max(\nabla, -c), c)`, as
    ``torch.nn.utils.clip_grad_value_``.  Parameters whose grad is ``None``
    are skipped; ``nan`` entries stay ``nan``.

    Raises:
        TypeError: ``parameters`` holds something that is not a Parameter.
        ValueError: ``clip_value`` is not a number ``>= 0``.
    """
    grads = _grads("clip_grad_value_", parameters)
    if not _is_number(clip_value) or not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be a number >= 0; got {clip_value!r}")
    c = float(clip_value)
    for g in grads:
        xp = ops(g)
        xp.minimum(g, c, out=g)
        xp.maximum(g, -c, out=g)
