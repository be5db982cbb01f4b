"""End to end: 20 training steps of Embedding -> 2-layer LSTM -> Linear -> cross entropy,
with gradient clipping and Adam, in numrnn and in torch from the same weights on the same
batches, compared step by step.

Tolerance.  In float64 one forward and backward of numrnn agrees with torch to about
1e-15..1e-14 relative: the two differ only in the order of floating-point sums (BLAS
blocking, the embedding's scatter-add) and by an ulp in tanh/exp.  Clipping multiplies
every gradient by one scalar, and Adam's step  lr * m_hat / (sqrt(v_hat) + eps)  passes a
relative error in the gradient on to the update without amplifying it (v_hat is far above
eps^2 here).  Twenty steps of training can grow a perturbation only by the product of the
steps' Lipschitz factors, modest at lr = 1e-2, so agreement to ~1e-14 is expected
(measured: 4e-16 for the losses, 1e-14 for the final parameters; run with -s to see).
1e-8 relative keeps a margin of several orders of
magnitude for other BLAS builds while any real difference in the algorithm (a gate
order, an ignored clip, a bias correction one step off) shows up at 1e-4 or larger.
"""

import numpy as np
import pytest
from helpers import rel_err

import numrnn
from numrnn.functional import cross_entropy
from numrnn.models import CharLM

torch = pytest.importorskip("torch")

V, E, H, T, B = 11, 5, 8, 9, 4
STEPS, LR, MAX_NORM = 20, 1e-2, 0.15
TOL = 1e-8


class TorchLM(torch.nn.Module):
    """The same network in torch.nn, with numrnn's parameter names."""

    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(V, E, dtype=torch.float64)
        self.rnn = torch.nn.LSTM(E, H, num_layers=2, dtype=torch.float64)
        self.head = torch.nn.Linear(H, V, dtype=torch.float64)

    def forward(self, idx):
        out, _ = self.rnn(self.embedding(idx))  # (T, B, H)
        return self.head(out)  # (T, B, V)


def run_numrnn(model, batches, clip=True):
    opt = numrnn.optim.Adam(model.parameters(), lr=LR)
    losses, norms, grads = [], [], []
    for batch in batches:
        logits, _ = model(batch[:-1])  # (T, B, V)
        loss, dlogits = cross_entropy(logits.reshape(-1, V), batch[1:].reshape(-1))
        opt.zero_grad()
        model.backward(dlogits.reshape(logits.shape))
        norms.append(numrnn.clip_grad_norm_(model.parameters(), MAX_NORM) if clip else np.nan)
        grads.append({n: p.grad.copy() for n, p in model.named_parameters()})
        opt.step()
        losses.append(float(loss))
    return losses, norms, grads


def run_torch(model, batches):
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    losses, norms, grads = [], [], []
    for batch in batches:
        idx = torch.from_numpy(batch)
        logits = model(idx[:-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), idx[1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)))
        grads.append({n: p.grad.detach().numpy().copy() for n, p in model.named_parameters()})
        opt.step()
        losses.append(loss.item())
    return losses, norms, grads


@pytest.fixture(scope="module")
def runs():
    rng = np.random.default_rng(2024)
    batches = [rng.integers(0, V, size=(T + 1, B)) for _ in range(STEPS)]  # (T+1, B) tokens
    ours = CharLM(
        V, embed_size=E, hidden_size=H, num_layers=2, cell="lstm", dtype=np.float64, seed=3
    )
    ref = TorchLM()
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    initial = ours.state_dict()
    result = run_numrnn(ours, batches)
    expected = run_torch(ref, batches)
    return batches, initial, ours, ref, result, expected


def test_losses_and_parameters_match_torch_step_for_step(runs):
    _, initial, ours, ref, (losses, norms, grads), (t_losses, t_norms, t_grads) = runs
    loss_err = max(abs(a - b) / abs(b) for a, b in zip(losses, t_losses))
    norm_err = max(abs(a - b) / abs(b) for a, b in zip(norms, t_norms))
    grad_err = max(rel_err(g[n], tg[n]) for g, tg in zip(grads, t_grads) for n in g)
    final = ours.state_dict()
    ref_final = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
    assert list(final) == list(ref_final)
    param_err = max(rel_err(final[n], ref_final[n]) for n in final)
    print(
        f"\nmax relative error over {STEPS} steps: loss {loss_err:.1e}, clip norm {norm_err:.1e}, "
        f"clipped grads {grad_err:.1e}; final parameters {param_err:.1e}"
    )
    for step, (a, b) in enumerate(zip(losses, t_losses)):
        assert abs(a - b) <= TOL * abs(b), f"step {step}: loss {a!r} vs torch {b!r}"
    assert norm_err <= TOL and grad_err <= TOL
    for n in final:
        assert rel_err(final[n], ref_final[n]) <= TOL, n
    # the run is not trivial: the parameters moved, the loss fell, and clipping was active
    assert min(rel_err(final[n], initial[n]) for n in final) > 1e-3
    assert losses[-1] < losses[0]
    assert sum(n > MAX_NORM for n in t_norms) >= STEPS // 2


def test_without_clipping_the_runs_differ(runs):
    # The comparison above is sensitive to the clipping: the same numrnn run without it
    # ends far outside the tolerance from torch's clipped run.
    batches, initial, _, ref, _, _ = runs
    ours = CharLM(
        V, embed_size=E, hidden_size=H, num_layers=2, cell="lstm", dtype=np.float64, seed=0
    )
    ours.load_state_dict(initial)
    run_numrnn(ours, batches, clip=False)
    ref_final = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
    assert max(rel_err(v, ref_final[n]) for n, v in ours.state_dict().items()) > 1e3 * TOL
