"""numrnn.LSTM(peephole=True) and LSTM(layer_norm=True): finite differences, and parity with
an independent torch-autograd implementation of the same equations written here.

torch has no peephole or layer-norm LSTM, so the oracle is the formula in torch ops,
one row at a time (each row runs its own length, so no sorting or packing is shared
with numrnn), differentiated by autograd.  float64 throughout: the two compute the same
sums in different orders, so they agree to rounding, ~1e-15 normwise; 1e-10 leaves room
for the growth over layers and steps, while a wrong term in any path is 1e-3 or worse.
"""

import itertools

import numpy as np
import pytest
from helpers import assert_errors_within, rel_err, torch_peephole_lstm_step

import numrnn
from numrnn.nn import Recurrent
from numrnn.reference import lstm_layernorm_cell, lstm_peephole_cell

torch = pytest.importorskip("torch")

TOL = 1e-10
EXTRA = {
    "peephole": ["weight_ci", "weight_cf", "weight_co"],
    "layer_norm": [
        "weight_ln_ih",
        "bias_ln_ih",
        "weight_ln_hh",
        "bias_ln_hh",
        "weight_ln_c",
        "bias_ln_c",
    ],
}


def _build(kind, D, H, seed=0, randomise=True, **opts):
    m = numrnn.LSTM(D, H, dtype=np.float64, seed=seed, **{kind: True}, **opts)
    if randomise:  # peepholes start at 0 and LN at (1, 0): move them so every path matters
        rng = np.random.default_rng(seed + 100)
        for name, p in m.named_parameters():
            if any(name.startswith(e + "_l") for e in EXTRA[kind]):
                p.data[...] = rng.uniform(0.5, 1.5, p.data.shape) * rng.choice([-1, 1], p.shape)
    return m


# -- the oracle: the equations in torch ops -------------------------------------------
def _torch_step(kind, x, h, c, p):
    F = torch.nn.functional
    if kind == "peephole":
        return torch_peephole_lstm_step(x, h, c, p)
    G = p["weight_ih"].shape[0]
    a = (
        F.layer_norm(x @ p["weight_ih"].T, (G,), p["weight_ln_ih"], p["bias_ln_ih"], eps=1e-5)
        + p.get("bias_ih", 0)
        + F.layer_norm(h @ p["weight_hh"].T, (G,), p["weight_ln_hh"], p["bias_ln_hh"], eps=1e-5)
        + p.get("bias_hh", 0)
    )
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    c = torch.sigmoid(a_f) * c + torch.sigmoid(a_i) * torch.tanh(a_g)
    n = F.layer_norm(c, (G // 4,), p["weight_ln_c"], p["bias_ln_c"], eps=1e-5)
    return torch.sigmoid(a_o) * torch.tanh(n), c


def torch_lstm(kind, x, h0, c0, params, num_layers, bidirectional, lengths):
    """x (T, B, D), h0/c0 (L*dirs, B, H), params {name: tensor}; returns out, hn, cn."""
    T, B, _ = x.shape
    H = h0.shape[-1]
    lengths = [T] * B if lengths is None else list(lengths)
    dirs = 2 if bidirectional else 1
    inp, hn, cn = x, [], []
    for layer in range(num_layers):
        outs = []
        for d in range(dirs):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            p = {k[: -len(sfx)]: v for k, v in params.items() if k.endswith(sfx)}
            j = layer * dirs + d
            rows, h_last, c_last = [], [], []
            for b in range(B):
                h, c = h0[j, b : b + 1], c0[j, b : b + 1]
                out_b = [torch.zeros(1, H, dtype=x.dtype)] * T  # zeros past the length
                steps = range(lengths[b] - 1, -1, -1) if d else range(lengths[b])
                for t in steps:
                    h, c = _torch_step(kind, inp[t, b : b + 1], h, c, p)
                    out_b[t] = h
                rows.append(torch.cat(out_b))  # (T, H)
                h_last.append(h)
                c_last.append(c)
            outs.append(torch.stack(rows, dim=1))  # (T, B, H)
            hn.append(torch.cat(h_last))
            cn.append(torch.cat(c_last))
        inp = torch.cat(outs, dim=-1)
    return inp, torch.stack(hn), torch.stack(cn)


GRID = list(itertools.product(["peephole", "layer_norm"], [1, 2], [False, True], [False, True]))


@pytest.mark.parametrize("kind,num_layers,bidirectional,batch_first", GRID)
@pytest.mark.parametrize("lengths", [None, [5, 2, 4]])
def test_parity_with_torch_autograd(kind, num_layers, bidirectional, batch_first, lengths):
    T, B, D, H = 5, 3, 4, 3
    opts = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    m = _build(kind, D, H, **opts)
    rng = np.random.default_rng(1)
    n = num_layers * (2 if bidirectional else 1)
    x = rng.standard_normal((T, B, D))
    h0, c0 = rng.standard_normal((n, B, H)), rng.standard_normal((n, B, H))
    xin = x.swapaxes(0, 1) if batch_first else x
    out, (hn, cn) = m(xin, (h0, c0), lengths=lengths)
    dout = rng.standard_normal(out.shape)
    dhn, dcn = rng.standard_normal(hn.shape), rng.standard_normal(cn.shape)
    dx, (dh0, dc0) = m.backward(dout, (dhn, dcn))

    tp = {k: torch.tensor(v, requires_grad=True) for k, v in m.state_dict().items()}
    tx, th0, tc0 = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    t_out, t_hn, t_cn = torch_lstm(kind, tx, th0, tc0, tp, num_layers, bidirectional, lengths)
    t_dout = torch.tensor(dout.swapaxes(0, 1) if batch_first else dout)
    (
        (t_out * t_dout).sum() + (t_hn * torch.tensor(dhn)).sum() + (t_cn * torch.tensor(dcn)).sum()
    ).backward()

    errs = {
        "out": rel_err(out.swapaxes(0, 1) if batch_first else out, t_out.detach().numpy()),
        "hn": rel_err(hn, t_hn.detach().numpy()),
        "cn": rel_err(cn, t_cn.detach().numpy()),
        "dx": rel_err(dx.swapaxes(0, 1) if batch_first else dx, tx.grad.numpy()),
        "dh0": rel_err(dh0, th0.grad.numpy()),
        "dc0": rel_err(dc0, tc0.grad.numpy()),
    }
    for name, p in m.named_parameters():
        errs[name] = rel_err(p.grad, tp[name].grad.numpy())
    assert_errors_within(errs, TOL)


@pytest.mark.parametrize(
    "kind,num_layers,bidirectional,batch_first,lengths,bias",
    [
        ("peephole", 2, True, False, [4, 1, 3], True),
        ("peephole", 1, False, True, None, False),
        ("layer_norm", 2, True, True, [4, 1, 3], True),
        ("layer_norm", 1, False, False, None, False),
    ],
)
def test_finite_differences(kind, num_layers, bidirectional, batch_first, lengths, bias):
    T, B, D, H = 4, 3, 3, 3
    opts = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    m = _build(kind, D, H, bias=bias, **opts)
    rng = np.random.default_rng(2)
    n = num_layers * (2 if bidirectional else 1)
    x = rng.standard_normal((B, T, D) if batch_first else (T, B, D))
    hx = (rng.standard_normal((n, B, H)), rng.standard_normal((n, B, H)))
    report = numrnn.gradcheck(m, (x, hx), kwargs={"lengths": lengths}, max_entries=None)
    assert report.passed, str(report)


@pytest.mark.parametrize(
    "kind,cell", [("peephole", lstm_peephole_cell), ("layer_norm", lstm_layernorm_cell)]
)
def test_equals_recurrent_over_the_reference_cell(kind, cell):
    # LSTM(peephole=True) is Recurrent(lstm_peephole_cell) with LSTM's names: the same
    # loop, so the same numbers bit for bit once the weights are the same
    m = _build(kind, 3, 4, num_layers=2, bidirectional=True)
    r = Recurrent(cell, 3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=9)
    r.load_state_dict(m.state_dict())
    x = np.random.default_rng(3).standard_normal((5, 2, 3))
    a, b = m(x, lengths=[5, 3]), r(x, lengths=[5, 3])
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(m.backward(a[0])[0], r.backward(b[0])[0])


@pytest.mark.parametrize("kind", ["peephole", "layer_norm"])
def test_initial_weights_and_names(kind):
    plain = numrnn.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=5)
    m = numrnn.LSTM(
        3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=5, **{kind: True}
    )
    sd, plain_sd = m.state_dict(), plain.state_dict()
    assert list(sd)[: len(plain_sd)] == list(plain_sd)  # the plain names first, in order
    for k, v in plain_sd.items():
        np.testing.assert_array_equal(sd[k], v)  # the same draws for the same seed
    extra = [k for k in sd if k not in plain_sd]
    want = [e + sfx for sfx in ("_l0", "_l0_reverse", "_l1", "_l1_reverse") for e in EXTRA[kind]]
    assert sorted(extra) == sorted(want)
    if kind == "peephole":
        # zero peepholes: the plain LSTM's numbers (reference loop vs fast kernels)
        x = np.random.default_rng(0).standard_normal((6, 2, 3))
        assert rel_err(m(x)[0], plain(x)[0]) < 1e-13
    else:
        for k in extra:
            np.testing.assert_array_equal(sd[k], 1.0 if k.startswith("weight") else 0.0)


@pytest.mark.parametrize("kind", ["peephole", "layer_norm"])
def test_state_dicts(kind):
    plain = numrnn.LSTM(3, 4, dtype=np.float64, seed=0)
    variant = numrnn.LSTM(3, 4, dtype=np.float64, seed=1, **{kind: True})
    numrnn.LSTM(3, 4, dtype=np.float64, seed=2).load_state_dict(plain.state_dict())
    with pytest.raises(ValueError, match=r"missing keys \['weight_") as err:
        variant.load_state_dict(plain.state_dict())
    for name in EXTRA[kind]:
        assert f"{name}_l0" in str(err.value)
    # a variant's state_dict carries the plain weights: non-strict loading takes them
    plain.load_state_dict(variant.state_dict(), strict=False)
    np.testing.assert_array_equal(plain.weight_hh_l0.data, variant.weight_hh_l0.data)


def test_forget_bias_and_chrono_reach_the_variants():
    m = numrnn.LSTM(3, 4, layer_norm=True, forget_bias=1.0, dtype=np.float64, seed=0)
    np.testing.assert_array_equal(m.bias_ih_l0.data[4:8], 1.0)
    numrnn.nn.init.chrono_init(m, 20, rng=0)
    assert np.all(m.bias_ih_l0.data[4:8] >= 0)


def test_errors():
    with pytest.raises(ValueError, match="choose one of peephole=True and layer_norm=True"):
        numrnn.LSTM(3, 4, peephole=True, layer_norm=True)
    with pytest.raises(
        ValueError, match="peephole=True does not support proj_size; got proj_size=2"
    ):
        numrnn.LSTM(3, 4, proj_size=2, peephole=True)
    with pytest.raises(ValueError, match="needs backend='numpy'"):
        numrnn.LSTM(3, 4, layer_norm=True, backend="torch")
    with pytest.raises(TypeError, match="peephole must be True or False; got 'yes'"):
        numrnn.LSTM(3, 4, peephole="yes")
    m = numrnn.LSTM(3, 4, peephole=True)
    m.to(backend="torch")
    with pytest.raises(TypeError, match="move it back with .to\\(backend='numpy'\\)"):
        m(torch.zeros(2, 1, 3))
