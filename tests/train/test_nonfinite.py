"""The training loops stop at the first non-finite loss or gradient, before stepping."""

import numpy as np
import pytest

import numrnn
from numrnn.data import sequential_partition
from numrnn.functional import cross_entropy
from numrnn.models import CharLM, SequenceClassifier
from numrnn.train import EpochOptions, tbptt_train, train_epoch, update

BAD_STEP = 3


def _snapshot(model):
    return {n: p.data.copy() for n, p in model.named_parameters()}


def _assert_unchanged(model, snap):
    for n, p in model.named_parameters():
        np.testing.assert_array_equal(p.data, snap[n], err_msg=n)  # bit for bit, NaN == NaN


def _snapshot_before(step, model, into):
    """An on_step that records the parameters after step ``step - 1``: those ``step``
    starts from."""

    def on_step(s, loss, grad_norm):
        if s == step - 1:
            into.update(_snapshot(model))

    return on_step


class PoisonedLM(CharLM):
    """A CharLM whose backward writes ``value`` into one gradient at one call."""

    def __init__(self, name, value, at, **kw):
        super().__init__(**kw)
        self.poison, self.calls = (name, value, at), 0

    def backward(self, dlogits):
        super().backward(dlogits)
        name, value, at = self.poison
        if self.calls == at:
            dict(self.named_parameters())[name].grad[1, 0] = value
        self.calls += 1


def _stream():
    ids = np.random.default_rng(0).integers(0, 7, size=200)
    return list(sequential_partition(ids, batch_size=2, num_steps=5))


@pytest.mark.parametrize("value, word", [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "inf")])
@pytest.mark.parametrize("clip_norm", [None, 1.0])
def test_tbptt_train_names_the_step_and_the_parameter(value, word, clip_norm):
    model = PoisonedLM(
        "rnn.weight_hh_l0", value, BAD_STEP, vocab_size=7, hidden_size=4, seed=0, dtype=np.float64
    )
    opt = numrnn.optim.Adam(model.parameters(), lr=0.01)
    before = {}
    with pytest.raises(FloatingPointError) as err:
        tbptt_train(
            model,
            _stream(),
            opt,
            clip_norm=clip_norm,
            on_step=_snapshot_before(BAD_STEP, model, before),
        )
    assert str(err.value) == f"step {BAD_STEP}: gradient of rnn.weight_hh_l0 is not finite ({word})"
    _assert_unchanged(model, before)
    # The gradients are left for inspection, unclipped: the poisoned entry is still there.
    assert np.array_equal(model.rnn.weight_hh_l0.grad[1, 0], value, equal_nan=True)


def test_tbptt_train_stops_at_a_nan_loss_from_a_custom_loss():
    calls = []

    def loss_fn(logits, Y):
        loss, dlogits = cross_entropy(logits, Y)
        calls.append(1)
        return (np.nan if len(calls) == BAD_STEP + 1 else loss), dlogits

    model = CharLM(vocab_size=7, hidden_size=4, seed=0, dtype=np.float64)
    opt = numrnn.optim.SGD(model.parameters(), lr=0.1)
    before = {}
    with pytest.raises(FloatingPointError, match=rf"^step {BAD_STEP}: loss is not finite \(nan\)$"):
        tbptt_train(
            model,
            _stream(),
            opt,
            loss_fn=loss_fn,
            on_step=_snapshot_before(BAD_STEP, model, before),
        )
    _assert_unchanged(model, before)


def _classifier_data():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(2, 9, size=rng.integers(1, 6)) for _ in range(48)]
    return seqs, rng.integers(0, 2, size=48)


def test_train_epoch_stops_at_a_poisoned_weight():
    # A NaN written into one weight after step 2 makes step 3's loss NaN.
    seqs, labels = _classifier_data()
    model = SequenceClassifier(9, 2, embed_size=3, hidden_size=4, seed=0, dtype=np.float64)
    opt = numrnn.optim.SGD(model.parameters(), lr=0.1)
    before = {}

    def on_step(step, loss, grad_norm):
        if step == BAD_STEP - 1:
            model.head.weight.data[0, 0] = np.nan
            before.update(_snapshot(model))

    with pytest.raises(FloatingPointError, match=rf"^step {BAD_STEP}: loss is not finite \(nan\)$"):
        train_epoch(model, seqs, labels, opt, EpochOptions(batch_size=8), rng=0, on_step=on_step)
    _assert_unchanged(model, before)


def test_train_epoch_names_a_non_finite_gradient():
    class Poisoned(SequenceClassifier):
        calls = 0

        def backward(self, dlogits):
            super().backward(dlogits)
            if self.calls == BAD_STEP:
                self.embedding.weight.grad[4, 1] = np.inf
            self.calls += 1

    seqs, labels = _classifier_data()
    model = Poisoned(9, 2, embed_size=3, hidden_size=4, seed=0, dtype=np.float64)
    opt = numrnn.optim.SGD(model.parameters(), lr=0.1)
    before = {}
    with pytest.raises(FloatingPointError) as err:
        train_epoch(
            model,
            seqs,
            labels,
            opt,
            EpochOptions(batch_size=8, clip_norm=1.0),
            rng=0,
            on_step=_snapshot_before(BAD_STEP, model, before),
        )
    assert str(err.value) == f"step {BAD_STEP}: gradient of embedding.weight is not finite (inf)"
    _assert_unchanged(model, before)


def test_update_returns_the_norm_and_refuses_a_nan_gradient():
    model = numrnn.Linear(2, 2, dtype=np.float64, seed=0)
    opt = numrnn.optim.SGD(model.parameters(), lr=0.1)
    model.weight.grad[...] = [[3.0, 0.0], [0.0, 0.0]]
    model.bias.grad[...] = [4.0, 0.0]
    assert update(model, opt) == 5.0
    model.bias.grad[1] = np.nan
    w = model.weight.data.copy()
    with pytest.raises(FloatingPointError, match=r"^gradient of bias is not finite \(nan\)$"):
        update(model, opt)  # no step given: none named
    with pytest.raises(FloatingPointError, match=r"^step 0: gradient of bias is not finite"):
        update(model, opt, step=0)
    np.testing.assert_array_equal(model.weight.data, w)


def test_update_on_the_torch_backend_measures_and_refuses_alike():
    pytest.importorskip("torch")
    model = numrnn.Linear(2, 2, dtype=np.float64, seed=0, backend="torch")
    opt = numrnn.optim.SGD(model.parameters(), lr=0.1)
    model.weight.grad[...] = 0.0
    model.bias.grad[...] = 0.0
    model.weight.grad[0, 0], model.bias.grad[0] = 3.0, 4.0
    assert update(model, opt) == 5.0
    model.weight.grad[1, 1] = float("inf")
    w = numrnn.backend.to_numpy(model.weight.data).copy()
    with pytest.raises(FloatingPointError, match=r"^step 7: gradient of weight is not finite"):
        update(model, opt, clip_norm=1.0, step=7)
    np.testing.assert_array_equal(numrnn.backend.to_numpy(model.weight.data), w)
