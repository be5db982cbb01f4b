"""Data for the examples: vocabularies, padding and batching, language-model
streams, splits, and loaders of real data sets shipped in pip packages.

Everything here is NumPy (or plain Python) and needs no optional package except
the data set loaders in :mod:`numrnn.data.datasets`, which name the package they
need when it is missing.  Everything :mod:`numrnn.data.datasets` exports is
exported here too (``numrnn.data.load_names`` is ``numrnn.data.datasets.load_names``).
"""

from . import datasets
from .batching import batches, encode_padded, pad_sequences
from .datasets import (  # noqa: F401  (exported through datasets.__all__)
    NAME_CLASSES,
    TIMESERIES,
    TRANSLATION_PAIRS,
    MissingPackageError,
    clear_caches,
    load_names,
    load_polarity,
    load_pydoc_text,
    load_shakespeare,
    load_text,
    load_timeseries,
    load_translation_pairs,
    names_class_counts,
    shakespeare_plays,
    tokenize_for,
    translation_tokenizers,
)
from .splits import train_val_split
from .streams import random_partition, sequential_partition, sliding_windows
from .tokenize import tokenize, tokenize_chars, tokenize_words
from .vocab import CharVocab, Vocab, WordVocab

__all__ = [
    "CharVocab",
    "Vocab",
    "WordVocab",
    "batches",
    "datasets",
    "encode_padded",
    "pad_sequences",
    "random_partition",
    "sequential_partition",
    "sliding_windows",
    "tokenize",
    "tokenize_chars",
    "tokenize_words",
    "train_val_split",
    *datasets.__all__,
]
