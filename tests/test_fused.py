"""fused=True: the same kernels compiled by torch.compile (exercised on the CPU; the fast path is CUDA)."""

import numpy as np
import pytest
from helpers import rel_err

import numrnn

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.slow  # compiling the kernels takes a minute or more on 2 cores


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_fused_kernels_equal_the_plain_ones(kind):
    """Compiled and plain kernels agree to float64 rounding, with variable lengths and two layers."""
    cls = {"lstm": numrnn.LSTM, "gru": numrnn.GRU}[kind]
    rng = np.random.default_rng(0)
    plain = cls(3, 5, num_layers=2, bidirectional=True, dtype=np.float64, seed=1, backend="torch")
    fused = cls(
        3,
        5,
        num_layers=2,
        bidirectional=True,
        dtype=np.float64,
        seed=1,
        backend="torch",
        fused=True,
    )
    for lengths in (None, [6, 3, 5, 1]):
        x = torch.tensor(rng.standard_normal((6, 4, 3)))
        g = torch.tensor(rng.standard_normal((6, 4, 10)))
        a, _ = plain(x, lengths=lengths)
        b, _ = fused(x, lengths=lengths)
        assert rel_err(b.numpy(), a.numpy()) <= 1e-12
        da, _ = plain.backward(g)
        db, _ = fused.backward(g)
        assert rel_err(db.numpy(), da.numpy()) <= 1e-12
    for (name, p), (_, q) in zip(plain.named_parameters(), fused.named_parameters()):
        assert rel_err(q.grad.numpy(), p.grad.numpy()) <= 1e-12, name


def test_fused_needs_the_torch_backend():
    with pytest.raises(ValueError, match="backend='torch'"):
        numrnn.GRU(3, 4, fused=True)
