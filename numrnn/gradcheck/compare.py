"""Central differences for one tensor, compared entry by entry with the analytic gradient."""

from __future__ import annotations

import numpy as np

from .report import GradcheckFailure, GradcheckRow

_F64 = np.dtype(np.float64)
_UNIT_ROUNDOFF = float(np.finfo(np.float64).eps)  # u = 2**-52
_TINY = float(np.finfo(np.float64).tiny)


def _select_entries(size, analytic_flat, max_entries, rng):
    """All entries of a small tensor; for a large one a seeded sample of ``max_entries``
    that always includes the entry of largest analytic magnitude."""
    if max_entries is None or size <= max_entries:
        return np.arange(size)
    top = int(np.nanargmax(np.abs(analytic_flat))) if np.any(np.isfinite(analytic_flat)) else 0
    others = rng.choice(size - 1, size=max_entries - 1, replace=False)
    others = others + (others >= top)  # distinct, skipping ``top``
    return np.sort(np.concatenate([[top], others]))


def _central_differences(array, flat_idx, loss, eps):
    r"""``(L(x + h e_j) - L(x - h e_j)) / (h_+ + h_-)`` for each entry ``j`` of ``flat_idx``.

    ``array`` is perturbed in place and restored bit for bit, even if ``loss`` raises;
    the divisor is the step actually taken in floating point, not the nominal ``eps``.
    """
    shape = tuple(array.shape)
    numeric = np.empty(len(flat_idx))
    for k, fi in enumerate(flat_idx):
        idx = np.unravel_index(fi, shape)
        orig = array[idx]
        try:
            up, down = orig + eps, orig - eps
            array[idx] = up
            l_up = loss()
            array[idx] = down
            l_down = loss()
        finally:
            array[idx] = orig
        numeric[k] = (l_up - l_down) / (up - down)
    return numeric


def _shape_note(shape, got):
    """``shape (5, 4) where (4, 5) is expected``, with ``: transposed?`` when ``got`` is
    ``shape`` reversed (the usual cause: a product written ``a.T @ b`` for ``b.T @ a``)."""
    note = f"shape {got} where {shape} is expected"
    if len(shape) >= 2 and got == shape[::-1]:
        note += ": transposed?"
    return note


def _nonfinite_note(analytic):
    """``analytic gradient has NaN at (i, j)`` for the first non-finite entry in C order
    (``inf`` or ``-inf`` when that entry is infinite), with the count when there are more."""
    bad = np.flatnonzero(~np.isfinite(analytic.reshape(-1)))
    idx = tuple(int(i) for i in np.unravel_index(bad[0], analytic.shape))
    value = analytic.reshape(-1)[bad[0]]
    what = "NaN" if np.isnan(value) else ("inf" if value > 0 else "-inf")
    note = f"analytic gradient has {what} at {idx}"
    if len(bad) > 1:
        note += f" ({len(bad)} of {analytic.size} entries not finite)"
    return idx, float(value), note


def _unchecked(name, kind, shape, note, index=(), analytic=float("nan")):
    """The failing row of a tensor that could not be compared (``note`` says why): a
    gradient of the wrong shape, or one that is not finite.  Nothing was checked, so the
    error columns are NaN (printed as ``-``) and ``tol_ratio`` is infinite."""
    nan = float("nan")
    failure = GradcheckFailure(name, index, analytic, nan, nan, nan, nan, note=note)
    return GradcheckRow(
        name,
        kind,
        shape,
        0,
        int(np.prod(shape)),
        nan,
        index,
        analytic,
        nan,
        nan,
        float("inf"),
        False,
        num_failed=0,
        first_failure=failure,
        note=note,
    )


def _compare(name, kind, array, analytic, loss, eps, rtol, atol, max_entries, rng, note=""):
    """Central differences on the selected entries of ``array`` (perturbed in place, restored)."""
    shape = tuple(array.shape)
    size = int(array.size)
    if analytic is not None and tuple(analytic.shape) != shape:
        return _unchecked(name, kind, shape, _shape_note(shape, tuple(analytic.shape)))
    if analytic is None:
        analytic = np.zeros(shape)
        note = note or "no gradient returned; taken as zero"
    a_flat = np.asarray(analytic, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(a_flat)):
        index, value, why = _nonfinite_note(a_flat.reshape(shape))
        return _unchecked(name, kind, shape, why, index, value)
    flat_idx = _select_entries(size, a_flat, max_entries, rng)
    numeric = _central_differences(array, flat_idx, loss, eps)
    a = a_flat[flat_idx]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        err = np.abs(a - numeric)
        big = np.maximum(np.abs(a), np.abs(numeric))
        rel = err / np.maximum(big, _TINY)
        tol = atol + rtol * big
        ratio = err / tol if atol > 0 else np.where(err == 0, 0.0, err / np.maximum(tol, _TINY))
    ok = err <= tol  # False for nan
    rel_for_max = np.where(np.isnan(rel), np.inf, rel)
    worst = int(np.argmax(rel_for_max)) if len(rel) else 0
    bad = np.flatnonzero(~ok)
    first = None
    if len(bad):
        b = int(bad[0])
        first = GradcheckFailure(
            name,
            tuple(int(i) for i in np.unravel_index(flat_idx[b], shape)),
            float(a[b]),
            float(numeric[b]),
            float(err[b]),
            float(rel[b]),
            float(tol[b]),
        )
    idx_tuples = [tuple(int(i) for i in np.unravel_index(fi, shape)) for fi in flat_idx]
    return GradcheckRow(
        name,
        kind,
        shape,
        len(flat_idx),
        size,
        float(rel[worst]) if len(rel) else 0.0,
        idx_tuples[worst] if len(rel) else (),
        float(a[worst]) if len(rel) else 0.0,
        float(numeric[worst]) if len(rel) else 0.0,
        float(np.max(err)) if len(err) else 0.0,
        float(np.max(np.where(np.isnan(ratio), np.inf, ratio))) if len(ratio) else 0.0,
        bool(np.all(ok)),
        int(len(bad)),
        first,
        note,
        (idx_tuples, a.copy(), numeric.copy()),
    )
