"""Surnames labelled by language, for character-level name classification.

The classic data set of the PyTorch tutorial "Classifying names with a
character-level RNN" has about 20,000 surnames in 18 languages.  It is not on
PyPI, so this loader rebuilds the same task from name lists that ship inside two
MIT-licensed pip packages, read as files (neither package is imported):

* ``faker`` (``faker/providers/person/<locale>/__init__.py``: the tuples and
  weighted dicts of names in each locale's ``Provider`` class, read with ``ast``);
* ``mimesis`` (``mimesis/datasets/<locale>/person.json``: ``surnames`` and ``names``).

Names in other scripts are romanised to ASCII with ``anyascii`` (ISC licence):
Cyrillic, Greek (with the common digraphs ``ου``->ou, ``αυ``->av, ``ευ``->ev,
``γγ``->ng applied first), Hanzi (pinyin), Hangul (anyascii's Revised
Romanisation, so 박 becomes "Bag" rather than the customary "Park").  Latin-script
names lose their diacritics (Bártová -> Bartova), as in the tutorial.

Per label the sources are surnames, except where the packages have few
romanisable surnames: Arabic (Latin-script Algerian first and last names from
faker's ``fr_DZ``: the Arabic-script lists would romanise to unvocalised
consonant skeletons), Japanese (faker's romanised surnames and first names; the
Kanji lists cannot be romanised without a reading dictionary), Korean and
Vietnamese (surnames and given names).  Scottish, the tutorial's 18th language, is
dropped: no installed package has a Scottish name list.  US-census lists (faker
``en_US``, mimesis ``en``) are not used for English because they mix in names of
every origin; nor is faker's ``en`` list (invented-looking names of mixed origin).
English comes from faker's ``en_GB`` and ``en_NZ`` surname lists.

National surname lists borrow their neighbours' most common names (faker's and
mimesis's French lists hold Rossi, Garcia, Nguyen and Smith; the German ones hold
Nowak), so about 1,100 names (2,500 name-label pairs) occur under two or more labels.
``duplicates="drop"`` (the default) removes every such name: each remaining name
has one unambiguous label, at the price of some of the most typical names (Smith,
Garcia, Rossi, Wang).  ``duplicates="majority"`` keeps such a name once, under the
label with the most source lists holding it, a tie going to the label with fewer
names (the list less likely to have borrowed it); it keeps Smith (English), Garcia
(Spanish), Wang (Chinese), Tran (Vietnamese), but mislabels others (Rossi and
Nguyen go to French, Murphy to English).  ``duplicates="keep"`` keeps one pair per
label, as the tutorial's files do.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
import unicodedata
from collections import Counter

from ._package import MissingPackageError, distribution_file, require_distribution
from ._pyliterals import class_tables

__all__ = ["NAME_CLASSES", "load_names", "names_class_counts"]

NAME_CLASSES = (
    "Arabic",
    "Chinese",
    "Czech",
    "Dutch",
    "English",
    "French",
    "German",
    "Greek",
    "Irish",
    "Italian",
    "Japanese",
    "Korean",
    "Polish",
    "Portuguese",
    "Russian",
    "Spanish",
    "Vietnamese",
)

_PIP = {"faker": "faker", "mimesis": "mimesis", "anyascii": "anyascii"}
_VALID_RE = re.compile(r"^[A-Za-z][A-Za-z' .-]*[A-Za-z.]$|^[A-Za-z]$")
_GREEK_DIGRAPHS = (
    ("ου", "ou"),
    ("Ου", "Ou"),
    ("ΟΥ", "OU"),
    ("αυ", "av"),
    ("Αυ", "Av"),
    ("ΑΥ", "AV"),
    ("ευ", "ev"),
    ("Ευ", "Ev"),
    ("ΕΥ", "EV"),
    ("γγ", "ng"),
    ("ΓΓ", "NG"),
)


def _sources():
    """``{label: [(package, locale, attributes), ...]}``, read from ``name_sources.txt``
    (shipped beside this module) by :func:`_parse_sources`."""
    text = importlib.resources.files(__package__).joinpath("name_sources.txt").read_text("utf-8")
    return _parse_sources(text, "numrnn/data/datasets/name_sources.txt")


def _parse_sources(text, where):
    """The source lists of each label in ``text`` (the contents of the file ``where``).

    One source list a line: the label (one of :data:`NAME_CLASSES`), the package
    (``faker`` or ``mimesis``), the locale and one or more attributes, separated by
    spaces; ``#`` starts a comment.

    Raises:
        ValueError: a line that does not read so, or a label without a line.
    """
    sources = {label: [] for label in NAME_CLASSES}
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) < 4 or fields[0] not in sources or fields[1] not in ("faker", "mimesis"):
            raise ValueError(
                f"load_names(): {where} line {number} must read 'label package locale "
                f"attribute...' with a label of NAME_CLASSES and a package faker or mimesis; "
                f"got {line!r}"
            )
        label, package, locale, *attributes = fields
        sources[label].append((package, locale, tuple(attributes)))
    missing = [label for label, lists in sources.items() if not lists]
    if missing:
        raise ValueError(f"load_names(): {where} lists no source for {missing}")
    return sources


def _anyascii():
    try:
        from anyascii import anyascii
    except ImportError:
        raise MissingPackageError(
            "load_names() romanises names with the 'anyascii' package, which is not installed. "
            "Install it with:  pip install anyascii   (or: pip install 'numrnn[examples]')"
        ) from None
    return anyascii


def _romanise(name: str, anyascii) -> str:
    name = unicodedata.normalize("NFC", name.strip())
    latin = all(ord(c) < 0x250 or not c.isalpha() for c in name)
    if any("\u0370" <= c <= "\u03ff" or "\u1f00" <= c <= "\u1fff" for c in name):
        # Drop Greek accents, then spell the common digraphs before letter-by-letter romanisation.
        name = "".join(
            c for c in unicodedata.normalize("NFD", name) if not unicodedata.combining(c)
        )
        for g, r in _GREEK_DIGRAPHS:
            name = name.replace(g, r)
    out = anyascii(name)
    out = re.sub(r"\s+", " ", out.replace("\u2019", "'")).strip()
    if not latin or (out.isupper() and len(out) > 1):
        # Non-Latin scripts and ALL-CAPS lists: one capital per word ("OuYang" -> "Ouyang").
        out = " ".join(
            "-".join(p[:1].upper() + p[1:].lower() for p in w.split("-")) for w in out.split(" ")
        )
    return out


def _faker_names(dist, locale, attrs):
    path = distribution_file(dist, f"faker/providers/person/{locale}/__init__.py", "load_names()")
    with open(path, encoding="utf-8") as f:
        tables = class_tables(f.read())
    out = []
    for a in attrs:
        if a not in tables:
            raise FileNotFoundError(
                f"load_names(): faker {dist.version} locale {locale} has no "
                f"readable name table {a!r}"
            )
        out.extend(str(v) for v in tables[a])  # dicts iterate over their keys (the names)
    return out


def _mimesis_names(dist, locale, attrs):
    path = distribution_file(dist, f"mimesis/datasets/{locale}/person.json", "load_names()")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    out = []
    for a in attrs:
        v = data.get(a)
        if v is None:
            raise FileNotFoundError(
                f"load_names(): mimesis {dist.version} locale {locale} has no {a!r}"
            )
        if isinstance(v, dict):
            for key in sorted(v):
                out.extend(v[key])
        else:
            out.extend(v)
    return out


@functools.lru_cache(maxsize=8)
def _build(duplicates: str, sources: tuple):
    anyascii = _anyascii()
    dists = {pkg: require_distribution(pkg, "load_names()", _PIP[pkg]) for pkg in sources}
    # votes[name][label] = how many source lists (package, locale) of that label hold the name
    votes: dict[str, Counter] = {}
    per_label: dict[str, set] = {}
    table = _sources()
    for label in NAME_CLASSES:
        names = set()
        for pkg, locale, attrs in table[label]:
            if pkg not in dists:
                continue
            raw = (_faker_names if pkg == "faker" else _mimesis_names)(dists[pkg], locale, attrs)
            here = set()
            for r in raw:
                n = _romanise(r, anyascii)
                if _VALID_RE.match(n):
                    here.add(n)
            for n in here:
                votes.setdefault(n, Counter())[label] += 1
            names |= here
        per_label[label] = names
    size = {label: len(names) for label, names in per_label.items()}
    pairs = []
    for k, label in enumerate(NAME_CLASSES):
        for n in sorted(per_label[label]):
            v = votes[n]
            if duplicates == "keep" or len(v) == 1:
                pairs.append((n, k))
            elif duplicates == "majority":  # "drop" keeps only names with one label
                # Most source lists wins; a tie goes to the label with fewer names.
                best = min(v, key=lambda lab: (-v[lab], size[lab], NAME_CLASSES.index(lab)))
                if best == label:
                    pairs.append((n, k))
    return tuple(pairs)


def load_names(duplicates: str = "drop", sources=("faker", "mimesis")):
    """Surnames (and, for a few labels, given names) labelled by language.

    See the module docstring for the sources of each label.  The 17 labels are
    :data:`NAME_CLASSES`: Arabic, Chinese, Czech, Dutch, English, French, German,
    Greek, Irish, Italian, Japanese, Korean, Polish, Portuguese, Russian, Spanish,
    Vietnamese (the tutorial's set without Scottish, which no package provides).

    Names are ASCII, in their usual case ("O Briain", "Nguyen", "Smirnova"); the
    model decides whether to lowercase.  The classes are very unbalanced (Dutch and
    Polish have thousands of names, Japanese and Vietnamese under a hundred), as
    in the tutorial's data; use ``train_val_split(..., stratify=labels)`` and, if
    you like, a class-weighted loss.

    Args:
        duplicates: how to treat a name listed under two or more labels:
            ``"drop"`` (default) removes it; ``"majority"`` keeps it once, under
            the label most of its source lists give (ties: the label with fewer
            names); ``"keep"`` keeps one ``(name, label)`` pair for each label.
        sources: which packages to read, a subset of ``("faker", "mimesis")``.

    Returns:
        ``(pairs, classes)``: ``pairs`` a list of ``(name, label_index)`` sorted by
        label then name (deterministic), ``classes`` the list of label names
        (``classes[label_index]``).  Parsed once, then cached in memory.

    Raises:
        MissingPackageError: ``faker``, ``mimesis`` or ``anyascii`` is not installed
            (the message gives the pip command).
        ValueError: a bad ``duplicates`` or ``sources`` value.
    """
    if duplicates not in ("majority", "drop", "keep"):
        raise ValueError(
            f"load_names: duplicates must be 'majority', 'drop' or 'keep'; got {duplicates!r}"
        )
    sources = (sources,) if isinstance(sources, str) else tuple(sources)
    if not sources or any(s not in ("faker", "mimesis") for s in sources):
        raise ValueError(
            f"load_names: sources must be a non-empty subset of ('faker', 'mimesis'); got {sources!r}"
        )
    pairs = _build(duplicates, tuple(sorted(set(sources))))
    return list(pairs), list(NAME_CLASSES)


def names_class_counts(pairs=None, classes=None) -> dict:
    """``{label_name: number_of_names}`` for ``pairs`` (default: ``load_names()``),
    in :data:`NAME_CLASSES` order (labels with no names count 0)."""
    if pairs is None:
        pairs, classes = load_names()
    classes = list(classes if classes is not None else NAME_CLASSES)
    counts = Counter(label for _, label in pairs)
    return {c: counts.get(i, 0) for i, c in enumerate(classes)}
