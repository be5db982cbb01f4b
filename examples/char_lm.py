"""Character-level language model on Shakespeare, trained with truncated BPTT by hand.

    python examples/char_lm.py                      # LSTM, 5 minutes of training
    python examples/char_lm.py --cell gru --minutes 2
    python examples/char_lm.py --compare            # RNN, GRU, LSTM, 2-layer LSTM, same time each
    python examples/char_lm.py --text my.txt --sample 500 --temperature 0.7 --prime "ROMEO:"
    python examples/char_lm.py --resume runs/char_lm/checkpoint.npz --minutes 1
    torchrun --standalone --nproc_per_node 2 examples/char_lm.py --distributed

The text is split into a training part and a held-out part (the last
``--val-fraction`` of the corpus, i.e. plays the model never trains on).  Training
runs over ``--batch-size`` parallel streams of the training text, ``--seq-len``
characters at a time, carrying the hidden state from chunk to chunk; the
validation perplexity is measured every ``--eval-every`` steps and at the end.
Figures go to ``--out``: the training loss and the validation perplexity.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import sys
import time

import numpy as np

import numrnn
from numrnn import distributed
from numrnn.data import CharVocab, load_text, sequential_partition
from numrnn.distributed import DataParallel
from numrnn.models import CharLM
from numrnn.plotting import moving_average, pyplot
from numrnn.training import evaluate_lm, progress, tbptt_train


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--text", help="train on this UTF-8 file instead of Shakespeare")
    p.add_argument("--cell", default="lstm", choices=["rnn", "lstm", "gru"])
    p.add_argument("--num-layers", type=int, default=1)
    p.add_argument("--embed-size", type=int, default=64)
    p.add_argument("--hidden-size", type=int, default=256)
    p.add_argument("--dropout", type=float, default=0.0, help="between recurrent layers")
    p.add_argument("--seq-len", type=int, default=64, help="truncation length of BPTT")
    p.add_argument("--batch-size", type=int, default=32, help="parallel streams")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--clip", type=float, default=5.0, help="max global gradient norm")
    p.add_argument("--minutes", type=float, default=5.0, help="training time budget")
    p.add_argument("--epochs", type=int, default=100, help="at most this many passes over the text")
    p.add_argument("--eval-every", type=int, default=400, help="steps between validation runs")
    p.add_argument("--val-fraction", type=float, default=0.05)
    p.add_argument(
        "--val-chars", type=int, default=100_000, help="held-out characters per evaluation"
    )
    p.add_argument("--sample", type=int, default=400, help="characters to generate after training")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--prime", default="ROMEO:\n", help="text the sample starts from")
    p.add_argument("--compare", action="store_true", help="train RNN, GRU, LSTM and 2-layer LSTM")
    p.add_argument("--resume", help="continue from this checkpoint")
    p.add_argument("--out", default="runs/char_lm", help="folder for figures and the checkpoint")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dry-run", action="store_true", help="a few seconds end to end (tests)")
    p.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel over the processes torchrun starts; --batch-size is the global batch",
    )
    p.add_argument(
        "--dist-timeout",
        type=float,
        default=300.0,
        help="seconds a process waits for the others before it fails (--distributed)",
    )
    args = p.parse_args(argv)
    if args.dry_run:
        args.minutes, args.hidden_size, args.embed_size = 0.05, 32, 16
        args.seq_len, args.batch_size, args.eval_every = 16, 8, 20
        args.val_chars, args.sample, args.epochs = 2000, 40, 1
    return args


def load_corpus(args):
    if args.text:
        with open(args.text, encoding="utf-8") as f:
            text = f.read()
    else:
        text = load_text("shakespeare")
    if args.dry_run:
        text = text[:60_000]
    if len(text) < 1000:
        sys.exit(f"char_lm: the text has {len(text)} characters; at least 1000 are needed")
    split = int(len(text) * (1 - args.val_fraction))
    return text, text[:split], text[split:]


def train_one(args, name, cell, num_layers, vocab, train_ids, val_ids, seconds, resume=None):
    """Train one model for ``seconds``; return a result row and the model."""
    rng = np.random.default_rng(args.seed)
    model = CharLM(
        len(vocab),
        args.embed_size,
        args.hidden_size,
        num_layers,
        cell=cell,
        dropout=args.dropout if num_layers > 1 else 0.0,
        seed=args.seed,
    )
    opt = numrnn.optim.Adam(model.parameters(), lr=args.lr)
    step, history = 0, {"step": [], "loss": [], "val_step": [], "val_ppl": []}
    ckpt = os.path.join(args.out, "checkpoint.npz" if name == "main" else f"checkpoint_{name}.npz")
    if resume:
        meta = numrnn.load(resume, model, opt, rng=rng)
        if meta.get("vocab") != list(vocab.itos):
            sys.exit(f"char_lm: {resume} was trained on another vocabulary")
        step, history = int(meta["step"]), meta["history"]
        print(f"resumed from {resume} at step {step}")
    dp = DataParallel(model) if args.distributed else None  # rank 0's parameters to every rank
    is_main = dp is None or dp.is_main
    val_stream = sequential_partition(val_ids[: args.val_chars + 1], 16, args.seq_len)
    state, spent, epoch, running = None, 0.0, 0, None
    bar = progress(
        total=None, desc=f"{name} ({cell} x{num_layers})", unit="step", disable=not is_main
    )

    def on_step(_, loss):
        nonlocal step, running
        out_of_time = False
        if dp is not None:  # the mean loss of all shards; stop together when one runs out of time
            loss, out_of_time = dp.agree(loss, time.perf_counter() - t0 >= seconds - spent)
        step += 1
        running = loss if running is None else 0.98 * running + 0.02 * loss
        history["step"].append(step)
        history["loss"].append(loss)
        bar.update(1)
        bar.set_postfix(loss=f"{running:.3f}")
        return step % args.eval_every == 0 or out_of_time

    while spent < seconds and epoch < args.epochs:
        chunks = iter(sequential_partition(train_ids, args.batch_size, args.seq_len, rng=rng))
        if dp is not None:
            chunks = dp.shard(chunks)  # this process's block of the batch_size streams
        while (
            spent < seconds
        ):  # one pass over the text, paused for validation every eval_every steps
            t0 = time.perf_counter()
            _, state, stopped = tbptt_train(
                dp or model,
                chunks,
                opt,
                state=state,
                clip_norm=args.clip,
                on_step=on_step,
                time_budget=seconds - spent if dp is None else None,  # else on_step decides
            )
            spent += time.perf_counter() - t0  # training time only: evaluation is not counted
            if dp is not None:
                spent = dp.max(spent)  # one clock for all processes, so all leave the loop together
            if not stopped:
                break  # the pass is over
            if step % args.eval_every == 0 and is_main:
                _, ppl = evaluate_lm(model, val_stream)
                history["val_step"].append(step)
                history["val_ppl"].append(ppl)
                bar.set_postfix(loss=f"{running:.3f}", val_ppl=f"{ppl:.2f}")
            if dp is not None:
                spent = dp.max(spent)  # the others wait here while rank 0 evaluates (not timed)
        epoch += 1
        state = None  # a new pass cuts the text at a new offset: start the streams afresh
    bar.close()
    if not is_main:
        return None, model, history  # rank 0 evaluates and writes the checkpoint
    _, ppl = evaluate_lm(model, val_stream)
    history["val_step"].append(step)
    history["val_ppl"].append(ppl)
    os.makedirs(args.out, exist_ok=True)
    numrnn.save(
        ckpt,
        model,
        opt,
        rng=rng,
        step=step,
        history=history,
        vocab=list(vocab.itos),
        args={k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))},
    )
    row = {
        "model": name,
        "cell": cell,
        "layers": num_layers,
        "steps": step,
        "train_seconds": round(spent, 1),
        "val_ppl": round(ppl, 3),
        "params": int(sum(np.asarray(p.data).size for p in model.parameters())),
    }
    return row, model, history


def plot(histories, path):
    plt = pyplot()
    if plt is None:
        return
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for name, h in histories.items():
        a.plot(*moving_average(h["loss"]), label=name)
        b.plot(h["val_step"], h["val_ppl"], marker="o", label=name)
    a.set(xlabel="step", ylabel="training loss (nats/char)", title="training loss")
    b.set(xlabel="step", ylabel="perplexity", title="validation perplexity", yscale="log")
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def main(argv=None):
    args = parse_args(argv)
    rank = start_distributed(args) if args.distributed else 0
    text, train_text, val_text = load_corpus(args)
    vocab = CharVocab.build(text, pad_token=None, unk_token=None)
    train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
    print(
        f"corpus: {len(text):,} characters, vocabulary {len(vocab)}, "
        f"train {len(train_ids):,}, held out {len(val_ids):,}"
    )
    os.makedirs(args.out, exist_ok=True)
    seconds = args.minutes * 60
    if args.compare:
        configs = [("rnn", "rnn", 1), ("gru", "gru", 1), ("lstm", "lstm", 1), ("lstm-2", "lstm", 2)]
    else:
        configs = [("main", args.cell, args.num_layers)]
    rows, histories, model = [], {}, None
    for name, cell, layers in configs:
        row, model, hist = train_one(
            args,
            name,
            cell,
            layers,
            vocab,
            train_ids,
            val_ids,
            seconds,
            resume=args.resume if not args.compare else None,
        )
        rows.append(row)
        histories[f"{cell} x{layers}"] = hist
    if rank != 0:
        return rows  # only rank 0 reports, plots and samples
    print("\n| model | layers | steps | train s | params | val perplexity |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['cell']} | {r['layers']} | {r['steps']} | {r['train_seconds']} | {r['params']:,} "
            f"| {r['val_ppl']:.3f} |"
        )
    plot(
        histories, os.path.join(args.out, "char_lm_compare.png" if args.compare else "char_lm.png")
    )
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(rows, f, indent=2)
    if args.sample > 0 and not args.compare:
        prime = [vocab.stoi[c] for c in args.prime if c in vocab.stoi] or [0]
        ids = model.sample(
            args.sample, prime, temperature=args.temperature, rng=np.random.default_rng(args.seed)
        )
        print(f"\n--- sample (temperature {args.temperature}) ---")
        print(args.prime + vocab.decode(ids))
    return rows


# -- data-parallel training: torchrun --standalone --nproc_per_node N char_lm.py --distributed --
# Every process runs this script.  They share the seed, so they build the same
# model and cut the text into the same batch_size streams; each trains on its
# block of batch_size / N streams, the gradients are averaged after each backward
# (numrnn.distributed.DataParallel), and every process takes the same step.  The
# checkpoint holds the model, not the processes: it resumes with any N.
def start_distributed(args):
    """Join torchrun's process group; return this process's rank."""
    try:
        rank, world = distributed.init_from_env(timeout=args.dist_timeout)
    except (RuntimeError, ValueError) as err:
        sys.exit(f"char_lm: --distributed: {err}")
    atexit.register(distributed.shutdown)
    if args.batch_size % world:
        sys.exit(
            f"char_lm: --batch-size {args.batch_size} must be a multiple of the number of "
            f"processes ({world}) with --distributed"
        )
    distributed.quiet_unless_main(rank)
    print(f"data parallel: {world} processes, {args.batch_size // world} streams each")
    return rank


if __name__ == "__main__":
    main()
