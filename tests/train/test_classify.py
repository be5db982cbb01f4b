"""Tests of numrnn.train.classify: prediction, evaluation and the training loop."""

import math

import numpy as np
import pytest

import numrnn
from numrnn.data import encode_padded
from numrnn.models import SequenceClassifier
from numrnn.train import (
    EpochOptions,
    class_weights,
    evaluate,
    predict_logits,
    predict_proba,
    train_classifier,
    train_epoch,
)


def test_class_weights():
    y = np.array([0] * 6 + [1] * 3 + [2] * 1)
    w = class_weights(y, 4)
    # N / (C' n_c) with C' = 3 classes present: 10/18, 10/9, 10/3; class 3 absent -> 0
    np.testing.assert_allclose(w, [10 / 18, 10 / 9, 10 / 3, 0])
    counts = np.bincount(y, minlength=4)
    np.testing.assert_allclose(
        (w * counts)[:3], 10 / 3
    )  # every class carries the same total weight
    np.testing.assert_allclose(
        class_weights(y, 4, power=0.5), np.sqrt([10 / 18, 10 / 9, 10 / 3, 0])
    )
    np.testing.assert_allclose(class_weights(y, 3, power=0), 1.0)
    with pytest.raises(ValueError, match="power"):
        class_weights(y, 3, power=-1)


# ---------------------------------------------------------------------------------
# prediction and evaluation
# ---------------------------------------------------------------------------------
def _model(cell="gru", bidirectional=True, vocab=12, classes=3, seed=0):
    return SequenceClassifier(
        vocab,
        classes,
        embed_size=6,
        hidden_size=5,
        cell=cell,
        bidirectional=bidirectional,
        dtype=np.float64,
        seed=seed,
    )


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_predict_logits_keeps_order_and_ignores_padding(cell):
    rng = np.random.default_rng(0)
    seqs = [rng.integers(1, 12, size=n) for n in (5, 1, 9, 3, 3, 7, 2)]
    model = _model(cell)
    got = predict_logits(model, seqs, batch_size=3)  # batches sorted by length, padded
    # Expected: each sequence alone, unpadded, in the order given.
    want = np.concatenate([model.predict_proba(s[None], np.array([len(s)])) for s in seqs])
    np.testing.assert_allclose(
        predict_proba(model, seqs, batch_size=3), want, rtol=1e-12, atol=1e-14
    )
    assert got.shape == (7, 3)
    assert model.training  # mode restored


class _Lookup:
    """A stand-in model: the logits of a sequence are a fixed row chosen by its first token."""

    training = True

    def __init__(self, table):
        self.table = np.asarray(table, dtype=np.float64)

    def __call__(self, idx, lengths):
        return self.table[idx[:, 0]]

    def train(self, mode=True):
        self.training = mode

    def eval(self):
        self.training = False


def test_evaluate_against_hand_values():
    table = [
        [0.0, 0.0],
        [2.0, 0.0],
        [0.0, 3.0],
    ]  # token 0 -> tie (class 0), 1 -> class 0, 2 -> class 1
    seqs = [[1, 5], [2], [2, 7, 7], [1], [0]]
    labels = np.array([0, 1, 0, 1, 1])
    r = evaluate(_Lookup(table), seqs, labels, num_classes=2, batch_size=2)
    np.testing.assert_array_equal(r["pred"], [0, 1, 1, 0, 0])
    np.testing.assert_array_equal(r["confusion"], [[1, 1], [2, 1]])
    assert r["accuracy"] == pytest.approx(2 / 5)
    assert r["balanced_accuracy"] == pytest.approx((1 / 2 + 1 / 3) / 2)
    # mean of -log softmax(row)[label], written out
    nll = [
        math.log(1 + math.exp(-2)),
        math.log(1 + math.exp(-3)),
        3 + math.log(1 + math.exp(-3)),
        2 + math.log(1 + math.exp(-2)),
        math.log(2),
    ]
    assert r["loss"] == pytest.approx(np.mean(nll), rel=1e-12)
    with pytest.raises(ValueError, match="5 sequences but 4 labels"):
        evaluate(_Lookup(table), seqs, labels[:4])


# ---------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------
def _task(n, seed):
    """Class = whether token 3 occurs anywhere in the sequence (needs memory over time)."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for _ in range(n):
        s = rng.integers(4, 10, size=rng.integers(2, 9))
        y = int(rng.random() < 0.5)
        if y:
            s[rng.integers(len(s))] = 3
        seqs.append(s)
        labels.append(y)
    return seqs, np.array(labels)


def test_train_classifier_learns_a_simple_task_and_restores_the_best_epoch():
    train, val = _task(400, 0), _task(100, 1)
    model = SequenceClassifier(10, 2, embed_size=8, hidden_size=16, cell="gru", seed=0)
    opt = numrnn.optim.Adam(model.parameters(), lr=1e-2)
    hist = train_classifier(
        model,
        opt,
        train,
        val,
        EpochOptions(batch_size=32, clip_norm=5.0),
        epochs=6,
        rng=0,
        show_progress=False,
    )
    assert hist["epoch"] == list(range(1, 7)) and hist["steps"] == 6 * 13
    assert hist["train_loss"][-1] < 0.5 * hist["train_loss"][0]
    best = hist["best_epoch"]
    assert hist["val_accuracy"][best - 1] == max(hist["val_accuracy"])
    assert hist["val_accuracy"][best - 1] > 0.9
    # the kept weights are those of the best epoch
    assert evaluate(model, *val)["accuracy"] == pytest.approx(hist["val_accuracy"][best - 1])


def test_train_classifier_early_stopping_and_time_budget():
    train, val = _task(64, 0), _task(32, 1)
    model = SequenceClassifier(10, 2, embed_size=4, hidden_size=4, cell="rnn", seed=0)
    opt = numrnn.optim.Adam(model.parameters(), lr=0.0)  # nothing changes: no epoch beats the first
    hist = train_classifier(
        model,
        opt,
        train,
        val,
        EpochOptions(batch_size=16),
        epochs=10,
        patience=2,
        show_progress=False,
    )
    assert hist["stopped_early"] and hist["epoch"] == [1, 2, 3] and hist["best_epoch"] == 1
    hist = train_classifier(
        model,
        opt,
        train,
        None,
        EpochOptions(batch_size=16),
        epochs=10,
        time_budget=0.0,
        show_progress=False,
    )
    assert hist["steps"] == 1 and hist["epoch"] == [1]


def test_train_epoch_step_equals_a_hand_written_weighted_step():
    # One batch of train_epoch must be exactly: forward, weighted cross-entropy, backward,
    # one optimiser step.  The same step written out here, on a copy of the model, must
    # give the same parameters (float64; only the row order inside the batch differs, so
    # sums are reassociated: agreement to ~1e-15 relative, checked at 1e-12), and the
    # unweighted step must give different ones (the weight is really used).
    from numrnn.functional import cross_entropy

    seqs = [np.array([4, 5, 6]), np.array([6]), np.array([7, 8]), np.array([3, 3, 3, 9])]
    y = np.array([0, 1, 2, 0])
    w = np.array([0.2, 1.0, 3.0])
    results = {}
    for name, weight in (("weighted", w), ("plain", None)):
        model = _model("lstm", vocab=10)
        opt = numrnn.optim.SGD(model.parameters(), lr=0.5)
        options = EpochOptions(batch_size=4, weight=weight)
        losses, stopped = train_epoch(model, seqs, y, opt, options, rng=0)
        assert not stopped and len(losses) == 1
        results[name] = model.state_dict()
    ref = _model("lstm", vocab=10)
    opt = numrnn.optim.SGD(ref.parameters(), lr=0.5)
    idx, lengths = encode_padded(seqs)
    loss, dlogits = cross_entropy(ref(idx, lengths), y, weight=w)
    ref.backward(dlogits)
    opt.step()
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(results["weighted"][k], v, rtol=1e-12, atol=1e-15, err_msg=k)
    assert any(not np.allclose(results["plain"][k], v) for k, v in ref.state_dict().items())


class _Spy(SequenceClassifier):
    """Records the padded ids it is given."""

    def forward(self, idx, lengths=None):
        self.seen.append(np.array(idx))
        return super().forward(idx, lengths)


def test_word_dropout_replaces_tokens_by_unk_but_never_padding():
    rng = np.random.default_rng(3)
    seqs = [rng.integers(2, 10, size=n) for n in rng.integers(1, 30, size=200)]
    labels = rng.integers(0, 2, size=200)
    model = _Spy(10, 2, embed_size=4, hidden_size=4, cell="rnn", seed=0)
    model.seen = []
    opt = numrnn.optim.SGD(model.parameters(), lr=0.0)
    options = EpochOptions(batch_size=50, bucket=False, word_dropout=0.25, unk_id=1)
    train_epoch(model, seqs, labels, opt, options, rng=0)
    order = np.random.default_rng(0).permutation(200)  # what batches(..., rng=0) draws first
    unk = total = 0
    for k, idx in enumerate(model.seen):
        want, _ = encode_padded([seqs[i] for i in order[50 * k : 50 * (k + 1)]])
        real = want != 0
        np.testing.assert_array_equal(idx[~real], 0)  # padding untouched
        kept = idx[real] != 1
        np.testing.assert_array_equal(idx[real][kept], want[real][kept])  # others unchanged
        unk += int((~kept).sum())
        total += int(real.sum())
    # ~3,000 tokens: the fraction replaced is 0.25 within 5 standard deviations (0.04)
    assert abs(unk / total - 0.25) < 5 * math.sqrt(0.25 * 0.75 / total)
    with pytest.raises(ValueError, match=r"word_dropout must be a number in \[0, 1\); got 1.0"):
        EpochOptions(word_dropout=1.0)
    with pytest.raises(TypeError, match="options must be an EpochOptions or None; got int"):
        train_epoch(model, seqs, labels, opt, 50)


def test_train_classifier_rejects_bad_arguments():
    model = _model()
    opt = numrnn.optim.Adam(model.parameters())
    data = ([np.array([1, 2])], np.array([0]))
    with pytest.raises(ValueError, match="monitor"):
        train_classifier(model, opt, data, monitor="f1")
    with pytest.raises(ValueError, match="epochs"):
        train_classifier(model, opt, data, epochs=0)
    with pytest.raises(ValueError, match="patience"):
        train_classifier(model, opt, data, patience=0)
    with pytest.raises(ValueError, match="1 sequences but 2 labels"):
        train_epoch(model, data[0], np.array([0, 1]), opt)
