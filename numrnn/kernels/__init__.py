"""The optimised recurrent kernels: what ``numrnn.RNN``, ``LSTM``, ``GRU`` and their cells run.

Read ``numrnn/reference/`` first: the same RNN, LSTM and GRU written to be read,
one line of code per equation.  The files here compute the same numbers (the
parity tests tie them to the reference and to ``torch.nn`` at float64 rounding)
faster, by doing the same math in bigger pieces; each file's docstring lists its
tricks with the identity each relies on.

* :mod:`.driver`: the time loop all three cells share (step order, state buffers,
  variable lengths, the backward in blocks, workspaces);
* :mod:`.products`: the matrix products taken out of the loop;
* :mod:`.rnn`, :mod:`.lstm`, :mod:`.gru` (and :mod:`.gru_reset_before`): the
  arithmetic of one step, forward and backward, for each cell.

Every kernel is written once against the array namespace of
:mod:`numrnn.backend`, so the torch backend runs these same functions.
"""

from .gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward
from .lstm import lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward
from .rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward

__all__ = [
    "gru_backward",
    "gru_forward",
    "gru_step_backward",
    "gru_step_forward",
    "lstm_backward",
    "lstm_forward",
    "lstm_step_backward",
    "lstm_step_forward",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
]
