"""Running and importing the scripts of examples/ from their tests.

A script runs as a reader would run it: a child process of this Python, in the
repository root, importing this checkout's numrnn (the root first on
``PYTHONPATH``), with matplotlib's file-only backend (``MPLBACKEND=Agg``) so
that no window opens.  Or it is imported as a module (its command line not run),
to test its hand-written pieces one by one.
"""

import importlib.util
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")


def script(name):
    """The path of ``examples/<name>``."""
    return os.path.join(EXAMPLES, name)


def run_example(name, *args, timeout=120):
    """Run ``python examples/<name> *args``; the finished process, its output as text."""
    path = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, script(name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": path, "MPLBACKEND": "Agg"},
    )


def load_example(name):
    """``examples/<name>`` imported as the module ``<stem>_example``.

    examples/ goes on sys.path first: the scripts import their shared helpers
    (``_cli``, ``_classify``) from it.
    """
    if EXAMPLES not in sys.path:
        sys.path.insert(0, EXAMPLES)
    spec = importlib.util.spec_from_file_location(name[:-3] + "_example", script(name))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
