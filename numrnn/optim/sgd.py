"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from ..backend import ops
from .optimizer import Optimizer, Params, effective_grad

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""``torch.optim.SGD``, step for step.

    For each parameter :math:`\theta` with gradient :math:`\nabla`:

    .. math::
        g &= \pm\nabla + \lambda\theta \qquad (- \text{ when maximize})\\
        b_1 &= g, \qquad b_t = \mu b_{t-1} + (1 - \tau) g \quad (t > 1)\\
        g &\leftarrow g + \mu b_t \text{ (nesterov)} \quad\text{or}\quad g \leftarrow b_t
            \text{ (when } \mu \ne 0)\\
        \theta &\leftarrow \theta - \eta\, g

    with learning rate :math:`\eta` (``lr``), momentum :math:`\mu`, dampening
    :math:`\tau` and weight decay :math:`\lambda`.  The first momentum buffer
    is the gradient itself, without dampening, as in PyTorch.

    State per parameter: ``momentum_buffer`` (only when momentum is non-zero).

    Raises:
        ValueError: ``lr``, ``momentum``, ``dampening`` or ``weight_decay`` is
            negative, or ``nesterov`` is set without a positive momentum and zero
            dampening.
    """

    _state_arrays = ("momentum_buffer",)

    # torch.optim.SGD's signature, written in rows as PyTorch prints it (CONTRIBUTING.md)
    # fmt: off
    def __init__(self, params: Params, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=bool(nesterov), maximize=bool(maximize))
        super().__init__(params, defaults)
    # fmt: on

    def _check_group(self, group):
        super()._check_group(group)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "SGD: nesterov=True requires momentum > 0 and dampening == 0; "
                f"got momentum={group['momentum']!r}, dampening={group['dampening']!r}"
            )

    def _update(self, group, params):
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        nesterov, wd, maximize = group["nesterov"], group["weight_decay"], group["maximize"]
        for p in params:
            g = effective_grad(p, wd, maximize)
            if momentum != 0:
                st = self._state(p)
                buf = st.get("momentum_buffer")
                if buf is None:
                    buf = st["momentum_buffer"] = g if g is not p.grad else ops(g).copy(g)
                else:
                    buf *= momentum
                    buf += g if dampening == 0 else g * (1 - dampening)
                if nesterov:
                    step_dir = buf * momentum  # g + mu * b, as torch's grad.add(buf, alpha=mu)
                    step_dir += g
                    g = step_dir
                else:
                    g = buf
            p.data -= g * lr  # param + (-lr) * g: negation is exact, so the same bits
