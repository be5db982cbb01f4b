r"""Attention modules over the pairs in :mod:`numrnn.functional.attention`.

Every module is called as ``context, weights = attn(query, keys, values, mask=None)``
and differentiated as ``dquery, dkeys, dvalues = attn.backward(dcontext, dweights=None)``;
parameter gradients accumulate into ``.grad``.

* ``query``: ``(B, d_q)`` for one decoder step, or ``(B, Tq, d_q)``.
* ``keys``: ``(B, S, d_k)``; ``values``: ``(B, S, d_v)``.
* ``mask``: boolean ``(B, S)`` (or ``(B, Tq, S)`` with a 3-D query), **True = a
  valid position**; masked positions get exactly zero weight and zero
  gradient.  (``torch.nn.MultiheadAttention``'s ``key_padding_mask`` uses the
  opposite convention; pass ``~key_padding_mask``.)  A query whose keys are
  all masked raises ``ValueError``.
* ``context``: ``(B, d_v)`` / ``(B, Tq, d_v)``; ``weights``: ``(B, S)`` / ``(B, Tq, S)``.

A decoder calls its attention once per target step and then runs backward
through the steps in reverse: each forward keeps its own cache and each
backward consumes the newest one (last in, first out).

Inputs must be arrays of the module's backend and dtype (``dtype=`` in the
constructor, float32 by default; nothing is cast silently).  Every constructor takes
the keyword options of :class:`~numrnn.nn.ModuleOptions`; the parameter-free modules
too, so that they check their inputs the same way (their ``seed``/``rng`` initialise
nothing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..backend import Array
from ..functional.additive_attention import (
    additive_attention_backward,
    additive_attention_forward,
    additive_attention_step_backward,
    additive_attention_step_forward,
    project_keys_backward,
    project_keys_forward,
)
from ..functional.attention import (
    _check_inputs,
    _check_upstream,
    dot_attention_backward,
    dot_attention_forward,
    general_attention_backward,
    general_attention_forward,
    scaled_dot_product_attention_backward,
    scaled_dot_product_attention_forward,
)
from .module import Module, backend_pass, uniform_parameter
from .options import ModuleOptions, module_options
from .validate import check_array, check_size, private

if TYPE_CHECKING:
    from typing import Unpack  # Python 3.11+; the annotations are never evaluated

__all__ = ["AdditiveAttention", "DotAttention", "GeneralAttention", "ScaledDotProductAttention"]


class _Attention(Module):
    """Shared forward/backward plumbing: checks, the LIFO cache, accumulation.

    Subclasses set ``_query_dim`` / ``_key_dim`` (None = any; the dot products
    require equal query and key features) and implement ``_forward(query, keys,
    values, mask) -> ((context, weights), cache)`` and ``_backward(dout, cache)
    -> (dquery, dkeys, dvalues)`` with ``dout = (dcontext, dweights)``
    (accumulating parameter gradients there).
    """

    _query_dim = None
    _key_dim = None
    _same_dim = False

    @property
    def param_dtype(self):
        return self._dtype

    @backend_pass
    def forward(
        self, query: Array, keys: Array, values: Array, mask: Array | None = None
    ) -> tuple[Array, Array]:
        """``context, weights = attn(query, keys, values, mask=None)``; see the module docstring for shapes.

        Raises:
            TypeError: an input is not an array of the module's backend and dtype,
                or the mask is not boolean.
            ValueError: a shape disagrees with the others or with the module's
                sizes, or a mask row is all False.
        """
        who = type(self).__name__
        check_array(self, "query", query)  # rank checked below, with the shapes
        check_array(self, "keys", keys, ndim=3)
        check_array(self, "values", values, ndim=3)
        key_dim = query.shape[-1] if self._same_dim else self._key_dim
        _check_inputs(who, query, keys, values, mask, query_dim=self._query_dim, key_dim=key_dim)
        if mask is not None:
            mask = private(self, self._ops.asarray(mask))
        # the cache keeps the inputs and the weights: copies, so the caller may edit theirs
        query, keys, values = (private(self, a) for a in (query, keys, values))
        (context, weights), cache = self._forward(query, keys, values, mask)
        self._push_cache((cache, tuple(context.shape), tuple(weights.shape)))
        return private(self, context), private(self, weights)

    @backend_pass
    def backward(
        self, dcontext: Array | None, dweights: Array | None = None
    ) -> tuple[Array, Array, Array]:
        """``dquery, dkeys, dvalues = attn.backward(dcontext, dweights=None)`` for the newest pending forward.

        ``dcontext`` and ``dweights`` are the gradients of the loss with respect
        to the forward's two results; either may be None (zero).

        Raises:
            RuntimeError / TypeError / ValueError: those of :meth:`Module.backward`, for
                ``dcontext`` and ``dweights``.
        """
        who = f"{type(self).__name__}.backward"
        cache, context_shape, weights_shape = self._pop_cache()
        try:
            if dcontext is not None:
                check_array(self, "dcontext", dcontext)
            if dweights is not None:
                check_array(self, "dweights", dweights)
            _check_upstream(who, (dcontext, dweights), context_shape, weights_shape)
        except (TypeError, ValueError):
            self._push_cache((cache, context_shape, weights_shape))
            raise
        return self._backward((dcontext, dweights), cache)


class AdditiveAttention(_Attention):
    r"""Additive (Bahdanau) attention, :math:`e_{b,t,s} = w^\top \tanh(W_q q_{b,t} + W_k k_{b,s} + b)`.

    Parameters (names as in ``state_dict()``):

    * ``weight_q`` ``(hidden_size, query_size)``: :math:`W_q`;
    * ``weight_k`` ``(hidden_size, key_size)``: :math:`W_k`;
    * ``bias_k`` ``(hidden_size,)``: :math:`b`, only with ``bias=True`` (it sits
      with the key projection, which is where it is added);
    * ``v`` ``(hidden_size,)``: :math:`w`.

    Each is initialised like ``torch.nn.Linear``, uniform in
    :math:`\pm 1/\sqrt{\text{fan\_in}}`.  In the common PyTorch formulation with
    ``W_q = nn.Linear(query_size, hidden, bias=False)``,
    ``W_k = nn.Linear(key_size, hidden, bias=bias)`` and
    ``w_v = nn.Linear(hidden, 1, bias=False)``, these are ``W_q.weight``,
    ``W_k.weight``, ``W_k.bias`` and ``w_v.weight[0]``.

    Calling the module projects the keys on every call.  A decoder that attends
    to the same keys at many steps projects them once with :meth:`project_keys`
    and calls :meth:`step` per step; the backward calls go in the reverse order
    (:meth:`step_backward` per step, then :meth:`project_keys_backward` once with
    the steps' ``dkeys_proj`` summed: one large product instead of one per step).
    """

    def __init__(
        self,
        query_size: int,
        key_size: int,
        hidden_size: int,
        bias: bool = False,
        **options: Unpack[ModuleOptions],
    ) -> None:
        super().__init__()
        name = "AdditiveAttention"
        opts = module_options(name, options)
        self.query_size = check_size(name, "query_size", query_size)
        self.key_size = check_size(name, "key_size", key_size)
        self.hidden_size = check_size(name, "hidden_size", hidden_size)
        dt, rng, H = opts.dtype, opts.rng, self.hidden_size
        self._dtype = dt

        self.weight_q = uniform_parameter(rng, self.query_size, (H, self.query_size), dt)
        self.weight_k = uniform_parameter(rng, self.key_size, (H, self.key_size), dt)
        self.bias_k = uniform_parameter(rng, self.key_size, (H,), dt) if bias else None
        self.v = uniform_parameter(rng, H, (H,), dt)
        self._query_dim, self._key_dim = self.query_size, self.key_size
        self._init_backend(opts)

    def _forward(self, query, keys, values, mask):
        bias = self.bias_k.data if self.bias_k is not None else None
        return additive_attention_forward(
            query,
            keys,
            values,
            self.weight_q.data,
            self.weight_k.data,
            self.v.data,
            bias=bias,
            mask=mask,
        )

    def _backward(self, dout, cache):
        dquery, dkeys, dvalues, dweight_q, dweight_k, dv, dbias, _ = additive_attention_backward(
            dout, cache
        )
        self.weight_q.grad += dweight_q
        self.weight_k.grad += dweight_k
        if self.bias_k is not None:
            self.bias_k.grad += dbias
        self.v.grad += dv
        return dquery, dkeys, dvalues

    # -- the two halves, for a decoder that attends to the same keys at every step ---------
    def _pop_tagged(self, kind):
        """The newest pending cache, which must come from the forward half ``kind``."""
        entry = self._pop_cache()
        if not (isinstance(entry, tuple) and len(entry) == 2 and entry[0] == kind):
            self._push_cache(entry)
            raise RuntimeError(
                f"AdditiveAttention.{kind}_backward: the newest pending forward is not a "
                f"{kind}(); backward calls must come in the reverse order of the forward calls"
            )
        return entry[1]

    @backend_pass
    def project_keys(self, keys: Array) -> Array:
        r"""The key half of the score, :math:`P = K W_k^\top + b`, ``(B, S, hidden_size)``.

        Raises:
            TypeError / ValueError: ``keys`` is not a ``(B, S, key_size)`` array of
                the module's backend and dtype.
        """
        check_array(self, "keys", keys, ndim=3)
        bias = self.bias_k.data if self.bias_k is not None else None
        # the cache keeps the keys: a copy, so the caller may edit theirs
        keys_proj, cache = project_keys_forward(private(self, keys), self.weight_k.data, bias)
        self._push_cache(("project_keys", cache))
        return keys_proj

    @backend_pass
    def project_keys_backward(self, dkeys_proj: Array) -> Array:
        """Accumulate ``weight_k`` (and ``bias_k``) gradients; returns ``dkeys``.

        Raises:
            RuntimeError: the newest pending forward is not a :meth:`project_keys`.
        """
        cache = self._pop_tagged("project_keys")
        dkeys, dweight_k, dbias = project_keys_backward(dkeys_proj, cache)
        self.weight_k.grad += dweight_k
        if self.bias_k is not None:
            self.bias_k.grad += dbias
        return dkeys

    @backend_pass
    def step(
        self, query: Array, keys_proj: Array, values: Array, mask: Array | None = None
    ) -> tuple[Array, Array]:
        """``context, weights`` from projected keys (see :meth:`project_keys`).

        Shapes as for calling the module, with ``keys_proj`` ``(B, S, hidden_size)``
        in place of the keys.

        Raises:
            TypeError / ValueError: as
                :func:`numrnn.functional.additive_attention_step_forward`.
        """
        check_array(self, "query", query)
        if mask is not None:
            mask = private(self, self._ops.asarray(mask))
        # the cache keeps the query, the values and the weights (not keys_proj): copies, so
        # the caller may edit theirs
        query, values = private(self, query), private(self, values)
        (context, weights), cache = additive_attention_step_forward(
            query, keys_proj, values, self.weight_q.data, self.v.data, mask
        )
        self._push_cache(("step", cache))
        return private(self, context), private(self, weights)

    @backend_pass
    def step_backward(
        self, dcontext: Array | None, dweights: Array | None = None
    ) -> tuple[Array, Array, Array]:
        """Accumulate ``weight_q`` and ``v`` gradients; returns ``(dquery, dkeys_proj, dvalues)``.

        Raises:
            RuntimeError: the newest pending forward is not a :meth:`step`.
            ValueError: an upstream gradient has the wrong shape.
        """
        cache = self._pop_tagged("step")
        dquery, dkeys_proj, dvalues, dweight_q, dv, _ = additive_attention_step_backward(
            (dcontext, dweights), cache
        )
        self.weight_q.grad += dweight_q
        self.v.grad += dv
        return dquery, dkeys_proj, dvalues

    def extra_repr(self):
        return (
            f"query_size={self.query_size}, key_size={self.key_size}, "
            f"hidden_size={self.hidden_size}, bias={self.bias_k is not None}"
        )


class GeneralAttention(_Attention):
    r"""Luong's "general" (bilinear) attention, :math:`e_{b,t,s} = q_{b,t}^\top W k_{b,s}`.

    One parameter, ``weight`` ``(query_size, key_size)``, initialised uniform in
    :math:`\pm 1/\sqrt{\text{key\_size}}` (it is ``nn.Linear(key_size,
    query_size, bias=False).weight`` applied to the keys, and
    ``nn.Bilinear(query_size, key_size, 1, bias=False).weight[0]``).
    """

    def __init__(
        self,
        query_size: int,
        key_size: int,
        **options: Unpack[ModuleOptions],
    ) -> None:
        super().__init__()
        opts = module_options("GeneralAttention", options)
        self.query_size = check_size("GeneralAttention", "query_size", query_size)
        self.key_size = check_size("GeneralAttention", "key_size", key_size)
        self._dtype = opts.dtype
        self.weight = uniform_parameter(
            opts.rng, self.key_size, (self.query_size, self.key_size), opts.dtype
        )
        self._query_dim, self._key_dim = self.query_size, self.key_size
        self._init_backend(opts)

    def _forward(self, query, keys, values, mask):
        return general_attention_forward(query, keys, values, self.weight.data, mask=mask)

    def _backward(self, dout, cache):
        dquery, dkeys, dvalues, dweight, _ = general_attention_backward(dout, cache)
        self.weight.grad += dweight
        return dquery, dkeys, dvalues

    def extra_repr(self):
        return f"query_size={self.query_size}, key_size={self.key_size}"


class _ParameterFree(_Attention):
    _same_dim = True

    def __init__(self, **options: Unpack[ModuleOptions]) -> None:
        super().__init__()
        opts = module_options(type(self).__name__, options)  # its rng initialises nothing
        self._dtype = opts.dtype
        self._init_backend(opts)

    def extra_repr(self):
        return f"dtype={self._dtype.name}"


class DotAttention(_ParameterFree):
    r"""Luong's "dot" attention, :math:`e_{b,t,s} = q_{b,t}^\top k_{b,s}` (query and keys share ``d``).

    No parameters.  ``dtype`` (float32 by default) is the dtype the inputs must have.
    """

    def _forward(self, query, keys, values, mask):
        return dot_attention_forward(query, keys, values, mask=mask)

    def _backward(self, dout, cache):
        return dot_attention_backward(dout, cache)[:3]


class ScaledDotProductAttention(_ParameterFree):
    r"""Scaled dot-product attention, :math:`e = Q K^\top / \sqrt d`, as batched matrix products.

    No parameters.  With ``(B, Tq, d)`` queries and a ``(B, Tq, S)`` mask it is
    ``torch.nn.functional.scaled_dot_product_attention`` (boolean ``attn_mask``,
    True = take part) that also returns the weights.
    """

    def _forward(self, query, keys, values, mask):
        return scaled_dot_product_attention_forward(query, keys, values, mask=mask)

    def _backward(self, dout, cache):
        return scaled_dot_product_attention_backward(dout, cache)[:3]
