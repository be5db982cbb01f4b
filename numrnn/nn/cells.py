"""Single-step cells ``RNNCell``, ``LSTMCell``, ``GRUCell`` (PyTorch's ``nn.*Cell``).

A cell runs one time step with the step functions of :mod:`numrnn.kernels`;
calling it once per step and then ``backward`` once per step, in reverse order,
is BPTT written out by hand (the LIFO caches make that order the natural one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import kernels as K
from ..backend import Array
from .init import check_forget_bias, set_forget_bias
from .module import Module, backend_pass, uniform_parameter
from .options import ModuleOptions, module_options
from .validate import check_array, check_size, private

if TYPE_CHECKING:
    from typing import Unpack  # Python 3.11+; the annotations are never evaluated

__all__ = ["GRUCell", "LSTMCell", "RNNCell"]


class _CellBase(Module):
    gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        **options: Unpack[ModuleOptions],
    ) -> None:
        super().__init__()
        name = type(self).__name__
        opts = module_options(name, options)
        self.input_size = check_size(name, "input_size", input_size)
        self.hidden_size = check_size(name, "hidden_size", hidden_size)
        self.bias = bool(bias)
        G = self.gates * self.hidden_size
        shapes = [("weight_ih", (G, self.input_size)), ("weight_hh", (G, self.hidden_size))]
        if self.bias:
            shapes += [("bias_ih", (G,)), ("bias_hh", (G,))]
        for pname, shape in shapes:
            setattr(self, pname, uniform_parameter(opts.rng, self.hidden_size, shape, opts.dtype))
        self._init_backend(opts)

    def _weights(self):
        return (
            self.weight_ih.data,
            self.weight_hh.data,
            self.bias_ih.data if self.bias else None,
            self.bias_hh.data if self.bias else None,
        )

    def _accumulate(self, grads):
        for pname, g in grads.items():
            if g is not None:
                self._parameters[pname].grad += g

    def _check_input(self, x, states):
        """Validate ``x`` ``(B, D)`` or ``(D,)`` and the states; return batched arrays and the flag."""
        check_array(self, "x", x, ndim=(1, 2), last_dim=self.input_size)
        batched = x.ndim == 2
        B = x.shape[0] if batched else 1
        want = (B, self.hidden_size) if batched else (self.hidden_size,)
        names = ["hx"] if len(states) == 1 else ["hx[0]", "hx[1]"]
        out = []
        for name, s in zip(names, states):
            if s is None:
                s = self._ops.zeros((B, self.hidden_size), like=self.weight_hh.data)
            else:
                check_array(self, name, s, shape=want)
                s = private(self, s) if batched else private(self, s[None])
            out.append(s)
        x = private(self, x)  # the cache keeps x and the states: the caller's arrays stay theirs
        return (x if batched else x[None]), out, batched

    def _single_state_forward(self, x, hx, step_forward):
        """Forward of a cell whose state is one array (RNN, GRU)."""
        x, (h,), batched = self._check_input(x, [hx])
        h, cache = step_forward(x, h, *self._weights())
        self._push_cache((cache, batched, tuple(h.shape)))
        h = private(self, h)  # the cache holds h: hand out a copy
        return h if batched else h[0]

    def _single_state_backward(self, dh, step_backward):
        """Backward of a cell whose state is one array: returns ``(dx, dh_prev)``."""
        cache, batched, shape = self._pop_cache()
        try:
            check_array(self, "dh", dh, shape=shape if batched else shape[1:])
        except (TypeError, ValueError):
            self._push_cache((cache, batched, shape))  # a refused call leaves the cell as it was
            raise
        dx, dh_prev, grads = step_backward(dh if batched else dh[None], cache)
        self._accumulate(grads)
        return (dx, dh_prev) if batched else (dx[0], dh_prev[0])

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    r"""One Elman step :math:`h' = \phi(x W_{ih}^\top + b_{ih} + h W_{hh}^\top + b_{hh})`.

    ``h = cell(x, h=None)``; ``dx, dh_prev = cell.backward(dh)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        **options: Unpack[ModuleOptions],
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNNCell: nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}"
            )
        super().__init__(input_size, hidden_size, bias, **options)
        self.nonlinearity = nonlinearity

    @backend_pass
    def forward(self, x: Array, hx: Array | tuple | None = None) -> Array | tuple:
        return self._single_state_forward(
            x, hx, lambda x, h, *w: K.rnn_step_forward(x, h, *w, nonlinearity=self.nonlinearity)
        )

    @backend_pass
    def backward(self, dh: Array) -> tuple:
        return self._single_state_backward(dh, K.rnn_step_backward)


class LSTMCell(_CellBase):
    r"""One LSTM step (gates ``i, f, g, o``): ``h, c = cell(x, (h, c))``.

    ``dx, (dh_prev, dc_prev) = cell.backward((dh, dc))`` (``dc`` may be None).
    ``forget_bias=b`` sets the forget-gate bias to ``b`` (``bias_ih[H:2H] = b``,
    ``bias_hh[H:2H] = 0``; see :mod:`numrnn.nn.init`).
    """

    gates = 4

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        forget_bias: float | None = None,
        **options: Unpack[ModuleOptions],
    ) -> None:
        check_forget_bias("LSTMCell", forget_bias, bias)
        super().__init__(input_size, hidden_size, bias, **options)
        self.forget_bias = forget_bias
        if forget_bias is not None:
            set_forget_bias(self, forget_bias)

    @backend_pass
    def forward(self, x: Array, hx: Array | tuple | None = None) -> Array | tuple:
        """``h, c = cell(x, (h0, c0))``; ``hx`` None means zeros.

        Raises:
            TypeError: ``hx`` is neither None nor a tuple ``(h0, c0)`` (``cell(x, 5)``),
                or an array has the wrong backend or dtype.
            ValueError: a shape does not fit, or ``hx`` does not hold two items.
        """
        if hx is not None and not isinstance(hx, (tuple, list)):
            raise TypeError(
                f"LSTMCell: hx must be None or a tuple (h0, c0) of two arrays; "
                f"got {type(hx).__name__}"
            )
        states = [None, None] if hx is None else list(hx)
        if len(states) != 2:
            raise ValueError(f"LSTMCell: hx must be a tuple (h0, c0); got {len(states)} item(s)")
        x, (h, c), batched = self._check_input(x, states)
        h, c, cache = K.lstm_step_forward(x, h, c, *self._weights())
        self._push_cache((cache, batched, tuple(h.shape)))
        h, c = private(self, h), private(self, c)  # the cache holds c (and h's inputs)
        return (h, c) if batched else (h[0], c[0])

    @backend_pass
    def backward(self, dhx: tuple) -> tuple:
        cache, batched, shape = self._pop_cache()
        try:
            if not isinstance(dhx, (tuple, list)):
                raise TypeError(
                    "LSTMCell.backward: dhx must be a tuple (dh, dc) (dc may be None); "
                    f"got {type(dhx).__name__}"
                )
            if len(dhx) != 2:
                raise ValueError(
                    f"LSTMCell.backward: dhx must be a tuple (dh, dc); got {len(dhx)} item(s)"
                )
            dh, dc = dhx
            want = shape if batched else shape[1:]
            check_array(self, "dh", dh, shape=want)
            if dc is not None:
                check_array(self, "dc", dc, shape=want)
        except (TypeError, ValueError):
            self._push_cache((cache, batched, shape))
            raise
        if not batched:
            dh, dc = dh[None], (None if dc is None else dc[None])
        dx, dh_prev, dc_prev, grads = K.lstm_step_backward(dh, dc, cache)
        self._accumulate(grads)
        if not batched:
            return dx[0], (dh_prev[0], dc_prev[0])
        return dx, (dh_prev, dc_prev)


class GRUCell(_CellBase):
    r"""One GRU step (gates ``r, z, n``, ``b_hn`` inside the reset product): ``h = cell(x, h)``.

    ``dx, dh_prev = cell.backward(dh)``.  ``reset_after=False`` applies the reset
    gate before the product, :math:`n = \tanh(x W_{in}^\top + b_{in} + (r \odot h)
    W_{hn}^\top + b_{hn})` (Cho et al., 2014), as ``GRU(..., reset_after=False)``.

    Raises:
        TypeError: ``reset_after`` is not a bool.
    """

    gates = 3

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        reset_after: bool = True,
        **options: Unpack[ModuleOptions],
    ) -> None:
        if not isinstance(reset_after, (bool, np.bool_)):
            raise TypeError(f"GRUCell: reset_after must be True or False; got {reset_after!r}")
        super().__init__(input_size, hidden_size, bias, **options)
        self.reset_after = bool(reset_after)

    @backend_pass
    def forward(self, x: Array, hx: Array | tuple | None = None) -> Array | tuple:
        return self._single_state_forward(
            x, hx, lambda x, h, *w: K.gru_step_forward(x, h, *w, reset_after=self.reset_after)
        )

    def extra_repr(self):
        return super().extra_repr() + ("" if self.reset_after else ", reset_after=False")

    @backend_pass
    def backward(self, dh: Array) -> tuple:
        return self._single_state_backward(dh, K.gru_step_backward)
