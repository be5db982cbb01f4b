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
constructor, float32 by default; nothing is cast silently).  The parameter-free
modules take ``dtype`` too, so that they check their inputs the same way, and
accept ``seed``/``rng`` for a constructor signature shared with the others.
"""

from __future__ import annotations

import math

import numpy as np

from ..functional.attention import (
    _check_inputs,
    _check_upstream,
    additive_attention_backward,
    additive_attention_forward,
    dot_attention_backward,
    dot_attention_forward,
    general_attention_backward,
    general_attention_forward,
    scaled_dot_product_attention_backward,
    scaled_dot_product_attention_forward,
)
from .module import Module, Parameter, check_dtype, make_rng
from .validate import check_array, check_size, private

__all__ = ["AdditiveAttention", "DotAttention", "GeneralAttention", "ScaledDotProductAttention"]


class _Attention(Module):
    """Shared forward/backward plumbing: checks, the LIFO cache, accumulation.

    Subclasses set ``_query_dim`` / ``_key_dim`` (None = any; the dot products
    require equal query and key features) and implement ``_forward(query, keys,
    values, mask) -> (context, weights, cache)`` and ``_backward(dcontext,
    dweights, cache) -> (dquery, dkeys, dvalues)`` (accumulating parameter
    gradients there).
    """

    _query_dim = None
    _key_dim = None
    _same_dim = False

    def _init_dtype(self, dtype):
        object.__setattr__(self, "_dtype", check_dtype(dtype))

    @property
    def param_dtype(self):
        return self._dtype

    def forward(self, query, keys, values, mask=None):
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
        context, weights, cache = self._forward(query, keys, values, mask)
        self._push_cache((cache, tuple(context.shape), tuple(weights.shape)))
        return private(self, context), private(self, weights)

    def backward(self, dcontext, dweights=None):
        """``dquery, dkeys, dvalues = attn.backward(dcontext, dweights=None)`` for the newest pending forward.

        ``dcontext`` and ``dweights`` are the gradients of the loss with respect
        to the forward's two results; either may be None (zero).

        Raises:
            RuntimeError: no forward is pending.
            TypeError / ValueError: an upstream gradient has the wrong type,
                dtype or shape (the pending forward stays pending).
        """
        who = f"{type(self).__name__}.backward"
        cache, context_shape, weights_shape = self._pop_cache()
        try:
            if dcontext is not None:
                check_array(self, "dcontext", dcontext)
            if dweights is not None:
                check_array(self, "dweights", dweights)
            _check_upstream(who, dcontext, dweights, context_shape, weights_shape)
        except (TypeError, ValueError):
            self._push_cache((cache, context_shape, weights_shape))
            raise
        return self._backward(dcontext, dweights, cache)


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

    This module projects the keys on every call.  A decoder that attends to the
    same keys at many steps can project them once with
    :func:`numrnn.functional.project_keys_forward` and call
    :func:`numrnn.functional.additive_attention_step_forward` per step.
    """

    def __init__(
        self,
        query_size,
        key_size,
        hidden_size,
        bias=False,
        *,
        dtype=np.float32,
        seed=None,
        rng=None,
        backend="numpy",
        device=None,
    ):
        super().__init__()
        name = "AdditiveAttention"
        self.query_size = check_size(name, "query_size", query_size)
        self.key_size = check_size(name, "key_size", key_size)
        self.hidden_size = check_size(name, "hidden_size", hidden_size)
        self._init_dtype(dtype)
        rng = make_rng(seed, rng)
        dt, H = self._dtype, self.hidden_size

        def uniform(fan_in, shape):
            k = 1.0 / math.sqrt(fan_in)
            return Parameter(rng.uniform(-k, k, shape).astype(dt))

        self.weight_q = uniform(self.query_size, (H, self.query_size))
        self.weight_k = uniform(self.key_size, (H, self.key_size))
        self.bias_k = uniform(self.key_size, (H,)) if bias else None
        self.v = uniform(H, (H,))
        self._query_dim, self._key_dim = self.query_size, self.key_size
        self._init_backend(backend, device)

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

    def _backward(self, dcontext, dweights, cache):
        g = additive_attention_backward(dcontext, dweights, cache)
        self.weight_q.grad += g.dweight_q
        self.weight_k.grad += g.dweight_k
        if self.bias_k is not None:
            self.bias_k.grad += g.dbias
        self.v.grad += g.dv
        return g.dquery, g.dkeys, g.dvalues

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
        query_size,
        key_size,
        *,
        dtype=np.float32,
        seed=None,
        rng=None,
        backend="numpy",
        device=None,
    ):
        super().__init__()
        self.query_size = check_size("GeneralAttention", "query_size", query_size)
        self.key_size = check_size("GeneralAttention", "key_size", key_size)
        self._init_dtype(dtype)
        rng = make_rng(seed, rng)
        k = 1.0 / math.sqrt(self.key_size)
        self.weight = Parameter(
            rng.uniform(-k, k, (self.query_size, self.key_size)).astype(self._dtype)
        )
        self._query_dim, self._key_dim = self.query_size, self.key_size
        self._init_backend(backend, device)

    def _forward(self, query, keys, values, mask):
        return general_attention_forward(query, keys, values, self.weight.data, mask=mask)

    def _backward(self, dcontext, dweights, cache):
        dquery, dkeys, dvalues, dweight = general_attention_backward(dcontext, dweights, cache)
        self.weight.grad += dweight
        return dquery, dkeys, dvalues

    def extra_repr(self):
        return f"query_size={self.query_size}, key_size={self.key_size}"


class _ParameterFree(_Attention):
    _same_dim = True

    def __init__(self, *, dtype=np.float32, seed=None, rng=None, backend="numpy", device=None):
        super().__init__()
        self._init_dtype(dtype)
        make_rng(seed, rng)  # validates; there is nothing to initialise
        self._init_backend(backend, device)

    def extra_repr(self):
        return f"dtype={self._dtype.name}"


class DotAttention(_ParameterFree):
    r"""Luong's "dot" attention, :math:`e_{b,t,s} = q_{b,t}^\top k_{b,s}` (query and keys share ``d``).

    No parameters.  ``dtype`` (float32 by default) is the dtype the inputs must have.
    """

    def _forward(self, query, keys, values, mask):
        return dot_attention_forward(query, keys, values, mask=mask)

    def _backward(self, dcontext, dweights, cache):
        return dot_attention_backward(dcontext, dweights, cache)


class ScaledDotProductAttention(_ParameterFree):
    r"""Scaled dot-product attention, :math:`e = Q K^\top / \sqrt d`, as batched matrix products.

    No parameters.  With ``(B, Tq, d)`` queries and a ``(B, Tq, S)`` mask it is
    ``torch.nn.functional.scaled_dot_product_attention`` (boolean ``attn_mask``,
    True = take part) that also returns the weights.
    """

    def _forward(self, query, keys, values, mask):
        return scaled_dot_product_attention_forward(query, keys, values, mask=mask)

    def _backward(self, dcontext, dweights, cache):
        return scaled_dot_product_attention_backward(dcontext, dweights, cache)
