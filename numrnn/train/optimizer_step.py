"""The optimiser step every training loop ends a batch with."""

from __future__ import annotations

from ..nn import Module
from ..optim import Optimizer, clip_grad_norm_

__all__ = ["update"]


def update(model: Module, optimizer: Optimizer, clip_norm: float | None = None) -> None:
    """One optimiser step from the gradients in ``.grad``: clip the global norm (if
    ``clip_norm`` is given), step, and zero the gradients for the next batch."""
    if clip_norm is not None:
        clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()
    optimizer.zero_grad()
