"""Code that README.md quotes from the library must be in the file it names, as written.

A quote is a ```python block whose first line is a comment naming a file of the
repository (``# numrnn/reference/lstm.py``).  A line ``...`` (at any indentation)
stands for lines left out; every run of lines between two ``...`` must appear in
the file as consecutive lines, with the same indentation, and the runs in the
file's order.  So a quote cannot drift from the code it shows.
"""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
SOURCE = re.compile(r"# ((?:numrnn|examples)/[\w/]+\.py)\s*$")


def quotes(text):
    """[(file, [runs of lines])] for every quoting block of ``text``."""
    found = []
    for block in BLOCK.findall(text):
        lines = block.rstrip("\n").split("\n")
        m = SOURCE.match(lines[0])
        if not m:
            continue
        runs, run = [], []
        for line in lines[1:]:
            if line.strip() == "...":
                if run:
                    runs.append(run)
                run = []
            else:
                run.append(line.rstrip())
        if run:
            runs.append(run)
        found.append((m.group(1), runs))
    return found


def find_in_order(file_lines, runs):
    """The first run of ``runs`` not found in ``file_lines`` after the previous one, or None."""
    pos = 0
    for run in runs:
        n = len(run)
        hit = next(
            (i for i in range(pos, len(file_lines) - n + 1) if file_lines[i : i + n] == run), None
        )
        if hit is None:
            return run
        pos = hit + n
    return None


README_QUOTES = quotes((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_readme_quotes_the_reference():
    assert any(path == "numrnn/reference/lstm.py" for path, _ in README_QUOTES)


@pytest.mark.parametrize("path,runs", README_QUOTES, ids=[q[0] for q in README_QUOTES])
def test_quote_matches_its_file(path, runs):
    source = ROOT / path
    assert source.is_file(), f"README quotes {path}, which does not exist"
    file_lines = [line.rstrip() for line in source.read_text(encoding="utf-8").split("\n")]
    missing = find_in_order(file_lines, runs)
    assert missing is None, f"README quotes lines not in {path} (or out of order):\n" + "\n".join(
        missing
    )


def test_a_drifted_quote_is_caught():
    text = (ROOT / "numrnn/reference/lstm.py").read_text(encoding="utf-8").split("\n")
    ((_, runs),) = quotes(
        "```python\n# numrnn/reference/lstm.py\n    do = dm * tanh_c\n    ...\n```"
    )
    assert find_in_order(text, runs) is None
    ((_, runs),) = quotes("```python\n# numrnn/reference/lstm.py\n    do = dm * tanh(c)\n```")
    assert find_in_order(text, runs) == ["    do = dm * tanh(c)"]
    # two runs in the wrong order
    ret = "    return dx, (dh_prev, dc_prev), {name: grads[name] for name in params}"
    dx = '    dx = da @ params["weight_ih"]  # (B, D)'
    ((_, runs),) = quotes(f"```python\n# numrnn/reference/lstm.py\n{dx}\n    ...\n{ret}\n```")
    assert find_in_order(text, runs) is None
    ((_, runs),) = quotes(f"```python\n# numrnn/reference/lstm.py\n{ret}\n    ...\n{dx}\n```")
    assert find_in_order(text, runs) == [dx]
