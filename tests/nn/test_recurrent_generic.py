"""numrnn.Recurrent: the generic time loop over a cell's step pair.

Over the built-in cells it must compute what the fast modules compute, float64,
to 1e-12 normwise relative error (``helpers.rel_err``): the same equations in a
different order of rounding (reference vs fast kernels), a few ulps per step;
a wrong state carried, a wrong row frozen or a wrong gradient path shows up at
1e-3 or worse.  With the same seed the initial weights and dropout masks are
drawn in the same order, so the modules are compared without copying weights,
and also on a copied state_dict.
"""

import numpy as np
import pytest
from helpers import assert_errors_within, options_id, recurrent_option_grid, rel_err

import numrnn
from numrnn.reference import gru_cell, lstm_cell, rnn_cell, rnn_relu_cell

TOL = 1e-12
FAST = {
    "rnn": (rnn_cell, lambda *a, **k: numrnn.RNN(*a, **k)),
    "rnn_relu": (rnn_relu_cell, lambda *a, **k: numrnn.RNN(*a, nonlinearity="relu", **k)),
    "lstm": (lstm_cell, lambda *a, **k: numrnn.LSTM(*a, **k)),
    "gru": (gru_cell, lambda *a, **k: numrnn.GRU(*a, **k)),
}


def _flat(state):
    return list(state) if isinstance(state, tuple) else [state]


def compare(kind, *, T=5, B=3, D=4, H=5, lengths=None, hx=True, seed=0, copy=False, **opts):
    """Both modules on the same input and upstream gradients; {name: rel error}."""
    cell, fast_cls = FAST[kind]
    generic = numrnn.Recurrent(cell, D, H, dtype=np.float64, seed=seed, **opts)
    fast = fast_cls(D, H, dtype=np.float64, seed=seed + copy, **opts)
    if copy:
        fast.load_state_dict(generic.state_dict())
    assert list(generic.state_dict()) == list(fast.state_dict())
    rng = np.random.default_rng(seed)
    n = opts.get("num_layers", 1) * (2 if opts.get("bidirectional") else 1)
    x = rng.standard_normal((B, T, D) if opts.get("batch_first") else (T, B, D))
    h = [rng.standard_normal((n, B, H)) for _ in cell.states] if hx else None
    h = None if h is None else (tuple(h) if len(h) > 1 else h[0])
    errs = {}
    results = []
    for m in (generic, fast):
        out, hn = m(x, h, lengths=lengths)
        results.append([out, *_flat(hn)])
    for k, (a, b) in enumerate(zip(*results)):
        errs[f"forward[{k}]"] = rel_err(a, b)
    ups = [rng.standard_normal(a.shape) for a in results[0]]
    dhn = tuple(ups[1:]) if len(ups) > 2 else ups[1]
    grads = [m.backward(ups[0], dhn) for m in (generic, fast)]
    errs["dx"] = rel_err(grads[0][0], grads[1][0])
    for k, (a, b) in enumerate(zip(_flat(grads[0][1]), _flat(grads[1][1]))):
        errs[f"dh0[{k}]"] = rel_err(a, b)
    fast_params = dict(fast.named_parameters())
    for name, p in generic.named_parameters():
        errs[name] = rel_err(p.grad, fast_params[name].grad)
    return errs


def check(errs):
    assert_errors_within(errs, TOL)


GRID = recurrent_option_grid(["rnn", "rnn_relu", "lstm", "gru"], [1, 2])


@pytest.mark.parametrize("kind,opts", GRID, ids=options_id)
def test_equals_the_fast_modules(kind, opts):
    check(compare(kind, **opts))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_equals_the_fast_modules_with_lengths(kind, batch_first):
    # unsorted, a full-length row, a length-1 row, ties
    opts = {"num_layers": 2, "bidirectional": True, "batch_first": batch_first}
    check(compare(kind, T=7, B=5, lengths=[3, 7, 1, 7, 4], **opts))


@pytest.mark.parametrize("lengths", [None, [4, 9, 1, 6]])
def test_lstm_cell_equals_numrnn_lstm_on_a_copied_state_dict(lengths):
    check(
        compare(
            "lstm",
            T=9,
            B=4,
            D=10,
            H=32,
            num_layers=2,
            bidirectional=True,
            lengths=lengths,
            copy=True,
        )
    )


def test_lengths_all_shorter_than_T():
    check(compare("gru", T=6, B=3, lengths=[2, 4, 3], bidirectional=True))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_zero_state_unbatched_and_dropout(kind):
    check(compare(kind, hx=False, num_layers=2))
    cell, fast_cls = FAST[kind]
    # unbatched (T, D) input with hx (L*dirs, H)
    g = numrnn.Recurrent(cell, 3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=2)
    f = fast_cls(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3))
    hx = [rng.standard_normal((4, 4)) for _ in cell.states]
    hx = tuple(hx) if len(hx) > 1 else hx[0]
    (a, ha), (b, hb) = g(x, hx), f(x, hx)
    assert a.shape == (5, 8) and rel_err(a, b) <= TOL
    for u, v in zip(_flat(ha), _flat(hb)):
        assert rel_err(u, v) <= TOL
    dout = rng.standard_normal(a.shape)
    for u, v in zip(_flat(g.backward(dout)[1]), _flat(f.backward(dout)[1])):
        assert rel_err(u, v) <= TOL
    # dropout between layers: same seed, same masks, same results
    g = numrnn.Recurrent(cell, 3, 4, num_layers=3, dropout=0.5, dtype=np.float64, seed=3)
    f = fast_cls(3, 4, num_layers=3, dropout=0.5, dtype=np.float64, seed=3)
    x = rng.standard_normal((4, 2, 3))
    (a, _), (b, _) = g(x), f(x)
    assert rel_err(a, b) <= TOL
    dout = rng.standard_normal(a.shape)
    assert rel_err(g.backward(dout)[0], f.backward(dout)[0]) <= TOL


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_several_forwards_then_lifo_backwards(kind):
    cell, fast_cls = FAST[kind]
    g = numrnn.Recurrent(cell, 3, 4, dtype=np.float64, seed=1)
    f = fast_cls(3, 4, dtype=np.float64, seed=1)
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((1, 2, 3)) for _ in range(4)]
    douts = [rng.standard_normal((1, 2, 4)) for _ in range(4)]
    dxs = []
    for m in (g, f):
        h = None
        for x in xs:
            _, h = m(x, h)
        dh, got = None, []
        for dout in reversed(douts):
            dx, dh = m.backward(dout, dh)
            got.append(dx)
        dxs.append(got)
        assert not m._caches
    for a, b in zip(*dxs):
        assert rel_err(a, b) <= TOL
    fp = dict(f.named_parameters())
    for name, p in g.named_parameters():
        assert rel_err(p.grad, fp[name].grad) <= TOL


def test_float32_and_grad_flow():
    m = numrnn.Recurrent(lstm_cell, 3, 4, num_layers=2, seed=0)
    x = np.random.default_rng(0).standard_normal((6, 2, 3)).astype(np.float32)
    out, (h, c) = m(x)
    assert out.dtype == h.dtype == c.dtype == np.float32
    dx, (dh0, dc0) = m.backward(np.ones_like(out), record=True)
    assert dx.dtype == dh0.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in m.parameters())
    assert m.grad_flow["h"].shape == (2, 1, 6) and m.grad_flow["c"].shape == (2, 1, 6)
    # the last layer's output receives dout = 1 at every step: ||dh_t|| >= 0, and > 0 here
    assert np.all(m.grad_flow["h"][1] > 0)


def test_parameter_names_and_repr():
    m = numrnn.Recurrent(gru_cell, 3, 4, num_layers=2, bidirectional=True, bias=False)
    assert list(m.state_dict()) == [
        "weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse",
        "weight_ih_l1", "weight_hh_l1", "weight_ih_l1_reverse", "weight_hh_l1_reverse",
    ]  # fmt: skip
    assert m.weight_ih_l1.shape == (12, 8)
    assert repr(m).startswith("Recurrent(gru, 3, 4, num_layers=2, bias=False")


@pytest.mark.parametrize(
    "args,kwargs,exc,msg",
    [
        (("lstm", 3, 4), {}, TypeError, "cell must be a numrnn.reference.Cell"),
        ((lstm_cell, 0, 4), {}, ValueError, "input_size must be an integer >= 1; got 0"),
        ((lstm_cell, 3, 2.5), {}, TypeError, "hidden_size must be an integer >= 1; got 2.5"),
        ((lstm_cell, 3, 4), {"num_layers": 0}, ValueError, "num_layers must be an integer >= 1"),
        ((lstm_cell, 3, 4), {"dropout": 1.5}, ValueError, r"dropout must be a number in \[0, 1\]"),
        ((lstm_cell, 3, 4), {"dtype": np.int32}, (TypeError, ValueError), "dtype"),
    ],
)
def test_bad_constructor(args, kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        numrnn.Recurrent(*args, **kwargs)


def test_bad_calls_leave_the_module_unchanged():
    m = numrnn.Recurrent(lstm_cell, 3, 4, dtype=np.float64)
    x = np.zeros((2, 1, 3))
    with pytest.raises(ValueError, match=r"hx must be a tuple \(h, c\); got 3 arrays"):
        m(x, (np.zeros((1, 1, 4)),) * 3)
    with pytest.raises(ValueError, match=r"hx\[1\] must have shape \(1, 1, 4\); got \(1, 1, 5\)"):
        m(x, (np.zeros((1, 1, 4)), np.zeros((1, 1, 5))))
    with pytest.raises(
        TypeError, match="x has dtype float32 but the module's parameters are float64"
    ):
        m(x.astype(np.float32))
    with pytest.raises(ValueError, match="x must have 3 features in its last dimension"):
        m(np.zeros((2, 1, 5)))
    with pytest.raises(RuntimeError, match="backward called with no pending forward"):
        m.backward(np.zeros((2, 1, 4)))
    out, _ = m(x)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 1, 4\)"):
        m.backward(np.zeros((2, 1, 5)))
    m.backward(np.zeros((2, 1, 4)))  # the refused call kept the cache
    assert not m._caches


def test_a_bad_user_init_is_named():
    from numrnn.reference import Cell, Weight

    bad = Cell(
        "bad",
        (Weight("weight_ih", lambda D, H: (H, D), init=lambda rng, shape, H: np.zeros(3)),),
        ("h",),
        None,
        None,
    )
    with pytest.raises(ValueError, match=r"init of weight 'weight_ih' must return shape \(4, 3\)"):
        numrnn.Recurrent(bad, 3, 4)


def test_only_the_numpy_backend():
    torch = pytest.importorskip("torch")
    m = numrnn.Recurrent(rnn_cell, 3, 4, dtype=np.float64).to(backend="torch")
    with pytest.raises(TypeError, match="Recurrent runs the NumPy reference cells"):
        m(torch.zeros((2, 1, 3), dtype=torch.float64))
