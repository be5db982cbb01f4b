r"""Exercise 9: the gradient of an embedding lookup, where indices repeat.

The forward picks rows of the table: ``e[n] = W[idx[n]]``, ``idx`` (N,) ints,
``W`` (V, E), ``e`` (N, E).  Your task: ``embedding_backward(de, cache)`` returns
``dW`` (V, E).  Row ``k`` of ``W`` was used once for every ``n`` with ``idx[n] = k``,
so its gradient is the sum of those ``de[n]``; a row never used gets zero:

.. math::

    \partial L/\partial W_k = \sum_{n:\ \mathrm{idx}_n = k} \partial L/\partial e_n

Beware: ``dW[idx] = de`` (and even ``dW[idx] += de``) keeps only one of the
gradients of an index that occurs twice.  Check with
``python examples/exercises/check.py embedding_backward``.
"""


def embedding_forward(idx, W):
    """``idx`` (N,) ints, ``W`` (V, E) -> ``e`` (N, E), cache."""
    return W[idx], (idx, W.shape)


def embedding_backward(de, cache):
    """``de`` (N, E) -> ``dW`` (V, E)."""
    idx, shape = cache
    raise NotImplementedError("hint: np.add.at adds once per occurrence of an index")
