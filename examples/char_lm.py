"""Character-level language model on Shakespeare, trained with truncated BPTT by hand.

    python examples/char_lm.py                      # LSTM, 5 minutes of training
    python examples/char_lm.py --cell gru --minutes 2
    python examples/char_lm.py --compare            # RNN, GRU, LSTM, 2-layer LSTM, same time each
    python examples/char_lm.py --text my.txt --sample 500 --temperature 0.7 --prime "ROMEO:"
    python examples/char_lm.py --resume runs/char_lm/checkpoint.npz --minutes 1
    python examples/char_lm.py generate --checkpoint runs/char_lm/checkpoint.npz --prime "JULIET:"
    torchrun --standalone --nproc_per_node 2 examples/char_lm.py --distributed

The text is split into a training part and a held-out part (the last
``--val-fraction`` of the corpus, i.e. plays the model never trains on).  Training
runs over ``--batch-size`` parallel streams of the training text, ``--seq-len``
characters at a time, carrying the hidden state from chunk to chunk; the
validation perplexity is measured every ``--eval-every`` steps and at the end.
Figures go to ``--out``: the training loss and the validation perplexity.  The
checkpoint ``OUT/checkpoint.npz`` (model, optimiser, generators, vocabulary and model
configuration) is replaced only by a run with more training steps, unless
``--overwrite`` is given; ``generate`` samples from it without training.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import time

import numpy as np
from _cli import (
    apply_dry_run,
    command_parser,
    example_metadata,
    existing_file,
    existing_steps,
    may_replace,
    nonnegative_int,
    open_fraction,
    output_folder,
    positive_float,
    positive_int,
    rate,
    run_example,
    usage_error,
    utf8_text_file,
    write_figure,
    write_json,
)

import numrnn
from numrnn import distributed
from numrnn.data import CharVocab, load_text, sequential_partition
from numrnn.distributed import DataParallel
from numrnn.models import CharLM
from numrnn.study.plotting import moving_average, pyplot
from numrnn.train import evaluate_lm, progress, tbptt_train

PROG = "char_lm.py"
VAL_STREAMS = 16  # parallel streams of the held-out text in each evaluation
# what --dry-run sets, unless the option is given explicitly
DRY_RUN = dict(
    minutes=0.05,
    hidden_size=32,
    embed_size=16,
    seq_len=16,
    batch_size=8,
    eval_every=20,
    val_chars=2000,
    sample=40,
    epochs=1,
)


def build_parser():
    p = command_parser(PROG, __doc__, "generate --checkpoint PATH [options]")
    p.add_argument("--text", type=utf8_text_file, help="train on this UTF-8 file, not Shakespeare")
    p.add_argument("--cell", default="lstm", choices=["rnn", "lstm", "gru"])
    p.add_argument("--num-layers", type=positive_int, default=1)
    p.add_argument("--embed-size", type=positive_int, default=64)
    p.add_argument("--hidden-size", type=positive_int, default=256)
    p.add_argument("--dropout", type=rate, default=0.0, help="between recurrent layers")
    p.add_argument("--seq-len", type=positive_int, default=64, help="truncation length of BPTT")
    p.add_argument("--batch-size", type=positive_int, default=32, help="parallel streams")
    p.add_argument("--lr", type=positive_float, default=3e-3)
    p.add_argument("--clip", type=positive_float, default=5.0, help="max global gradient norm")
    p.add_argument("--minutes", type=positive_float, default=5.0, help="training time budget")
    p.add_argument(
        "--epochs", type=positive_int, default=100, help="at most this many passes over the text"
    )
    p.add_argument(
        "--eval-every", type=positive_int, default=400, help="steps between validation runs"
    )
    p.add_argument("--val-fraction", type=open_fraction, default=0.05)
    p.add_argument(
        "--val-chars", type=positive_int, default=100_000, help="held-out characters per evaluation"
    )
    p.add_argument(
        "--sample", type=nonnegative_int, default=400, help="characters to generate after training"
    )
    p.add_argument("--temperature", type=positive_float, default=0.8)
    p.add_argument(
        "--prime",
        default=None,
        help="text the sample starts from (default: 'ROMEO:\\n' for Shakespeare, "
        "the first character of --text otherwise)",
    )
    p.add_argument("--compare", action="store_true", help="train RNN, GRU, LSTM and 2-layer LSTM")
    p.add_argument("--resume", type=existing_file, help="continue from this checkpoint")
    p.add_argument(
        "--out",
        type=output_folder,
        default="runs/char_lm",
        help="folder for figures and the checkpoint",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a checkpoint in --out even if it holds more training steps",
    )
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--dry-run", action="store_true", help="a few seconds end to end (tests)")
    p.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel over the processes torchrun starts; --batch-size is the global batch",
    )
    p.add_argument(
        "--dist-timeout",
        type=positive_float,
        default=300.0,
        help="seconds a process waits for the others before it fails (--distributed)",
    )
    return p


def parse_args(argv=None):
    p = build_parser()
    args = p.parse_args(argv)
    if args.dry_run:
        apply_dry_run(p, args, argv, DRY_RUN)
    if args.resume and args.compare:
        p.error("argument --resume: continues one model; it cannot be combined with --compare")
    if args.sample > 0 and args.prime == "":
        p.error("argument --prime: needs at least one character when --sample > 0")
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
        usage_error(PROG, f"the text has {len(text)} characters; at least 1000 are needed")
    split = int(len(text) * (1 - args.val_fraction))
    return text, text[:split], text[split:]


def check_sizes(args, n_train, n_val):
    """Stop with a usage error when the text is too short for one batch of the given sizes."""
    need = args.batch_size * args.seq_len + args.seq_len  # the offset of a pass is < seq_len
    if n_train < need:
        usage_error(
            PROG,
            f"--batch-size {args.batch_size} x --seq-len {args.seq_len} needs at least {need:,} "
            f"training characters; the text has {n_train:,} (a smaller --batch-size or --seq-len, "
            "or a longer --text)",
        )
    need = VAL_STREAMS * args.seq_len + 1
    have = min(n_val, args.val_chars + 1)
    if have < need:
        usage_error(
            PROG,
            f"an evaluation with --seq-len {args.seq_len} needs {need:,} held-out characters; "
            f"--val-fraction {args.val_fraction} and --val-chars {args.val_chars} give {have:,}",
        )


def check_prime(prime, vocab, prog=PROG):
    """Stop with a usage error naming the characters of ``prime`` that ``vocab`` lacks."""
    unknown = sorted({c for c in prime if c not in vocab.stoi})
    if unknown:
        usage_error(
            prog,
            "argument --prime: characters not in the model's vocabulary: "
            + ", ".join(repr(c) for c in unknown),
        )


def model_config(args, cell, num_layers, vocab):
    """The keyword arguments of :class:`CharLM` (saved in the checkpoint for ``generate``)."""
    return {
        "vocab_size": len(vocab),
        "embed_size": args.embed_size,
        "hidden_size": args.hidden_size,
        "num_layers": num_layers,
        "cell": cell,
        "dropout": args.dropout if num_layers > 1 else 0.0,
    }


def check_resume(args, vocab):
    """Stop with a usage error unless ``--resume`` names a char_lm.py checkpoint of this
    text's vocabulary and of the model the options describe."""
    meta = example_metadata(args.resume, "char_lm", "CharLM", PROG, "--resume")
    if meta.get("vocab") != list(vocab.itos):
        usage_error(PROG, f"argument --resume: {args.resume} was trained on another text")
    saved = meta.get("model_config", {})
    planned = model_config(args, args.cell, args.num_layers, vocab)
    differ = [
        f"{k} {saved[k]!r} (options: {planned[k]!r})"
        for k in planned
        if k in saved and saved[k] != planned[k]
    ]
    if differ:
        usage_error(
            PROG,
            f"argument --resume: {args.resume} holds another model: "
            + ", ".join(differ)
            + "; give the options it was trained with",
        )


def checkpoint_path(args, name):
    return os.path.join(args.out, "checkpoint.npz" if name == "main" else f"checkpoint_{name}.npz")


def train_one(args, name, cell, num_layers, vocab, train_ids, val_ids, seconds, old_steps):
    """Train one model for ``seconds``; return a result row, the model and its history.

    The checkpoint is written only when :func:`_cli.may_replace` allows it
    (``old_steps``: the steps of the checkpoint already there); ``row["saved"]`` says.
    """
    rng = np.random.default_rng(args.seed)
    config = model_config(args, cell, num_layers, vocab)
    model = CharLM(**config, seed=args.seed)
    opt = numrnn.optim.Adam(model.parameters(), lr=args.lr)
    step, history = 0, {"step": [], "loss": [], "grad_norm": [], "val_step": [], "val_ppl": []}
    ckpt = checkpoint_path(args, name)
    resume = args.resume if name == "main" else None
    if resume:
        meta = numrnn.load(resume, model, opt, rng=rng)  # checked by check_resume
        step, history = int(meta["step"]), meta["history"]
        history.setdefault("grad_norm", [])  # checkpoints written before it was logged
        print(f"resumed from {resume} at step {step}")
    first_step = step
    dp = DataParallel(model) if args.distributed else None  # rank 0's parameters to every rank
    is_main = dp is None or dp.is_main
    val_stream = sequential_partition(val_ids[: args.val_chars + 1], 16, args.seq_len)
    state, spent, epoch, running = None, 0.0, 0, None
    bar = progress(
        total=None, desc=f"{name} ({cell} x{num_layers})", unit="step", disable=not is_main
    )

    def on_step(_, loss, grad_norm):
        nonlocal step, running
        out_of_time = False
        if dp is not None:  # the mean loss of all shards; stop together when one runs out of time
            loss, out_of_time = dp.agree(loss, time.perf_counter() - t0 >= seconds - spent)
        step += 1
        running = loss if running is None else 0.98 * running + 0.02 * loss
        history["step"].append(step)
        history["loss"].append(loss)
        history["grad_norm"].append(grad_norm)  # this process's norm, before clipping
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
    saved = may_replace(ckpt, old_steps, step, PROG, taken=step - first_step)
    if saved:
        numrnn.save(
            ckpt,
            model,
            opt,
            rng=rng,
            example="char_lm",
            step=step,
            history=history,
            vocab=list(vocab.itos),
            model_config=config,
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
        "saved": saved,
    }
    return row, model, history


def plot(histories, path):
    plt = pyplot()
    if plt is None:
        return
    fig, (a, g, b) = plt.subplots(1, 3, figsize=(16, 4))
    for name, h in histories.items():
        a.plot(*moving_average(h["loss"]), label=name)
        norms = h.get("grad_norm", [])  # logged since a resumed run's checkpoint, maybe not all
        g.plot(h["step"][len(h["step"]) - len(norms) :], norms, lw=0.8, label=name)
        b.plot(h["val_step"], h["val_ppl"], marker="o", label=name)
    a.set(xlabel="step", ylabel="training loss (nats/char)", title="training loss")
    g.set(xlabel="step", ylabel="global norm (before clipping)", title="gradient norm")
    g.set(yscale="log")
    b.set(xlabel="step", ylabel="perplexity", title="validation perplexity", yscale="log")
    for ax in (a, g, b):
        ax.grid(alpha=0.3)
        ax.legend()
    write_figure(fig, path)


def generate_text(model, vocab, prime, length, temperature, top_k=None, seed=0, stream=None):
    """``prime`` followed by ``length`` sampled characters; each is also written to
    ``stream`` (a text file, e.g. a terminal) as soon as it is drawn, when given."""
    if stream is not None:
        stream.write(prime)
        stream.flush()

    def show(i):
        stream.write(vocab.itos[i])
        stream.flush()

    ids = model.sample(
        length,
        vocab.encode(prime).tolist(),
        temperature=temperature,
        top_k=top_k,
        rng=np.random.default_rng(seed),
        on_token=show if stream is not None else None,
    )
    if stream is not None:
        stream.write("\n")
    return prime + vocab.decode(ids)


def main(argv=None):
    args = parse_args(argv)
    rank = start_distributed(args) if args.distributed else 0
    text, train_text, val_text = load_corpus(args)
    vocab = CharVocab.build(text, pad_token=None, unk_token=None)
    train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
    check_sizes(args, len(train_ids), len(val_ids))
    if args.prime is None:
        args.prime = text[0] if args.text else "ROMEO:\n"
    if args.sample > 0 and not args.compare:
        check_prime(args.prime, vocab)
    print(
        f"corpus: {len(text):,} characters, vocabulary {len(vocab)}, "
        f"train {len(train_ids):,}, held out {len(val_ids):,}"
    )
    seconds = args.minutes * 60
    if args.compare:
        configs = [("rnn", "rnn", 1), ("gru", "gru", 1), ("lstm", "lstm", 1), ("lstm-2", "lstm", 2)]
    else:
        configs = [("main", args.cell, args.num_layers)]
    if args.resume and not args.compare:
        check_resume(args, vocab)
    # every checkpoint this run may replace is looked at before any training
    old = {
        name: existing_steps(checkpoint_path(args, name), PROG, args.overwrite)
        for name, _, _ in configs
    }
    os.makedirs(args.out, exist_ok=True)
    rows, histories, model = [], {}, None
    for name, cell, layers in configs:
        row, model, hist = train_one(
            args, name, cell, layers, vocab, train_ids, val_ids, seconds, old[name]
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
    write_json(os.path.join(args.out, "results.json"), rows)
    if args.sample > 0 and not args.compare:
        print(f"\n--- sample (temperature {args.temperature}) ---")
        stream = sys.stdout if sys.stdout.isatty() else None
        sample = generate_text(
            model, vocab, args.prime, args.sample, args.temperature, seed=args.seed, stream=stream
        )
        if stream is None:
            print(sample)
    if not all(r["saved"] for r in rows):
        raise SystemExit(1)
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
        usage_error(PROG, f"argument --distributed: {err}")
    atexit.register(distributed.shutdown)
    if args.batch_size % world:
        usage_error(
            PROG,
            f"argument --batch-size: {args.batch_size} must be a multiple of the number of "
            f"processes ({world}) with --distributed",
        )
    distributed.quiet_unless_main(rank)
    print(f"data parallel: {world} processes, {args.batch_size // world} streams each")
    return rank


# -- generate: sample from a saved checkpoint ---------------------------------------------


def parse_generate_args(argv):
    p = argparse.ArgumentParser(
        prog=f"{PROG} generate",
        description="Generate text from a checkpoint written by char_lm.py (no training).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--checkpoint",
        required=True,
        type=existing_file,
        metavar="PATH",
        help="written by a char_lm.py training run (OUT/checkpoint.npz)",
    )
    p.add_argument(
        "--prime",
        default=None,
        help="text to start from (default: the --prime of the training run)",
    )
    p.add_argument("--length", type=positive_int, default=400, help="characters to generate")
    p.add_argument("--temperature", type=positive_float, default=0.8)
    p.add_argument(
        "--top-k", type=positive_int, default=None, help="draw from the K most likely characters"
    )
    p.add_argument("--seed", type=nonnegative_int, default=0)
    return p.parse_args(argv)


def load_char_lm(path, prog=f"{PROG} generate"):
    """``(model, vocab, metadata)`` from a char_lm.py checkpoint.

    A file that is not a numrnn checkpoint, or the checkpoint of another example, stops
    the command with a usage error naming ``--checkpoint`` and what the file is.
    """
    meta = example_metadata(path, "char_lm", "CharLM", prog, "--checkpoint")
    if "model_config" not in meta:
        usage_error(
            prog,
            f"argument --checkpoint: {path} was written by an older char_lm.py that did not "
            "record the model's configuration; train it again to generate from it",
        )
    vocab = CharVocab(meta["vocab"], pad_token=None, unk_token=None)
    model = CharLM(**meta["model_config"])
    numrnn.load(path, model)
    return model, vocab, meta


def generate(argv):
    args = parse_generate_args(argv)
    model, vocab, meta = load_char_lm(args.checkpoint)
    prime = args.prime if args.prime is not None else meta.get("args", {}).get("prime", "")
    if not prime:
        usage_error(f"{PROG} generate", "argument --prime: needs at least one character")
    check_prime(prime, vocab, f"{PROG} generate")
    if args.top_k is not None and args.top_k > len(vocab):
        usage_error(
            f"{PROG} generate",
            f"argument --top-k: the vocabulary has {len(vocab)} characters; got {args.top_k}",
        )
    stream = sys.stdout if sys.stdout.isatty() else None
    text = generate_text(
        model, vocab, prime, args.length, args.temperature, args.top_k, args.seed, stream
    )
    if stream is None:
        print(text)
    return text


if __name__ == "__main__":
    run_example(main, "generate", generate)
