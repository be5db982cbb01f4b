"""Learning-rate schedules, as ``torch.optim.lr_scheduler``: same values, step for step.

A scheduler rewrites ``group["lr"]`` of its optimiser's parameter groups each
time ``step()`` is called (once per epoch, after ``optimizer.step()``), and
records each group's starting rate as ``group["initial_lr"]``.  Like PyTorch's,
the constructor already takes one step (to epoch 0), and the chainable
schedules compute the new rate from the current one, so the values produced
are PyTorch's to the last bit, not merely the closed forms.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .hyperparameters import HYPERPARAMETER_CHECKS, check_int
from .optimizer import Optimizer, _is_finite, _is_number

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "StepLR"]

# Entries of a torch scheduler's state_dict that carry no schedule state.
_TORCH_ONLY_KEYS = frozenset({"_is_initial", "_get_lr_called_within_step", "verbose", "lr_lambdas"})


class LRScheduler:
    """Base class: subclasses define ``get_lr()`` and pass their hyperparameters up.

    Args:
        optimizer: the :class:`numrnn.optim.Optimizer` whose rates to set.
        last_epoch: ``-1`` to start a schedule; the index of the last epoch
            when resuming (the optimiser's groups must then carry ``initial_lr``).
        **hyper: the schedule's own hyperparameters (``step_size=..., gamma=...``),
            each checked by its row of
            :data:`numrnn.optim.hyperparameters.HYPERPARAMETER_CHECKS` before
            anything else, kept as an attribute of its name and saved by
            :meth:`state_dict`.

    Raises:
        TypeError: ``optimizer`` is not a numrnn optimiser.
        ValueError: a hyperparameter out of range, ``last_epoch`` below -1, or
            resuming without ``initial_lr``.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1, **hyper: float) -> None:
        name = type(self).__name__
        self._check_hyper(name, hyper)
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{name}: optimizer must be a numrnn.optim.Optimizer; got {type(optimizer).__name__}"
            )
        check_int(name, "last_epoch", last_epoch, -1)
        self._hyper = tuple(hyper)
        for key, value in hyper.items():
            setattr(self, key, value)  # self.gamma, self.step_size, ...
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise ValueError(
                        f"{name}: param_groups[{i}] has no 'initial_lr', which resuming with "
                        f"last_epoch={last_epoch} needs; load the optimiser's state first"
                    )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self):  # pragma: no cover - abstract
        """The rates for epoch ``self.last_epoch`` (one per parameter group)."""
        raise NotImplementedError

    def step(self):
        """Advance one epoch and write the new rates into the optimiser's groups."""
        self._step_count += 1
        self.last_epoch += 1
        values = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        """The rates set by the last ``step()`` (a new list, one float per group)."""
        return list(self._last_lr)

    def _keys(self):
        return ("base_lrs", "last_epoch", "_step_count", "_last_lr") + self._hyper

    def state_dict(self):
        """The schedule's position and hyperparameters: numbers and lists of numbers only.

        Keys are those of the matching torch scheduler's ``state_dict`` (less
        its internal flags), so a torch scheduler's state loads here and back.
        """
        return {
            k: (list(v) if isinstance(v, list) else v)
            for k, v in ((k, getattr(self, k)) for k in self._keys())
        }

    def load_state_dict(self, state_dict):
        """Restore the position and hyperparameters saved by :meth:`state_dict`.

        Raises:
            ValueError: a key is missing or unknown, a list's length differs from
                the number of parameter groups, or a value is invalid; nothing
                changes then.
        """
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise ValueError(f"{name}: expected a dict; got {type(state_dict).__name__}")
        keys = set(self._keys())
        missing = sorted(keys - set(state_dict))
        unknown = sorted(set(state_dict) - keys - _TORCH_ONLY_KEYS)
        if missing or unknown:
            raise ValueError(f"{name}: missing keys {missing}, unexpected keys {unknown}")
        n = len(self.optimizer.param_groups)
        for key in ("base_lrs", "_last_lr"):
            value = state_dict[key]
            if (
                not isinstance(value, (list, tuple))
                or len(value) != n
                or not all(_is_number(v) and _is_finite(v) for v in value)
            ):
                raise ValueError(
                    f"{name}: {key!r} must be a list of {n} finite numbers (one per group); "
                    f"got {value!r}"
                )
        check_int(name, "last_epoch", state_dict["last_epoch"], -1)
        check_int(name, "_step_count", state_dict["_step_count"], 0)
        self._check_hyper(name, {k: state_dict[k] for k in self._hyper})
        for k in self._keys():
            v = state_dict[k]
            setattr(self, k, list(v) if isinstance(v, (list, tuple)) else v)

    @staticmethod
    def _check_hyper(owner, values):
        """Check each hyperparameter in ``values`` (a dict) with its row of the table.

        Raises:
            ValueError: at the first one out of range, naming ``owner``, the
                hyperparameter, the allowed range and the value given.
        """
        for name, value in values.items():
            HYPERPARAMETER_CHECKS[name](owner, name, value)

    def _current(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def __repr__(self):
        hyper = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._hyper)
        return f"{type(self).__name__}({hyper}{', ' if hyper else ''}last_epoch={self.last_epoch})"


class StepLR(LRScheduler):
    r"""Multiply the rate by ``gamma`` every ``step_size`` epochs:
    :math:`\eta_e = \eta_0\, \gamma^{\lfloor e / \text{step\_size} \rfloor}`.

    Raises:
        ValueError: ``step_size`` not a positive integer, or ``gamma`` negative.
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        super().__init__(optimizer, last_epoch, step_size=step_size, gamma=gamma)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class ExponentialLR(LRScheduler):
    r"""Multiply the rate by ``gamma`` every epoch: :math:`\eta_e = \eta_0\, \gamma^{e}`.

    Raises:
        ValueError: ``gamma`` negative.
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        super().__init__(optimizer, last_epoch, gamma=gamma)

    def get_lr(self):
        if self._is_initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from the initial rate :math:`\eta_0` to ``eta_min`` over ``T_max`` epochs.

    .. math::
        \eta_e = \eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})\big(1 + \cos(\pi e / T_{\max})\big)

    computed, as PyTorch computes it, by the recursion

    .. math::
        \eta_e = \eta_{\min} + (\eta_{e-1} - \eta_{\min})
            \frac{1 + \cos(\pi e / T_{\max})}{1 + \cos(\pi (e - 1) / T_{\max})}

    (with an additive step where the denominator vanishes), so that after
    ``T_max`` epochs the rate rises again along the same cosine.

    Raises:
        ValueError: ``T_max`` not a positive integer or ``eta_min`` negative.
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        super().__init__(optimizer, last_epoch, T_max=T_max, eta_min=eta_min)

    def get_lr(self):
        e, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current()
        if self._step_count == 1 and e > 0:
            return [
                eta_min + (base - eta_min) * (1 + math.cos(e * math.pi / T)) / 2
                for base in self.base_lrs
            ]
        if (e - 1 - T) % (2 * T) == 0:
            return [
                lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                for base, lr in zip(self.base_lrs, self._current())
            ]
        return [
            (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (lr - eta_min)
            + eta_min
            for lr in self._current()
        ]


class LambdaLR(LRScheduler):
    r"""Rate = initial rate times a function of the epoch: :math:`\eta_e = \eta_0\, f(e)`.

    Args:
        lr_lambda: a callable ``f(epoch) -> factor``, or a list of them, one per
            parameter group.  The functions are not saved by ``state_dict``.

    Raises:
        TypeError: ``lr_lambda`` is not callable (or a list of callables).
        ValueError: a list whose length differs from the number of groups.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        n = len(optimizer.param_groups) if isinstance(optimizer, Optimizer) else 0
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(
                    f"LambdaLR: expected {n} lr_lambdas (one per group); got {len(lr_lambda)}"
                )
            lambdas = list(lr_lambda)
        else:
            lambdas = [lr_lambda] * n
        for f in lambdas:
            if not callable(f):
                raise TypeError(f"LambdaLR: lr_lambda must be callable; got {type(f).__name__}")
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * f(self.last_epoch) for f, base in zip(self.lr_lambdas, self.base_lrs)]
