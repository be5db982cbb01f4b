"""examples/exercises: the solutions pass the checker, broken ones fail naming the tensor,
the skeletons report "not implemented" without crashing."""

import importlib.util
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EX = os.path.join(ROOT, "examples", "exercises")
CHECK = os.path.join(EX, "check.py")
NAMES = ("softmax_cross_entropy", "rnn_step", "lstm_step", "gru_step")


def run(*args):
    return subprocess.run(
        [sys.executable, CHECK, *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_solution_passes():
    res = run("--solutions")
    assert res.returncode == 0, res.stdout + res.stderr
    for name in NAMES:
        assert f"{name} passed" in res.stdout


def test_skeletons_report_not_implemented_cleanly():
    res = run()
    assert res.returncode == 1
    assert "Traceback" not in res.stdout + res.stderr
    for name in NAMES:
        assert f"{name}_backward: not implemented yet" in res.stdout
        assert f"{name} not implemented" in res.stdout


# One deliberate mistake per exercise: (exercise, original line, broken line, the tensor that
# must be named).  Each is a single edit of the solution, of the kinds students make.
BREAKS = [
    ("rnn_step", "dw_hh = da.T @ h_prev", "dw_hh = -(da.T @ h_prev)", "w_hh"),  # sign flip
    ("rnn_step", "da = dh * (1.0 - h * h)", "da = dh * (1.0 - h)", "x"),  # wrong tanh'
    (
        "lstm_step",
        "dc = dc_next + dh * o * (1.0 - tc * tc)",
        "dc = dh * o * (1.0 - tc * tc)",
        "c_prev",
    ),  # the direct path dropped: c_prev's gradient then misses dc_next * f
    ("lstm_step", "df = dc * c_prev", "df = dc * c_prev * 0.5", "w_ih"),  # forget gate scaled
    ("gru_step", "dh_prev = dh * z  #", "dh_prev = 0 * dh  #", "h_prev"),  # missing z*h path
    (
        "gru_step",
        "dv = np.concatenate([dr_pre, dz_pre, dn_pre * r], axis=1)",
        "dv = np.concatenate([dr_pre, dz_pre, dn_pre], axis=1)",
        "b_hh",
    ),  # b_hn outside r
    (
        "softmax_cross_entropy",
        "return dlogits * (dloss / N), None",
        "return dlogits * dloss, None",
        "logits",
    ),  # the 1/N of the mean forgotten
]


@pytest.mark.parametrize("name,old,new,tensor", BREAKS, ids=[f"{b[0]}-{b[3]}" for b in BREAKS])
def test_a_broken_solution_fails_and_names_the_tensor(tmp_path, name, old, new, tensor):
    src = pathlib.Path(EX, "solutions", f"{name}.py").read_text()
    assert src.count(old) == 1, f"the solution no longer contains {old!r}"
    (tmp_path / f"{name}.py").write_text(src.replace(old, new))
    res = run(name, "--dir", str(tmp_path))
    assert res.returncode == 1, res.stdout
    assert "FAILED" in res.stdout and "Traceback" not in res.stdout + res.stderr
    wrong = res.stdout.split("wrong gradient(s): ")[1].splitlines()[0].split(", ")
    assert tensor in wrong, res.stdout
    # and the tensor's own row says FAIL
    row = next(line for line in res.stdout.splitlines() if line.split()[:1] == [tensor])
    assert row.rstrip().endswith("FAIL") or "FAIL" in row


def test_an_error_in_the_students_code_is_reported_not_raised(tmp_path):
    src = pathlib.Path(EX, "solutions", "rnn_step.py").read_text()
    (tmp_path / "rnn_step.py").write_text(src.replace("dx = da @ w_ih", "dx = da @ w_hh"))
    res = run("rnn_step", "--dir", str(tmp_path))
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert "rnn_step" in res.stdout and ("Error" in res.stdout or "FAIL" in res.stdout)
    (tmp_path / "rnn_step.py").write_text("def rnn_step_forward(:\n")
    res = run("rnn_step", "--dir", str(tmp_path))
    assert res.returncode == 1 and "could not import rnn_step" in res.stdout


def test_skeleton_forwards_equal_the_solution_forwards():
    rng = np.random.default_rng(3)
    check = _load(CHECK, "exercise_check")
    for name in NAMES:
        skel = _load(os.path.join(EX, f"{name}.py"), f"skel_{name}")
        sol = _load(os.path.join(EX, "solutions", f"{name}.py"), f"sol_{name}")
        inputs = check.make_inputs(name, rng)
        a = getattr(skel, f"{name}_forward")(*inputs)[0]
        b = getattr(sol, f"{name}_forward")(*inputs)[0]
        for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            np.testing.assert_array_equal(u, v)


def test_solutions_agree_with_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    check = _load(CHECK, "exercise_check")
    d = torch.float64
    for name in ("rnn_step", "lstm_step", "gru_step"):
        sol = _load(os.path.join(EX, "solutions", f"{name}.py"), f"sol_{name}")
        inputs = check.make_inputs(name, rng)
        out, cache = getattr(sol, f"{name}_forward")(*inputs)
        outs = out if isinstance(out, tuple) else (out,)
        G = tuple(rng.standard_normal(o.shape) for o in outs)
        grads = getattr(sol, f"{name}_backward")(G if len(G) > 1 else G[0], cache)
        t = [torch.tensor(v, dtype=d, requires_grad=True) for v in inputs]
        if name == "rnn_step":
            x, h, wi, wh, b = t
            touts = (torch.tanh(x @ wi.T + h @ wh.T + b),)
        elif name == "lstm_step":
            x, h, c, wi, wh, b = t
            cell = torch.nn.LSTMCell(x.shape[1], h.shape[1], dtype=d)
            touts = torch.func.functional_call(
                cell,
                {"weight_ih": wi, "weight_hh": wh, "bias_ih": b, "bias_hh": torch.zeros_like(b)},
                (x, (h, c)),
            )
        else:
            x, h, wi, wh, bi, bh = t
            cell = torch.nn.GRUCell(x.shape[1], h.shape[1], dtype=d)
            touts = (
                torch.func.functional_call(
                    cell, {"weight_ih": wi, "weight_hh": wh, "bias_ih": bi, "bias_hh": bh}, (x, h)
                ),
            )
        # forward and gradients in float64 against torch autograd: rounding only, ~1e-15
        for o, to in zip(outs, touts):
            np.testing.assert_allclose(o, to.detach().numpy(), rtol=1e-10, atol=1e-12)
        sum((to * torch.tensor(g)).sum() for to, g in zip(touts, G)).backward()
        for g, tt in zip(grads, t):
            np.testing.assert_allclose(g, tt.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
    sol = _load(os.path.join(EX, "solutions", "softmax_cross_entropy.py"), "sol_sce")
    logits, target = check.make_inputs("softmax_cross_entropy", rng)
    loss, cache = sol.softmax_cross_entropy_forward(logits, target)
    dlogits, _ = sol.softmax_cross_entropy_backward(1.0, cache)
    tl = torch.tensor(logits, requires_grad=True)
    tloss = torch.nn.functional.cross_entropy(tl, torch.tensor(target))
    tloss.backward()
    np.testing.assert_allclose(loss, tloss.item(), rtol=1e-12)
    np.testing.assert_allclose(dlogits, tl.grad.numpy(), rtol=1e-10, atol=1e-14)
