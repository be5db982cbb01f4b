"""Padding variable-length sequences and drawing (shuffled, optionally bucketed) batches.

``pad_sequences`` returns the padded array together with the true lengths; the
lengths go straight to the recurrent layers' ``lengths=`` argument, which then
behave like PyTorch's ``pack_padded_sequence``.  ``batches`` yields index arrays
into any indexable dataset; with ``lengths`` it groups sequences of similar length
so that little padding is wasted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..rng import make_rng

__all__ = ["batches", "encode_padded", "pad_sequences"]


def pad_sequences(
    seqs, pad_value=0, dtype=np.int64, batch_first: bool = True, max_len: int | None = None
):
    r"""Stack sequences of different lengths into one array, padding at the end.

    Each sequence is array-like of shape ``(L_i, *F)`` (``F`` the same for all,
    e.g. empty for token ids or ``(D,)`` for feature vectors).

    .. math::
        \text{out}[b, t] = \begin{cases} s_b[t] & t < L_b \\ \text{pad\_value} & t \ge L_b \end{cases}

    Args:
        seqs: a non-empty list of sequences (lists, tuples or arrays).
        pad_value: the value written past each sequence's end (use ``vocab.pad_id``).
        dtype: the result's dtype (``np.int64`` for ids, a float type for features).
        batch_first: result ``(B, T, *F)`` if True, ``(T, B, *F)`` (time-major) if False.
        max_len: truncate longer sequences to their first ``max_len`` items (the
            returned lengths are the truncated ones).

    Returns:
        ``(padded, lengths)``: ``padded`` of shape ``(B, T, *F)`` or ``(T, B, *F)``
        with ``T = max(lengths)``; ``lengths`` int64 of shape ``(B,)``.

    Raises:
        ValueError: ``seqs`` is empty, ``max_len < 0``, or the sequences' trailing
            shapes ``F`` differ.
        TypeError: ``seqs`` is a str or not a sequence.
    """
    if isinstance(seqs, (str, bytes)) or not isinstance(seqs, (Sequence, np.ndarray)):
        raise TypeError(
            f"pad_sequences: seqs must be a list of sequences; got {type(seqs).__name__}"
        )
    if len(seqs) == 0:
        raise ValueError("pad_sequences: seqs is empty; need at least one sequence")
    if max_len is not None and (not isinstance(max_len, (int, np.integer)) or max_len < 0):
        raise ValueError(
            f"pad_sequences: max_len must be a non-negative int or None; got {max_len!r}"
        )
    arrays = []
    for i, s in enumerate(seqs):
        a = np.asarray(s)
        if a.ndim == 0:
            raise ValueError(
                f"pad_sequences: seqs[{i}] is a scalar ({a!r}); each item must be a sequence"
            )
        if max_len is not None:
            a = a[:max_len]
        arrays.append(a)
    feat = next((a.shape[1:] for a in arrays if a.shape[0] > 0), arrays[0].shape[1:])
    for i, a in enumerate(arrays):
        if a.shape[1:] != feat and a.shape[0] > 0:
            raise ValueError(
                f"pad_sequences: every sequence must have trailing shape {feat}; "
                f"seqs[{i}] has shape {a.shape}"
            )
    lengths = np.array([a.shape[0] for a in arrays], dtype=np.int64)  # (B,)
    B, T = len(arrays), int(lengths.max())
    out = np.full((B, T) + feat, pad_value, dtype=dtype)  # (B, T, *F)
    for b, a in enumerate(arrays):
        if a.shape[0]:
            out[b, : a.shape[0]] = a
    if not batch_first:
        out = np.ascontiguousarray(np.swapaxes(out, 0, 1))  # (T, B, *F)
    return out, lengths


def batches(
    n,
    batch_size: int,
    shuffle: bool = True,
    rng=None,
    drop_last: bool = False,
    lengths=None,
    pool_batches: int = 50,
):
    """Yield int64 index arrays that cover ``range(n)`` in batches.

    Without ``lengths``: the indices (shuffled with ``rng`` when ``shuffle``) cut
    into consecutive batches of ``batch_size`` (the last one smaller unless
    ``drop_last``).

    With ``lengths`` (bucketing): the shuffled indices are cut into pools of
    ``pool_batches * batch_size``; each pool is sorted by length (stable) and cut
    into batches, and the order of all batches is shuffled.  Batches then hold
    sequences of similar length, which keeps padding small, while every epoch
    still sees different batches.  With ``shuffle=False`` nothing is random: pools
    in order, sorted by length.

    Args:
        n: the number of items, or the dataset itself (its ``len`` is used).
        batch_size: items per batch (>= 1).
        shuffle: shuffle the order (and, with bucketing, the batches).
        rng: a ``numpy.random.Generator``, an int seed, or None.  The same seed
            gives the same batches.
        drop_last: drop a final batch smaller than ``batch_size`` (with bucketing,
            every smaller batch is dropped).
        lengths: optional per-item lengths (``len(lengths) == n``) to bucket by.
        pool_batches: pool size for bucketing, in batches.

    Yields:
        ``np.ndarray`` of int64 indices, shape ``(<= batch_size,)``.

    Raises:
        ValueError: ``batch_size < 1``, ``n < 0``, ``len(lengths) != n``, ``pool_batches < 1``.
        TypeError: ``n`` is neither an int nor sized, or ``rng`` is of the wrong type.
    """
    if not isinstance(n, (int, np.integer)):
        if hasattr(n, "__len__"):
            n = len(n)
        else:
            raise TypeError(
                f"batches: n must be an int or a sized collection; got {type(n).__name__}"
            )
    if n < 0:
        raise ValueError(f"batches: n must be >= 0; got {n}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batches: batch_size must be an int >= 1; got {batch_size!r}")
    if not isinstance(pool_batches, (int, np.integer)) or pool_batches < 1:
        raise ValueError(f"batches: pool_batches must be an int >= 1; got {pool_batches!r}")
    if lengths is not None:
        lengths = np.asarray(lengths)
        if lengths.shape != (n,):
            raise ValueError(f"batches: lengths must have shape ({n},); got {lengths.shape}")
    gen = make_rng(rng=rng) if shuffle else None
    order = gen.permutation(n) if shuffle else np.arange(n)
    order = order.astype(np.int64)
    return _batch_iter(order, batch_size, drop_last, lengths, pool_batches, gen)


def _batch_iter(order, batch_size, drop_last, lengths, pool_batches, gen):
    n = order.size
    if lengths is None:
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            if drop_last and idx.size < batch_size:
                return
            yield idx
        return
    pool = pool_batches * batch_size
    chunks = []
    for p0 in range(0, n, pool):
        part = order[p0 : p0 + pool]
        part = part[np.argsort(lengths[part], kind="stable")]
        for start in range(0, part.size, batch_size):
            idx = part[start : start + batch_size]
            if drop_last and idx.size < batch_size:
                continue
            chunks.append(idx)
    if gen is not None:
        chunks = [chunks[i] for i in gen.permutation(len(chunks))]
    yield from chunks


def encode_padded(seqs, pad_id=0, max_len=None):
    """Pad a batch of token-id sequences into ``(idx, lengths)`` for a classifier.

    Args:
        seqs: a non-empty list of 1-d integer sequences (lists or arrays of ids).
        pad_id: the id written past each sequence's end (the vocabulary's ``pad_id``).
        max_len: keep at most the first ``max_len`` tokens of each sequence.

    Returns:
        ``(idx, lengths)``: ``idx`` int64 ``(B, T)`` with ``T = max(lengths)``,
        batch first; ``lengths`` int64 ``(B,)``.

    Raises:
        ValueError: ``seqs`` is empty, a sequence is empty (a recurrent layer has
            no final state for it) or not 1-d, or ``max_len < 1``.
        TypeError: ``seqs`` is not a list of sequences, or holds non-integer ids.
    """
    if max_len is not None and (not isinstance(max_len, (int, np.integer)) or max_len < 1):
        raise ValueError(f"encode_padded: max_len must be an int >= 1 or None; got {max_len!r}")
    if isinstance(seqs, (str, bytes)) or not hasattr(seqs, "__len__"):
        raise TypeError(
            f"encode_padded: seqs must be a list of id sequences; got {type(seqs).__name__}"
        )
    if len(seqs) == 0:
        raise ValueError("encode_padded: seqs is empty; need at least one sequence")
    for i, s in enumerate(seqs):
        a = np.asarray(s)
        if a.ndim != 1:
            raise ValueError(
                f"encode_padded: seqs[{i}] must be a 1-d sequence of ids; got shape {a.shape}"
            )
        if a.size == 0:
            raise ValueError(
                f"encode_padded: seqs[{i}] is empty; every sequence needs at least one token"
            )
        if a.dtype.kind not in "iu":
            raise TypeError(f"encode_padded: seqs[{i}] must hold integer ids; got dtype {a.dtype}")
    return pad_sequences(seqs, pad_value=pad_id, dtype=np.int64, batch_first=True, max_len=max_len)
