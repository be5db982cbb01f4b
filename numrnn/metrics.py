r"""Evaluation metrics: corpus BLEU (Papineni et al., 2002) on pre-tokenised text.

BLEU-:math:`N` of hypotheses :math:`h_i` with references :math:`R_i` counts,
for each order :math:`n \le N`, the hypotheses' n-grams and how many of them
appear in a reference, each n-gram credited at most as often as it occurs in
the reference where it is most frequent ("clipped" counts), summed over the
whole corpus before dividing:

.. math::

    p_n = \frac{\sum_i \sum_{g \in \text{n-grams}(h_i)} \min\big(c_{h_i}(g), \max_{r \in R_i} c_r(g)\big)}
               {\sum_i |\text{n-grams}(h_i)|}, \qquad
    \mathrm{BLEU} = 100 \cdot \mathrm{BP} \cdot \exp\Big(\frac1N \sum_{n=1}^N \log p_n\Big),

with the brevity penalty :math:`\mathrm{BP} = 1` if :math:`c > r`, else
:math:`e^{1 - r/c}` (:math:`0` if :math:`c = 0`), where :math:`c` is the total
hypothesis length and :math:`r` the sum over sentences of the reference length
closest to the hypothesis's (the shorter on a tie).

Smoothing (for the :math:`p_n` with no match) follows sacrebleu's names:
``"none"`` (the score is 0), ``"exp"`` (the :math:`k`-th order without a match
gets :math:`1 / (2^k\,\text{total}_n)`), ``"floor"`` (:math:`\epsilon / \text{total}_n`),
``"add-k"`` (:math:`k` added to the matches and the totals of orders :math:`n \ge 2`).
A corpus without a single matching unigram scores 0 whatever the smoothing.
The result equals ``sacrebleu.corpus_bleu`` with ``tokenize="none"`` on the
tokens joined by spaces.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

__all__ = ["BLEU", "corpus_bleu", "ngram_counts", "sentence_bleu"]

_SMOOTH = {"none": None, "exp": None, "floor": 0.1, "add-k": 1.0}


class BLEU(NamedTuple):
    """A BLEU result.

    Attributes:
        score: BLEU in ``[0, 100]``.
        precisions: the (smoothed) n-gram precisions ``p_n`` in percent, ``n = 1..N``.
        bp: the brevity penalty.
        sys_len: the total hypothesis length :math:`c`.
        ref_len: the effective reference length :math:`r`.
        counts: clipped matching n-grams per order.
        totals: hypothesis n-grams per order.
    """

    score: float
    precisions: tuple
    bp: float
    sys_len: int
    ref_len: int
    counts: tuple
    totals: tuple

    def __str__(self):
        p = "/".join(f"{x:.1f}" for x in self.precisions)
        return (
            f"BLEU = {self.score:.2f} {p} (BP = {self.bp:.3f} ratio = "
            f"{self.sys_len / max(self.ref_len, 1):.3f} hyp_len = {self.sys_len} ref_len = {self.ref_len})"
        )


def ngram_counts(tokens, max_order):
    """``Counter`` of every n-gram (tuple) of ``tokens`` with ``1 <= n <= max_order``."""
    out = Counter()
    for n in range(1, max_order + 1):
        for i in range(len(tokens) - n + 1):
            out[tuple(tokens[i : i + n])] += 1
    return out


def _is_tokens(x):
    return (
        isinstance(x, Sequence)
        and not isinstance(x, str)
        and all(not isinstance(t, (list, tuple)) for t in x)
    )


def _as_refs(refs, i):
    """A hypothesis's references as a list of token lists (one token list is one reference)."""
    if isinstance(refs, str) or not isinstance(refs, Sequence):
        raise TypeError(
            f"corpus_bleu: references[{i}] must be a token list or a list of token lists; "
            f"got {type(refs).__name__}"
        )
    if _is_tokens(refs):
        return [list(refs)]
    if not refs:
        raise ValueError(f"corpus_bleu: references[{i}] holds no reference")
    for r in refs:
        if not _is_tokens(r):
            raise TypeError(
                f"corpus_bleu: references[{i}] must be a token list or a list of token lists"
            )
    return [list(r) for r in refs]


def corpus_bleu(hypotheses, references, max_order=4, smooth="none", smooth_value=None):
    r"""Corpus-level BLEU of tokenised ``hypotheses`` against ``references``.

    Args:
        hypotheses: a list of token lists (strings or ids: anything hashable).
        references: one entry per hypothesis, either a token list (one reference)
            or a list of token lists (several references).
        max_order: :math:`N`, the largest n-gram order (4 for BLEU-4).
        smooth: ``"none"``, ``"exp"``, ``"floor"`` or ``"add-k"`` (see the module docstring).
        smooth_value: :math:`\epsilon` for ``"floor"`` (default 0.1), :math:`k` for ``"add-k"`` (default 1).

    Returns:
        A :class:`BLEU` (``.score`` in ``[0, 100]``).

    Raises:
        ValueError: different numbers of hypotheses and references, an empty
            corpus, ``max_order < 1`` or an unknown ``smooth``.
        TypeError: an entry is not a token list (a plain string is refused:
            tokenise it first).
    """
    if smooth not in _SMOOTH:
        raise ValueError(f"corpus_bleu: smooth must be one of {sorted(_SMOOTH)}; got {smooth!r}")
    if isinstance(max_order, bool) or not isinstance(max_order, int) or max_order < 1:
        raise ValueError(f"corpus_bleu: max_order must be an int >= 1; got {max_order!r}")
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise TypeError(
            "corpus_bleu: hypotheses and references must be lists of token lists, not strings"
        )
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(
            f"corpus_bleu: {len(hypotheses)} hypotheses but {len(references)} references"
        )
    if not hypotheses:
        raise ValueError("corpus_bleu: the corpus is empty")
    value = _SMOOTH[smooth] if smooth_value is None else float(smooth_value)
    counts, totals = [0] * max_order, [0] * max_order
    sys_len = ref_len = 0
    for i, (hyp, refs) in enumerate(zip(hypotheses, references)):
        if not _is_tokens(hyp):
            raise TypeError(
                f"corpus_bleu: hypotheses[{i}] must be a token list; got {type(hyp).__name__}"
            )
        hyp, refs = list(hyp), _as_refs(refs, i)
        c = len(hyp)
        sys_len += c
        # the reference length closest to the hypothesis's, the shorter on a tie
        ref_len += min((abs(len(r) - c), len(r)) for r in refs)[1]
        best = Counter()
        for r in refs:
            best |= ngram_counts(r, max_order)  # | keeps the larger count of each n-gram
        for gram, k in ngram_counts(hyp, max_order).items():
            counts[len(gram) - 1] += min(k, best[gram])
        for n in range(1, max_order + 1):
            totals[n - 1] += max(c - n + 1, 0)
    precisions = [0.0] * max_order
    log_sum, valid, exp_k = 0.0, any(counts), 1.0  # no match at all: 0 whatever the smoothing
    for n in range(1, max_order + 1 if valid else 1):
        match, total = float(counts[n - 1]), float(totals[n - 1])
        if smooth == "add-k" and n > 1:
            match, total = match + value, total + value
        if total == 0:  # no n-grams of this order in the whole corpus
            valid = False
            break
        if match == 0:
            if smooth == "exp":
                exp_k *= 2
                precisions[n - 1] = 100.0 / (exp_k * total)
            elif smooth == "floor":
                precisions[n - 1] = 100.0 * value / total
            else:
                valid = False
        else:
            precisions[n - 1] = 100.0 * match / total
    if sys_len == 0:
        bp = 0.0
    elif sys_len < ref_len:
        bp = math.exp(1.0 - ref_len / sys_len)
    else:
        bp = 1.0
    if valid and all(p > 0 for p in precisions):
        log_sum = sum(math.log(p / 100.0) for p in precisions) / max_order
        score = 100.0 * bp * math.exp(log_sum)
    else:
        score = 0.0
    return BLEU(score, tuple(precisions), bp, sys_len, ref_len, tuple(counts), tuple(totals))


def sentence_bleu(hypothesis, references, max_order=4, smooth="exp", smooth_value=None):
    """BLEU of one hypothesis (a corpus of one), smoothed by default (``"exp"``), as sacrebleu does."""
    return corpus_bleu([hypothesis], [references], max_order, smooth, smooth_value)
