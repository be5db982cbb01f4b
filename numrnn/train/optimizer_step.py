r"""The optimiser step every training loop ends a batch with, and its finiteness checks.

Each step measures the global gradient norm before clipping,

.. math::  N = \Big(\sum_{\text{parameters } p} \|\nabla_p\|_2^2\Big)^{1/2},

once, with :func:`numrnn.optim.clip_grad_norm_` (which returns it), and refuses to step
when the loss or any gradient is not finite: a NaN that reaches the optimiser spreads
into every weight it touches, and the run is lost without a word.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import to_numpy
from ..nn import Module
from ..optim import Optimizer, clip_grad_norm_

__all__ = ["check_finite_loss", "update"]


def update(
    model: Module, optimizer: Optimizer, clip_norm: float | None = None, *, step: int | None = None
) -> float:
    """One optimiser step from the gradients in ``.grad``: clip the global norm (if
    ``clip_norm`` is given), step, and zero the gradients for the next batch.

    Args:
        model: has ``named_parameters()`` (a :class:`numrnn.Module`, or a wrapper
            such as :class:`numrnn.distributed.DataParallel`).
        optimizer: steps ``model``'s parameters.
        clip_norm: scale the gradients so that their global norm is at most this.
        step: the step's index, named by the error message (None: not named).

    Returns:
        the global 2-norm :math:`N` of the gradients before clipping (a float).

    Raises:
        FloatingPointError: a gradient holds NaN or inf, e.g. ``step 17: gradient of
            rnn.weight_hh_l0 is not finite (nan)``.  Raised before the optimiser
            step: no parameter changes, and the gradients stay in ``.grad`` to be
            inspected.
    """
    max_norm = math.inf if clip_norm is None else clip_norm  # inf: measure, never scale
    try:
        # error_if_nonfinite: a non-finite norm raises before any gradient is scaled
        norm = clip_grad_norm_(model.parameters(), max_norm, error_if_nonfinite=True)
    except RuntimeError:
        culprit = _first_nonfinite_gradient(model, step)
        if culprit is None:
            raise
        raise culprit from None
    optimizer.step()
    optimizer.zero_grad()
    return norm


def check_finite_loss(loss: float, step: int) -> None:
    """Raise ``FloatingPointError("step 3: loss is not finite (nan)")`` for a NaN or
    infinite loss; called before the optimiser step, so no parameter changes."""
    if not math.isfinite(loss):
        raise FloatingPointError(f"step {step}: loss is not finite ({loss})")


def _first_nonfinite_gradient(model, step):
    """The error naming the first parameter (in ``named_parameters`` order) whose
    gradient holds NaN (said first) or inf; None when every gradient is finite."""
    for name, p in model.named_parameters():
        if p.grad is None:
            continue
        g = to_numpy(p.grad)
        if np.isnan(g).any():
            what = "nan"
        elif np.isinf(g).any():
            what = "inf"
        else:
            continue
        where = "" if step is None else f"step {step}: "
        return FloatingPointError(f"{where}gradient of {name} is not finite ({what})")
    return None
