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
import functools
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
GATES = {"rnn_step": 1, "lstm_step": 4, "gru_step": 3}  # gate blocks stacked in the weights


def make_inputs(name, rng):
    """Random float64 inputs for the forward of exercise ``name`` (a tuple of its arguments).

    The recurrent steps take numrnn.reference's arguments ``(x, state, params)``:
    ``state`` is ``h_prev`` (or ``(h_prev, c_prev)`` for the LSTM) and ``params`` a dict
    with PyTorch's names ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``.
    """

    def randn(*shape, scale=1.0):
        return rng.standard_normal(shape) * scale

    if name == "softmax_cross_entropy":
        return randn(N, C, scale=2.0), rng.integers(0, C, N)
    if name not in GATES:
        raise KeyError(name)
    w = 1.0 / np.sqrt(H)  # moderate weights: gates neither saturated nor linear
    G = GATES[name] * H
    x, h_prev = randn(N, D), randn(N, H)
    state = (h_prev, randn(N, H)) if name == "lstm_step" else h_prev
    params = {
        "weight_ih": randn(G, D, scale=w),
        "weight_hh": randn(G, H, scale=w),
        "bias_ih": randn(G, scale=w),
        "bias_hh": randn(G, scale=w),
    }
    return x, state, params


def as_array_pair(name, forward, backward, inputs):
    """The step pair as functions of a flat tuple of arrays, for ``numrnn.gradcheck``.

    Returns ``(forward_fn, backward_fn, arrays, names)``: ``forward_fn(*arrays)`` calls
    the student's forward with ``(x, state, params)`` rebuilt, and ``backward_fn``
    returns one gradient per array: ``dx``, the state gradients, then ``grads[name]``
    for every parameter (a missing one is reported by name).
    """
    if name not in GATES:
        return forward, backward, inputs, None
    x, state, params = inputs
    states = list(state) if isinstance(state, tuple) else [state]
    state_names = ["h_prev", "c_prev"][: len(states)]
    keys = list(params)

    @functools.wraps(forward)
    def forward_fn(*arrays):
        s = arrays[1 : 1 + len(states)]
        p = dict(zip(keys, arrays[1 + len(states) :]))
        return forward(arrays[0], tuple(s) if len(s) > 1 else s[0], p)

    @functools.wraps(backward)
    def backward_fn(dout, cache):
        dx, dstate, grads = backward(dout, cache)
        dstates = list(dstate) if isinstance(dstate, tuple) else [dstate]
        missing = [k for k in keys if k not in grads]
        if missing:
            raise KeyError(f"grads has no entry for {', '.join(missing)}")
        return (dx, *dstates, *(grads[k] for k in keys))

    return forward_fn, backward_fn, (x, *states, *params.values()), ["x", *state_names, *keys]


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
            fwd, bwd, arrays, names = as_array_pair(name, fwd, bwd, inputs)
            report = numrnn.gradcheck((fwd, bwd), arrays, seed=seed, input_names=names)
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
