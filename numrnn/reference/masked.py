r"""Variable-length sequences: the loop over time of any cell, with padded steps.

Row ``b`` of a batch is valid for its first ``lengths[b]`` steps.  A padded step
must neither change the state nor produce an output, so with the mask
``m_t = [t < lengths[b]]`` ``(B, 1)`` the forward of step ``t`` is::

    new, cache = step_forward(x_t, state, params)
    state = m_t * new + (1 - m_t) * state      (every state tensor: h, and c for the LSTM)
    out_t = m_t * new_h

and its backward, given the gradient ``dstate`` carried from step ``t + 1``::

    d_new = m_t * (dout_t + dh_next),  m_t * dc_next       (what reaches the step)
    dx_t, dprev, grads_t = step_backward(d_new, cache)
    dh_next = dprev_h + (1 - m_t) * (dout_t + dh_next)       (a padded step passes it on)

so no gradient flows into a padded step: its ``dx_t`` is zero and it adds nothing to
the weight gradients.  This is what PyTorch's packed sequences compute.  With every
row at full length it is the plain loop (:func:`numrnn.reference.rnn.sequence_backward`
for a cell with ``h`` alone, :func:`numrnn.reference.lstm.lstm_backward` for the LSTM).
"""

from __future__ import annotations

import numpy as np

__all__ = ["masked_backward", "masked_forward", "valid_mask"]


def valid_mask(lengths, T, dtype=np.float64):
    """``m[t, b] = 1.0`` if ``t < lengths[b]`` else ``0.0``, shape ``(T, B, 1)``."""
    lengths = np.asarray(lengths)
    return (np.arange(T)[:, None] < lengths[None, :]).astype(dtype)[:, :, None]


def as_tuple(state):
    """A cell's state as a tuple (``h`` alone, or ``(h, c)``)."""
    return tuple(state) if isinstance(state, (tuple, list)) else (state,)


def packed(states):
    """The inverse of :func:`as_tuple`: a lone state is passed as the array itself."""
    return states[0] if len(states) == 1 else tuple(states)


def masked_forward(cell, x, state, params, lengths):
    """``x`` (T, B, D), ``state`` the cell's initial state, ``lengths`` (B,) ints.

    Returns ``out`` (T, B, H) (zero past each row's length), the final state (taken at
    each row's last valid step) and the cache ``(caches, mask)``.
    """
    mask = valid_mask(lengths, x.shape[0], x.dtype)  # (T, B, 1)
    state = as_tuple(state)
    outs, caches = [], []
    for t in range(x.shape[0]):
        new, cache = cell.step_forward(x[t], packed(state), params)
        new = as_tuple(new)
        state = tuple(mask[t] * n + (1 - mask[t]) * s for n, s in zip(new, state))
        outs.append(mask[t] * new[0])
        caches.append(cache)
    return np.stack(outs), packed(state), (caches, mask)


def masked_backward(cell, dout, dstate, cache):
    """``dout`` (T, B, H), ``dstate`` the gradient of the final state -> ``dx``, ``dstate0``, ``grads``."""
    caches, mask = cache
    d_next = list(as_tuple(dstate))  # dh_next (and dc_next)
    dxs, grads = [], None
    for t in reversed(range(len(caches))):
        d_total = [dout[t] + d_next[0], *d_next[1:]]  # h_t: its output's and the next step's
        d_new = [mask[t] * d for d in d_total]  # only a valid step receives it
        dx, dprev, g = cell.step_backward(packed(d_new), caches[t])
        d_next = [p + (1 - mask[t]) * d for p, d in zip(as_tuple(dprev), d_total)]
        dxs.append(dx)
        grads = g if grads is None else {name: grads[name] + g[name] for name in g}
    return np.stack(dxs[::-1]), packed(d_next), grads
