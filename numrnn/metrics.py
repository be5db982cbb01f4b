r"""Evaluation metrics: classification (accuracy, confusion matrix), perplexity, BLEU.

Classification
--------------
With :math:`M` the confusion matrix (:math:`M_{ij}` = number of items of true
class :math:`i` predicted as :math:`j`, :math:`n_i = \sum_j M_{ij}`):

.. math::
    \text{accuracy} = \frac{\sum_i M_{ii}}{\sum_{ij} M_{ij}}, \qquad
    \text{balanced accuracy} = \frac{1}{|\{i : n_i > 0\}|} \sum_{i:\, n_i > 0} \frac{M_{ii}}{n_i}

Balanced accuracy is the macro average of per-class recall (scikit-learn's
``balanced_accuracy_score``): every class counts the same however rare it is,
so on unbalanced data it shows what plain accuracy hides.

Perplexity
----------
:math:`\mathrm{PPL} = \exp(\bar L)` with :math:`\bar L` the mean per-token
cross-entropy in nats: the number of equally likely tokens a model is as
uncertain as.

BLEU
----
Corpus BLEU (Papineni et al., 2002) on pre-tokenised text.

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

import numpy as np

__all__ = [
    "BLEU",
    "accuracy",
    "balanced_accuracy",
    "check_labels",
    "confusion_matrix",
    "corpus_bleu",
    "ngram_counts",
    "normalize_rows",
    "per_class_recall",
    "perplexity",
    "sentence_bleu",
]


# -- classification ---------------------------------------------------------------
def check_labels(fn, name, y, num_classes=None):
    """``y`` as a 1-d int64 array of class ids in ``[0, num_classes)``.

    ``fn`` and ``name`` (the calling function and argument) go into the messages.

    Raises:
        ValueError: ``y`` is not 1-d, or an id lies outside ``[0, num_classes)``.
        TypeError: ``y`` does not hold integers.
    """
    a = np.asarray(y)
    if a.ndim != 1:
        raise ValueError(f"{fn}: {name} must be a 1-d array of class ids; got shape {a.shape}")
    if a.size and a.dtype.kind not in "iu":
        raise TypeError(f"{fn}: {name} must hold integer class ids; got dtype {a.dtype}")
    a = a.astype(np.int64)
    if num_classes is not None and a.size and (a.min() < 0 or a.max() >= num_classes):
        raise ValueError(
            f"{fn}: {name} must lie in [0, {num_classes}); got values in [{a.min()}, {a.max()}]"
        )
    return a


def confusion_matrix(y_true, y_pred, num_classes):
    """Counts ``M[i, j]`` of items of true class ``i`` predicted as class ``j``.

    Args:
        y_true, y_pred: 1-d integer arrays of the same length ``N``, values in
            ``[0, num_classes)``.
        num_classes: ``C`` (>= 1).

    Returns:
        int64 array ``(C, C)``; rows are true classes, columns predictions, and
        ``M.sum() == N``.

    Raises:
        ValueError: shapes differ or are not 1-d, ``num_classes < 1``, or a label
            lies outside ``[0, num_classes)``.
        TypeError: non-integer labels.
    """
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"confusion_matrix: num_classes must be an int >= 1; got {num_classes!r}")
    t = check_labels("confusion_matrix", "y_true", y_true, num_classes)
    p = check_labels("confusion_matrix", "y_pred", y_pred, num_classes)
    if t.shape != p.shape:
        raise ValueError(
            f"confusion_matrix: y_true and y_pred must have the same shape; "
            f"got {t.shape} and {p.shape}"
        )
    C = int(num_classes)
    return np.bincount(t * C + p, minlength=C * C).reshape(C, C)  # (C, C)


def accuracy(y_true, y_pred):
    """Fraction of items with ``y_pred == y_true``.

    Raises:
        ValueError: shapes differ, are not 1-d, or are empty.
    """
    t = check_labels("accuracy", "y_true", y_true)
    p = check_labels("accuracy", "y_pred", y_pred)
    if t.shape != p.shape:
        raise ValueError(
            f"accuracy: y_true and y_pred must have the same shape; got {t.shape} and {p.shape}"
        )
    if t.size == 0:
        raise ValueError("accuracy: no items (y_true is empty)")
    return float(np.mean(t == p))


def _square(fn, cm):
    m = np.asarray(cm)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{fn}: the confusion matrix must be square (C, C); got shape {m.shape}")
    return m


def per_class_recall(cm):
    """Recall of each class, ``M[i, i] / M[i].sum()``; NaN for a class with no items.

    Returns:
        float64 ``(C,)``.

    Raises:
        ValueError: ``cm`` is not a square matrix.
    """
    m = _square("per_class_recall", cm).astype(np.float64)
    n = m.sum(axis=1)  # (C,)
    out = np.full(m.shape[0], np.nan)
    np.divide(np.diag(m), n, out=out, where=n > 0)
    return out


def balanced_accuracy(cm):
    """Mean recall over the classes that have items (macro-averaged accuracy).

    Raises:
        ValueError: ``cm`` is not square or counts no items at all.
    """
    r = per_class_recall(cm)
    if np.all(np.isnan(r)):
        raise ValueError("balanced_accuracy: the confusion matrix counts no items")
    return float(np.nanmean(r))


def normalize_rows(cm):
    """Each row divided by its sum (rows of zeros stay zero): the fraction of each
    true class given to each prediction, for plotting.  Returns float64 ``(C, C)``."""
    m = _square("normalize_rows", cm).astype(np.float64)
    n = m.sum(axis=1, keepdims=True)
    return np.divide(m, n, out=np.zeros_like(m), where=n > 0)


# -- language models ----------------------------------------------------------------
def perplexity(mean_loss: float) -> float:
    r""":math:`\exp(\bar L)` for a mean per-token cross-entropy :math:`\bar L` in nats.

    Raises:
        ValueError: ``mean_loss`` is negative or not finite.
    """
    if not (isinstance(mean_loss, (int, float, np.floating)) and math.isfinite(mean_loss)):
        raise ValueError(f"perplexity: mean_loss must be a finite number; got {mean_loss!r}")
    if mean_loss < 0:
        raise ValueError(f"perplexity: mean_loss must be >= 0 (a cross-entropy); got {mean_loss}")
    return math.exp(mean_loss)


# -- BLEU ---------------------------------------------------------------------------
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
    counts, totals, sys_len, ref_len = _clipped_counts(hypotheses, references, max_order)
    precisions, valid = _precisions(counts, totals, smooth, value)
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


def _clipped_counts(hypotheses, references, max_order):
    """Clipped n-gram matches and totals per order, and the hypothesis and reference lengths."""
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
    return counts, totals, sys_len, ref_len


def _precisions(counts, totals, smooth, value):
    """The smoothed precisions :math:`p_n` in percent, and False when the score is 0."""
    max_order = len(counts)
    precisions = [0.0] * max_order
    valid, exp_k = any(counts), 1.0  # no match at all: 0 whatever the smoothing
    for n in range(1, max_order + 1 if valid else 1):
        match, total = float(counts[n - 1]), float(totals[n - 1])
        if smooth == "add-k" and n > 1:
            match, total = match + value, total + value
        if total == 0:  # no n-grams of this order in the whole corpus
            return precisions, False
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
    return precisions, valid


def sentence_bleu(hypothesis, references, max_order=4, smooth="exp", smooth_value=None):
    """BLEU of one hypothesis (a corpus of one), smoothed by default (``"exp"``), as sacrebleu does."""
    return corpus_bleu([hypothesis], [references], max_order, smooth, smooth_value)
