"""Training: the loops, their progress bar and checkpoints.

Every loop runs the same step (forward, loss, ``model.backward``, :func:`update`)
and takes the same callback: ``on_step(step, loss, grad_norm)`` after every step,
with the step's index within the pass, its mean loss and the global gradient norm
before clipping (what :func:`numrnn.optim.clip_grad_norm_` returns); returning True
stops the pass.  Every loop stops at the first non-finite loss or gradient with a
``FloatingPointError`` naming the step and the tensor (``step 17: gradient of
rnn.weight_hh_l0 is not finite (nan)``), raised before that step's optimiser update,
so the parameters are those the step started from.

* :mod:`~numrnn.train.lm`: truncated BPTT over token streams, ``evaluate_lm``;
* :mod:`~numrnn.train.tbptt`: truncated BPTT in its chunked, TBPTT(k1, k2) and sliding-window
  forms, each returning the exact gradient of its own objective;
* :mod:`~numrnn.train.classify`: the epoch loop (its per-step settings in one
  ``EpochOptions``), prediction and evaluation of sequence classifiers;
* :mod:`~numrnn.train.checkpoints`: a classifier saved with its config and vocabulary;
* :mod:`~numrnn.train.progress_bar`, :mod:`~numrnn.train.optimizer_step`: the shared pieces.
"""

from . import checkpoints, classify, lm, optimizer_step, progress_bar, tbptt
from .checkpoints import load_classifier, save_classifier
from .classify import (
    EpochOptions,
    class_weights,
    evaluate,
    predict_logits,
    predict_proba,
    train_classifier,
    train_epoch,
)
from .lm import evaluate_lm, tbptt_train
from .optimizer_step import check_finite_loss, update
from .progress_bar import progress

__all__ = [
    "EpochOptions",
    "check_finite_loss",
    "checkpoints",
    "class_weights",
    "classify",
    "evaluate",
    "evaluate_lm",
    "lm",
    "load_classifier",
    "optimizer_step",
    "predict_logits",
    "predict_proba",
    "progress",
    "progress_bar",
    "save_classifier",
    "tbptt",
    "tbptt_train",
    "train_classifier",
    "train_epoch",
    "update",
]
