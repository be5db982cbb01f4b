"""Module-level behaviour of RNN/LSTM/GRU: finite differences, input checks, properties."""

import numpy as np
import pytest
from helpers import rel_err
from hypothesis import given, settings
from hypothesis import strategies as st
from tests_fd import numeric_grad

import numrnn

EPS, TOL = 1e-6, 1e-6  # central differences in float64; see tests/kernels/test_recurrent.py
CLASSES = {"rnn": numrnn.RNN, "lstm": numrnn.LSTM, "gru": numrnn.GRU}


def _hx(kind, L, B, H, rng, P=None):
    h = rng.standard_normal((L, B, P or H))
    return (h, rng.standard_normal((L, B, H))) if kind == "lstm" else h


def _flat(out):
    """Flatten (out, hn) / (out, (hn, cn)) to a list of arrays."""
    o, s = out
    return [o, *(s if isinstance(s, tuple) else (s,))]


def module_fd_check(kind, T=4, B=3, D=3, H=3, lengths=None, **opts):
    rng = np.random.default_rng(0)
    m = CLASSES[kind](D, H, dtype=np.float64, seed=1, **opts)
    nd = 2 if opts.get("bidirectional") else 1
    L = opts.get("num_layers", 1) * nd
    P = opts.get("proj_size", 0) or H
    x = rng.standard_normal((B, T, D) if opts.get("batch_first") else (T, B, D))
    hx = _hx(kind, L, B, H, rng, P)
    leaves = _flat(m(x, hx, lengths=lengths))
    ups = [rng.standard_normal(a.shape) for a in leaves]
    m.clear_caches()

    def loss():
        with numrnn.no_grad():
            return sum(np.sum(a * u) for a, u in zip(_flat(m(x, hx, lengths=lengths)), ups))

    m.zero_grad()
    m(x, hx, lengths=lengths)
    dx, dh = m.backward(ups[0], tuple(ups[1:]) if kind == "lstm" else ups[1])
    checks = {"x": (x, dx)}
    if kind == "lstm":
        checks.update({"h0": (hx[0], dh[0]), "c0": (hx[1], dh[1])})
    else:
        checks["h0"] = (hx, dh)
    for name, p in m.named_parameters():
        checks[name] = (p.data, p.grad)
    for name, (arr, analytic) in checks.items():
        err = rel_err(analytic, numeric_grad(loss, arr, EPS))
        assert err <= TOL, f"{kind} {opts} {name}: {err:.2e}"


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(
    "opts",
    [
        {},
        {"num_layers": 2, "bidirectional": True},
        {"num_layers": 2, "batch_first": True, "bias": False},
    ],
)
def test_module_finite_differences(kind, opts):
    module_fd_check(kind, **opts)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_module_finite_differences_lengths(kind):
    module_fd_check(kind, T=5, B=3, lengths=[2, 5, 3], num_layers=2, bidirectional=True)


def test_module_finite_differences_projection_relu():
    module_fd_check("lstm", proj_size=2, num_layers=2, bidirectional=True)
    module_fd_check("rnn", nonlinearity="relu", num_layers=2)


# -- input checks: clear errors, before any state changes --------------------------


@pytest.fixture
def lstm():
    return numrnn.LSTM(3, 4, num_layers=2, dtype=np.float64, seed=0)


def _snapshot(m):
    return {k: v.copy() for k, v in m.state_dict().items()}, len(m._caches)


@pytest.mark.parametrize(
    "x,exc,msg",
    [
        (np.zeros((2, 3, 4, 3)), ValueError, "x must be"),
        (np.zeros((5, 2, 7)), ValueError, "3 features"),
        (np.zeros((5, 2, 3), dtype=np.float32), TypeError, "dtype float32"),
        (np.zeros((5, 2, 3), dtype=np.int64), TypeError, "floating-point"),
        ([[1.0, 2.0, 3.0]], TypeError, "numpy.ndarray"),
        (np.zeros((0, 2, 3)), ValueError, "at least one step"),
    ],
)
def test_bad_input(lstm, x, exc, msg):
    before = _snapshot(lstm)
    with pytest.raises(exc, match=msg):
        lstm(x)
    after = _snapshot(lstm)
    assert after[1] == before[1]


@pytest.mark.parametrize(
    "hx,msg",
    [
        (np.zeros((2, 2, 4)), r"hx must be None or a tuple \(h0, c0\)"),
        (5, r"hx must be None or a tuple \(h0, c0\) of two arrays; got int"),
        ((np.zeros((2, 2, 4)),), r"tuple \(h0, c0\)"),
        ((np.zeros((1, 2, 4)), np.zeros((2, 2, 4))), r"hx\[0\] must have shape \(2, 2, 4\)"),
        ((np.zeros((2, 2, 4)), np.zeros((2, 3, 4))), r"hx\[1\] must have shape \(2, 2, 4\)"),
    ],
)
def test_bad_state(lstm, hx, msg):
    with pytest.raises((ValueError, TypeError), match=msg):
        lstm(np.zeros((5, 2, 3)), hx)
    assert not lstm._caches


def test_bad_state_rnn():
    m = numrnn.GRU(3, 4, dtype=np.float64)
    with pytest.raises(ValueError, match=r"hx must have shape \(1, 2, 4\); got \(1, 2, 5\)"):
        m(np.zeros((5, 2, 3)), np.zeros((1, 2, 5)))
    with pytest.raises(ValueError, match=r"hx must have shape \(1, 4\)"):
        m(np.zeros((5, 3)), np.zeros((1, 2, 4)))


@pytest.mark.parametrize(
    "lengths,exc,msg",
    [
        ([1, 2, 3], ValueError, "one entry per batch row"),
        ([0, 2], ValueError, r"in \[1, 5\]"),
        ([6, 2], ValueError, r"in \[1, 5\]"),
        ([1.5, 2.0], TypeError, "integers"),
        (np.array([[1, 2]]), TypeError, "1-D"),
    ],
)
def test_bad_lengths(lstm, lengths, exc, msg):
    with pytest.raises(exc, match=msg):
        lstm(np.zeros((5, 2, 3)), lengths=lengths)
    assert not lstm._caches


def test_backward_without_forward(lstm):
    with pytest.raises(RuntimeError, match="no pending forward"):
        lstm.backward(np.zeros((5, 2, 4)))


def test_bad_backward_grad_keeps_cache(lstm):
    out, _ = lstm(np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match=r"dout must have shape \(5, 2, 4\)"):
        lstm.backward(np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match=r"dhx\[1\]"):
        lstm.backward(np.zeros_like(out), (np.zeros((2, 2, 4)), np.zeros((2, 1, 4))))
    assert len(lstm._caches) == 1
    lstm.backward(np.zeros_like(out))
    assert not lstm._caches


@pytest.mark.parametrize(
    "kwargs,msg",
    [
        ({"hidden_size": 0}, "hidden_size"),
        ({"num_layers": 0}, "num_layers"),
        ({"dropout": 1.5}, "dropout"),
        ({"proj_size": 4}, "proj_size"),
        ({"dtype": np.int32}, "dtype"),
        ({"proj_size": -1}, "proj_size"),
    ],
)
def test_bad_constructor(kwargs, msg):
    args = {"input_size": 3, "hidden_size": 4, **kwargs}
    with pytest.raises((ValueError, TypeError), match=msg):
        numrnn.LSTM(**args)


def test_proj_and_nonlinearity_only_where_they_apply():
    with pytest.raises(ValueError, match="proj_size is supported by LSTM only"):
        numrnn.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="nonlinearity"):
        numrnn.RNN(3, 4, nonlinearity="sigmoid")


# -- dtype and seeding ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_float32_default_kept_everywhere(kind):
    m = CLASSES[kind](3, 4, num_layers=2, bidirectional=True, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    out = m(x)
    dx, dh = m.backward(np.ones_like(out[0]))
    leaves = [
        *_flat(out),
        dx,
        *(dh if isinstance(dh, tuple) else (dh,)),
        *(p.grad for p in m.parameters()),
    ]
    assert all(a.dtype == np.float32 for a in leaves)


def test_seed_reproducible_and_pytorch_init_range():
    a = numrnn.LSTM(3, 16, seed=5).state_dict()
    b = numrnn.LSTM(3, 16, seed=5).state_dict()
    c = numrnn.LSTM(3, 16, seed=6).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)
    assert all(np.abs(v).max() <= 1 / 4 for v in a.values())  # uniform(-1/sqrt(H), 1/sqrt(H))


# -- properties over shapes and options -------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    kind=st.sampled_from(["rnn", "lstm", "gru"]),
    T=st.integers(1, 30),
    B=st.integers(1, 4),
    D=st.integers(1, 4),
    H=st.integers(1, 5),
    L=st.integers(1, 2),
    bi=st.booleans(),
    bf=st.booleans(),
    use_lengths=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_property_against_torch(kind, T, B, D, H, L, bi, bf, use_lengths, seed):
    from parity import TOL as PTOL
    from parity import run_parity

    pytest.importorskip("torch")
    lengths = None
    if use_lengths:
        lengths = list(np.random.default_rng(seed).integers(1, T + 1, size=B))
    errs = run_parity(
        kind,
        T=T,
        B=B,
        D=D,
        H=H,
        num_layers=L,
        bidirectional=bi,
        batch_first=bf,
        lengths=lengths,
        seed=seed,
    )
    assert max(errs.values()) <= PTOL, errs


@settings(max_examples=15, deadline=None)
@given(
    kind=st.sampled_from(["rnn", "lstm", "gru"]),
    T=st.integers(1, 6),
    B=st.integers(1, 3),
    H=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_property_lengths_equal_separate_runs(kind, T, B, H, seed):
    """A padded batch with lengths equals running each row alone on its own prefix."""
    rng = np.random.default_rng(seed)
    m = CLASSES[kind](2, H, bidirectional=True, dtype=np.float64, seed=seed)
    lengths = rng.integers(1, T + 1, size=B)
    x = rng.standard_normal((T, B, 2))
    with numrnn.no_grad():
        out, hn = m(x, lengths=lengths)
        for b in range(B):
            ob, hb = m(x[: lengths[b], b])
            np.testing.assert_allclose(out[: lengths[b], b], ob, rtol=1e-12, atol=1e-12)
            assert np.all(out[lengths[b] :, b] == 0)
            hn_b = hn[0][:, b] if kind == "lstm" else hn[:, b]
            hb0 = hb[0] if kind == "lstm" else hb
            np.testing.assert_allclose(hn_b, hb0, rtol=1e-12, atol=1e-12)


def test_no_grad_keeps_no_cache(lstm):
    with numrnn.no_grad():
        lstm(np.zeros((5, 2, 3)))
    assert not lstm._caches
