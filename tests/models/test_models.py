"""The example models: their composed backward by finite differences, and their behaviour."""

import numpy as np
import pytest
from helpers import rel_err
from tests_fd import numeric_grad

import numrnn
from numrnn.models import CharLM, SequenceClassifier

TOL = 1e-6  # central differences in float64 (see tests/kernels/test_recurrent.py)


def _check_params(model, loss):
    for name, p in model.named_parameters():
        num = numeric_grad(loss, p.data)
        assert rel_err(p.grad, num) <= TOL, name


@pytest.mark.parametrize("cell,bi,layers", [("lstm", True, 2), ("gru", False, 1), ("rnn", True, 1)])
def test_classifier_gradients(cell, bi, layers):
    rng = np.random.default_rng(0)
    m = SequenceClassifier(
        7,
        3,
        embed_size=3,
        hidden_size=3,
        num_layers=layers,
        cell=cell,
        bidirectional=bi,
        dtype=np.float64,
        seed=1,
    )
    idx = np.array([[1, 2, 3, 4], [5, 6, 0, 0], [2, 0, 0, 0]])
    lengths = [4, 2, 1]
    g = rng.standard_normal((3, 3))

    def loss():
        with numrnn.no_grad():
            return np.sum(m(idx, lengths) * g)

    m.zero_grad()
    m(idx, lengths)
    m.backward(g)
    assert not any(mod._caches for mod in m.modules())
    _check_params(m, loss)
    assert not np.any(m.embedding.weight.grad[0])  # padding row untouched


def test_classifier_ignores_padding_content():
    m = SequenceClassifier(
        9, 2, embed_size=4, hidden_size=5, cell="lstm", bidirectional=True, seed=0
    )
    a = np.array([[1, 2, 3, 0, 0]])
    b = np.array([[1, 2, 3, 7, 8]])
    with numrnn.no_grad():
        np.testing.assert_array_equal(m(a, [3]), m(b, [3]))


def test_char_lm_gradients_and_truncation():
    rng = np.random.default_rng(2)
    m = CharLM(6, embed_size=3, hidden_size=4, num_layers=2, cell="gru", dtype=np.float64, seed=0)
    idx = rng.integers(0, 6, size=(5, 2))
    _, state = m(rng.integers(0, 6, size=(5, 2)))  # a previous chunk provides the state
    m.clear_caches()
    g = rng.standard_normal((5, 2, 6))

    def loss():
        with numrnn.no_grad():
            return np.sum(m(idx, state)[0] * g)

    m.zero_grad()
    m(idx, state)
    m.backward(g)
    _check_params(m, loss)


def test_char_lm_sampling_is_seeded_and_in_range():
    m = CharLM(11, embed_size=4, hidden_size=8, seed=0)
    a = m.sample(20, [1, 2, 3], temperature=0.7, rng=np.random.default_rng(5))
    b = m.sample(20, [1, 2, 3], temperature=0.7, rng=np.random.default_rng(5))
    assert a == b and len(a) == 20 and all(0 <= t < 11 for t in a)
    assert not any(mod._caches for mod in m.modules())
    with pytest.raises(ValueError, match="temperature"):
        m.sample(3, [1], temperature=0)
