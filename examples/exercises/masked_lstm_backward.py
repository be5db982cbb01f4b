r"""Exercise 8: BPTT with variable lengths: no gradient may flow into padded steps.

A batch holds sequences of different lengths, padded to ``T``.  The forward,
:func:`numrnn.reference.masked_forward` with the LSTM cell, runs every step on every
row, but with the mask ``m_t = [t < lengths[b]]`` ``(B, 1)`` a padded step leaves the
state unchanged and outputs zero::

    state_t = m_t * new_t + (1 - m_t) * state_{t-1}       (h and c)
    out_t   = m_t * new_h_t

Its cache is ``(caches, mask)``: the step caches and the mask ``(T, B, 1)``.

Your task: ``masked_lstm_backward(dout, (dhT, dcT), cache)`` returns ``dx`` (T, B, D),
``(dh0, dc0)`` and ``grads``.  Differentiate the two lines above: a valid step
receives the gradient, a padded one passes ``dh_next`` and ``dc_next`` on unchanged
to the step before, and its ``dx`` and weight contributions are zero.  Check with
``python examples/exercises/check.py masked_lstm_backward``.
"""

import functools

import numpy as np  # noqa: F401

from numrnn.reference import lstm_cell, lstm_step_backward, masked_forward  # noqa: F401

CELL = "lstm"
FORWARD = functools.partial(masked_forward, lstm_cell)
LENGTHS = [5, 3, 1]


def masked_lstm_backward(dout, dstate, cache):
    """``dout`` (T, B, H), ``dstate = (dhT, dcT)``, ``cache = (caches, mask)``.

    Returns ``dx`` (T, B, D), ``(dh0, dc0)`` and ``grads``.
    """
    raise NotImplementedError("write the loop; hint: multiply by mask[t] what enters the step")
