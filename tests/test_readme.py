"""Every Python block of the READMEs runs as written and prints what the README shows.

The blocks of one document run in order in one fresh interpreter, sharing their
names the way a reader goes down the page, with ``import numrnn`` and nothing
else prepared.  A block's printed text must match the ``output`` block that
follows it directly (compared as doctest does, with ``...`` standing for any text
and runs of whitespace equal); a block with no ``output`` block must print
nothing.  Two kinds of block are read, not run, so they must parse: a block
marked ```` ```python excerpt ```` (a fragment that needs names the page does not
define), and a block whose first line is a comment naming a file of the
repository (``# numrnn/reference/lstm.py``), which quotes that file with ``...``
for lines left out (``test_readme_quotes.py`` checks it against the file).  A
block that needs torch, matplotlib or tqdm is skipped when that package is missing.
"""

from __future__ import annotations

import ast
import doctest
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ("README.md", "examples/exercises/README.md")
OPTIONAL = ("torch", "matplotlib", "tqdm")

# A fenced block, possibly indented inside a list item: indent, info string, body.
_FENCE = re.compile(r"^( *)```([^\n`]*)\n(.*?)^\1```[ \t]*$", re.S | re.M)


_QUOTE = re.compile(r"# (?:numrnn|examples)/[\w/]+\.py\s*\n")


def _body(match):
    """The block's text with the fence's indentation removed from every line."""
    indent = len(match.group(1))
    return "".join(line[indent:] for line in match.group(3).splitlines(keepends=True))


# Runs in the child: reads the blocks as JSON on stdin, executes each with its
# stdout captured, and writes one JSON result per block to the real stdout.
_RUNNER = r"""
import contextlib, io, json, sys, traceback
blocks = json.load(sys.stdin)
optional = set(sys.argv[1].split(","))
namespace = {"__name__": "__main__"}
results = []
for block in blocks:
    buffer = io.StringIO()
    result = {"status": "ok"}
    try:
        with contextlib.redirect_stdout(buffer):
            exec(compile(block["code"], block["where"], "exec"), namespace)
    except ModuleNotFoundError as err:
        if (err.name or "").split(".")[0] in optional:
            result = {"status": "skip", "detail": f"needs {err.name}"}
        else:
            result = {"status": "error", "detail": traceback.format_exc()}
    except BaseException:
        result = {"status": "error", "detail": traceback.format_exc()}
    result["stdout"] = buffer.getvalue()
    results.append(result)
sys.__stdout__.write(json.dumps(results))
"""


def python_blocks(relpath):
    """The ``python`` blocks of a Markdown file, each with its expected output.

    Returns a list of dicts: ``where`` (``file:line``), ``code``, ``excerpt`` (True
    for an excerpt or a quote of a source file) and ``expected`` (the text of an ``output``
    block that follows directly, or None).
    """
    text = (ROOT / relpath).read_text(encoding="utf-8")
    fences = list(_FENCE.finditer(text))
    blocks = []
    for i, m in enumerate(fences):
        info = m.group(2).split()
        if not info or info[0] != "python":
            continue
        expected = None
        if i + 1 < len(fences):
            nxt = fences[i + 1]
            between = text[m.end() : nxt.start()]
            if nxt.group(2).strip() == "output" and not between.strip():
                expected = _body(nxt)
        line = text[: m.start()].count("\n") + 1
        blocks.append(
            {
                "where": f"{relpath}:{line}",
                "code": _body(m),
                "excerpt": "excerpt" in info[1:] or bool(_QUOTE.match(_body(m))),
                "expected": expected,
            }
        )
    return blocks


_RESULTS = {}


def run_blocks(blocks, optional, cwd, timeout):
    """Run ``blocks`` one after another in one fresh interpreter (``_RUNNER``), in ``cwd``.

    ``optional``: the packages whose absence skips a block.  Asserts the runner
    itself exited 0; returns its per-block results, in order.
    """
    res = subprocess.run(
        [sys.executable, "-c", _RUNNER, ",".join(optional)],
        input=json.dumps(blocks),
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def run_document(relpath, tmp_path_factory):
    """Run the document's runnable blocks once (cached) and return their results."""
    if relpath not in _RESULTS:
        runnable = [b for b in python_blocks(relpath) if not b["excerpt"]]
        results = run_blocks(runnable, OPTIONAL, tmp_path_factory.mktemp("readme"), timeout=600)
        _RESULTS[relpath] = dict(zip((b["where"] for b in runnable), results))
    return _RESULTS[relpath]


ALL_BLOCKS = [b for doc in DOCUMENTS for b in python_blocks(doc)]


def test_the_documents_have_python_blocks():
    # Guards the parser: a change of fence syntax must not make every test vanish.
    assert sum(not b["excerpt"] for b in python_blocks("README.md")) >= 5
    assert python_blocks("examples/exercises/README.md")


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=[b["where"] for b in ALL_BLOCKS])
def test_block(block, tmp_path_factory):
    if block["excerpt"]:
        ast.parse(block["code"], filename=block["where"])
        return
    doc = block["where"].rsplit(":", 1)[0]
    result = run_document(doc, tmp_path_factory)[block["where"]]
    if result["status"] == "skip":
        pytest.skip(f"{block['where']} {result['detail']}")
    assert result["status"] == "ok", f"{block['where']} raised:\n{result['detail']}"
    want = block["expected"] or ""
    got = result["stdout"]
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    assert checker.check_output(want, got, flags), (
        f"{block['where']} printed\n{got}\nbut the README shows\n{want}"
    )


def test_output_comparison_can_fail():
    # The comparison above is doctest's; make sure it rejects a wrong number.
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    assert checker.check_output("(128, 32)\n", "(128,  32)\n", flags)
    assert not checker.check_output("(128, 32)\n", "(128, 33)\n", flags)
    assert checker.check_output("loss ...\n", "loss 4.17\n", flags)


def test_a_missing_optional_package_skips_and_any_other_error_fails(tmp_path):
    # The runner itself: a block whose optional package is absent is skipped, an import
    # error of any other package fails, and names carry from block to block.
    blocks = [
        {"where": "doc:1", "code": "x = 2\nprint(x)\n"},
        {"where": "doc:5", "code": "import numrnn_absent_optional\n"},
        {"where": "doc:9", "code": "import numrnn_absent_other\n"},
        {"where": "doc:13", "code": "print(x + 1)\n"},
    ]
    results = run_blocks(blocks, ["numrnn_absent_optional"], tmp_path, timeout=120)
    got = [(r["status"], r["stdout"]) for r in results]
    assert got == [("ok", "2\n"), ("skip", ""), ("error", ""), ("ok", "3\n")]
