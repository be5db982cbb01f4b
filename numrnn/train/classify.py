r"""Training and evaluating sequence classifiers: padding, metrics, the epoch loop.

The examples ``names.py`` (nationality from a surname, characters) and
``sentiment.py`` (sentence polarity, words) share everything here.  The data are
lists of token-id sequences of different lengths with one integer label each;
a batch is padded to its longest member and the true lengths go to the model, so
the recurrent layers stop at each row's last token (PyTorch's packed sequences).

Metrics
-------
With :math:`M` the confusion matrix (:math:`M_{ij}` = number of items of true
class :math:`i` predicted as :math:`j`, :math:`n_i = \sum_j M_{ij}`):

.. math::
    \text{accuracy} = \frac{\sum_i M_{ii}}{\sum_{ij} M_{ij}}, \qquad
    \text{balanced accuracy} = \frac{1}{|\{i : n_i > 0\}|} \sum_{i:\, n_i > 0} \frac{M_{ii}}{n_i}

Balanced accuracy is the macro average of per-class recall (scikit-learn's
``balanced_accuracy_score``): every class counts the same however rare it is,
so on unbalanced data it shows what plain accuracy hides.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .backend import to_numpy
from .data import batches, pad_sequences
from .functional import cross_entropy, softmax
from .nn import eval_mode, no_grad
from .rng import make_rng
from .training import update

__all__ = [
    "accuracy",
    "balanced_accuracy",
    "class_weights",
    "confusion_matrix",
    "encode_padded",
    "evaluate",
    "load_classifier",
    "normalize_rows",
    "per_class_recall",
    "predict_logits",
    "predict_proba",
    "save_classifier",
    "train_classifier",
    "train_epoch",
]

_METRICS = ("accuracy", "balanced_accuracy", "loss")


# ---------------------------------------------------------------------------------
# padding
# ---------------------------------------------------------------------------------
def encode_padded(seqs, pad_id=0, max_len=None):
    """Pad a batch of token-id sequences into ``(idx, lengths)`` for a classifier.

    Args:
        seqs: a non-empty list of 1-d integer sequences (lists or arrays of ids).
        pad_id: the id written past each sequence's end (the vocabulary's ``pad_id``).
        max_len: keep at most the first ``max_len`` tokens of each sequence.

    Returns:
        ``(idx, lengths)``: ``idx`` int64 ``(B, T)`` with ``T = max(lengths)``,
        batch first; ``lengths`` int64 ``(B,)``.

    Raises:
        ValueError: ``seqs`` is empty, a sequence is empty (a recurrent layer has
            no final state for it) or not 1-d, or ``max_len < 1``.
        TypeError: ``seqs`` is not a list of sequences, or holds non-integer ids.
    """
    if max_len is not None and (not isinstance(max_len, (int, np.integer)) or max_len < 1):
        raise ValueError(f"encode_padded: max_len must be an int >= 1 or None; got {max_len!r}")
    if isinstance(seqs, (str, bytes)) or not hasattr(seqs, "__len__"):
        raise TypeError(
            f"encode_padded: seqs must be a list of id sequences; got {type(seqs).__name__}"
        )
    if len(seqs) == 0:
        raise ValueError("encode_padded: seqs is empty; need at least one sequence")
    for i, s in enumerate(seqs):
        a = np.asarray(s)
        if a.ndim != 1:
            raise ValueError(
                f"encode_padded: seqs[{i}] must be a 1-d sequence of ids; got shape {a.shape}"
            )
        if a.size == 0:
            raise ValueError(
                f"encode_padded: seqs[{i}] is empty; every sequence needs at least one token"
            )
        if a.dtype.kind not in "iu":
            raise TypeError(f"encode_padded: seqs[{i}] must hold integer ids; got dtype {a.dtype}")
    return pad_sequences(seqs, pad_value=pad_id, dtype=np.int64, batch_first=True, max_len=max_len)


# ---------------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------------
def _labels(fn, name, y, num_classes=None):
    a = np.asarray(y)
    if a.ndim != 1:
        raise ValueError(f"{fn}: {name} must be a 1-d array of class ids; got shape {a.shape}")
    if a.size and a.dtype.kind not in "iu":
        raise TypeError(f"{fn}: {name} must hold integer class ids; got dtype {a.dtype}")
    a = a.astype(np.int64)
    if num_classes is not None and a.size and (a.min() < 0 or a.max() >= num_classes):
        raise ValueError(
            f"{fn}: {name} must lie in [0, {num_classes}); got values in [{a.min()}, {a.max()}]"
        )
    return a


def confusion_matrix(y_true, y_pred, num_classes):
    """Counts ``M[i, j]`` of items of true class ``i`` predicted as class ``j``.

    Args:
        y_true, y_pred: 1-d integer arrays of the same length ``N``, values in
            ``[0, num_classes)``.
        num_classes: ``C`` (>= 1).

    Returns:
        int64 array ``(C, C)``; rows are true classes, columns predictions, and
        ``M.sum() == N``.

    Raises:
        ValueError: shapes differ or are not 1-d, ``num_classes < 1``, or a label
            lies outside ``[0, num_classes)``.
        TypeError: non-integer labels.
    """
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"confusion_matrix: num_classes must be an int >= 1; got {num_classes!r}")
    t = _labels("confusion_matrix", "y_true", y_true, num_classes)
    p = _labels("confusion_matrix", "y_pred", y_pred, num_classes)
    if t.shape != p.shape:
        raise ValueError(
            f"confusion_matrix: y_true and y_pred must have the same shape; "
            f"got {t.shape} and {p.shape}"
        )
    C = int(num_classes)
    return np.bincount(t * C + p, minlength=C * C).reshape(C, C)  # (C, C)


def accuracy(y_true, y_pred):
    """Fraction of items with ``y_pred == y_true``.

    Raises:
        ValueError: shapes differ, are not 1-d, or are empty.
    """
    t = _labels("accuracy", "y_true", y_true)
    p = _labels("accuracy", "y_pred", y_pred)
    if t.shape != p.shape:
        raise ValueError(
            f"accuracy: y_true and y_pred must have the same shape; got {t.shape} and {p.shape}"
        )
    if t.size == 0:
        raise ValueError("accuracy: no items (y_true is empty)")
    return float(np.mean(t == p))


def _square(fn, cm):
    m = np.asarray(cm)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{fn}: the confusion matrix must be square (C, C); got shape {m.shape}")
    return m


def per_class_recall(cm):
    """Recall of each class, ``M[i, i] / M[i].sum()``; NaN for a class with no items.

    Returns:
        float64 ``(C,)``.

    Raises:
        ValueError: ``cm`` is not a square matrix.
    """
    m = _square("per_class_recall", cm).astype(np.float64)
    n = m.sum(axis=1)  # (C,)
    out = np.full(m.shape[0], np.nan)
    np.divide(np.diag(m), n, out=out, where=n > 0)
    return out


def balanced_accuracy(cm):
    """Mean recall over the classes that have items (macro-averaged accuracy).

    Raises:
        ValueError: ``cm`` is not square or counts no items at all.
    """
    r = per_class_recall(cm)
    if np.all(np.isnan(r)):
        raise ValueError("balanced_accuracy: the confusion matrix counts no items")
    return float(np.nanmean(r))


def normalize_rows(cm):
    """Each row divided by its sum (rows of zeros stay zero): the fraction of each
    true class given to each prediction, for plotting.  Returns float64 ``(C, C)``."""
    m = _square("normalize_rows", cm).astype(np.float64)
    n = m.sum(axis=1, keepdims=True)
    return np.divide(m, n, out=np.zeros_like(m), where=n > 0)


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
    y = _labels("class_weights", "labels", labels, num_classes)
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)  # (C,)
    present = counts > 0
    w = np.zeros(num_classes)
    w[present] = (y.size / (present.sum() * counts[present])) ** power
    return w


# ---------------------------------------------------------------------------------
# prediction and evaluation
# ---------------------------------------------------------------------------------
def predict_logits(model, seqs, batch_size=256, pad_id=0):
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


def predict_proba(model, seqs, batch_size=256, pad_id=0):
    """Class probabilities ``(N, C)``: the softmax of :func:`predict_logits`."""
    return softmax(predict_logits(model, seqs, batch_size, pad_id))


def evaluate(model, seqs, labels, num_classes=None, batch_size=256, pad_id=0):
    """Loss and accuracy of ``model`` on labelled sequences.

    Returns:
        dict with ``loss`` (mean cross-entropy, unweighted), ``accuracy``,
        ``balanced_accuracy``, ``confusion`` (``(C, C)`` int64, rows true),
        ``pred`` (``(N,)`` predicted classes) and ``n``.

    Raises:
        ValueError: ``labels`` and ``seqs`` differ in length, or are empty.
    """
    y = _labels("evaluate", "labels", labels)
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
def train_epoch(
    model,
    seqs,
    labels,
    optimizer,
    *,
    batch_size=64,
    rng=None,
    clip_norm=None,
    weight=None,
    bucket=True,
    pad_id=0,
    word_dropout=0.0,
    unk_id=1,
    time_budget=None,
    on_step=None,
):
    """One pass over the training data in shuffled (length-bucketed) batches.

    Each step: pad the batch, ``logits = model(idx, lengths)``,
    ``loss, dlogits = cross_entropy(logits, y, weight=weight)``,
    ``model.backward(dlogits)``, optional global-norm clipping, ``optimizer.step()``,
    ``optimizer.zero_grad()``.

    Args:
        model: ``model(idx, lengths) -> (B, C)`` logits with ``backward(dlogits)``.
        seqs, labels: the training sequences (lists of ids) and their class ids.
        optimizer: a :mod:`numrnn.optim` optimiser over ``model.parameters()``.
        batch_size: sequences per step.
        rng: a Generator or seed for the shuffling.
        clip_norm: clip the global gradient norm to this before each step.
        weight: per-class loss weights ``(C,)`` or None.
        bucket: group sequences of similar length (:func:`numrnn.data.batches`).
        word_dropout: probability with which each token of a training batch is
            replaced by ``unk_id`` (a fresh draw every step).  A regulariser for
            word-level models: the classifier cannot lean on any single word, and
            ``<unk>`` learns to stand for "some word", as it must at test time.
        unk_id: the id that ``word_dropout`` writes (the vocabulary's ``unk_id``).
        time_budget: stop after this many seconds.
        on_step: ``on_step(loss)`` after every step.

    Returns:
        ``(losses, stopped)``: per-step mean losses, and whether the time budget
        cut the pass short.
    """
    y = _labels("train_epoch", "labels", labels)
    if y.size != len(seqs):
        raise ValueError(f"train_epoch: {len(seqs)} sequences but {y.size} labels")
    if not isinstance(word_dropout, (int, float)) or not 0.0 <= word_dropout < 1.0:
        raise ValueError(
            f"train_epoch: word_dropout must be a number in [0, 1); got {word_dropout!r}"
        )
    rng = make_rng(rng=rng)
    lengths = np.array([len(s) for s in seqs]) if bucket else None
    start, losses = time.perf_counter(), []
    model.train()
    for b in batches(len(seqs), batch_size, shuffle=True, rng=rng, lengths=lengths):
        idx, lens = encode_padded([seqs[i] for i in b], pad_id)  # (B, T), (B,)
        if word_dropout > 0:
            drop = (rng.random(idx.shape) < word_dropout) & (idx != pad_id)
            idx = np.where(drop, unk_id, idx)
        logits = model(idx, lens)  # (B, C)
        loss, dlogits = cross_entropy(logits, y[b], weight=weight)
        model.backward(dlogits)
        update(model, optimizer, clip_norm)
        losses.append(float(to_numpy(loss)))
        if on_step is not None:
            on_step(losses[-1])
        if time_budget is not None and time.perf_counter() - start >= time_budget:
            return losses, True
    return losses, False


def train_classifier(
    model,
    optimizer,
    train,
    val=None,
    *,
    epochs=10,
    batch_size=64,
    rng=0,
    clip_norm=None,
    weight=None,
    word_dropout=0.0,
    unk_id=1,
    scheduler=None,
    patience=None,
    monitor="accuracy",
    restore_best=True,
    time_budget=None,
    pad_id=0,
    desc="train",
    show_progress=True,
):
    """Train for up to ``epochs`` passes, validating after each; optional early stopping.

    Args:
        model, optimizer: as in :func:`train_epoch`.
        train: ``(seqs, labels)`` to train on.
        val: ``(seqs, labels)`` evaluated after every epoch (None: no validation).
        epochs: the most passes over ``train``.
        batch_size, clip_norm, weight, word_dropout, unk_id, pad_id: as in :func:`train_epoch`.
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
        step ``step_loss``; and ``best_epoch``, ``stopped_early``, ``steps`` and
        ``train_seconds``.

    Raises:
        ValueError: an unknown ``monitor``, ``epochs < 1`` or ``patience < 1``.
    """
    from .training import progress

    if monitor not in _METRICS:
        raise ValueError(f"train_classifier: monitor must be one of {_METRICS}; got {monitor!r}")
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"train_classifier: epochs must be an int >= 1; got {epochs!r}")
    if patience is not None and (not isinstance(patience, (int, np.integer)) or patience < 1):
        raise ValueError(
            f"train_classifier: patience must be an int >= 1 or None; got {patience!r}"
        )
    seqs, labels = train
    rng = make_rng(rng=rng)
    steps_per_epoch = math.ceil(len(seqs) / batch_size)
    hist = {
        "epoch": [],
        "train_loss": [],
        "val_loss": [],
        "val_accuracy": [],
        "val_balanced_accuracy": [],
        "step_loss": [],
        "best_epoch": None,
        "stopped_early": False,
        "steps": 0,
        "train_seconds": 0.0,
    }
    sign = 1.0 if monitor == "loss" else -1.0  # minimise sign * metric
    best, best_state, bad = math.inf, None, 0
    bar = progress(
        total=None if time_budget is not None else epochs * steps_per_epoch,
        desc=desc,
        unit="step",
        disable=not show_progress,
    )
    running = [None]
    postfix = {}

    def on_step(loss):
        running[0] = loss if running[0] is None else 0.95 * running[0] + 0.05 * loss
        bar.update(1)
        postfix["loss"] = f"{running[0]:.3f}"
        bar.set_postfix(postfix, refresh=False)  # redrawn at tqdm's own pace

    try:
        for epoch in range(1, epochs + 1):
            left = None if time_budget is None else time_budget - hist["train_seconds"]
            t0 = time.perf_counter()
            losses, out_of_time = train_epoch(
                model,
                seqs,
                labels,
                optimizer,
                batch_size=batch_size,
                rng=rng,
                clip_norm=clip_norm,
                weight=weight,
                pad_id=pad_id,
                word_dropout=word_dropout,
                unk_id=unk_id,
                time_budget=left,
                on_step=on_step,
            )
            hist["train_seconds"] += time.perf_counter() - t0
            hist["step_loss"].extend(losses)
            hist["steps"] += len(losses)
            hist["epoch"].append(epoch)
            hist["train_loss"].append(float(np.mean(losses)))
            if scheduler is not None:
                scheduler.step()
            if val is not None:
                r = evaluate(model, val[0], val[1], pad_id=pad_id)
                hist["val_loss"].append(r["loss"])
                hist["val_accuracy"].append(r["accuracy"])
                hist["val_balanced_accuracy"].append(r["balanced_accuracy"])
                postfix["val_acc"] = f"{r['accuracy']:.3f}"
                bar.set_postfix(postfix)
                score = sign * (r["loss"] if monitor == "loss" else r[monitor])
                if score < best:
                    best, bad, hist["best_epoch"] = score, 0, epoch
                    if restore_best:
                        best_state = model.state_dict()
                else:
                    bad += 1
                    if patience is not None and bad >= patience:
                        hist["stopped_early"] = True
                        break
            if out_of_time:
                break
    finally:
        bar.close()
    if best_state is not None and hist["best_epoch"] != hist["epoch"][-1]:
        model.load_state_dict(best_state)
    if val is None:
        hist["best_epoch"] = hist["epoch"][-1]
    return hist


def save_classifier(path, model, optimizer, model_config, vocab, **metadata):
    """Checkpoint a :class:`~numrnn.models.SequenceClassifier` with what rebuilds it.

    ``model_config`` holds the constructor's keyword arguments and ``vocab`` the
    vocabulary (stored as JSON); :func:`load_classifier` reads both back.
    """
    from .io import save

    save(path, model, optimizer, model_config=model_config, vocab=vocab.to_dict(), **metadata)


def load_classifier(path, vocab_class):
    """``(model, vocab, metadata)`` from a :func:`save_classifier` checkpoint, or None if absent."""
    import os

    from .io import load, read_header
    from .models import SequenceClassifier

    if not os.path.exists(path):
        return None
    meta = read_header(path)["metadata"]
    model = SequenceClassifier(**meta["model_config"])
    load(path, model)
    return model, vocab_class.from_dict(meta["vocab"]), meta
