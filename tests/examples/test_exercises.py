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
# must be named).  Each is a single edit of the solution, of the kinds students make.  The
# recurrent solutions are numrnn's reference files, which also run as an exercise file.
BREAKS = [
    ("rnn_step", '"weight_hh": da.T @ h_prev}', '"weight_hh": -(da.T @ h_prev)}', "weight_hh"),
    ("rnn_step", "dh * (1 - h**2)", "dh * (1 - h)", "x"),  # wrong tanh'
    (
        "lstm_step",
        "dc = dc_next + dm * o * (1 - tanh_c**2)",
        "dc = dm * o * (1 - tanh_c**2)",
        "c_prev",
    ),  # the direct path dropped: c_prev's gradient then misses dc_next * f
    ("lstm_step", "df * f * (1 - f)", "df * f * (1 - f) * 0.5", "weight_ih"),  # forget gate
    ("gru_step", "dh_direct = dh * z\n", "dh_direct = 0 * dh\n", "h_prev"),  # missing z*h path
    ("gru_step", "du = da_n * r\n", "du = da_n\n", "bias_hh"),  # b_hn outside r
    (
        "softmax_cross_entropy",
        "return dlogits * (dloss / N), None",
        "return dlogits * dloss, None",
        "logits",
    ),  # the 1/N of the mean forgotten
]


def solution_source(name):
    """The text of an exercise's solution: numrnn's reference file for the recurrent steps."""
    if name == "softmax_cross_entropy":
        return pathlib.Path(EX, "solutions", f"{name}.py").read_text()
    return pathlib.Path(ROOT, "numrnn", "reference", name.replace("_step", ".py")).read_text()


@pytest.mark.parametrize("name,old,new,tensor", BREAKS, ids=[f"{b[0]}-{b[3]}" for b in BREAKS])
def test_a_broken_solution_fails_and_names_the_tensor(tmp_path, name, old, new, tensor):
    src = solution_source(name)
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
    src = solution_source("rnn_step")
    old = 'dx = da @ params["weight_ih"]'
    assert src.count(old) == 1
    (tmp_path / "rnn_step.py").write_text(src.replace(old, 'dx = da @ params["weight_hh"]'))
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
        x, state, params = check.make_inputs(name, rng)
        out, cache = getattr(sol, f"{name}_forward")(x, state, params)
        outs = out if isinstance(out, tuple) else (out,)
        G = tuple(rng.standard_normal(o.shape) for o in outs)
        dx, dstate, grads = getattr(sol, f"{name}_backward")(G if len(G) > 1 else G[0], cache)
        states = state if isinstance(state, tuple) else (state,)
        dstates = dstate if isinstance(dstate, tuple) else (dstate,)
        t = [torch.tensor(v, dtype=d, requires_grad=True) for v in (x, *states)]
        tp = {k: torch.tensor(v, dtype=d, requires_grad=True) for k, v in params.items()}
        cell = {"rnn_step": torch.nn.RNNCell, "lstm_step": torch.nn.LSTMCell}.get(
            name, torch.nn.GRUCell
        )(x.shape[1], states[0].shape[1], dtype=d)
        args = (t[0], tuple(t[1:])) if name == "lstm_step" else (t[0], t[1])
        touts = torch.func.functional_call(cell, tp, args)
        touts = touts if isinstance(touts, tuple) else (touts,)
        # forward and gradients in float64 against torch autograd: rounding only, ~1e-15
        for o, to in zip(outs, touts):
            np.testing.assert_allclose(o, to.detach().numpy(), rtol=1e-10, atol=1e-12)
        sum((to * torch.tensor(g)).sum() for to, g in zip(touts, G)).backward()
        for g, tt in zip((dx, *dstates), t):
            np.testing.assert_allclose(g, tt.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
        for k in params:
            np.testing.assert_allclose(
                grads[k], tp[k].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=f"{name} {k}"
            )
    sol = _load(os.path.join(EX, "solutions", "softmax_cross_entropy.py"), "sol_sce")
    logits, target = check.make_inputs("softmax_cross_entropy", rng)
    loss, cache = sol.softmax_cross_entropy_forward(logits, target)
    dlogits, _ = sol.softmax_cross_entropy_backward(1.0, cache)
    tl = torch.tensor(logits, requires_grad=True)
    tloss = torch.nn.functional.cross_entropy(tl, torch.tensor(target))
    tloss.backward()
    np.testing.assert_allclose(loss, tloss.item(), rtol=1e-12)
    np.testing.assert_allclose(dlogits, tl.grad.numpy(), rtol=1e-10, atol=1e-14)
