"""Solution: :func:`numrnn.reference.masked_backward` with the LSTM cell.

Read it in ``numrnn/reference/masked.py``: it works for any cell.
"""

import functools

from numrnn.reference import lstm_cell, masked_backward, masked_forward

CELL = "lstm"
FORWARD = functools.partial(masked_forward, lstm_cell)
LENGTHS = [5, 3, 1]
masked_lstm_backward = functools.partial(masked_backward, lstm_cell)
