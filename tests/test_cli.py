"""The ``numrnn`` command line: ``numrnn --help`` lists the tools, each tool runs."""

from pathlib import Path

import numpy as np
import pytest
import tomllib
from helpers import run_python

import numrnn
from numrnn.cli import TOOLS, main

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return run_python("-m", "numrnn", *args)


def test_help_lists_every_tool():
    res = run("--help")
    assert res.returncode == 0, res.stderr
    for name in ("gradcheck", "trace", "checkpoint"):
        assert f"\n  {name} " in res.stdout, res.stdout
    assert set(TOOLS) == {"gradcheck", "trace", "checkpoint"}


def test_console_script_is_declared():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"numrnn": "numrnn.cli:main"}
    module, func = scripts["numrnn"].split(":")
    assert getattr(numrnn.cli, func) is main and module == "numrnn.cli"


def test_no_tool_or_unknown_tool_is_a_usage_error():
    res = run()
    assert res.returncode == 2 and "TOOL" in res.stderr
    res = run("nope")
    assert res.returncode == 2 and "invalid choice: 'nope'" in res.stderr


def test_version():
    res = run("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"numrnn {numrnn.__version__}"


def test_gradcheck_tool_passes_and_exit_status_follows_the_verdict(capsys):
    assert main(["gradcheck", "gru", "--seq-len", "3", "--batch", "2"]) == 0
    out = capsys.readouterr().out
    assert "PASSED" in out and "weight_hh_l0" in out


def test_gradcheck_through_python_m_numrnn():
    res = run("gradcheck", "linear", "--batch", "2")
    assert res.returncode == 0, res.stderr
    assert "PASSED" in res.stdout


def test_trace_tool_prints_the_tables(capsys):
    assert main(["trace", "rnn", "--inputs", "1,2,3"]) == 0
    out = capsys.readouterr().out
    assert "FORWARD" in out and "BACKWARD" in out


def test_tool_help_goes_to_the_tool():
    res = run("trace", "--help")
    assert res.returncode == 0
    assert "--inputs" in res.stdout  # trace's own option, not the dispatcher's help


def test_checkpoint_tool(tmp_path, capsys):
    model = numrnn.Linear(3, 2, seed=0)
    path = tmp_path / "m.npz"
    numrnn.save(path, model, note="hello")
    assert main(["checkpoint", str(path)]) == 0
    out = capsys.readouterr().out
    assert '"note": "hello"' in out and "numrnn-checkpoint" in out
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    assert main(["checkpoint", str(bad)]) == 1
    assert "bad.npz" in capsys.readouterr().err


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_every_tool_has_help(tool, capsys):
    with pytest.raises(SystemExit) as exc:
        main([tool, "--help"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("usage:")


def test_checkpoint_roundtrip_unchanged(tmp_path):
    # Printing the header changes nothing: the file loads afterwards as before.
    model = numrnn.Linear(3, 2, seed=0)
    path = tmp_path / "m.npz"
    numrnn.save(path, model)
    before = path.read_bytes()
    assert main(["checkpoint", str(path)]) == 0
    assert path.read_bytes() == before
    other = numrnn.Linear(3, 2, seed=1)
    numrnn.load(path, other)
    np.testing.assert_array_equal(other.weight.data, model.weight.data)


@pytest.mark.parametrize("module", ["numrnn", "numrnn.trace", "numrnn.gradcheck"])
def test_python_m_runs_without_a_runpy_warning(module):
    # ``import numrnn`` imports every part; running one of them with -m must not warn
    # that the module was already imported (it would run twice, in two namespaces).
    args = {"numrnn": ["trace", "rnn"], "numrnn.trace": ["rnn"], "numrnn.gradcheck": ["linear"]}[
        module
    ]
    res = run_python("-W", "error::RuntimeWarning", "-m", module, *args)
    assert res.returncode == 0, res.stderr
    assert ("PASSED" if module == "numrnn.gradcheck" else "FORWARD") in res.stdout
