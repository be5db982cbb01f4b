"""Which language is a surname from?  A character-level RNN, LSTM and GRU, trained by hand.

    python examples/names.py                       # RNN, LSTM and GRU, same number of epochs each
    python examples/names.py --cells gru --epochs 20
    python examples/names.py --seconds 60          # same wall-clock budget per model instead
    python examples/names.py --class-weights balanced
    python examples/names.py predict Nguyen Schmidt Dvorak Papadopoulos

This is the task of PyTorch's tutorial "Classifying names with a character-level
RNN", rebuilt from the name lists in the faker and mimesis packages
(numrnn.data.load_names).  There are 17 languages: Arabic, Chinese, Czech, Dutch,
English, French, German, Greek, Irish, Italian, Japanese, Korean, Polish,
Portuguese, Russian, Spanish, Vietnamese.  The tutorial's Scottish class is absent:
no installed package has a Scottish name list.  Names that the lists give to more
than one language are dropped (--duplicates).

A stratified, seeded 10% of the names is held out and used once, for the final
table; a further 10% of the rest is a validation set that picks each model's
best epoch.  Every model gets the same budget: --epochs passes over the training
names (or --seconds of training time each).  The classes are very unbalanced
(Dutch about 26% of the names, Vietnamese under 0.1%), so the table also gives the
balanced accuracy (mean per-class recall) and the majority-class baseline.
By default the loss is unweighted (--class-weights none): that maximises plain
accuracy; "balanced" weights each class by N / (C n_c), trading some accuracy for
recall on the rare languages (with weights, the best epoch and the best model
are chosen by validation balanced accuracy instead of accuracy).

Figures go to --out: the training loss and validation accuracy of every model,
and the confusion matrix of the best one on the held-out names.  The best model
is saved as OUT/names_best.npz (numrnn.io: weights, optimiser state, and its
configuration, vocabulary and class names as metadata), which `predict` reads;
`predict` without a checkpoint trains first (the default run) and then answers.
A checkpoint already in --out is replaced only by a run with more training steps
(--overwrite replaces it anyway).
"""

from __future__ import annotations

import argparse
import os

# The matrix products here are small (a batch of 32-64 rows): one BLAS thread runs
# them fastest, and many times faster than several threads when the cores are busy.
# Set OPENBLAS_NUM_THREADS (or OMP_/MKL_NUM_THREADS) yourself to override.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import _classify  # noqa: E402
import numpy as np  # noqa: E402  (after the thread settings, which numpy reads at import)
from _cli import (  # noqa: E402
    HelpFormatter,
    add_run_options,
    apply_dry_run,
    command_parser,
    existing_steps,
    output_folder,
    positive_float,
    positive_int,
    run_example,
    write_figure,
    write_json,
)

import numrnn  # noqa: E402
from numrnn.data import CharVocab, load_names  # noqa: E402
from numrnn.metrics import normalize_rows  # noqa: E402
from numrnn.models import SequenceClassifier  # noqa: E402
from numrnn.study.plotting import pyplot  # noqa: E402
from numrnn.train import (  # noqa: E402
    EpochOptions,
    class_weights,
    evaluate,
    predict_proba,
    train_classifier,
)

CELLS = ("rnn", "lstm", "gru")
CHECKPOINT = "names_best.npz"
# what --dry-run sets, unless the option is given explicitly
DRY_RUN = dict(epochs=1, hidden_size=16, embed_size=8, seconds=None)


def parse_args(argv=None):
    p = command_parser(
        "names.py", __doc__, "predict NAME [NAME ...] [--top K] [--out DIR]", epilog=True
    )
    p.add_argument(
        "--cells", default="rnn,lstm,gru", help="comma-separated cells to train, of rnn, lstm, gru"
    )
    p.add_argument("--embed-size", type=positive_int, default=32, help="character embedding size")
    p.add_argument("--hidden-size", type=positive_int, default=128, help="recurrent state size")
    p.add_argument("--num-layers", type=positive_int, default=1, help="stacked recurrent layers")
    p.add_argument("--bidirectional", action="store_true", help="read names in both directions")
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        help="passes over the training names, per model (10 if not given; with --seconds, "
        "the most passes within that time, unlimited if not given)",
    )
    p.add_argument(
        "--seconds",
        type=positive_float,
        default=None,
        help="instead of a fixed number of epochs: this many seconds of training per model",
    )
    p.add_argument(
        "--batch-size", type=positive_int, default=64, help="names per step (bucketed by length)"
    )
    p.add_argument(
        "--lr",
        type=positive_float,
        default=3e-3,
        help="Adam's learning rate (cosine-annealed to 0)",
    )
    p.add_argument("--clip", type=positive_float, default=5.0, help="max global gradient norm")
    p.add_argument(
        "--class-weights",
        default="none",
        choices=["none", "sqrt", "balanced"],
        help="loss weights per class: none, (N/(C n_c))^0.5, or N/(C n_c)",
    )
    p.add_argument(
        "--duplicates",
        default="drop",
        choices=["drop", "majority", "keep"],
        help="names listed under several languages (see numrnn.data.load_names)",
    )
    _classify.add_split_options(p, "the final table", "to pick the best epoch")
    add_run_options(
        p, "runs/names", "figures, results and the checkpoint", quiet="no progress bars"
    )
    args = p.parse_args(argv)
    args.cells = [c.strip().lower() for c in args.cells.split(",") if c.strip()]
    bad = [c for c in args.cells if c not in CELLS]
    if bad or not args.cells:
        p.error(f"--cells: choose from {', '.join(CELLS)}; got {args.cells}")
    if args.dry_run:
        apply_dry_run(p, args, argv, DRY_RUN)
    return args


def parse_predict_args(argv):
    p = argparse.ArgumentParser(
        prog="names.py predict",
        description="Top languages of each NAME from the saved best model "
        "(trains first, with the default settings, if there is none).",
        formatter_class=HelpFormatter,
    )
    p.add_argument("names", nargs="+", metavar="NAME")
    p.add_argument("--top", type=positive_int, default=3, help="how many languages to show")
    p.add_argument(
        "--out", type=output_folder, default="runs/names", help="folder holding names_best.npz"
    )
    return p.parse_args(argv)


# ---------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------
def load_data(args):
    pairs, classes = load_names(duplicates=args.duplicates)
    if args.dry_run:  # every 12th name: about 3,000, every class still present
        pairs = pairs[::12]
    names = [n for n, _ in pairs]
    labels = np.array([y for _, y in pairs], dtype=np.int64)
    train, val, test = _classify.stratified_split(
        labels, args.held_out, args.val_fraction, args.seed
    )
    # The characters come from the training names only; others map to <unk>.
    vocab = CharVocab.build([names[i] for i in train])
    ids = [vocab.encode(n) for n in names]
    return (classes, vocab, *_classify.subsets(ids, labels, train, val, test))


# ---------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------
def model_config(args, cell, vocab, num_classes):
    return {
        "vocab_size": len(vocab),
        "num_classes": num_classes,
        "embed_size": args.embed_size,
        "hidden_size": args.hidden_size,
        "num_layers": args.num_layers,
        "cell": cell,
        "bidirectional": bool(args.bidirectional),
        "padding_idx": vocab.pad_id,
    }


def train_one(args, cell, vocab, classes, train, val, weight):
    cfg = model_config(args, cell, vocab, len(classes))
    model = SequenceClassifier(**cfg, seed=args.seed)
    opt = numrnn.optim.Adam(model.parameters(), lr=args.lr)
    epochs = args.epochs or (10 if args.seconds is None else 10_000)
    sched = (
        numrnn.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        if args.seconds is None
        else None
    )
    hist = train_classifier(
        model,
        opt,
        train,
        val,
        EpochOptions(
            batch_size=args.batch_size, clip_norm=args.clip, weight=weight, pad_id=vocab.pad_id
        ),
        epochs=epochs,
        rng=args.seed,
        scheduler=sched,
        monitor="accuracy" if weight is None else "balanced_accuracy",
        time_budget=args.seconds,
        desc=cell,
        show_progress=not args.quiet,
    )
    return model, opt, cfg, hist


# ---------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------
def plot_curves(histories, path):
    figure = _classify.curves_figure()
    if figure is None:
        return
    fig, (a, g, b) = figure
    for name, h in histories.items():
        _classify.plot_steps(a, g, h, name, name)
        b.plot(h["epoch"], h["val_accuracy"], marker="o", label=f"{name} accuracy")
        b.plot(
            h["epoch"], h["val_balanced_accuracy"], marker=".", ls="--", label=f"{name} balanced"
        )
    _classify.write_curves(fig, (a, g, b), "training loss", "validation", path)


def plot_confusion(cm, classes, title, path):
    plt = pyplot()
    if plt is None:
        return
    frac = normalize_rows(cm)
    C = len(classes)
    fig, ax = plt.subplots(figsize=(9, 8))
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(C):
        for j in range(C):
            if frac[i, j] >= 0.005:
                ax.text(
                    j,
                    i,
                    f"{frac[i, j]:.2f}".lstrip("0"),
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if frac[i, j] > 0.5 else "black",
                )
    counts = cm.sum(axis=1)
    ax.set_xticks(range(C), classes, rotation=90)
    ax.set_yticks(range(C), [f"{c} ({n})" for c, n in zip(classes, counts)])
    ax.set(xlabel="predicted", ylabel="true (held-out count)", title=title)
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of the true class")
    write_figure(fig, path)


# ---------------------------------------------------------------------------------
# checkpoint and prediction
# ---------------------------------------------------------------------------------
def predict(argv):
    args = parse_predict_args(argv)
    model, vocab, classes = _classify.saved_or_trained(
        args.out, CHECKPOINT, "names", CharVocab, "classes", main
    )
    seqs = [vocab.encode(n.strip()) if n.strip() else np.array([vocab.unk_id]) for n in args.names]
    probs = predict_proba(model, seqs)  # (N, C)
    k = max(1, min(args.top, len(classes)))
    for name, p in zip(args.names, probs):
        top = np.argsort(-p)[:k]
        print(f"{name}: " + ", ".join(f"{classes[c]} {p[c]:.1%}" for c in top))
    return probs


# ---------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------
def main(argv=None, return_model=False):
    args = parse_args(argv)
    classes, vocab, train, val, test = load_data(args)
    C = len(classes)
    counts = {
        "train": np.bincount(train[1], minlength=C),
        "val": np.bincount(val[1], minlength=C),
        "held_out": np.bincount(test[1], minlength=C),
    }
    print(
        f"names: {len(train[0]):,} train, {len(val[0]):,} validation, {len(test[0]):,} held out; "
        f"{C} languages; {len(vocab)} characters (incl. <pad>, <unk>)"
    )
    print(
        "per class (train/val/held-out): "
        + ", ".join(
            f"{c} {counts['train'][i]}/{counts['val'][i]}/{counts['held_out'][i]}"
            for i, c in enumerate(classes)
        )
    )
    power = {"none": 0.0, "sqrt": 0.5, "balanced": 1.0}[args.class_weights]
    weight = None if power == 0 else class_weights(train[1], C, power).astype(np.float32)
    if args.seconds is None:
        budget = f"{args.epochs or 10} epochs"
    else:
        budget = f"{args.seconds:g} s of training" + (
            f", at most {args.epochs} epochs" if args.epochs else ""
        )
    print(f"budget per model: {budget}; class weights: {args.class_weights}")
    ckpt = os.path.join(args.out, CHECKPOINT)
    old_steps = existing_steps(ckpt, "names.py", args.overwrite)
    os.makedirs(args.out, exist_ok=True)

    majority = int(np.argmax(counts["train"]))
    base = np.full(len(test[1]), majority)
    base_acc = float(np.mean(test[1] == base))
    rows, histories, best = [], {}, None
    for cell in args.cells:
        model, opt, cfg, hist = train_one(args, cell, vocab, classes, train, val, weight)
        r = evaluate(model, test[0], test[1], num_classes=C, pad_id=vocab.pad_id)
        row = _classify.result_row(cell, model, hist, r, balanced=True)
        rows.append(row)
        histories[cell] = hist
        # The best model is chosen on the validation set, not on the held-out names.
        key = "val_accuracy" if weight is None else "val_balanced_accuracy"
        if best is None or row[key] > best[0][key]:
            best = (row, model, opt, cfg, r)

    print("\n| model | params | epochs (best) | train s | held-out accuracy | balanced accuracy |")
    print("|---|---|---|---|---|---|")
    print(f"| majority class ({classes[majority]}) | 0 | - | - | {base_acc:.3f} | {1 / C:.3f} |")
    for r in rows:
        print(
            f"| {r['model']} | {r['params']:,} | {r['epochs']} ({r['best_epoch']}) | {r['train_seconds']} "
            f"| {r['held_out_accuracy']:.3f} | {r['held_out_balanced_accuracy']:.3f} |"
        )
    row, model, opt, cfg, r = best
    recall = np.diag(normalize_rows(r["confusion"]))
    print(
        f"\nbest on validation: {row['model']}; held-out recall per class: "
        + ", ".join(f"{c} {x:.2f}" for c, x in zip(classes, recall))
    )

    plot_curves(histories, os.path.join(args.out, "names_curves.png"))
    plot_confusion(
        r["confusion"],
        classes,
        f"{row['model']}: held-out accuracy {row['held_out_accuracy']:.3f}, "
        f"balanced {row['held_out_balanced_accuracy']:.3f}",  # the table's (rounded) numbers
        os.path.join(args.out, "names_confusion.png"),
    )
    summary = {
        "best": row["model"],
        "budget": budget,
        "class_weights": args.class_weights,
        "majority_baseline": round(base_acc, 4),
        "rows": rows,
        "class_counts": {
            k: {c: int(v[i]) for i, c in enumerate(classes)} for k, v in counts.items()
        },
        "confusion": r["confusion"].tolist(),
        "classes": list(classes),
        "args": {
            k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool, list))
        },
    }
    write_json(os.path.join(args.out, "results.json"), summary)
    trained = (model, opt, cfg, vocab)
    _classify.save_model(
        ckpt, old_steps, trained, row, not return_model, example="names", classes=list(classes)
    )
    if return_model:
        return model, vocab, classes
    return rows


if __name__ == "__main__":
    run_example(main, "predict", predict)
