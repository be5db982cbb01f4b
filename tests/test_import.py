"""numrnn imports and runs with NumPy only."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numrnn


def test_import_and_train_step_without_torch():
    code = textwrap.dedent("""
        import sys

        class NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked for this test")
                return None

        sys.meta_path.insert(0, NoTorch())
        import numpy as np
        import numrnn
        m = numrnn.LSTM(3, 4, num_layers=2, bidirectional=True, seed=0)
        out, (h, c) = m(np.ones((5, 2, 3), np.float32), lengths=[5, 2])
        dx, (dh, dc) = m.backward(np.ones_like(out))
        assert dx.shape == (5, 2, 3) and "torch" not in sys.modules
        print("ok")
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_every_public_module_is_reachable_from_import_numrnn():
    # Every module file under numrnn/ (not private, not a __main__) must be an attribute
    # chain from the package after a bare ``import numrnn`` in a fresh interpreter.
    root = Path(numrnn.__file__).parent
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts):
            continue
        if parts[:2] == ("numrnn", "gradcheck") and len(parts) > 2:
            continue  # numrnn.gradcheck is the function; its files are imported by name
        names.append(".".join(parts))
    assert "numrnn.data.vocab" in names  # the listing itself works
    code = textwrap.dedent("""
        import json, sys
        import numrnn
        missing = []
        for name in json.loads(sys.argv[1]):
            obj = numrnn
            for part in name.split(".")[1:]:
                obj = getattr(obj, part, None)
            if obj is None:
                missing.append(name)
        print(json.dumps(missing))
    """)
    res = subprocess.run(
        [sys.executable, "-c", code, json.dumps(names)], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == [], "not reachable after `import numrnn`"


def test_gradcheck_is_the_function_after_its_files_are_imported():
    # importing a file of the package by name must not rebind numrnn.gradcheck
    from numrnn.gradcheck.report import GradcheckReport  # noqa: F401

    assert numrnn.gradcheck.__name__ == "gradcheck" and callable(numrnn.gradcheck)
