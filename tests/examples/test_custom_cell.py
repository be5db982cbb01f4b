"""examples/custom_cell.py: the user-written peephole LSTM through numrnn.Recurrent.

Its hand-written backward is checked against central differences (tests_fd, not
numrnn.gradcheck) and the whole bidirectional 2-layer variable-length model against
a torch-autograd implementation of the same equations (helpers.torch_peephole_lstm_step),
float64.
"""

import numpy as np
import pytest
from example_scripts import load_example, run_example
from helpers import rel_err, torch_peephole_lstm_step
from tests_fd import numeric_grad

import numrnn

T, B, D, H = 5, 3, 3, 4
LENGTHS = [5, 2, 4]


def _example():
    return load_example("custom_cell.py")


def _model_and_inputs(seed=0):
    model = numrnn.Recurrent(
        _example().peephole_cell,
        D,
        H,
        num_layers=2,
        bidirectional=True,
        dtype=np.float64,
        seed=seed,
    )
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, D))
    h0, c0 = rng.standard_normal((4, B, H)), rng.standard_normal((4, B, H))
    return model, x, h0, c0, rng


def test_dry_run():
    res = run_example("custom_cell.py", "--dry-run")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "PASSED: 31 tensors" in res.stdout  # 7 weights x 2 layers x 2 directions, x, h0, c0
    assert "| peephole LSTM (Recurrent) | 3 |" in res.stdout
    assert "| LSTM (numrnn.LSTM) | 3 |" in res.stdout


def test_finite_differences():
    """Central differences, eps 1e-6, float64: a correct gradient agrees to ~1e-9 (see
    tests/reference/test_reference_fd.py); 1e-6 normwise leaves room, a wrong term is ~1e-2."""
    model, x, h0, c0, rng = _model_and_inputs()
    out, (hn, cn) = model(x, (h0, c0), lengths=LENGTHS)
    G, Gh, Gc = (rng.standard_normal(a.shape) for a in (out, hn, cn))
    dx, (dh0, dc0) = model.backward(G, (Gh, Gc))

    def loss():
        with numrnn.no_grad():
            o, (h, c) = model(x, (h0, c0), lengths=LENGTHS)
        return float((o * G).sum() + (h * Gh).sum() + (c * Gc).sum())

    checks = {"x": (x, dx), "h0": (h0, dh0), "c0": (c0, dc0)}
    checks.update({n: (p.data, p.grad) for n, p in model.named_parameters()})
    for name, (arr, analytic) in checks.items():
        assert rel_err(analytic, numeric_grad(loss, arr)) <= 1e-6, name


def test_against_torch_autograd():
    """The same peephole equations in torch, each row run alone on its own length.

    1e-12 normwise relative: the same float64 expressions, different rounding order.
    """
    torch = pytest.importorskip("torch")
    model, x, h0, c0, rng = _model_and_inputs(1)
    out, (hn, cn) = model(x, (h0, c0), lengths=LENGTHS)
    G, Gh, Gc = (rng.standard_normal(a.shape) for a in (out, hn, cn))
    dx, (dh0, dc0) = model.backward(G, (Gh, Gc))

    tp = {n: torch.tensor(p.data, requires_grad=True) for n, p in model.named_parameters()}
    xt, h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))

    def step(xs, h, c, sfx):
        p = {k[: -len(sfx)]: v for k, v in tp.items() if k.endswith(sfx)}
        assert "bias_ih" in p and "bias_hh" in p  # the example's cell has both biases
        return torch_peephole_lstm_step(xs, h, c, p)

    loss = 0
    for b, n in enumerate(LENGTHS):
        inp = xt[:n, b : b + 1]
        for layer in range(2):
            outs = []
            for d, sfx in enumerate([f"_l{layer}", f"_l{layer}_reverse"]):
                j = 2 * layer + d
                h, c = h0t[j, b : b + 1], c0t[j, b : b + 1]
                hs = []
                for t in reversed(range(n)) if d else range(n):
                    h, c = step(inp[t], h, c, sfx)
                    hs.append(h)
                outs.append(torch.stack(hs[::-1] if d else hs))
                loss = loss + (h * torch.tensor(Gh[j, b : b + 1])).sum()
                loss = loss + (c * torch.tensor(Gc[j, b : b + 1])).sum()
                assert rel_err(hn[j, b : b + 1], h.detach().numpy()) <= 1e-12
                assert rel_err(cn[j, b : b + 1], c.detach().numpy()) <= 1e-12
            inp = torch.cat(outs, dim=-1)
        assert rel_err(out[:n, b : b + 1], inp.detach().numpy()) <= 1e-12
        assert not out[n:, b].any()  # past a row's length the output is zero
        loss = loss + (inp * torch.tensor(G[:n, b : b + 1])).sum()
    loss.backward()
    assert rel_err(dx, xt.grad.numpy()) <= 1e-12
    assert rel_err(dh0, h0t.grad.numpy()) <= 1e-12
    assert rel_err(dc0, c0t.grad.numpy()) <= 1e-12
    for name, p in model.named_parameters():
        assert rel_err(p.grad, tp[name].grad.numpy()) <= 1e-12, name
