"""The reference BPTT loop with one classic mistake switched on, to recognise it.

:func:`numrnn.check_bptt` runs the student's backward and, beside it, this loop once
per entry of the catalogue that lives in the loop itself (a carried gradient
dropped, the final state's gradient ignored, the padding mask ignored).  When the
student's gradients equal one of these, that entry is the diagnosis.  With every
switch at its default the loop is :func:`numrnn.reference.masked.masked_backward`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..reference.masked import as_tuple, packed

__all__ = ["Switches", "backward_with"]


@dataclass(frozen=True)
class Switches:
    """What the simulated loop gets wrong (everything right by default).

    ``carry``: per state (h, c), whether the gradient of step ``t + 1`` is carried
    into step ``t``; ``start_from_final``: per state, whether the loop starts from the
    final state's gradient (else from zeros); ``honour_mask``: whether padded steps
    are skipped.
    """

    carry: tuple = (True, True)
    start_from_final: tuple = (True, True)
    honour_mask: bool = True


def backward_with(cell, dout, dstate, caches, mask=None, switches=Switches()):
    """BPTT over ``caches`` (the step caches of the forward) with ``switches`` applied.

    Returns ``dx`` (T, B, D), the initial state's gradient, the summed ``grads`` and
    the list of per-step ``grads`` (the contribution of each step, in time order).
    """
    T = len(caches)
    final = as_tuple(dstate)
    d_next = [d if keep else np.zeros_like(d) for d, keep in zip(final, switches.start_from_final)]
    dxs, per_step = [None] * T, [None] * T
    for t in reversed(range(T)):
        d_total = [dout[t] + d_next[0], *d_next[1:]]
        m = mask[t] if mask is not None and switches.honour_mask else 1.0
        dx, dprev, per_step[t] = cell.step_backward(packed([m * d for d in d_total]), caches[t])
        dxs[t] = dx
        returned = [p + (1 - m) * d for p, d in zip(as_tuple(dprev), d_total)]
        d_next = [d if keep else np.zeros_like(d) for d, keep in zip(returned, switches.carry)]
    grads = {name: sum(step[name] for step in per_step) for name in per_step[0]}
    return np.stack(dxs), packed(returned), grads, per_step
