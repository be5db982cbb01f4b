"""Tokenisers shared by the vocabularies and the dataset loaders.

Two levels are enough for the examples:

* characters: every Unicode code point is a token (``list(text)``);
* words: runs of word characters, and every other non-space character on its
  own, so ``"Don't stop!"`` becomes ``["don", "'", "t", "stop", "!"]`` (lowercased
  by default).  This is the rule of thumb of d2l's English-French example,
  written as one regular expression, and it is what :class:`~numrnn.data.vocab.Vocab`
  uses at ``level="word"``.  Being a fixed rule (not a user callable) keeps a
  vocabulary JSON-serialisable.
"""

from __future__ import annotations

import re

__all__ = ["normalize_space", "tokenize", "tokenize_chars", "tokenize_words"]

_WORD_RE = re.compile(r"\w+|[^\w\s]")

# Typographic spaces (no-break, narrow no-break, thin) that French catalogs put before
# ':', '?', '!' and inside guillemets; curly apostrophes become straight ones.
_SPACE_TABLE = str.maketrans(
    {"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ", "\u2019": "'", "\u2018": "'"}
)


def normalize_space(text: str) -> str:
    """Map typographic spaces to ``' '`` and curly apostrophes to ``"'"``."""
    return text.translate(_SPACE_TABLE)


def tokenize_chars(text: str) -> list[str]:
    """Split ``text`` into its characters (Unicode code points)."""
    if not isinstance(text, str):
        raise TypeError(f"tokenize_chars: text must be a str; got {type(text).__name__}")
    return list(text)


def tokenize_words(text: str, lower: bool = True) -> list[str]:
    r"""Split ``text`` into words and single punctuation marks.

    A token is a maximal run of word characters (``\w+``: letters, digits and
    ``_`` in any script) or one character that is neither a word character nor
    white space.  Typographic spaces and apostrophes are normalised first.

    Raises:
        TypeError: ``text`` is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize_words: text must be a str; got {type(text).__name__}")
    text = normalize_space(text)
    if lower:
        text = text.lower()
    return _WORD_RE.findall(text)


def tokenize(text: str, level: str = "word", lower: bool | None = None) -> list[str]:
    """Tokenise ``text`` at ``level`` ``"char"`` or ``"word"``.

    ``lower=None`` means the level's default: characters are kept as they are,
    words are lowercased.

    Raises:
        ValueError: ``level`` is not ``"char"`` or ``"word"``.
        TypeError: ``text`` is not a str.
    """
    if level == "char":
        return tokenize_chars(text.lower() if (lower and isinstance(text, str)) else text)
    if level == "word":
        return tokenize_words(text, lower=True if lower is None else lower)
    raise ValueError(f"tokenize: level must be 'char' or 'word'; got {level!r}")
