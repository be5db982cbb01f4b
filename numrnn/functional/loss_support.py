"""What the losses of :mod:`numrnn.functional.losses` share: argument checks and range guards.

The checks raise before anything is computed and name the function, the argument,
what was expected and what was given.  The guards implement the float64 fallback
of the losses' module docstring: :func:`_needs_float64` bounds the magnitudes a loss
will meet, :func:`_wide` and :func:`_narrow` convert to float64 and round back.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..backend import ops, to_numpy

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(fn, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of {_REDUCTIONS}; got {reduction!r}")


def _float_input(fn, name, x):
    """``x`` as an array of its own backend; it must hold floating-point numbers."""
    xp = ops(x)
    if not xp.is_array(x):
        x = xp.asarray(x)
    dt = xp.numpy_dtype(x)
    if dt.kind != "f":
        raise TypeError(f"{fn}: {name} must be a floating-point array; got dtype {dt}")
    return xp, x, dt


def _like(fn, name, xp, v, dt, shape=None):
    """``v`` converted to ``x``'s backend and dtype (never changes the dtype of the result)."""
    v = xp.asarray(v)
    kind = xp.numpy_dtype(v).kind
    if kind not in "fiub":
        raise TypeError(f"{fn}: {name} must be a real-valued array; got dtype {xp.numpy_dtype(v)}")
    v = xp.asarray(v, dtype=dt)
    if shape is not None and tuple(v.shape) != tuple(shape):
        raise ValueError(f"{fn}: {name} must have shape {tuple(shape)}; got {tuple(v.shape)}")
    return v


def _broadcastable(fn, name, v, shape):
    try:
        ok = np.broadcast_shapes(tuple(v.shape), tuple(shape)) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{fn}: {name} of shape {tuple(v.shape)} does not broadcast to the input's shape {tuple(shape)}"
        )


def _class_layout(fn, x_shape, t_shape):
    """How logits of ``x_shape`` and class-index targets of ``t_shape`` line up.

    Returns ``(N, C, D)`` such that the logits are viewed as ``(N, C, D)`` with
    classes in the middle, the targets as ``(N, D)``, and ``D`` may be 1.

    * ``(C,)`` with a 0-d target: one sample, ``(1, C, 1)``.
    * ``(N, C)`` with ``(N,)``: ``(N, C, 1)``.
    * ``(N, C, d1, ...)`` with ``(N, d1, ...)``: PyTorch's layout, ``(N, C, d1*...)``.
    * ``(..., C)`` with ``(...)``: classes last, ``(prod(...), C, 1)``.

    When both of the last two readings fit (e.g. logits ``(2, 2, 2)`` and
    target ``(2, 2)``) PyTorch's layout is taken, as PyTorch would.
    """
    x_shape, t_shape = tuple(x_shape), tuple(t_shape)
    if len(x_shape) == 0:
        raise ValueError(
            f"{fn}: logits must have at least 1 dimension (the classes); got a 0-d array"
        )
    if len(x_shape) == 1:
        if t_shape != ():
            raise ValueError(
                f"{fn}: for unbatched logits of shape {x_shape} the target must be 0-d; got shape {t_shape}"
            )
        return (1, x_shape[0], 1)
    torch_t = x_shape[:1] + x_shape[2:]
    last_t = x_shape[:-1]
    if t_shape == torch_t:
        return (x_shape[0], x_shape[1], math.prod(x_shape[2:]))
    if t_shape == last_t:
        return (math.prod(last_t), x_shape[-1], 1)
    if len(x_shape) == 2:
        raise ValueError(
            f"{fn}: logits of shape {x_shape} need a target of shape {torch_t}; got {t_shape}"
        )
    raise ValueError(
        f"{fn}: target of shape {t_shape} does not fit logits of shape {x_shape}: expected "
        f"{torch_t} (classes in dim 1, as in PyTorch) or {last_t} (classes last)"
    )


def _check_ignore_index(fn, ignore_index):
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(
            f"{fn}: ignore_index must be an integer (a class index never used, -100 by default); "
            f"got {ignore_index!r}"
        )


def _class_targets(fn, xp, target, C, ignore_index):
    """Check class indices; return ``valid`` (bool) and the indices with ignored ones set to 0."""
    valid = target != ignore_index
    bad = valid & ((target < 0) | (target >= C))
    if bool(bad.any()):
        bad_np, t_np = to_numpy(bad), to_numpy(target)
        where = tuple(int(i) for i in np.argwhere(bad_np)[0])
        raise ValueError(
            f"{fn}: target holds class indices, which must lie in [0, {C}) (or equal "
            f"ignore_index={ignore_index}); got {int(t_np[where])} at position {where}"
        )
    return valid, xp.where(valid, target, 0)


def _class_weight(fn, xp, weight, C, dt):
    if weight is None:
        return None
    return _like(fn, "weight", xp, weight, dt, shape=(C,))


def _target_kind(fn, xp, target):
    dt = xp.numpy_dtype(target)
    if dt.kind in "iu":
        return "index"
    if dt.kind == "f":
        return "prob"
    raise TypeError(
        f"{fn}: target must hold integer class indices (or, for cross_entropy, floating-point "
        f"class probabilities); got dtype {dt}"
    )


def _amax(xp, v):
    """The largest magnitude in ``v`` as a Python float (0.0 for None or an empty array)."""
    if v is None or math.prod(v.shape) == 0:
        return 0.0
    return float(xp.max(xp.abs(v)))


def _needs_float64(dt, bound):
    """True when arithmetic in ``dt`` may overflow on values up to ``bound`` (module docstring)."""
    return dt.itemsize < 8 and not bound < float(np.finfo(dt).max) / 4


def _narrow(xp, results, dt):
    """The float64 ``results`` rounded back to ``dt``; out-of-range values become inf silently."""
    with np.errstate(over="ignore"):  # inf is the correctly rounded value; NumPy would signal it
        return tuple(xp.asarray(r, dtype=dt) for r in results)


def _wide(xp, v):
    return None if v is None else xp.asarray(v, dtype=np.float64)


def _nan(xp, dt):
    return xp.asarray(np.array(np.nan, dtype=dt))


def _reduce(xp, elem, denom, reduction, out_shape, dt):
    """Reduce per-element losses; return ``(loss, scale)`` with ``scale = d loss / d elem``.

    For ``"mean"`` with ``denom == 0`` (an empty or fully ignored batch, or class
    weights summing to zero) the loss is NaN, as in PyTorch, and ``scale`` is NaN:
    callers keep the gradient of ignored elements at exactly zero.
    """
    if reduction == "none":
        return elem.reshape(out_shape), 1.0
    total = xp.sum(elem)
    if reduction == "sum":
        return xp.asarray(total), 1.0
    if float(denom) == 0:
        return _nan(xp, dt), float("nan")
    return xp.asarray(total / denom), 1 / denom
