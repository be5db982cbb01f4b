"""Module and Parameter: registration, naming, state dicts, modes, gradients."""

import numpy as np
import pytest

import numrnn
from numrnn.nn import Module, Parameter


class Tiny(Module):
    def __init__(self):
        super().__init__()
        self.emb = numrnn.Embedding(5, 3, seed=0, dtype=np.float64)
        self.rnn = numrnn.GRU(3, 4, seed=0, dtype=np.float64)
        self.scale = Parameter(np.ones(2))
        self.head = numrnn.Linear(4, 2, seed=0, dtype=np.float64)


def test_named_parameters_in_pytorch_order():
    m = Tiny()
    names = [n for n, _ in m.named_parameters()]
    assert names == [
        "scale",
        "emb.weight",
        "rnn.weight_ih_l0",
        "rnn.weight_hh_l0",
        "rnn.bias_ih_l0",
        "rnn.bias_hh_l0",
        "head.weight",
        "head.bias",
    ]
    lstm = numrnn.LSTM(2, 4, num_layers=2, bidirectional=True, proj_size=3)
    names = [n for n, _ in lstm.named_parameters()]
    assert names[:6] == [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "weight_hr_l0",
        "weight_ih_l0_reverse",
    ]
    assert len(names) == 20


def test_state_dict_matches_torch_names_and_shapes():
    torch = pytest.importorskip("torch")
    for ours, ref in [
        (
            numrnn.LSTM(3, 5, 2, bidirectional=True, proj_size=2),
            torch.nn.LSTM(3, 5, 2, bidirectional=True, proj_size=2),
        ),
        (numrnn.GRU(3, 5, bias=False), torch.nn.GRU(3, 5, bias=False)),
        (numrnn.RNNCell(3, 5), torch.nn.RNNCell(3, 5)),
        (numrnn.Embedding(7, 3, padding_idx=1), torch.nn.Embedding(7, 3, padding_idx=1)),
    ]:
        sd = ours.state_dict()
        ref_sd = ref.state_dict()
        assert list(sd) == list(ref_sd)
        assert all(tuple(sd[k].shape) == tuple(ref_sd[k].shape) for k in sd)
        ours.load_state_dict(ref_sd)  # torch tensors accepted
        assert all(np.array_equal(ours.state_dict()[k], ref_sd[k].numpy()) for k in sd)
        ref.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})


def test_state_dict_is_a_copy():
    m = numrnn.Linear(2, 3)
    sd = m.state_dict()
    sd["weight"][...] = 7
    assert not np.any(m.weight.data == 7)


def test_load_state_dict_errors_and_atomicity():
    m = numrnn.LSTM(3, 4, seed=0)
    before = m.state_dict()
    good = {k: v + 1 for k, v in before.items()}
    bad_shape = dict(good, weight_hh_l0=np.zeros((16, 5), np.float32))
    with pytest.raises(ValueError, match=r"'weight_hh_l0' expected shape \(16, 4\), got \(16, 5\)"):
        m.load_state_dict(bad_shape)
    assert all(np.array_equal(m.state_dict()[k], before[k]) for k in before)  # nothing changed
    missing = dict(good)
    del missing["bias_hh_l0"]
    with pytest.raises(ValueError, match="missing keys \\['bias_hh_l0'\\]"):
        m.load_state_dict(missing)
    with pytest.raises(ValueError, match="unexpected keys \\['extra'\\]"):
        m.load_state_dict(dict(good, extra=np.zeros(1)))
    with pytest.raises(TypeError, match="must hold numbers"):
        m.load_state_dict(dict(good, bias_ih_l0=np.array(["a"] * 16)))
    assert all(np.array_equal(m.state_dict()[k], before[k]) for k in before)
    m.load_state_dict(good)
    assert all(np.array_equal(m.state_dict()[k], good[k]) for k in good)
    assert m.weight_ih_l0.data.dtype == np.float32  # loading keeps the module's dtype


def test_gradients_accumulate_until_zero_grad():
    m = numrnn.Linear(3, 2, dtype=np.float64, seed=0)
    x = np.ones((4, 3))
    for _ in range(2):
        m(x)
        m.backward(np.ones((4, 2)))
    np.testing.assert_allclose(m.bias.grad, [8.0, 8.0])
    m.zero_grad()
    assert not np.any(m.weight.grad) and not np.any(m.bias.grad)


def test_train_eval_propagate():
    m = Tiny()
    m.eval()
    assert not any(sub.training for sub in m.modules())
    m.train()
    assert all(sub.training for sub in m.modules())


def test_attribute_reassignment_and_deletion():
    m = Tiny()
    m.head = numrnn.Linear(4, 3)
    assert [n for n, _ in m.named_parameters()][-2:] == ["head.weight", "head.bias"]
    del m.scale
    assert "scale" not in dict(m.named_parameters())
    with pytest.raises(AttributeError):
        _ = m.nothing


def test_parameter_grad_shape_and_dtype():
    p = Parameter(np.zeros((2, 3), np.float32))
    assert p.grad.shape == (2, 3) and p.grad.dtype == np.float32


def test_repr_mentions_layers():
    assert "GRU(3, 4)" in repr(Tiny())
