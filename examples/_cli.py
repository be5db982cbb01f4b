"""What the example scripts share on the command line: argument types that refuse a bad
value before any work starts, ``--dry-run`` settings that never override an option given
explicitly, the guard that keeps a trained checkpoint from being replaced by a
shorter run, and the writing of their results and figures.

Argument types
--------------
Each type below is an ``argparse`` ``type=`` function: it turns the text into a value or
raises ``argparse.ArgumentTypeError``, which argparse reports as a usage error naming
the option (exit status 2), e.g. ``argument --epochs: must be an integer >= 1; got '0'``.
Numbers must be finite; intervals are written as in mathematics, ``(0, 1)`` open,
``[0, 1)`` half-open.

Checkpoints
-----------
Every checkpoint an example writes records ``example`` (the script's name) and ``step``
(the optimiser steps behind its weights) in its metadata.  :func:`existing_steps` reads
them from a checkpoint already at the target path before training starts, and
:func:`may_replace` decides after training: a run that took no step saves nothing, and
a run with fewer steps than the checkpoint it would replace keeps the old file unless
``--overwrite`` was given.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys

# -- argument types -----------------------------------------------------------------------


def _checked(text, kind, low, high, low_open, high_open):
    """``kind(text)`` if it is finite and inside the interval, else ``ArgumentTypeError``.

    ``low`` / ``high`` may be None (unbounded); ``low_open`` / ``high_open`` exclude
    the bound itself.  The message states the expected type and interval and the text given.
    """
    noun = "an integer" if kind is int else "a number"
    if low is not None and high is not None:
        want = f"{noun} in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    elif low is not None:
        want = f"{noun} {'>' if low_open else '>='} {low}"
    else:
        want = noun
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be {want}; got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be {want} (finite); got {text!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise argparse.ArgumentTypeError(f"must be {want}; got {text!r}")
    return value


def integer_at_least(low):
    """An ``argparse`` type: an integer ``>= low`` (e.g. ``integer_at_least(2)``)."""

    def parse(text):
        return _checked(text, int, low, None, False, False)

    return parse


def positive_int(text):
    """An integer >= 1 (sizes, counts, epochs, steps)."""
    return _checked(text, int, 1, None, False, False)


def nonnegative_int(text):
    """An integer >= 0 (seeds, optional counts where 0 means none)."""
    return _checked(text, int, 0, None, False, False)


def positive_float(text):
    """A finite number > 0 (learning rates, clipping norms, time budgets, temperatures)."""
    return _checked(text, float, 0, None, True, False)


def nonnegative_float(text):
    """A finite number >= 0 (weight decay, length normalisation)."""
    return _checked(text, float, 0, None, False, False)


def open_fraction(text):
    """A number in (0, 1): the share of the data held out, where both ends leave a part empty."""
    return _checked(text, float, 0, 1, True, True)


def rate(text):
    """A number in [0, 1): a dropout probability (1 would drop everything)."""
    return _checked(text, float, 0, 1, False, True)


def probability(text):
    """A number in [0, 1]: e.g. the teacher-forcing ratio."""
    return _checked(text, float, 0, 1, False, False)


def utf8_text_file(path):
    """The path of a readable UTF-8 text file (the text itself is read later).

    Refused with a message that says why: a missing path, a folder, an unreadable file,
    a UTF-16 file (recognised by its byte-order mark), a binary file (a NUL byte), or
    bytes that are not UTF-8 (the offset of the first bad byte is given).
    """
    if not os.path.exists(path):
        raise argparse.ArgumentTypeError(f"no such file: {path!r}")
    if os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{path!r} is a folder; a UTF-8 text file is needed")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise argparse.ArgumentTypeError(f"cannot read {path!r}: {err.strerror}") from None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise argparse.ArgumentTypeError(
            f"{path!r} is UTF-16 text; convert it to UTF-8 first "
            f"(e.g. iconv -f UTF-16 -t UTF-8 {path} > text.txt)"
        )
    if b"\x00" in data:
        raise argparse.ArgumentTypeError(
            f"{path!r} is not text: it holds NUL bytes (binary data, or UTF-16/32 without "
            "a byte-order mark); a UTF-8 text file is needed"
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise argparse.ArgumentTypeError(
            f"{path!r} is not UTF-8 text (byte {data[err.start]:#04x} at offset {err.start}); "
            "convert it to UTF-8 first"
        ) from None
    return path


def output_folder(path):
    """A folder to write into: it may not exist yet, but it must not be a file."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{path!r} exists and is not a folder")
    return path


def existing_file(path):
    """The path of an existing regular file (checkpoints are checked when they are read)."""
    if not os.path.exists(path):
        raise argparse.ArgumentTypeError(f"no such file: {path!r}")
    if not os.path.isfile(path):
        raise argparse.ArgumentTypeError(f"{path!r} is not a regular file")
    return path


def add_run_options(parser, out, what, quiet=None):
    """Add the options every training example shares: ``--out`` (default ``out``, the
    folder for ``what``), ``--overwrite``, ``--seed``, ``--dry-run`` and, when ``quiet``
    is its help text, ``--quiet``."""
    parser.add_argument("--out", type=output_folder, default=out, help=f"folder for {what}")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the checkpoint in --out even if it holds more training steps",
    )
    parser.add_argument(
        "--seed",
        type=nonnegative_int,
        default=0,
        help="seeds the split, the weights and the batch order",
    )
    parser.add_argument("--dry-run", action="store_true", help="a few seconds end to end (tests)")
    if quiet is not None:
        parser.add_argument("--quiet", action="store_true", help=quiet)


def add_study_options(parser, out, what, figures="the figures"):
    """Add the options every measuring example shares: ``--out`` (default ``out``, the
    folder for ``what``), ``--copy-figures DIR`` (also copy ``figures`` there, see
    :func:`copy_figures`), ``--seed`` and ``--dry-run``."""
    parser.add_argument("--out", type=output_folder, default=out, help=f"folder for {what}")
    parser.add_argument(
        "--copy-figures", type=output_folder, metavar="DIR", help=f"also copy {figures} into DIR"
    )
    parser.add_argument("--seed", type=nonnegative_int, default=0)
    parser.add_argument("--dry-run", action="store_true", help="a few seconds end to end (tests)")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """``--help`` with every option's default, and the description and epilog as written."""


def command_parser(prog, doc, command, epilog=False):
    """The parser of an example that trains by default and has a second command.

    ``doc`` is the script's docstring: its first paragraph is the description and, with
    ``epilog``, the rest follows the options as written.  The usage shows both forms,
    ``prog [options]`` and ``prog COMMAND ...`` as ``command`` spells it (e.g.
    ``"predict NAME [NAME ...]"``); ``--help`` shows every option's default.
    """
    return argparse.ArgumentParser(
        prog=prog,
        description=doc.split("\n\n")[0],
        usage=f"%(prog)s [options]\n       %(prog)s {command}",
        epilog=doc.split("\n\n", 1)[1] if epilog else None,
        formatter_class=HelpFormatter if epilog else argparse.ArgumentDefaultsHelpFormatter,
    )


def run_example(main, name, command, argv=None):
    """Run ``command(argv[1:])`` if the first argument is ``name``, else ``main(argv)``.

    ``argv`` defaults to ``sys.argv[1:]``: ``names.py predict Nguyen`` calls the example's
    ``predict(["Nguyen"])``, ``names.py --epochs 2`` its ``main(["--epochs", "2"])``.
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == name:
        return command(argv[1:])
    return main(argv)


def usage_error(prog, message):
    """Stop as argparse does for a misused command: ``prog: error: message``, exit status 2."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


# -- --dry-run ----------------------------------------------------------------------------


def apply_dry_run(parser, args, argv, settings):
    """Give ``args`` the small ``settings`` of a dry run, except for options given explicitly.

    ``settings`` maps option destinations (``"hidden_size"``) to dry-run values.  The
    options the user typed are found by parsing ``argv`` again with those defaults
    replaced by a marker object: an option that still holds the marker was not given.
    Prints one line saying what was set and what was kept as given.  Returns the dict
    of the settings applied.
    """
    not_given = object()  # not a str, so argparse never passes it through a type= function
    parser.set_defaults(**dict.fromkeys(settings, not_given))
    given = {d for d, v in vars(parser.parse_args(argv)).items() if v is not not_given}
    applied = {d: v for d, v in settings.items() if d not in given}
    for dest, value in applied.items():
        setattr(args, dest, value)

    def option(dest):
        return "--" + dest.replace("_", "-")

    line = "dry run: " + ", ".join(f"{option(d)} {v}" for d, v in applied.items())
    kept = [f"{option(d)} {getattr(args, d)}" for d in settings if d in given]
    if kept:
        line += "; kept as given: " + ", ".join(kept)
    print(line, flush=True)
    return applied


# -- checkpoints ---------------------------------------------------------------------------


def existing_steps(path, prog, overwrite):
    """The training steps recorded in the checkpoint at ``path`` (None if there is none).

    Called before training.  A file that is not a readable numrnn checkpoint, or one that
    does not record its steps, is never replaced silently: without ``overwrite`` the run
    stops here (exit status 1) with a message naming the file.  With ``overwrite`` the
    answer is 0 (anything may replace it).
    """
    from numrnn.io import CheckpointError, read_header

    if not os.path.lexists(path):
        return None
    if overwrite:
        return 0
    try:
        steps = read_header(path)["metadata"].get("step")
    except (CheckpointError, OSError) as err:  # OSError: a folder, a FIFO, no permission
        raise SystemExit(
            f"{prog}: {path} exists and is not a readable checkpoint ({err}); not replacing "
            "it: pass --overwrite to replace it, or choose another --out"
        ) from None
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise SystemExit(
            f"{prog}: {path} does not record how many steps it was trained for; not "
            "replacing it: pass --overwrite to replace it, or choose another --out"
        )
    print(f"{path} holds {steps:,} training steps; only a run with more replaces it")
    return steps


def may_replace(path, old_steps, new_steps, prog, taken=None):
    """Whether a checkpoint of ``new_steps`` may be written at ``path`` (prints why not).

    ``old_steps`` is :func:`existing_steps`'s answer; ``taken`` the steps this run took
    (default ``new_steps``; less when it resumed from a checkpoint).  Nothing is written
    after zero steps taken; a file with more steps than ``new_steps`` is kept.
    """
    if (new_steps if taken is None else taken) == 0:
        print(f"{prog}: no training step was taken; nothing saved to {path}", file=sys.stderr)
        return False
    if old_steps is not None and new_steps < old_steps:
        print(
            f"{prog}: {path} holds {old_steps:,} training steps and this run took {new_steps:,}: "
            "kept the old checkpoint (pass --overwrite to replace it, or choose another --out)",
            file=sys.stderr,
        )
        return False
    return True


def example_metadata(path, example, model_class, prog, option):
    """The metadata of the checkpoint at ``path``, checked to come from ``example``.

    A file that is not a numrnn checkpoint, or that was written by another example (its
    metadata's ``example``, or for older files without it, the class of the model it
    holds, differs from ``model_class``), stops the command with a usage error naming
    ``option`` (the argument that led to the file) and what the file is instead.
    """
    from numrnn.io import CheckpointError, read_header

    try:
        header = read_header(path)
    except CheckpointError as err:
        usage_error(prog, f"argument {option}: {err}")
    meta = header.get("metadata", {})
    held = header.get("model", {}).get("class")
    tag = meta.get("example")
    if tag == example or (tag is None and held == model_class):
        return meta
    what = f"was written by {tag}.py" if isinstance(tag, str) else f"holds a {held}"
    usage_error(prog, f"argument {option}: {path} {what}; a checkpoint of {example}.py is needed")


# -- results and figures -------------------------------------------------------------------


def write_json(path, obj, indent=2):
    """Write ``obj`` as JSON to ``path`` atomically (temporary file, then rename).

    ``indent`` as in ``json.dump``: 2 by default; None writes one compact line (long curves).
    """
    tmp = os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=indent)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_figure(fig, path, dpi=110, note="wrote"):
    """Lay ``fig`` out, write it to ``path`` and close it; then print ``note`` and the path.

    The file is written atomically (:func:`numrnn.study.plotting.save_figure`) at ``dpi``
    dots per inch; ``note=None`` prints nothing.
    """
    from numrnn.study.plotting import pyplot, save_figure

    fig.tight_layout()
    save_figure(fig, path, dpi=dpi)
    pyplot().close(fig)
    if note is not None:
        print(f"{note} {path}")


def copy_figures(paths, folder):
    """Copy each file of ``paths`` that exists into ``folder`` (made if needed; None: none).

    Returns the paths of the copies.  Figures are missing when matplotlib is not installed.
    """
    present = [path for path in paths if os.path.exists(path)]
    if folder is None or not present:
        return []
    os.makedirs(folder, exist_ok=True)
    copies = [os.path.join(folder, os.path.basename(path)) for path in present]
    for path, copy in zip(present, copies):
        shutil.copyfile(path, copy)
    return copies
