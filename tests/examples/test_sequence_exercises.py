"""The sequence-level exercises: solutions pass, planted loop mistakes are diagnosed, notebooks run."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
EX = ROOT / "examples" / "exercises"
SEQUENCE = [
    "rnn_backward",
    "lstm_backward",
    "gru_backward",
    "masked_lstm_backward",
    "embedding_backward",
]


def run(*args, timeout=180):
    return subprocess.run(
        [sys.executable, str(EX / "check.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_solutions_pass_with_diagnosis_none():
    res = run("--solutions", *SEQUENCE)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("diagnosis: none") == len(SEQUENCE)


def test_unsolved_exercises_say_not_implemented():
    res = run(*SEQUENCE)
    assert res.returncode == 1
    assert res.stdout.count("not implemented yet") == len(SEQUENCE), res.stdout


LSTM_LOOP = """
import numpy as np
from numrnn.reference import lstm_forward, lstm_step_backward

CELL = "lstm"
FORWARD = lstm_forward


def lstm_backward(dout, dstate, caches):
    dh_next, dc_next = dstate
    dxs, grads = [], None
    for t in reversed(range(len(caches))):
        dx, (dh_next, dc_next), g = lstm_step_backward((dout[t] + dh_next, dc_next), caches[t])
        dxs.append(dx)
        grads = g if grads is None else {k: grads[k] + g[k] for k in g}
    return np.stack(dxs[::-1]), (dh_next, dc_next), grads
"""

MASKED_LEAK = """
import functools
import numpy as np
from numrnn.reference import lstm_cell, lstm_step_backward, masked_forward

CELL = "lstm"
FORWARD = functools.partial(masked_forward, lstm_cell)
LENGTHS = [5, 3, 1]


def masked_lstm_backward(dout, dstate, cache):
    caches, mask = cache
    dh_next, dc_next = dstate
    dxs, grads = [], None
    for t in reversed(range(len(caches))):  # the mask is never used: padded steps get gradient
        dx, (dh_next, dc_next), g = lstm_step_backward((dout[t] + dh_next, dc_next), caches[t])
        dxs.append(dx)
        grads = g if grads is None else {k: grads[k] + g[k] for k in g}
    return np.stack(dxs[::-1]), (dh_next, dc_next), grads
"""

EMBEDDING_OVERWRITE = """
import numpy as np


def embedding_forward(idx, W):
    return W[idx], (idx, W.shape)


def embedding_backward(de, cache):
    idx, shape = cache
    dW = np.zeros(shape)
    dW[idx] += de
    return dW
"""

STUDENTS = [
    (
        "lstm_backward",
        LSTM_LOOP,
        "missing-carried-c",
        "t=3",
        "(dout[t] + dh_next, dc_next)",
        "(dout[t] + dh_next, 0 * dc_next)",
    ),
    (
        "lstm_backward",
        LSTM_LOOP,
        "weights-from-one-step",
        "none",
        "grads = g if grads is None else {k: grads[k] + g[k] for k in g}",
        "grads = g",
    ),
    (
        "lstm_backward",
        LSTM_LOOP,
        "mutated-input",
        "none",
        "dx, (dh_next, dc_next), g = lstm_step_backward((dout[t] + dh_next",
        "dout[t] += dh_next\n        dx, (dh_next, dc_next), g = lstm_step_backward((dout[t]",
    ),
    ("masked_lstm_backward", MASKED_LEAK, "padding-leak", "t=4", "", ""),
    ("embedding_backward", EMBEDDING_OVERWRITE, "repeated-index-overwritten", "none", "", ""),
]


@pytest.mark.parametrize(
    "name, source, diagnosis, step, old, new", STUDENTS, ids=[s[2] for s in STUDENTS]
)
def test_a_students_loop_mistake_is_diagnosed(tmp_path, name, source, diagnosis, step, old, new):
    assert source.count(old) >= 1
    (tmp_path / f"{name}.py").write_text(source.replace(old, new))
    res = run(name, "--dir", str(tmp_path))
    assert res.returncode == 1, res.stdout + res.stderr
    lines = [
        ln for ln in res.stdout.splitlines() if ln.startswith(("first wrong step:", "diagnosis: "))
    ]
    assert f"first wrong step: {step}" in lines, res.stdout
    assert any(ln.startswith("diagnosis: ") and diagnosis in ln for ln in lines), res.stdout


def test_the_unplanted_student_loop_passes(tmp_path):
    (tmp_path / "lstm_backward.py").write_text(LSTM_LOOP)
    res = run("lstm_backward", "--dir", str(tmp_path))
    assert res.returncode == 0, res.stdout


def test_every_exercise_opens_as_a_notebook_that_runs(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    for flag in ([], ["--solutions"]):
        subprocess.run(
            [sys.executable, str(EX / "notebooks.py"), "--out", str(tmp_path), *flag],
            check=True,
            capture_output=True,
        )
    paths = sorted(tmp_path.glob("*.ipynb"))
    assert len(paths) == 18
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    os.environ.update(env)
    for path in paths:
        nb = nbformat.read(str(path), as_version=4)
        nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
        text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
        if path.stem.endswith("_solution") and path.stem.removesuffix("_solution") in SEQUENCE:
            assert text.rstrip().endswith("diagnosis: none"), (path.name, text)
        elif not path.stem.endswith("_solution"):
            assert "not implemented yet" in text, (path.name, text)
