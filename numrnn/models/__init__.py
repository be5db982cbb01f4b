"""Models the examples train, each a Module with a hand-written backward composed of its layers'."""

from . import decoding
from .char_lm import CharLM
from .classifier import SequenceClassifier
from .seq2seq import Seq2Seq
from .translation import translate_ids, translation_batch

__all__ = [
    "CharLM",
    "Seq2Seq",
    "SequenceClassifier",
    "decoding",
    "translate_ids",
    "translation_batch",
]
