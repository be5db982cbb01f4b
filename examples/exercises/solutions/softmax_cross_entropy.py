r"""Solution: softmax followed by the mean cross-entropy, forward and backward.

.. math::

    p_{nk} = \frac{e^{s_{nk} - m_n}}{\sum_j e^{s_{nj} - m_n}}, \quad m_n = \max_j s_{nj},
    \qquad L = -\frac{1}{N}\sum_n \log p_{n, y_n}

Backward, with the upstream scalar :math:`\bar L = \partial(\text{objective})/\partial L`:

.. math::

    \frac{\partial L}{\partial s_{nk}} = \frac{1}{N}\,(p_{nk} - [k = y_n])
"""

import numpy as np


def softmax_cross_entropy_forward(logits, target):
    """logits (N, C) float, target (N,) int in [0, C) -> loss (0-d array), cache."""
    N = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)  # (N, C); exp never overflows
    log_z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (N, 1)
    log_p = shifted - log_z
    loss = -log_p[np.arange(N), target].mean()
    return np.asarray(loss), (log_p, target)


def softmax_cross_entropy_backward(dloss, cache):
    """dloss (0-d array or float) -> (dlogits (N, C), None): the target has no gradient."""
    log_p, target = cache
    N = log_p.shape[0]
    dlogits = np.exp(log_p)  # p, a fresh array
    dlogits[np.arange(N), target] -= 1.0
    return dlogits * (dloss / N), None
