"""numrnn.study.grad_flow and the gradient-flow record of the recurrent modules.

The recorded norms are checked against torch: the same weights in loops of
``torch.nn.RNNCell``/``LSTMCell``/``GRUCell`` (one loop per layer and direction,
the reverse one over reversed time), ``retain_grad`` on every ``h_t`` and ``c_t``,
and the loss ``sum(out * G) + sum(h_n * G_h) (+ sum(c_n * G_c))`` with random
``G``.  Both sides are float64 and the norms are O(1) sums of a few dozen
squares, so they agree to a few ulps; 1e-10 relative is far above that and far
below any real error (a missing term moves a norm by O(1e-2) or more).
"""

import math
import sys

import numpy as np
import pytest

import numrnn
from numrnn.study import grad_flow_series, grad_flow_table, plot_grad_flow

REL = 1e-10
T, B, D, H = 6, 3, 3, 4
MODULES = {"rnn": numrnn.RNN, "lstm": numrnn.LSTM, "gru": numrnn.GRU}


def torch_states_grads(module, kind, x, dout, dhx):
    """Run torch cells with the module's weights; return {(layer, dir): (h grads, c grads)} by time."""
    torch = pytest.importorskip("torch")
    cell_cls = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[kind]
    sd = module.state_dict()
    L, ND = module.num_layers, module.num_directions
    inp = torch.from_numpy(x)
    finals_h, finals_c, seqs = [], [], {}
    for layer in range(L):
        outs = []
        for d in range(ND):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            cell = cell_cls(inp.shape[-1], H).double()
            with torch.no_grad():
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(cell, name).copy_(torch.from_numpy(np.asarray(sd[name + sfx])))
            h = torch.zeros(B, H, dtype=torch.float64)
            c = torch.zeros(B, H, dtype=torch.float64)
            hseq, cseq = [None] * T, [None] * T
            for t in reversed(range(T)) if d else range(T):
                if kind == "lstm":
                    h, c = cell(inp[t], (h, c))
                    c.retain_grad()
                    cseq[t] = c
                else:
                    h = cell(inp[t], h)
                h.retain_grad()
                hseq[t] = h
            finals_h.append(h)
            finals_c.append(c)
            seqs[layer, d] = (hseq, cseq)
            outs.append(torch.stack(hseq))  # (T, B, H)
        inp = torch.cat(outs, dim=-1) if ND > 1 else outs[0]
    dh, dc = dhx if kind == "lstm" else (dhx, None)
    loss = (inp * torch.from_numpy(dout)).sum()
    loss = loss + sum((f * torch.from_numpy(dh[j])).sum() for j, f in enumerate(finals_h))
    if kind == "lstm":
        loss = loss + sum((f * torch.from_numpy(dc[j])).sum() for j, f in enumerate(finals_c))
    loss.backward()
    return inp.detach().numpy(), seqs


@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (1, True), (2, True)])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_recorded_norms_equal_torch_state_gradients(kind, num_layers, bidirectional):
    torch = pytest.importorskip("torch")  # noqa: F841
    rng = np.random.default_rng(11)
    mod = MODULES[kind](
        D, H, num_layers=num_layers, bidirectional=bidirectional, dtype=np.float64, seed=3
    )
    x = rng.standard_normal((T, B, D))
    out, _ = mod(x)
    S = num_layers * mod.num_directions
    dout = rng.standard_normal(out.shape)
    dhx = rng.standard_normal((S, B, H))
    if kind == "lstm":
        dhx = (dhx, rng.standard_normal((S, B, H)))
    mod.backward(dout, dhx, record=True)
    gf = mod.grad_flow
    ref_out, seqs = torch_states_grads(mod, kind, x, dout, dhx)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-14)  # same weights on both sides
    assert gf["h"].shape == (num_layers, mod.num_directions, T)
    assert set(gf) == ({"h", "c"} if kind == "lstm" else {"h"})
    for (layer, d), (hseq, cseq) in seqs.items():
        want_h = [float(np.linalg.norm(h.grad.numpy())) for h in hseq]
        np.testing.assert_allclose(
            gf["h"][layer, d], want_h, rtol=REL, err_msg=f"h layer {layer} dir {d}"
        )
        if kind == "lstm":
            want_c = [float(np.linalg.norm(c.grad.numpy())) for c in cseq]
            np.testing.assert_allclose(
                gf["c"][layer, d], want_c, rtol=REL, err_msg=f"c layer {layer} dir {d}"
            )


def test_series_order_by_distance():
    norms = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    gf = {"c": np.stack([norms, norms])[None], "h": np.stack([norms, 2 * norms])[None]}
    series = grad_flow_series(gf)
    assert [(s["state"], s["layer"], s["direction"]) for s in series] == [
        ("h", 0, 0),
        ("h", 0, 1),
        ("c", 0, 0),
        ("c", 0, 1),
    ]
    # forward: distance k is t = T-1-k; reverse: distance k is t = k
    np.testing.assert_array_equal(series[0]["norm"], norms[::-1])
    np.testing.assert_array_equal(series[1]["norm"], 2 * norms)
    np.testing.assert_array_equal(series[0]["distance"], np.arange(5))
    # a functional record {"h": (T,)} is one forward direction of one layer
    assert grad_flow_series({"h": norms})[0]["norm"].tolist() == norms[::-1].tolist()


def test_grad_flow_table_contains_the_numbers():
    norms = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    text = grad_flow_table({"h": np.stack([norms, norms])[None]})
    lines = text.splitlines()
    assert "T = 5" in lines[0]
    fwd = next(line for line in lines if "forward" in line).split()
    rev = next(line for line in lines if "reverse" in line).split()
    # forward: 16 at distance 0, 4 at distance 2, 1 at distance 4, halving per step
    assert fwd[3:] == ["1.6000e+01", "4.0000e+00", "1.0000e+00", "0.5000"]
    assert rev[3:] == ["1.0000e+00", "4.0000e+00", "1.6000e+01", "2.0000"]
    assert "d=0" in lines[1] and "d=2" in lines[1] and "d=4" in lines[1]


def test_grad_flow_table_of_a_module():
    rng = np.random.default_rng(0)
    mod = numrnn.LSTM(2, 3, dtype=np.float64, seed=1)
    out, _ = mod(rng.standard_normal((7, 2, 2)))
    dout = np.zeros_like(out)
    dout[-1] = 1.0  # loss on the last output only
    mod.backward(dout, record=True)
    text = grad_flow_table(mod)
    for key in ("h", "c"):
        n = mod.grad_flow[key][0, 0]  # time order; distance 0 is the last step
        rate = (n[0] / n[-1]) ** (1 / 6)
        for v in (f"{n[-1]:.4e}", f"{n[3]:.4e}", f"{n[0]:.4e}", f"{rate:.4f}"):
            assert v in text
    # T = 1 and zero norms give '-' for the undefined rate, not an error
    assert grad_flow_table({"h": np.zeros((1, 1, 1))}).splitlines()[-1].split()[-1] == "-"


@pytest.fixture
def agg():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_plot_grad_flow_writes_png(agg, tmp_path):
    rng = np.random.default_rng(2)
    mod = numrnn.GRU(2, 3, num_layers=2, bidirectional=True, dtype=np.float64, seed=0)
    out, hn = mod(rng.standard_normal((9, 2, 2)))
    mod.backward(rng.standard_normal(out.shape), record=True)
    ax = plot_grad_flow(mod, title="GRU", label="gru")
    path = tmp_path / "flow.png"
    ax.figure.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ax.get_yscale() == "log" and ax.get_title() == "GRU"
    lines = ax.get_lines()
    assert len(lines) == 4  # 2 layers x 2 directions, state h only
    np.testing.assert_array_equal(lines[0].get_xdata(), np.arange(9))
    np.testing.assert_allclose(lines[0].get_ydata(), mod.grad_flow["h"][0, 0, ::-1])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert all(lab.startswith("gru: ") for lab in labels) and any(
        "reverse" in lab for lab in labels
    )


def test_plot_grad_flow_into_given_axes_and_zero_norms(agg):
    _, ax = agg.subplots()
    gf = {"h": np.array([[[0.0, 0.5, 1.0]]]), "c": np.array([[[0.1, 0.2, 0.4]]])}
    assert plot_grad_flow(gf, ax=ax) is ax
    h_line, c_line = ax.get_lines()
    assert math.isnan(h_line.get_ydata()[-1])  # the zero at distance 2 is not drawn on the log axis
    assert c_line.get_linestyle() == "--"


def test_plot_errors(agg, monkeypatch):
    mod = numrnn.RNN(2, 3, dtype=np.float64, seed=0)
    with pytest.raises(ValueError, match="record=True"):
        plot_grad_flow(mod)
    with pytest.raises(TypeError, match="grad_flow dict"):
        plot_grad_flow([1.0, 2.0])
    with pytest.raises(ValueError, match="num_layers, num_directions, T"):
        grad_flow_table({"h": np.ones((2, 3))})
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # as if matplotlib were absent
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_grad_flow({"h": np.ones(3)})
