"""Deterministic train/validation splits (same seed, same split, on every machine)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["train_val_split"]


def _num_val(n, val_fraction):
    if n == 0 or val_fraction == 0.0:
        return 0
    k = int(round(n * val_fraction))
    # A non-zero fraction of two or more items keeps at least one item on each side.
    return min(max(k, 1), n - 1) if n >= 2 else 0


def train_val_split(
    data, val_fraction: float = 0.1, seed: int = 0, shuffle: bool = True, stratify=None
):
    """Split ``range(n)`` or a sequence of items into a training and a validation part.

    The validation part has ``round(n * val_fraction)`` items (at least one on
    each side when ``0 < val_fraction < 1`` and ``n >= 2``).  The permutation comes
    from ``numpy.random.default_rng(seed)``, so a seed always gives the same split,
    and both parts keep the original relative order of their items.

    Args:
        data: an int ``n`` (split the indices ``0..n-1``) or a sequence / array of items.
        val_fraction: fraction in ``[0, 1)`` that goes to validation.
        seed: int seed of the permutation.
        shuffle: if False, the last items form the validation part (no randomness).
        stratify: optional labels (one per item); the fraction is then applied per
            label, so both parts keep the label proportions.

    Returns:
        ``(train, val)``: int64 index arrays when ``data`` is an int; otherwise the
        same kind as ``data``: lists for lists/tuples, arrays for arrays.

    Raises:
        ValueError: ``val_fraction`` outside ``[0, 1)``, ``n < 0``, or ``stratify``
            of the wrong length.
        TypeError: ``data`` is neither an int nor a sequence, or ``seed`` is not an int.
    """
    if isinstance(data, (int, np.integer)) and not isinstance(data, bool):
        n, items = int(data), None
        if n < 0:
            raise ValueError(f"train_val_split: n must be >= 0; got {n}")
    elif isinstance(data, (Sequence, np.ndarray)) and not isinstance(data, (str, bytes)):
        n, items = len(data), data
    else:
        raise TypeError(
            f"train_val_split: data must be an int or a sequence; got {type(data).__name__}"
        )
    if (
        not isinstance(val_fraction, (int, float, np.floating))
        or not 0.0 <= float(val_fraction) < 1.0
    ):
        raise ValueError(f"train_val_split: val_fraction must be in [0, 1); got {val_fraction!r}")
    if not isinstance(seed, (int, np.integer)):
        raise TypeError(f"train_val_split: seed must be an int; got {type(seed).__name__}")
    val_fraction = float(val_fraction)
    rng = np.random.default_rng(seed)

    if stratify is None:
        groups = [np.arange(n, dtype=np.int64)]
    else:
        labels = np.asarray(stratify)
        if labels.shape != (n,):
            raise ValueError(
                f"train_val_split: stratify must have one label per item, shape ({n},); "
                f"got {labels.shape}"
            )
        _, inv = np.unique(labels, return_inverse=True)
        inv = inv.reshape(-1)
        groups = (
            [np.flatnonzero(inv == g).astype(np.int64) for g in range(inv.max() + 1)] if n else []
        )
    val_parts = []
    for g in groups:
        k = _num_val(g.size, val_fraction)
        if k == 0:
            continue
        val_parts.append(rng.permutation(g)[:k] if shuffle else g[g.size - k :])
    val_mask = np.zeros(n, dtype=bool)
    for part in val_parts:
        val_mask[part] = True
    train_idx = np.flatnonzero(~val_mask).astype(np.int64)
    val_idx = np.flatnonzero(val_mask).astype(np.int64)
    if items is None:
        return train_idx, val_idx
    if isinstance(items, np.ndarray):
        return items[train_idx], items[val_idx]
    return [items[i] for i in train_idx], [items[i] for i in val_idx]
