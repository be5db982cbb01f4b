"""numrnn.eval_mode: eval inside, every submodule's own flag restored after."""

import numpy as np
import pytest

import numrnn
from numrnn.models import CharLM


def _flags(model):
    return [m.training for m in model.modules()]


def test_eval_inside_and_mixed_flags_restored():
    model = CharLM(vocab_size=7, hidden_size=4, num_layers=2, dropout=0.5, seed=0)
    model.train()
    model.embedding.eval()  # one submodule differs from the rest
    before = _flags(model)
    assert any(before) and not all(before)
    with numrnn.eval_mode(model) as m:
        assert m is model
        assert not any(_flags(model))
    assert _flags(model) == before


def test_restored_after_an_exception():
    model = CharLM(vocab_size=7, hidden_size=4, seed=0).train()
    with pytest.raises(RuntimeError, match="inside"), numrnn.eval_mode(model):
        raise RuntimeError("inside")
    assert all(_flags(model))


def test_dropout_is_off_inside():
    model = CharLM(vocab_size=7, hidden_size=4, num_layers=2, dropout=0.5, seed=0).train()
    idx = np.arange(12).reshape(6, 2) % 7
    with numrnn.eval_mode(model), numrnn.no_grad():
        a, _ = model(idx)
        b, _ = model(idx)
    np.testing.assert_array_equal(a, b)  # eval: no dropout mask, so the same logits twice
    with numrnn.no_grad():
        c, _ = model(idx)
    assert not np.array_equal(a, c)  # training mode again: dropout changes the logits
