r"""Training-health checks before a long run: the loss at initialisation, finite and
non-zero gradients, and whether one small batch can be learned by heart.

They follow the first steps of Karpathy's "recipe for training neural networks":

* with ``C`` classes and small initial logits the prediction is nearly uniform, so
  the cross-entropy at initialisation is about :math:`\ln C`; far more means
  confidently wrong initial logits, far less a label leak;
* every gradient is finite, and every parameter receives some gradient (a tensor
  whose gradient is exactly zero is cut off from the loss);
* a model that cannot drive the loss of one small batch near zero has a bug (in the
  backward, the wiring, or the optimiser's use) that more data will not fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["HealthReport", "check_training_health"]


@dataclass
class HealthReport:
    """Verdicts of :func:`check_training_health`: ``checks`` is ``[(name, ok, detail)]``."""

    checks: list = field(default_factory=list)

    @property
    def passed(self):
        return all(ok for _, ok, _ in self.checks)

    def __str__(self):
        width = max(len(name) for name, _, _ in self.checks)
        rows = [
            f"{name:<{width}}  {'ok  ' if ok else 'FAIL'}  {detail}"
            for name, ok, detail in self.checks
        ]
        return "\n".join([*rows, f"training health: {'ok' if self.passed else 'FAILED'}"])


def _snapshot(params):
    return [(p.data.copy(), None if p.grad is None else p.grad.copy()) for p in params]


def _restore(params, saved):
    for p, (data, grad) in zip(params, saved):
        p.data[...] = data
        if grad is not None:
            p.grad[...] = grad


def check_training_health(
    model,
    loss_fn,
    batch,
    *,
    num_classes=None,
    overfit_steps=200,
    lr=1e-2,
    may_be_zero=(),
    out=print,
):
    r"""Run the checks on ``model`` with one ``batch``; print each verdict; return a :class:`HealthReport`.

    Args:
        model: a :class:`numrnn.Module`.  Its parameters and gradients are the same after
            the call as before it (the overfitting run works on them and restores them).
        loss_fn: ``loss_fn(model, batch) -> float``: runs the forward, the loss and the
            backward (which accumulates into ``.grad``), and returns the loss.
        batch: whatever ``loss_fn`` takes; a small one (a few examples).
        num_classes: ``C`` for the :math:`\ln C` check of a cross-entropy loss, or None to skip it.
        overfit_steps, lr: the Adam run that tries to learn ``batch`` by heart.
        may_be_zero: parameter names allowed an all-zero gradient (unused embedding rows
            do not count: only a whole tensor at zero fails).
        out: where to print (``None``: print nothing).

    Raises:
        ValueError: for a non-positive ``overfit_steps`` / ``lr`` or ``num_classes < 2``.
    """
    _check_options(num_classes, overfit_steps, lr)
    named = list(dict(model.named_parameters()).items())
    params = [p for _, p in named]
    saved = _snapshot(params)
    report = HealthReport()
    try:
        model.zero_grad()
        loss0 = float(loss_fn(model, batch))
        report.checks += _first_step_checks(named, loss0, num_classes, may_be_zero)
        report.checks.append(_overfit(model, loss_fn, batch, params, loss0, overfit_steps, lr))
    finally:
        _restore(params, saved)
    if out is not None:
        out(str(report))
    return report


def _check_options(num_classes, overfit_steps, lr):
    """Raise the ``ValueError`` of :func:`check_training_health` for a bad option."""
    if num_classes is not None and (
        isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 2
    ):
        raise ValueError(
            f"check_training_health: num_classes must be an int >= 2; got {num_classes!r}"
        )
    if isinstance(overfit_steps, bool) or not isinstance(overfit_steps, int) or overfit_steps < 1:
        raise ValueError(
            f"check_training_health: overfit_steps must be an int >= 1; got {overfit_steps!r}"
        )
    if not lr > 0:
        raise ValueError(f"check_training_health: lr must be > 0; got {lr!r}")


def _first_step_checks(named, loss0, num_classes, may_be_zero):
    """The verdicts on the first loss and its gradients: ``[(name, ok, detail), ...]``."""
    checks = []
    if num_classes is not None:
        expected = math.log(num_classes)
        ok = abs(loss0 - expected) <= 0.25 * expected
        detail = f"{loss0:.4f}, expected about ln({num_classes}) = {expected:.4f}"
        checks.append(("loss at init", ok, detail))
    bad = [n for n, p in named if not np.all(np.isfinite(p.grad))]
    detail = f"not finite: {', '.join(bad)}" if bad else f"all {len(named)} tensors"
    checks.append(("finite gradients", not bad, detail))
    zero = [n for n, p in named if not np.any(p.grad) and n not in may_be_zero]
    detail = f"no gradient reaches {', '.join(zero)}" if zero else "every tensor receives gradient"
    checks.append(("non-zero gradients", not zero, detail))
    return checks


def _overfit(model, loss_fn, batch, params, loss0, overfit_steps, lr):
    """Adam on one batch: the loss must fall to 5% of ``loss0``; returns the verdict."""
    from ..optim import Adam

    opt = Adam(params, lr=lr)
    loss = loss0
    for _ in range(overfit_steps):
        opt.zero_grad()
        loss = float(loss_fn(model, batch))
        if not math.isfinite(loss):
            break
        opt.step()
    ok = math.isfinite(loss) and loss <= 0.05 * loss0
    detail = (
        f"loss {loss0:.4f} -> {loss:.4g} after {overfit_steps} Adam steps (lr {lr:g}); "
        "wanted <= 5% of the start"
    )
    return ("overfit one batch", ok, detail)
