"""Linear and Embedding against torch and by finite differences."""

import numpy as np
import pytest
from helpers import rel_err
from tests_fd import numeric_grad

import numrnn


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
def test_linear_torch_and_fd(bias, shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    m = numrnn.Linear(3, 2, bias=bias, dtype=np.float64, seed=0)
    ref = torch.nn.Linear(3, 2, bias=bias, dtype=torch.float64)
    ref.load_state_dict({k: torch.tensor(v) for k, v in m.state_dict().items()})
    x = rng.standard_normal(shape)
    y = m(x)
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    assert rel_err(y, yt.detach().numpy()) <= 1e-12
    dy = rng.standard_normal(y.shape)
    (yt * torch.tensor(dy)).sum().backward()
    dx = m.backward(dy)
    assert rel_err(dx, xt.grad.numpy()) <= 1e-12
    for name, p in m.named_parameters():
        assert rel_err(p.grad, dict(ref.named_parameters())[name].grad.numpy()) <= 1e-12

    def loss():
        with numrnn.no_grad():
            return np.sum(m(x) * dy)

    assert rel_err(dx, numeric_grad(loss, x)) <= 1e-6
    g = m.weight.grad.copy()
    m.zero_grad()
    m(x)
    m.backward(dy)
    assert rel_err(m.weight.grad, numeric_grad(loss, m.weight.data)) <= 1e-6
    np.testing.assert_array_equal(m.weight.grad, g)


def test_embedding_padding_and_repeats():
    torch = pytest.importorskip("torch")
    m = numrnn.Embedding(6, 3, padding_idx=2, dtype=np.float64, seed=0)
    ref = torch.nn.Embedding(6, 3, padding_idx=2, dtype=torch.float64)
    ref.load_state_dict({k: torch.tensor(v) for k, v in m.state_dict().items()})
    assert not np.any(m.weight.data[2])
    idx = np.array([[1, 2, 1], [5, 2, 0]])
    e = m(idx)
    et = ref(torch.tensor(idx))
    np.testing.assert_array_equal(e, et.detach().numpy())
    de = np.random.default_rng(1).standard_normal(e.shape)
    (et * torch.tensor(de)).sum().backward()
    assert m.backward(de) is None
    assert rel_err(m.weight.grad, ref.weight.grad.numpy()) <= 1e-12
    assert not np.any(m.weight.grad[2])


def test_embedding_bad_index():
    m = numrnn.Embedding(4, 2)
    with pytest.raises(ValueError, match=r"index values must be in \[0, 4\); got min 0, max 4"):
        m(np.array([0, 4]))
    with pytest.raises(TypeError, match="integer array"):
        m(np.array([0.5]))
    assert not m._caches


def test_linear_bad_input():
    m = numrnn.Linear(3, 2)
    with pytest.raises(ValueError, match="3 features"):
        m(np.zeros((2, 4), np.float32))
    with pytest.raises(TypeError, match="dtype float64"):
        m(np.zeros((2, 3)))
    m(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"dy must have shape \(2, 2\)"):
        m.backward(np.zeros((2, 3), np.float32))
    m.backward(np.zeros((2, 2), np.float32))
