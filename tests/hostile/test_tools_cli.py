"""Hostile command lines for ``python -m numrnn.gradcheck`` and ``python -m numrnn.trace``.

A misused command is argparse's usage error: exit status 2, a message naming the
option, no traceback, and nothing built or run.  For the gradient check, status 1
keeps its one meaning: a gradient is wrong.
"""

import os
import subprocess
import sys

import pytest

from numrnn.gradcheck import main as gradcheck_main
from numrnn.trace import main as trace_main


def _usage_error(main, argv, capsys):
    """Run ``main(argv)``; return its stderr after checking it exited with status 2."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    assert "Traceback" not in err
    return err


_GRADCHECK_MISUSE = [
    (["rnn", "--hidden-size", "-1"], "--hidden-size"),
    (["rnn", "--hidden-size", "0"], "--hidden-size"),
    (["rnn", "--hidden-size", "2.5"], "--hidden-size"),
    (["rnn", "--hidden-size", "99999"], "--hidden-size"),
    (["lstm", "--input-size", "0"], "--input-size"),
    (["lstm", "--seq-len", "0"], "--seq-len"),
    (["lstm", "--batch", "0"], "--batch"),
    (["gru", "--num-layers", "0"], "--num-layers"),
    (["rnn", "--eps", "0"], "--eps"),
    (["rnn", "--eps", "-1e-6"], "--eps"),
    (["rnn", "--eps", "nan"], "--eps"),
    (["rnn", "--eps", "inf"], "--eps"),
    (["rnn", "--rtol", "-1"], "--rtol"),
    (["rnn", "--rtol", "nan"], "--rtol"),
    (["rnn", "--atol", "-1"], "--atol"),
    (["rnn", "--max-entries", "-1"], "--max-entries"),
    (["rnn", "--seed", "-1"], "--seed"),
    (["rnn", "--seed", "x"], "--seed"),
    (["lstm", "--proj-size", "9"], "--proj-size"),
    (["lstm", "--proj-size", "4"], "--proj-size"),
    (["lstm", "--proj-size", "-1"], "--proj-size"),
    (["lstm", "--num-layers", "2", "--dropout", "3"], "--dropout"),
    (["lstm", "--num-layers", "2", "--dropout", "1"], "--dropout"),
    (["lstm", "--num-layers", "2", "--dropout", "-0.1"], "--dropout"),
    (["gru", "--proj-size", "2"], "--proj-size"),  # used to be ignored
    (["rnn", "--proj-size", "2"], "--proj-size"),
    (["gru", "--nonlinearity", "relu"], "--nonlinearity"),
    (["lstmcell", "--num-layers", "2"], "--num-layers"),
    (["grucell", "--lengths"], "--lengths"),
    (["linear", "--bidirectional"], "--bidirectional"),
    (["embedding", "--no-bias"], "--no-bias"),
    (["linear", "--padding-idx", "0"], "--padding-idx"),
    (["embedding", "--padding-idx", "10"], "--padding-idx"),
    (["embedding", "--padding-idx", "-11"], "--padding-idx"),
    (["embedding", "--num-embeddings", "1", "--padding-idx", "0"], "--padding-idx"),
    (["rnn", "--lengths", "--unbatched"], "--lengths"),
    (["lstm", "--hidden-size", "4096", "--input-size", "4096"], "too large"),
    (["transformer"], "layer"),
]


@pytest.mark.parametrize(
    "argv,named", _GRADCHECK_MISUSE, ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_gradcheck_misuse_is_a_usage_error(argv, named, capsys):
    err = _usage_error(gradcheck_main, argv, capsys)
    assert named in err
    assert "usage:" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["lstm", "--proj-size", "2", "--hidden-size", "3", "--seq-len", "3"],
        ["lstm", "--proj-size", "0"],
        ["embedding", "--padding-idx", "-1", "--num-embeddings", "4"],
        ["rnn", "--num-layers", "2", "--dropout", "0.5", "--seq-len", "3"],
        ["rnncell", "--nonlinearity", "relu"],
    ],
    ids=" ".join,
)
def test_gradcheck_accepts_the_edges_of_each_range(argv, capsys):
    assert gradcheck_main(argv) == 0
    assert "PASSED" in capsys.readouterr().out


def _run(module, *argv, cwd=None):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run(
        [sys.executable, "-m", module, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    "argv", [["rnn", "--hidden-size", "-1"], ["gru", "--proj-size", "2"], ["lstm", "--eps", "0"]]
)
def test_gradcheck_misuse_exits_2_from_the_shell(argv):
    proc = _run("numrnn.gradcheck", *argv)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "usage:" in proc.stderr


# -- trace -------------------------------------------------------------------------------------


def _write(path, data):
    path.write_bytes(data)
    return str(path)


_TRACE_FILES = {
    "binary": b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary",
    "utf16": '{"weight_ih": [[1.0]]}'.encode("utf-16"),
    "not json": b"weights: 1",
    "json list": b"[1, 2, 3]",
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "nan": b'{"weight_ih": [[NaN]], "weight_hh": [[1.0]]}',
    "infinity": b'{"weight_ih": [[Infinity]], "weight_hh": [[1.0]]}',
    "too large": b" " * (2 << 20) + b"{}",
}


@pytest.mark.parametrize("kind", sorted(_TRACE_FILES))
def test_trace_refuses_a_bad_weights_file_naming_it(kind, tmp_path, capsys):
    path = _write(tmp_path / "weights.bin", _TRACE_FILES[kind])
    err = _usage_error(trace_main, ["rnn", "--weights", path], capsys)
    assert "--weights" in err and path in err


@pytest.mark.parametrize("target", ["missing", "directory", "/dev/zero"])
def test_trace_refuses_what_is_not_a_regular_file(target, tmp_path, capsys):
    path = {"missing": str(tmp_path / "nope.json"), "directory": str(tmp_path)}.get(target, target)
    err = _usage_error(trace_main, ["gru", "--weights", path], capsys)
    assert "--weights" in err and path in err


@pytest.mark.parametrize(
    "inputs",
    [
        "1,,2",
        "1,2,",
        ",1",
        "1;;2",
        "1,2;3,4;",
        ";",
        "",
        " ",
        "1,a",
        "nan",
        "1,inf",
        "1e999",
        "1;2,3",
    ],
)
def test_trace_refuses_malformed_inputs(inputs, capsys):
    err = _usage_error(trace_main, ["rnn", f"--inputs={inputs}"], capsys)
    assert "--inputs" in err


@pytest.mark.parametrize(
    "argv,named",
    [
        (["rnn", "--hidden-size", "0"], "--hidden-size"),
        (["rnn", "--hidden-size", "-2"], "--hidden-size"),
        (["rnn", "--hidden-size", "100000000"], "--hidden-size"),
        (["rnn", "--hidden-size", "1.5"], "--hidden-size"),
        (["rnn", "--precision", "-1"], "--precision"),
        (["lstm", "--nonlinearity", "relu"], "--nonlinearity"),
        (["rnn", "--loss", "mean"], "--loss"),
    ],
)
def test_trace_refuses_bad_options(argv, named, capsys):
    assert named in _usage_error(trace_main, argv, capsys)


@pytest.mark.parametrize("inputs", ["1,2,3", "1, 2, 3", "1 2 3", "0.5,-1,2", "1,0;0,1"])
def test_trace_reads_every_documented_input_form(inputs, capsys):
    assert trace_main(["rnn", f"--inputs={inputs}"]) == 0
    n_steps = inputs.count(";") + 1 if ";" in inputs else len(inputs.replace(",", " ").split())
    assert f"T = {n_steps}" in capsys.readouterr().out


def test_trace_binary_weights_exit_2_from_the_shell(tmp_path):
    path = _write(tmp_path / "binary.bin", _TRACE_FILES["binary"])
    proc = _run("numrnn.trace", "rnn", "--weights", path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "binary.bin" in proc.stderr
