"""numrnn.trace: the traced numbers against hand-coded scalar equations and torch autograd.

The references are written here from the equations, not with numrnn: the forward
in plain Python floats (``math``), the gradients with torch autograd on the same
scalar equations (``retain_grad`` on every intermediate).  Both are float64; the
trace computes the same expressions in another order, so the agreement is a few
ulps of the largest magnitude (the numbers are O(1)); 1e-12 relative leaves a
wide margin while any wrong term (a missing factor, a wrong gate) is O(1e-2).
"""

import json
import math
import os

import numpy as np
import pytest
from helpers import run_python

from numrnn.trace import Trace, default_weights, format_trace, main, trace

REL = 1e-12


def sig(v):
    return 1.0 / (1.0 + math.exp(-v))


# Hidden size 1, input size 1: every weight is a scalar.  Gate blocks in PyTorch's order.
WEIGHTS = {
    "rnn": {"weight_ih": [[0.7]], "weight_hh": [[-0.6]], "bias_ih": [0.05], "bias_hh": [-0.15]},
    "lstm": {
        "weight_ih": [[0.6], [-0.4], [0.9], [0.3]],
        "weight_hh": [[-0.5], [0.8], [0.2], [-0.7]],
        "bias_ih": [0.1, 0.3, -0.2, 0.05],
        "bias_hh": [-0.05, 0.2, 0.15, -0.1],
    },
    "gru": {
        "weight_ih": [[0.6], [-0.4], [0.9]],
        "weight_hh": [[-0.5], [0.8], [0.7]],
        "bias_ih": [0.1, 0.3, -0.2],
        "bias_hh": [-0.05, 0.2, 0.15],
    },
}
INPUTS = [1.0, -0.5, 2.0, 0.25]
H0, C0 = 0.3, -0.2


def scalars(kind):
    """The scalar weights by gate: {"ih": [...], "hh": [...], "bih": [...], "bhh": [...]}."""
    w = WEIGHTS[kind]
    return (
        [r[0] for r in w["weight_ih"]],
        [r[0] for r in w["weight_hh"]],
        w["bias_ih"],
        w["bias_hh"],
    )


# -- plain-Python forward references ----------------------------------------------------------


def rnn_forward_ref(xs, h0):
    wi, wh, bi, bh = scalars("rnn")
    h, steps = h0, []
    for x in xs:
        a_x, a_h = wi[0] * x + bi[0], wh[0] * h + bh[0]
        a = a_x + a_h
        steps.append(dict(x=x, h_prev=h, a_x=a_x, a_h=a_h, a=a, h=math.tanh(a)))
        h = steps[-1]["h"]
    return steps


def lstm_forward_ref(xs, h0, c0):
    wi, wh, bi, bh = scalars("lstm")
    h, c, steps = h0, c0, []
    for x in xs:
        a = [wi[k] * x + bi[k] + wh[k] * h + bh[k] for k in range(4)]
        i, f, g, o = sig(a[0]), sig(a[1]), math.tanh(a[2]), sig(a[3])
        c_new = f * c + i * g
        h_new = o * math.tanh(c_new)
        steps.append(
            dict(
                x=x,
                h_prev=h,
                c_prev=c,
                a_i=a[0],
                a_f=a[1],
                a_g=a[2],
                a_o=a[3],
                i=i,
                f=f,
                g=g,
                o=o,
                c=c_new,
                tanh_c=math.tanh(c_new),
                h=h_new,
            )
        )
        h, c = h_new, c_new
    return steps


def gru_forward_ref(xs, h0):
    wi, wh, bi, bh = scalars("gru")
    h, steps = h0, []
    for x in xs:
        a_r = wi[0] * x + bi[0] + wh[0] * h + bh[0]
        a_z = wi[1] * x + bi[1] + wh[1] * h + bh[1]
        r, z = sig(a_r), sig(a_z)
        u = wh[2] * h + bh[2]
        ax_n = wi[2] * x + bi[2]
        a_n = ax_n + r * u
        n = math.tanh(a_n)
        h_new = (1 - z) * n + z * h
        steps.append(
            dict(x=x, h_prev=h, a_r=a_r, a_z=a_z, r=r, z=z, u=u, ax_n=ax_n, a_n=a_n, n=n, h=h_new)
        )
        h = h_new
    return steps


def trace_from_h0(kind, xs, **options):
    """``trace`` of ``kind`` on ``WEIGHTS[kind]`` from ``h0 = H0`` (and ``c0 = C0`` for the LSTM)."""
    c0 = [C0] if kind == "lstm" else None
    return trace(kind, xs, WEIGHTS[kind], h0=[H0], c0=c0, **options)


def forward_ref(kind, xs, h0=0.0, c0=0.0):
    if kind == "rnn":
        return rnn_forward_ref(xs, h0)
    if kind == "lstm":
        return lstm_forward_ref(xs, h0, c0)
    return gru_forward_ref(xs, h0)


# -- torch autograd references on the same scalar equations ------------------------------------


def torch_ref(kind, xs, h0, c0, loss, truncate=None):
    """Gradients of every intermediate (retain_grad), of the parameters and of h0/c0/x.

    With ``truncate=K`` the state is detached at the start of every chunk of ``K`` steps
    (``h.detach()``, as truncated BPTT is written in PyTorch); the detached copies are
    leaves, and their ``.grad`` is what the next step sent back and truncation dropped,
    returned as ``cut`` (step t, counted from 1, -> (dL/dh_t, dL/dc_t or None)).
    """
    torch = pytest.importorskip("torch")
    d = torch.float64
    wi, wh, bi, bh = (torch.tensor(v, dtype=d, requires_grad=True) for v in scalars(kind))
    h = torch.tensor(h0, dtype=d, requires_grad=True)
    c = torch.tensor(c0, dtype=d, requires_grad=True)
    h_init, c_init = h, c
    x = [torch.tensor(v, dtype=d, requires_grad=True) for v in xs]
    steps, cut_leaves = [], {}
    for t in range(len(xs)):
        if truncate is not None and t > 0 and t % truncate == 0:
            h = h.detach().requires_grad_(True)
            c = c.detach().requires_grad_(True)
            cut_leaves[t] = (h, c)  # the state after step t (from 1), cut
        s = {}
        if kind == "rnn":
            s["a"] = wi[0] * x[t] + bi[0] + wh[0] * h + bh[0]
            s["h"] = torch.tanh(s["a"])
        elif kind == "lstm":
            for k, g in enumerate("ifgo"):
                s["a_" + g] = wi[k] * x[t] + bi[k] + wh[k] * h + bh[k]
            s["i"], s["f"] = torch.sigmoid(s["a_i"]), torch.sigmoid(s["a_f"])
            s["g"], s["o"] = torch.tanh(s["a_g"]), torch.sigmoid(s["a_o"])
            s["c"] = s["f"] * c + s["i"] * s["g"]
            s["h"] = s["o"] * torch.tanh(s["c"])
            c = s["c"]
        else:
            s["a_r"] = wi[0] * x[t] + bi[0] + wh[0] * h + bh[0]
            s["a_z"] = wi[1] * x[t] + bi[1] + wh[1] * h + bh[1]
            s["r"], s["z"] = torch.sigmoid(s["a_r"]), torch.sigmoid(s["a_z"])
            s["u"] = wh[2] * h + bh[2]
            s["a_n"] = wi[2] * x[t] + bi[2] + s["r"] * s["u"]
            s["n"] = torch.tanh(s["a_n"])
            s["h"] = (1 - s["z"]) * s["n"] + s["z"] * h
        for v in s.values():
            v.retain_grad()
        steps.append(s)
        h = s["h"]
    L = sum(s["h"] for s in steps) if loss == "sum" else steps[-1]["h"]
    L.backward()

    def grad(v):  # no gradient at all: a node the truncated loss does not reach
        return 0.0 if v.grad is None else v.grad.item()

    per_step = [{k: grad(v) for k, v in s.items()} for s in steps]
    params = {
        "weight_ih": wi.grad.numpy(),
        "weight_hh": wh.grad.numpy(),
        "bias_ih": bi.grad.numpy(),
        "bias_hh": bh.grad.numpy(),
    }
    return {
        "loss": L.item(),
        "steps": per_step,
        "params": params,
        "dh0": grad(h_init),
        "dc0": None if c_init.grad is None else c_init.grad.item(),
        "dx": [grad(v) for v in x],
        "cut": {
            t: (grad(h), None if kind != "lstm" else grad(c)) for t, (h, c) in cut_leaves.items()
        },
    }


def close(a, b, rel=REL):
    return float(np.asarray(a).reshape(())) == pytest.approx(b, rel=rel, abs=1e-15)


# -- the API -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_forward_matches_plain_python(kind):
    tr = trace_from_h0(kind, INPUTS)
    ref = forward_ref(kind, INPUTS, H0, C0)
    assert isinstance(tr, Trace) and len(tr.forward) == len(INPUTS)
    for t, (got, want) in enumerate(zip(tr.forward, ref)):
        assert set(want) <= set(got), f"step {t + 1} lacks {set(want) - set(got)}"
        for key, value in want.items():
            assert close(got[key], value), f"{kind} step {t + 1} {key}: {got[key]} != {value}"


@pytest.mark.parametrize("loss", ["sum", "last"])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_backward_matches_torch_autograd(kind, loss):
    tr = trace_from_h0(kind, INPUTS, loss=loss)
    ref = torch_ref(kind, INPUTS, H0, C0, loss)
    fw = forward_ref(kind, INPUTS, H0, C0)
    T = len(INPUTS)
    assert close(tr.loss, ref["loss"])
    # which of the trace's backward rows is the gradient of which torch intermediate
    pairs = {
        "rnn": {"dh": "h", "da": "a"},
        "lstm": {
            "dh": "h",
            "dc": "c",
            "do": "o",
            "di": "i",
            "df": "f",
            "dg": "g",
            "da_i": "a_i",
            "da_f": "a_f",
            "da_g": "a_g",
            "da_o": "a_o",
        },
        "gru": {
            "dh": "h",
            "dn": "n",
            "dz": "z",
            "dr": "r",
            "da_n": "a_n",
            "da_r": "a_r",
            "da_z": "a_z",
        },
    }
    for t in range(T):
        got, want = tr.backward[t], ref["steps"][t]
        for key, node in pairs[kind].items():
            assert close(got[key], want[node]), (
                f"{kind} t={t + 1} {key}: {got[key]} != {want[node]}"
            )
        dh_loss = 1.0 if (loss == "sum" or t == T - 1) else 0.0
        assert close(got["dh_loss"], dh_loss)
        # the part from t+1 is the total minus the loss's own part
        assert got["dh_next"][0] == pytest.approx(want["h"] - dh_loss, rel=REL, abs=1e-14)
        assert close(got["dx"], ref["dx"][t])
        # what step t sends back is what step t-1 receives (h0's gradient at t = 1)
        prev = ref["dh0"] if t == 0 else ref["steps"][t - 1]["h"] - (1.0 if loss == "sum" else 0.0)
        assert got["dh_prev"][0] == pytest.approx(prev, rel=REL, abs=1e-14)
        if kind == "lstm":
            s = fw[t]
            assert close(got["dc_prev"], want["c"] * s["f"])
            # the cell gradient from t+1 is the total minus the path through h_t
            from_next = want["c"] - want["h"] * s["o"] * (1 - s["tanh_c"] ** 2)
            assert got["dc_next"][0] == pytest.approx(from_next, rel=REL, abs=1e-14)
    for name, g in ref["params"].items():
        np.testing.assert_allclose(
            tr.grads[name].reshape(-1), g, rtol=REL, atol=1e-15, err_msg=f"{kind} {name}"
        )
        np.testing.assert_allclose(
            sum(s[name] for s in tr.step_grads).reshape(-1), g, rtol=REL, atol=1e-15
        )
    assert close(tr.dh0, ref["dh0"])
    if kind == "lstm":
        assert close(tr.dc0, ref["dc0"])
    else:
        assert tr.dc0 is None


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_vector_sizes_match_torch_cells(kind):
    """Hidden size 2, input size 3, no default weights: the vector paths against torch.nn cells."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    H, D, T = 2, 3, 4
    G = {"rnn": 1, "lstm": 4, "gru": 3}[kind] * H
    w = {
        "weight_ih": rng.uniform(-0.8, 0.8, (G, D)),
        "weight_hh": rng.uniform(-0.8, 0.8, (G, H)),
        "bias_ih": rng.uniform(-0.5, 0.5, G),
        "bias_hh": rng.uniform(-0.5, 0.5, G),
    }
    xs = rng.standard_normal((T, D))
    tr = trace(kind, xs.tolist(), {k: v.tolist() for k, v in w.items()}, loss="last")
    cell = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[kind](
        D, H
    ).double()
    with torch.no_grad():
        for k, v in w.items():
            getattr(cell, k).copy_(torch.from_numpy(v))
    h = torch.zeros(1, H, dtype=torch.float64)
    c = torch.zeros(1, H, dtype=torch.float64)
    hs, cs = [], []
    for t in range(T):
        xt = torch.from_numpy(xs[t : t + 1])
        if kind == "lstm":
            h, c = cell(xt, (h, c))
            c.retain_grad()
            cs.append(c)
        else:
            h = cell(xt, h)
        h.retain_grad()
        hs.append(h)
    hs[-1].sum().backward()
    for t in range(T):
        np.testing.assert_allclose(
            tr.forward[t]["h"], hs[t].detach().numpy()[0], rtol=REL, atol=1e-15
        )
        np.testing.assert_allclose(
            tr.backward[t]["dh"], hs[t].grad.numpy()[0], rtol=REL, atol=1e-15
        )
        if kind == "lstm":
            np.testing.assert_allclose(
                tr.backward[t]["dc"], cs[t].grad.numpy()[0], rtol=REL, atol=1e-15
            )
    for k in w:
        np.testing.assert_allclose(
            tr.grads[k],
            getattr(cell, k).grad.numpy(),
            rtol=1e-10,
            atol=1e-14,
            err_msg=f"{kind} {k}",
        )


def test_no_bias_and_relu():
    w = {"weight_ih": [[0.7]], "weight_hh": [[-0.6]]}
    tr = trace("rnn", [1.0, -2.0, 0.5], w, nonlinearity="relu")
    h, hs = 0.0, []
    for x in [1.0, -2.0, 0.5]:
        h = max(0.7 * x - 0.6 * h, 0.0)
        hs.append(h)
    assert [s["h"][0] for s in tr.forward] == pytest.approx(hs, rel=REL)
    assert set(tr.grads) == {"weight_ih", "weight_hh"}
    # relu'(a) is 0 at step 2 (a = -1.82), so that step's da is exactly 0
    assert tr.backward[1]["da"][0] == 0.0
    text = format_trace(tr)
    assert "no bias" in text and "bias_ih" not in text.split("PARAMETER GRADIENTS")[1]


def test_default_weights_are_the_documented_ones():
    w = default_weights("rnn")
    assert {k: v.tolist() for k, v in w.items()} == {
        "weight_ih": [[0.5]],
        "weight_hh": [[-0.3]],
        "bias_ih": [0.1],
        "bias_hh": [0.2],
    }
    assert default_weights("lstm", hidden_size=2)["weight_hh"].shape == (8, 2)
    tr = trace("rnn")  # inputs 1, 2, 3, hidden size 1
    assert [s["x"][0] for s in tr.forward] == [1.0, 2.0, 3.0]
    assert close(tr.forward[0]["h"], math.tanh(0.5 + 0.1 + 0.2))


def test_format_trace_shows_numbers_in_both_orders():
    tr = trace("lstm", INPUTS, WEIGHTS["lstm"], h0=[H0], c0=[C0])
    text = format_trace(tr, precision=6)
    ref = lstm_forward_ref(INPUTS, H0, C0)
    assert row(text, "c_t", len(INPUTS)) == pytest.approx([s["c"] for s in ref], abs=0.51e-6)
    # the backward table lists t = T .. 1
    dc = [tr.backward[t]["dc"][0] for t in reversed(range(len(INPUTS)))]
    assert row(text, "dL/dc_t", len(INPUTS)) == pytest.approx(dc, abs=0.51e-6)
    assert str(tr) == format_trace(tr)
    assert json.loads(json.dumps(tr.as_dict()))["kind"] == "lstm"


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: trace("transformer"), "kind must be one of"),
        (lambda: trace("rnn", []), "inputs must be"),
        (lambda: trace("rnn", [1.0, float("nan")]), "finite"),
        (lambda: trace("rnn", ["a", "b"]), "inputs must be numbers"),
        (lambda: trace("rnn", [1.0], loss="mean"), "loss must be one of"),
        (
            lambda: trace("lstm", [1.0], {"weight_ih": [[1.0]], "weight_hh": [[1.0]]}),
            r"weight_ih .*shape \(4, 1\)",
        ),
        (lambda: trace("rnn", [1.0], {"weight_ih": [[1.0]]}), "must include weight_hh"),
        (
            lambda: trace(
                "rnn", [1.0], {"weight_ih": [[1.0]], "weight_hh": [[1.0]], "bias_ih": [0.0]}
            ),
            "both bias",
        ),
        (lambda: trace("rnn", [1.0], {"w": 1}), "unknown weight name 'w'"),
        (lambda: trace("gru", [1.0], c0=[0.0]), "c0"),
        (lambda: trace("lstm", [1.0], nonlinearity="relu"), "nonlinearity"),
        (lambda: trace("rnn", [1.0], h0=[0.0, 1.0]), "h0 must hold hidden_size = 1"),
        (lambda: format_trace(trace("rnn"), precision=-1), "precision"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# -- the command line --------------------------------------------------------------------------


def row(text, label, n):
    """The first ``n`` numbers of the table row whose label is ``label``."""
    for line in text.splitlines():
        if line.startswith("  " + label + " "):
            try:
                return [float(v) for v in line[len(label) + 2 :].split()[:n]]
            except ValueError:
                continue  # the equations above the tables start with the same names
    raise AssertionError(f"no row {label!r} in\n{text}")


def run_cli(*args):
    return run_python("-m", "numrnn.trace", *args)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_cli_default_example(kind):
    res = run_cli(kind)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    for section in ("Weights:", "FORWARD", "LOSS", "BACKWARD", "PARAMETER GRADIENTS"):
        assert section in out
    # expected numbers from the plain-Python equations with the documented default weights
    w = {k: v.tolist() for k, v in default_weights(kind).items()}
    saved = WEIGHTS[kind]
    try:
        WEIGHTS[kind] = w
        ref = forward_ref(kind, [1.0, 2.0, 3.0])
    finally:
        WEIGHTS[kind] = saved
    assert row(out, "h_t", 3) == pytest.approx([s["h"] for s in ref], abs=0.51e-4)
    gate_rows = {"rnn": ["a"], "lstm": ["i", "f", "g", "o", "c_t"], "gru": ["r", "z", "n", "u"]}[
        kind
    ]
    for label in gate_rows:
        key = {"c_t": "c"}.get(label, label)
        assert row(out, label, 3) == pytest.approx([s[key] for s in ref], abs=0.51e-4), label
    assert f"= {sum(s['h'] for s in ref):.4f}" in out  # the loss line


def test_cli_custom_weights_file(tmp_path):
    path = tmp_path / "w.json"
    path.write_text(json.dumps({**WEIGHTS["gru"], "h0": [H0]}))
    res = run_cli(
        "gru",
        "--weights",
        str(path),
        "--inputs",
        ",".join(map(str, INPUTS)),
        "--precision",
        "6",
        "--loss",
        "last",
    )
    assert res.returncode == 0, res.stderr
    T = len(INPUTS)
    ref = gru_forward_ref(INPUTS, H0)
    assert row(res.stdout, "h_t", T) == pytest.approx([s["h"] for s in ref], abs=0.51e-6)
    assert row(res.stdout, "a_n", T) == pytest.approx([s["a_n"] for s in ref], abs=0.51e-6)
    grads = torch_ref("gru", INPUTS, H0, 0.0, "last")
    dh = [grads["steps"][t]["h"] for t in reversed(range(T))]
    assert row(res.stdout, "dL/dh_t", T) == pytest.approx(dh, abs=0.51e-6)
    total = row(res.stdout, "weight_hh[z,0]", T + 1)[-1]
    assert total == pytest.approx(grads["params"]["weight_hh"][1], abs=0.51e-6)
    assert f"L = {ref[-1]['h']:.6f}" in res.stdout


def test_cli_vector_inputs_and_state_dict_names(tmp_path):
    w = {
        k + "_l0": np.asarray(v).repeat(2, axis=-1).tolist() if k == "weight_ih" else v
        for k, v in WEIGHTS["rnn"].items()
    }
    path = tmp_path / "sd.json"
    path.write_text(json.dumps(w))
    res = run_cli("rnn", "--weights", str(path), "--inputs", "1,0;0,1;1,1")
    assert res.returncode == 0, res.stderr
    h, hs = 0.0, []
    for x in (1.0, 1.0, 2.0):  # both input weights are 0.7, so only the sum of the features matters
        h = math.tanh(0.7 * x + 0.05 - 0.6 * h - 0.15)
        hs.append(h)
    assert row(res.stdout, "h_t", 3) == pytest.approx(hs, abs=0.51e-4)


@pytest.mark.parametrize(
    "args, message",
    [
        (["transformer"], "invalid choice"),
        (["rnn", "--inputs", "1,a,3"], "--inputs"),
        (["rnn", "--inputs", ""], "--inputs"),
        (["rnn", "--inputs", "1,2;3"], "same number of features"),
        (["lstm", "--weights", "/nonexistent/w.json"], "cannot read"),
        (["lstm", "--precision", "40"], "--precision"),
        (["gru", "--nonlinearity", "relu"], "rnn only"),
        (["rnn", "--truncate", "0"], "--truncate must be an integer >= 1"),
    ],
)
def test_cli_bad_arguments_exit_2(args, message):
    res = run_cli(*args)
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr


def test_cli_bad_weights_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"weight_ih": [[0.5]], "weight_hh": [[0.5]]}))
    with pytest.raises(SystemExit) as info:
        main(["lstm", "--weights", str(path)])
    assert info.value.code == 2
    assert "LSTM weight_ih must have shape (4, 1)" in capsys.readouterr().err
    path.write_text("{not json")
    with pytest.raises(SystemExit) as info:
        main(["rnn", "--weights", str(path)])
    assert info.value.code == 2
    assert "not valid JSON" in capsys.readouterr().err


# -- the finite-difference column ----------------------------------------------------------------
#
# The numeric column is a central difference in float64 with eps = 1e-5: its truncation
# error eps^2 |L'''| / 6 and its rounding error u S / eps are both about 1e-10 of the O(1)
# gradients of these small layers (the largest relative error measured over the three
# kinds, both losses, hidden sizes 1 to 3 and the truncated objective was 1.6e-8, on an
# entry of 1e-3 whose difference, 2e-11, is at the rounding noise).  FD_REL = 1e-6 leaves
# a margin of 60, and a wrong term (a missing factor, a dropped path, O(1e-2) relative)
# exceeds it ten-thousandfold.  FD_ABS covers entries near zero,
# where only the rounding noise u S / eps (about 1e-10 here) is left.
FD_REL, FD_ABS = 1e-6, 1e-9


def cli_column(text, label, col):
    """The number in column ``col`` (a header such as ``"numeric"``) of the gradient table."""
    table = text.split("PARAMETER GRADIENTS")[1]
    header = next(line for line in table.splitlines() if line.startswith("  quantity"))
    end = header.index("  " + col + " ") + len(col) + 2  # the columns are right-aligned
    for line in table.splitlines():
        if line.startswith("  " + label + " "):
            return line[:end].split()[-1]
    raise AssertionError(f"no row {label!r} in\n{table}")


@pytest.mark.parametrize("loss", ["sum", "last"])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_numeric_column_agrees_with_autograd(kind, loss):
    tr = trace_from_h0(kind, INPUTS, loss=loss)
    ref = torch_ref(kind, INPUTS, H0, C0, loss)
    assert tr.fd_eps == 1e-5 and 0 < tr.fd_noise < 1e-9
    for name, g in ref["params"].items():
        np.testing.assert_allclose(
            tr.numeric_grads[name].reshape(-1), g, rtol=FD_REL, atol=FD_ABS, err_msg=name
        )
        assert tr.numeric_grads[name].shape == tr.grads[name].shape


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_numeric_column_printed_beside_the_total(kind):
    res = run_cli(kind, "--hidden-size", "2", "--inputs", "1,0;0,1;1,1", "--precision", "8")
    assert res.returncode == 0, res.stderr
    tr = trace(kind, [[1, 0], [0, 1], [1, 1]], hidden_size=2)
    assert "numeric: central differences of L (the loss above)" in res.stdout
    assert "eps = 1e-05" in res.stdout and f"u S / eps = {tr.fd_noise:.1e}" in res.stdout
    gates = {"rnn": [""], "lstm": list("ifgo"), "gru": list("rzn")}[kind]
    torch = pytest.importorskip("torch")
    cell = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[kind]
    cell = cell(2, 2).double()
    with torch.no_grad():
        for k, v in default_weights(kind, 2, 2).items():
            getattr(cell, k).copy_(torch.from_numpy(v))
    h = c = torch.zeros(1, 2, dtype=torch.float64)
    L = 0
    for xt in ([1.0, 0.0], [0.0, 1.0], [1.0, 1.0]):
        xt = torch.tensor([xt], dtype=torch.float64)
        if kind == "lstm":
            h, c = cell(xt, (h, c))
        else:
            h = cell(xt, h)
        L = L + h.sum()
    L.backward()
    for g, gate in enumerate(gates):
        for j in range(2):
            row = g * 2 + j
            unit = f"{gate}{j}"
            want = cell.weight_hh.grad[row, 1].item()
            got = float(cli_column(res.stdout, f"weight_hh[{unit},1]", "numeric"))
            assert got == pytest.approx(want, abs=0.51e-8)
            assert float(cli_column(res.stdout, f"weight_hh[{unit},1]", "rel err")) < FD_REL
            want = cell.bias_ih.grad[row].item()
            assert float(cli_column(res.stdout, f"bias_ih[{unit}]", "numeric")) == pytest.approx(
                want, abs=0.51e-8
            )


def test_rel_err_column_exposes_a_wrong_gradient():
    """The column is |total - numeric| / max(...): a 1% error in one entry shows as 1e-2."""
    tr = trace("lstm", INPUTS, WEIGHTS["lstm"], h0=[H0], c0=[C0])
    tr.grads["weight_hh"] = tr.grads["weight_hh"] * np.array([[1.0], [1.01], [1.0], [1.0]])
    text = format_trace(tr)
    assert float(cli_column(text, "weight_hh[f,0]", "rel err")) == pytest.approx(0.01 / 1.01, 1e-3)
    assert float(cli_column(text, "weight_hh[i,0]", "rel err")) < FD_REL


def test_no_check_leaves_the_column_out():
    tr = trace("gru", INPUTS, WEIGHTS["gru"], check=False)
    assert tr.numeric_grads is None and tr.fd_eps is None
    text = format_trace(tr)
    assert "numeric" not in text and "rel err" not in text
    assert "numeric" in format_trace(trace("gru", INPUTS, WEIGHTS["gru"]))
    res = run_cli("gru", "--no-check")
    assert res.returncode == 0 and "numeric" not in res.stdout
    # with the check, only the gradient table grows (and a footer follows it)
    full = run_cli("gru").stdout
    head = res.stdout.split("PARAMETER GRADIENTS")[0]
    assert full.split("PARAMETER GRADIENTS")[0] == head


# -- truncated BPTT --------------------------------------------------------------------------------

LONG = [1.0, -0.5, 2.0, 0.25, -1.5, 0.75, 1.25]  # T = 7: chunks of 3 are 1..3, 4..6, 7..7


@pytest.mark.parametrize("loss", ["sum", "last"])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_truncated_gradient_matches_detached_autograd(kind, loss):
    """K < T: the truncated gradient is torch's with h.detach() at each chunk start; it
    differs from the full one, which is kept beside it, and the cut values are shown."""
    K, T = 3, len(LONG)
    tr = trace_from_h0(kind, LONG, loss=loss, truncate=K)
    cut = torch_ref(kind, LONG, H0, C0, loss, truncate=K)
    full = torch_ref(kind, LONG, H0, C0, loss)
    assert tr.truncate == K and tr.cuts == [3, 6]
    for name in cut["params"]:
        np.testing.assert_allclose(tr.grads[name].reshape(-1), cut["params"][name], rtol=REL)
        np.testing.assert_allclose(
            tr.full_grads[name].reshape(-1), full["params"][name], rtol=REL, atol=1e-15
        )
    # the truncation matters here: the two gradients differ by far more than rounding
    diff = max(np.abs(tr.full_grads[k] - tr.grads[k]).max() for k in tr.grads)
    assert diff > 1e-4
    for t in range(T):
        got = tr.backward[t]
        assert close(got["dh"], cut["steps"][t]["h"])
        assert close(got["dh_full"], full["steps"][t]["h"])
        if t + 1 in tr.cuts:  # the carried gradient is zero, and what was dropped is shown
            assert got["dh_next"][0] == 0.0
            assert close(got["dh_cut"], cut["cut"][t + 1][0])
            if kind == "lstm":
                assert got["dc_next"][0] == 0.0
                assert close(got["dc_cut"], cut["cut"][t + 1][1])
            else:
                assert "dc_cut" not in got
        else:
            assert "dh_cut" not in got
    assert close(tr.dh0, cut["dh0"])


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_truncated_numeric_column_checks_the_truncated_objective(kind):
    """With cuts the numeric column differentiates L_K (chunks from frozen states), which
    the truncated gradient is exact for; central differences of the full L are not."""
    tr = trace_from_h0(kind, LONG, truncate=3)
    cut = torch_ref(kind, LONG, H0, C0, "sum", truncate=3)
    full = trace_from_h0(kind, LONG)
    worst = 0.0
    for name, g in cut["params"].items():
        np.testing.assert_allclose(
            tr.numeric_grads[name].reshape(-1), g, rtol=FD_REL, atol=FD_ABS, err_msg=name
        )
        err = np.abs(full.numeric_grads[name] - tr.grads[name])
        worst = max(worst, float(err.max() / np.abs(full.numeric_grads[name]).max()))
    assert worst > 1e-3  # the full loss's differences do not check the truncated gradient
    text = format_trace(tr)
    assert "numeric: central differences of L_K (the truncated objective above)" in text
    assert "exact for L_K = sum over chunks" in text


def test_truncated_tables_show_the_cut():
    res = run_cli("lstm", "--inputs", ",".join(map(str, LONG)), "--truncate", "3")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "TRUNCATION  K = 3" in out and "chunks t = 1..3, 4..6, 7..7" in out
    assert "at t = 3, 6, the dL/dh_t and dL/dc_t that step t+1 sends back is set to 0" in out
    tr = trace("lstm", LONG, truncate=3)
    plain = json.loads(json.dumps(tr.as_dict()))
    assert plain["truncate"] == 3 and plain["cuts"] == [3, 6] and plain["fd_eps"] == 1e-5
    np.testing.assert_allclose(
        plain["numeric_grads"]["weight_hh"], tr.grads["weight_hh"], rtol=FD_REL, atol=FD_ABS
    )
    # columns t = 7 .. 1: the carried gradients are 0 at t = 7 (the end) and at the cuts
    back = [tr.backward[t] for t in reversed(range(7))]
    assert row(out, "dL/dh_t from t+1", 7) == pytest.approx(
        [b["dh_next"][0] for b in back], abs=0.51e-4
    )
    for label in ("dL/dh_t from t+1", "dL/dc_t from t+1"):
        vals = row(out, label, 7)
        assert vals[0] == vals[1] == vals[4] == 0.0 and all(v != 0 for v in vals[2:4] + vals[5:])
    for label, key in (("dL/dh_t dropped", "dh_cut"), ("dL/dc_t dropped", "dc_cut")):
        line = next(s for s in out.splitlines() if s.startswith("  " + label + " "))
        fields = line[len(label) + 2 :].split()[:7]
        assert [f == "-" for f in fields] == [True, False, True, True, False, True, True]
        assert float(fields[1]) == pytest.approx(tr.backward[5][key][0], abs=0.51e-4)
        assert float(fields[4]) == pytest.approx(tr.backward[2][key][0], abs=0.51e-4)
    for label in ("weight_ih[g,0]", "bias_hh[o]"):
        name, idx = label.split("[")[0], {"g": 2, "o": 3}[label[-4 if "," in label else -2]]
        total = float(cli_column(out, label, "total"))
        full = float(cli_column(out, label, "full BPTT"))
        dropped = float(cli_column(out, label, "dropped"))
        assert full == pytest.approx(tr.full_grads[name].reshape(-1)[idx], abs=0.51e-4)
        assert dropped == pytest.approx(
            (tr.full_grads[name] - tr.grads[name]).reshape(-1)[idx], abs=0.51e-4
        )
        assert total == pytest.approx(tr.grads[name].reshape(-1)[idx], abs=0.51e-4)
        assert float(cli_column(out, label, "rel err")) < FD_REL


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_truncate_at_least_T_is_the_full_trace(kind):
    full = trace(kind, INPUTS, WEIGHTS[kind])
    text = format_trace(full)
    for K in (len(INPUTS), len(INPUTS) + 5):
        tr = trace(kind, INPUTS, WEIGHTS[kind], truncate=K)
        assert tr.cuts == [] and tr.full_grads is None
        for name in full.grads:
            assert np.array_equal(tr.grads[name], full.grads[name])
            assert np.array_equal(tr.numeric_grads[name], full.numeric_grads[name])
        for a, b in zip(tr.backward, full.backward):
            assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
        note = (
            f"TRUNCATION  K = {K} >= T = {len(INPUTS)}: one chunk, nothing is cut (full BPTT)\n\n"
        )
        assert format_trace(tr) == text.replace("BACKWARD (", note + "BACKWARD (", 1)
    res = run_cli(kind, "--truncate", "3")  # the default inputs have T = 3
    assert res.returncode == 0, res.stderr
    note = "TRUNCATION  K = 3 >= T = 3: one chunk, nothing is cut (full BPTT)\n\n"
    assert note in res.stdout and res.stdout.replace(note, "") == run_cli(kind).stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--truncate", "0"], "--truncate must be an integer >= 1 (steps per chunk); got 0"),
        (["--truncate=-2"], "--truncate must be an integer >= 1 (steps per chunk); got -2"),
        (["--truncate", "2.5"], "argument --truncate: invalid int value: '2.5'"),
        (["--truncate", "two"], "argument --truncate: invalid int value: 'two'"),
        (["--truncate"], "argument --truncate: expected one argument"),
    ],
)
def test_cli_bad_truncate_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["rnn", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"truncate": 0}, ValueError, "truncate must be an integer >= 1; got 0"),
        ({"truncate": 1.5}, ValueError, "truncate must be an integer >= 1"),
        ({"truncate": True}, ValueError, "truncate must be an integer >= 1"),
        ({"check": "yes"}, TypeError, "check must be True or False"),
    ],
)
def test_bad_truncate_and_check_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        trace("rnn", [1.0, 2.0], **kwargs)


def test_readme_shows_real_output():
    """The README's trace excerpts are lines of the real output (formula column cut)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "README.md"), encoding="utf-8") as fh:
        readme = fh.read()
    for command in ("rnn`:", "rnn --inputs 1,2,3,4 --truncate 2`"):
        block = readme.split("`python -m numrnn.trace " + command)[1].split("```")[1]
        out = run_cli(*command.rstrip(":`").split()).stdout.splitlines()
        for line in block.strip("\n").splitlines():
            assert any(o.startswith(line.rstrip()) for o in out), line
