"""Central finite differences, written independently of numrnn.gradcheck."""

import numpy as np


def numeric_grad(loss, x, eps=1e-6):
    """d loss / d x over every entry of ``x`` (perturbed in place and restored)."""
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    assert np.shares_memory(flat, x)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        lp = loss()
        flat[i] = old - eps
        lm = loss()
        flat[i] = old
        gflat[i] = (lp - lm) / (2 * eps)
    return g
