"""Child processes for tests/test_io_resume.py (not a test module itself).

``python io_worker.py resume CKPT OUT STEPS [--sabotage data|dropout]``
    builds the training run of :func:`build` with a *different* seed, loads
    ``CKPT`` into it, trains up to ``STEPS`` and writes the final parameters to
    ``OUT`` (plain ``np.savez``).  ``--sabotage`` leaves one generator
    unrestored, so the tests can check that the comparison notices.

``python io_worker.py writer PATH ROUND`` (or :func:`writer_process` in a forked process)
    saves a 4 MB model to ``PATH`` over and over, with parameters that are a
    function of a counter kept in the metadata, printing ``begin c`` before and
    ``end c`` after each save, until it is killed.
"""

import argparse
import os
import sys

import numpy as np

import numrnn
from numrnn.functional import cross_entropy
from numrnn.io import load, save
from numrnn.models import CharLM
from numrnn.optim import Adam
from numrnn.optim.lr_scheduler import StepLR

V, T, B = 13, 7, 4  # vocabulary, steps per batch, batch size
ROUND = 1_000_000  # writer counters: ROUND * round + j, distinct across rounds


def build(seed):
    """A tiny CharLM with dropout, Adam, a StepLR schedule and the data generator."""
    model = CharLM(
        V,
        embed_size=6,
        hidden_size=10,
        num_layers=2,
        cell="lstm",
        dropout=0.25,
        dtype=np.float64,
        seed=seed,
    )
    opt = Adam(model.parameters(), lr=3e-2)
    sched = StepLR(opt, step_size=4, gamma=0.5)
    data_rng = np.random.default_rng(seed + 1000)
    return model, opt, sched, data_rng


def train(model, opt, sched, data_rng, start, stop, save_at=None, path=None):
    """Steps ``start .. stop-1``; saves a checkpoint after step ``save_at`` (1-based count)."""
    losses = []
    for step in range(start, stop):
        batch = data_rng.integers(0, V, size=(T + 1, B))  # (T+1, B) random tokens
        logits, _ = model(batch[:-1])  # (T, B, V)
        loss, dlogits = cross_entropy(logits.reshape(-1, V), batch[1:].reshape(-1))
        opt.zero_grad()
        model.backward(dlogits.reshape(logits.shape))
        numrnn.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        sched.step()
        losses.append(float(loss))
        if save_at is not None and step + 1 == save_at:
            save(path, model, opt, sched, rng=data_rng, step=step + 1)
    return losses


def writer_model():
    return numrnn.LSTM(256, 256, dtype=np.float64, seed=0)  # 4.2 MB of float64 parameters


def fill(model, counter):
    """Parameters as a function of ``counter``: parameter i is filled with counter + i / 8."""
    for i, p in enumerate(model.parameters()):
        p.data[...] = counter + i / 8


def writer_loop(path, rnd, fd):
    """Save forever; progress lines go to file descriptor ``fd``, one ``os.write`` each."""
    model = writer_model()
    os.write(fd, b"ready\n")
    j = 0
    while True:
        j += 1
        c = ROUND * rnd + j
        fill(model, c)
        os.write(fd, f"begin {c}\n".encode())
        save(path, model, counter=c)
        os.write(fd, f"end {c}\n".encode())


def writer_process(path, rnd, log_path):
    """Target of a forked writer process: ``writer_loop`` logging to ``log_path``."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    writer_loop(path, rnd, fd)


def main(argv):
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("resume")
    r.add_argument("ckpt")
    r.add_argument("out")
    r.add_argument("steps", type=int)
    r.add_argument("--sabotage", choices=["data", "dropout"])
    w = sub.add_parser("writer")
    w.add_argument("path")
    w.add_argument("round", type=int)
    args = ap.parse_args(argv)

    if args.mode == "resume":
        model, opt, sched, data_rng = build(seed=4242)  # everything must come from the file
        meta = load(args.ckpt, model, opt, sched, rng=None if args.sabotage == "data" else data_rng)
        if args.sabotage == "dropout":
            model.rnn._dropout_rng = np.random.default_rng(0)
        train(model, opt, sched, data_rng, meta["step"], args.steps)
        np.savez(args.out, **model.state_dict())
        return

    writer_loop(args.path, args.round, sys.stdout.fileno())


if __name__ == "__main__":
    main(sys.argv[1:])
