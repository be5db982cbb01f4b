"""Check your backward passes against central differences.

    python examples/exercises/check.py                    # every exercise, your files
    python examples/exercises/check.py rnn_step           # one exercise
    python examples/exercises/check.py --solutions        # the reference solutions
    python examples/exercises/check.py --dir my_attempts  # *.py files in another folder

For each exercise ``NAME`` the checker imports ``NAME.py`` (from this folder, from
``solutions/`` with ``--solutions``, or from ``--dir``), takes its
``NAME_forward`` / ``NAME_backward`` pair, draws random float64 inputs, and runs
``numrnn.gradcheck`` on the pair: every gradient your backward returns is compared
with a central-difference estimate.  The table lists, per tensor, the largest
relative error and whether it passed; below it, the first entry that failed.
The exit status is 0 when every checked exercise passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
STEP_EXERCISES = ("softmax_cross_entropy", "rnn_step", "lstm_step", "gru_step")
SEQUENCE_EXERCISES = ("rnn_backward", "lstm_backward", "gru_backward", "masked_lstm_backward")
EXERCISES = (*STEP_EXERCISES, *SEQUENCE_EXERCISES, "embedding_backward")
N, D, H, C = 3, 4, 5, 6  # distinct sizes, so that a transposed gradient has the wrong shape


def make_inputs(name, rng):
    """Random float64 inputs for the forward of exercise ``name`` (a tuple)."""

    def randn(*shape, scale=1.0):
        return rng.standard_normal(shape) * scale

    w = 1.0 / np.sqrt(H)  # moderate weights: gates neither saturated nor linear
    if name == "rnn_step":
        return (
            randn(N, D),
            randn(N, H),
            randn(H, D, scale=w),
            randn(H, H, scale=w),
            randn(H, scale=w),
        )
    if name == "lstm_step":
        return (
            randn(N, D),
            randn(N, H),
            randn(N, H),
            randn(4 * H, D, scale=w),
            randn(4 * H, H, scale=w),
            randn(4 * H, scale=w),
        )
    if name == "gru_step":
        return (
            randn(N, D),
            randn(N, H),
            randn(3 * H, D, scale=w),
            randn(3 * H, H, scale=w),
            randn(3 * H, scale=w),
            randn(3 * H, scale=w),
        )
    if name == "softmax_cross_entropy":
        return randn(N, C, scale=2.0), rng.integers(0, C, N)
    raise KeyError(name)


def load(name, folder):
    """Import ``folder/name.py`` as a fresh module (never cached between checks)."""
    path = os.path.join(folder, f"{name}.py")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} does not exist")
    spec = importlib.util.spec_from_file_location(f"exercise_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, path


def check(name, folder, seed=0, out=print):
    """Check one exercise; print what happened; return ``"passed"``, ``"failed"``,
    ``"not implemented"`` or ``"error"``."""
    out(f"== {name} ==")
    try:
        module, path = load(name, folder)
    except Exception as err:  # a syntax error in the student's file, a missing file, ...
        out(f"could not import {name}: {type(err).__name__}: {err}")
        return "error"
    return check_module(name, module, path, seed=seed, out=out)


def check_module(name, module, path="this notebook", seed=0, out=print):
    """Check exercise ``name`` as defined in ``module`` (a module, or a notebook's namespace
    wrapped in ``types.SimpleNamespace(**globals())``); same results as :func:`check`."""
    import numrnn

    # a step exercise NAME defines NAME_forward / NAME_backward; a sequence exercise
    # defines the backward NAME and names its forward FORWARD
    bwd_name = name if name in SEQUENCE_EXERCISES else f"{name.removesuffix('_backward')}_backward"
    fwd_name = (
        "FORWARD" if name in SEQUENCE_EXERCISES else f"{name.removesuffix('_backward')}_forward"
    )
    fwd, bwd = getattr(module, fwd_name, None), getattr(module, bwd_name, None)
    if fwd is None or bwd is None:
        out(f"{path} must define {fwd_name} and {bwd_name}")
        return "error"
    try:
        if name in SEQUENCE_EXERCISES:
            lengths = getattr(module, "LENGTHS", None)
            report = numrnn.check_bptt(bwd, module.CELL, forward=fwd, lengths=lengths, seed=seed)
        elif name == "embedding_backward":
            report = check_embedding(fwd, bwd, np.random.default_rng(seed))
        else:
            inputs = make_inputs(name, np.random.default_rng(seed))
            report = numrnn.gradcheck((fwd, bwd), inputs, seed=seed)
    except NotImplementedError as err:
        out(
            f"{bwd_name}: not implemented yet ({err})"
            if str(err)
            else f"{bwd_name}: not implemented yet"
        )
        return "not implemented"
    except Exception as err:
        tb = traceback.extract_tb(err.__traceback__)
        where = next(
            (
                f"{os.path.basename(f.filename)}:{f.lineno}"
                for f in reversed(tb)
                if os.path.abspath(f.filename) == os.path.abspath(path)
            ),
            None,
        )
        out(f"{name}: {type(err).__name__}: {err}" + (f" (at {where})" if where else ""))
        return "error"
    out(str(report))
    if report.passed:
        return "passed"
    if hasattr(report, "rows"):
        out(f"wrong gradient(s): {', '.join(r.name for r in report.rows if not r.passed)}")
    return "failed"


class EmbeddingReport:
    """The embedding exercise's result: the error of ``dW`` and the diagnosis lines."""

    def __init__(self, err, diagnosis, shape_note=""):
        self.err, self.diagnosis, self.passed = err, diagnosis, diagnosis is None and err <= 1e-7
        self.shape_note = shape_note

    def __str__(self):
        status = "ok" if self.passed else "WRONG"
        return "\n".join(
            [
                "tensor  relative error  status",
                f"dW      {self.err:14.2e}  {status}{self.shape_note}",
                "first wrong step: none",  # one lookup, no time steps
                f"diagnosis: {self.diagnosis or ('none' if self.passed else 'unclassified')}",
            ]
        )


def check_embedding(fwd, bwd, rng):
    """Check ``dW`` with repeated indices against the scatter-add; name an overwrite."""
    from numrnn.diagnosis.compare import classify, rel_error

    V, E = 7, 3
    idx = np.array([2, 5, 2, 0, 5, 2])  # 2 three times, 5 twice, rows 1, 3, 4, 6 unused
    W = rng.standard_normal((V, E))
    de = rng.standard_normal((len(idx), E))
    _, cache = fwd(idx, W)
    dW = np.asarray(bwd(de.copy(), cache))
    want = np.zeros((V, E))
    np.add.at(want, idx, de)
    overwritten = np.zeros((V, E))
    overwritten[idx] = de
    err = rel_error(dW, want)
    if err <= 1e-7:
        return EmbeddingReport(err, None)
    note = "" if dW.shape == want.shape else f"  (shape {dW.shape} where {want.shape} is expected)"
    if dW.shape == want.shape and rel_error(dW, overwritten) <= 1e-7:
        return EmbeddingReport(err, "repeated-index-overwritten", note)
    return EmbeddingReport(err, classify(dW, want) or "unclassified", note)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "names",
        nargs="*",
        metavar="name",
        help=f"exercises to check (default: all of {', '.join(EXERCISES)})",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--solutions", action="store_true", help="check the reference solutions")
    where.add_argument("--dir", help="check the files in this folder instead")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    args = p.parse_args(argv)
    unknown = [n for n in args.names if n not in EXERCISES]
    if unknown:
        p.error(f"unknown exercise(s) {', '.join(unknown)}; choose from {', '.join(EXERCISES)}")
    folder = args.dir or (os.path.join(HERE, "solutions") if args.solutions else HERE)
    results = {}
    for name in args.names or EXERCISES:
        results[name] = check(name, folder, seed=args.seed)
        print()
    print("summary: " + ", ".join(f"{n} {r}" for n, r in results.items()))
    return 0 if all(r == "passed" for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
