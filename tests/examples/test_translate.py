"""examples/translate.py runs end to end (--dry-run: a tiny subset, one epoch, tiny models)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "translate.py"


def test_translate_dry_run(tmp_path):
    from numrnn.data import MissingPackageError, load_translation_pairs

    try:
        load_translation_pairs("en-fr")
    except MissingPackageError as err:
        pytest.skip(str(err))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = tmp_path / "out"
    # a dry run takes ~3 s; 30 s leaves room for a busy machine
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    assert "held-out corpus BLEU-4" in text
    for name in ("gru-attn", "lstm2"):
        assert name in text
    assert "sample held-out translations" in text
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert "loss_curves.png" in pngs
    assert any(p.startswith("attention_") for p in pngs)
