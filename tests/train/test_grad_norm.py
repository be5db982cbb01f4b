"""Both training loops report the global gradient norm (before clipping) every step."""

import copy

import numpy as np
import pytest

import numrnn
from numrnn.data import encode_padded, sequential_partition
from numrnn.functional import cross_entropy
from numrnn.models import CharLM, SequenceClassifier
from numrnn.train import EpochOptions, tbptt_train, train_classifier, train_epoch

# The norm is a sum of squares accumulated in float64 by both sides: equal to rounding.
RTOL = 1e-12


def _norm_by_hand(model):
    """sqrt of the sum of every squared gradient entry, written out with NumPy."""
    return float(np.sqrt(sum(np.sum(p.grad.astype(np.float64) ** 2) for p in model.parameters())))


def _lm():
    return CharLM(vocab_size=7, hidden_size=4, seed=0, dtype=np.float64)


def _stream():
    ids = np.random.default_rng(0).integers(0, 7, size=200)
    return list(sequential_partition(ids, batch_size=2, num_steps=5))


@pytest.mark.parametrize("clip_norm", [None, 1e-3])
def test_tbptt_train_passes_the_norm_before_clipping(clip_norm):
    stream = _stream()
    model = _lm()
    reference = copy.deepcopy(model)  # the same weights, stepped by hand below
    opt = numrnn.optim.SGD(model.parameters(), lr=0.1)
    ref_opt = numrnn.optim.SGD(reference.parameters(), lr=0.1)
    seen = []
    tbptt_train(model, stream, opt, clip_norm=clip_norm, on_step=lambda s, lo, g: seen.append(g))
    assert len(seen) == len(stream)
    state, expected = None, []
    for X, Y in stream:
        logits, state = reference(X, state)
        _, dlogits = cross_entropy(logits, Y)
        reference.backward(dlogits)
        expected.append(_norm_by_hand(reference))
        if clip_norm is not None:
            numrnn.optim.clip_grad_norm_(reference.parameters(), clip_norm)
        ref_opt.step()
        ref_opt.zero_grad()
    np.testing.assert_allclose(seen, expected, rtol=RTOL)
    if clip_norm is not None:  # clipping acted, and the norm reported is the one before it
        assert min(seen) > 10 * clip_norm


def _classifier_data():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(2, 9, size=rng.integers(1, 6)) for _ in range(40)]
    return seqs, rng.integers(0, 2, size=40)


def _classifier():
    return SequenceClassifier(9, 2, embed_size=3, hidden_size=4, seed=0, dtype=np.float64)


def test_train_epoch_passes_the_norm_of_each_batch():
    seqs, labels = _classifier_data()
    model = _classifier()
    start = copy.deepcopy(model)
    opt = numrnn.optim.SGD(model.parameters(), lr=0.1)
    seen = []
    train_epoch(
        model,
        seqs,
        labels,
        opt,
        EpochOptions(batch_size=8),
        rng=0,
        on_step=lambda s, lo, g: seen.append(g),
    )
    # The first batch by hand: the norm of the gradient at the initial weights.
    batch = next(
        iter(
            numrnn.data.batches(
                40,
                8,
                shuffle=True,
                rng=np.random.default_rng(0),
                lengths=np.array([len(s) for s in seqs]),
            )
        )
    )
    idx, lens = encode_padded([seqs[i] for i in batch], 0)
    start.train()
    _, dlogits = cross_entropy(start(idx, lens), labels[batch])
    start.backward(dlogits)
    assert len(seen) == 5
    np.testing.assert_allclose(seen[0], _norm_by_hand(start), rtol=RTOL)
    assert all(np.isfinite(seen)) and min(seen) > 0


def test_train_classifier_keeps_the_norms_in_its_history():
    seqs, labels = _classifier_data()
    model = _classifier()
    opt = numrnn.optim.SGD(model.parameters(), lr=0.1)
    hist = train_classifier(
        model,
        opt,
        (seqs, labels),
        options=EpochOptions(batch_size=8, clip_norm=0.5),
        epochs=2,
        show_progress=False,
    )
    assert len(hist["step_grad_norm"]) == hist["steps"] == 10
    assert all(np.isfinite(hist["step_grad_norm"]))
    assert max(hist["step_grad_norm"]) > 0.5  # the norm before clipping, not after
