"""benchmarks/gpu.py: runs (on the CPU here) and refuses nothing when no GPU is present."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "gpu.py")


def run(*args):
    res = subprocess.run(
        [sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def test_cpu_run_prints_the_table():
    pytest.importorskip("torch")
    out = run("--device", "cpu", "--sizes", "small", "--repeats", "1", "--warmup", "0")
    for cell in ("rnn", "lstm", "gru"):
        assert f"| small | {cell} |" in out
    # the agreement column: the torch backend and torch.nn compute the same step
    gaps = [
        float(line.rsplit("|", 2)[-2]) for line in out.splitlines() if line.startswith("| small")
    ]
    assert max(gaps) < 1e-4


def test_without_cuda_it_says_so():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert "no CUDA GPU" in run("--device", "cuda")
