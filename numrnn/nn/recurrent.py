"""``RNN``, ``LSTM`` and ``GRU``: the three built-in cells on :class:`RNNBase`'s machinery.

Each class names its gate count, its state shapes and the kernel pair of
:mod:`numrnn.kernels` that runs one layer-direction; the layers, directions,
dropout, variable lengths and caches are :mod:`numrnn.nn.recurrent_base`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import kernels as K
from . import lstm_variants as V
from .init import check_forget_bias, set_forget_bias
from .recurrent_base import RecurrentOptions, RNNBase, StackOptions

if TYPE_CHECKING:
    from typing import Unpack  # Python 3.11+; the annotations are never evaluated

__all__ = ["GRU", "LSTM", "RNN", "RNNBase"]


class RNN(RNNBase):
    r"""Elman RNN, :math:`h_t = \phi(x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh})`.

    The arguments are ``torch.nn.RNN``'s; ``**options``: dtype, seed, rng, backend, device
    (:class:`~numrnn.nn.ModuleOptions`) and ``fused`` (:class:`RecurrentOptions`).

    ``out, hn = rnn(x, hx=None, lengths=None)`` with ``x`` ``(T, B, D)`` (``(B, T, D)``
    with ``batch_first``, or unbatched ``(T, D)``) and ``hx`` ``(L * dirs, B, H)``;
    ``dx, dh0 = rnn.backward(dout, dhx=None)``.
    """

    mode, gates = "rnn", 1

    # PyTorch's signature, written in its rows
    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
        bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
        bidirectional: bool = False, **options: Unpack[RecurrentOptions],
    ) -> None:  # fmt: skip
        stack = StackOptions(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional
        )
        super().__init__(stack, nonlinearity=nonlinearity, **options)

    def _run_forward(self, x, state, params, reverse, batch_sizes):
        out, hn, cache = K.rnn_forward(
            x, state[0], params, self.nonlinearity, reverse=reverse, batch_sizes=batch_sizes
        )
        return out, [hn], cache

    def _run_backward(self, dout, dstate, cache, record):
        dx, dh0, grads = K.rnn_backward(dout, None if dstate is None else dstate[0], cache, record)
        return dx, [dh0], grads


class LSTM(RNNBase):
    r"""Long short-term memory, gates ``i, f, g, o`` as in PyTorch (see :mod:`numrnn.kernels.lstm`).

    The arguments up to ``proj_size`` are ``torch.nn.LSTM``'s; ``**options``: dtype, seed,
    rng, backend, device (:class:`~numrnn.nn.ModuleOptions`) and ``fused``
    (:class:`RecurrentOptions`).

    ``peephole=True`` / ``layer_norm=True``: the variants of :mod:`numrnn.nn.lstm_variants`
    (reference loop). ``forget_bias=b``: every forget-gate bias ``b`` (:mod:`numrnn.nn.init`).

    ``out, (hn, cn) = lstm(x, hx=None, lengths=None)`` with ``hx = (h0, c0)``;
    ``dx, (dh0, dc0) = lstm.backward(dout, dhx=None)`` with ``dhx = (dhn, dcn)``.
    With ``proj_size = P > 0``, ``h`` has size ``P`` and ``c`` keeps size ``H``.
    """

    mode, gates = "lstm", 4

    # PyTorch's signature, written in its rows, then numrnn's variants
    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
        batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
        proj_size: int = 0, forget_bias: float | None = None, peephole: bool = False,
        layer_norm: bool = False, **options: Unpack[RecurrentOptions],
    ) -> None:  # fmt: skip
        check_forget_bias(type(self).__name__, forget_bias, bias)
        cell = V.variant_cell(type(self).__name__, peephole, layer_norm, proj_size, options)
        stack = StackOptions(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional
        )
        super().__init__(stack, proj_size=proj_size, **options)
        self.cell = cell  # the reference cell of a variant; None: the fast kernels
        self.peephole, self.layer_norm = bool(peephole), bool(layer_norm)
        V.add_variant_parameters(self, cell, self.param_dtype)  # nothing for None
        self.forget_bias = forget_bias
        if forget_bias is not None:
            set_forget_bias(self, forget_bias)

    def _state_shapes(self, B):
        n = self.num_layers * self.num_directions
        return [(n, B, self.output_size), (n, B, self.hidden_size)]

    def _layer_params(self, layer, direction):
        if self.cell is not None:
            return V.variant_params(self, layer, direction)
        return super()._layer_params(layer, direction)

    def _run_forward(self, x, state, params, reverse, batch_sizes):
        if self.cell is not None:
            return V.variant_run(self, False, x, state, params, reverse, batch_sizes)
        out, (hn, cn), cache = K.lstm_forward(
            x, state[0], state[1], params, reverse=reverse, batch_sizes=batch_sizes
        )
        return out, [hn, cn], cache

    def _run_backward(self, dout, dstate, cache, record):
        if self.cell is not None:
            return V.variant_run(self, True, dout, dstate, cache, record)
        dh, dc = (None, None) if dstate is None else dstate
        dx, (dh0, dc0), grads = K.lstm_backward(dout, dh, dc, cache, record)
        return dx, [dh0, dc0], grads

    def extra_repr(self):
        return super().extra_repr() + V.variant_repr(self)


class GRU(RNNBase):
    r"""Gated recurrent unit, gates ``r, z, n`` with ``b_hn`` inside the reset product (PyTorch's).

    The arguments up to ``bidirectional`` are ``torch.nn.GRU``'s; ``**options``: dtype, seed,
    rng, backend, device (:class:`~numrnn.nn.ModuleOptions`) and ``fused``
    (:class:`RecurrentOptions`).

    ``out, hn = gru(x, hx=None, lengths=None)``; ``dx, dh0 = gru.backward(dout, dhx=None)``.

    ``reset_after=True`` (PyTorch's GRU): :math:`n = \tanh(x W_{in}^\top + b_{in} + r \odot
    (h W_{hn}^\top + b_{hn}))`.  ``reset_after=False`` (Cho et al., 2014; Keras's
    ``reset_after=False``): :math:`n = \tanh(x W_{in}^\top + b_{in} + (r \odot h) W_{hn}^\top
    + b_{hn})`.  Same parameters and names; see :mod:`numrnn.kernels.gru_reset_before`.

    Raises:
        TypeError: ``reset_after`` is not a bool.
    """

    mode, gates = "gru", 3

    # PyTorch's signature, written in its rows, then numrnn's variant
    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
        batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
        reset_after: bool = True, **options: Unpack[RecurrentOptions],
    ) -> None:  # fmt: skip
        if not isinstance(reset_after, (bool, np.bool_)):
            raise TypeError(f"GRU: reset_after must be True or False; got {reset_after!r}")
        stack = StackOptions(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional
        )
        super().__init__(stack, **options)
        self.reset_after = bool(reset_after)

    def _run_forward(self, x, state, params, reverse, batch_sizes):
        out, hn, cache = K.gru_forward(
            x, state[0], params, self.reset_after, reverse=reverse, batch_sizes=batch_sizes
        )
        return out, [hn], cache

    def extra_repr(self):
        return super().extra_repr() + ("" if self.reset_after else ", reset_after=False")

    def _run_backward(self, dout, dstate, cache, record):
        dx, dh0, grads = K.gru_backward(dout, None if dstate is None else dstate[0], cache, record)
        return dx, [dh0], grads
