r"""Greedy and beam-search decoding over any step function.

Both searches drive a *step function* and know nothing about the model behind it::

    log_probs, state, extra = step(tokens, state)

``tokens`` is an int64 array ``(K,)`` (the previous token of each of ``K``
hypotheses), ``log_probs`` a float array ``(K, V)`` of next-token log
probabilities (for greedy search any scores with the same argmax will do),
``state`` whatever the model carries from step to step, and ``extra`` an
optional ``(K, S)`` array recorded per step (the attention weights) or None.
Beam search also needs ``select(state, index) -> state``, which keeps the
hypotheses ``index`` (an int64 array, repeats allowed) of a state in that order.

Scores.  A hypothesis :math:`y_1 \dots y_n` has log probability
:math:`\log p = \sum_t \log p(y_t \mid y_{<t}, x)` and, with length
normalisation :math:`\alpha`, the score

.. math::  s(y) = \frac{\log p(y)}{n^{\alpha}},

where :math:`n` counts the generated tokens including the end-of-sequence token
(:math:`\alpha = 0`: the raw log probability, which favours short outputs;
:math:`\alpha = 1`: the mean per-token log probability).

Both functions run under whatever gradient mode the caller chose; the models
call them inside :class:`numrnn.no_grad`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..backend import to_numpy

__all__ = ["Hypothesis", "beam_search", "greedy_search", "length_normalised"]


class Hypothesis(NamedTuple):
    """One decoded output.

    Attributes:
        tokens: the generated ids, without the end-of-sequence id.
        log_prob: :math:`\\log p` of the tokens *and* the end-of-sequence token
            when it was produced (``finished``).
        score: ``log_prob / n**alpha``, ``n = len(tokens) + finished``.
        finished: True when the end-of-sequence token was produced within ``max_len``.
        attention: ``(len(tokens), S)`` array of the per-step ``extra`` (attention
            weights) for the returned tokens, or None when the step gives none.
    """

    tokens: list
    log_prob: float
    score: float
    finished: bool
    attention: np.ndarray | None


def length_normalised(log_prob, length, alpha):
    r""":math:`\log p / n^{\alpha}` (``length`` :math:`n \ge 1`; ``alpha`` :math:`\ge 0`)."""
    return float(log_prob) / (max(int(length), 1) ** float(alpha))


def _check_int(name, value, low):
    """Raise ``ValueError`` unless ``value`` is an int (not a bool) ``>= low``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        wanted = "a non-negative int" if low == 0 else f"an int >= {low}"
        raise ValueError(f"{name} must be {wanted}; got {value!r}")


def _check_common(bos_id, eos_id, max_len):
    _check_int("bos_id", bos_id, 0)
    _check_int("eos_id", eos_id, 0)
    _check_int("max_len", max_len, 1)


def _as_scores(log_probs, k):
    lp = to_numpy(log_probs).astype(np.float64, copy=False)
    if lp.ndim != 2 or lp.shape[0] != k:
        raise ValueError(f"step must return log_probs of shape ({k}, V); got {lp.shape}")
    return lp


def greedy_search(step, state, batch_size, bos_id, eos_id, max_len=50):
    """Pick the most probable token at every step, for a whole batch at once.

    Args:
        step: the step function (see the module docstring), called on all
            ``batch_size`` rows at every step until every row has produced
            ``eos_id`` or ``max_len`` steps are done.
        state: the initial state for the batch.
        batch_size: ``B``, the number of rows.
        bos_id, eos_id: the start and end-of-sequence ids.
        max_len: the largest number of generated tokens (end-of-sequence included).

    Returns:
        A list of ``B`` :class:`Hypothesis` (``score`` is the log probability,
        ``alpha = 0``).  Rows that finished early are fed ``eos_id`` afterwards;
        their outputs are unaffected.

    Raises:
        ValueError: a bad ``batch_size``, id or ``max_len``.
    """
    _check_common(bos_id, eos_id, max_len)
    _check_int("batch_size", batch_size, 1)
    B = int(batch_size)
    tokens = np.full(B, bos_id, dtype=np.int64)
    done = np.zeros(B, dtype=bool)
    length = np.zeros(B, dtype=np.int64)  # generated tokens per row, eos included
    log_prob = np.zeros(B)
    picked, extras = [], []
    for _ in range(int(max_len)):
        log_probs, state, extra = step(tokens, state)
        lp = _as_scores(log_probs, B)
        nxt = np.argmax(lp, axis=-1).astype(np.int64)  # (B,)
        nxt[done] = eos_id
        log_prob += np.where(done, 0.0, lp[np.arange(B), nxt])
        length += ~done
        picked.append(nxt)
        extras.append(None if extra is None else to_numpy(extra))
        done |= nxt == eos_id
        tokens = nxt
        if done.all():
            break
    picked = np.stack(picked, axis=1)  # (B, steps)
    out = []
    for b in range(B):
        n = int(length[b]) - int(done[b])  # tokens without the eos
        attn = (
            None
            if extras[0] is None
            else np.stack([e[b] for e in extras[:n]], axis=0)
            if n
            else np.zeros((0, extras[0].shape[-1]))
        )
        out.append(
            Hypothesis(
                picked[b, :n].tolist(), float(log_prob[b]), float(log_prob[b]), bool(done[b]), attn
            )
        )
    return out


def beam_search(step, state, select, bos_id, eos_id, beam_width=4, max_len=50, alpha=0.0, n_best=1):
    r"""Beam search for one source sequence.

    Keeps ``K = beam_width`` live (unfinished) prefixes.  At every step each live
    prefix is extended by every token and the extensions are ranked by
    :math:`\log p` (ties to the lower prefix, then the lower token id).  Going
    down that ranking, an extension that ends in ``eos_id`` and ranks within the
    first ``K`` becomes a finished hypothesis; other ``eos_id`` extensions are
    skipped; the first ``K`` extensions that do not end in ``eos_id`` are the
    next live prefixes (so the beam always refills to ``K``).

    The search stops after ``max_len`` steps (live prefixes are then returned too,
    as unfinished hypotheses), or once ``K`` hypotheses have finished and no live
    prefix can still rank among the best ``K``: with ``alpha == 0`` that is exact
    (extending a prefix can only lower :math:`\log p`, so it stops when the best
    live :math:`\log p` is at most the ``K``-th best finished one); with
    ``alpha > 0`` it is the usual heuristic, comparing the best live prefix as
    if it ended at the next step, :math:`\log p / (n + 1)^\alpha`, with the
    ``K``-th best finished score.  Hypotheses are ranked by the length-normalised
    score (module docstring).

    With ``beam_width=1`` and ``alpha=0`` this is greedy search, token for token.

    Long because the ranking, the finishing rule and the stopping rule above act on
    the same per-step lists (live prefixes, their scores and extras), and read best
    as the one loop that the description walks through.

    Args:
        step: the step function; called with ``K <= beam_width`` rows.
        state: the state for one row (``K = 1``), as the step function takes it.
        select: ``select(state, index) -> state`` keeping rows ``index``.
        bos_id, eos_id: the start and end-of-sequence ids.
        beam_width: ``K >= 1``.
        max_len: the largest number of generated tokens (end-of-sequence included).
        alpha: length-normalisation exponent :math:`\alpha \ge 0`.
        n_best: how many hypotheses to return.

    Returns:
        A list of up to ``n_best`` :class:`Hypothesis`, best score first.

    Raises:
        ValueError: ``beam_width < 1``, ``alpha < 0``, ``n_best < 1``, a bad id or ``max_len``.
    """
    _check_common(bos_id, eos_id, max_len)
    _check_int("beam_width", beam_width, 1)
    if not isinstance(alpha, (int, float, np.floating)) or not alpha >= 0:
        raise ValueError(f"alpha must be a number >= 0; got {alpha!r}")
    _check_int("n_best", n_best, 1)
    K, alpha = int(beam_width), float(alpha)
    live_tokens = [[]]  # token lists of the live prefixes
    live_attn = [[]]  # their per-step extras
    live_lp = np.zeros(1)  # their log probabilities
    tokens = np.array([bos_id], dtype=np.int64)
    finished = []  # Hypothesis
    for n in range(1, int(max_len) + 1):  # n: the length of every extension made at this step
        k = len(live_tokens)
        log_probs, state, extra = step(tokens, state)
        lp = _as_scores(log_probs, k)
        extra = None if extra is None else to_numpy(extra)
        V = lp.shape[1]
        cand = (live_lp[:, None] + lp).reshape(-1)  # (k * V,)
        m = min(2 * K, cand.size)  # K live ones are always among the best 2K (at most K end in eos)
        top = np.argpartition(-cand, m - 1)[:m] if m < cand.size else np.arange(cand.size)
        top = top[np.lexsort((top, -cand[top]))]  # by log p, ties to the lower flat index
        keep_rows, new_tokens, new_attn, new_lp = [], [], [], []
        for rank, flat in enumerate(top.tolist()):
            row, tok = divmod(flat, V)
            attn = live_attn[row] + ([] if extra is None else [extra[row]])
            if tok == eos_id:
                if rank < K:
                    seq = live_tokens[row]
                    att = (
                        None
                        if extra is None
                        else (
                            np.stack(attn[: len(seq)], 0) if seq else np.zeros((0, extra.shape[-1]))
                        )
                    )
                    finished.append(
                        Hypothesis(
                            list(seq),
                            float(cand[flat]),
                            length_normalised(cand[flat], n, alpha),
                            True,
                            att,
                        )
                    )
            elif len(keep_rows) < K:
                keep_rows.append(row)
                new_tokens.append(live_tokens[row] + [tok])
                new_attn.append(attn)
                new_lp.append(cand[flat])
        live_tokens, live_attn, live_lp = new_tokens, new_attn, np.array(new_lp)
        if not keep_rows:
            break
        if len(finished) >= K:
            kth = sorted((h.score for h in finished), reverse=True)[K - 1]
            if length_normalised(live_lp.max(), n + 1, alpha) <= kth:
                live_tokens = []
                break
        if n == max_len:
            break
        idx = np.array(keep_rows, dtype=np.int64)
        state = select(state, idx)
        tokens = np.array([t[-1] for t in live_tokens], dtype=np.int64)
    for seq, attn, lpv in zip(live_tokens, live_attn, live_lp if live_tokens else []):
        finished.append(
            Hypothesis(
                list(seq),
                float(lpv),
                length_normalised(lpv, len(seq), alpha),
                False,
                np.stack(attn, 0) if attn else None,
            )
        )
    finished.sort(key=lambda h: -h.score)
    return finished[: int(n_best)]
