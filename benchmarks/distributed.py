"""Data-parallel char_lm on this machine's cores: 1 process against 2 (torchrun, gloo).

Three ways to use two cores for the training step of ``examples/char_lm.py``
(its defaults: LSTM, embedding 64, hidden 256, 32 streams of 64 characters, Adam,
clipping at 5), timed back to back and repeated, since the machine may be shared:

* ``1 proc x 1 thread``  - one process, one BLAS thread (the baseline);
* ``1 proc x 2 threads`` - one process, two BLAS threads (OpenBLAS splits each product);
* ``2 procs x 1 thread`` - ``torchrun --nproc_per_node 2``, one BLAS thread each,
  16 streams per process, gradients averaged with ``numrnn.distributed.DataParallel``.

Each run times ``--steps`` steps after ``--warmup`` steps and reports steps/s,
characters/s (``steps * batch * seq_len / seconds``: the global batch) and, for
the two-process run, the time per step spent inside the gradient ``all_reduce``
calls (communication plus waiting for the slower process), the same call timed
right after a barrier (communication alone), and the small per-step ``agree``
call char_lm makes.  CPU ms/step is the processor time of all processes together
per step, which a busy machine inflates less than the wall-clock rates.  The
1-minute load average is read before every run.

    python benchmarks/distributed.py                         # 3 repeats, ~3 minutes
    python benchmarks/distributed.py --repeats 1 --steps 10  # quick look
    python benchmarks/distributed.py --markdown dist.md      # also write the table
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = [  # label, processes, BLAS threads per process
    ("1 proc x 1 thread", 1, 1),
    ("1 proc x 2 threads", 1, 2),
    ("2 procs x 1 thread", 2, 1),
]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=40, help="timed steps per run")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    p.add_argument("--repeats", type=int, default=3, help="rounds of the three runs")
    p.add_argument("--hidden-size", type=int, default=256)
    p.add_argument("--embed-size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32, help="global batch (streams)")
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--markdown", help="write the table to this file too")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for name in ("steps", "warmup", "repeats", "hidden_size", "embed_size", "batch_size"):
        if getattr(args, name) < (0 if name == "warmup" else 1):
            p.error(f"--{name.replace('_', '-')} must be >= 1; got {getattr(args, name)}")
    if args.batch_size % 2:
        p.error(f"--batch-size must be even (it is split over 2 processes); got {args.batch_size}")
    return args


def worker(args):
    """One timed run; prints one JSON line (rank 0 only)."""
    import numrnn
    from numrnn import distributed
    from numrnn.data import CharVocab, load_text, sequential_partition
    from numrnn.models import CharLM
    from numrnn.train import tbptt_train

    dp = None
    if "RANK" in os.environ:
        distributed.init_from_env(timeout=120)
    text = load_text("shakespeare")
    vocab = CharVocab.build(text, pad_token=None, unk_token=None)
    model = CharLM(len(vocab), args.embed_size, args.hidden_size, seed=0)
    opt = numrnn.optim.Adam(model.parameters(), lr=3e-3)
    if "RANK" in os.environ:
        dp = distributed.DataParallel(model)
    stream = sequential_partition(vocab.encode(text), args.batch_size, args.seq_len)
    batches = dp.shard(stream) if dp is not None else iter(stream)
    agree = {"seconds": 0.0}

    def on_step(_, loss, grad_norm):  # what char_lm's on_step adds with --distributed
        if dp is not None:
            t0 = time.perf_counter()
            dp.agree(loss, False)
            agree["seconds"] += time.perf_counter() - t0
        return False

    net = dp or model
    tbptt_train(net, batches, opt, clip_norm=5.0, max_steps=args.warmup, on_step=on_step)
    if dp is not None:
        dp.buckets.seconds, agree["seconds"] = 0.0, 0.0
    t0, cpu0 = time.perf_counter(), time.process_time()
    tbptt_train(net, batches, opt, clip_norm=5.0, max_steps=args.steps, on_step=on_step)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    alone = None
    if dp is not None:
        seconds = dp.max(seconds)  # the step rate of the group is that of its slowest member
        cpu = dp.agree(cpu, False)[0] * dp.world_size  # CPU time of all processes together
        alone = allreduce_alone(dp)
    row = {
        "seconds": seconds,
        "steps_per_s": args.steps / seconds,
        "chars_per_s": args.steps * args.batch_size * args.seq_len / seconds,
        "allreduce_ms": 1e3 * dp.buckets.seconds / args.steps if dp is not None else None,
        "agree_ms": 1e3 * agree["seconds"] / args.steps if dp is not None else None,
        "alone_ms": alone,
        "cpu_ms": 1e3 * cpu / args.steps,
        "buckets": len(dp.buckets.buckets) if dp is not None else None,
        "params": int(sum(p.data.size for p in model.parameters())),
    }
    if dp is None or dp.is_main:
        print("RESULT " + json.dumps(row), flush=True)
    if dp is not None:
        distributed.shutdown()


def allreduce_alone(dp, repeats=15):
    """Median milliseconds of the gradient all_reduce when no process is late: each
    call starts right after a barrier, so it times the communication, not the wait."""
    import torch.distributed

    samples = []
    for _ in range(repeats):
        torch.distributed.barrier()
        t0 = time.perf_counter()
        dp.buckets.average()  # the gradients are equal on every rank: averaging keeps them
        samples.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(samples)


def run_one(args, nproc, threads):
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")])
    for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    cmd = [sys.executable]
    if nproc > 1:
        cmd += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    cmd += [os.path.abspath(__file__), "--worker"]
    cmd += [f"--steps={args.steps}", f"--warmup={args.warmup}"]
    cmd += [f"--hidden-size={args.hidden_size}", f"--embed-size={args.embed_size}"]
    cmd += [f"--batch-size={args.batch_size}", f"--seq-len={args.seq_len}"]
    load = os.getloadavg()[0]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    if res.returncode != 0:
        sys.exit(f"benchmarks/distributed.py: run failed:\n{res.stderr[-3000:]}")
    line = [x for x in res.stdout.splitlines() if x.startswith("RESULT ")][-1]
    row = json.loads(line[len("RESULT ") :])
    row["load"] = load
    return row


def fmt(values, digits):
    """Median, then every repeat in brackets."""
    if values[0] is None:
        return "-"
    med = statistics.median(values)
    each = ", ".join(f"{v:.{digits}f}" for v in values)
    return f"{med:.{digits}f} ({each})"


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    results = {label: [] for label, _, _ in CONFIGS}
    for r in range(args.repeats):
        for label, nproc, threads in CONFIGS:
            row = run_one(args, nproc, threads)
            results[label].append(row)
            print(
                f"[{r + 1}/{args.repeats}] {label}: {row['steps_per_s']:.2f} steps/s, "
                f"load {row['load']:.2f}",
                file=sys.stderr,
                flush=True,
            )
    base = statistics.median(x["steps_per_s"] for x in results[CONFIGS[0][0]])
    lines = [
        f"char_lm step: LSTM, embedding {args.embed_size}, hidden {args.hidden_size}, "
        f"{args.batch_size} streams x {args.seq_len} characters (global), float32; "
        f"{args.steps} timed steps after {args.warmup}; median (each of {args.repeats} repeats)",
        "",
        "| run | steps/s | characters/s | speed-up | CPU ms/step | all_reduce ms/step "
        "| all_reduce alone ms | agree ms/step | load avg (1 min) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, _, _ in CONFIGS:
        rows = results[label]
        speedup = statistics.median(x["steps_per_s"] for x in rows) / base
        lines.append(
            f"| {label} | {fmt([x['steps_per_s'] for x in rows], 2)} "
            f"| {fmt([x['chars_per_s'] for x in rows], 0)} | {speedup:.2f}x "
            f"| {fmt([x['cpu_ms'] for x in rows], 0)} "
            f"| {fmt([x['allreduce_ms'] for x in rows], 2)} "
            f"| {fmt([x['alone_ms'] for x in rows], 2)} "
            f"| {fmt([x['agree_ms'] for x in rows], 2)} "
            f"| {fmt([x['load'] for x in rows], 2)} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")
    return results


if __name__ == "__main__":
    main()
