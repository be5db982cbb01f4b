"""examples/char_lm.py end to end at a tiny size, including resume from its checkpoint."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "examples", "char_lm.py")


def run(*args, timeout=120):
    res = subprocess.run(
        [sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def test_help():
    assert "--temperature" in run("--help").stdout


def test_dry_run_writes_results_figure_checkpoint_and_resumes(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    res = run("--dry-run", "--out", str(out), "--seed", "1")
    assert "val perplexity" in res.stdout
    assert (out / "char_lm.png").stat().st_size > 0
    rows = json.loads((out / "results.json").read_text())
    assert rows[0]["steps"] > 0 and rows[0]["val_ppl"] > 1
    assert "--- sample" in res.stdout
    res = run("--dry-run", "--out", str(out), "--resume", str(out / "checkpoint.npz"))
    assert "resumed from" in res.stdout
    resumed = json.loads((out / "results.json").read_text())
    assert resumed[0]["steps"] > rows[0]["steps"]


def test_compare_dry_run(tmp_path):
    pytest.importorskip("matplotlib")
    res = run("--dry-run", "--compare", "--out", str(tmp_path))
    for cell in ("rnn", "gru", "lstm"):
        assert f"| {cell} |" in res.stdout
    assert (tmp_path / "char_lm_compare.png").exists()


def test_text_file(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 200, encoding="utf-8")
    res = run("--dry-run", "--text", str(text), "--out", str(tmp_path / "o"), "--sample", "20")
    assert "vocabulary" in res.stdout
