r"""The finite-difference column of a trace: the loss it differentiates, numerically.

:mod:`numrnn.trace` backpropagates a scalar loss with the reference's step pairs;
this file evaluates the same scalar with the reference's *forward* steps only and
differentiates it by central differences, one parameter entry at a time, so the
trace can print analytic and numeric gradients side by side.

The objective.  The sequence is cut into chunks of ``K`` steps (``K >= T``: one
chunk, the whole sequence), as chunked truncated BPTT (what
:func:`numrnn.training.tbptt_train` runs) cuts it.  A chunk starts from the state
the forward pass *at the current weights* reached there, held constant (in
PyTorch, ``h.detach()``):

.. math::

    L_K(\theta) = \sum_{\text{chunks } [s, e]} \sum_{t=s}^{e}
        \ell_t\big(h_t(\theta;\, \bar h_{s-1}, \bar c_{s-1})\big),
    \qquad \ell_t = \sum_j h_{t,j} \text{ (loss "sum")}, \quad
    \ell_t = [t = T] \sum_j h_{T,j} \text{ (loss "last")}.

Without a cut it is the loss :math:`L` itself; with cuts, the truncated gradient
is the exact gradient of :math:`L_K`, not of :math:`L` (moving a weight moves the
incoming states too, and that is what truncation ignores).

The difference quotient.  For entry :math:`\theta_j`,
:math:`n_j = (L_K(\theta + \varepsilon e_j) - L_K(\theta - \varepsilon e_j)) / (h_+ + h_-)`
with :math:`h_\pm` the steps actually taken in float64 (``(w + eps) - w`` and
``w - (w - eps)``).  :data:`EPS` = 1e-5 balances the two errors of a central
difference in float64: truncation :math:`\varepsilon^2 |L'''| / 6` (about 2e-11 for
the O(1) third derivatives of these small layers) against rounding
:math:`u S / \varepsilon` (:math:`u = 2^{-52}`, :math:`S = \sum |\ell_t|` the size
of the loss's terms; about 2e-11 S).  Both are near 1e-10 relative for the O(1)
gradients of a trace, so a correct gradient agrees to about 1e-10 (1e-8 for an
entry of 1e-3, whose difference is then at the rounding noise), and any wrong term
(a missing factor or gate, O(1e-2) and more) stands out by a factor of a million.
"""

from __future__ import annotations

import numpy as np

from . import reference as R

__all__ = ["EPS", "numeric_gradients", "objective", "rounding_noise"]

EPS = 1e-5
_U = float(np.finfo(np.float64).eps)  # u = 2**-52


def objective(kind, inputs, weights, starts, loss, nonlinearity="tanh", *, terms=False):
    r""":math:`L_K(\theta)`: the chunks' losses, each chunk run from its frozen start state.

    Args:
        kind: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        inputs: ``(T, D)`` float64.
        weights: name -> array in PyTorch's layout (as :func:`numrnn.trace.trace` holds them).
        starts: list of ``(s, h, c)``: a chunk begins at step index ``s`` (0-based,
            increasing, the first 0) from state ``h`` ``(H,)`` and ``c`` ``(H,)`` (LSTM)
            or None; a chunk ends where the next begins.
        loss: ``"sum"`` or ``"last"``.
        nonlinearity: the RNN's ``"tanh"`` or ``"relu"``.
        terms: return :math:`S = \sum_t |\ell_t|` as well.

    Returns:
        :math:`L_K` as a float (and :math:`S` when ``terms``).
    """
    T = inputs.shape[0]
    bounds = [s for s, _, _ in starts] + [T]
    total, size = 0.0, 0.0
    for (s, h, c), e in zip(starts, bounds[1:]):
        h = np.asarray(h, dtype=np.float64)[None]  # (1, H): a batch of one row
        c = None if c is None else np.asarray(c, dtype=np.float64)[None]
        for t in range(s, e):
            xt = inputs[t][None]
            if kind == "rnn":
                h, _ = R.rnn_step_forward(xt, h, weights, nonlinearity)
            elif kind == "lstm":
                (h, c), _ = R.lstm_step_forward(xt, (h, c), weights)
            else:
                h, _ = R.gru_step_forward(xt, h, weights)
            if loss == "sum" or t == T - 1:
                term = float(h.sum())
                total += term
                size += float(np.abs(h).sum())
    return (total, size) if terms else total


def numeric_gradients(kind, inputs, weights, starts, loss, nonlinearity="tanh", eps=EPS):
    r"""Central differences of :func:`objective` for every entry of every parameter.

    Each entry of ``weights`` is moved by ``+eps`` and ``-eps`` in a copy (the
    caller's arrays are not touched) and the quotient is taken over the steps
    actually taken (module docstring).  ``2 * (number of entries)`` forward passes.

    Returns:
        name -> array of the parameter's shape (float64).
    """
    out = {}
    for name, value in weights.items():
        grad = np.zeros_like(value)
        for idx in np.ndindex(*value.shape):
            w0 = value[idx]
            up, down = w0 + eps, w0 - eps
            values = []
            for w in (up, down):
                moved = {k: v.copy() for k, v in weights.items()}
                moved[name][idx] = w
                values.append(objective(kind, inputs, moved, starts, loss, nonlinearity))
            grad[idx] = (values[0] - values[1]) / ((up - w0) + (w0 - down))
        out[name] = grad
    return out


def rounding_noise(size, eps=EPS):
    r"""The rounding noise of a central difference, :math:`u S / \varepsilon`.

    ``size`` is :math:`S = \sum_t |\ell_t|`; a loss summed from terms of that size
    is off by a few :math:`u S`, and the quotient divides that by
    :math:`2\varepsilon`.  Entries below this level cannot be checked.
    """
    return _U * size / eps
