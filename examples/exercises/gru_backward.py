r"""Exercise 7: backpropagation through time for a whole GRU sequence.

The forward is :func:`numrnn.reference.gru_forward` (PyTorch's formulation, gates
``r, z, n``, ``h_t = (1 - z) * n + z * h_{t-1}``); it returns ``out`` (T, B, H), ``hT``
and the cache, the list of the step caches.

Your task: ``gru_backward(dout, dhT, caches)`` returns ``dx`` (T, B, D), ``dh0`` and
``grads`` (a dict with the keys of ``params``, summed over the steps).  The loop is
the RNN's (exercise 5): ``h_t`` receives ``dout[t]`` and ``dh_next``; the GRU step
(exercise 4) sends gradient back to ``h_{t-1}`` along three paths (``z * h``, the
gates' products and, inside the reset product, ``W_hn``), and its ``dh_prev``
already adds them.  Check with ``python examples/exercises/check.py gru_backward``.
"""

import numpy as np  # noqa: F401

from numrnn.reference import gru_forward, gru_step_backward  # noqa: F401

CELL = "gru"
FORWARD = gru_forward


def gru_backward(dout, dhT, caches):
    """``dout`` (T, B, H), ``dhT`` (B, H) -> ``dx`` (T, B, D), ``dh0`` (B, H), ``grads``."""
    raise NotImplementedError("write the loop over reversed time, as for the RNN")
