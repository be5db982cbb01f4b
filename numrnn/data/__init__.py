"""Data for the examples: vocabularies, padding and batching, language-model
streams, splits, and loaders of real data sets shipped in pip packages.

Everything here is NumPy (or plain Python) and needs no optional package except
the data set loaders in :mod:`numrnn.data.datasets`, which name the package they
need when it is missing.
"""

from . import datasets
from .batching import batches, encode_padded, pad_sequences
from .datasets import (
    MissingPackageError,
    load_names,
    load_polarity,
    load_pydoc_text,
    load_shakespeare,
    load_text,
    load_timeseries,
    load_translation_pairs,
    names_class_counts,
)
from .splits import train_val_split
from .streams import random_partition, sequential_partition, sliding_windows
from .tokenize import tokenize, tokenize_chars, tokenize_words
from .vocab import CharVocab, Vocab, WordVocab

__all__ = [
    "CharVocab",
    "MissingPackageError",
    "Vocab",
    "WordVocab",
    "batches",
    "datasets",
    "encode_padded",
    "load_names",
    "load_polarity",
    "load_pydoc_text",
    "load_shakespeare",
    "load_text",
    "load_timeseries",
    "load_translation_pairs",
    "names_class_counts",
    "pad_sequences",
    "random_partition",
    "sequential_partition",
    "sliding_windows",
    "tokenize",
    "tokenize_chars",
    "tokenize_words",
    "train_val_split",
]
