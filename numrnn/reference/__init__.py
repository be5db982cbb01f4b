"""The textbook layer: plain NumPy RNN, LSTM and GRU, written to be read first.

Each file holds a step pair (``*_step_forward`` / ``*_step_backward``) and the loop
over time for one layer-direction (``*_forward`` / ``*_backward``), the backward
being the plain loop over reversed time that carries ``dh_next`` (and ``dc_next``).
The loop of a cell with ``h`` alone is written once, at the end of ``rnn.py``
(``sequence_forward``, ``sequence_backward``); ``gru.py`` runs its step through it.
``params`` is a dict with PyTorch's single-layer names (``weight_ih``, ``weight_hh``,
optional ``bias_ih``, ``bias_hh``; ``weight_hr`` for a projected LSTM) and the
gradients come back as a dict with the same keys.  No tricks, no workspaces:
the fast kernels of :mod:`numrnn.kernels` must equal these, and tests/reference
checks that they do, and checks these against finite differences and torch.

``rnn_cell``, ``rnn_relu_cell``, ``lstm_cell`` and ``gru_cell`` describe the cells for
:class:`numrnn.nn.Recurrent`, which runs any cell described the same way.
"""

from .cell import Cell, Weight, gru_cell, lstm_cell, rnn_cell, rnn_relu_cell, uniform_init
from .gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward
from .lstm import lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward
from .lstm_layernorm import lstm_layernorm_cell
from .lstm_peephole import lstm_peephole_cell
from .masked import masked_backward, masked_forward
from .rnn import (
    rnn_backward,
    rnn_forward,
    rnn_relu_step_forward,
    rnn_step_backward,
    rnn_step_forward,
)

__all__ = [
    "Cell",
    "Weight",
    "gru_backward",
    "gru_cell",
    "gru_forward",
    "gru_step_backward",
    "gru_step_forward",
    "lstm_backward",
    "lstm_cell",
    "lstm_forward",
    "lstm_layernorm_cell",
    "lstm_peephole_cell",
    "lstm_step_backward",
    "lstm_step_forward",
    "masked_backward",
    "masked_forward",
    "rnn_backward",
    "rnn_cell",
    "rnn_forward",
    "rnn_relu_cell",
    "rnn_relu_step_forward",
    "rnn_step_backward",
    "rnn_step_forward",
    "uniform_init",
]
