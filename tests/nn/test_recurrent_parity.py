"""RNN / LSTM / GRU modules against torch.nn on identical weights, float64.

For every option the forward outputs and final states, and the gradients of the
input, of every initial state and of every parameter, are compared given random
upstream gradients on both the output and the final states.  Tolerance 1e-7 in
the normwise relative error of ``helpers.rel_err``: both sides compute the same
float64 expression in a different order, so agreement is ~1e-15; 1e-7 leaves
room for accumulated rounding over long sequences while any wrong term in a
derivative (a missing factor, a wrong gate slice) shows up at 1e-2 or worse.
"""

import numpy as np
import pytest
from helpers import options_id, recurrent_option_grid, rel_err

import numrnn

torch = pytest.importorskip("torch")

from parity import MODULES, TOL, assert_parity, run_parity  # noqa: E402  (needs torch)

GRID = recurrent_option_grid(["rnn", "lstm", "gru"], [1, 2, 3])


@pytest.mark.parametrize("kind,opts", GRID, ids=options_id)
def test_parity_grid(kind, opts):
    assert_parity(run_parity(kind, **opts))


@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True)])
def test_parity_relu(num_layers, bidirectional):
    assert_parity(
        run_parity("rnn", nonlinearity="relu", num_layers=num_layers, bidirectional=bidirectional)
    )


@pytest.mark.parametrize(
    "num_layers,bidirectional,batch_first", [(1, False, False), (2, True, True), (3, False, True)]
)
def test_parity_projection(num_layers, bidirectional, batch_first):
    assert_parity(
        run_parity(
            "lstm",
            proj_size=3,
            num_layers=num_layers,
            bidirectional=bidirectional,
            batch_first=batch_first,
        )
    )


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional,batch_first", [(False, False), (True, False), (True, True)])
def test_parity_lengths(kind, bidirectional, batch_first):
    # unsorted lengths, a full-length row, a length-1 row and ties
    lengths = [3, 7, 1, 7, 4]
    assert_parity(
        run_parity(
            kind,
            T=7,
            B=5,
            lengths=lengths,
            num_layers=2,
            bidirectional=bidirectional,
            batch_first=batch_first,
        )
    )


def test_parity_lengths_projection():
    assert_parity(
        run_parity(
            "lstm", T=6, B=4, lengths=[2, 6, 5, 1], proj_size=2, bidirectional=True, num_layers=2
        )
    )


def test_lengths_all_shorter_than_T_pads_with_zeros():
    # max(lengths) < T: positions past every row's end are zero, shapes are kept
    assert_parity(run_parity("gru", T=6, B=3, lengths=[2, 4, 3], bidirectional=True))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("hx", [True, False])
def test_parity_unbatched(kind, hx):
    assert_parity(run_parity(kind, unbatched=True, hx=hx, num_layers=2, bidirectional=True))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_parity_default_zero_state(kind):
    assert_parity(run_parity(kind, hx=False, num_layers=2))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_parity_long_sequence(kind):
    assert_parity(run_parity(kind, T=200, B=2, D=3, H=5, num_layers=2, bidirectional=True))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_several_forwards_then_lifo_backwards(kind):
    """A decoder calls the module once per step; backward calls come in reverse order."""
    ours_cls, ref_cls = MODULES[kind]
    rng = np.random.default_rng(3)
    D, H, B = 3, 4, 2
    ours = ours_cls(D, H, dtype=np.float64, seed=1)
    ref = ref_cls(D, H, dtype=torch.float64)
    ref.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    xs = [rng.standard_normal((1, B, D)) for _ in range(4)]
    h, ht = None, None
    outs, routs, xts = [], [], []
    for x in xs:
        out, h = ours(x, h)
        xt = torch.tensor(x, requires_grad=True)
        rout, ht = ref(xt, ht)
        outs.append(out)
        routs.append(rout)
        xts.append(xt)
    douts = [rng.standard_normal(o.shape) for o in outs]
    sum((r * torch.tensor(g)).sum() for r, g in zip(routs, douts)).backward()
    # BPTT by hand across calls: the state gradient of call k+1 flows into call k
    dh = None
    dxs = []
    for g in reversed(douts):
        dx, dh = ours.backward(g, dh)
        dxs.append(dx)
    for dx, xt in zip(reversed(dxs), xts):
        assert rel_err(dx, xt.grad.numpy()) <= TOL
    for name, p in ours.named_parameters():
        assert rel_err(p.grad, dict(ref.named_parameters())[name].grad.numpy()) <= TOL


def test_dropout_matches_mask_reuse():
    """Dropout between layers: the backward uses the very mask the forward drew.

    torch draws its own masks, so the check is against a torch model that applies
    the same masks by hand between single-layer LSTMs.
    """
    rng = np.random.default_rng(0)
    T, B, D, H = 5, 3, 4, 6
    ours = numrnn.LSTM(D, H, num_layers=3, dropout=0.4, dtype=np.float64, seed=7)
    ours.train()
    x = rng.standard_normal((T, B, D))
    out, (hn, cn) = ours(x)
    masks = [ours._caches[-1][0][layer][1] for layer in range(2)]
    assert all(m is not None for m in masks)
    layers = []
    for layer in range(3):
        m = torch.nn.LSTM(D if layer == 0 else H, H, dtype=torch.float64)
        sd = ours.state_dict()
        m.load_state_dict(
            {
                k.replace(f"_l{layer}", "_l0"): torch.tensor(v)
                for k, v in sd.items()
                if k.endswith(f"_l{layer}")
            }
        )
        layers.append(m)
    xt = torch.tensor(x, requires_grad=True)
    inp = xt
    for layer, m in enumerate(layers):
        inp, _ = m(inp)
        if layer < 2:
            inp = inp * torch.tensor(masks[layer])
    assert rel_err(out, inp.detach().numpy()) <= TOL
    dout = rng.standard_normal(out.shape)
    (inp * torch.tensor(dout)).sum().backward()
    dx, _ = ours.backward(dout)
    assert rel_err(dx, xt.grad.numpy()) <= TOL
    # the mask zeroes about p of the units and scales the rest by 1/(1-p)
    vals = np.unique(np.round(masks[0], 12))
    assert set(vals) <= {0.0, round(1 / 0.6, 12)}


def test_dropout_off_in_eval_mode():
    ours = numrnn.GRU(3, 4, num_layers=2, dropout=0.5, dtype=np.float64, seed=0).eval()
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    a, _ = ours(x)
    b, _ = ours(x)
    np.testing.assert_array_equal(a, b)
    ours.clear_caches()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_parity(cell, batched):
    ours_cls = {"rnn": numrnn.RNNCell, "lstm": numrnn.LSTMCell, "gru": numrnn.GRUCell}[cell]
    ref_cls = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[cell]
    rng = np.random.default_rng(5)
    D, H, B = 4, 5, 3
    for kwargs in ({}, {"bias": False}) + (({"nonlinearity": "relu"},) if cell == "rnn" else ()):
        ours = ours_cls(D, H, dtype=np.float64, seed=2, **kwargs)
        ref = ref_cls(D, H, dtype=torch.float64, **kwargs)
        ref.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
        shp = (B,) if batched else ()
        x = rng.standard_normal(shp + (D,))
        states = [rng.standard_normal(shp + (H,)) for _ in range(2 if cell == "lstm" else 1)]
        xt = torch.tensor(x, requires_grad=True)
        st = [torch.tensor(s, requires_grad=True) for s in states]
        if cell == "lstm":
            h, c = ours(x, tuple(states))
            rh, rc = ref(xt, tuple(st))
            dh, dc = rng.standard_normal(h.shape), rng.standard_normal(c.shape)
            ((rh * torch.tensor(dh)).sum() + (rc * torch.tensor(dc)).sum()).backward()
            dx, (dh0, dc0) = ours.backward((dh, dc))
            pairs = [(h, rh), (c, rc), (dx, xt.grad), (dh0, st[0].grad), (dc0, st[1].grad)]
        else:
            h = ours(x, states[0])
            rh = ref(xt, st[0])
            dh = rng.standard_normal(h.shape)
            (rh * torch.tensor(dh)).sum().backward()
            dx, dh0 = ours.backward(dh)
            pairs = [(h, rh), (dx, xt.grad), (dh0, st[0].grad)]
        for a, b in pairs:
            assert rel_err(a, b.detach().numpy()) <= TOL
        for name, p in ours.named_parameters():
            assert rel_err(p.grad, dict(ref.named_parameters())[name].grad.numpy()) <= TOL
