"""Rules of the package's layout that a reader relies on, checked on the source.

No file in ``numrnn/`` is longer than 500 lines, and no function is longer than 60
lines of code (its docstring not counted) unless its docstring says why, in a
sentence that starts "Long because" or "Longer than 60 lines because" (or
"Longer than 60 lines:") and goes on to give the reason (CONTRIBUTING.md).

torch is imported only by the array namespace (``backend.py``), the converter
(``interop.py``) and the data-parallel layer, whose process group is
``torch.distributed`` (``distributed/``), and nothing rewrites code behind the reader's back: no
``__init_subclass__``, no module-level ``__getattr__``, no assignment to a
module's or an object's ``__class__``.
"""

import ast
import inspect
import re
from pathlib import Path

import pytest

import numrnn

ROOT = Path(numrnn.__file__).parent
FILES = sorted(ROOT.rglob("*.py"))
TORCH_PLACES = ("backend.py", "interop.py", "distributed/")  # a folder ends with "/"


def may_import_torch(rel):
    return any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in TORCH_PLACES)


def _tree(path):
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_walk_sees_the_package():
    names = {p.relative_to(ROOT).as_posix() for p in FILES}
    assert {"backend.py", "interop.py", "nn/module.py", "gradcheck/check.py"} <= names


def torch_imports(tree):
    """Line numbers of the ``import torch`` / ``from torch ...`` statements of ``tree``."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mods = [node.module or ""] if node.level == 0 else []
        else:
            continue
        if any(m == "torch" or m.startswith("torch.") for m in mods):
            lines.append(node.lineno)
    return lines


def magic(tree):
    """``(line, what)`` for each module ``__getattr__``, ``__init_subclass__``, ``__class__ =``."""
    found = [
        (node.lineno, "module __getattr__")
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
    ]
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "__init_subclass__":
            found.append((node.lineno, "__init_subclass__"))
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Attribute) and t.attr == "__class__" for t in targets):
                found.append((node.lineno, "assigns __class__"))
    return sorted(found)


def test_torch_is_imported_only_by_the_backend_interop_and_distributed():
    offenders = [
        f"{p.relative_to(ROOT).as_posix()}:{line}"
        for p in FILES
        if not may_import_torch(p.relative_to(ROOT).as_posix())
        for line in torch_imports(_tree(p))
    ]
    assert offenders == []


def test_no_metaprogramming():
    offenders = [
        f"{p.relative_to(ROOT).as_posix()}:{line} {what}"
        for p in FILES
        for line, what in magic(_tree(p))
    ]
    assert offenders == []


def test_the_checks_can_fail(tmp_path):
    # The same walks flag a file that breaks each rule.
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import sys\n"
        "from torch import nn\n"
        "def __getattr__(name):\n    return name\n"
        "class A:\n    def __init_subclass__(cls):\n        pass\n"
        "sys.modules[__name__].__class__ = type(sys)\n"
    )
    tree = _tree(bad)
    assert torch_imports(tree) == [2]
    assert magic(tree) == [
        (3, "module __getattr__"),
        (6, "__init_subclass__"),
        (8, "assigns __class__"),
    ]


# The layers in import order (README "Layout"): each may import only from those before it.
LAYERS = [
    "backend",
    "rng",
    "data",
    "reference",
    "kernels",
    "functional",
    "nn",
    "optim",
    "models",
    "metrics",
    "checkpoint_format",
    "checkpoint_files",
    "checkpoint_fit",
    "io",
    "interop",
    "train",
    "distributed",
    "study",
    "diagnosis",
    "gradcheck",
    "trace",
    "cli",
]


def upward_imports(path, root=ROOT):
    """``(line, target layer)`` for each relative import of ``path`` that goes up the layers."""
    rel = path.relative_to(root)
    source = rel.parts[0].removesuffix(".py")
    package = ("numrnn", *rel.parts[:-1])  # the package the file's relative imports start in
    found = []
    for node in ast.walk(_tree(path)):
        if not (isinstance(node, ast.ImportFrom) and node.level > 0):
            continue
        base = package[: len(package) - (node.level - 1)]
        full = [*base, *(node.module.split(".") if node.module else [])]
        targets = [full[1]] if len(full) > 1 else [a.name for a in node.names]
        for target in targets:
            known = source in LAYERS and target in LAYERS
            if known and LAYERS.index(target) > LAYERS.index(source):
                found.append((node.lineno, target))
    return found


def test_each_layer_imports_only_from_the_layers_before_it():
    offenders = [
        f"{p.relative_to(ROOT).as_posix()}:{line} imports {target}"
        for p in FILES
        for line, target in upward_imports(p)
    ]
    assert offenders == []


def test_an_upward_import_is_found(tmp_path):
    # data/ importing from nn/ goes up the layers; nn/ importing from data/ does not.
    pkg = tmp_path / "numrnn"
    (pkg / "data").mkdir(parents=True)
    (pkg / "nn").mkdir()
    (pkg / "data" / "bad.py").write_text("from ..nn import Module\n")
    (pkg / "nn" / "good.py").write_text("from ..data import batches\nfrom . import module\n")
    assert upward_imports(pkg / "data" / "bad.py", root=pkg) == [(1, "nn")]
    assert upward_imports(pkg / "nn" / "good.py", root=pkg) == []


MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60
# The docstring sentence that gives a long function's reason: the marker, then the reason.
REASON = re.compile(r"\b(long because|longer than 60 lines(:| because))\s+\w", re.IGNORECASE)


def code_lines(node):
    """Lines of a function from its ``def`` (decorators not counted) to its end, less the docstring."""
    n = node.end_lineno - node.lineno + 1
    first = node.body[0]
    docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    if docstring and isinstance(first.value.value, str):
        n -= first.end_lineno - first.lineno + 1
    return n


def long_functions(tree):
    """``(line, name, lines)`` of each function over the limit whose docstring gives no reason."""
    return [
        (node.lineno, node.name, code_lines(node))
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and code_lines(node) > MAX_FUNCTION_LINES
        and not REASON.search(ast.get_docstring(node) or "")
    ]


def test_no_file_is_over_500_lines():
    offenders = {
        p.relative_to(ROOT).as_posix(): n
        for p in FILES
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES
    }
    assert offenders == {}


def test_no_function_is_over_60_lines_without_a_reason():
    offenders = [
        f"{p.relative_to(ROOT).as_posix()}:{line} {name} ({n} lines)"
        for p in FILES
        for line, name, n in long_functions(_tree(p))
    ]
    assert offenders == []


def test_the_length_check_can_fail(tmp_path):
    # 61 lines of code after the docstring fail; 60 pass; 61 with a reason pass;
    # the marker alone, with no reason after it, does not count.
    def function(name, body_lines, doc):
        body = "".join(f"    x{i} = {i}\n" for i in range(body_lines - 2))
        return f"def {name}():\n    {doc!r}\n{body}    return 0\n"

    bad = tmp_path / "long.py"
    bad.write_text(
        function("over", 61, "Plain.\n\nMore text.")
        + function("at_limit", 60, "Plain.")
        + function("explained", 61, "Sum.\n\nLong because each step is one line.")
        + function("explained_too", 61, "Sum.\n\nLonger than 60 lines: a flat list.")
        + function("marker_only", 61, "Sum. Long because")
    )
    found = [(name, n) for _, name, n in long_functions(_tree(bad))]
    assert found == [("over", 61), ("marker_only", 61)]


# The public constructors (the classes each package exports) carry type hints on every
# argument, so that an editor shows what each one takes.
HINTED = [numrnn.nn, numrnn.optim, numrnn.optim.lr_scheduler, numrnn.models]


def unhinted_arguments(cls):
    """Names of the arguments of ``cls.__init__`` (its own, not inherited) without a hint."""
    if "__init__" not in vars(cls):
        return []
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return [p.name for p in params if p.annotation is inspect.Parameter.empty]


@pytest.mark.parametrize("package", HINTED, ids=lambda m: m.__name__)
def test_public_constructors_are_type_hinted(package):
    classes = [getattr(package, n) for n in package.__all__]
    offenders = {
        c.__name__: unhinted_arguments(c)
        for c in classes
        if inspect.isclass(c) and unhinted_arguments(c)
    }
    assert offenders == {}


def test_an_unhinted_argument_is_found():
    class Hinted:
        def __init__(self, a: int, *, b: float = 0.0) -> None:
            pass

    class Unhinted(Hinted):
        def __init__(self, a, b: int = 1, **kwargs):
            pass

    class Inherits(Unhinted):
        pass

    assert unhinted_arguments(Hinted) == []
    assert unhinted_arguments(Unhinted) == ["a", "kwargs"]
    assert unhinted_arguments(Inherits) == []  # judged where it is written
