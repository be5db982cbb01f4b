"""Truncated BPTT (numrnn.train.lm) against PyTorch's detach() idiom, and the evaluation helper."""

import numpy as np
import pytest
from helpers import rel_err

import numrnn
from numrnn.data import sequential_partition
from numrnn.models import CharLM
from numrnn.train import evaluate_lm, tbptt_train

torch = pytest.importorskip("torch")


class TorchCharLM(torch.nn.Module):
    def __init__(self, V, E, H, L, cell):
        super().__init__()
        self.embedding = torch.nn.Embedding(V, E, dtype=torch.float64)
        self.rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell](
            E, H, L, dtype=torch.float64
        )
        self.head = torch.nn.Linear(H, V, dtype=torch.float64)

    def forward(self, idx, state):
        out, state = self.rnn(self.embedding(idx), state)
        return self.head(out), state


def _detach(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


@pytest.mark.parametrize("cell,layers", [("lstm", 2), ("gru", 1), ("rnn", 1)])
def test_tbptt_equals_torch_with_detach(cell, layers):
    """Carrying the state but cutting the gradient at chunk boundaries, step for step.

    Losses and parameters agree within 1e-8 relative in float64: the two runs do
    the same arithmetic in a different order (~1e-15 per step), and Adam's
    normalisation can amplify tiny differences in near-zero gradient entries
    over 12 steps, which 1e-8 still bounds by a wide margin.
    """
    V, E, H = 11, 5, 7
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, V, size=500)
    ours = CharLM(V, E, H, layers, cell=cell, dtype=np.float64, seed=3)
    ref = TorchCharLM(V, E, H, layers, cell)
    ref.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    opt = numrnn.optim.Adam(ours.parameters(), lr=0.01)
    ropt = torch.optim.Adam(ref.parameters(), lr=0.01)
    stream = sequential_partition(tokens, batch_size=4, num_steps=8)

    losses, _, _ = tbptt_train(ours, stream, opt, clip_norm=1.0, max_steps=12)

    ref_losses, state = [], None
    for step, (X, Y) in enumerate(stream):
        if step == 12:
            break
        logits, state = ref(torch.tensor(X), state)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), torch.tensor(Y).reshape(-1))
        ropt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ref.parameters(), 1.0)
        ropt.step()
        state = _detach(state)  # truncation: no gradient into the previous chunk
        ref_losses.append(loss.item())
    assert len(losses) == 12
    assert rel_err(losses, ref_losses) <= 1e-8
    rp = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        assert rel_err(p.data, rp[name].detach().numpy()) <= 1e-8, name


def test_truncated_gradient_is_exact_for_the_chunk_with_state_held_fixed():
    """The truncated gradient is the exact gradient of the chunk's loss with h0 held fixed."""
    rng = np.random.default_rng(1)
    m = CharLM(6, 3, 4, 1, cell="gru", dtype=np.float64, seed=0)
    X0, X1 = rng.integers(0, 6, (5, 2)), rng.integers(0, 6, (5, 2))
    Y1 = rng.integers(0, 6, (5, 2))
    with numrnn.no_grad():
        _, state = m(X0)
    report = numrnn.gradcheck(
        (lambda emb: _chunk_forward(m, X1, Y1, state, emb), _chunk_backward),
        (m.embedding.weight.data,),
    )
    assert report.passed, report


def _chunk_forward(m, X, Y, state, emb):
    m.embedding.weight.data = emb
    with numrnn.no_grad():
        logits, _ = m(X, state)
    loss, _ = numrnn.functional.cross_entropy(logits, Y)
    return loss, (m, X, Y, state)


def _chunk_backward(dloss, cache):
    m, X, Y, state = cache
    m.zero_grad()
    logits, _ = m(X, state)
    _, dlogits = numrnn.functional.cross_entropy(logits, Y)
    m.backward(dlogits * dloss)
    return (m.embedding.weight.grad.copy(),)


def test_evaluate_lm_matches_direct_computation():
    rng = np.random.default_rng(2)
    m = CharLM(7, 3, 5, cell="lstm", dtype=np.float64, seed=1)
    tokens = rng.integers(0, 7, size=200)
    stream = sequential_partition(tokens, 3, 10)
    mean, ppl = evaluate_lm(m, stream)
    total, count, state = 0.0, 0, None
    with numrnn.no_grad():
        for X, Y in stream:
            logits, state = m(X, state)
            logp = numrnn.functional.log_softmax(logits)
            total -= np.take_along_axis(logp, Y[..., None], -1).sum()
            count += Y.size
    assert abs(mean - total / count) <= 1e-12 * abs(mean)
    assert abs(ppl - np.exp(total / count)) <= 1e-10 * ppl
    assert not any(mod._caches for mod in m.modules())
