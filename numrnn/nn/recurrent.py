"""Multi-layer, bidirectional ``RNN``, ``LSTM`` and ``GRU`` modules with PyTorch's interface.

Each module stacks the one-layer-direction functions of :mod:`numrnn.kernels`:
layer ``l`` reads the (concatenated, for bidirectional) outputs of layer ``l-1``,
with dropout between layers in training mode.  ``backward`` runs the layers in
reverse, adds the two directions' input gradients, and accumulates every
parameter gradient into ``.grad``.

Variable-length batches (``lengths=``) are sorted longest first, as PyTorch's
``pack_padded_sequence(..., enforce_sorted=False)`` does, run with per-step
active-row counts, and put back in the caller's order.  The output keeps the
input's length ``T`` (zeros past each row's length), which is what
``pad_packed_sequence(..., total_length=T)`` returns.
"""

from __future__ import annotations

import math

import numpy as np

from .. import kernels as K
from ..backend import Array
from ..functional.dropout import dropout_mask
from . import lstm_variants as V
from .init import check_forget_bias, set_forget_bias
from .module import Module, Parameter, backend_pass, check_dtype, make_rng
from .validate import check_array, check_lengths, check_probability, check_size, private, shape_str

__all__ = ["GRU", "LSTM", "RNN", "RNNBase"]


def _stack(xp, arrays):
    """Stack per-layer-direction states along a new first axis (a view for a single one)."""
    return arrays[0][None] if len(arrays) == 1 else xp.stack(arrays, axis=0)


class RNNBase(Module):
    """Shared machinery of ``RNN``, ``LSTM`` and ``GRU`` (not used directly)."""

    mode = None  # "rnn", "lstm" or "gru"
    gates = 1  # gate blocks stacked in weight_ih / weight_hh

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        proj_size=0,
        nonlinearity="tanh",
        *,
        dtype=np.float32,
        seed=None,
        rng=None,
        backend="numpy",
        device=None,
        fused=False,
    ):
        super().__init__()
        name = type(self).__name__
        input_size = check_size(name, "input_size", input_size)
        hidden_size = check_size(name, "hidden_size", hidden_size)
        num_layers = check_size(name, "num_layers", num_layers)
        proj_size = check_size(name, "proj_size", proj_size, low=0)
        dropout = check_probability(name, "dropout", dropout)
        if proj_size and self.mode != "lstm":
            raise ValueError(
                f"{name}: proj_size is supported by LSTM only; got proj_size={proj_size}"
            )
        if proj_size >= hidden_size:
            raise ValueError(
                f"{name}: proj_size must be smaller than hidden_size ({hidden_size}); got {proj_size}"
            )
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"{name}: nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.proj_size = int(num_layers), int(proj_size)
        self.bias, self.batch_first, self.bidirectional = (
            bool(bias),
            bool(batch_first),
            bool(bidirectional),
        )
        self.dropout, self.nonlinearity = float(dropout), nonlinearity
        self.num_directions = 2 if bidirectional else 1
        self.output_size = (
            self.proj_size or self.hidden_size
        )  # size of h (and of each direction's output)
        dtype = check_dtype(dtype)
        rng = make_rng(seed, rng)
        k = 1.0 / math.sqrt(self.hidden_size)
        G, H, P = self.gates * self.hidden_size, self.hidden_size, self.output_size
        for layer in range(self.num_layers):
            layer_in = self.input_size if layer == 0 else P * self.num_directions
            for d in range(self.num_directions):
                sfx = self._suffix(layer, d)
                shapes = [("weight_ih", (G, layer_in)), ("weight_hh", (G, P))]
                if self.bias:
                    shapes += [("bias_ih", (G,)), ("bias_hh", (G,))]
                if self.proj_size:
                    shapes += [("weight_hr", (P, H))]
                for pname, shape in shapes:
                    setattr(self, pname + sfx, Parameter(rng.uniform(-k, k, shape).astype(dtype)))
        self._dropout_rng = np.random.default_rng(rng.integers(2**63))
        self.grad_flow = None  # filled by backward(..., record=True)
        if fused and backend != "torch":
            raise ValueError(
                f"{name}: fused=True compiles the kernels with torch.compile and needs "
                f"backend='torch'; got backend={backend!r}"
            )
        self.fused = bool(fused)  # torch backend: pointwise kernels compiled (TorchOps.fused)
        self._init_backend(backend, device)

    @staticmethod
    def _suffix(layer, direction):
        return f"_l{layer}" + ("_reverse" if direction else "")

    def _layer_params(self, layer, direction):
        """The parameters of one layer-direction as the functional layer's keyword arguments."""
        sfx = self._suffix(layer, direction)
        get = lambda n: self._parameters.get(n + sfx)  # noqa: E731
        kw = {
            "weight_ih": get("weight_ih").data,
            "weight_hh": get("weight_hh").data,
            "bias_ih": get("bias_ih").data if self.bias else None,
            "bias_hh": get("bias_hh").data if self.bias else None,
        }
        if self.proj_size:
            kw["weight_hr"] = get("weight_hr").data
        return kw

    def _accumulate(self, layer, direction, grads):
        sfx = self._suffix(layer, direction)
        for pname, g in grads.items():
            if g is not None:
                self._parameters[pname + sfx].grad += g

    # -- the per-direction functional calls, specialised by the subclasses --------
    def _run_forward(self, x, state, params, reverse, batch_sizes):
        raise NotImplementedError

    def _run_backward(self, dout, dstate, cache, record):
        raise NotImplementedError

    def _state_shapes(self, B):
        """Shapes of the initial state(s), batched: one per state tensor."""
        n = self.num_layers * self.num_directions
        return [(n, B, self.output_size)]

    # -- validation ---------------------------------------------------------------
    def _check_states(self, hx, B, batched, what="hx"):
        """Return the state tensors as a list of batched ``(L*D, B, H)`` arrays (zeros if None)."""
        shapes = self._state_shapes(B)
        xp = self._ops
        if hx is None:
            like = xp.zeros((1,), like=self._parameters["weight_ih_l0"].data)
            return [xp.zeros(s, like=like) for s in shapes]
        if len(shapes) > 1:
            pair = "(h0, c0)" if what == "hx" else "(dhn, dcn)"
            if not isinstance(hx, (tuple, list)):
                raise TypeError(
                    f"{type(self).__name__}: {what} must be None or a tuple {pair} of two "
                    f"arrays; got {type(hx).__name__}"
                )
            if len(hx) != len(shapes):
                raise ValueError(
                    f"{type(self).__name__}: {what} must be a tuple {pair} of two arrays; "
                    f"got {len(hx)} item(s)"
                )
        parts = list(hx) if len(shapes) > 1 else [hx]
        out = []
        for k, (part, shape) in enumerate(zip(parts, shapes)):
            label = what if len(shapes) == 1 else f"{what}[{k}]"
            want = shape if batched else (shape[0], shape[2])
            check_array(self, label, part, shape=want)
            out.append(private(self, part) if batched else private(self, part[:, None]))
        return out

    def _index(self, idx):
        return idx if self._ops.name == "numpy" else self._ops.asarray(idx)

    # -- forward ------------------------------------------------------------------
    @backend_pass
    def forward(
        self, x: Array, hx: Array | tuple | None = None, lengths=None
    ) -> tuple[Array, Array | tuple]:
        """Run the stacked layers over ``x``; see the class docstring for shapes."""
        check_array(self, "x", x, ndim=(2, 3), last_dim=self.input_size)
        batched = x.ndim == 3
        if not batched:
            x = x[:, None]  # (T, 1, D)
        elif self.batch_first:
            x = x.swapaxes(0, 1)  # (T, B, D)
        T, B = x.shape[0], x.shape[1]
        if T < 1 or B < 1:
            raise ValueError(
                f"{type(self).__name__}: x must have at least one step and one row; "
                f"got shape {shape_str(x.shape)}"
            )
        states = self._check_states(hx, B, batched)
        lengths = check_lengths(self, lengths, T, B, batched)
        xp = self._ops
        x = private(self, x)  # the cache keeps x: the caller's array stays theirs
        order = batch_sizes = None
        if lengths is not None:
            order = np.argsort(-lengths, kind="stable")  # longest first, like PackedSequence
            batch_sizes = [int((lengths > t).sum()) for t in range(T)]
            idx = self._index(order)
            x = x[:, idx]
            states = [s[:, idx] for s in states]
        inp, layer_caches, finals = x, [], [[] for _ in states]
        for layer in range(self.num_layers):
            outs, caches = [], []
            for d in range(self.num_directions):
                j = layer * self.num_directions + d
                out, final, cache = self._run_forward(
                    inp, [s[j] for s in states], self._layer_params(layer, d), d == 1, batch_sizes
                )
                outs.append(out)
                caches.append(cache)
                for k, f in enumerate(final):
                    finals[k].append(f)
            inp = outs[0] if len(outs) == 1 else xp.concatenate(outs, axis=-1)  # (T, B, D*P)
            mask = None
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                mask = self._dropout_mask(inp.shape)
                inp = inp * mask
            layer_caches.append((caches, mask))
        out = inp
        finals = [_stack(xp, f) for f in finals]  # each (L*D, B, H)
        if order is not None:
            inv = self._index(np.argsort(order))
            out = out[:, inv]
            finals = [f[:, inv] for f in finals]
        self._push_cache((layer_caches, order, batch_sizes, batched, tuple(out.shape)))
        # out (and, with one layer-direction, hn) may be the kernels' cached arrays: hand out copies
        out, finals = private(self, out), [private(self, f) for f in finals]
        if not batched:
            out, finals = out[:, 0], [f[:, 0] for f in finals]
        elif self.batch_first:
            out = out.swapaxes(0, 1)
        return out, (finals[0] if len(finals) == 1 else tuple(finals))

    def _dropout_mask(self, shape):
        """Inverted-dropout mask: 0 with probability p, else 1/(1-p); reused by backward."""
        mask = dropout_mask(self._dropout_rng, shape, self.dropout, self.param_dtype)
        return self._ops.asarray(mask)

    # -- backward -----------------------------------------------------------------
    @backend_pass
    def backward(
        self, dout: Array, dhx: Array | tuple | None = None, record: bool = False
    ) -> tuple[Array, Array | tuple]:
        """BPTT through every layer; returns ``(dx, dh0)`` (LSTM: ``(dx, (dh0, dc0))``).

        ``dout`` has the shape of the forward's output; ``dhx`` that of its final
        state(s) or None.  Parameter gradients are added to ``.grad``.

        With ``record=True`` the norm of the gradient reaching every hidden state
        :math:`h_t` (and cell state :math:`c_t` for the LSTM) is kept in
        ``self.grad_flow``: a dict ``{"h": (num_layers, num_directions, T), "c": ...}``
        of NumPy arrays, time in the input's order.  :func:`numrnn.study.plot_grad_flow`
        draws it.  Off, recording costs nothing.
        """
        cache = self._pop_cache()
        layer_caches, order, batch_sizes, batched, tm_shape = cache
        try:
            out_shape = tm_shape
            if not batched:
                out_shape = (tm_shape[0], tm_shape[2])
            elif self.batch_first:
                out_shape = (tm_shape[1], tm_shape[0], tm_shape[2])
            check_array(self, "dout", dout, shape=out_shape)
            dstates = (
                None if dhx is None else self._check_states(dhx, tm_shape[1], batched, what="dhx")
            )
        except (TypeError, ValueError):
            self._push_cache(cache)  # a refused call leaves the module as it was
            raise
        xp = self._ops
        if not batched:
            dout = dout[:, None]
        elif self.batch_first:
            dout = dout.swapaxes(0, 1)
        if order is not None:
            idx = self._index(order)
            dout = dout[:, idx]
            dstates = None if dstates is None else [s[:, idx] for s in dstates]
        P = self.output_size
        records = [[{} for _ in range(self.num_directions)] for _ in range(self.num_layers)]
        dinit = [[None] * (self.num_layers * self.num_directions) for _ in self._state_shapes(1)]
        for layer in reversed(range(self.num_layers)):
            caches, mask = layer_caches[layer]
            if mask is not None:
                dout = dout * mask
            dinp = None
            for d in range(self.num_directions):
                j = layer * self.num_directions + d
                dout_d = dout if self.num_directions == 1 else dout[..., d * P : (d + 1) * P]
                dfinal = None if dstates is None else [s[j] for s in dstates]
                rec = records[layer][d] if record else None
                dx_d, dstate0, grads = self._run_backward(dout_d, dfinal, caches[d], rec)
                self._accumulate(layer, d, grads)
                for k, ds in enumerate(dstate0):
                    dinit[k][j] = ds
                dinp = dx_d if dinp is None else dinp + dx_d
            dout = dinp
        dx = dout
        if record:
            self.grad_flow = {
                key: np.array([[r[key] for r in layer] for layer in records])
                for key in records[0][0]
            }
        dinit = [_stack(xp, ds) for ds in dinit]  # (L*D, B, H)
        if order is not None:
            inv = self._index(np.argsort(order))
            dx = dx[:, inv]
            dinit = [ds[:, inv] for ds in dinit]
        if not batched:
            dx, dinit = dx[:, 0], [ds[:, 0] for ds in dinit]
        elif self.batch_first:
            dx = dx.swapaxes(0, 1)
        return dx, (dinit[0] if len(dinit) == 1 else tuple(dinit))

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "rnn" and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        for flag, default in (("bias", True), ("batch_first", False), ("bidirectional", False)):
            if getattr(self, flag) != default:
                s += f", {flag}={getattr(self, flag)}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        return s


class RNN(RNNBase):
    r"""Elman RNN, :math:`h_t = \phi(x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh})`.

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, *, dtype=np.float32,
    seed=None, rng=None, backend="numpy", device=None)``

    ``out, hn = rnn(x, hx=None, lengths=None)`` with ``x`` ``(T, B, D)`` (``(B, T, D)``
    with ``batch_first``, or unbatched ``(T, D)``) and ``hx`` ``(L * dirs, B, H)``;
    ``dx, dh0 = rnn.backward(dout, dhx=None)``.
    """

    mode, gates = "rnn", 1

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        nonlinearity="tanh",
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        **kwargs,
    ):
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            nonlinearity=nonlinearity,
            **kwargs,
        )

    def _run_forward(self, x, state, params, reverse, batch_sizes):
        out, hn, cache = K.rnn_forward(
            x,
            state[0],
            nonlinearity=self.nonlinearity,
            reverse=reverse,
            batch_sizes=batch_sizes,
            **params,
        )
        return out, [hn], cache

    def _run_backward(self, dout, dstate, cache, record):
        dx, dh0, grads = K.rnn_backward(dout, None if dstate is None else dstate[0], cache, record)
        return dx, [dh0], grads


class LSTM(RNNBase):
    r"""Long short-term memory, gates ``i, f, g, o`` as in PyTorch (see :mod:`numrnn.kernels.lstm`).

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, proj_size=0, forget_bias=None, peephole=False,
    layer_norm=False, *, dtype, seed, rng, backend, device)``

    ``peephole=True`` / ``layer_norm=True``: the variants of :mod:`numrnn.nn.lstm_variants`
    (reference loop). ``forget_bias=b``: every forget-gate bias ``b`` (:mod:`numrnn.nn.init`).

    ``out, (hn, cn) = lstm(x, hx=None, lengths=None)`` with ``hx = (h0, c0)``;
    ``dx, (dh0, dc0) = lstm.backward(dout, dhx=None)`` with ``dhx = (dhn, dcn)``.
    With ``proj_size = P > 0``, ``h`` has size ``P`` and ``c`` keeps size ``H``.
    """

    mode, gates = "lstm", 4

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        proj_size=0,
        forget_bias=None,
        peephole=False,
        layer_norm=False,
        **kwargs,
    ):
        check_forget_bias(type(self).__name__, forget_bias, bias)
        cell = V.variant_cell(type(self).__name__, peephole, layer_norm, proj_size, kwargs)
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            **kwargs,
        )
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
            x, state[0], state[1], reverse=reverse, batch_sizes=batch_sizes, **params
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

    ``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, reset_after=True, *, dtype, seed, rng, backend, device)``

    ``out, hn = gru(x, hx=None, lengths=None)``; ``dx, dh0 = gru.backward(dout, dhx=None)``.

    ``reset_after=True`` (PyTorch's GRU): :math:`n = \tanh(x W_{in}^\top + b_{in} + r \odot
    (h W_{hn}^\top + b_{hn}))`.  ``reset_after=False`` (Cho et al., 2014; Keras's
    ``reset_after=False``): :math:`n = \tanh(x W_{in}^\top + b_{in} + (r \odot h) W_{hn}^\top
    + b_{hn})`.  Same parameters and names; see :mod:`numrnn.kernels.gru_reset_before`.

    Raises:
        TypeError: ``reset_after`` is not a bool.
    """

    mode, gates = "gru", 3

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        reset_after=True,
        **kwargs,
    ):
        if not isinstance(reset_after, (bool, np.bool_)):
            raise TypeError(f"GRU: reset_after must be True or False; got {reset_after!r}")
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, **kwargs
        )
        self.reset_after = bool(reset_after)

    def _run_forward(self, x, state, params, reverse, batch_sizes):
        out, hn, cache = K.gru_forward(
            x,
            state[0],
            reverse=reverse,
            batch_sizes=batch_sizes,
            reset_after=self.reset_after,
            **params,
        )
        return out, [hn], cache

    def extra_repr(self):
        return super().extra_repr() + ("" if self.reset_after else ", reset_after=False")

    def _run_backward(self, dout, dstate, cache, record):
        dx, dh0, grads = K.gru_backward(dout, None if dstate is None else dstate[0], cache, record)
        return dx, [dh0], grads
