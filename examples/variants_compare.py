r"""The LSTM/GRU variants side by side on the adding problem (T=100) and a character LM.

Every variant gets the same data, seed, optimiser and number of steps (or the time
budget, whichever ends first), so the curves differ only by the variant:

* ``lstm``: PyTorch's LSTM (fast kernels);
* ``lstm forget_bias=1``: the same with every forget-gate bias set to 1;
* ``lstm chrono``: chrono initialisation, :math:`b_f = \log u,\ u \sim U[1, T_{max}-1]`;
* ``lstm peephole`` / ``lstm layer_norm``: the peephole and layer-normalised LSTMs
  (reference loop);
* ``lstm variational``: time-locked dropout on inputs and hidden state (char LM only;
  reference loop);
* ``gru`` and ``gru chrono``.

The adding problem: a Linear head reads the last hidden state; mean squared error,
Adam; the test MSE on 1000 fresh sequences is reported (answering 1 always gives
1/6).  The char LM: :class:`numrnn.models.CharLM` with the variant as its recurrent
layer, chunked truncated BPTT; the validation loss (nats per character) is reported.

Writes ``variants_adding.png``, ``variants_charlm.png`` and ``variants.json`` to
``--out`` (``--copy-figures DIR`` also copies the figures there).  Each run is short
(``--steps`` and ``--seconds`` bound it): these are first minutes of training, not
converged models, and times depend on how busy the machine is.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from _cli import (
    add_study_options,
    apply_dry_run,
    copy_figures,
    integer_at_least,
    positive_float,
    positive_int,
    write_figure,
    write_json,
)

import numrnn
from numrnn.data import CharVocab, load_text, sequential_partition
from numrnn.models import CharLM
from numrnn.nn.init import chrono_init
from numrnn.reference import lstm_cell
from numrnn.study.plotting import moving_average, pyplot
from numrnn.study.tasks import ADDING_BASELINE_MSE, adding_problem
from numrnn.train import evaluate_lm, update
from numrnn.train.tbptt import chunked_bptt, tbptt

ADDING = ["lstm", "lstm forget_bias=1", "lstm chrono", "lstm peephole", "lstm layer_norm",
          "gru", "gru chrono"]  # fmt: skip
CHARLM = ADDING + ["lstm variational"]


DRY_RUN = dict(
    steps=3, lm_steps=3, adding_T=12, hidden_size=8, lm_hidden_size=16, seq_len=8, batch_size=4
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--task", default="both", choices=["adding", "charlm", "both", "cost", "truncation"]
    )
    p.add_argument("--steps", type=positive_int, default=1000, help="steps per adding run")
    p.add_argument("--lm-steps", type=positive_int, default=400, help="steps per char LM run")
    p.add_argument("--lr", type=positive_float, default=1e-2, help="Adam, adding problem")
    p.add_argument("--lm-lr", type=positive_float, default=3e-3, help="Adam, char LM")
    p.add_argument("--seconds", type=positive_float, default=120.0, help="time budget per run")
    p.add_argument("--adding-T", type=integer_at_least(2), default=100)
    p.add_argument("--hidden-size", type=positive_int, default=32, help="adding problem")
    p.add_argument("--lm-hidden-size", type=positive_int, default=128)
    p.add_argument("--seq-len", type=integer_at_least(2), default=64, help="char LM chunk length")
    p.add_argument("--batch-size", type=positive_int, default=32)
    add_study_options(p, "runs/variants", "the figures and the results")
    args = p.parse_args(argv)
    if args.dry_run:
        apply_dry_run(p, args, argv, DRY_RUN)
    return args


def make_layer(name, input_size, hidden_size, T_max, seed):
    """The recurrent layer of a variant, float32 like the examples' models."""
    kw = dict(dtype=np.float32, seed=seed)
    if name.startswith("gru"):
        layer = numrnn.GRU(input_size, hidden_size, **kw)
    elif name == "lstm forget_bias=1":
        layer = numrnn.LSTM(input_size, hidden_size, forget_bias=1.0, **kw)
    elif name in ("lstm peephole", "lstm layer_norm"):
        flag = name.split()[1]
        layer = numrnn.LSTM(input_size, hidden_size, **{flag: True}, **kw)
    elif name == "lstm variational":
        layer = numrnn.nn.VariationalRecurrent(
            lstm_cell, input_size, hidden_size, input_dropout=0.1, hidden_dropout=0.25, **kw
        )
    else:
        layer = numrnn.LSTM(input_size, hidden_size, **kw)
    if name.endswith("chrono"):
        chrono_init(layer, T_max, rng=seed)
    return layer


class LastStep(numrnn.Module):
    """Recurrent layer, then a Linear head on the last hidden state: ``(T, B, D) -> (B,)``."""

    def __init__(self, layer, hidden_size, seed):
        super().__init__()
        self.rnn = layer
        self.head = numrnn.Linear(hidden_size, 1, seed=seed)

    def forward(self, x):
        out, _ = self.rnn(x)  # (T, B, H)
        self._shape = out.shape
        return self.head(out[-1])[:, 0]  # (B,)

    def backward(self, dy):
        dout = np.zeros(self._shape, dtype=dy.dtype)
        dout[-1] = self.head.backward(dy[:, None])  # the loss sees the last step only
        self.rnn.backward(dout)


def run_adding(args, name):
    T = args.adding_T
    model = LastStep(make_layer(name, 2, args.hidden_size, T, args.seed), args.hidden_size, 1)
    opt = numrnn.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    x_test, y_test = adding_problem(1000, T, rng=12345, dtype=np.float32)
    losses, start = [], time.perf_counter()
    while len(losses) < args.steps and time.perf_counter() - start < args.seconds:
        x, y = adding_problem(args.batch_size, T, rng=rng, dtype=np.float32)
        err = model(x) - y
        losses.append(float(np.mean(err**2)))
        model.backward(2 * err / err.size)
        update(model, opt, clip_norm=1.0)
    seconds = time.perf_counter() - start
    model.eval()
    with numrnn.no_grad():
        test_mse = float(np.mean((model(x_test) - y_test) ** 2))
    return {"losses": losses, "steps": len(losses), "seconds": seconds, "test_mse": test_mse}


def run_charlm(args, name, vocab, train_ids, val_ids):
    model = CharLM(len(vocab), 32, args.lm_hidden_size, seed=args.seed)
    model.rnn = make_layer(name, 32, args.lm_hidden_size, args.seq_len, args.seed)
    opt = numrnn.optim.Adam(model.parameters(), lr=args.lm_lr)
    rng = np.random.default_rng(args.seed)
    losses, state, start = [], None, time.perf_counter()
    while len(losses) < args.lm_steps and time.perf_counter() - start < args.seconds:
        for X, Y in sequential_partition(train_ids, args.batch_size, args.seq_len, rng=rng):
            logits, state = model(X, state)
            loss, dlogits = numrnn.functional.cross_entropy(logits, Y)
            model.backward(dlogits)
            update(model, opt, clip_norm=5.0)
            losses.append(float(loss))
            if len(losses) >= args.lm_steps or time.perf_counter() - start >= args.seconds:
                break
    seconds = time.perf_counter() - start
    val_loss, _ = evaluate_lm(model, sequential_partition(val_ids, 16, args.seq_len))
    return {"losses": losses, "steps": len(losses), "seconds": seconds, "val_loss": val_loss}


TRUNCATION = {"chunked k=64": (64, 64), "TBPTT(32, 64)": (32, 64), "TBPTT(16, 64)": (16, 64)}


def run_truncation(args, name, vocab, train_ids, val_ids):
    """The plain LSTM char LM trained by one truncated-BPTT form, on the same characters.

    Every form reads the same ``lm_steps * seq_len`` characters per stream, so the forms
    with ``k1 < k2`` make more (and dearer) updates: ``k2 / k1`` forwards per character.
    """
    k1, k2 = TRUNCATION[name]
    model = CharLM(len(vocab), 32, args.lm_hidden_size, seed=args.seed)
    opt = numrnn.optim.Adam(model.parameters(), lr=args.lm_lr)
    L = args.lm_steps * args.seq_len  # characters per stream
    ids = np.asarray(train_ids[: args.batch_size * L + 1])
    X = ids[:-1].reshape(args.batch_size, L).T  # (L, B): stream b is a contiguous stretch
    Y = ids[1:].reshape(args.batch_size, L).T
    forms = {"chunked": chunked_bptt(model, X, Y, k1), "tbptt": tbptt(model, X, Y, k1, k2)}
    losses, start = [], time.perf_counter()
    for loss, _ in forms["chunked" if k1 == k2 else "tbptt"]:
        update(model, opt, clip_norm=5.0)
        losses.append(float(loss))
        if time.perf_counter() - start >= args.seconds:
            break
    seconds = time.perf_counter() - start
    val_loss, _ = evaluate_lm(model, sequential_partition(val_ids, 16, args.seq_len))
    chars = len(losses) * k1
    return {"losses": losses, "steps": len(losses), "chars": chars, "seconds": seconds,
            "val_loss": val_loss}  # fmt: skip


def time_step(layer, T, B, D, repeats):
    """Median seconds of one forward and backward of ``layer`` on a ``(T, B, D)`` batch."""
    x = np.random.default_rng(0).standard_normal((T, B, D)).astype(np.float32)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out, _ = layer(x)
        layer.backward(np.ones_like(out))
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def cost(args):
    """Forward + backward time of each variant against the fast LSTM, at the two sizes."""
    sizes = {"adding": (args.adding_T, args.batch_size, 2, args.hidden_size),
             "charlm": (args.seq_len, args.batch_size, 32, args.lm_hidden_size)}  # fmt: skip
    names = ["lstm", "lstm peephole", "lstm layer_norm", "lstm variational", "gru"]
    rows = {}
    for size, (T, B, D, H) in sizes.items():
        layers = {n: make_layer(n, D, H, T, args.seed) for n in names}
        layers["Recurrent(lstm_cell)"] = numrnn.nn.Recurrent(lstm_cell, D, H, seed=args.seed)
        base = None
        for name, layer in layers.items():
            t = time_step(layer, T, B, D, 3 if args.dry_run else 7)
            base = t if base is None else base
            rows.setdefault(name, {})[size] = {"seconds": t, "vs_lstm": t / base}
            print(f"cost  {size:6s} (T={T}, B={B}, D={D}, H={H})  {name:22s} "
                  f"{1e3 * t:8.1f} ms  x{t / base:.1f}")  # fmt: skip
    return rows


def run_variants(label, names, run, args, *data):
    """``{name: run(args, name, *data)}`` for every variant in ``names``, in order.

    A line per variant is printed as its run ends, ``label`` first: the steps (the
    updates, for a truncation form) and seconds it took and its score.
    """
    results = {}
    for name in names:
        r = results[name] = run(args, name, *data)
        steps = "updates" if "chars" in r else "steps"
        if "test_mse" in r:
            score = f"test MSE {r['test_mse']:.4f}  (baseline {ADDING_BASELINE_MSE:.4f})"
        else:
            score = f"val loss {r['val_loss']:.4f} nats/char"
        print(f"{label:8s}{name:20s} {steps} {r['steps']:4d}  {r['seconds']:6.1f} s  {score}")
    return results


def plot(results, metric, title, path, log=False):
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, r in results.items():
        x, y = moving_average(r["losses"], max(1, len(r["losses"]) // 40))
        if "chars" in r:  # truncation forms: updates of k1 characters each
            x = x * (r["chars"] / r["steps"])
        ax.plot(x, y, label=f"{name} ({metric}: {r[metric]:.4f})", lw=1.3,
                ls="--" if name.startswith("gru") else "-")  # fmt: skip
    if log:
        ax.set_yscale("log")
    chars = any("chars" in r for r in results.values())
    ax.set_xlabel("characters read per stream" if chars else "optimiser step")
    ax.set_ylabel("training loss (moving average)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    write_figure(fig, path, dpi=120, note=None)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    results, figures = {}, []
    if args.task == "cost":
        return cost(args)
    if args.task in ("adding", "both"):
        results["adding"] = run_variants("adding", ADDING, run_adding, args)
        figures.append(os.path.join(args.out, "variants_adding.png"))
        plot(results["adding"], "test_mse", f"adding problem, T={args.adding_T}", figures[-1], True)
    if args.task in ("charlm", "both", "truncation"):
        text = load_text("shakespeare")[: 20_000 if args.dry_run else 1_100_000]
        split = int(len(text) * 0.95)
        vocab = CharVocab.build(text)
        train_ids, val_ids = vocab.encode(text[:split]), vocab.encode(text[split:][:50_001])
    if args.task == "truncation":
        results["truncation"] = run_variants(
            "trunc", TRUNCATION, run_truncation, args, vocab, train_ids, val_ids
        )
        figures.append(os.path.join(args.out, "variants_truncation.png"))
        plot(results["truncation"], "val_loss", "character LM: truncated BPTT", figures[-1])
    if args.task in ("charlm", "both"):
        results["charlm"] = run_variants(
            "charlm", CHARLM, run_charlm, args, vocab, train_ids, val_ids
        )
        figures.append(os.path.join(args.out, "variants_charlm.png"))
        plot(results["charlm"], "val_loss", "character LM", figures[-1])
    summary = {
        task: {n: {k: v for k, v in r.items() if k != "losses"} for n, r in runs.items()}
        for task, runs in results.items()
    }
    write_json(
        os.path.join(args.out, "variants.json"),
        {"args": vars(args), "results": summary, "curves": results},
        indent=None,
    )
    copy_figures(figures, args.copy_figures)
    return summary


if __name__ == "__main__":
    main()
