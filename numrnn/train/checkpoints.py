"""Checkpoints of a sequence classifier together with what rebuilds it (config, vocabulary)."""

from __future__ import annotations

import os

from ..io import load, read_header, save
from ..models import SequenceClassifier

__all__ = ["load_classifier", "save_classifier"]


def save_classifier(path, model, optimizer, model_config, vocab, **metadata):
    """Checkpoint a :class:`~numrnn.models.SequenceClassifier` with what rebuilds it.

    ``model_config`` holds the constructor's keyword arguments and ``vocab`` the
    vocabulary (stored as JSON); :func:`load_classifier` reads both back.
    """
    save(path, model, optimizer, model_config=model_config, vocab=vocab.to_dict(), **metadata)


def load_classifier(path, vocab_class):
    """``(model, vocab, metadata)`` from a :func:`save_classifier` checkpoint, or None if absent."""
    if not os.path.exists(path):
        return None
    meta = read_header(path)["metadata"]
    model = SequenceClassifier(**meta["model_config"])
    load(path, model)
    return model, vocab_class.from_dict(meta["vocab"]), meta
