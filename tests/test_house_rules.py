"""Rules of the package's layout that a reader relies on, checked on the source.

torch is imported only by the array namespace (``backend.py``), the converter
(``interop.py``) and the data-parallel layer, whose process group is
``torch.distributed`` (``distributed/``), and nothing rewrites code behind the reader's back: no
``__init_subclass__``, no module-level ``__getattr__``, no assignment to a
module's or an object's ``__class__``.
"""

import ast
from pathlib import Path

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
