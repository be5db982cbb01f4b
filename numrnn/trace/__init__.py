r"""Step-by-step traces of a small RNN, LSTM or GRU, for checking BPTT by hand.

A trace runs one sequence (batch of one, float64) through the step pairs of
:mod:`numrnn.reference` (the textbook layer) and keeps every number a student would write down:
per time step the pre-activations, the gates, the cell and hidden states; the
loss; and, walking back through time, the gradient reaching each hidden state
(split into what the loss sends directly and what step ``t+1`` sends back), the
chain-rule factors of the step, the gate pre-activation gradients, the gradient
of the cell state (LSTM), what is sent on to ``t-1``, and every parameter
gradient, both per step and summed.

Time steps are counted from 1, as in textbooks: :math:`h_0` is the initial state
and step ``t`` reads :math:`x_t` and :math:`h_{t-1}`.  Two losses are offered,
chosen so that :math:`\partial L/\partial h_t` is easy to write down:

.. math::

    L_{\text{sum}} = \sum_{t=1}^{T} \sum_j h_{t,j}
        \quad (\partial L/\partial h_t = 1 \text{ from the loss at every step}), \qquad
    L_{\text{last}} = \sum_j h_{T,j}

From Python::

    from numrnn.trace import format_trace, trace
    tr = trace("lstm", [1, 2, 3])          # default weights, printed by format_trace
    tr.forward[0]["c"], tr.backward[0]["dc"], tr.grads["weight_hh"]
    print(format_trace(tr, precision=4))

From the shell::

    numrnn trace lstm --inputs 1,2,3 --hidden-size 1 --precision 4
    python -m numrnn.trace gru --weights my_weights.json --loss last
    python -m numrnn.trace rnn --inputs 1,2,3,4 --truncate 2   # truncated BPTT, K = 2

Beside every parameter gradient the trace prints its central difference in float64
and their relative error (:mod:`numrnn.trace.fd`; ``--no-check`` leaves them out).
``--truncate K`` runs chunked truncated BPTT: the gradient carried back from step
``t+1`` is cut at the end of every chunk of ``K`` steps; the trace shows the values
cut, the full gradient next to the truncated one, and checks the truncated one
against the objective it is exact for (each chunk from its incoming state held fixed).

The weights JSON holds PyTorch's names (``weight_ih``, ``weight_hh`` and,
optionally, ``bias_ih`` and ``bias_hh``; a ``_l0`` suffix is accepted so a saved
``state_dict`` works) as nested lists, plus optional ``h0``, ``c0`` (LSTM) and
``nonlinearity`` (RNN).  Without biases the layer has none (``bias=False``).
Every trace prints its weights in that format, ready to be edited.

Files: ``run.py`` computes a trace and holds the command line; ``checks.py`` checks
its arguments; ``fd.py`` the finite-difference column; ``rows.py`` the tables' rows and
their formulas; ``tables.py`` the :class:`Trace` record and its printed tables.
"""

from . import checks, fd, run, tables
from .run import KINDS, LOSSES, default_weights, main, trace
from .tables import Trace, format_trace

__all__ = [
    "KINDS",
    "LOSSES",
    "Trace",
    "checks",
    "default_weights",
    "fd",
    "format_trace",
    "main",
    "run",
    "tables",
    "trace",
]
