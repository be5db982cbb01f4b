"""The torch backend runs the same hand-written code as NumPy: results agree to float64 rounding.

Tolerance 1e-10 normwise relative: the two backends execute the same sequence
of float64 operations, differing only in the BLAS that sums the products
(~1e-16 per product, amplified mildly through time); any algorithmic
difference would show at 1e-3 or worse.
"""

import numpy as np
import pytest
from helpers import rel_err

import numrnn

torch = pytest.importorskip("torch")

TOL = 1e-10
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
CASES = [
    ("rnn", {"num_layers": 2, "bidirectional": True}),
    ("rnn", {"nonlinearity": "relu"}),
    ("lstm", {"num_layers": 2, "bidirectional": True, "proj_size": 3}),
    ("lstm", {"num_layers": 3, "batch_first": True}),
    ("gru", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    ("gru", {"bias": False}),
]
CLASSES = {"rnn": numrnn.RNN, "lstm": numrnn.LSTM, "gru": numrnn.GRU}


def _to_np(x):
    if isinstance(x, tuple):
        return tuple(_to_np(a) for a in x)
    return x.detach().cpu().numpy()


def _leaves(x):
    return [a for y in x for a in (_leaves(y) if isinstance(y, tuple) else [y])]


def _device_param(device):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA GPU on this machine")
    return device


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("kind,opts", CASES)
@pytest.mark.parametrize("use_lengths", [False, True])
def test_numpy_and_torch_backends_agree(device, kind, opts, use_lengths):
    _device_param(device)
    rng = np.random.default_rng(0)
    T, B, D, H = 6, 4, 5, 7
    ours = CLASSES[kind](D, H, dtype=np.float64, seed=3, **opts)
    theirs = CLASSES[kind](D, H, dtype=np.float64, seed=3, backend="torch", device=device, **opts)
    x = rng.standard_normal((B, T, D) if opts.get("batch_first") else (T, B, D))
    lengths = [6, 2, 5, 1] if use_lengths else None
    out_a, st_a = ours(x, lengths=lengths)
    out_b, st_b = theirs(torch.tensor(x, device=device), lengths=lengths)
    dout = rng.standard_normal(out_a.shape)
    dst = (
        tuple(rng.standard_normal(s.shape) for s in st_a)
        if isinstance(st_a, tuple)
        else rng.standard_normal(st_a.shape)
    )
    dx_a, dh_a = ours.backward(dout, dst)
    tdst = (
        tuple(torch.tensor(a, device=device) for a in dst)
        if isinstance(dst, tuple)
        else torch.tensor(dst, device=device)
    )
    dx_b, dh_b = theirs.backward(torch.tensor(dout, device=device), tdst)
    for a, b in zip(_leaves((out_a, st_a, dx_a, dh_a)), _leaves((out_b, st_b, dx_b, dh_b))):
        assert isinstance(b, torch.Tensor) and b.device.type == device
        assert b.grad_fn is None and not b.requires_grad
        assert rel_err(a, _to_np(b)) <= TOL
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert not q.data.requires_grad and not q.grad.requires_grad
        assert rel_err(p.grad, _to_np(q.grad)) <= TOL, name


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_cells_linear_embedding_agree(device):
    _device_param(device)
    rng = np.random.default_rng(1)
    for make in (
        lambda **k: numrnn.LSTMCell(3, 4, **k),
        lambda **k: numrnn.GRUCell(3, 4, **k),
        lambda **k: numrnn.RNNCell(3, 4, **k),
    ):
        a, b = (
            make(dtype=np.float64, seed=0),
            make(dtype=np.float64, seed=0, backend="torch", device=device),
        )
        x = rng.standard_normal((2, 3))
        ya, yb = a(x), b(torch.tensor(x, device=device))
        for u, v in zip(_leaves((ya,)), _leaves((yb,))):
            assert rel_err(u, _to_np(v)) <= TOL
    lin = numrnn.Linear(3, 2, dtype=np.float64, seed=0)
    lint = numrnn.Linear(3, 2, dtype=np.float64, seed=0, backend="torch", device=device)
    x = rng.standard_normal((4, 3))
    assert rel_err(lin(x), _to_np(lint(torch.tensor(x, device=device)))) <= TOL
    emb = numrnn.Embedding(5, 2, padding_idx=0, dtype=np.float64, seed=0)
    embt = numrnn.Embedding(
        5, 2, padding_idx=0, dtype=np.float64, seed=0, backend="torch", device=device
    )
    idx = np.array([[0, 1, 1], [4, 0, 2]])
    assert rel_err(emb(idx), _to_np(embt(torch.tensor(idx, device=device)))) <= TOL
    de = rng.standard_normal((2, 3, 2))
    emb.backward(de)
    embt.backward(torch.tensor(de, device=device))
    assert rel_err(emb.weight.grad, _to_np(embt.weight.grad)) <= TOL


def test_input_of_the_other_kind_is_refused():
    m = numrnn.GRU(3, 4, backend="torch", seed=0)
    with pytest.raises(TypeError, match=r"torch.Tensor.*backend='torch'"):
        m(np.zeros((2, 1, 3), np.float32))
    n = numrnn.GRU(3, 4, seed=0)
    with pytest.raises(TypeError, match=r"numpy.ndarray.*backend='numpy'"):
        n(torch.zeros(2, 1, 3))


def test_inputs_requiring_grad_build_no_graph():
    m = numrnn.LSTM(3, 4, backend="torch", seed=0)
    x = torch.randn(5, 2, 3, requires_grad=True)
    out, (h, c) = m(x)
    assert out.grad_fn is None and h.grad_fn is None
    dx, _ = m.backward(torch.ones_like(out))
    assert dx.grad_fn is None


def test_to_moves_parameters_and_grads_both_ways():
    m = numrnn.LSTM(3, 4, num_layers=2, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    out, _ = m(x)
    m.backward(np.ones_like(out))
    grads = {n: p.grad.copy() for n, p in m.named_parameters()}
    m.to(backend="torch")
    assert m.backend == "torch" and all(isinstance(p.data, torch.Tensor) for p in m.parameters())
    assert all(rel_err(grads[n], p.grad.numpy()) == 0 for n, p in m.named_parameters())
    out_t, _ = m(torch.tensor(x))
    assert rel_err(out, out_t.numpy()) <= TOL
    m.clear_caches()
    m.to(backend="numpy")
    assert all(isinstance(p.data, np.ndarray) for p in m.parameters())
    assert m.param_dtype == np.float64


def test_unknown_backend_and_device():
    with pytest.raises(ValueError, match="backend must be 'numpy' or 'torch'"):
        numrnn.GRU(3, 4, backend="jax")
    with pytest.raises(ValueError, match="device 'cpu' only"):
        numrnn.GRU(3, 4, device="cuda")


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize(
    "opt_name,kwargs",
    [
        ("Adam", {"lr": 1e-2, "amsgrad": True}),
        ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
        ("RMSprop", {"lr": 1e-2, "centered": True, "momentum": 0.5}),
        ("AdamW", {"lr": 1e-2}),
        ("Adagrad", {"lr": 0.1}),
    ],
)
def test_thirty_optimiser_steps_agree(device, opt_name, kwargs):
    """30 steps of training (forward, BPTT, clipping, update) on both backends, float64."""
    _device_param(device)
    rng = np.random.default_rng(4)
    a = numrnn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2, dtype=np.float64, seed=1)
    b = numrnn.LSTM(
        3,
        5,
        num_layers=2,
        bidirectional=True,
        proj_size=2,
        dtype=np.float64,
        seed=1,
        backend="torch",
        device=device,
    )
    oa = getattr(numrnn.optim, opt_name)(a.parameters(), **kwargs)
    ob = getattr(numrnn.optim, opt_name)(b.parameters(), **kwargs)
    for _ in range(30):
        x = rng.standard_normal((6, 4, 3))
        lengths = rng.integers(1, 7, size=4)
        g = rng.standard_normal((6, 4, 4))
        for m, o, conv in ((a, oa, lambda v: v), (b, ob, lambda v: torch.tensor(v, device=device))):
            out, _ = m(conv(x), lengths=lengths)
            m.backward(conv(g))
            numrnn.clip_grad_norm_(m.parameters(), 1.0)
            o.step()
            o.zero_grad()
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert rel_err(p.data, _to_np(q.data)) <= TOL, name


def test_optimiser_state_follows_a_moved_module():
    rng = np.random.default_rng(5)
    ref = numrnn.GRU(3, 4, dtype=np.float64, seed=0)
    m = numrnn.GRU(3, 4, dtype=np.float64, seed=0)
    oref, om = (
        numrnn.optim.Adam(ref.parameters(), lr=0.05),
        numrnn.optim.Adam(m.parameters(), lr=0.05),
    )
    for step in range(10):
        x, g = rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 2, 4))
        if step == 5:
            m.to(
                backend="torch"
            )  # mid-training: parameters, gradients and (next step) Adam state move
        for mod, opt in ((ref, oref), (m, om)):
            conv = torch.tensor if mod.backend == "torch" else (lambda v: v)
            mod(conv(x))
            mod.backward(conv(g))
            opt.step()
            opt.zero_grad()
    assert all(
        isinstance(v, torch.Tensor)
        for st in om.state.values()
        for v in st.values()
        if not isinstance(v, (int, float))
    )
    for (name, p), (_, q) in zip(ref.named_parameters(), m.named_parameters()):
        assert rel_err(p.data, _to_np(q.data)) <= TOL, name
