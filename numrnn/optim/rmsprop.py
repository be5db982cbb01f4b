"""RMSprop: gradients scaled by a running root-mean-square, optionally centred, with momentum."""

from __future__ import annotations

from ..backend import ops
from .optimizer import Optimizer, Params, effective_grad, lerp_

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""``torch.optim.RMSprop``, step for step (Hinton's lecture 6e; centred form from Graves, 2013).

    For each parameter :math:`\theta` with gradient :math:`\nabla`:

    .. math::
        g &= \pm\nabla + \lambda\theta\\
        v_t &= \alpha v_{t-1} + (1 - \alpha) g^2\\
        \bar g_t &= \alpha \bar g_{t-1} + (1 - \alpha) g, \qquad
            d = \sqrt{v_t - \bar g_t^2} + \epsilon \quad\text{(centered)}, \qquad
            d = \sqrt{v_t} + \epsilon \quad\text{(otherwise)}\\
        b_t &= \mu b_{t-1} + g / d, \quad \theta \leftarrow \theta - \eta b_t
            \quad\text{(momentum } \mu > 0), \qquad
            \theta \leftarrow \theta - \eta\, g / d \quad\text{(otherwise)}

    State per parameter: ``step`` (int), ``square_avg``, and ``momentum_buffer``
    (with momentum) and ``grad_avg`` (centered).

    Raises:
        ValueError: ``lr``, ``alpha``, ``eps``, ``weight_decay`` or ``momentum`` negative.
    """

    _state_arrays = ("square_avg", "momentum_buffer", "grad_avg")

    # torch.optim.RMSprop's signature, written in rows as PyTorch prints it (CONTRIBUTING.md)
    # fmt: off
    def __init__(self, params: Params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=bool(centered), maximize=bool(maximize))
        super().__init__(params, defaults)
    # fmt: on

    def _required_state(self, group):
        need = ("step", "square_avg")
        if group["momentum"] > 0:
            need += ("momentum_buffer",)
        if group["centered"]:
            need += ("grad_avg",)
        return need

    def _update(self, group, params):
        lr, alpha, eps, wd = group["lr"], group["alpha"], group["eps"], group["weight_decay"]
        momentum, centered, maximize = group["momentum"], group["centered"], group["maximize"]
        for p in params:
            xp = ops(p.data)
            st = self._zeroed_state(p, group)
            st["step"] += 1
            g = effective_grad(p, wd, maximize)

            square_avg = st["square_avg"]
            tmp = xp.multiply(g, 1 - alpha, out=xp.empty_like(p.data))
            tmp *= g  # ((1 - alpha) g) g, as addcmul
            square_avg *= alpha
            square_avg += tmp  # v <- alpha v + (1 - alpha) g^2

            if centered:
                grad_avg = st["grad_avg"]
                lerp_(grad_avg, g, 1 - alpha, tmp)
                xp.multiply(grad_avg, grad_avg, out=tmp)
                tmp -= square_avg  # gbar^2 - v  ==  -(v - gbar^2) exactly
                tmp *= -1
                avg = xp.sqrt(tmp)
            else:
                avg = xp.sqrt(square_avg)
            avg += eps

            if momentum > 0:
                buf = st["momentum_buffer"]
                xp.multiply(g, 1, out=tmp)
                tmp /= avg
                buf *= momentum
                buf += tmp  # b <- mu b + g / d
                xp.multiply(buf, -lr, out=tmp)
                p.data += tmp
            else:
                xp.multiply(g, -lr, out=tmp)
                tmp /= avg  # (-lr g) / d, as addcdiv
                p.data += tmp
