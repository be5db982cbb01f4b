"""Shared test helpers: error measures and torch references (torch imported by callers)."""

import numpy as np


def rel_err(a, b):
    """Normwise relative error ``max|a - b| / max|b|`` (``b`` the reference).

    Dividing by the largest reference entry (not entrywise) keeps entries that are
    near zero by cancellation from dominating: in float64 an algorithm that is
    correct agrees with torch to a few ulps of the largest magnitudes, ~1e-15.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shape {a.shape} != reference shape {b.shape}"
    scale = np.max(np.abs(b)) if b.size else 0.0
    return float(np.max(np.abs(a - b)) / max(scale, 1e-300)) if a.size else 0.0


def tensor(x, grad=False):
    import torch

    t = torch.tensor(np.asarray(x))
    t.requires_grad_(grad)
    return t
