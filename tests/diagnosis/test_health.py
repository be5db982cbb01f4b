"""check_training_health: each verdict, on a healthy classifier and on broken ones."""

import math

import numpy as np
import pytest

import numrnn
from numrnn.diagnosis import check_training_health
from numrnn.functional import cross_entropy
from numrnn.models import SequenceClassifier


def batch(seed=0, B=6, T=5, V=12):
    rng = np.random.default_rng(seed)
    idx = rng.integers(1, V, size=(B, T))
    return idx, np.full(B, T), rng.integers(0, 3, size=B)


def loss_fn(model, b):
    idx, lengths, y = b
    logits = model(idx, lengths)
    loss, dlogits = cross_entropy(logits, y)
    model.backward(dlogits)
    return loss


def model(**kw):
    return SequenceClassifier(12, 3, embed_size=8, hidden_size=16, dtype=np.float64, seed=0, **kw)


def test_a_healthy_classifier_passes_every_check_and_is_left_unchanged():
    m = model()
    before = {n: p.data.copy() for n, p in m.named_parameters()}
    lines = []
    report = check_training_health(m, loss_fn, batch(), num_classes=3, out=lines.append)
    assert report.passed, lines[0]
    assert [name for name, _, _ in report.checks] == [
        "loss at init",
        "finite gradients",
        "non-zero gradients",
        "overfit one batch",
    ]
    assert lines[0].splitlines()[-1] == "training health: ok"
    for n, p in m.named_parameters():
        np.testing.assert_array_equal(p.data, before[n])


def test_a_confident_initialisation_fails_the_ln_c_check():
    m = model()
    m.head.bias.data[...] = [20.0, 0.0, 0.0]  # one class favoured by e^20 at initialisation
    report = check_training_health(m, loss_fn, batch(), num_classes=3, overfit_steps=1, out=None)
    ok = {name: ok for name, ok, _ in report.checks}
    assert not ok["loss at init"]


def test_a_parameter_cut_off_from_the_loss_is_named():
    m = model()

    def loss_without_head_bias(model, b):
        loss = loss_fn(model, b)
        model.head.bias.grad[...] = 0.0  # as if the backward forgot the bias
        return loss

    report = check_training_health(m, loss_without_head_bias, batch(), overfit_steps=1, out=None)
    detail = {name: (ok, d) for name, ok, d in report.checks}
    assert detail["non-zero gradients"] == (False, "no gradient reaches head.bias")


def test_a_wrong_backward_cannot_overfit_and_non_finite_gradients_are_named():
    m = model()

    def wrong_sign(model, b):
        idx, lengths, y = b
        loss, dlogits = cross_entropy(model(idx, lengths), y)
        model.backward(-dlogits)  # ascends the loss
        return loss

    report = check_training_health(m, wrong_sign, batch(), overfit_steps=50, out=None)
    assert not {n: ok for n, ok, _ in report.checks}["overfit one batch"]

    def nan_grad(model, b):
        loss = loss_fn(model, b)
        model.head.weight.grad[0, 0] = np.nan
        return loss

    report = check_training_health(m, nan_grad, batch(), overfit_steps=1, out=None)
    assert ("finite gradients", False, "not finite: head.weight") in report.checks


@pytest.mark.parametrize(
    "kw", [{"num_classes": 1}, {"overfit_steps": 0}, {"lr": 0.0}, {"num_classes": 2.5}]
)
def test_bad_arguments_are_refused_by_name(kw):
    name = next(iter(kw))
    with pytest.raises(ValueError, match=name):
        check_training_health(model(), loss_fn, batch(), out=None, **kw)


def test_ln_c_is_what_a_uniform_prediction_costs():
    logits = np.zeros((4, 7))
    loss, _ = cross_entropy(logits, np.arange(4))
    assert math.isclose(loss, math.log(7), rel_tol=1e-12)
    assert numrnn.diagnosis.check_training_health is check_training_health
