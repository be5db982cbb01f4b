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


# -- generate: sampling from a saved checkpoint ---------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The checkpoint of one dry run (a few seconds), shared by the generate tests."""
    out = tmp_path_factory.mktemp("char_lm")
    run("--dry-run", "--out", str(out), "--sample", "0")
    return out / "checkpoint.npz"


def generate(*args):
    return subprocess.run(
        [sys.executable, SCRIPT, "generate", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_generate_prints_the_prime_and_the_requested_length(trained):
    res = generate("--checkpoint", str(trained), "--prime", "KING:", "--length", "50")
    assert res.returncode == 0, res.stderr
    text = res.stdout.rstrip("\n")
    assert text.startswith("KING:") and len(text) == len("KING:") + 50
    again = generate("--checkpoint", str(trained), "--prime", "KING:", "--length", "50")
    assert again.stdout == res.stdout  # the same --seed gives the same text
    other = generate(
        "--checkpoint", str(trained), "--prime", "KING:", "--length", "50", "--seed", "1"
    )
    assert other.stdout != res.stdout


def test_generate_top_k_1_is_greedy_whatever_the_temperature(trained):
    outs = {
        generate(
            "--checkpoint", str(trained), "--length", "30", "--top-k", "1", "--temperature", t
        ).stdout
        for t in ("0.2", "5.0")
    }
    assert len(outs) == 1


def test_generate_refuses_unknown_prime_characters_naming_them(trained):
    res = generate("--checkpoint", str(trained), "--prime", "KING€ ☃:")
    assert res.returncode == 2
    assert "--prime" in res.stderr and "'€'" in res.stderr and "'☃'" in res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""


@pytest.mark.parametrize(
    "option, value",
    [("--temperature", "0"), ("--top-k", "0"), ("--top-k", "1000"), ("--length", "0")],
)
def test_generate_refuses_bad_sampling_options(trained, option, value):
    res = generate("--checkpoint", str(trained), option, value)
    assert res.returncode == 2 and option in res.stderr and res.stdout == ""


def test_generate_bad_checkpoint_paths(tmp_path):
    res = generate("--checkpoint", str(tmp_path / "absent.npz"))
    assert res.returncode == 2 and "no such file" in res.stderr
    res = generate("--checkpoint", str(tmp_path))
    assert res.returncode == 2 and "not a regular file" in res.stderr
    notes = tmp_path / "notes.npz"
    notes.write_text("not a checkpoint")
    res = generate("--checkpoint", str(notes))
    assert res.returncode == 2 and "--checkpoint" in res.stderr and str(notes) in res.stderr
    assert "Traceback" not in res.stderr


def test_generate_refuses_another_examples_checkpoint(tmp_path):
    import numrnn
    from numrnn.models import SequenceClassifier

    path = tmp_path / "names_best.npz"
    model = SequenceClassifier(vocab_size=10, num_classes=3, embed_size=4, hidden_size=8)
    numrnn.save(path, model, example="names", step=5)
    res = generate("--checkpoint", str(path))
    assert res.returncode == 2 and "names.py" in res.stderr and "char_lm.py" in res.stderr
    untagged = tmp_path / "plain.npz"
    numrnn.save(untagged, model)
    res = generate("--checkpoint", str(untagged))
    assert res.returncode == 2 and "SequenceClassifier" in res.stderr


def test_generate_streams_to_a_terminal(trained):
    """On a terminal every character is written as soon as it is drawn (many writes)."""
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, SCRIPT, "generate", "--checkpoint", str(trained), "--length", "200"],
        stdout=follower,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the terminal closes when the process ends
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    os.close(leader)
    text = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")
    assert text.startswith("ROMEO:\n") and len(text.rstrip("\n")) == len("ROMEO:\n") + 200
