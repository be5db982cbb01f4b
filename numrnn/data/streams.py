r"""Language-model minibatches from one long token sequence, and sliding windows.

Both partitions follow *Dive into Deep Learning* (section 8.3, "Reading Long
Sequence Data"): each batch is a pair ``(X, Y)`` of token ids with ``Y`` equal to
``X`` shifted one step ahead in the corpus, :math:`Y_{t,b} = \text{tokens}[p_b + t + 1]`
when :math:`X_{t,b} = \text{tokens}[p_b + t]`.

* :func:`sequential_partition` splits the corpus into ``batch_size`` contiguous
  streams and walks along them ``num_steps`` at a time, so column ``b`` of batch
  ``k + 1`` starts exactly where column ``b`` of batch ``k`` stopped.  The hidden
  state can then be carried from one batch to the next (detached: truncated
  backpropagation through time), as in Karpathy's min-char-rnn.
* :func:`random_partition` cuts the corpus into non-overlapping ``num_steps``
  subsequences and batches them in random order; adjacent batches are unrelated,
  so the hidden state is reset for each batch.

Arrays are time-major ``(num_steps, batch_size)`` by default, matching the
recurrent layers' default ``batch_first=False``; pass ``batch_first=True`` for
``(batch_size, num_steps)``.
"""

from __future__ import annotations

import numpy as np

from ..rng import make_rng

__all__ = [
    "RandomPartition",
    "SequentialPartition",
    "random_partition",
    "sequential_partition",
    "sliding_windows",
]


def _as_tokens(tokens, who):
    arr = np.asarray(tokens)
    if arr.ndim != 1:
        raise ValueError(
            f"{who}: tokens must be 1-D (a sequence of token ids); got shape {arr.shape}"
        )
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"{who}: tokens must be integer ids; got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _check_pos_int(who, name, v):
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
        raise ValueError(f"{who}: {name} must be an int >= 1; got {v!r}")


class SequentialPartition:
    """Iterable of ``(X, Y)`` batches over ``batch_size`` parallel streams (see
    :func:`sequential_partition`).  ``len()`` is the number of batches; iterating
    again yields the same batches (the offset is drawn once, at construction)."""

    def __init__(self, tokens, batch_size, num_steps, rng=None, offset=None, batch_first=False):
        who = "sequential_partition"
        tokens = _as_tokens(tokens, who)
        _check_pos_int(who, "batch_size", batch_size)
        _check_pos_int(who, "num_steps", num_steps)
        if offset is None:
            offset = 0 if rng is None else int(make_rng(rng=rng).integers(0, num_steps))
        elif not isinstance(offset, (int, np.integer)) or offset < 0:
            raise ValueError(f"{who}: offset must be a non-negative int; got {offset!r}")
        # Tokens usable after the offset, keeping one spare for the shifted targets.
        num_tokens = ((tokens.size - offset - 1) // batch_size) * batch_size
        stream_len = num_tokens // batch_size if num_tokens > 0 else 0
        if stream_len < num_steps:
            need = batch_size * num_steps + 1 + offset
            raise ValueError(
                f"{who}: {tokens.size} tokens are too few for batch_size={batch_size}, "
                f"num_steps={num_steps} (offset {offset}): need at least {need}"
            )
        self.offset = int(offset)
        self.batch_size, self.num_steps, self.batch_first = (
            int(batch_size),
            int(num_steps),
            bool(batch_first),
        )
        self.stream_length = stream_len
        # Row b is stream b: tokens[offset + b*L : offset + (b+1)*L], L = stream_len.
        self._xs = tokens[offset : offset + num_tokens].reshape(batch_size, stream_len)  # (B, L)
        self._ys = tokens[offset + 1 : offset + 1 + num_tokens].reshape(
            batch_size, stream_len
        )  # (B, L)

    def __len__(self):
        return self.stream_length // self.num_steps

    def __iter__(self):
        n = self.num_steps
        for k in range(len(self)):
            X = self._xs[:, k * n : (k + 1) * n]  # (B, num_steps)
            Y = self._ys[:, k * n : (k + 1) * n]
            if not self.batch_first:
                X, Y = X.T, Y.T  # (num_steps, B)
            yield np.ascontiguousarray(X), np.ascontiguousarray(Y)


def sequential_partition(
    tokens,
    batch_size: int,
    num_steps: int,
    rng=None,
    offset: int | None = None,
    batch_first: bool = False,
) -> SequentialPartition:
    r"""Sequential partitioning of a token sequence into ``(X, Y)`` minibatches.

    After dropping the first ``offset`` tokens, the corpus is cut into
    ``batch_size`` contiguous streams of length ``L`` (the remainder is dropped),
    and batch ``k`` holds steps ``k*num_steps .. (k+1)*num_steps - 1`` of every
    stream:

    .. math::
        X^{(k)}_{t,b} = \text{tokens}[o + bL + k n + t], \qquad
        Y^{(k)}_{t,b} = \text{tokens}[o + bL + k n + t + 1]

    with :math:`o` the offset and :math:`n` = ``num_steps``.  So ``X^{(k+1)}[0, b]``
    is the token right after ``X^{(k)}[-1, b]``: carry the hidden state across
    batches.  A final incomplete chunk is dropped.

    Args:
        tokens: 1-D integer ids (list or array).
        batch_size: number of parallel streams ``B``.
        num_steps: time steps per batch (the truncation length of BPTT).
        rng: Generator or seed; when given (and ``offset`` is None) the offset is
            drawn uniformly from ``[0, num_steps)``, so each epoch sees the corpus
            cut at different places.  ``None`` means offset 0.
        offset: an explicit offset (overrides ``rng``).
        batch_first: ``(B, num_steps)`` arrays instead of ``(num_steps, B)``.

    Returns:
        A :class:`SequentialPartition`: iterable of int64 ``(X, Y)`` pairs, each of
        shape ``(num_steps, batch_size)`` (or transposed), with ``len()``.

    Raises:
        ValueError: tokens not 1-D, non-positive sizes, or too few tokens for one batch.
        TypeError: tokens are not integers.
    """
    return SequentialPartition(
        tokens, batch_size, num_steps, rng=rng, offset=offset, batch_first=batch_first
    )


class RandomPartition:
    """Iterable of ``(X, Y)`` batches of randomly ordered subsequences (see
    :func:`random_partition`).  The offset and the order are drawn at construction,
    so iterating again repeats the same epoch; build a new one for the next epoch."""

    def __init__(self, tokens, batch_size, num_steps, rng=None, batch_first=False):
        who = "random_partition"
        tokens = _as_tokens(tokens, who)
        _check_pos_int(who, "batch_size", batch_size)
        _check_pos_int(who, "num_steps", num_steps)
        gen = make_rng(rng=rng)
        offset = int(gen.integers(0, num_steps))
        num_subseqs = (tokens.size - offset - 1) // num_steps
        if num_subseqs < batch_size:
            raise ValueError(
                f"{who}: {tokens.size} tokens are too few for batch_size={batch_size}, "
                f"num_steps={num_steps}: need at least {batch_size * num_steps + num_steps}"
            )
        self.offset = offset
        self.batch_size, self.num_steps, self.batch_first = (
            int(batch_size),
            int(num_steps),
            bool(batch_first),
        )
        self._tokens = tokens
        self._starts = offset + num_steps * gen.permutation(num_subseqs).astype(np.int64)  # (S,)

    def __len__(self):
        return self._starts.size // self.batch_size

    def __iter__(self):
        steps = np.arange(self.num_steps, dtype=np.int64)  # (n,)
        B = self.batch_size
        for k in range(len(self)):
            starts = self._starts[k * B : (k + 1) * B]
            if self.batch_first:
                pos = starts[:, None] + steps[None, :]  # (B, n)
            else:
                pos = steps[:, None] + starts[None, :]  # (n, B)
            yield self._tokens[pos], self._tokens[pos + 1]


def random_partition(
    tokens, batch_size: int, num_steps: int, rng=None, batch_first: bool = False
) -> RandomPartition:
    r"""Random sampling of ``(X, Y)`` minibatches from a token sequence.

    A random offset :math:`o \in [0, n)` is dropped, the rest is cut into
    non-overlapping subsequences starting at :math:`o + jn` (``n`` = ``num_steps``),
    and those are taken in random order, ``batch_size`` at a time:

    .. math::
        X_{t,b} = \text{tokens}[s_b + t], \qquad Y_{t,b} = \text{tokens}[s_b + t + 1]

    Subsequences left over after the last full batch are dropped.

    Args:
        tokens: 1-D integer ids.
        batch_size, num_steps: as in :func:`sequential_partition`.
        rng: Generator or seed (``None``: unseeded).
        batch_first: ``(B, num_steps)`` arrays instead of ``(num_steps, B)``.

    Returns:
        A :class:`RandomPartition`: iterable of int64 ``(X, Y)`` pairs with ``len()``.

    Raises:
        ValueError: tokens not 1-D, non-positive sizes, or too few tokens for one batch.
        TypeError: tokens are not integers.
    """
    return RandomPartition(tokens, batch_size, num_steps, rng=rng, batch_first=batch_first)


def sliding_windows(series, window: int, horizon: int = 1, stride: int = 1):
    r"""Cut a series into (input window, target) pairs for sequence regression.

    For a series :math:`x` of shape ``(N, *F)``, window ``w`` and horizon ``h``:

    .. math::
        X_i = x[i s : i s + w], \qquad y_i = x[i s + w + h - 1]

    Args:
        series: array-like of shape ``(N,)`` or ``(N, F)``.
        window: input length ``w`` (>= 1).
        horizon: how far past the window's last step the target lies (>= 1;
            1 = the next value).
        stride: step ``s`` between window starts (>= 1).

    Returns:
        ``(X, y)``: ``X`` of shape ``(M, w, *F)`` and ``y`` of shape ``(M, *F)``,
        copies in the series' dtype, ``M = (N - w - h) // s + 1``.

    Raises:
        ValueError: non-positive sizes, or a series shorter than ``w + h``.
    """
    x = np.asarray(series)
    for name, v in (("window", window), ("horizon", horizon), ("stride", stride)):
        _check_pos_int("sliding_windows", name, v)
    if x.ndim == 0 or x.shape[0] < window + horizon:
        raise ValueError(
            f"sliding_windows: series of length {x.shape[0] if x.ndim else 0} is shorter than "
            f"window + horizon = {window + horizon}"
        )
    M = (x.shape[0] - window - horizon) // stride + 1
    starts = np.arange(M) * stride  # (M,)
    X = x[starts[:, None] + np.arange(window)[None, :]]  # (M, w, *F)
    y = x[starts + window + horizon - 1]  # (M, *F)
    return X, y
