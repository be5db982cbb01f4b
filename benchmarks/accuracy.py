"""Accuracy report: how closely numrnn's layers agree with torch.nn and with finite differences.

    python benchmarks/accuracy.py

For each layer kind, the largest normwise relative error (``max|a - b| / max|b|``)
over the parity grid of the test suite (num_layers 1-3 x bidirectional x
batch_first x bias, plus lengths, projection, relu), in float64, for the outputs,
final states and every gradient; then what ``numrnn.gradcheck`` (central
differences, float64) reports for a few configurations of each: the largest
entrywise relative error (large only on entries that are themselves tiny) and
the worst ratio of error to its tolerance (a layer passes when it is <= 1).
"""

from __future__ import annotations

import itertools
import os
import sys

import numpy as np

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")
)

from parity import run_parity

import numrnn


def parity():
    print("| layer | configurations | max rel. error, forward | max rel. error, gradients |")
    print("|---|---:|---:|---:|")
    for kind in ("rnn", "lstm", "gru"):
        configs = [
            dict(num_layers=L, bidirectional=bi, batch_first=bf, bias=b)
            for L, bi, bf, b in itertools.product(
                [1, 2, 3], [False, True], [False, True], [True, False]
            )
        ]
        configs += [dict(lengths=[3, 7, 1, 7, 4], T=7, B=5, num_layers=2, bidirectional=True)]
        if kind == "lstm":
            configs += [dict(proj_size=3, num_layers=2, bidirectional=True)]
        if kind == "rnn":
            configs += [dict(nonlinearity="relu", num_layers=2, bidirectional=True)]
        fwd = grad = 0.0
        for cfg in configs:
            errs = run_parity(kind, **cfg)
            fwd = max(fwd, *(v for k, v in errs.items() if k == "out" or k.startswith("hn")))
            grad = max(
                grad, *(v for k, v in errs.items() if not (k == "out" or k.startswith("hn")))
            )
        print(f"| {kind} | {len(configs)} | {fwd:.1e} | {grad:.1e} |")


def finite_differences():
    print(
        "\n| layer | options | tensors | entries checked | max rel. error (entrywise) "
        "| worst error / tolerance | passed |"
    )
    print("|---|---|---:|---:|---:|---:|---|")
    rng = np.random.default_rng(0)
    for kind, opts in [
        ("rnn", {}),
        ("rnn", {"nonlinearity": "relu", "num_layers": 2}),
        ("lstm", {"num_layers": 2, "bidirectional": True}),
        ("lstm", {"proj_size": 2}),
        ("gru", {"num_layers": 2, "bidirectional": True}),
    ]:
        cls = {"rnn": numrnn.RNN, "lstm": numrnn.LSTM, "gru": numrnn.GRU}[kind]
        m = cls(3, 4, dtype=np.float64, seed=0, **opts)
        x = rng.standard_normal((6, 3, 3))
        report = numrnn.gradcheck(m, (x,), kwargs={"lengths": [6, 4, 2]})
        worst = max(r.max_rel_error for r in report.rows)
        ratio = max(r.tol_ratio for r in report.rows)
        checked = sum(r.checked for r in report.rows)
        print(
            f"| {kind} | {opts or 'defaults'} + lengths | {len(report.rows)} | {checked} | {worst:.1e} "
            f"| {ratio:.1e} | {'yes' if report.passed else 'NO'} |"
        )


if __name__ == "__main__":
    parity()
    finite_differences()
