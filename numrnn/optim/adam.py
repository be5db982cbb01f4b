"""Adam and AdamW (Adam with decoupled weight decay): one update rule, two defaults."""

from __future__ import annotations

from ..backend import ops
from .optimizer import Optimizer, Params, effective_grad, lerp_

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""``torch.optim.Adam``, step for step (Kingma & Ba, 2015).

    At step :math:`t` for each parameter :math:`\theta` with gradient :math:`\nabla`:

    .. math::
        g &= \pm\nabla + \lambda\theta \quad\text{(coupled decay)}, \qquad
            \theta \leftarrow \theta (1 - \eta\lambda),\ g = \pm\nabla
            \quad\text{(decoupled decay, AdamW)}\\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g^2\\
        \hat v_t &= \max(\hat v_{t-1}, v_t) \text{ with amsgrad, else } v_t\\
        \theta &\leftarrow \theta - \frac{\eta}{1 - \beta_1^t}\,
            \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    evaluated in PyTorch's order (the moment update as ``lerp``, the bias
    corrections folded into the step size and the denominator), so results agree
    with ``torch.optim.Adam`` to rounding.

    State per parameter: ``step`` (int), ``exp_avg``, ``exp_avg_sq`` and, with
    amsgrad, ``max_exp_avg_sq``.

    Raises:
        ValueError: ``lr``, ``eps`` or ``weight_decay`` negative, or a beta
            outside ``[0, 1)``.
    """

    _state_arrays = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    # torch.optim.Adam's signature, written in rows as PyTorch prints it (CONTRIBUTING.md)
    # fmt: off
    def __init__(self, params: Params, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=bool(amsgrad), maximize=bool(maximize),
                        decoupled_weight_decay=bool(decoupled_weight_decay))
        super().__init__(params, defaults)
    # fmt: on

    def _required_state(self, group):
        return ("step", "exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())

    def _update(self, group, params):
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        amsgrad, maximize, decoupled = (
            group["amsgrad"],
            group["maximize"],
            group["decoupled_weight_decay"],
        )
        for p in params:
            xp = ops(p.data)
            st = self._zeroed_state(p, group)
            step = st["step"] = st["step"] + 1
            exp_avg, exp_avg_sq = st["exp_avg"], st["exp_avg_sq"]

            if decoupled:
                if wd != 0:
                    p.data *= 1 - lr * wd
                g = effective_grad(p, 0, maximize)
            else:
                g = effective_grad(p, wd, maximize)

            tmp = xp.empty_like(p.data)  # the one scratch array of the step
            lerp_(exp_avg, g, 1 - beta1, tmp)  # m <- m + (1 - b1)(g - m)
            xp.multiply(g, 1 - beta2, out=tmp)
            tmp *= g  # ((1 - b2) g) g, as addcmul
            exp_avg_sq *= beta2
            exp_avg_sq += tmp  # v <- b2 v + (1 - b2) g^2

            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            step_size = lr / bias_correction1
            bias_correction2_sqrt = bias_correction2**0.5  # pow, not sqrt, as torch

            if amsgrad:
                max_sq = st["max_exp_avg_sq"]
                xp.maximum(max_sq, exp_avg_sq, out=max_sq)
                denom = xp.sqrt(max_sq)
            else:
                denom = xp.sqrt(exp_avg_sq)
            denom /= bias_correction2_sqrt
            denom += eps
            xp.multiply(exp_avg, -step_size, out=tmp)
            tmp /= denom  # (-step_size m) / denom, as addcdiv
            p.data += tmp


class AdamW(Adam):
    r"""``torch.optim.AdamW``: :class:`Adam` with decoupled weight decay (Loshchilov & Hutter).

    The decay multiplies the parameter, :math:`\theta \leftarrow \theta(1 - \eta\lambda)`,
    before the Adam step instead of entering the gradient; default
    ``weight_decay=1e-2``.  Everything else is :class:`Adam`'s.
    """

    # torch.optim.AdamW's signature, written in rows as PyTorch prints it (CONTRIBUTING.md)
    # fmt: off
    def __init__(self, params: Params, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
    # fmt: on
