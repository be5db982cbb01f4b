"""Before/after: this tree's numrnn against another copy of numrnn, in one process.

    python benchmarks/ab.py OTHER_TREE [--sizes tiny,small] [--cells lstm] [--rounds 15]

``OTHER_TREE`` is a directory holding a ``numrnn/`` package (an older checkout, e.g.
``git worktree add /tmp/before <commit>``).  Its package is copied to a temporary
directory as ``numrnn_other`` so both import side by side.  For each size and cell
both versions build the same layer (``seed=0``, float32) and run one training step
(``out, _ = m(x); m.backward(dout)``) in alternating rounds, the order swapped every
round, each sample after one untimed call.  Samples are CPU time of this process
(``time.process_time``), not wall time, so that other processes sharing the
cores slow neither side; run it with one BLAS thread (``OPENBLAS_NUM_THREADS=1``).
Prints, per row, both medians and the median and quartiles of the per-round ratio
this / other (below 1: this tree is faster).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import pathlib
import shutil
import sys
import tempfile
import time

import numpy as np

SIZES = {
    "tiny": (1, 10, 10, 32),
    "karpathy": (1, 25, 65, 100),
    "small": (32, 35, 28, 128),
    "medium": (64, 50, 128, 256),
    "large": (64, 100, 256, 512),
    "long": (8, 1000, 32, 64),
}
CLASSES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def import_other(tree):
    """Import ``tree/numrnn`` as the package ``numrnn_other`` (a copy in a temporary directory)."""
    src = pathlib.Path(tree) / "numrnn"
    if not (src / "__init__.py").is_file():
        raise SystemExit(f"ab.py: {tree!r} holds no numrnn/ package")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="numrnn_ab_"))
    shutil.copytree(src, tmp / "numrnn_other", ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, str(tmp))
    return importlib.import_module("numrnn_other")


def measure(libs, size, cell, rounds, min_sample_s, lengths=False):
    """{name: per-sample seconds}, alternating the libraries round by round."""
    B, T, D, H = SIZES[size]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, D)).astype(np.float32)
    dout = rng.standard_normal((T, B, H)).astype(np.float32)
    lens = None
    if lengths and B > 1:
        lens = np.maximum(1, (T * (1 - np.arange(B) / (2 * B)))).astype(int)
    steps = {}
    for name, lib in libs.items():
        m = getattr(lib, CLASSES[cell])(D, H, seed=0)

        def one(m=m):
            m(x, lengths=lens)
            m.backward(dout)

        for _ in range(3):
            one()
        steps[name] = one
    t0 = time.process_time()
    steps["this"]()
    number = max(1, int(min_sample_s / max(time.process_time() - t0, 1e-6)))
    samples = {name: [] for name in libs}
    gc.disable()
    try:
        for r in range(rounds):
            for name in list(libs) if r % 2 == 0 else list(libs)[::-1]:
                steps[name]()
                t0 = time.process_time()
                for _ in range(number):
                    steps[name]()
                samples[name].append((time.process_time() - t0) / number)
    finally:
        gc.enable()
    return {name: np.array(v) for name, v in samples.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("other", help="a directory holding the numrnn/ package to compare against")
    p.add_argument("--sizes", default="tiny,karpathy,small,medium,long")
    p.add_argument("--cells", default="rnn,lstm,gru")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--min-sample-ms", type=float, default=10.0)
    p.add_argument("--lengths", action="store_true", help="variable lengths (packed semantics)")
    args = p.parse_args(argv)
    import numrnn

    libs = {"this": numrnn, "other": import_other(args.other)}
    print(f"this: {numrnn.__file__}\nother: {libs['other'].__file__} (copied from {args.other})")
    print("| size | cell | this ms | other ms | this / other (median [quartiles] of rounds) |")
    print("|---|---|---:|---:|---|")
    for size in args.sizes.split(","):
        for cell in args.cells.split(","):
            s = measure(libs, size, cell, args.rounds, args.min_sample_ms / 1e3, args.lengths)
            q1, q2, q3 = np.percentile(s["this"] / s["other"], [25, 50, 75])
            print(
                f"| {size} | {cell} | {np.median(s['this']) * 1e3:.3f} | "
                f"{np.median(s['other']) * 1e3:.3f} | {q2:.3f} [{q1:.3f}, {q3:.3f}] |",
                flush=True,
            )


if __name__ == "__main__":
    main()
