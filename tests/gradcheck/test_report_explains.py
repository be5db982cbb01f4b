"""The printed report and ``--help`` state the pass rule and what the tol ratio means."""

import subprocess
import sys

import numpy as np

import numrnn
from numrnn.gradcheck import gradcheck


def _pair(wrong=None):
    """y = x w^T; ``wrong`` rewrites the returned (dx, dw)."""

    def forward(x, w):
        return x @ w.T, (x, w)

    def backward(dy, cache):
        x, w = cache
        grads = (dy @ w, dy.T @ x)
        return grads if wrong is None else wrong(*grads)

    return forward, backward


def _inputs():
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 4)), rng.standard_normal((5, 4))


FOOTER_RULE = (
    "an entry passes when |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|)"
)


def test_printed_report_ends_with_the_tolerance_rule_and_the_tol_ratio_meaning():
    report = gradcheck(_pair(), _inputs())
    text = str(report)
    lines = text.splitlines()
    verdict = next(i for i, line in enumerate(lines) if line.startswith("PASSED"))
    footer = "\n".join(lines[verdict + 1 :])
    assert footer.startswith("tolerance: " + FOOTER_RULE)
    # the default atol, its value as used, and how it is formed
    assert f"atol = {report.atol:.3g} = 100 * u * S / eps" in footer
    assert "u = 2**-52" in footer and "S = sum|G*y|" in footer
    assert "tol ratio: a tensor's worst |analytic - numeric| / tolerance; above 1 fails" in footer
    assert "a correct backward is typically at 0.01 or below" in footer
    assert lines[-1].strip() == "a correct backward is typically at 0.01 or below."


def test_the_footer_follows_noise_factor_and_an_explicit_atol():
    text = str(gradcheck(_pair(), _inputs(), noise_factor=30.0))
    assert "= 30 * u * S / eps, the central difference's rounding noise times 30" in text
    text = str(gradcheck(_pair(), _inputs(), atol=1e-7))
    assert "atol = 1e-07, given by the caller." in text
    assert "u * S / eps" not in text


def test_a_correct_backward_has_tol_ratio_at_most_one_hundredth_as_the_footer_says():
    # The footer's claim, measured on a module: every row of a correct LSTM is <= 0.01.
    rng = np.random.default_rng(1)
    lstm = numrnn.LSTM(3, 4, dtype=np.float64, seed=0)
    x, h0, c0 = rng.standard_normal((6, 2, 3)), rng.standard_normal((2, 2, 4)), np.zeros((1, 2, 4))
    report = gradcheck(lstm, (x, (h0[:1], c0)))
    assert report.passed
    assert max(r.tol_ratio for r in report.rows) <= 0.01


def _help(*cmd):
    proc = subprocess.run(
        [sys.executable, "-m", *cmd, "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return " ".join(proc.stdout.split())  # argparse wraps the epilog: compare unwrapped


def test_help_of_both_commands_states_the_rule_and_the_tol_ratio():
    for cmd in (("numrnn.gradcheck",), ("numrnn", "gradcheck")):
        text = _help(*cmd)
        assert "tolerance: " + FOOTER_RULE in text
        assert "atol = 100 * u * S / eps" in text
        assert "tol ratio: a tensor's worst |analytic - numeric| / tolerance; above 1 fails" in text
        assert "a correct backward is typically at 0.01 or below" in text
