"""The names example runs end to end at a small size (--dry-run) and writes its figures."""

import json

import pytest
from example_scripts import run_example

pytest.importorskip("faker")
pytest.importorskip("mimesis")
pytest.importorskip("anyascii")
pytest.importorskip("matplotlib")


def _run(*args):
    return run_example("names.py", *args)


def test_names_dry_run_writes_figures_and_results(tmp_path):
    out = tmp_path / "names"
    proc = _run("--dry-run", "--quiet", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    for f in ("names_curves.png", "names_confusion.png"):
        assert (out / f).stat().st_size > 1000, f
    res = json.loads((out / "results.json").read_text())
    assert [r["model"] for r in res["rows"]] == ["rnn", "lstm", "gru"]
    assert len(res["classes"]) == 17 and "Scottish" not in res["classes"]
    for r in res["rows"]:
        assert 0.0 <= r["held_out_accuracy"] <= 1.0
    assert "| majority class" in proc.stdout and "| gru |" in proc.stdout
    if not (out / "names_best.npz").exists():
        pytest.skip("no checkpoint written (numrnn.io unavailable): predict not checked")
    proc = _run("predict", "Nguyen", "Schmidt", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(("Nguyen:", "Schmidt:"))]
    assert len(lines) == 2
    for ln in lines:  # three languages with percentages, most probable first
        probs = [
            float(part.rsplit(" ", 1)[1].rstrip("%")) for part in ln.split(": ", 1)[1].split(", ")
        ]
        assert len(probs) == 3 and probs == sorted(probs, reverse=True)


def test_names_help_mentions_the_missing_scottish_class():
    proc = _run("--help")
    assert proc.returncode == 0
    assert "Scottish" in proc.stdout and "--class-weights" in proc.stdout
