r"""``Recurrent(cell, ...)``: one time loop that runs any cell described by a :class:`~numrnn.reference.Cell`.

The layers, directions, dropout between layers, variable lengths (sorted longest
first, as PyTorch's ``pack_padded_sequence(..., enforce_sorted=False)``), ``hx``
and its gradient, unbatched input and the last-in-first-out caches are those of
:class:`~numrnn.nn.recurrent_base.RNNBase`; this file adds only what depends on the
cell: its parameters and the loop over time for one layer-direction, which calls
the cell's step pair.  At step ``t`` the first ``batch_sizes[t]`` rows (the rows
still inside their sequence) take a step; the others carry their state unchanged
and output zeros::

    state[:n], cache_t = step_forward(x_t[:n], state[:n], params)
    out_t = [state[0][:n]; 0]

and the backward visits the steps in the opposite order, the gradient reaching
each state being what its output received plus what the step after it sent back::

    dx_t[:n], dstate[:n], grads_t = step_backward(dstate[:n] + [dout_t[:n], 0, ...], cache_t)
    grads += grads_t

``Recurrent(numrnn.reference.lstm_cell, D, H, ...)`` computes what
``numrnn.LSTM(D, H, ...)`` computes (the same initial weights for the same seed),
through the readable reference instead of the fast kernels: a teaching and
prototyping tool, NumPy only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..reference.cell import Cell
from ..reference.masked import as_tuple, packed
from .module import Module, Parameter
from .options import ModuleOptions, module_options
from .recurrent_base import RNNBase, StackOptions

if TYPE_CHECKING:
    from typing import Unpack  # Python 3.11+; the annotations are never evaluated

__all__ = ["Recurrent"]


def _pad_rows(a, B):
    """``a`` (n, ...) followed by zero rows up to ``B`` rows."""
    if a.shape[0] == B:
        return a
    return np.concatenate([a, np.zeros((B - a.shape[0],) + a.shape[1:], a.dtype)])


class Recurrent(RNNBase):
    """Multi-layer, bidirectional recurrent layer over any cell, with ``numrnn.LSTM``'s interface.

    After ``cell`` the arguments are ``torch.nn.LSTM``'s; ``**options``: dtype, seed, rng,
    backend, device (:class:`~numrnn.nn.ModuleOptions`), where the backend can only be
    NumPy: the loop runs the NumPy reference cells.

    ``out, hn = m(x, hx=None, lengths=None)`` for a cell with one state (``("h",)``),
    ``out, (hn, cn) = m(x, (h0, c0), lengths)`` for two (``("h", "c")``), and so on;
    ``dx, dh0 = m.backward(dout, dhx=None)`` likewise.  Shapes as in ``numrnn.LSTM``:
    ``x`` ``(T, B, D)`` (``(B, T, D)`` with ``batch_first``, or unbatched ``(T, D)``),
    every state ``(num_layers * num_directions, B, hidden_size)``.  Parameters are named
    ``<weight name>_l{k}`` (``_reverse`` for the backward direction), as in PyTorch.

    Raises:
        TypeError: ``cell`` is not a :class:`numrnn.reference.Cell`, a size is not an
            integer, or ``dropout`` is not a number; and what ``**options`` can raise.
        ValueError: a size, ``dropout``, or a weight's shape or initial value is invalid,
            or a backend other than NumPy.
    """

    # PyTorch's signature, written in its rows, after the cell
    def __init__(
        self, cell: Cell, input_size: int, hidden_size: int, num_layers: int = 1,
        bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
        bidirectional: bool = False, **options: Unpack[ModuleOptions],
    ) -> None:  # fmt: skip
        Module.__init__(self)  # RNNBase.__init__ creates the three built-in cells' weights
        name = type(self).__name__
        if not isinstance(cell, Cell):
            raise TypeError(
                f"Recurrent: cell must be a numrnn.reference.Cell (e.g. numrnn.reference.lstm_cell); "
                f"got {type(cell).__name__}"
            )
        opts = module_options(name, options)
        if opts.backend != "numpy":
            raise ValueError(
                f"{name}: the loop runs the NumPy reference cells, so it needs backend='numpy'; "
                f"got backend={opts.backend!r}"
            )
        stack = StackOptions(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional
        )
        self._set_options(stack)
        self.cell, self.mode = cell, cell.name
        self.proj_size, self.output_size = 0, self.hidden_size
        self.nonlinearity, self.fused = None, False
        rng, dtype, H = opts.rng, opts.dtype, self.hidden_size
        for layer in range(self.num_layers):
            layer_in = self.input_size if layer == 0 else H * self.num_directions
            for d in range(self.num_directions):
                for w in self._weights():
                    shape = tuple(w.shape(layer_in, H))
                    value = np.asarray(w.init(rng, shape, H))
                    if value.shape != shape:
                        raise ValueError(
                            f"Recurrent: the init of weight {w.name!r} must return shape {shape}; "
                            f"got {value.shape}"
                        )
                    setattr(self, w.name + self._suffix(layer, d), Parameter(value.astype(dtype)))
        self._dropout_rng = np.random.default_rng(rng.integers(2**63))
        self.grad_flow = None

    def _weights(self):
        return [w for w in self.cell.weights if self.bias or not w.bias]

    def _layer_params(self, layer, direction):
        sfx = self._suffix(layer, direction)
        return {w.name: self._parameters[w.name + sfx].data for w in self._weights()}

    def _state_shapes(self, B):
        n = self.num_layers * self.num_directions
        return [(n, B, self.hidden_size) for _ in self.cell.states]

    def _check_states(self, hx, B, batched, what="hx"):
        if self._ops.name != "numpy":
            raise TypeError(
                f"Recurrent runs the NumPy reference cells; the module was moved to backend "
                f"{self._ops.name!r}: move it back with .to(backend='numpy')"
            )
        if hx is None:
            return [np.zeros(s, self.param_dtype) for s in self._state_shapes(B)]
        if (
            len(self.cell.states) > 1
            and isinstance(hx, (tuple, list))
            and len(hx) != len(self.cell.states)
        ):
            names = ", ".join(self.cell.states)
            raise ValueError(f"Recurrent: {what} must be a tuple ({names}); got {len(hx)} arrays")
        return super()._check_states(hx, B, batched, what)

    # -- the time loop of one layer-direction --------------------------------------
    def _run_forward(self, x, state, params, reverse, batch_sizes):
        """``x`` (T, B, D), ``state`` a list of (B, H) -> ``out`` (T, B, H), final states, cache."""
        T, B, _ = x.shape
        outs, caches = [None] * T, [None] * T
        steps = range(T - 1, -1, -1) if reverse else range(T)
        for t in steps:
            n = B if batch_sizes is None else batch_sizes[t]
            if n == 0:  # every row has ended: nothing to compute
                outs[t] = np.zeros((B, self.hidden_size), x.dtype)
                continue
            new, cache = self.cell.step_forward(x[t, :n], packed([s[:n] for s in state]), params)
            new = as_tuple(new)
            state = [np.concatenate([a, s[n:]]) for a, s in zip(new, state)]
            outs[t] = _pad_rows(new[0], B)
            caches[t] = (n, cache)
        return np.stack(outs), state, (caches, steps, x.shape)

    def _run_backward(self, dout, dstate, cache, record):
        """BPTT over one layer-direction: ``dout`` (T, B, H) -> ``dx``, initial-state grads, grads."""
        caches, steps, (T, B, D) = cache
        if dstate is None:
            dstate = [np.zeros((B, self.hidden_size), dout.dtype) for _ in self.cell.states]
        dxs, grads = [None] * T, {}
        for t in reversed(steps):
            if caches[t] is None:
                dxs[t] = np.zeros((B, D), dout.dtype)
                continue
            n, step_cache = caches[t]
            dtotal = [dstate[0][:n] + dout[t, :n]] + [d[:n] for d in dstate[1:]]
            if record is not None:
                for key, g in zip(self.cell.states, dtotal):
                    record.setdefault(key, np.zeros(T))[t] = float(np.sqrt(np.sum(g * g)))
            dx, dprev, g = self.cell.step_backward(packed(dtotal), step_cache)
            dstate = [np.concatenate([a, d[n:]]) for a, d in zip(as_tuple(dprev), dstate)]
            dxs[t] = _pad_rows(dx, B)
            grads = {k: grads[k] + v if k in grads else v for k, v in g.items()}
        return np.stack(dxs), dstate, grads

    def extra_repr(self):
        return f"{self.cell.name}, " + super().extra_repr()
