"""``RNNBase``: the multi-layer, bidirectional machinery of ``RNN``, ``LSTM`` and ``GRU``.

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

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..backend import Array
from ..functional.dropout import dropout_mask
from .module import Module, backend_pass, uniform_parameter
from .options import ModuleOptions, module_options
from .validate import check_array, check_lengths, check_probability, check_size, private, shape_str

if TYPE_CHECKING:
    from typing import Unpack  # Python 3.11+; the annotations are never evaluated

__all__ = ["RNNBase", "RecurrentOptions", "StackOptions"]


def _stack(xp, arrays):
    """Stack per-layer-direction states along a new first axis (a view for a single one)."""
    return arrays[0][None] if len(arrays) == 1 else xp.stack(arrays, axis=0)


class RecurrentOptions(ModuleOptions, total=False):
    """The keywords of ``RNN``, ``LSTM`` and ``GRU``: :class:`ModuleOptions` and ``fused``."""

    # backend="torch" only: run the pointwise kernels compiled by torch.compile
    # (:meth:`numrnn.backend.TorchOps.fused`); default False
    fused: bool


@dataclass(frozen=True)
class StackOptions:
    """The options every stack of recurrent layers has, named as in ``torch.nn.LSTM``.

    ``RNN``, ``LSTM``, ``GRU`` and ``Recurrent`` take them in their PyTorch-shaped
    signatures and hand them on as one object; :meth:`RNNBase._set_options` checks them.
    """

    input_size: int
    hidden_size: int
    num_layers: int
    bias: bool
    batch_first: bool
    dropout: float
    bidirectional: bool


class RNNBase(Module):
    """Shared machinery of ``RNN``, ``LSTM`` and ``GRU`` (not used directly)."""

    mode = None  # "rnn", "lstm" or "gru"
    gates = 1  # gate blocks stacked in weight_ih / weight_hh

    def __init__(
        self,
        stack: StackOptions,
        *,
        proj_size: int = 0,
        nonlinearity: str | None = None,
        fused: bool = False,
        **options: Unpack[ModuleOptions],
    ) -> None:
        """Check every option, then create the parameters of every layer-direction.

        ``stack`` holds the options the subclass's signature took; ``proj_size`` (LSTM
        only) and ``nonlinearity`` (RNN only: any other layer refuses it, even "tanh")
        are PyTorch's; ``fused`` and ``**options`` are those of :class:`RecurrentOptions`.
        """
        super().__init__()
        name = type(self).__name__
        opts = module_options(name, options, RecurrentOptions)
        proj_size = check_size(name, "proj_size", proj_size, low=0)
        if proj_size and self.mode != "lstm":
            raise ValueError(
                f"{name}: proj_size is supported by LSTM only; got proj_size={proj_size}"
            )
        if nonlinearity is not None and self.mode != "rnn":  # given at all, as torch refuses it
            raise ValueError(
                f"{name}: nonlinearity is supported by RNN only; got nonlinearity={nonlinearity!r}"
            )
        nonlinearity = "tanh" if nonlinearity is None else nonlinearity
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"{name}: nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")
        if fused and opts.backend != "torch":
            raise ValueError(
                f"{name}: fused=True compiles the kernels with torch.compile and needs "
                f"backend='torch'; got backend={opts.backend!r}"
            )
        self._set_options(stack)
        if proj_size >= self.hidden_size:
            raise ValueError(
                f"{name}: proj_size must be smaller than hidden_size ({self.hidden_size}); "
                f"got {proj_size}"
            )
        self.proj_size, self.nonlinearity = int(proj_size), nonlinearity
        self.output_size = self.proj_size or self.hidden_size  # size of h (and of each output)
        for pname, shape in self._parameter_shapes():
            setattr(self, pname, uniform_parameter(opts.rng, self.hidden_size, shape, opts.dtype))
        self._dropout_rng = np.random.default_rng(opts.rng.integers(2**63))
        self.grad_flow = None  # filled by backward(..., record=True)
        self.fused = bool(fused)  # torch backend: pointwise kernels compiled (TorchOps.fused)
        self._init_backend(opts)

    def _set_options(self, stack):
        """Check the options of :class:`StackOptions` and keep them as attributes (``Recurrent`` too).

        Raises:
            TypeError / ValueError: a size is not a positive integer, or ``dropout`` is
                not a probability; nothing is set before every check has passed.
        """
        name = type(self).__name__
        input_size = check_size(name, "input_size", stack.input_size)
        hidden_size = check_size(name, "hidden_size", stack.hidden_size)
        num_layers = check_size(name, "num_layers", stack.num_layers)
        dropout = check_probability(name, "dropout", stack.dropout)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.dropout = int(num_layers), float(dropout)
        self.bias, self.batch_first = bool(stack.bias), bool(stack.batch_first)
        self.bidirectional = bool(stack.bidirectional)
        self.num_directions = 2 if self.bidirectional else 1

    def _parameter_shapes(self):
        """``(name, shape)`` of every parameter, layer by layer, forward direction first."""
        G, H, P = self.gates * self.hidden_size, self.hidden_size, self.output_size
        shapes = []
        for layer in range(self.num_layers):
            layer_in = self.input_size if layer == 0 else P * self.num_directions
            for d in range(self.num_directions):
                one = [("weight_ih", (G, layer_in)), ("weight_hh", (G, P))]
                if self.bias:
                    one += [("bias_ih", (G,)), ("bias_hh", (G,))]
                if self.proj_size:
                    one += [("weight_hr", (P, H))]
                shapes += [(pname + self._suffix(layer, d), shape) for pname, shape in one]
        return shapes

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
        finals = [_stack(xp, f) for f in finals]  # each (L*D, B, H)
        self._push_cache((layer_caches, order, batch_sizes, batched, tuple(inp.shape)))
        # out (and, with one layer-direction, hn) may be the kernels' cached arrays: hand out copies
        out, finals = private(self, inp), [private(self, f) for f in finals]
        out, finals = self._caller_layout(out, finals, order, batched)
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
            dstates = self._check_backward(dout, dhx, tm_shape, batched)
        except (TypeError, ValueError):
            self._push_cache(cache)  # a refused call leaves the module as it was
            raise
        xp = self._ops
        dout = dout[:, None] if not batched else dout.swapaxes(0, 1) if self.batch_first else dout
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
        if record:
            self.grad_flow = {
                key: np.array([[r[key] for r in layer] for layer in records])
                for key in records[0][0]
            }
        dx, dinit = self._caller_layout(dout, [_stack(xp, ds) for ds in dinit], order, batched)
        return dx, (dinit[0] if len(dinit) == 1 else tuple(dinit))

    def _check_backward(self, dout, dhx, tm_shape, batched):
        """Check ``dout`` against the forward's output shape and ``dhx`` against its states.

        Returns the state gradients as batched ``(L*D, B, H)`` arrays, or None.

        Raises:
            TypeError / ValueError: an array of the wrong type, dtype or shape.
        """
        out_shape = tm_shape
        if not batched:
            out_shape = (tm_shape[0], tm_shape[2])
        elif self.batch_first:
            out_shape = (tm_shape[1], tm_shape[0], tm_shape[2])
        check_array(self, "dout", dout, shape=out_shape)
        return None if dhx is None else self._check_states(dhx, tm_shape[1], batched, what="dhx")

    def _caller_layout(self, seq, states, order, batched):
        """Undo the forward's reordering: rows back in the caller's order, the caller's axes.

        ``seq`` is time-major ``(T, B, F)`` and each of ``states`` ``(L*D, B, H)``, rows
        sorted by ``order`` (None: unsorted); the result has the layout of the caller's
        input (``batch_first``, or unbatched without the row axis).
        """
        if order is not None:
            inv = self._index(np.argsort(order))
            seq, states = seq[:, inv], [s[:, inv] for s in states]
        if not batched:
            return seq[:, 0], [s[:, 0] for s in states]
        return (seq.swapaxes(0, 1) if self.batch_first else seq), states

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
