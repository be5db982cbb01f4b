"""Affine map and embedding lookup, as forward/backward pairs with explicit caches.

The backward returns one entry per array input of the forward, in order (the
convention of :mod:`numrnn.functional`): ``(dx, dweight, dbias)`` and
``(None, dweight)``.
"""

from __future__ import annotations

import numpy as np

from ..backend import Array, ops

__all__ = ["embedding_backward", "embedding_forward", "linear_backward", "linear_forward"]


def linear_forward(x: Array, weight: Array, bias: Array | None = None) -> tuple[Array, tuple]:
    r"""Affine map :math:`y = x W^\top + b`.

    Args:
        x: ``(..., in_features)``.
        weight: ``W``, ``(out_features, in_features)``.
        bias: ``b``, ``(out_features,)`` or None.

    Returns:
        ``y`` of shape ``(..., out_features)`` and the cache ``(x, weight, has_bias)``.
    """
    xp = ops(x)
    lead = x.shape[:-1]
    y = xp.matmul(x.reshape(-1, x.shape[-1]), weight.T)  # (N, out)
    if bias is not None:
        y += bias
    return y.reshape(*lead, weight.shape[0]), (x, weight, bias is not None)


def linear_backward(dy: Array, cache: tuple) -> tuple[Array, Array, Array | None]:
    r"""Gradients of :math:`y = x W^\top + b`.

    :math:`\partial L/\partial x = g W`, :math:`\partial L/\partial W = g^\top x`,
    :math:`\partial L/\partial b = \sum_n g_n` with :math:`g = \partial L/\partial y`
    flattened to ``(N, out_features)``.

    Returns:
        ``(dx, dweight, dbias)``; ``dbias`` is None when the forward had no bias.
    """
    x, weight, has_bias = cache
    xp = ops(dy)
    g = dy.reshape(-1, weight.shape[0])  # (N, out)
    x2 = x.reshape(-1, weight.shape[1])  # (N, in)
    dx = xp.matmul(g, weight).reshape(x.shape)
    dweight = xp.matmul(g.T, x2)
    dbias = xp.sum(g, axis=0) if has_bias else None
    return dx, dweight, dbias


def embedding_forward(
    index: np.ndarray, weight: Array, padding_idx: int | None = None
) -> tuple[Array, tuple]:
    r"""Row lookup :math:`e = W[\mathrm{index}]`.

    Args:
        index: integer array of any shape ``S``.
        weight: ``(num_embeddings, embedding_dim)``.
        padding_idx: a row that receives no gradient (its lookup still reads it), or None.

    Returns:
        ``e`` of shape ``S + (embedding_dim,)`` and the cache ``(index, weight, padding_idx)``.
    """
    return ops(weight).take(weight, index), (index, weight, padding_idx)


def embedding_backward(de: Array, cache: tuple) -> tuple[None, Array]:
    r"""Gradient of the lookup.

    :math:`\partial L/\partial W_k = \sum_{n: \mathrm{index}_n = k} \partial L/\partial e_n`.

    Rows are scatter-added, so an index that occurs twice receives both
    gradients.  The row ``padding_idx`` receives none.

    Returns:
        ``(None, dweight)``: the integer ``index`` has no gradient; ``dweight`` has
        the shape of the table.
    """
    index, weight, padding_idx = cache
    shape = tuple(weight.shape)
    xp = ops(weight)
    dweight = xp.zeros(shape, like=weight)
    flat = index.reshape(-1)
    xp.index_add(dweight, flat, de.reshape(-1, shape[1]))
    if padding_idx is not None:
        dweight[padding_idx] = 0
    return None, dweight
