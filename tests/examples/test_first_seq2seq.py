"""examples/first_seq2seq.py learns its one pair and translates it back exactly."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "first_seq2seq.py"


def test_first_seq2seq_translates_its_pair():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    losses = [float(ln.rsplit(" ", 1)[1]) for ln in lines if ln.startswith("epoch ")]
    assert [ln.split(":")[0] for ln in lines[:-1]] == [f"epoch {e}" for e in range(100, 501, 100)]
    assert losses[-1] < losses[0] and losses[-1] < 0.05  # ln 7 = 1.95 at chance
    assert lines[-1] == "['Bos', 'I', 'am', 'fine', 'Eos']"
