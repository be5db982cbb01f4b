r"""Variational (time-locked) dropout as a cell wrapper (Gal & Ghahramani 2016).

Ordinary dropout draws a new mask at every step; variational dropout draws one mask
per sequence (per row of the batch) and reuses it at every step, for the step's input
and for the recurrent state it reads.  With masks :math:`m_x \in \{0, \frac{1}{1-p_x}\}^{B \times D}`
and :math:`m_h \in \{0, \frac{1}{1-p_h}\}^{B \times H}` fixed for the whole sequence::

    x~_t      = m_x * x_t
    h~_{t-1}  = m_h * h_{t-1}
    state_t   = cell_step(x~_t, (h~_{t-1}, c_{t-1}, ...))   # the wrapped cell, unchanged

and the backward is the same masking applied to the wrapped step's input gradients::

    dx_t      = m_x * dx~_t
    dh_{t-1}  = m_h * dh~_{t-1}       (dc_{t-1} and other states pass unchanged)

Only the first state (``h``) is masked; an LSTM's cell state ``c`` is not (Gal &
Ghahramani drop the inputs of the weight matrices, and ``c`` meets no weight).  For
the LSTM this is exactly their formulation: ``h_{t-1}`` enters the step only through
``W_hh``.  For a GRU the wrapped step also reads ``h_{t-1}`` in the interpolation
``z * h_{t-1}``, which therefore sees the masked state too: the wrapper drops whole
units of the state the step reads, a slightly stronger regulariser than dropping
only the input of ``W_hh`` (which would need a change inside the GRU step).

The masks travel in the step's ``params`` under ``"dropout_mask_x"`` and
``"dropout_mask_h"`` (:class:`numrnn.nn.VariationalRecurrent` puts them there, one
pair per layer-direction and forward call); without them the wrapper is the
wrapped cell.  At a step where only the first ``n`` rows are active (variable lengths,
rows sorted longest first) the first ``n`` rows of each mask apply.
"""

from __future__ import annotations

from .cell import Cell

__all__ = ["MASK_H", "MASK_X", "variational_cell"]

MASK_X, MASK_H = "dropout_mask_x", "dropout_mask_h"


def _split(params):
    """The wrapped cell's parameters and the two masks (None when absent)."""
    inner = {k: v for k, v in params.items() if k not in (MASK_X, MASK_H)}
    return inner, params.get(MASK_X), params.get(MASK_H)


def variational_cell(cell):
    """A :class:`~numrnn.reference.Cell` that applies time-locked masks around ``cell``'s step.

    Same weights and states as ``cell``; its step pair is described in the module doc.

    Raises:
        TypeError: ``cell`` is not a :class:`~numrnn.reference.Cell`.
    """
    if not isinstance(cell, Cell):
        raise TypeError(f"variational_cell: cell must be a numrnn.reference.Cell; got {cell!r}")
    several = len(cell.states) > 1

    def step_forward(x, state, params):
        inner, m_x, m_h = _split(params)
        n = x.shape[0]  # active rows
        if m_x is not None:
            x = x * m_x[:n]  # (n, D)
        if m_h is not None:
            state = (state[0] * m_h[:n], *state[1:]) if several else state * m_h[:n]
        new, cache = cell.step_forward(x, state, inner)
        return new, (cache, m_x, m_h, n)

    def step_backward(dstate, cache):
        inner_cache, m_x, m_h, n = cache
        dx, dprev, grads = cell.step_backward(dstate, inner_cache)
        if m_x is not None:
            dx = dx * m_x[:n]
        if m_h is not None:
            dprev = (dprev[0] * m_h[:n], *dprev[1:]) if several else dprev * m_h[:n]
        return dx, dprev, grads

    return Cell(f"variational_{cell.name}", cell.weights, cell.states, step_forward, step_backward)
