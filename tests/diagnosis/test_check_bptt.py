"""check_bptt: every catalogue mistake, planted into a correct loop, is named, with its step.

A planted bug is one textual change to the code of a copy of the reference file, imported as a
module of numrnn.reference (so its relative imports work); the assertion that the
original text occurs exactly once keeps the plant honest when the reference changes.
"""

import functools
import importlib.util
import pathlib

import numpy as np
import pytest

import numrnn
from numrnn import reference
from numrnn.diagnosis import CATALOGUE, check_bptt

REF = pathlib.Path(reference.__file__).parent


def planted(tmp_path, file, old, new, tag):
    src = (REF / file).read_text()
    end = src.index('"""', 3) + 3  # plant into the code, not into the docstring's equations
    doc, code = src[:end], src[end:]
    assert code.count(old) == 1, f"{file} no longer contains {old!r} exactly once"
    path = tmp_path / f"planted_{tag}.py"
    path.write_text(doc + code.replace(old, new))
    spec = importlib.util.spec_from_file_location(f"numrnn.reference.planted_{tag}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LOOP = "dx, (dh_next, dc_next), g = lstm_step_backward((dout[t] + dh_next, dc_next), caches[t])"
ONE_STATE_LOOP = (
    "dx, dh_next, g = step_backward(dout[t] + dh_next, caches[t])"  # rnn.py, the GRU's too
)
SUM = "grads = g if grads is None else {name: grads[name] + g[name] for name in g}"
LSTM_BIAS = 'grads["bias_ih"] = grads["bias_hh"] = da.sum(axis=0)  # (4H,)'

# (cell, file, old, new, diagnosis, first wrong step); T = 5, so t=4 is the last step
PLANTS = [
    ("lstm", "lstm.py", LOOP, LOOP.replace("dout[t] + dh_next", "dout[t]"), "missing-carried-h", 3),
    (
        "lstm",
        "lstm.py",
        LOOP,
        LOOP.replace(", dc_next), caches", ", 0 * dc_next), caches"),
        "missing-carried-c",
        3,
    ),
    ("lstm", "lstm.py", SUM, "grads = g", "weights-from-one-step", None),
    (
        "lstm",
        "lstm.py",
        LSTM_BIAS,
        LSTM_BIAS.replace("da.sum(axis=0)", "da"),
        "bias-not-summed",
        None,
    ),
    (
        "lstm",
        "lstm.py",
        LSTM_BIAS,
        LSTM_BIAS.replace("da.sum(axis=0)", "da[0]"),
        "bias-not-summed",
        None,
    ),
    ("lstm", "lstm.py", "    df = dc * c_prev\n", "    df = dc * tanh_c\n", "wrong-gate:f", 4),
    ("lstm", "lstm.py", "    do = dm * tanh_c\n", "    do = dm * o\n", "wrong-gate:o", 4),
    (
        "lstm",
        "lstm.py",
        'dx = da @ params["weight_ih"]',
        'dx = -(da @ params["weight_ih"])',
        "sign-flip",
        4,
    ),
    (
        "lstm",
        "lstm.py",
        'grads["weight_ih"] = da.T @ x',
        'grads["weight_ih"] = x.T @ da',
        "transposed",
        None,
    ),
    (
        "lstm",
        "lstm.py",
        LSTM_BIAS,
        LSTM_BIAS.replace("da.sum(axis=0)", "da.mean(axis=0)"),
        "scaled:1/3",
        None,
    ),
    (
        "lstm",
        "lstm.py",
        'grads["weight_hh"] = da.T @ h_prev',
        'grads["weight_hh"] = 0.5 * da.T @ h_prev',
        "scaled:1/2",
        None,
    ),
    (
        "lstm",
        "lstm.py",
        LOOP,
        "dout[t] += dh_next\n        " + LOOP.replace("dout[t] + dh_next", "dout[t]"),
        "mutated-input",
        None,
    ),
    (
        "lstm",
        "lstm.py",
        "dh_next = np.zeros_like(dout[0]) if dhT is None else dhT",
        "dh_next = np.zeros_like(dout[0])",
        "wrong-initial-state",
        None,
    ),
    (
        "lstm",
        "lstm.py",
        "return np.stack(dxs[::-1]), (dh_next, dc_next), grads",
        "return np.stack(dxs[::-1]), (0 * dh_next, dc_next), grads",
        "wrong-initial-state",
        -1,
    ),
    ("gru", "gru.py", "    dh_direct = dh * z\n", "    dh_direct = 0 * dh\n", "wrong-dh-prev", 3),
    (
        "gru",
        "gru.py",
        "    dz = dh * (h_prev - n)\n",
        "    dz = dh * (n - h_prev)\n",
        "wrong-gate:z",
        4,
    ),
    (
        "gru",
        "rnn.py",
        ONE_STATE_LOOP,
        ONE_STATE_LOOP.replace(" + dh_next", ""),
        "missing-carried-h",
        3,
    ),
    (
        "rnn",
        "rnn.py",
        ONE_STATE_LOOP,
        ONE_STATE_LOOP.replace(" + dh_next", ""),
        "missing-carried-h",
        3,
    ),
    (
        "rnn",
        "rnn.py",
        'grads = {"weight_ih": da.T @ x, "weight_hh": da.T @ h_prev}',
        'grads = {"weight_ih": da.T @ x, "weight_hh": h_prev.T @ da}',
        "transposed",
        None,
    ),
]


def planted_backward(module, cell):
    """The cell's backward in the planted copy; the GRU, whose loop is rnn.py's, runs its step there."""
    if hasattr(module, f"{cell}_backward"):
        return getattr(module, f"{cell}_backward")
    return functools.partial(module.sequence_backward, getattr(reference, f"{cell}_step_backward"))


@pytest.mark.parametrize(
    "cell, file, old, new, diagnosis, step",
    PLANTS,
    ids=[f"{p[0]}-{p[4]}-{i}" for i, p in enumerate(PLANTS)],
)
def test_a_planted_mistake_is_named_with_its_first_wrong_step(
    tmp_path, cell, file, old, new, diagnosis, step
):
    module = planted(tmp_path, file, old, new, f"{cell}_{abs(hash(new)) % 10**8}")
    report = check_bptt(planted_backward(module, cell), cell)
    text = str(report)
    assert not report.passed
    assert diagnosis in report.diagnoses, text
    assert report.first_wrong_step == step, text
    assert f"first wrong step: {'none' if step is None else f't={step}'}" in text.splitlines()[-2]
    assert text.splitlines()[-1].startswith("diagnosis: ") and diagnosis in text.splitlines()[-1]


@pytest.mark.parametrize("cell", ["rnn", "rnn_relu", "lstm", "gru"])
def test_the_reference_itself_is_diagnosed_none(cell):
    backward = {
        "rnn": reference.rnn_backward,
        "rnn_relu": reference.rnn_backward,
        "lstm": reference.lstm_backward,
        "gru": reference.gru_backward,
    }[cell]
    forward = (
        functools.partial(reference.rnn_forward, nonlinearity="relu")
        if cell == "rnn_relu"
        else None
    )
    report = check_bptt(backward, cell, forward=forward)
    assert report.passed and report.diagnoses == [] and report.first_wrong_step is None, str(report)
    assert str(report).splitlines()[-2:] == ["first wrong step: none", "diagnosis: none"]


def masked_pair(module, cell):
    c = numrnn.reference.lstm_cell if cell == "lstm" else numrnn.reference.gru_cell
    return functools.partial(module.masked_forward, c), functools.partial(module.masked_backward, c)


def test_the_masked_reference_is_diagnosed_none():
    forward, backward = masked_pair(reference.masked, "lstm")
    report = check_bptt(backward, "lstm", forward=forward, lengths=[5, 3, 1])
    assert report.passed, str(report)


def test_padding_leak_is_named(tmp_path):
    module = planted(
        tmp_path, "masked.py", "d_new = [mask[t] * d for d in d_total]", "d_new = d_total", "leak"
    )
    forward, backward = masked_pair(module, "lstm")
    report = check_bptt(backward, "lstm", forward=forward, lengths=[5, 3, 1])
    assert "padding-leak" in report.diagnoses, str(report)
    assert report.first_wrong_step == 4  # row 2 (length 1) receives gradient at t=4


def test_every_catalogue_entry_is_planted_somewhere():
    named = {p[4].split(":")[0] for p in PLANTS} | {"padding-leak"}
    # the embedding exercise's entry is planted in tests/examples/test_sequence_exercises.py
    assert set(CATALOGUE) - named == {"repeated-index-overwritten", "wrong-shape", "unclassified"}


def test_wrong_shape_says_transposed_in_the_table(tmp_path):
    module = planted(
        tmp_path,
        "lstm.py",
        'grads["weight_ih"] = da.T @ x',
        'grads["weight_ih"] = x.T @ da',
        "tshape",
    )
    text = str(check_bptt(module.lstm_backward, "lstm"))
    assert "shape (4, 20) where (20, 4) is expected: transposed?" in text
    assert "nan" not in text


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="cell"):
        check_bptt(reference.lstm_backward, "lstn")
    with pytest.raises(ValueError, match="lengths"):
        check_bptt(reference.lstm_backward, "lstm", lengths=[5, 9, 1])
    with pytest.raises(ValueError, match="T must be"):
        check_bptt(reference.lstm_backward, "lstm", T=0)


def test_a_user_cell_is_checked_like_the_built_in_ones():
    forward = functools.partial(reference.masked_forward, reference.lstm_cell)
    backward = functools.partial(reference.masked_backward, reference.lstm_cell)
    report = check_bptt(
        backward,
        reference.lstm_cell,
        forward=lambda x, s, p: forward(x, s, p, [x.shape[0]] * x.shape[1]),
    )
    assert report.passed, str(report)
    assert np.isfinite(list(report.tensors["dx"].values())).all()
