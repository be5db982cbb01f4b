"""Both training loops call on_step(step, loss, grad_norm) after every step; True stops
the pass."""

import numpy as np

import numrnn
from numrnn.data import sequential_partition
from numrnn.models import CharLM, SequenceClassifier
from numrnn.train import EpochOptions, tbptt_train, train_epoch


def _record(stop_at=None):
    calls, norms = [], []

    def on_step(step, loss, grad_norm):
        calls.append((step, loss))
        norms.append(grad_norm)
        return stop_at is not None and step == stop_at

    on_step.norms = norms
    return calls, on_step


def _lm_pass(on_step):
    ids = np.random.default_rng(0).integers(0, 7, size=200)
    model = CharLM(vocab_size=7, hidden_size=4, seed=0, dtype=np.float64)
    opt = numrnn.optim.SGD(model.parameters(), lr=0.1)
    stream = sequential_partition(ids, batch_size=2, num_steps=5)
    return tbptt_train(model, stream, opt, on_step=on_step)


def _classifier_pass(on_step):
    rng = np.random.default_rng(0)
    seqs = [rng.integers(2, 9, size=rng.integers(1, 6)) for _ in range(40)]
    labels = rng.integers(0, 2, size=40)
    model = SequenceClassifier(9, 2, embed_size=3, hidden_size=4, seed=0, dtype=np.float64)
    opt = numrnn.optim.SGD(model.parameters(), lr=0.1)
    return train_epoch(model, seqs, labels, opt, EpochOptions(batch_size=8), rng=0, on_step=on_step)


def test_tbptt_train_on_step():
    calls, on_step = _record()
    losses, _, stopped = _lm_pass(on_step)
    assert not stopped and len(losses) > 3
    assert calls == list(enumerate(losses))  # every step, counted from 0, with its loss
    calls, on_step = _record(stop_at=2)
    losses, _, stopped = _lm_pass(on_step)
    assert stopped and len(losses) == 3 and [c[0] for c in calls] == [0, 1, 2]


def test_train_epoch_on_step():
    calls, on_step = _record()
    losses, stopped = _classifier_pass(on_step)
    assert not stopped and len(losses) == 5  # 40 items in batches of 8
    assert calls == list(enumerate(losses))
    calls, on_step = _record(stop_at=1)
    losses, stopped = _classifier_pass(on_step)
    assert stopped and len(losses) == 2 and [c[0] for c in calls] == [0, 1]
