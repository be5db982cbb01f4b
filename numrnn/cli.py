"""The ``numrnn`` command: one entry point for the package's tools.

``numrnn TOOL [ARGS...]`` (or ``python -m numrnn TOOL [ARGS...]``) runs one tool
with its own arguments; ``numrnn --help`` lists the tools and ``numrnn TOOL
--help`` shows a tool's options.  Each tool is a plain ``main(argv) -> int``
in the module that holds the tool's code.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

__all__ = ["TOOLS", "main"]


def _gradcheck(argv: Sequence[str]) -> int:
    from .gradcheck.cli import main as gradcheck_main

    return gradcheck_main(list(argv))


def _trace(argv: Sequence[str]) -> int:
    from .trace import main as trace_main

    return trace_main(list(argv))


def _checkpoint(argv: Sequence[str]) -> int:
    from .io import CheckpointError, read_header

    parser = argparse.ArgumentParser(
        prog="numrnn checkpoint",
        description="Check a checkpoint written by numrnn.save and print its header as JSON "
        "(format, parameter shapes, optimiser and scheduler state, your metadata); "
        "exit status 1 when the file is not a valid checkpoint.",
    )
    parser.add_argument("path", help="the .npz file")
    args = parser.parse_args(list(argv))
    try:
        header = read_header(args.path)
    except CheckpointError as err:
        print(f"numrnn checkpoint: {err}", file=sys.stderr)
        return 1
    print(json.dumps(header, indent=2, sort_keys=True))
    return 0


#: tool name -> (one line for ``numrnn --help``, the tool's ``main(argv) -> int``)
TOOLS: dict[str, tuple[str, Callable[[Sequence[str]], int]]] = {
    "gradcheck": (
        "check a built-in layer's hand-written gradients against central differences",
        _gradcheck,
    ),
    "trace": (
        "print every number of a tiny RNN, LSTM or GRU forward and backward (BPTT by hand)",
        _trace,
    ),
    "checkpoint": ("validate a checkpoint file and print its header", _checkpoint),
}


def _parser() -> argparse.ArgumentParser:
    width = max(len(name) for name in TOOLS)
    listing = "\n".join(f"  {name:<{width}}  {line}" for name, (line, _) in TOOLS.items())
    parser = argparse.ArgumentParser(
        prog="numrnn",
        description="Tools of numrnn, recurrent networks with hand-written BPTT in NumPy.",
        epilog=f"tools:\n{listing}\n\n'numrnn TOOL --help' shows the options of one tool.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("tool", choices=list(TOOLS), metavar="TOOL", help="the tool to run")
    parser.add_argument(
        "args", nargs=argparse.REMAINDER, metavar="ARGS", help="the tool's own arguments"
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"numrnn {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``numrnn TOOL ARGS...``; returns the tool's exit status.

    Everything after the tool's name goes to the tool unchanged, options
    included; without a known tool name, the options are ``--help`` and
    ``--version``, and anything else is an error (exit status 2).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in TOOLS:
        return TOOLS[argv[0]][1](argv[1:])
    _parser().parse_args(argv)  # prints help or version and exits, or exits 2 on an error
    return 2  # pragma: no cover - parse_args always exits here: a tool name was not given
