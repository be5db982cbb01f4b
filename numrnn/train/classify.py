r"""Training and evaluating sequence classifiers: prediction, evaluation, the epoch loop.

The examples ``names.py`` (nationality from a surname, characters) and
``sentiment.py`` (sentence polarity, words) share everything here.  The data are
lists of token-id sequences of different lengths with one integer label each;
a batch is padded to its longest member (:func:`numrnn.data.encode_padded`) and
the true lengths go to the model, so the recurrent layers stop at each row's
last token (PyTorch's packed sequences).  The metrics are in :mod:`numrnn.metrics`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..backend import to_numpy
from ..data import batches, encode_padded
from ..functional import cross_entropy, softmax
from ..metrics import accuracy, balanced_accuracy, check_labels, confusion_matrix
from ..nn import Module, eval_mode, no_grad
from ..optim import Optimizer
from ..rng import make_rng
from .optimizer_step import check_finite_loss, update
from .progress_bar import progress

__all__ = [
    "EpochOptions",
    "class_weights",
    "evaluate",
    "predict_logits",
    "predict_proba",
    "train_classifier",
    "train_epoch",
]

_METRICS = ("accuracy", "balanced_accuracy", "loss")


def class_weights(labels, num_classes, power=1.0):
    r"""Per-class loss weights that counter an unbalanced label distribution.

    .. math::  w_c = \left(\frac{N}{C' \, n_c}\right)^{p}

    with :math:`n_c` the count of class :math:`c`, :math:`C'` the number of
    classes present and :math:`p` = ``power``: ``1`` is scikit-learn's
    ``"balanced"`` (every class then carries the same total weight), ``0.5`` a
    milder correction, ``0`` no correction.  Absent classes get weight 0.

    Returns:
        float64 ``(C,)``, for ``cross_entropy(..., weight=w)``.

    Raises:
        ValueError: labels out of range, or ``power`` negative.
    """
    if not isinstance(power, (int, float)) or isinstance(power, bool) or power < 0:
        raise ValueError(f"class_weights: power must be a number >= 0; got {power!r}")
    y = check_labels("class_weights", "labels", labels, num_classes)
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)  # (C,)
    present = counts > 0
    w = np.zeros(num_classes)
    w[present] = (y.size / (present.sum() * counts[present])) ** power
    return w


# ---------------------------------------------------------------------------------
# prediction and evaluation
# ---------------------------------------------------------------------------------
def predict_logits(
    model: Module, seqs: Sequence, batch_size: int = 256, pad_id: int = 0
) -> np.ndarray:
    """Logits ``(N, C)`` (NumPy) of ``model`` for every sequence, in the order given.

    The sequences are batched by length (less padding), run in evaluation mode
    (no dropout) without keeping caches; the model's mode is restored afterwards.
    ``model(idx, lengths)`` must return ``(B, C)`` logits.
    """
    if len(seqs) == 0:
        raise ValueError("predict_logits: seqs is empty")
    lengths = np.array([len(s) for s in seqs])
    order = np.argsort(lengths, kind="stable")
    out = None
    with eval_mode(model), no_grad():
        for start in range(0, len(order), batch_size):
            b = order[start : start + batch_size]
            idx, lens = encode_padded([seqs[i] for i in b], pad_id)
            z = to_numpy(model(idx, lens))  # (B, C)
            if out is None:
                out = np.empty((len(seqs), z.shape[1]), dtype=z.dtype)
            out[b] = z
    return out


def predict_proba(
    model: Module, seqs: Sequence, batch_size: int = 256, pad_id: int = 0
) -> np.ndarray:
    """Class probabilities ``(N, C)``: the softmax of :func:`predict_logits`."""
    return softmax(predict_logits(model, seqs, batch_size, pad_id))


def evaluate(
    model: Module, seqs: Sequence, labels, num_classes=None, batch_size: int = 256, pad_id: int = 0
) -> dict:
    """Loss and accuracy of ``model`` on labelled sequences.

    Returns:
        dict with ``loss`` (mean cross-entropy, unweighted), ``accuracy``,
        ``balanced_accuracy``, ``confusion`` (``(C, C)`` int64, rows true),
        ``pred`` (``(N,)`` predicted classes) and ``n``.

    Raises:
        ValueError: ``labels`` and ``seqs`` differ in length, or are empty.
    """
    y = check_labels("evaluate", "labels", labels)
    if y.size != len(seqs):
        raise ValueError(f"evaluate: {len(seqs)} sequences but {y.size} labels")
    if y.size == 0:
        raise ValueError("evaluate: no sequences to evaluate")
    logits = predict_logits(model, seqs, batch_size, pad_id)  # (N, C)
    C = int(num_classes or logits.shape[1])
    loss, _ = cross_entropy(logits, y)
    pred = np.argmax(logits, axis=1)
    cm = confusion_matrix(y, pred, C)
    return {
        "loss": float(loss),
        "accuracy": accuracy(y, pred),
        "balanced_accuracy": balanced_accuracy(cm),
        "confusion": cm,
        "pred": pred,
        "n": int(y.size),
    }


# ---------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class EpochOptions:
    """How :func:`train_epoch` draws its batches and takes each step: the same every epoch.

    :func:`train_classifier` passes the one object it is given to every epoch.

    Attributes:
        batch_size: sequences per step.
        clip_norm: clip the global gradient norm to this before each step (None: never).
        weight: per-class loss weights ``(C,)`` or None.
        bucket: group sequences of similar length (:func:`numrnn.data.batches`).
        pad_id: the id that pads a batch to its longest sequence.
        word_dropout: probability with which each token of a training batch is
            replaced by ``unk_id`` (a fresh draw every step).  A regulariser for
            word-level models: the classifier cannot lean on any single word, and
            ``<unk>`` learns to stand for "some word", as it must at test time.
        unk_id: the id that ``word_dropout`` writes (the vocabulary's ``unk_id``).

    Raises:
        ValueError: ``word_dropout`` is outside ``[0, 1)``.
    """

    batch_size: int = 64
    clip_norm: float | None = None
    weight: np.ndarray | None = None
    bucket: bool = True
    pad_id: int = 0
    word_dropout: float = 0.0
    unk_id: int = 1

    def __post_init__(self):
        p = self.word_dropout
        if not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"EpochOptions: word_dropout must be a number in [0, 1); got {p!r}")


def train_epoch(
    model: Module,
    seqs: Sequence,
    labels,
    optimizer: Optimizer,
    options: EpochOptions | None = None,
    *,
    rng=None,
    time_budget: float | None = None,
    on_step: Callable[[int, float, float], bool | None] | None = None,
) -> tuple[list[float], bool]:
    """One pass over the training data in shuffled (length-bucketed) batches.

    Each step: pad the batch, ``logits = model(idx, lengths)``,
    ``loss, dlogits = cross_entropy(logits, y, weight=options.weight)``,
    ``model.backward(dlogits)``, the global gradient norm (before clipping) and the
    optional clipping, ``optimizer.step()``, ``optimizer.zero_grad()``.  The pass
    stops at the first step whose loss or gradient is not finite, before that
    step's optimiser update.

    Args:
        model: ``model(idx, lengths) -> (B, C)`` logits with ``backward(dlogits)``.
        seqs, labels: the training sequences (lists of ids) and their class ids.
        optimizer: a :mod:`numrnn.optim` optimiser over ``model.parameters()``.
        options: an :class:`EpochOptions` (batch size, clipping, class weights,
            bucketing, padding, word dropout); None: the defaults.
        rng: a Generator or seed for the shuffling.
        time_budget: stop after this many seconds.
        on_step: called as ``on_step(step, loss, grad_norm)`` after every step
            (``step`` counts from 0 within the pass; ``grad_norm`` is the global
            gradient norm before clipping); returning True stops the pass.  The
            same contract as :func:`numrnn.train.tbptt_train`'s.

    Returns:
        ``(losses, stopped)``: per-step mean losses, and whether ``on_step`` or
        the time budget cut the pass short.

    Raises:
        FloatingPointError: at the first non-finite loss or gradient, naming the
            step and the parameter (``step 17: gradient of rnn.weight_hh_l0 is not
            finite (nan)``); no parameter has been changed by that step.
        TypeError: ``options`` is not an :class:`EpochOptions`.
        ValueError: labels and sequences differ in number.
    """
    options = _epoch_options("train_epoch", options)
    y = check_labels("train_epoch", "labels", labels)
    if y.size != len(seqs):
        raise ValueError(f"train_epoch: {len(seqs)} sequences but {y.size} labels")
    rng = make_rng(rng=rng)
    lengths = np.array([len(s) for s in seqs]) if options.bucket else None
    start, losses = time.perf_counter(), []
    model.train()
    for b in batches(len(seqs), options.batch_size, shuffle=True, rng=rng, lengths=lengths):
        idx, lens = encode_padded([seqs[i] for i in b], options.pad_id)  # (B, T), (B,)
        if options.word_dropout > 0:
            drop = (rng.random(idx.shape) < options.word_dropout) & (idx != options.pad_id)
            idx = np.where(drop, options.unk_id, idx)
        logits = model(idx, lens)  # (B, C)
        loss, dlogits = cross_entropy(logits, y[b], weight=options.weight)
        model.backward(dlogits)
        step = len(losses)
        losses.append(float(to_numpy(loss)))
        check_finite_loss(losses[-1], step)
        grad_norm = update(model, optimizer, options.clip_norm, step=step)
        if on_step is not None and on_step(step, losses[-1], grad_norm):
            return losses, True
        if time_budget is not None and time.perf_counter() - start >= time_budget:
            return losses, True
    return losses, False


def _epoch_options(caller, options):
    """``options``, or the default :class:`EpochOptions` for None; TypeError otherwise."""
    if options is None:
        return EpochOptions()
    if not isinstance(options, EpochOptions):
        raise TypeError(
            f"{caller}: options must be an EpochOptions or None; got {type(options).__name__}"
        )
    return options


def train_classifier(
    model,
    optimizer,
    train,
    val=None,
    options=None,
    *,
    epochs=10,
    rng=0,
    scheduler=None,
    patience=None,
    monitor="accuracy",
    restore_best=True,
    time_budget=None,
    desc="train",
    show_progress=True,
):
    """Train for up to ``epochs`` passes, validating after each; optional early stopping.

    Args:
        model, optimizer: as in :func:`train_epoch`.
        train: ``(seqs, labels)`` to train on.
        val: ``(seqs, labels)`` evaluated after every epoch (None: no validation).
        options: the :class:`EpochOptions` of every pass (None: the defaults);
            its ``pad_id`` also pads the validation batches.
        epochs: the most passes over ``train``.
        rng: Generator or seed for the batch order (one stream over all epochs).
        scheduler: an LR scheduler stepped once after every epoch.
        patience: stop when ``monitor`` on ``val`` has not improved for this many
            epochs (None: never stop early).
        monitor: ``"accuracy"``, ``"balanced_accuracy"`` (higher is better) or
            ``"loss"`` (lower is better) on ``val``: decides the best epoch.
        restore_best: with ``val``, load the weights of the best epoch at the end.
        time_budget: total training seconds (evaluation not counted); the pass
            running when it runs out stops mid-epoch.
        desc, show_progress: the progress bar's label; False hides it.

    Returns:
        a history dict: per epoch ``epoch``, ``train_loss`` (mean of the epoch's
        steps), ``val_loss``, ``val_accuracy``, ``val_balanced_accuracy``; per
        step ``step_loss`` and ``step_grad_norm`` (the global gradient norm
        before clipping); and ``best_epoch``, ``stopped_early``, ``steps`` and
        ``train_seconds``.

    Raises:
        TypeError: ``options`` is not an :class:`EpochOptions`.
        ValueError: an unknown ``monitor``, ``epochs < 1`` or ``patience < 1``.
        FloatingPointError: a non-finite loss or gradient (see :func:`train_epoch`).
    """
    options = _epoch_options("train_classifier", options)
    _check_schedule(monitor, epochs, patience)
    seqs, labels = train
    rng = make_rng(rng=rng)
    hist = _new_history()
    best = _BestEpoch(monitor, patience, restore_best)
    steps = None if time_budget is not None else epochs * math.ceil(len(seqs) / options.batch_size)
    bar = _LossBar(steps, desc, show_progress, grad_norms=hist["step_grad_norm"])
    try:
        for epoch in range(1, epochs + 1):
            left = None if time_budget is None else time_budget - hist["train_seconds"]
            t0 = time.perf_counter()
            losses, out_of_time = train_epoch(  # bar.on_step also keeps each step's grad norm
                model,
                seqs,
                labels,
                optimizer,
                options,
                rng=rng,
                time_budget=left,
                on_step=bar.on_step,
            )
            _record_epoch(hist, epoch, losses, time.perf_counter() - t0)
            if scheduler is not None:
                scheduler.step()
            if val is not None and _validate(model, val, options.pad_id, epoch, hist, bar, best):
                hist["stopped_early"] = True
                break
            if out_of_time:
                break
    finally:
        bar.close()
    hist["best_epoch"] = best.epoch if val is not None else hist["epoch"][-1]
    if best.state is not None and best.epoch != hist["epoch"][-1]:
        model.load_state_dict(best.state)
    return hist


def _check_schedule(monitor, epochs, patience):
    """Raise ValueError for an unknown ``monitor``, ``epochs < 1`` or ``patience < 1``."""
    if monitor not in _METRICS:
        raise ValueError(f"train_classifier: monitor must be one of {_METRICS}; got {monitor!r}")
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"train_classifier: epochs must be an int >= 1; got {epochs!r}")
    if patience is not None and (not isinstance(patience, (int, np.integer)) or patience < 1):
        raise ValueError(
            f"train_classifier: patience must be an int >= 1 or None; got {patience!r}"
        )


def _validate(model, val, pad_id, epoch, hist, bar, best):
    """Evaluate on ``val``, record it in ``hist`` and ``best``; True when patience ran out."""
    r = evaluate(model, val[0], val[1], pad_id=pad_id)
    for key in ("loss", "accuracy", "balanced_accuracy"):
        hist[f"val_{key}"].append(r[key])
    bar.show_accuracy(r["accuracy"])
    return best.update(epoch, r, model)


def _record_epoch(hist, epoch, losses, seconds):
    """Add one training pass to the history: its steps' losses, their mean, the time."""
    hist["train_seconds"] += seconds
    hist["step_loss"].extend(losses)
    hist["steps"] += len(losses)
    hist["epoch"].append(epoch)
    hist["train_loss"].append(float(np.mean(losses)))


def _new_history():
    """The empty history dict that :func:`train_classifier` fills and returns."""
    return {
        "epoch": [],
        "train_loss": [],
        "val_loss": [],
        "val_accuracy": [],
        "val_balanced_accuracy": [],
        "step_loss": [],
        "step_grad_norm": [],
        "best_epoch": None,
        "stopped_early": False,
        "steps": 0,
        "train_seconds": 0.0,
    }


class _BestEpoch:
    """The best validation epoch so far, its weights, and the early-stopping count."""

    def __init__(self, monitor, patience, keep_state):
        self.monitor, self.patience, self.keep_state = monitor, patience, keep_state
        self.sign = 1.0 if monitor == "loss" else -1.0  # minimise sign * metric
        self.best, self.epoch, self.state, self.bad = math.inf, None, None, 0

    def update(self, epoch, result, model):
        """Record ``epoch``'s validation ``result``; True when patience has run out."""
        score = self.sign * result[self.monitor]
        if score < self.best:
            self.best, self.epoch, self.bad = score, epoch, 0
            if self.keep_state:
                self.state = model.state_dict()
            return False
        self.bad += 1
        return self.patience is not None and self.bad >= self.patience


class _LossBar:
    """The progress bar of :func:`train_classifier`: one tick per step, the running loss;
    each step's gradient norm is appended to ``grad_norms`` (the history's list)."""

    def __init__(self, total, desc, show, grad_norms):
        self.bar = progress(total=total, desc=desc, unit="step", disable=not show)
        self.running, self.postfix, self.grad_norms = None, {}, grad_norms

    def on_step(self, step, loss, grad_norm):
        self.grad_norms.append(grad_norm)
        r = self.running
        self.running = loss if r is None else 0.95 * r + 0.05 * loss
        self.bar.update(1)
        self.postfix["loss"] = f"{self.running:.3f}"
        self.bar.set_postfix(self.postfix, refresh=False)  # redrawn at tqdm's own pace

    def show_accuracy(self, accuracy):
        self.postfix["val_acc"] = f"{accuracy:.3f}"
        self.bar.set_postfix(self.postfix)

    def close(self):
        self.bar.close()
