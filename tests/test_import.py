"""numrnn imports and runs with NumPy only."""

import subprocess
import sys
import textwrap


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
