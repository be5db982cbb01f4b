"""The gradcheck output quoted under "Reading a failure" is what the checker prints."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = ROOT / "examples" / "exercises" / "README.md"

# The README's example: a correct RNN step whose weight_hh gradient has its sign flipped.
FLIPPED = """
from numrnn.reference.rnn import rnn_step_backward as _backward, rnn_step_forward

def rnn_step_backward(dh, cache):
    dx, dh_prev, grads = _backward(dh, cache)
    grads["weight_hh"] = -grads["weight_hh"]
    return dx, dh_prev, grads
"""


def _quoted_run():
    text = README.read_text()
    block = text.split("## Reading a failure\n\n```\n", 1)[1].split("```\n", 1)[0]
    command, *output = block.splitlines()
    return command, output


def test_the_quoted_failure_is_a_real_run(tmp_path):
    command, expected = _quoted_run()
    assert command == "$ python examples/exercises/check.py rnn_step --dir my_attempts"
    (tmp_path / "rnn_step.py").write_text(FLIPPED)
    proc = subprocess.run(
        [sys.executable, "examples/exercises/check.py", "rnn_step", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines() == expected
