"""Adagrad: per-coordinate learning rates from the accumulated squared gradients."""

from __future__ import annotations

from ..backend import ops
from .optimizer import Optimizer, Params, effective_grad

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""``torch.optim.Adagrad``, step for step (Duchi et al., 2011).

    At step :math:`t` for each parameter :math:`\theta` with gradient :math:`\nabla`:

    .. math::
        g &= \pm\nabla + \lambda\theta\\
        \tilde\eta &= \frac{\eta}{1 + (t - 1)\,\delta}\\
        s_t &= s_{t-1} + g^2, \qquad s_0 = \text{initial\_accumulator\_value}\\
        \theta &\leftarrow \theta - \tilde\eta\, \frac{g}{\sqrt{s_t} + \epsilon}

    with learning-rate decay :math:`\delta` (``lr_decay``).

    State per parameter: ``step`` (int) and ``sum``, created with the
    optimiser (as torch does), so ``state_dict()`` lists them before any step.
    A group's own ``initial_accumulator_value`` is honoured; torch fills every
    group with the constructor's value, the one place where results differ.

    Raises:
        ValueError: ``lr``, ``lr_decay``, ``weight_decay``,
            ``initial_accumulator_value`` or ``eps`` negative.
    """

    _state_arrays = ("sum",)

    # torch.optim.Adagrad's signature, written in rows as PyTorch prints it (CONTRIBUTING.md)
    # fmt: off
    def __init__(self, params: Params, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=bool(maximize))
        super().__init__(params, defaults)
    # fmt: on

    def _required_state(self, group):
        return ("step", "sum")

    def _init_state(self, p, group):
        xp = ops(p.data)
        acc = xp.zeros_like(p.data)
        acc += group["initial_accumulator_value"]
        return {"step": 0, "sum": acc}

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            self.state[p] = self._init_state(p, group)

    def _update(self, group, params):
        lr, lr_decay, wd, eps, maximize = (
            group["lr"],
            group["lr_decay"],
            group["weight_decay"],
            group["eps"],
            group["maximize"],
        )
        for p in params:
            xp = ops(p.data)
            st = self.state.get(p) or self._init_state(p, group)
            self.state[p] = st
            step = st["step"] = st["step"] + 1
            g = effective_grad(p, wd, maximize)
            clr = lr / (1 + (step - 1) * lr_decay)
            tmp = xp.multiply(g, g, out=xp.empty_like(p.data))
            state_sum = st["sum"]
            state_sum += tmp  # s <- s + g^2
            std = xp.sqrt(state_sum)
            std += eps
            xp.multiply(g, -clr, out=tmp)
            tmp /= std  # (-clr g) / std, as addcdiv
            p.data += tmp
