"""Models the examples train, each a Module with a hand-written backward composed of its layers'."""

from .char_lm import CharLM
from .classifier import SequenceClassifier

__all__ = ["CharLM", "SequenceClassifier"]
