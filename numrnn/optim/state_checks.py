"""Checks of a saved optimiser state's values, for ``Optimizer.load_state_dict``.

A saved ``step`` must be a whole number in ``[0, MAX_STEP]``; a saved
hyperparameter must be of the kind the optimiser's own is (a bool stays a
bool, a number a finite number, ``betas`` a pair of finite numbers).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..backend import is_torch_tensor
from ..nn.module import real_array

__all__ = ["MAX_STEP", "NONNEGATIVE_STATE", "check_hyperparameter", "loaded_step", "short"]


def _is_array(x):
    return isinstance(x, np.ndarray) or is_torch_tensor(x)


def _is_number(x):
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _is_finite(x):
    """True for a number that is a finite float64 (an int too large for one is not)."""
    try:
        return math.isfinite(x)
    except OverflowError:
        return False


#: state entries that are sums of squares, hence never negative
NONNEGATIVE_STATE = ("exp_avg_sq", "max_exp_avg_sq", "square_avg", "sum")
#: the largest step count a float64 holds exactly (torch keeps ``step`` as a float)
MAX_STEP = 2**53


def short(value):
    """``repr(value)``, cut to 60 characters for messages (a huge int has thousands of digits)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def loaded_step(what, value):
    """A saved step count (number or one-element array/tensor) as an int in [0, MAX_STEP].

    ``what`` names the entry in the messages.

    Raises:
        TypeError: an array or tensor that is not real numbers.
        ValueError: more than one number, not a whole number, or out of range.
    """
    if _is_array(value):
        arr = real_array(value, what, kinds="fiu")
        if arr.size != 1:
            raise ValueError(f"{what} must be one number; got an array of shape {arr.shape}")
        value = arr.reshape(()).item()
    if not _is_number(value) or (_is_finite(value) and value != int(value)):
        raise ValueError(f"{what} must be a whole number of steps; got {short(value)}")
    if not _is_finite(value) or not 0 <= value <= MAX_STEP:
        raise ValueError(f"{what} must satisfy 0 <= step <= 2**53; got {short(value)}")
    return int(value)


def check_hyperparameter(owner, key, value, current):
    """A saved hyperparameter must be of the kind of the optimiser's own (``current``).

    A bool stays a bool, a number stays a finite number, a pair (``betas``)
    stays a pair of finite numbers.  Keys the optimiser does not have (torch's
    ``foreach``, ``fused``, ...; a scheduler's ``initial_lr``) must be a bool,
    a string, None or a finite number.

    Raises:
        ValueError: naming ``owner`` and ``key``, when ``value`` is of another kind.
    """
    if isinstance(current, bool):
        ok = isinstance(value, bool)
        kind = "a bool"
    elif isinstance(current, (tuple, list)):
        ok = (
            isinstance(value, (tuple, list))
            and len(value) == len(current)
            and all(_is_number(v) and _is_finite(v) for v in value)
        )
        kind = f"a sequence of {len(current)} finite numbers"
    elif _is_number(current) or key == "initial_lr":
        ok = _is_number(value) and _is_finite(value)
        kind = "a finite number"
    else:
        ok = (
            value is None
            or isinstance(value, (bool, str))
            or (_is_number(value) and _is_finite(value))
        )
        kind = "a bool, a string, None or a finite number"
    if not ok:
        raise ValueError(f"{owner}: {key!r} must be {kind}; got {short(value)}")
