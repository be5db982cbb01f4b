"""Processes of the data-parallel tests in tests/test_distributed.py (not a test module).

Each is started once per rank with the variables torchrun would set (``RANK``,
``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``):

``python distributed_worker.py all OUT STEPS CKPT``
    :func:`step`, writing ``OUT/rank{r}.npz``; then :func:`train` from scratch,
    rank 0 writing ``OUT/two.npz``; then :func:`train` from ``CKPT`` (a checkpoint
    written by one process), rank 0 writing ``OUT/one_two.npz``.  One launch for
    all, since starting the processes is what takes time.

``python distributed_worker.py forever CKPT TIMEOUT``
    trains until killed, rank 0 writing ``CKPT`` after every step and printing
    ``saved <step>``; the process group's timeout is ``TIMEOUT`` seconds.

The functions :func:`build`, :func:`global_batch` and :func:`segment` are also
what the tests run in one process to get the reference.
"""

import os
import sys

import numpy as np

import numrnn
from numrnn import distributed
from numrnn.data import sequential_partition
from numrnn.functional import cross_entropy
from numrnn.models import CharLM
from numrnn.optim import Adam
from numrnn.train import tbptt_train

V, T, B = 11, 6, 4  # vocabulary, steps per batch, global batch (2 rows per rank with 2 ranks)
SEED = 3
TOKENS = np.random.default_rng(123).integers(0, V, 3000)  # the corpus


def build(seed, backend="numpy"):
    """A 2-layer float64 LSTM CharLM and its Adam optimiser."""
    model = CharLM(V, 5, 7, num_layers=2, dtype=np.float64, seed=seed, backend=backend)
    return model, Adam(model.parameters(), lr=1e-2)


def global_batch():
    """The fixed global batch ``(X, Y)``, both ``(T, B)`` integer ids."""
    rng = np.random.default_rng(7)
    return rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))


def segment(model, opt, data_rng, steps, dp=None):
    """``steps`` steps of truncated BPTT (clipped to norm 1) over a new sequential
    partition of the corpus drawn with ``data_rng``; returns the mean losses."""
    stream = sequential_partition(TOKENS, B, T, rng=data_rng)
    losses = []

    def on_step(_, loss, grad_norm):
        if dp is not None:
            loss, _ = dp.agree(loss, False)
        losses.append(loss)
        return False

    batches = dp.shard(stream) if dp is not None else stream
    tbptt_train(dp or model, batches, opt, clip_norm=1.0, max_steps=steps, on_step=on_step)
    return losses


def _numpy(x):
    return numrnn.backend.to_numpy(x).copy()


def step(out, rank):
    """One training step of a tiny float64 CharLM on this rank's block of a fixed
    global batch, for the NumPy and the torch backend; writes ``out/rank{rank}.npz``
    with the parameters before and after the broadcast, the gradients, the mean
    loss, the parameters after one Adam step, this rank's first data shard and a
    few draws of :func:`numrnn.distributed.rank_rng`."""
    X, Y = global_batch()
    result = {}
    for backend in ("numpy", "torch"):
        model, opt = build(seed=10 + rank, backend=backend)  # each rank starts elsewhere
        for n, p in model.named_parameters():
            result[f"{backend}/before/{n}"] = _numpy(p.data)
        dp = distributed.DataParallel(model, bucket_mb=1e-3)  # ~1 kB buckets: several calls
        result[f"{backend}/buckets"] = np.array(len(dp.buckets.buckets))
        for n, p in model.named_parameters():
            result[f"{backend}/broadcast/{n}"] = _numpy(p.data)
        xs, ys = next(dp.shard([(X, Y)]))
        logits, _ = dp(xs)
        loss, dlogits = cross_entropy(logits, ys)
        dp.backward(dlogits)
        result[f"{backend}/loss"] = np.array(dp.agree(float(loss), False)[0])
        for n, p in model.named_parameters():
            result[f"{backend}/grad/{n}"] = _numpy(p.grad)
        opt.step()
        for n, p in model.named_parameters():
            result[f"{backend}/after/{n}"] = _numpy(p.data)
    dp = distributed.DataParallel(build(SEED)[0])
    X0, _ = next(dp.shard(sequential_partition(TOKENS, B, T, rng=np.random.default_rng(SEED))))
    result["shard"] = X0
    result["rank_rng"] = distributed.rank_rng(SEED, rank).random(4)
    np.savez(os.path.join(out, f"rank{rank}.npz"), **result)


def train(steps, save, load=None):
    """(Optionally loads ``load`` on every rank,) trains ``steps`` steps with
    :func:`segment`; rank 0 writes the checkpoint ``save``."""
    model, opt = build(SEED)
    data_rng = np.random.default_rng(SEED)
    if load is not None:
        numrnn.load(load, model, opt, rng=data_rng)
    dp = distributed.DataParallel(model)
    losses = segment(model, opt, data_rng, steps, dp)
    if dp.is_main:
        numrnn.save(save, model, opt, rng=data_rng, losses=losses)


def forever(ckpt, timeout):
    rank, _ = distributed.init_from_env(timeout=timeout)
    model, opt = build(SEED)
    dp = distributed.DataParallel(model)
    stream = sequential_partition(TOKENS, B, T, rng=np.random.default_rng(SEED))
    k = 0
    while True:
        for X, Y in dp.shard(stream):
            logits, _ = dp(X)
            _, dlogits = cross_entropy(logits, Y)
            dp.backward(dlogits)
            opt.step()
            opt.zero_grad()
            k += 1
            if dp.is_main:
                numrnn.save(ckpt, model, opt, step=k)
                print(f"saved {k}", flush=True)


if __name__ == "__main__":
    what, args = sys.argv[1], sys.argv[2:]
    if what == "all":
        out, steps, ckpt = args[0], int(args[1]), args[2]
        rank, _ = distributed.init_from_env(timeout=60)
        step(out, rank)
        train(steps, os.path.join(out, "two.npz"))
        train(steps, os.path.join(out, "one_two.npz"), load=ckpt)
    elif what == "forever":
        forever(args[0], float(args[1]))
    else:
        sys.exit(f"distributed_worker: unknown task {what!r}")
    distributed.shutdown()
