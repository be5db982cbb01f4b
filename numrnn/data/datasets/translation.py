"""Sentence pairs for sequence-to-sequence translation, from JupyterLab's translations.

JupyterLab's language packs (``pip install jupyterlab-language-pack-fr-fr
jupyterlab-language-pack-zh-cn``, BSD-3-Clause) ship compiled gettext catalogs,
``<pkg>/locale/<ll_CC>/LC_MESSAGES/<domain>.mo``, for JupyterLab and a dozen
extensions: English user-interface strings (``msgid``) with their human
translation (``msgstr``): "Open in New Browser Tab" -> "Ouvrir dans un nouvel
onglet de navigation" / "在新的浏览器标签页中打开".  Short, clean, real pairs,
well suited to a small seq2seq model with attention (the role of the Tatoeba
English-French file in d2l's chapter on machine translation).

The catalogs are read with :class:`gettext.GNUTranslations`.  An entry is kept
when both sides are single-line plain text: no placeholders (``{name}``, ``%s``,
``%1``, ``%(x)s``, ``$1``), no HTML tags or entities, no URLs or file paths, no
backticks, no control characters, at most ``max_chars`` characters, and (for
Chinese) at least one CJK character on the Chinese side, so untranslated entries
are dropped, as are pairs with identical sides unless asked for.  Message
contexts (``settings\\x04Debug``) are stripped to the message
itself, plural entries contribute their singular form, and pairs are
de-duplicated on the source side (the first domain in sorted order wins,
``jupyterlab`` before extensions, then alphabetical).
"""

from __future__ import annotations

import functools
import gettext
import os
import re

from ..tokenize import normalize_space, tokenize_words
from ._package import distribution_files, require_distribution

__all__ = ["TRANSLATION_PAIRS", "load_translation_pairs", "tokenize_for", "translation_tokenizers"]

# pair -> (distribution, locale folder, which side is the catalog's msgid)
TRANSLATION_PAIRS = {
    "en-fr": ("jupyterlab-language-pack-fr-fr", "fr_FR"),
    "zh-en": ("jupyterlab-language-pack-zh-cn", "zh_CN"),
}
_REVERSED = {"fr-en": "en-fr", "en-zh": "zh-en"}

_PLACEHOLDER_RE = re.compile(
    r"\{[^}]*\}"  # {name}, {0}, {{ }}
    r"|%(?:\([^)]*\))?[-+ #0]*\d*(?:\.\d+)?[sdifgeExXrcou%]"  # printf: %s %d %(name)s %.2f
    r"|%\d+"  # Qt/Jupyter: %1 %2
    r"|\$\d+|\$\{"  # $1, ${x}
)
_MARKUP_RE = re.compile(
    r"<[^>]*>|&[#a-zA-Z0-9]+;|https?://|www\.|`|\\|\.(?:py|json|ipynb|md|txt|js)\b"
)
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _clean(s: str) -> str:
    return re.sub(r"[ \t]+", " ", normalize_space(s)).strip()


def _acceptable(s: str, max_chars: int) -> bool:
    if not s or len(s) > max_chars or "\n" in s or "\r" in s or "\t" in s:
        return False
    if any(ord(c) < 32 for c in s):
        return False
    if _PLACEHOLDER_RE.search(s) or _MARKUP_RE.search(s):
        return False
    return any(c.isalpha() for c in s)


def _domain_order(path: str):
    name = os.path.splitext(os.path.basename(path))[0]
    return (name != "jupyterlab", name)


@functools.lru_cache(maxsize=8)
def _catalog_pairs(pair: str, max_chars: int, keep_identical: bool) -> tuple:
    dist_name, locale = TRANSLATION_PAIRS[pair]
    dist = require_distribution(dist_name, f"load_translation_pairs({pair!r})", dist_name)
    pkg = dist_name.replace("-", "_")
    # The import package spells the locale with a capital region (jupyterlab_language_pack_fr_FR).
    pkg = pkg[: -len(locale)] + locale
    files = sorted(
        distribution_files(dist, f"{pkg}/locale/{locale}/LC_MESSAGES", ".mo"), key=_domain_order
    )
    if not files:
        raise FileNotFoundError(
            f"load_translation_pairs({pair!r}): no .mo catalogs in the installed "
            f"'{dist_name}' {dist.version}"
        )
    seen: set = set()
    out = []
    for path in files:
        with open(path, "rb") as f:
            catalog = gettext.GNUTranslations(f)._catalog
        for key, target in catalog.items():
            if isinstance(key, tuple):
                msgid, form = key
                if form != 0:
                    continue
            else:
                msgid = key
            if not msgid:
                continue  # the catalog header
            if "\x04" in msgid:
                msgid = msgid.split("\x04", 1)[1]  # drop the message context
            en, other = _clean(msgid), _clean(target)
            if not (_acceptable(en, max_chars) and _acceptable(other, max_chars)):
                continue
            if pair == "zh-en":
                if not _CJK_RE.search(other):
                    continue  # untranslated entry
                src, tgt = other, en
            else:
                src, tgt = en, other
            if src in seen or (src == tgt and not keep_identical):
                continue
            seen.add(src)
            out.append((src, tgt))
    return tuple(out)


def load_translation_pairs(pair: str = "en-fr", max_chars: int = 80, keep_identical: bool = False):
    """Human-translated (source, target) sentence pairs from JupyterLab's catalogs.

    Args:
        pair: ``"en-fr"`` (English -> French, from the fr_FR pack) or ``"zh-en"``
            (Chinese -> English, from the zh_CN pack); ``"fr-en"`` and ``"en-zh"``
            give the same pairs with source and target swapped.
        max_chars: drop entries longer than this on either side.
        keep_identical: keep pairs whose two sides are the same string (about 180
            in en-fr, nearly all programming-language names such as "Erlang");
            dropped by default, since they teach copying rather than translating.

    Returns:
        A list of ``(source, target)`` strings, in catalog order (deterministic);
        2,402 pairs for en-fr and 2,421 for zh-en with the defaults (language packs 4.5.post3).
        Parsed once, then cached in memory.  Tokenise with :func:`tokenize_for`.

    Raises:
        MissingPackageError: the language pack is not installed (the message
            gives the pip command).
        ValueError: an unknown ``pair`` or a ``max_chars`` below 1.
    """
    swap = pair in _REVERSED
    key = _REVERSED.get(pair, pair)
    if key not in TRANSLATION_PAIRS:
        raise ValueError(
            f"load_translation_pairs: pair must be one of "
            f"{sorted(TRANSLATION_PAIRS) + sorted(_REVERSED)}; got {pair!r}"
        )
    if not isinstance(max_chars, int) or max_chars < 1:
        raise ValueError(
            f"load_translation_pairs: max_chars must be an int >= 1; got {max_chars!r}"
        )
    pairs = _catalog_pairs(key, max_chars, bool(keep_identical))
    return [(t, s) for s, t in pairs] if swap else list(pairs)


def _tokenize_zh(text: str) -> list[str]:
    # One token per character; runs of Latin letters/digits (names such as "Git",
    # "HTML") stay whole words, lowercased like the English side.
    text = normalize_space(text).lower()
    return re.findall(r"[a-z0-9]+|\S", text)


def tokenize_for(text: str, lang: str) -> list[str]:
    """Tokenise ``text`` of language ``lang``.

    ``"en"``/``"fr"``: lowercased words and punctuation marks
    (:func:`~numrnn.data.tokenize.tokenize_words`; "l'éditeur" -> ``["l", "'",
    "éditeur"]``).  ``"zh"``: one token per character (white space dropped), with
    embedded runs of ASCII letters and digits kept as single lowercased words.

    Raises:
        ValueError: ``lang`` is not ``"en"``, ``"fr"`` or ``"zh"``.
    """
    if lang in ("en", "fr"):
        return tokenize_words(text, lower=True)
    if lang == "zh":
        return _tokenize_zh(text)
    raise ValueError(f"tokenize_for: lang must be 'en', 'fr' or 'zh'; got {lang!r}")


def translation_tokenizers(pair: str):
    """``(source_tokenizer, target_tokenizer)`` callables for ``pair`` ("en-fr", "zh-en", ...).

    Raises:
        ValueError: ``pair`` is not of the form ``"xx-yy"`` with known languages.
    """
    parts = pair.split("-") if isinstance(pair, str) else []
    if len(parts) != 2 or any(p not in ("en", "fr", "zh") for p in parts):
        raise ValueError(
            f"translation_tokenizers: pair must look like 'en-fr' or 'zh-en'; got {pair!r}"
        )
    src, tgt = parts
    return (lambda s: tokenize_for(s, src)), (lambda s: tokenize_for(s, tgt))
