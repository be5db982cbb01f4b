r"""Exercise 5: backpropagation through time for a whole tanh RNN sequence.

The forward is :func:`numrnn.reference.rnn_forward`: for ``t = 0 .. T-1`` it runs
``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` and returns ``out`` (T, B, H)
(every ``h_t``), ``hT`` and the cache, the list of the step caches.

Your task: ``rnn_backward(dout, dhT, caches)`` returns ``dx`` (T, B, D), ``dh0`` (B, H)
and ``grads``, a dict with the keys of ``params`` (``weight_ih``, ``weight_hh``,
``bias_ih``, ``bias_hh``), each summed over the steps.  ``dout[t]`` is the gradient
that reaches ``h_t`` from the output at step ``t``; ``dhT`` the gradient of the final
state.  ``h_t`` also feeds step ``t + 1``, so going backwards in time carry
``dh_next``, the gradient that step ``t + 1`` sends back to ``h_t``::

    dh_next = dhT
    for t = T-1 down to 0:
        dh = dout[t] + dh_next           (both paths into h_t)
        dx[t], dh_next, g_t = step_backward(dh, caches[t])
        grads += g_t                     (every step uses the same weights)
    dh0 = dh_next

You may call :func:`numrnn.reference.rnn_step_backward` for one step (exercise 1
is that step); the exercise is the loop.  Check with
``python examples/exercises/check.py rnn_backward``: besides the per-tensor table,
the checker reports the error of ``dx[t]`` step by step and names the mistake.
"""

import numpy as np  # noqa: F401

from numrnn.reference import rnn_forward, rnn_step_backward  # noqa: F401

CELL = "rnn"
FORWARD = rnn_forward


def rnn_backward(dout, dhT, caches):
    """``dout`` (T, B, H), ``dhT`` (B, H) -> ``dx`` (T, B, D), ``dh0`` (B, H), ``grads``."""
    raise NotImplementedError(
        "write the loop over reversed time; hint: the gradient of h_t is dout[t] plus what "
        "step t+1 sent back"
    )
