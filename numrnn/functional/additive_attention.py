r"""Additive (Bahdanau) attention, :math:`e_{b,t,s} = w^\top \tanh(W_q q_{b,t} + W_k k_{b,s} + b)`.

Shapes, masks, the stable softmax and the gradient convention are those of
:mod:`numrnn.functional.attention`.  The score splits into a key half
:math:`p = K W_k^\top + b`, computed once per source sequence
(:func:`project_keys_forward`), and a query half computed at every decoder step
(:func:`additive_attention_step_forward`); :func:`additive_attention_forward`
composes the two.
"""

from __future__ import annotations

from ..backend import Array, ops
from .activations import tanh_backward, tanh_forward
from .attention import (
    Attended,
    _attend_forward,
    _batched,
    _check_inputs,
    _scores_backward,
    _shape,
    _unbatch,
)
from .linear import linear_backward, linear_forward

__all__ = [
    "additive_attention_backward",
    "additive_attention_forward",
    "additive_attention_step_backward",
    "additive_attention_step_forward",
    "project_keys_backward",
    "project_keys_forward",
]


def project_keys_forward(
    keys: Array, weight_k: Array, bias: Array | None = None
) -> tuple[Array, tuple]:
    r"""The key half of the additive score, :math:`K W_k^\top + b`, once per source sequence.

    In an attention decoder the keys (the encoder's outputs) stay the same for
    every target step while the query changes.  Projecting them is the
    expensive part of the additive score (``B S d_k H`` multiply-adds against
    ``B d_q H`` for the query), so it is done once here and the result
    ``keys_proj`` is passed to :func:`additive_attention_step_forward` at every
    step.  In the backward the steps' ``dkeys_proj`` are summed and sent through
    :func:`project_keys_backward` once: one large product instead of one per step.

    Args:
        keys: ``(B, S, d_k)``.
        weight_k: :math:`W_k`, ``(H, d_k)``.
        bias: :math:`b`, ``(H,)`` or None.

    Returns:
        ``keys_proj`` ``(B, S, H)`` and its cache.

    Raises:
        ValueError: ``keys`` is not 3-D or its features do not match ``weight_k``.
    """
    if keys.ndim != 3 or weight_k.ndim != 2 or keys.shape[-1] != weight_k.shape[1]:
        raise ValueError(
            f"project_keys_forward: keys must be (B, S, d_k) with d_k = weight_k.shape[1]; "
            f"got keys {_shape(keys)}, weight_k {_shape(weight_k)}"
        )
    if bias is not None and tuple(bias.shape) != (weight_k.shape[0],):
        raise ValueError(
            f"project_keys_forward: bias must be ({weight_k.shape[0]},); got {_shape(bias)}"
        )
    return linear_forward(keys, weight_k, bias)


def project_keys_backward(dkeys_proj: Array, cache: tuple) -> tuple[Array, Array, Array | None]:
    r"""Gradients of the key projection :math:`P = K W_k^\top + b`.

    .. math::

        \bar K = \bar P W_k, \qquad
        \bar W_k = \textstyle\sum_{b,s} \bar P_{b,s}^\top k_{b,s}, \qquad
        \bar b = \textstyle\sum_{b,s} \bar P_{b,s}

    Args:
        dkeys_proj: ``(B, S, H)``, summed over every step that used ``keys_proj``.

    Returns:
        ``(dkeys, dweight_k, dbias)``; ``dbias`` is None when the forward had no bias.
    """
    return linear_backward(dkeys_proj, cache)


def additive_attention_step_forward(
    query: Array,
    keys_proj: Array,
    values: Array,
    weight_q: Array,
    v: Array,
    mask: Array | None = None,
) -> Attended:
    r"""Additive attention from precomputed key projections (one decoder step, or ``Tq``).

    .. math::

        u_{b,t} = W_q q_{b,t}, \quad
        h_{b,t,s} = \tanh(u_{b,t} + p_{b,s}), \quad
        e_{b,t,s} = w^\top h_{b,t,s}, \quad
        \alpha = \mathrm{softmax}_s(e), \quad
        c_{b,t} = \textstyle\sum_s \alpha_{b,t,s} v_{b,s}

    where :math:`p = K W_k^\top + b` comes from :func:`project_keys_forward`.

    Args:
        query: ``(B, d_q)`` or ``(B, Tq, d_q)``.
        keys_proj: :math:`p`, ``(B, S, H)``.
        values: ``(B, S, d_v)``.
        weight_q: :math:`W_q`, ``(H, d_q)``.
        v: :math:`w`, ``(H,)``.
        mask: boolean ``(B, S)`` or ``(B, Tq, S)``, True = valid, or None.

    Returns ``(context, weights), cache`` and raises as every variant of
    :mod:`numrnn.functional.attention` does (its docstring: Shapes, Checks), also
    ``ValueError`` when ``weight_q`` or ``v`` does not fit ``keys_proj``.  The ``tanh``
    input is ``(B, Tq, S, H)``; its output is kept for the backward.
    """
    H = keys_proj.shape[-1]
    if weight_q.ndim != 2 or weight_q.shape[0] != H or tuple(v.shape) != (H,):
        raise ValueError(
            f"additive_attention: weight_q must be (H, d_q) and v (H,) with H = {H} (keys_proj's features); "
            f"got weight_q {_shape(weight_q)}, v {_shape(v)}"
        )
    mask = _check_inputs(
        "additive_attention",
        query,
        keys_proj,
        values,
        mask,
        query_dim=weight_q.shape[1],
        keys_name="keys_proj",
    )
    xp = ops(query)
    q, squeezed = _batched(query)  # (B, Tq, d_q)
    u, q_cache = linear_forward(q, weight_q)  # (B, Tq, H)
    pre = u[:, :, None, :] + keys_proj[:, None, :, :]  # (B, Tq, S, H)
    h, tanh_cache = tanh_forward(pre)  # (B, Tq, S, H)
    scores = xp.matmul(h, v)  # (B, Tq, S)
    context, weights, att_cache = _attend_forward(scores, values, mask)
    cache = (q_cache, tanh_cache, v, att_cache, squeezed)
    return (_unbatch(context, squeezed), _unbatch(weights, squeezed)), cache


def additive_attention_step_backward(dout: tuple, cache: tuple) -> tuple:
    r"""Backward of :func:`additive_attention_step_forward`, one chain-rule line per forward line.

    .. math::

        \bar e &= \text{softmax backward of } \bar\alpha
            = \partial L/\partial\alpha + \bar c\, v^\top  \\
        \bar w &= \textstyle\sum_{b,t,s} \bar e_{b,t,s}\, h_{b,t,s}, \qquad
        \bar h_{b,t,s} = \bar e_{b,t,s}\, w \\
        \bar a &= \bar h \odot (1 - h^2) \qquad (a = u + p, \text{ the tanh input}) \\
        \bar u_{b,t} &= \textstyle\sum_s \bar a_{b,t,s}, \qquad
        \bar p_{b,s} = \textstyle\sum_t \bar a_{b,t,s} \\
        \bar q &= \bar u W_q, \qquad \bar W_q = \textstyle\sum_{b,t} \bar u_{b,t}^\top q_{b,t}

    Args:
        dout: ``(dcontext, dweights)``: ``(B, [Tq,] d_v)`` and ``(B, [Tq,] S)``, each or None.
        cache: from the forward.

    Returns:
        ``(dquery, dkeys_proj, dvalues, dweight_q, dv, None)``, one per array argument
        of the forward (the mask has no gradient).

    Raises:
        TypeError: ``dout`` is not a pair.
        ValueError: an upstream gradient has the wrong shape.
    """
    q_cache, tanh_cache, v, att_cache, squeezed = cache
    h = tanh_cache
    xp = ops(h)
    B, Tq, S, H = h.shape
    dscores, dvalues = _scores_backward(
        "additive_attention_backward", dout, att_cache, squeezed
    )  # (B, Tq, S), (B, S, d_v)
    # e = h w
    dv = xp.matmul(h.reshape(-1, H).T, dscores.reshape(-1))  # (H,)
    dh = dscores[..., None] * v  # (B, Tq, S, H)
    # h = tanh(a)
    (da,) = tanh_backward(dh, tanh_cache)  # (B, Tq, S, H)
    # a = u[:, :, None] + p[:, None]: each broadcast input collects the sum over the other axis
    du = xp.sum(da, axis=2)  # (B, Tq, H)
    dkeys_proj = xp.sum(da, axis=1)  # (B, S, H)
    # u = q W_q^T
    dq, dweight_q, _ = linear_backward(du, q_cache)  # (B, Tq, d_q), (H, d_q)
    return _unbatch(dq, squeezed), dkeys_proj, dvalues, dweight_q, dv, None


def additive_attention_forward(
    query: Array,
    keys: Array,
    values: Array,
    weight_q: Array,
    weight_k: Array,
    v: Array,
    bias: Array | None = None,
    mask: Array | None = None,
) -> Attended:
    r"""Additive (Bahdanau) attention: :math:`e_{b,t,s} = w^\top \tanh(W_q q_{b,t} + W_k k_{b,s} + b)`.

    The composition of :func:`project_keys_forward` and
    :func:`additive_attention_step_forward`.  A decoder that attends to the
    same keys at many steps should call those two itself, projecting the keys
    once (see :func:`project_keys_forward` for why); this function re-projects
    them on every call and suits a single call or a ``(B, Tq, d_q)`` query.

    Args:
        query: ``(B, d_q)`` or ``(B, Tq, d_q)``.
        keys: ``(B, S, d_k)``.
        values: ``(B, S, d_v)``.
        weight_q: :math:`W_q`, ``(H, d_q)``.
        weight_k: :math:`W_k`, ``(H, d_k)``.
        v: :math:`w`, ``(H,)``.
        bias: :math:`b`, ``(H,)`` or None.
        mask: boolean ``(B, S)`` or ``(B, Tq, S)``, True = valid, or None.

    Returns ``(context, weights), cache`` and raises as
    :func:`additive_attention_step_forward` does.
    """
    # check everything (the query/values side too) before projecting anything
    _check_inputs(
        "additive_attention",
        query,
        keys,
        values,
        mask,
        query_dim=weight_q.shape[-1],
        key_dim=weight_k.shape[-1],
    )
    keys_proj, k_cache = project_keys_forward(keys, weight_k, bias)  # (B, S, H)
    out, step_cache = additive_attention_step_forward(query, keys_proj, values, weight_q, v, mask)
    return out, (k_cache, step_cache)


def additive_attention_backward(dout: tuple, cache: tuple) -> tuple:
    r"""Backward of :func:`additive_attention_forward`.

    The step's backward (see :func:`additive_attention_step_backward`) gives
    :math:`\bar p`, the gradient of the key projection, and
    :func:`project_keys_backward` carries it to :math:`\bar K = \bar p W_k`,
    :math:`\bar W_k` and :math:`\bar b`.

    Args:
        dout: ``(dcontext, dweights)``: ``(B, [Tq,] d_v)`` and ``(B, [Tq,] S)``, each or None.
        cache: from the forward.

    Returns:
        ``(dquery, dkeys, dvalues, dweight_q, dweight_k, dv, dbias, None)`` in the
        order of the forward's arguments; ``dbias`` is None when the forward had no
        bias, and the mask has no gradient.
    """
    k_cache, step_cache = cache
    dquery, dkeys_proj, dvalues, dweight_q, dv, _ = additive_attention_step_backward(
        dout, step_cache
    )
    dkeys, dweight_k, dbias = project_keys_backward(dkeys_proj, k_cache)
    return dquery, dkeys, dvalues, dweight_q, dweight_k, dv, dbias, None
