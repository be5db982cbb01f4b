"""Plain descriptions of a recurrent cell, for :class:`numrnn.nn.Recurrent`.

A :class:`Cell` says what one time step needs and does:

* ``weights``: the parameters of one layer-direction, each a :class:`Weight` with its
  single-layer name (``weight_ih``; the module adds ``_l0``, ``_reverse``), its shape as a
  function of ``(input_size, hidden_size)``, whether it is a bias (dropped with
  ``bias=False``) and its initialisation;
* ``states``: the names of the carried states, ``("h",)`` or ``("h", "c")``; each has
  ``hidden_size`` features and the first is the step's output;
* the step pair.  With one state, the state is passed and returned as an array;
  with several, as a tuple in the order of ``states``::

      new_state, cache = step_forward(x, state, params)     # x (B, D), params a dict
      dx, dstate_prev, grads = step_backward(dstate, cache) # grads: the keys of params

  ``dstate`` is the total gradient reaching the new state (the output's and the next
  step's); ``grads`` is this step's contribution to each parameter's gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .gru import gru_step_backward, gru_step_forward
from .lstm import lstm_step_backward, lstm_step_forward
from .rnn import rnn_relu_step_forward, rnn_step_backward, rnn_step_forward

__all__ = ["Cell", "Weight", "gru_cell", "lstm_cell", "rnn_cell", "rnn_relu_cell", "uniform_init"]


def uniform_init(rng, shape, hidden_size):
    """PyTorch's initialisation of recurrent layers: uniform in ``[-1/sqrt(H), 1/sqrt(H)]``."""
    k = 1.0 / math.sqrt(hidden_size)
    return rng.uniform(-k, k, shape)


@dataclass(frozen=True)
class Weight:
    """One parameter of a cell: ``shape(input_size, hidden_size)`` and ``init(rng, shape, H)``."""

    name: str
    shape: Callable[[int, int], tuple]
    bias: bool = False
    init: Callable = uniform_init


@dataclass(frozen=True)
class Cell:
    """A recurrent cell: its weights, its state names and its step pair (see the module doc)."""

    name: str
    weights: tuple
    states: tuple
    step_forward: Callable
    step_backward: Callable


def gated_weights(gates):
    """``weight_ih (G, D)``, ``weight_hh (G, H)``, ``bias_ih``, ``bias_hh`` ``(G,)``, G = gates * H."""
    return (
        Weight("weight_ih", lambda D, H: (gates * H, D)),
        Weight("weight_hh", lambda D, H: (gates * H, H)),
        Weight("bias_ih", lambda D, H: (gates * H,), bias=True),
        Weight("bias_hh", lambda D, H: (gates * H,), bias=True),
    )


rnn_cell = Cell("rnn_tanh", gated_weights(1), ("h",), rnn_step_forward, rnn_step_backward)
rnn_relu_cell = Cell("rnn_relu", gated_weights(1), ("h",), rnn_relu_step_forward, rnn_step_backward)
lstm_cell = Cell("lstm", gated_weights(4), ("h", "c"), lstm_step_forward, lstm_step_backward)
gru_cell = Cell("gru", gated_weights(3), ("h",), gru_step_forward, gru_step_backward)
