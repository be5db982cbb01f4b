"""The checks of the hyperparameters of ``numrnn.optim``: one row per name, shared by all.

A hyperparameter means the same thing, and may take the same values, in every
optimiser or schedule that has it (``lr``, ``eps``, ``weight_decay`` are never
negative; ``betas`` is a pair in ``[0, 1)``; ``step_size`` is a whole number of
epochs), as in ``torch.optim``.  So each check is written once, in
:data:`HYPERPARAMETER_CHECKS`: :class:`numrnn.optim.Optimizer` runs the row of
each of its hyperparameters on its defaults, on every group added and on every
group loaded, and :class:`numrnn.optim.lr_scheduler.LRScheduler` on its
constructor's arguments and on every state loaded.
"""

from __future__ import annotations

import numbers

from .state_checks import _is_finite, _is_number

__all__ = ["HYPERPARAMETER_CHECKS", "check_int", "check_real"]


def check_real(
    owner, name, value, *, low=None, low_inclusive=True, high=None, high_inclusive=False
):
    """Raise ``ValueError`` unless ``value`` is a finite real number in the given range.

    Used by the optimisers and schedulers to check hyperparameters the way
    PyTorch does (``lr >= 0``, ``0 <= beta < 1``, ...), with a message naming
    the owner, the argument, the allowed range and the value given.
    """
    if not _is_number(value) or not _is_finite(value):
        raise ValueError(f"{owner}: {name} must be a finite real number; got {value!r}")
    ok = True
    if low is not None:
        ok = value >= low if low_inclusive else value > low
    if ok and high is not None:
        ok = value <= high if high_inclusive else value < high
    if not ok:
        lo = "" if low is None else (f"{low} <= " if low_inclusive else f"{low} < ")
        hi = "" if high is None else (f" <= {high}" if high_inclusive else f" < {high}")
        raise ValueError(f"{owner}: {name} must satisfy {lo}{name}{hi}; got {value!r}")


def check_int(owner, name, value, low, high=2**53):
    """Raise ``ValueError`` unless ``value`` is an integer in ``[low, high]``.

    The default ``high`` is the largest count a float64 holds exactly; a bool is
    not an integer here.
    """
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or not low <= value <= high
    ):
        raise ValueError(f"{owner}: {name} must be an integer in [{low}, {high}]; got {value!r}")


def positive_int(owner, name, value):
    """``value`` if it is an integer ``>= 1`` (a count of epochs); else ``ValueError``."""
    check_int(owner, name, value, 1)
    return value


def non_negative(owner, name, value):
    """``value`` if it is a finite real number ``>= 0``; else ``ValueError`` (:func:`check_real`)."""
    check_real(owner, name, value, low=0)
    return value


def real(owner, name, value):
    """``value`` if it is a finite real number; else ``ValueError`` (:func:`check_real`)."""
    check_real(owner, name, value)
    return value


def betas(owner, name, value):
    r"""``(beta1, beta2)`` from a pair of finite numbers in :math:`[0, 1)`.

    Raises:
        ValueError: ``value`` is not a pair, or a beta is outside ``[0, 1)``
            (naming ``betas[0]`` or ``betas[1]``).
    """
    try:
        b1, b2 = value
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: {name} must be a pair (beta1, beta2); got {value!r}") from None
    check_real(owner, f"{name}[0]", b1, low=0, high=1)
    check_real(owner, f"{name}[1]", b2, low=0, high=1)
    return (b1, b2)


def switch(owner, name, value):
    """``value`` as given: a switch is read as true or false (the constructors store ``bool``)."""
    return value


#: ``check(owner, name, value) -> value to keep`` for every hyperparameter, by name
HYPERPARAMETER_CHECKS = {
    "lr": non_negative,
    "lr_decay": non_negative,
    "weight_decay": non_negative,
    "initial_accumulator_value": non_negative,
    "eps": non_negative,
    "alpha": non_negative,
    "momentum": non_negative,
    "dampening": real,
    "betas": betas,
    "amsgrad": switch,
    "centered": switch,
    "decoupled_weight_decay": switch,
    "maximize": switch,
    "nesterov": switch,
    # the schedules'
    "step_size": positive_int,
    "T_max": positive_int,
    "gamma": non_negative,
    "eta_min": non_negative,
}
