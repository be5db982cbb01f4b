"""GRU(..., reset_after=False) and GRUCell(..., reset_after=False): the reset gate before the product.

    n = tanh(x W_in^T + b_in + (r * h) W_hn^T + b_hn)      (Cho et al., 2014; Keras)

torch.nn has no such module, so the reference here is the same equations written
with torch operations and differentiated by torch's autograd, independently of
numrnn's hand-written backward.  Tolerance 1e-12 normwise relative in float64:
both sides evaluate the same float64 expressions in a different order (agreement
~1e-15); a wrong term in a derivative shows at 1e-3 or worse.  Finite differences
check the module on their own (central, eps = 1e-6, tolerance 1e-6 as in
tests/kernels/test_recurrent.py).
"""

import itertools

import numpy as np
import pytest
from helpers import rel_err
from tests_fd import numeric_grad

import numrnn

TOL = 1e-12  # float64, same expressions in another order (see the module docstring)
FD_EPS, FD_TOL = 1e-6, 1e-6


def _torch_cell(torch, x, h, w_ih, w_hh, b_ih, b_hh):
    """One reset-before GRU step, written from the equations (autograd differentiates it)."""
    H = h.shape[-1]
    gi = x @ w_ih.T + (0 if b_ih is None else b_ih)  # (B, 3H)
    bh = torch.zeros(3 * H, dtype=h.dtype) if b_hh is None else b_hh
    r = torch.sigmoid(gi[:, :H] + h @ w_hh[:H].T + bh[:H])
    z = torch.sigmoid(gi[:, H : 2 * H] + h @ w_hh[H : 2 * H].T + bh[H : 2 * H])
    n = torch.tanh(gi[:, 2 * H :] + (r * h) @ w_hh[2 * H :].T + bh[2 * H :])
    return (1 - z) * n + z * h


def _torch_gru(torch, x, h0, params, num_layers, bidirectional, lengths):
    """Stacked (bi)directional reset-before GRU over time-major ``x`` ``(T, B, D)``.

    Variable lengths with packed semantics: a row past its length keeps its state
    and outputs zero; the reverse direction starts at each row's last valid step.
    """
    T, B = x.shape[0], x.shape[1]
    nd = 2 if bidirectional else 1
    valid = torch.ones(T, B, 1, dtype=torch.bool)
    if lengths is not None:
        valid = (torch.arange(T)[:, None] < torch.tensor(lengths)[None, :])[..., None]
    inp, finals = x, []
    for layer in range(num_layers):
        outs = []
        for d in range(nd):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w = [
                params.get(name + sfx) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            ]
            h, out = h0[layer * nd + d], [None] * T
            for t in reversed(range(T)) if d else range(T):
                h_new = _torch_cell(torch, inp[t], h, *w)
                h = torch.where(valid[t], h_new, h)
                out[t] = torch.where(valid[t], h_new, torch.zeros_like(h_new))
            outs.append(torch.stack(out))
            finals.append(h)
        inp = torch.cat(outs, dim=-1)
    return inp, torch.stack(finals)


GRID = list(
    itertools.product([1, 2], [False, True], [None, [5, 2, 4]], [False, True], [True, False])
)


@pytest.mark.parametrize("num_layers,bidirectional,lengths,batch_first,bias", GRID)
def test_against_torch_autograd(num_layers, bidirectional, lengths, batch_first, bias):
    torch = pytest.importorskip("torch")
    T, B, D, H = 5, 3, 4, 6
    rng = np.random.default_rng(0)
    m = numrnn.GRU(
        D,
        H,
        num_layers,
        bias=bias,
        batch_first=batch_first,
        bidirectional=bidirectional,
        reset_after=False,
        dtype=np.float64,
        seed=1,
    )
    nd = 2 if bidirectional else 1
    x = rng.standard_normal((B, T, D) if batch_first else (T, B, D))
    h0 = rng.standard_normal((num_layers * nd, B, H))
    out, hn = m(x, h0, lengths=lengths)
    dout, dhn = rng.standard_normal(out.shape), rng.standard_normal(hn.shape)
    dx, dh0 = m.backward(dout, dhn)

    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0, requires_grad=True)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in m.state_dict().items()}
    ref_out, ref_hn = _torch_gru(
        torch,
        xt.transpose(0, 1) if batch_first else xt,
        h0t,
        params,
        num_layers,
        bidirectional,
        lengths,
    )
    if batch_first:
        ref_out = ref_out.transpose(0, 1)
    (torch.sum(ref_out * torch.tensor(dout)) + torch.sum(ref_hn * torch.tensor(dhn))).backward()

    assert rel_err(out, ref_out.detach().numpy()) <= TOL
    assert rel_err(hn, ref_hn.detach().numpy()) <= TOL
    assert rel_err(dx, xt.grad.numpy()) <= TOL
    assert rel_err(dh0, h0t.grad.numpy()) <= TOL
    for name, p in m.named_parameters():
        assert rel_err(p.grad, params[name].grad.numpy()) <= TOL, name


@pytest.mark.parametrize("batched", [True, False])
def test_cell_against_torch_autograd(batched):
    torch = pytest.importorskip("torch")
    B, D, H = 3, 4, 5
    rng = np.random.default_rng(2)
    cell = numrnn.GRUCell(D, H, reset_after=False, dtype=np.float64, seed=3)
    x, h = rng.standard_normal((B, D)), rng.standard_normal((B, H))
    if not batched:
        x, h = x[0], h[0]
    h_new = cell(x, h)
    dh = rng.standard_normal(h_new.shape)
    dx, dh_prev = cell.backward(dh)

    xt, ht = (torch.tensor(a[None] if not batched else a, requires_grad=True) for a in (x, h))
    params = {k: torch.tensor(v, requires_grad=True) for k, v in cell.state_dict().items()}
    w = [params[k] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    ref = _torch_cell(torch, xt, ht, *w)
    torch.sum(ref * torch.tensor(dh if batched else dh[None])).backward()
    ref_h = ref.detach().numpy() if batched else ref.detach().numpy()[0]
    assert rel_err(h_new, ref_h) <= TOL
    assert rel_err(dx, xt.grad.numpy() if batched else xt.grad.numpy()[0]) <= TOL
    assert rel_err(dh_prev, ht.grad.numpy() if batched else ht.grad.numpy()[0]) <= TOL
    for name, p in cell.named_parameters():
        assert rel_err(p.grad, params[name].grad.numpy()) <= TOL, name


@pytest.mark.parametrize(
    "opts,lengths",
    [
        (dict(num_layers=2, bidirectional=True), [4, 2, 3]),
        (dict(batch_first=True, bias=False), None),
    ],
)
def test_finite_differences(opts, lengths):
    T, B, D, H = 4, 3, 3, 3
    rng = np.random.default_rng(4)
    m = numrnn.GRU(D, H, reset_after=False, dtype=np.float64, seed=5, **opts)
    nd = 2 if opts.get("bidirectional") else 1
    x = rng.standard_normal((B, T, D) if opts.get("batch_first") else (T, B, D))
    h0 = rng.standard_normal((opts.get("num_layers", 1) * nd, B, H))
    out, hn = m(x, h0, lengths=lengths)
    dout, dhn = rng.standard_normal(out.shape), rng.standard_normal(hn.shape)
    dx, dh0 = m.backward(dout, dhn)

    def loss():
        with numrnn.no_grad():
            o, h = m(x, h0, lengths=lengths)
        return np.sum(o * dout) + np.sum(h * dhn)

    checks = {"x": (x, dx), "h0": (h0, dh0)}
    checks.update({name: (p.data, p.grad) for name, p in m.named_parameters()})
    for name, (arr, analytic) in checks.items():
        err = rel_err(analytic, numeric_grad(loss, arr, FD_EPS))
        assert err <= FD_TOL, f"{name}: {err:.2e}"


def test_the_two_formulations_differ_on_the_same_weights():
    """Same parameters, different candidate n: the flag changes the computation."""
    rng = np.random.default_rng(6)
    after = numrnn.GRU(3, 4, dtype=np.float64, seed=7)
    before = numrnn.GRU(3, 4, reset_after=False, dtype=np.float64, seed=7)
    x = rng.standard_normal((5, 2, 3))
    out_after, _ = after(x)
    out_before, _ = before(x)
    assert rel_err(out_before, out_after) > 1e-3


def test_default_is_pytorchs_and_repr_names_the_variant():
    assert numrnn.GRU(3, 4).reset_after is True
    assert numrnn.GRUCell(3, 4).reset_after is True
    assert "reset_after=False" in repr(numrnn.GRU(3, 4, reset_after=False))
    assert "reset_after=False" in repr(numrnn.GRUCell(3, 4, reset_after=False))
    assert "reset_after" not in repr(numrnn.GRU(3, 4))


@pytest.mark.parametrize("cls", [numrnn.GRU, numrnn.GRUCell])
@pytest.mark.parametrize("bad", ["no", 0, None])
def test_reset_after_must_be_a_bool(cls, bad):
    with pytest.raises(TypeError, match=r"reset_after must be True or False; got"):
        cls(3, 4, reset_after=bad)


def test_to_torch_refuses_the_variant():
    pytest.importorskip("torch")
    from numrnn.io import to_torch

    with pytest.raises(ValueError, match="reset_after=False"):
        to_torch(numrnn.GRU(3, 4, reset_after=False))


def test_torch_backend_runs_the_same_kernel():
    """Tolerance 1e-10: the same float64 operations, another BLAS (see tests/test_backend.py)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    opts = dict(num_layers=2, bidirectional=True, reset_after=False, dtype=np.float64, seed=9)
    ours = numrnn.GRU(3, 5, **opts)
    theirs = numrnn.GRU(3, 5, backend="torch", **opts)
    x, dout = rng.standard_normal((6, 4, 3)), rng.standard_normal((6, 4, 10))
    lengths = [6, 3, 5, 1]
    out_a, _ = ours(x, lengths=lengths)
    out_b, _ = theirs(torch.tensor(x), lengths=lengths)
    assert rel_err(out_b.numpy(), out_a) <= 1e-10
    dx_a, _ = ours.backward(dout)
    dx_b, _ = theirs.backward(torch.tensor(dout))
    assert rel_err(dx_b.numpy(), dx_a) <= 1e-10
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert rel_err(q.grad.numpy(), p.grad) <= 1e-10, name
