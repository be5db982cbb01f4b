r"""Attention, by hand: additive (Bahdanau) and dot-product (Luong, scaled) scores.

Every variant computes a score for each (query, key) pair, turns the scores
over the source positions into weights with a softmax, and returns the
weighted sum of the values:

.. math::

    e_{b,t,s} = \mathrm{score}(q_{b,t}, k_{b,s}), \qquad
    \alpha_{b,t,s} = \frac{\exp e_{b,t,s}}{\sum_{s'} \exp e_{b,t,s'}}, \qquad
    c_{b,t} = \sum_s \alpha_{b,t,s} \, v_{b,s}

with these scores:

=================  ==========================================================
additive           :math:`w^\top \tanh(W_q q + W_k k + b)`  (Bahdanau et al.)
dot                :math:`q^\top k`                          (Luong et al.)
general            :math:`q^\top W k`                        (Luong et al.)
scaled dot         :math:`q^\top k / \sqrt{d}`               (Vaswani et al.)
=================  ==========================================================

Shapes.  ``query`` is ``(B, d_q)`` for one decoder step or ``(B, Tq, d_q)`` for
``Tq`` queries at once; ``keys`` is ``(B, S, d_k)``; ``values`` is ``(B, S, d_v)``.
The context has the query's leading shape with ``d_v`` features
(``(B, d_v)`` or ``(B, Tq, d_v)``) and the weights have ``S`` in place of the
features (``(B, S)`` or ``(B, Tq, S)``).  Internally a single query is a batch of
``Tq = 1`` queries, so every score is one batched matrix product
``(B, Tq, d) @ (B, d, S)`` and every context another, ``(B, Tq, S) @ (B, S, d_v)``.

Masks.  ``mask`` is boolean ``(B, S)`` (or ``(B, Tq, S)`` for a 3-D query, e.g.
a causal mask) with **True marking a valid position** -- the opposite of the
``key_padding_mask`` of ``torch.nn.MultiheadAttention`` and the same as the
boolean ``attn_mask`` of ``torch.nn.functional.scaled_dot_product_attention``.
Masked scores are replaced by :math:`-\infty`, so their weights are exactly zero
and so are the gradients that flow to the masked keys and values.  A query
whose keys are all masked has no defined softmax: it raises ``ValueError``.

Checks.  Every ``*_forward`` checks all its inputs before it computes anything and
raises ``ValueError`` when the shapes disagree or a mask row is all False, and
``TypeError`` when the mask is not boolean; each message names the argument, what
was expected and what was given.

Stability.  The softmax is the max-shifted one from
:mod:`numrnn.functional.activations`: nothing overflows, exponentials too small
to matter become exact zeros instead of underflowing, and :math:`-\infty`
(a masked score) gives exactly zero, so no floating-point warning is raised at
any score magnitude.

Forward and backward.  Every ``*_forward`` returns ``(context, weights), cache``
and every ``*_backward(dout, cache)`` takes ``dout = (dcontext, dweights)``, the
upstream gradients of both outputs (either may be None: a model that uses the
weights, e.g. for a coverage penalty or an alignment loss, passes both).  It
returns one entry per array argument of the forward, in order, None for the
boolean ``mask`` and for an absent ``bias`` (the convention of
:mod:`numrnn.functional`).  The weights' total gradient is

.. math::

    \bar\alpha_{b,t,s} = \frac{\partial L}{\partial \alpha_{b,t,s}}
        + \frac{\partial L}{\partial c_{b,t}} \cdot v_{b,s}, \qquad
    \frac{\partial L}{\partial v_{b,s}} = \sum_t \alpha_{b,t,s}
        \frac{\partial L}{\partial c_{b,t}},

then the softmax's backward (the pair from :mod:`numrnn.functional.activations`)
gives :math:`\bar e`, and each variant carries :math:`\bar e` back through its score.

This file holds what every variant shares (the checks, the masked softmax, the
weighted sum) and the dot-product scores; the additive score, with its key
projection computed once per source, is in :mod:`numrnn.functional.additive_attention`.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import Array, ops
from .activations import softmax_backward, softmax_forward

__all__ = [
    "dot_attention_backward",
    "dot_attention_forward",
    "general_attention_backward",
    "general_attention_forward",
    "masked_softmax_backward",
    "masked_softmax_forward",
    "scaled_dot_product_attention_backward",
    "scaled_dot_product_attention_forward",
]

# What every attention forward returns: ``(context, weights), cache``.
Attended = tuple[tuple[Array, Array], tuple]


def _shape(x):
    return "(" + ", ".join(str(s) for s in x.shape) + ("," if x.ndim == 1 else "") + ")"


# ----------------------------------------------------------------------------- checks
def _check_inputs(who, query, keys, values, mask, query_dim=None, key_dim=None, keys_name="keys"):
    """Check the shapes of query/keys/values/mask; return the mask as a boolean array.

    The mask comes back broadcastable to the scores ``(B, Tq, S)``: ``(B, 1, S)``
    for a ``(B, S)`` mask, unchanged for ``(B, Tq, S)``; None stays None.

    Raises:
        ValueError: a rank or a size disagrees; the message names the argument,
            the expected shape and the given one.
        TypeError: the mask is not boolean.
    """
    if query.ndim not in (2, 3):
        raise ValueError(
            f"{who}: query must be (B, d_q) or (B, Tq, d_q); got shape {_shape(query)}"
        )
    if keys.ndim != 3:
        raise ValueError(f"{who}: {keys_name} must be (B, S, features); got shape {_shape(keys)}")
    if values.ndim != 3:
        raise ValueError(f"{who}: values must be (B, S, d_v); got shape {_shape(values)}")
    B, S = keys.shape[0], keys.shape[1]
    if query.shape[0] != B:
        raise ValueError(
            f"{who}: query and {keys_name} must have the same batch size; "
            f"got query {_shape(query)}, {keys_name} {_shape(keys)}"
        )
    if tuple(values.shape[:2]) != (B, S):
        raise ValueError(
            f"{who}: values must be (B, S, d_v) = ({B}, {S}, d_v) to match {keys_name} {_shape(keys)}; "
            f"got {_shape(values)}"
        )
    if S < 1:
        raise ValueError(
            f"{who}: {keys_name} must hold at least one source position; got shape {_shape(keys)}"
        )
    if query_dim is not None and query.shape[-1] != query_dim:
        raise ValueError(
            f"{who}: query must have {query_dim} features in its last dimension; got shape {_shape(query)}"
        )
    if key_dim is not None and keys.shape[-1] != key_dim:
        raise ValueError(
            f"{who}: {keys_name} must have {key_dim} features in its last dimension; got shape {_shape(keys)}"
        )
    if mask is None:
        return None
    xp = ops(query)
    mask = xp.asarray(mask)
    if xp.numpy_dtype(mask) != np.bool_:
        raise TypeError(
            f"{who}: mask must be a boolean array (True = valid position); got dtype {xp.numpy_dtype(mask)}"
        )
    if mask.ndim == 2 and tuple(mask.shape) == (B, S):
        mask = mask.reshape(B, 1, S)
    elif not (mask.ndim == 3 and query.ndim == 3 and tuple(mask.shape) == (B, query.shape[1], S)):
        want = f"({B}, {S})" + (f" or ({B}, {query.shape[1]}, {S})" if query.ndim == 3 else "")
        raise ValueError(
            f"{who}: mask must have shape {want}, (B, S) as the {keys_name}; got {_shape(mask)}"
        )
    if bool((xp.sum(mask, axis=-1) == 0).any()):
        raise ValueError(
            f"{who}: mask leaves some query with every key masked; each row needs at least one True "
            "(the softmax over no positions is undefined)"
        )
    return mask


def _check_upstream(who, dout, context_shape, weights_shape):
    """``dout`` as ``(dcontext, dweights)``, after checking it against the outputs' shapes.

    Raises:
        TypeError: ``dout`` is not a pair.
        ValueError: an upstream gradient's shape is not that of its output.
    """
    if not isinstance(dout, (tuple, list)) or len(dout) != 2:
        got = f"a {type(dout).__name__}" + (
            f" of {len(dout)}" if isinstance(dout, (tuple, list)) else ""
        )
        raise TypeError(
            f"{who}: dout must be the pair (dcontext, dweights), either None; got {got}"
        )
    dcontext, dweights = dout
    if dcontext is not None and tuple(dcontext.shape) != tuple(context_shape):
        raise ValueError(
            f"{who}: dcontext must have shape {tuple(context_shape)}; got {tuple(dcontext.shape)}"
        )
    if dweights is not None and tuple(dweights.shape) != tuple(weights_shape):
        raise ValueError(
            f"{who}: dweights must have shape {tuple(weights_shape)}; got {tuple(dweights.shape)}"
        )
    return dcontext, dweights


def _batched(query):
    """``(B, d)`` -> ``(B, 1, d)``; ``(B, Tq, d)`` unchanged.  Also says whether it was 2-D."""
    if query.ndim == 2:
        return query.reshape(query.shape[0], 1, query.shape[1]), True
    return query, False


# --------------------------------------------------------------------- masked softmax
def masked_softmax_forward(scores: Array, mask: Array | None = None) -> tuple[Array, tuple]:
    r"""Softmax over the last axis that gives masked positions exactly zero weight.

    .. math::

        \tilde e_s = \begin{cases} e_s & \text{mask}_s \\ -\infty & \text{otherwise}\end{cases},
        \qquad \alpha = \mathrm{softmax}(\tilde e)

    The softmax subtracts the maximum over the valid positions, so the masked
    ones exponentiate :math:`-\infty` to exactly 0.  Filling with :math:`-\infty`
    rather than a large finite negative number keeps that zero exact at any
    score magnitude (a finite fill can be beaten by a score below it).

    Args:
        scores: ``(..., S)``.
        mask: boolean, broadcastable to ``scores``, True = valid; None = all valid.
            Every row must keep at least one position (the attention forwards
            check it; a row of only :math:`-\infty` would give NaN).

    Returns:
        ``weights`` (shape of ``scores``) and the cache for :func:`masked_softmax_backward`.
    """
    if mask is not None:
        scores = ops(scores).where(mask, scores, float("-inf"))
    return softmax_forward(scores, axis=-1)


def masked_softmax_backward(dweights: Array, cache: tuple) -> tuple[Array, None]:
    r""":math:`\bar e = \alpha \odot (\bar\alpha - \sum_s \bar\alpha_s \alpha_s)`: the softmax's backward.

    Masked positions have :math:`\alpha = 0`, so their score gradient is exactly zero.

    Returns:
        ``(dscores, None)``: ``dscores`` has the shape of ``dweights``; the mask has no gradient.
    """
    (dscores,) = softmax_backward(dweights, cache)
    return dscores, None


# ----------------------------------------------------- shared: weights -> context
def _attend_forward(scores, values, mask):
    """Weights from the scores ``(B, Tq, S)``, context from the weights and values ``(B, S, d_v)``."""
    xp = ops(scores)
    weights, sm_cache = masked_softmax_forward(scores, mask)  # (B, Tq, S)
    context = xp.matmul(weights, values)  # (B, Tq, d_v)
    return context, weights, (weights, values, sm_cache)


def _attend_backward(dcontext, dweights, cache):
    r"""From the upstream gradients to ``dscores``, ``dvalues``.

    ``dcontext`` is ``(B, Tq, d_v)``, ``dweights`` ``(B, Tq, S)``; None means zero.
    """
    weights, values, sm_cache = cache
    xp = ops(weights)
    # total gradient of the weights: the direct one plus the path through the context
    dalpha = xp.zeros_like(weights) if dweights is None else dweights  # (B, Tq, S)
    if dcontext is None:
        dvalues = xp.zeros_like(values)
    else:
        dalpha = dalpha + xp.matmul(dcontext, values.swapaxes(1, 2))  # (B, Tq, S)
        dvalues = xp.matmul(weights.swapaxes(1, 2), dcontext)  # (B, S, d_v)
    dscores, _ = masked_softmax_backward(dalpha, sm_cache)  # (B, Tq, S)
    return dscores, dvalues


def _scores_backward(who, dout, att_cache, squeezed):
    """Check ``dout`` against the outputs' shapes, then carry it back through the weights.

    The outputs' shapes follow from the forward's cache (weights ``(B, Tq, S)``, values
    ``(B, S, d_v)``), without the ``Tq`` axis when ``squeezed``.

    Returns:
        ``(dscores (B, Tq, S), dvalues (B, S, d_v))``.

    Raises:
        TypeError: ``dout`` is not a pair.
        ValueError: an upstream gradient's shape is not that of its output.
    """
    weights, values, _ = att_cache
    B, Tq, S = weights.shape
    d_v = values.shape[-1]
    dcontext, dweights = _check_upstream(
        who,
        dout,
        (B, d_v) if squeezed else (B, Tq, d_v),
        (B, S) if squeezed else (B, Tq, S),
    )
    dcontext, dweights = _upstream_batched(dcontext, dweights, squeezed)
    return _attend_backward(dcontext, dweights, att_cache)


def _upstream_batched(dcontext, dweights, squeezed):
    """Give 2-D upstream gradients (one query) the ``Tq = 1`` axis the kernels use."""
    if squeezed:
        if dcontext is not None:
            dcontext = dcontext.reshape(dcontext.shape[0], 1, dcontext.shape[1])
        if dweights is not None:
            dweights = dweights.reshape(dweights.shape[0], 1, dweights.shape[1])
    return dcontext, dweights


def _unbatch(x, squeezed):
    """``(B, 1, n)`` -> ``(B, n)`` when the query was 2-D."""
    return x.reshape(x.shape[0], x.shape[2]) if squeezed else x


# ------------------------------------------------------------------- dot products
def _dot_forward(who, query, keys, values, mask, scale):
    mask = _check_inputs(who, query, keys, values, mask, key_dim=query.shape[-1])
    xp = ops(query)
    q, squeezed = _batched(query)  # (B, Tq, d)
    scores = xp.matmul(q, keys.swapaxes(1, 2))  # (B, Tq, S)
    if scale != 1.0:
        scores = scores * scale
    context, weights, att_cache = _attend_forward(scores, values, mask)
    cache = (q, keys, scale, att_cache, squeezed)
    return (_unbatch(context, squeezed), _unbatch(weights, squeezed)), cache


def _dot_backward(who, dout, cache):
    q, keys, scale, att_cache, squeezed = cache
    xp = ops(q)
    dscores, dvalues = _scores_backward(who, dout, att_cache, squeezed)  # (B, Tq, S)
    if scale != 1.0:
        dscores = dscores * scale
    # e = q K^T
    dq = xp.matmul(dscores, keys)  # (B, Tq, d)
    dkeys = xp.matmul(dscores.swapaxes(1, 2), q)  # (B, S, d)
    return _unbatch(dq, squeezed), dkeys, dvalues, None


def dot_attention_forward(
    query: Array, keys: Array, values: Array, mask: Array | None = None
) -> Attended:
    r"""Dot-product (Luong "dot") attention: :math:`e_{b,t,s} = q_{b,t}^\top k_{b,s}`.

    Args:
        query: ``(B, d)`` or ``(B, Tq, d)``.
        keys: ``(B, S, d)`` (the query's ``d``, else ``ValueError``).
        values: ``(B, S, d_v)``.
        mask: boolean ``(B, S)`` or ``(B, Tq, S)``, True = valid, or None.

    Returns ``(context, weights), cache`` and raises as every variant does (module
    docstring: Shapes, Checks).
    """
    return _dot_forward("dot_attention", query, keys, values, mask, 1.0)


def dot_attention_backward(dout: tuple, cache: tuple) -> tuple[Array, Array, Array, None]:
    r"""Backward of :func:`dot_attention_forward`.

    .. math::

        \bar q_{b,t} = \textstyle\sum_s \bar e_{b,t,s} k_{b,s}, \qquad
        \bar k_{b,s} = \textstyle\sum_t \bar e_{b,t,s} q_{b,t}

    Args:
        dout: ``(dcontext, dweights)``, each or None.
        cache: from the forward.

    Returns:
        ``(dquery, dkeys, dvalues, None)`` (the mask has no gradient).
    """
    return _dot_backward("dot_attention_backward", dout, cache)


def scaled_dot_product_attention_forward(
    query: Array, keys: Array, values: Array, mask: Array | None = None, scale: float | None = None
) -> Attended:
    r"""Scaled dot-product attention: :math:`e = Q K^\top / \sqrt d` as one batched product.

    With ``Tq`` queries this is the batched-matrix-product form
    :math:`C = \mathrm{softmax}(Q K^\top / \sqrt d)\, V` with ``Q`` ``(B, Tq, d)``,
    ``K`` ``(B, S, d)``, ``V`` ``(B, S, d_v)``: two ``matmul`` calls over the batch
    instead of a loop over queries.

    Args:
        query: ``(B, d)`` or ``(B, Tq, d)``.
        keys: ``(B, S, d)``.
        values: ``(B, S, d_v)``.
        mask: boolean ``(B, S)`` or ``(B, Tq, S)`` (e.g. causal), True = valid, or None.
        scale: the factor on the scores; default :math:`1/\sqrt d`.

    Returns ``(context, weights), cache`` and raises as every variant does (module
    docstring: Shapes, Checks).
    """
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    return _dot_forward("scaled_dot_product_attention", query, keys, values, mask, float(scale))


def scaled_dot_product_attention_backward(
    dout: tuple, cache: tuple
) -> tuple[Array, Array, Array, None]:
    r"""Backward of :func:`scaled_dot_product_attention_forward`.

    With :math:`\bar e` the scores' gradient and :math:`\sigma` the scale:
    :math:`\bar Q = \sigma \bar e K`, :math:`\bar K = \sigma \bar e^\top Q`,
    :math:`\bar V = \alpha^\top \bar C`.

    Args:
        dout: ``(dcontext, dweights)``, each or None.
        cache: from the forward.

    Returns:
        ``(dquery, dkeys, dvalues, None)`` (the mask has no gradient; ``scale`` is an
        option, not an array argument).
    """
    return _dot_backward("scaled_dot_product_attention_backward", dout, cache)


def general_attention_forward(
    query: Array, keys: Array, values: Array, weight: Array, mask: Array | None = None
) -> Attended:
    r"""Luong "general" (bilinear) attention: :math:`e_{b,t,s} = q_{b,t}^\top W k_{b,s}`.

    Computed as :math:`(q W) \cdot k`: the query is projected (``B Tq d_q d_k``
    multiply-adds) rather than the keys (``B S d_q d_k``), which is cheaper
    whenever there are fewer queries than source positions, as in a decoder step.

    Args:
        query: ``(B, d_q)`` or ``(B, Tq, d_q)``.
        keys: ``(B, S, d_k)``.
        values: ``(B, S, d_v)``.
        weight: :math:`W`, ``(d_q, d_k)``.
        mask: boolean ``(B, S)`` or ``(B, Tq, S)``, True = valid, or None.

    Returns ``(context, weights), cache`` and raises as every variant does (module
    docstring: Shapes, Checks); also ``ValueError`` when ``weight`` is not 2-D.
    """
    if weight.ndim != 2:
        raise ValueError(f"general_attention: weight must be (d_q, d_k); got {_shape(weight)}")
    mask = _check_inputs(
        "general_attention",
        query,
        keys,
        values,
        mask,
        query_dim=weight.shape[0],
        key_dim=weight.shape[1],
    )
    xp = ops(query)
    q, squeezed = _batched(query)  # (B, Tq, d_q)
    qw = xp.matmul(q, weight)  # (B, Tq, d_k)
    scores = xp.matmul(qw, keys.swapaxes(1, 2))  # (B, Tq, S)
    context, weights, att_cache = _attend_forward(scores, values, mask)
    cache = (q, qw, keys, weight, att_cache, squeezed)
    return (_unbatch(context, squeezed), _unbatch(weights, squeezed)), cache


def general_attention_backward(
    dout: tuple, cache: tuple
) -> tuple[Array, Array, Array, Array, None]:
    r"""Backward of :func:`general_attention_forward`.

    .. math::

        \overline{qW} = \bar e K, \quad \bar K = \bar e^\top (qW), \quad
        \bar q = \overline{qW}\, W^\top, \quad
        \bar W = \textstyle\sum_{b,t} q_{b,t}^\top \overline{qW}_{b,t}

    Args:
        dout: ``(dcontext, dweights)``, each or None.
        cache: from the forward.

    Returns:
        ``(dquery, dkeys, dvalues, dweight, None)`` (the mask has no gradient).
    """
    q, qw, keys, weight, att_cache, squeezed = cache
    xp = ops(q)
    d_q, d_k = q.shape[-1], keys.shape[-1]
    dscores, dvalues = _scores_backward(
        "general_attention_backward", dout, att_cache, squeezed
    )  # (B, Tq, S)
    # e = (qW) K^T
    dqw = xp.matmul(dscores, keys)  # (B, Tq, d_k)
    dkeys = xp.matmul(dscores.swapaxes(1, 2), qw)  # (B, S, d_k)
    # qW = q W
    dq = xp.matmul(dqw, weight.T)  # (B, Tq, d_q)
    dweight = xp.matmul(q.reshape(-1, d_q).T, dqw.reshape(-1, d_k))  # (d_q, d_k)
    return _unbatch(dq, squeezed), dkeys, dvalues, dweight, None
