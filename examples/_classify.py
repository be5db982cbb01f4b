"""What the two sequence-classification examples (``names.py``, ``sentiment.py``) share.

Both split their labelled sequences the same way (a stratified held-out part touched
once for the final numbers, and a validation part of the rest that picks the epoch),
report a trained model in the same row of numbers, plot the same training curves and
keep their best model in a :func:`numrnn.train.save_classifier` checkpoint, guarded
by :func:`_cli.may_replace`.
"""

from __future__ import annotations

import os

import numpy as np
from _cli import example_metadata, may_replace, open_fraction, write_figure

from numrnn.data import train_val_split
from numrnn.study.plotting import moving_average, pyplot
from numrnn.train import load_classifier, save_classifier

# -- data -----------------------------------------------------------------------------------


def add_split_options(parser, held_out_use, val_use):
    """``--held-out`` and ``--val-fraction`` (both 0.1), the fractions of
    :func:`stratified_split`; the help says what each part is for."""
    parser.add_argument(
        "--held-out", type=open_fraction, default=0.1, help=f"fraction held out for {held_out_use}"
    )
    parser.add_argument(
        "--val-fraction",
        type=open_fraction,
        default=0.1,
        help=f"fraction of the training part used {val_use}",
    )


def stratified_split(labels, held_out, val_fraction, seed):
    """Index arrays ``(train, val, test)`` into ``labels`` ``(N,)``, each class in proportion.

    ``test`` is the ``held_out`` fraction of all (seeded by ``seed``); ``val`` is the
    ``val_fraction`` of the rest (seeded by ``seed + 1``); ``train`` is what remains.
    """
    rest, test = train_val_split(len(labels), held_out, seed=seed, stratify=labels)
    train, val = train_val_split(len(rest), val_fraction, seed=seed + 1, stratify=labels[rest])
    return rest[train], rest[val], test


def subsets(ids, labels, *index_arrays):
    """``(sequences, labels)`` of each index array: the parts the training functions take."""
    return tuple(([ids[i] for i in ix], labels[ix]) for ix in index_arrays)


# -- results --------------------------------------------------------------------------------


def result_row(name, model, hist, held_out, balanced=False):
    """The numbers of one trained model: size, training time, validation and held-out scores.

    ``hist`` is :func:`numrnn.train.train_classifier`'s history, ``held_out`` the
    :func:`numrnn.train.evaluate` result on the held-out part.  The validation numbers are
    those of the kept (best) epoch.  ``balanced`` adds the balanced accuracies.
    """
    best = hist["best_epoch"]
    row = {
        "model": name,
        "params": int(sum(np.asarray(p.data).size for p in model.parameters())),
        "epochs": len(hist["epoch"]),
        "best_epoch": best,
        "steps": hist["steps"],
        "train_seconds": round(hist["train_seconds"], 1),
        "val_accuracy": round(hist["val_accuracy"][best - 1], 4),
    }
    if balanced:
        row["val_balanced_accuracy"] = round(hist["val_balanced_accuracy"][best - 1], 4)
    row["held_out_accuracy"] = round(held_out["accuracy"], 4)
    if balanced:
        row["held_out_balanced_accuracy"] = round(held_out["balanced_accuracy"], 4)
    row["held_out_loss"] = round(held_out["loss"], 4)
    return row


# -- figure ---------------------------------------------------------------------------------


def curves_figure():
    """``(fig, (loss, grad_norm, validation))``: three panels side by side; None without
    matplotlib.  Draw with :func:`plot_steps`, finish with :func:`write_curves`."""
    plt = pyplot()
    return None if plt is None else plt.subplots(1, 3, figsize=(16, 4))


def plot_steps(loss_ax, norm_ax, hist, loss_label, norm_label):
    """The smoothed training loss and the gradient norm of every step, against epochs."""
    steps, smooth = moving_average(hist["step_loss"])
    per_epoch = len(hist["step_loss"]) / max(1, len(hist["epoch"]))
    loss_ax.plot(steps / per_epoch, smooth, label=loss_label)
    norms = hist.get("step_grad_norm", [])
    norm_ax.plot(np.arange(1, len(norms) + 1) / per_epoch, norms, lw=0.8, label=norm_label)


def write_curves(fig, axes, loss_title, validation_label, path):
    """Label the panels of :func:`curves_figure`, then write the figure to ``path``."""
    loss_ax, norm_ax, val_ax = axes
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy (nats)", title=loss_title)
    norm_ax.set(xlabel="epoch", ylabel="global norm (before clipping)", title="gradient norm")
    norm_ax.set(yscale="log")
    val_ax.set(xlabel="epoch", ylabel=validation_label, title="validation accuracy")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    write_figure(fig, path)


# -- checkpoint -----------------------------------------------------------------------------


def save_model(path, old_steps, trained, row, exit_if_kept, *, example, **metadata):
    """Save ``trained`` ``(model, optimiser, config, vocab)`` at ``path`` as ``example``'s.

    ``row`` is the model's :func:`result_row`: the checkpoint records its steps and, as
    its ``summary``, its name and held-out accuracy; ``metadata`` goes in as well.
    Nothing is written when :func:`_cli.may_replace` keeps the checkpoint already there
    (``old_steps``, from :func:`_cli.existing_steps`); then, with ``exit_if_kept``, the
    command stops with exit status 1.
    """
    if may_replace(path, old_steps, row["steps"], f"{example}.py"):
        summary = {k: row[k] for k in ("model", "held_out_accuracy")}
        save_classifier(
            path, *trained, example=example, step=row["steps"], **metadata, summary=summary
        )
        print(f"wrote {path}")
    elif exit_if_kept:
        raise SystemExit(1)


def saved_or_trained(out, checkpoint, example, vocab_class, key, train):
    """``(model, vocab, metadata[key])`` for ``example``'s ``predict`` command.

    They come from the checkpoint ``checkpoint`` in the folder ``out``; without one,
    ``train(["--out", out], return_model=True)`` (the example's default run, which
    saves it) runs first and its answer, the same triple, is used.  A file there that
    is not a checkpoint of ``example``.py stops with a usage error naming ``--out``.
    """
    path = os.path.join(out, checkpoint)
    if os.path.exists(path):
        example_metadata(path, example, "SequenceClassifier", f"{example}.py predict", "--out")
    loaded = load_classifier(path, vocab_class)
    if loaded is not None:
        return loaded[0], loaded[1], loaded[2][key]
    print(f"no checkpoint in {out}: training first with the default settings")
    return train(["--out", out], return_model=True)
