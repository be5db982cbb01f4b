"""Solution: the loop over reversed time is the reference's, :func:`numrnn.reference.gru_backward`.

Read it in ``numrnn/reference/gru.py``, with the step and the equations: it runs the step
through the loop of ``numrnn/reference/rnn.py``, :func:`numrnn.reference.rnn.sequence_backward`.
"""

from numrnn.reference import gru_backward, gru_forward

CELL = "gru"
FORWARD = gru_forward

__all__ = ["CELL", "FORWARD", "gru_backward"]
