"""Small helpers the examples share for their figures (matplotlib is optional)."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["moving_average", "pyplot", "save_figure"]


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (files only), or None with a note if absent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install matplotlib): no figure written")
        return None
    return plt


def moving_average(values, window=None):
    """``(x, y)`` of a trailing moving average; the window defaults to 1% of the length.

    ``x`` holds the 1-based index of the last value in each window, so the curve
    lines up with the raw values it smooths.
    """
    values = np.asarray(values, dtype=np.float64)
    k = max(1, len(values) // 100) if window is None else max(1, int(window))
    k = min(k, max(1, len(values)))
    y = np.convolve(values, np.ones(k) / k, mode="valid")
    return np.arange(len(y)) + k, y


def save_figure(fig, path, dpi=110):
    """Write ``fig`` to ``path`` atomically: into a temporary file beside it, then renamed.

    A run stopped while saving leaves the previous figure, never half a file.  The
    format follows ``path``'s extension, as ``savefig`` does.
    """
    root, ext = os.path.splitext(os.fspath(path))
    tmp = f"{root}.tmp{ext}"
    try:
        fig.savefig(tmp, dpi=dpi)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
