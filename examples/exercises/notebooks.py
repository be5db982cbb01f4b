"""Open the exercises as Jupyter notebooks, generated from the ``.py`` files.

    python examples/exercises/notebooks.py                  # every exercise -> notebooks/
    python examples/exercises/notebooks.py lstm_backward    # one
    python examples/exercises/notebooks.py --solutions      # the solutions, to compare

Each notebook has the exercise's docstring as its first (text) cell, its code as the
second cell (write your backward there), and the checker in the last cell.  The ``.py``
file stays the one source: regenerate the notebooks after pulling a new version
(a notebook that exists is overwritten only with ``--force``).
"""

from __future__ import annotations

import argparse
import ast
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from check import EXERCISES  # noqa: E402


def notebook(name, source_path):
    """The notebook (an ``nbformat`` node) of exercise ``name`` from its ``.py`` file."""
    import nbformat.v4 as nbf

    with open(source_path, encoding="utf-8") as f:
        source = f.read()
    tree = ast.parse(source)
    doc = ast.get_docstring(tree, clean=True) or name
    body = source
    if (
        tree.body
        and isinstance(tree.body[0], ast.Expr)
        and isinstance(tree.body[0].value, ast.Constant)
    ):
        body = "\n".join(source.splitlines()[tree.body[0].end_lineno :]).strip() + "\n"
    setup = f"import sys, types\nsys.path.insert(0, {HERE!r})  # the checker and numrnn's exercises"
    check = f"import check\ncheck.check_module({name!r}, types.SimpleNamespace(**globals()))"
    return nbf.new_notebook(
        cells=[
            nbf.new_markdown_cell("```\n" + doc + "\n```"),
            nbf.new_code_cell(setup),
            nbf.new_code_cell(body),
            nbf.new_code_cell(check),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", metavar="name", help="exercises (default: all)")
    p.add_argument("--solutions", action="store_true", help="the solutions' notebooks")
    p.add_argument(
        "--out",
        default=os.path.join(HERE, "notebooks"),
        help="folder to write (default: %(default)s)",
    )
    p.add_argument("--force", action="store_true", help="overwrite notebooks that exist")
    args = p.parse_args(argv)
    unknown = [n for n in args.names if n not in EXERCISES]
    if unknown:
        p.error(f"unknown exercise(s) {', '.join(unknown)}; choose from {', '.join(EXERCISES)}")
    import nbformat

    folder = os.path.join(HERE, "solutions") if args.solutions else HERE
    os.makedirs(args.out, exist_ok=True)
    for name in args.names or EXERCISES:
        path = os.path.join(args.out, f"{name}{'_solution' if args.solutions else ''}.ipynb")
        if os.path.exists(path) and not args.force:
            print(f"{path} exists (your work?); keep it, or pass --force to regenerate")
            continue
        nbformat.write(notebook(name, os.path.join(folder, f"{name}.py")), path)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
