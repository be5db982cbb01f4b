r"""Exercise 6: backpropagation through time for a whole LSTM sequence.

The forward is :func:`numrnn.reference.lstm_forward`: it runs the LSTM step (exercise
2) at every ``t`` and returns ``out`` (T, B, H), ``(hT, cT)`` and the cache, the list
of the step caches.

Your task: ``lstm_backward(dout, (dhT, dcT), caches)`` returns ``dx`` (T, B, D),
``(dh0, dc0)`` and ``grads`` (a dict with the keys of ``params``, summed over the
steps).  An LSTM carries two states, so the loop carries two gradients: ``dh_next``
(what step ``t + 1`` sends back to ``h_t``, to be added to ``dout[t]``) and ``dc_next``
(what it sends back to ``c_t``, which has no output of its own)::

    dh_next, dc_next = dhT, dcT
    for t = T-1 down to 0:
        dx[t], (dh_next, dc_next), g_t = step_backward((dout[t] + dh_next, dc_next), caches[t])
        grads += g_t
    dh0, dc0 = dh_next, dc_next

You may call :func:`numrnn.reference.lstm_step_backward` for one step, or write the
step yourself.  Check with ``python examples/exercises/check.py lstm_backward``.
"""

import numpy as np  # noqa: F401

from numrnn.reference import lstm_forward, lstm_step_backward  # noqa: F401

CELL = "lstm"
FORWARD = lstm_forward


def lstm_backward(dout, dstate, caches):
    """``dout`` (T, B, H), ``dstate = (dhT, dcT)`` -> ``dx``, ``(dh0, dc0)``, ``grads``."""
    raise NotImplementedError(
        "write the loop over reversed time; hint: carry dh_next AND dc_next from step to step"
    )
