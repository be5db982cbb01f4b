"""Hostile command lines for every example: each bad option is a usage error (exit status 2)
that names the option, raised before any work, with nothing written or changed in --out;
a trained checkpoint is never replaced by a shorter run; --dry-run never overrides an
option given explicitly.

Most cases call the example's entry point in this process (argument parsing is the same
code as on the command line and costs no interpreter start); a few run the real command
to check the exit status end to end.
"""

import functools
import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import numrnn

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(EXAMPLES))  # the examples import their shared _cli module

import _cli  # noqa: E402


@functools.cache
def example(name):
    """The example script ``examples/<name>.py`` imported as a module (once per process)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def snapshot(folder):
    """Every file under ``folder`` with the hash of its bytes (what "unchanged" compares)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(Path(folder).rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def out(tmp_path):
    """An --out folder that already holds a file, to see that nothing touches it."""
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "keep.txt").write_text("trained results\n")
    return folder


# -- bad values, per example and option: (entry point, argv before --out, named option) -----

BAD_NUMBERS = {
    "char_lm": {
        "--minutes": ["0", "-1", "nan", "inf", "five"],
        "--epochs": ["0", "-3", "2.5"],
        "--eval-every": ["0"],
        "--batch-size": ["0"],
        "--seq-len": ["0"],
        "--hidden-size": ["0"],
        "--embed-size": ["-1"],
        "--num-layers": ["0"],
        "--val-fraction": ["1.5", "0", "1", "-0.1"],
        "--val-chars": ["0"],
        "--sample": ["-1"],
        "--temperature": ["0", "-0.5"],
        "--lr": ["0", "-1e-3"],
        "--clip": ["0"],
        "--dropout": ["1", "-0.1"],
        "--seed": ["-1"],
        "--cell": ["cnn"],
    },
    "names": {
        "--batch-size": ["0"],
        "--epochs": ["0"],
        "--seconds": ["0", "-5"],
        "--hidden-size": ["0"],
        "--embed-size": ["0"],
        "--num-layers": ["0"],
        "--lr": ["0"],
        "--clip": ["-1"],
        "--held-out": ["0", "1", "1.5"],
        "--val-fraction": ["1.5", "0"],
        "--seed": ["-2"],
        "--class-weights": ["inverse"],
        "--cells": ["cnn", ","],
    },
    "sentiment": {
        "--max-len": ["0"],
        "--epochs": ["0"],
        "--patience": ["0"],
        "--batch-size": ["0"],
        "--min-freq": ["0"],
        "--hidden-size": ["0"],
        "--embed-size": ["0"],
        "--num-layers": ["0"],
        "--dropout": ["1"],
        "--word-dropout": ["1.5", "-0.1"],
        "--lr": ["0"],
        "--weight-decay": ["-1"],
        "--clip": ["0"],
        "--held-out": ["1"],
        "--val-fraction": ["0"],
        "--seed": ["-1"],
    },
    "translate": {
        "--epochs": ["0"],
        "--batch-size": ["0"],
        "--embed-size": ["0"],
        "--hidden-size": ["0"],
        "--lr": ["0"],
        "--dropout": ["1"],
        "--clip": ["0"],
        "--teacher-forcing": ["1.5", "-0.5"],
        "--val-fraction": ["1.5", "0"],
        "--beam-width": ["0", "-1"],
        "--alpha": ["-1", "nan"],
        "--models": ["transformer", ","],
        "--samples": ["-1"],
        "--threads": ["-1"],
        "--seed": ["-1"],
        "--pair": ["en-de"],
    },
    "regression": {
        "--epochs": ["0"],
        "--gd-iters": ["0"],
        "--logistic-n": ["1"],
        "--logistic-lr": ["0"],
        "--logistic-iters": ["0"],
        "--window": ["0"],
        "--hidden-size": ["0"],
        "--batch-size": ["0"],
        "--lr": ["0"],
        "--clip": ["0"],
        "--test-fraction": ["0", "1"],
        "--val-fraction": ["1", "-0.5"],
        "--lrs": ["", "0.1,-1", "0.1,x"],
        "--series": ["bitcoin"],
        "--seed": ["-1"],
    },
    "vanishing_gradients": {
        "--steps": ["0"],
        "--num-symbols": ["0", "1"],
        "--seq-len": ["1"],
        "--hidden-size": ["0"],
        "--batch-size": ["0"],
        "--lr": ["0"],
        "--clip": ["0"],
        "--probe-batch": ["0"],
        "--eval-batch": ["0"],
        "--cells": ["lstm,cnn"],
        "--seed": ["-1"],
    },
}

CASES = [
    (name, "main", [option, value], option)
    for name, options in BAD_NUMBERS.items()
    for option, values in options.items()
    for value in values
]
CASES += [("char_lm", "main", ["--compare", "--resume", "out/keep.txt"], "--resume")]
# a dry run does not make a bad option acceptable
CASES += [(name, "main", ["--dry-run", "--epochs", "0"], "--epochs") for name in BAD_NUMBERS]
CASES += [("vanishing_gradients", "main", ["--dry-run", "--steps", "0"], "--steps")]
# the subcommands that apply a saved model
CASES += [
    ("char_lm", "generate", ["--checkpoint", "missing.npz"], "--checkpoint"),
    ("names", "predict", ["Smith", "--top", "0"], "--top"),
    ("sentiment", "predict", ["fine", "--out", "out/keep.txt"], "--out"),
    ("translate", "translate", ["hello", "--beam-width", "0"], "--beam-width"),
    ("translate", "translate", ["hello", "--alpha", "-1"], "--alpha"),
    ("translate", "translate", ["hello", "--pair", "xx-yy"], "--pair"),
]


def _ids(case):
    name, entry, argv, _ = case
    return f"{name}.{entry}:{' '.join(argv) or repr('')}"


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_bad_option_is_a_usage_error_before_any_work(case, out, capsys, monkeypatch):
    name, entry, argv, option = case
    monkeypatch.chdir(out.parent)  # relative paths in the table live beside --out
    before = snapshot(out.parent)
    if entry != "generate" and "--out" not in argv:
        argv = [*argv, "--out", str(out)]
    with pytest.raises(SystemExit) as exc:
        getattr(example(name), entry)(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert option in err, err
    assert snapshot(out.parent) == before


def _bytes_file(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


TEXT_FILES = {
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 100, "not text"),
    "utf16": ("ROMEO: hello\n".encode("utf-16") * 100, "UTF-16"),
    "latin1": ("café au lait\n".encode("latin-1") * 100, "not UTF-8"),
}


@pytest.mark.parametrize("kind", sorted(TEXT_FILES))
def test_text_that_is_not_utf8_is_refused_with_the_reason(kind, out, tmp_path, capsys):
    data, reason = TEXT_FILES[kind]
    path = _bytes_file(tmp_path, f"{kind}.txt", data)
    before = snapshot(out)
    with pytest.raises(SystemExit) as exc:
        example("char_lm").main(["--text", str(path), "--out", str(out)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--text" in err and reason in err, err
    assert snapshot(out) == before


@pytest.mark.parametrize("what", ["missing", "folder"])
def test_text_path_that_is_no_file_is_refused(what, out, tmp_path, capsys):
    path = tmp_path / "nothing.txt" if what == "missing" else tmp_path
    with pytest.raises(SystemExit) as exc:
        example("char_lm").main(["--text", str(path), "--out", str(out)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--text" in err and str(path) in err


@pytest.mark.parametrize("name", ["char_lm", "names", "sentiment", "translate", "regression"])
def test_out_that_is_a_file_is_refused(name, tmp_path, capsys):
    target = tmp_path / "results"
    target.write_text("not a folder")
    with pytest.raises(SystemExit) as exc:
        example(name).main(["--out", str(target)])
    assert exc.value.code == 2 and "--out" in capsys.readouterr().err
    assert target.read_text() == "not a folder"


def test_text_too_short_for_the_batch_is_a_usage_error_naming_the_options(out, tmp_path, capsys):
    text = tmp_path / "short.txt"
    text.write_text("to be or not to be, that is the question. " * 40, encoding="utf-8")
    before = snapshot(out)
    with pytest.raises(SystemExit) as exc:
        example("char_lm").main(["--text", str(text), "--batch-size", "64", "--out", str(out)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--batch-size" in err and "--seq-len" in err, err
    assert snapshot(out) == before


def test_window_longer_than_the_series_is_a_usage_error(out, capsys):
    before = snapshot(out)
    with pytest.raises(SystemExit) as exc:
        example("regression").main(["--window", "5000", "--out", str(out)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--window" in err, err
    assert snapshot(out) == before


@pytest.mark.parametrize(
    "argv, option",
    [
        (["--minutes", "0"], "--minutes"),
        (["--epochs", "0"], "--epochs"),
        (["--eval-every", "0"], "--eval-every"),
        (["--text", "/dev/null/x"], "--text"),
    ],
)
def test_the_command_line_exits_2(argv, option, out):
    """The real command: argparse's exit status and message, no traceback."""
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "char_lm.py"), *argv, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert option in proc.stderr and "Traceback" not in proc.stderr


# -- --dry-run keeps the options given explicitly -------------------------------------------

DRY_RUN_CASES = [
    ("char_lm", "hidden_size", "--hidden-size", "48"),
    ("char_lm", "minutes", "--minutes", "0.5"),
    ("names", "epochs", "--epochs", "3"),
    ("names", "seconds", "--seconds", "2.5"),
    ("sentiment", "hidden_size", "--hidden-size", "24"),
    ("sentiment", "patience", "--patience", "2"),
    ("translate", "epochs", "--epochs", "3"),
    ("translate", "beam_width", "--beam-width", "5"),
    ("regression", "epochs", "--epochs", "4"),
    ("vanishing_gradients", "steps", "--steps", "7"),
    ("vanishing_gradients", "seq_len", "--seq-len", "12"),
]


@pytest.mark.parametrize("name, dest, option, value", DRY_RUN_CASES)
def test_dry_run_keeps_an_explicit_option_and_says_so(name, dest, option, value, capsys):
    module = example(name)
    args = module.parse_args(["--dry-run", option, value])
    assert getattr(args, dest) == type(getattr(args, dest))(value)
    line = capsys.readouterr().out
    assert f"kept as given: {option} {getattr(args, dest)}" in line, line
    # without the option the dry run's own value is used, and the line names it
    args = module.parse_args(["--dry-run"])
    assert getattr(args, dest) == module.DRY_RUN[dest]
    assert f"{option} {module.DRY_RUN[dest]}" in capsys.readouterr().out


def test_dry_run_with_an_abbreviated_option_keeps_it(capsys):
    """argparse accepts unambiguous prefixes; the explicit value still wins."""
    args = example("char_lm").parse_args(["--dry-run", "--hidden", "40"])
    assert args.hidden_size == 40
    assert "kept as given: --hidden-size 40" in capsys.readouterr().out


# -- checkpoints ------------------------------------------------------------------------------


def _fake_checkpoint(path, steps):
    """A real numrnn checkpoint that records ``steps`` training steps."""
    model = numrnn.models.CharLM(5, 4, 8, seed=0)
    numrnn.save(path, model, example="char_lm", step=steps)
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _run_example(script, *argv, timeout=180):
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )


def test_a_shorter_run_keeps_the_trained_checkpoint_and_says_so(tmp_path):
    ckpt = tmp_path / "checkpoint.npz"
    digest = _fake_checkpoint(ckpt, 10**6)
    proc = _run_example("char_lm.py", "--dry-run", "--out", str(tmp_path))
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "kept the old checkpoint" in proc.stderr and "--overwrite" in proc.stderr
    assert hashlib.sha256(ckpt.read_bytes()).hexdigest() == digest
    proc = _run_example("char_lm.py", "--dry-run", "--out", str(tmp_path), "--overwrite")
    assert proc.returncode == 0, proc.stderr[-2000:]
    steps = numrnn.io.read_header(ckpt)["metadata"]["step"]
    assert 0 < steps < 10**6


def test_a_file_that_is_not_a_checkpoint_is_not_replaced_and_no_training_starts(tmp_path):
    ckpt = tmp_path / "checkpoint.npz"
    ckpt.write_text("my notes, not a checkpoint")
    proc = _run_example("char_lm.py", "--dry-run", "--out", str(tmp_path))
    assert proc.returncode == 1
    assert "not a readable checkpoint" in proc.stderr and str(ckpt) in proc.stderr
    assert "| model |" not in proc.stdout  # stopped before training
    assert ckpt.read_text() == "my notes, not a checkpoint"
    assert not (tmp_path / "results.json").exists()


def test_translate_keeps_a_longer_trained_model(tmp_path):
    from numrnn.data import MissingPackageError, load_translation_pairs

    try:
        load_translation_pairs("en-fr")
    except MissingPackageError as err:
        pytest.skip(str(err))
    ckpt = tmp_path / "translate_en-fr.npz"
    digest = _fake_checkpoint(ckpt, 10**6)
    proc = _run_example("translate.py", "--dry-run", "--out", str(tmp_path))
    assert proc.returncode == 1 and "kept the old checkpoint" in proc.stderr, proc.stderr[-2000:]
    assert hashlib.sha256(ckpt.read_bytes()).hexdigest() == digest


def test_no_checkpoint_is_written_after_zero_steps(tmp_path, capsys):
    path = tmp_path / "checkpoint.npz"
    assert not _cli.may_replace(str(path), None, 0, "char_lm.py")
    assert "no training step" in capsys.readouterr().err
    assert not _cli.may_replace(str(path), 100, 99, "char_lm.py")
    assert _cli.may_replace(str(path), 100, 100, "char_lm.py")
    assert _cli.may_replace(str(path), None, 1, "char_lm.py")


def test_existing_steps_refuses_a_checkpoint_without_a_step_count(tmp_path):
    path = tmp_path / "c.npz"
    numrnn.save(path, numrnn.models.CharLM(5, 4, 8, seed=0))
    with pytest.raises(SystemExit, match="does not record how many steps"):
        _cli.existing_steps(str(path), "char_lm.py", overwrite=False)
    assert _cli.existing_steps(str(path), "char_lm.py", overwrite=True) == 0
    assert _cli.existing_steps(str(tmp_path / "absent.npz"), "char_lm.py", False) is None


def test_results_json_is_written_atomically(tmp_path):
    path = tmp_path / "results.json"
    _cli.write_json(str(path), {"a": [1, 2.5]})
    assert path.read_text().startswith("{") and sorted(os.listdir(tmp_path)) == ["results.json"]
    with pytest.raises(TypeError):
        _cli.write_json(str(path), {"a": np.zeros(2)})  # not JSON: the old file stays
    assert '"a"' in path.read_text() and sorted(os.listdir(tmp_path)) == ["results.json"]


@pytest.mark.parametrize(
    "name, filename", [("names", "names_best.npz"), ("sentiment", "sentiment.npz")]
)
@pytest.mark.parametrize("kind", ["other example", "not a checkpoint"])
def test_predict_refuses_a_checkpoint_it_cannot_use(name, filename, kind, tmp_path, capsys):
    path = tmp_path / filename
    if kind == "other example":
        _fake_checkpoint(path, 5)
    else:
        path.write_text("a note")
    before = snapshot(tmp_path)
    with pytest.raises(SystemExit) as exc:
        example(name).predict(["Smith", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--out" in err and str(path) in err, err
    if kind == "other example":
        assert "char_lm.py" in err and f"{name}.py" in err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "tag, message", [("char_lm", "another text"), ("translate", "translate.py")]
)
def test_resume_from_a_checkpoint_that_does_not_fit_is_a_usage_error(tag, message, out, capsys):
    path = out.parent / "other.npz"
    numrnn.save(path, numrnn.models.CharLM(5, 4, 8, seed=0), example=tag, step=7)
    before = snapshot(out.parent)
    with pytest.raises(SystemExit) as exc:
        example("char_lm").main(["--dry-run", "--resume", str(path), "--out", str(out)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--resume" in err and message in err, err
    assert snapshot(out.parent) == before
