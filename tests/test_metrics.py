"""Corpus BLEU: hand-computed values and agreement with sacrebleu."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numrnn.metrics import corpus_bleu, ngram_counts, sentence_bleu


def test_hand_computed_value():
    # 1-4 gram precisions 4/5, 3/4, 2/3, 1/2; c = 5 < r = 6: BP = exp(1 - 6/5)
    hyp = ["a", "b", "c", "d", "e"]
    ref = ["a", "b", "c", "d", "f", "g"]
    b = corpus_bleu([hyp], [ref])
    expected = 100 * math.exp(-0.2) * (4 / 5 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25
    assert b.score == pytest.approx(expected, rel=1e-14)
    assert b.counts == (4, 3, 2, 1) and b.totals == (5, 4, 3, 2)
    assert (b.sys_len, b.ref_len) == (5, 6)


def test_identical_is_100_and_clipping():
    s = ["the", "cat", "sat", "on", "the", "mat"]
    assert corpus_bleu([s, s[:4]], [s, s[:4]]).score == pytest.approx(100.0)
    # Papineni's example: 7 x "the" against a reference with two "the": unigram precision 2/7
    b = corpus_bleu([["the"] * 7], [["the", "cat", "is", "on", "the", "mat"]], max_order=1)
    assert b.precisions[0] == pytest.approx(100 * 2 / 7)
    assert b.score == pytest.approx(100 * 2 / 7)  # c = 7 > r = 6: no brevity penalty
    assert (
        corpus_bleu([["the"] * 7], [["the", "cat", "is", "on", "the", "mat"]]).score == 0.0
    )  # no bigram match


def test_corpus_level_counts_are_pooled():
    # sentence 1 matches everything, sentence 2 nothing at order 4: the corpus score is not 0
    h = [list("abcde"), list("vwxyz")]
    r = [list("abcde"), list("vwxqq")]
    b = corpus_bleu(h, r)
    assert b.counts == (8, 6, 4, 2) and b.totals == (10, 8, 6, 4)
    assert b.score == pytest.approx(100 * (0.8 * 0.75 * 4 / 6 * 0.5) ** 0.25)


def test_multiple_references_closest_length_and_max_counts():
    hyp = ["a", "a", "b"]
    refs = [["a", "b"], ["a", "a", "b", "c"]]  # |3-2| = |3-4|: tie, the shorter (2) is used
    b = corpus_bleu([hyp], [refs], max_order=2)
    assert b.ref_len == 2 and b.bp == 1.0
    assert b.counts == (3, 2)  # "a" counted twice thanks to the second reference


def test_empty_hypothesis_and_errors():
    assert corpus_bleu([[]], [["a"]]).score == 0.0
    with pytest.raises(ValueError, match="hypotheses"):
        corpus_bleu([["a"]], [])
    with pytest.raises(TypeError, match="token list"):
        corpus_bleu(["a b"], [["a", "b"]])
    with pytest.raises(ValueError, match="smooth"):
        corpus_bleu([["a"]], [["a"]], smooth="magic")


def test_ngram_counts():
    c = ngram_counts([1, 2, 1, 2], 2)
    assert c[(1,)] == 2 and c[(1, 2)] == 2 and c[(2, 1)] == 1


# ------------------------------------------------------------------------- sacrebleu
def _sacre(hyps, refs, smooth="none", value=None, multi=False):
    sacrebleu = pytest.importorskip("sacrebleu")
    from sacrebleu.metrics import BLEU

    kw = {"smooth_method": smooth, "tokenize": "none", "force": True}
    if value is not None:
        kw["smooth_value"] = value
    metric = BLEU(**kw)
    hs = [" ".join(h) for h in hyps]
    if multi:
        streams = [[" ".join(r[k]) for r in refs] for k in range(len(refs[0]))]
    else:
        streams = [[" ".join(r) for r in refs]]
    del sacrebleu
    return metric.corpus_score(hs, streams)


def _random_corpus(rng, n, vocab=6, max_len=12, refs=1):
    words = [f"w{i}" for i in range(vocab)]

    def sent(lo=1):
        return [words[i] for i in rng.integers(0, vocab, rng.integers(lo, max_len + 1))]

    hyps = [sent() for _ in range(n)]
    if refs == 1:
        return hyps, [sent() for _ in range(n)]
    return hyps, [[sent() for _ in range(refs)] for _ in range(n)]


@pytest.mark.parametrize(
    "smooth,value", [("none", None), ("exp", None), ("floor", 0.1), ("add-k", 1)]
)
@pytest.mark.parametrize("seed", range(4))
def test_matches_sacrebleu_random_corpora(seed, smooth, value):
    rng = np.random.default_rng(seed)
    hyps, refs = _random_corpus(rng, n=int(rng.integers(1, 30)), vocab=int(rng.integers(3, 10)))
    ours = corpus_bleu(hyps, refs, smooth=smooth, smooth_value=value)
    ref = _sacre(hyps, refs, smooth, value)
    # sacrebleu sums the same logs in the same order: agreement to rounding
    assert ours.score == pytest.approx(ref.score, rel=1e-12, abs=1e-12)
    assert ours.sys_len == ref.sys_len and ours.ref_len == ref.ref_len
    if smooth != "add-k":  # sacrebleu reports add-k's counts with k added; ours are the raw counts
        assert list(ours.counts) == list(ref.counts) and list(ours.totals) == list(ref.totals)


@pytest.mark.parametrize("seed", range(3))
def test_matches_sacrebleu_multiple_references(seed):
    rng = np.random.default_rng(100 + seed)
    hyps, refs = _random_corpus(rng, n=15, vocab=5, refs=3)
    ours = corpus_bleu(hyps, refs, smooth="exp")
    ref = _sacre(hyps, refs, "exp", multi=True)
    assert ours.score == pytest.approx(ref.score, rel=1e-12)
    assert ours.ref_len == ref.ref_len


def test_matches_sacrebleu_realistic_sentences():
    refs = [
        s.split()
        for s in [
            "le chat est sur le tapis .",
            "ouvrir un nouvel onglet",
            "enregistrer le fichier sous ...",
            "fermer tous les onglets",
        ]
    ]
    hyps = [
        s.split()
        for s in [
            "le chat est sur un tapis .",
            "ouvrir le nouvel onglet",
            "enregistrer le fichier",
            "fermer les autres onglets",
        ]
    ]
    for smooth in ("none", "exp"):
        assert corpus_bleu(hyps, refs, smooth=smooth).score == pytest.approx(
            _sacre(hyps, refs, smooth).score, rel=1e-12
        )
    assert sentence_bleu(hyps[0], refs[0]).score == pytest.approx(
        _sacre(hyps[:1], refs[:1], "exp").score, rel=1e-12
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.integers(0, 4), max_size=9),
            st.lists(st.integers(0, 4), min_size=1, max_size=9),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_matches_sacrebleu_property(pairs):
    hyps = [[f"t{i}" for i in h] for h, _ in pairs]
    refs = [[f"t{i}" for i in r] for _, r in pairs]
    ours = corpus_bleu(hyps, refs, smooth="exp")
    ref = _sacre(hyps, refs, "exp")
    assert ours.score == pytest.approx(ref.score, rel=1e-12, abs=1e-12)


def test_no_match_is_zero_even_smoothed():
    for smooth in ("none", "exp", "floor", "add-k"):
        assert corpus_bleu([["x", "x", "x", "x"]], [["y"]], smooth=smooth).score == 0.0
