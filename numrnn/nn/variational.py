r"""``VariationalRecurrent``: :class:`~numrnn.nn.Recurrent` with time-locked dropout masks.

In training mode every forward call draws, for each layer-direction, one input mask
:math:`m_x` ``(B, D_layer)`` and one state mask :math:`m_h` ``(B, H)`` (inverted dropout:
0 with probability ``p``, else :math:`1/(1-p)`), and the wrapped cell
(:func:`numrnn.reference.variational.variational_cell`) applies the same masks at every
time step, forward and backward.  In eval mode no mask is drawn and the module computes
exactly what ``Recurrent(cell, ...)`` computes with the same weights.

Why not the fast kernels: the input mask alone could be applied to ``x`` before the
kernels (it does not depend on ``t``), but the state mask sits inside the recurrence,
between ``h_{t-1}`` and ``W_hh``; putting it there would mean a third copy of each
cell's step.  This module therefore runs the reference loop of ``Recurrent`` (NumPy
only, about 2-5x slower than the fast modules; see the README's "Variants").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..reference.cell import Cell
from ..reference.variational import MASK_H, MASK_X, variational_cell
from .options import ModuleOptions
from .recurrent_generic import Recurrent

if TYPE_CHECKING:
    from typing import Unpack  # Python 3.11+; the annotations are never evaluated

__all__ = ["VariationalRecurrent"]


def _check_p(name, p):
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
        raise ValueError(f"VariationalRecurrent: {name} must be a number in [0, 1); got {p!r}")
    return float(p)


class VariationalRecurrent(Recurrent):
    r"""Any cell with variational (time-locked) dropout on its inputs and its recurrent state.

    ``VariationalRecurrent(cell, input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, *, input_dropout=0.0,
    hidden_dropout=0.0, **options)``, the arguments and ``**options`` of
    :class:`~numrnn.nn.Recurrent` with two more keywords.

    ``input_dropout`` :math:`p_x` masks each layer's input :math:`x_t`, ``hidden_dropout``
    :math:`p_h` the state :math:`h_{t-1}` the step reads (an LSTM's ``c`` is not masked),
    one mask per sequence reused at every step (Gal & Ghahramani 2016).  ``dropout`` is
    the ordinary between-layer dropout of ``numrnn.LSTM``.  Calls, shapes, parameter names
    and the initial weights for a given seed are those of ``Recurrent(cell, ...)``.

    Raises:
        ValueError: ``input_dropout`` or ``hidden_dropout`` is not in ``[0, 1)``; and what
            :class:`~numrnn.nn.Recurrent` raises.
    """

    def __init__(
        self,
        cell: Cell,
        *args: Any,
        input_dropout: float = 0.0,
        hidden_dropout: float = 0.0,
        **options: Unpack[ModuleOptions],
    ) -> None:
        p_x = _check_p("input_dropout", input_dropout)
        p_h = _check_p("hidden_dropout", hidden_dropout)
        super().__init__(variational_cell(cell), *args, **options)
        self.input_dropout, self.hidden_dropout = p_x, p_h

    def _mask(self, shape, p):
        """Inverted-dropout mask ``(B, n)``: 0 with probability ``p``, else ``1 / (1 - p)``."""
        keep = self._dropout_rng.random(shape) >= p
        return (keep / (1.0 - p)).astype(self.param_dtype)

    def _run_forward(self, x, state, params, reverse, batch_sizes):
        """Draw this layer-direction's two masks (training only), then run the loop."""
        if self.training:
            B = x.shape[1]
            params = dict(params)
            if self.input_dropout > 0:
                params[MASK_X] = self._mask((B, x.shape[2]), self.input_dropout)  # (B, D)
            if self.hidden_dropout > 0:
                params[MASK_H] = self._mask((B, self.hidden_size), self.hidden_dropout)  # (B, H)
        return super()._run_forward(x, state, params, reverse, batch_sizes)

    def extra_repr(self):
        s = super().extra_repr()
        for name in ("input_dropout", "hidden_dropout"):
            if getattr(self, name):
                s += f", {name}={getattr(self, name)}"
        return s
