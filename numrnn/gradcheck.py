r"""Numerical gradient checking: hand-written backward passes against central differences.

``report = gradcheck(target, inputs)`` compares every gradient a backward pass
produces with a finite-difference estimate of the same derivative and returns a
:class:`GradcheckReport`: one row per checked tensor, with the worst entry, and a
verdict.  ``target`` is either a :class:`numrnn.Module` or a pair
``(forward_fn, backward_fn)`` in the ``op_forward`` / ``op_backward`` style of
:mod:`numrnn.functional`.

What is compared
----------------
The output of the forward (an array, or nested tuples of arrays such as an LSTM's
``out, (hn, cn)``) is reduced to a scalar with fixed random weights ``G`` of the
same structure (seeded, standard normal):

.. math::

    L(\theta) = \sum_{\text{leaves } k} \sum_i G_{k,i}\, y_{k,i}(\theta)

so :math:`\partial L/\partial y = G`.  The *analytic* gradient is what the
backward pass returns when given ``G`` as the upstream gradient; the *numeric*
gradient of an entry :math:`\theta_j` is the central difference

.. math::

    n_j = \frac{L(\theta + h e_j) - L(\theta - h e_j)}{h_+ + h_-},

where :math:`h_\pm` are the steps actually taken in float64 (``(x + eps) - x``
and ``x - (x - eps)``), not the nominal ``eps``.  Its truncation error is
:math:`O(\varepsilon^2 |L'''|)`, about :math:`10^{-12}` relative for
``eps=1e-6``, far below the rounding noise discussed next.

The pass criterion
------------------
An entry with analytic value ``a`` and numeric value ``n`` passes when

.. math::

    |a - n| \le \mathrm{atol} + \mathrm{rtol} \cdot \max(|a|, |n|),
    \qquad \mathrm{rtol} = 10^{-5},
    \qquad \mathrm{atol} = c \cdot \frac{u\, S}{\varepsilon},
    \quad S = \sum_{k,i} |G_{k,i}\, y_{k,i}|,

with :math:`u = 2^{-52}` the float64 machine epsilon and ``c = 100``
(``noise_factor``).  The reasoning:

* A forward evaluated in float64 returns :math:`L` with an absolute rounding
  error of order :math:`u S`: every term :math:`G_i y_i` of the sum carries a
  relative error of a few ``u``, and the terms do not cancel their errors the
  way they may cancel their values.  The difference of two such evaluations
  divided by :math:`2\varepsilon` therefore has noise of order
  :math:`u S / \varepsilon` (about ``2e-10 * S`` at ``eps=1e-6``), whatever
  the size of the entry being differentiated.  An entry whose true derivative
  is tiny or zero is dominated by that noise, and a pure relative error there
  means nothing; ``atol`` is the noise level times a safety factor
  ``c = 100`` for the depth of the computation (each output is the end of a
  chain of products and sums, hundreds deep for a recurrent layer over a
  sequence).  Measured on numrnn's correct RNN (tanh and relu), LSTM (with
  projection) and GRU layers and cells, with up to three layers, both
  directions, variable lengths, ``T`` up to 50, ``H`` up to 16 and
  saturating or exploding weights, the largest :math:`|a - n|` was 0.07 to
  0.65 times :math:`u S / \varepsilon`, so ``c = 100`` leaves a margin of more
  than two orders of magnitude against false alarms.
* Above the noise, a correct gradient agrees with the central difference to
  about :math:`10^{-8}` relative; ``rtol = 1e-5`` leaves a wide margin for that
  and is still a thousand times smaller than the errors this tool is for.
* Consequently a 1% error on any entry with :math:`|a| > 100.1\,\mathrm{atol}`
  fails (:math:`0.01|a| > \mathrm{atol} + 10^{-5} |a|`), and so does a whole
  tensor scaled by 1.01, a transposed or missing gradient, unless every entry
  of the tensor is within a factor 100 of the rounding noise of ``L``, where
  no finite difference can see anything.  The report prints ``atol`` so the
  threshold is visible.

The maximum relative error :math:`|a - n| / \max(|a|, |n|, \text{tiny})` is
reported for every tensor regardless; on a passing tensor a large value means
entries at the noise level (both ``a`` and ``n`` below ``atol``), which the
``tol ratio`` column (the worst :math:`|a - n| / (\mathrm{atol} + \mathrm{rtol}
\max(|a|, |n|))`, at most 1 for a pass) shows to be harmless.

Side effects
------------
None that outlive the call.  The module is put in ``eval()`` mode (dropout must
be deterministic for finite differences to mean anything) and its previous
training flags are restored afterwards; the perturbed forwards run under
:class:`numrnn.no_grad` so they keep no cache; pending caches from before the
call are set aside and put back, so the LIFO stack ends exactly as it began
(empty, normally); parameter values are restored bit for bit and the
parameters' ``.grad`` is restored to what it held before the call.  The caller's
input arrays are copied, never perturbed.

Command line
------------
``python -m numrnn.gradcheck lstm --num-layers 2 --bidirectional`` builds the
layer in float64 with random inputs and initial states, prints the table and
exits 0 when every gradient passes, 1 otherwise (see ``--help``).
"""

from __future__ import annotations

import argparse
import inspect
import math
import sys
from dataclasses import dataclass, field

import numpy as np

from .nn.module import Module, no_grad

__all__ = ["GradcheckFailure", "GradcheckReport", "GradcheckRow", "gradcheck", "main"]

_F64 = np.dtype(np.float64)
_UNIT_ROUNDOFF = float(np.finfo(np.float64).eps)  # u = 2**-52
_TINY = float(np.finfo(np.float64).tiny)


# -- the report ------------------------------------------------------------------------


@dataclass
class GradcheckFailure:
    """The first failing entry of the first failing tensor.

    ``index`` is the entry's position (a tuple, in C order the first that fails
    among those checked); ``tolerance`` is ``atol + rtol * max(|a|, |n|)``.
    """

    name: str
    index: tuple
    analytic: float
    numeric: float
    abs_error: float
    rel_error: float
    tolerance: float

    def __str__(self):
        return (
            f"{self.name}{list(self.index)}: analytic {self.analytic:.9g}, numeric "
            f"{self.numeric:.9g} (|a-n| {self.abs_error:.3g} > tolerance {self.tolerance:.3g}, "
            f"relative error {self.rel_error:.3g})"
        )


@dataclass
class GradcheckRow:
    """The check of one tensor (a parameter or a float input).

    Attributes:
        name: parameter name from ``named_parameters()`` or input name.
        kind: ``"parameter"`` or ``"input"``.
        shape: the tensor's shape.
        checked: number of entries compared (all of them, or a seeded sample).
        size: number of entries in the tensor.
        max_rel_error: max of ``|a - n| / max(|a|, |n|, tiny)`` over checked entries.
        index: where ``max_rel_error`` occurred; ``analytic`` and ``numeric`` are the values there.
        max_abs_error: max ``|a - n|``.
        tol_ratio: max of ``|a - n| / (atol + rtol * max(|a|, |n|))``; the row passes iff it is <= 1.
        passed: every checked entry within tolerance (and the gradient had the right shape).
        num_failed: how many checked entries are out of tolerance.
        first_failure: the first failing entry in C order, or None.
        note: why the row failed without a comparison (e.g. wrong gradient shape), or a remark.
        entries: ``(indices, analytic, numeric)`` of every checked entry, for inspection.
    """

    name: str
    kind: str
    shape: tuple
    checked: int
    size: int
    max_rel_error: float
    index: tuple
    analytic: float
    numeric: float
    max_abs_error: float
    tol_ratio: float
    passed: bool
    num_failed: int = 0
    first_failure: GradcheckFailure | None = None
    note: str = ""
    entries: tuple = field(default=(), repr=False)


@dataclass
class GradcheckReport:
    """Result of :func:`gradcheck`: one :class:`GradcheckRow` per checked tensor.

    ``passed`` is true when every row passed; ``bool(report)`` is the same.
    ``str(report)`` is an aligned table followed by a verdict line.
    ``skipped`` lists inputs not differentiated (integer arrays, None, ...), as
    ``(name, reason)``; ``warnings`` lists contract problems found on the way
    (a backward that wrote into its upstream gradient, caches left pending, ...).
    """

    rows: list
    eps: float
    rtol: float
    atol: float
    output_scale: float
    target: str = ""
    skipped: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def passed(self):
        return all(r.passed for r in self.rows)

    def __bool__(self):
        return self.passed

    @property
    def first_failure(self):
        """A :class:`GradcheckFailure` for the first failing row (in row order), or None."""
        for r in self.rows:
            if not r.passed:
                if r.first_failure is not None:
                    return r.first_failure
                return GradcheckFailure(
                    r.name, (), float("nan"), float("nan"), float("nan"), float("nan"), float("nan")
                )
        return None

    @property
    def entries_checked(self):
        return sum(r.checked for r in self.rows)

    def __str__(self):
        head = (
            "tensor",
            "shape",
            "checked",
            "max rel err",
            "at",
            "analytic",
            "numeric",
            "tol ratio",
            "",
        )
        body = []
        for r in self.rows:
            checked = f"{r.checked}" if r.checked == r.size else f"{r.checked}/{r.size}"
            body.append(
                (
                    r.name,
                    "x".join(map(str, r.shape)) or "()",
                    checked,
                    f"{r.max_rel_error:.2e}",
                    _fmt_index(r.index),
                    f"{r.analytic:.6g}",
                    f"{r.numeric:.6g}",
                    f"{r.tol_ratio:.3g}",
                    "ok" if r.passed else "FAIL" + (f" ({r.note})" if r.note else ""),
                )
            )
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
        right = {2, 3, 5, 6, 7}

        def line(cells):
            out = [
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths))
            ]
            return "  ".join(out).rstrip()

        lines = []
        if self.target:
            lines.append(f"gradcheck {self.target}")
        lines.append(
            f"eps={self.eps:g}  rtol={self.rtol:g}  atol={self.atol:.3g}  "
            f"(output scale sum|G*y| = {self.output_scale:.4g})"
        )
        lines.append(line(head))
        lines.append(line(["-" * w for w in widths]))
        lines.extend(line(b) for b in body)
        for name, reason in self.skipped:
            lines.append(f"not differentiated: {name} ({reason})")
        for w in self.warnings:
            lines.append(f"warning: {w}")
        n_fail = sum(not r.passed for r in self.rows)
        if self.passed:
            lines.append(
                f"PASSED: {len(self.rows)} tensors, {self.entries_checked} entries checked"
            )
        else:
            lines.append(
                f"FAILED: {n_fail} of {len(self.rows)} tensors; first failure {self.first_failure}"
            )
        return "\n".join(lines)

    __repr__ = __str__


def _fmt_index(index):
    return "(" + ",".join(str(i) for i in index) + ")"


# -- nested structures (arrays, tuples of arrays, ...) ----------------------------------


def _is_float_array(x):
    return isinstance(x, np.ndarray) and x.dtype.kind == "f"


def _copy_struct(obj):
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, (tuple, list)):
        return type(obj)(_copy_struct(o) for o in obj)
    return obj


def _map_struct(fn, obj):
    if isinstance(obj, (tuple, list)):
        return type(obj)(_map_struct(fn, o) for o in obj)
    return fn(obj)


def _array_leaves(obj):
    """Every ndarray in ``obj`` (depth first)."""
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [a for o in obj for a in _array_leaves(o)]
    return []


def _structs_equal(a, b):
    la, lb = _array_leaves(a), _array_leaves(b)
    return len(la) == len(lb) and all(
        x.shape == y.shape and np.array_equal(x, y, equal_nan=True) for x, y in zip(la, lb)
    )


def _check_inputs(inputs, names, where):
    """Refuse float arrays that are not float64 (nothing is cast silently)."""

    def visit(obj, name):
        if isinstance(obj, np.ndarray):
            if obj.dtype.kind == "f" and obj.dtype != _F64:
                raise TypeError(
                    f"gradcheck: {where} {name!r} has dtype {obj.dtype}; central differences need "
                    "float64 throughout: convert it with .astype(numpy.float64)"
                )
            if obj.dtype.kind == "c":
                raise TypeError(
                    f"gradcheck: {where} {name!r} is complex ({obj.dtype}); "
                    "only real float64 inputs can be checked"
                )
        elif isinstance(obj, (tuple, list)):
            for j, o in enumerate(obj):
                visit(o, f"{name}[{j}]")
        elif _is_torch(obj):
            raise TypeError(
                f"gradcheck: {where} {name!r} is a torch tensor; gradcheck runs on "
                "NumPy float64 arrays"
            )

    for obj, name in zip(inputs, names):
        visit(obj, name)


def _is_torch(x):
    mod = type(x).__module__
    return mod.startswith("torch")


def _output_weights(out, rng):
    """Random upstream gradients ``G`` with the structure of ``out`` (None for non-float leaves)."""

    def draw(y):
        if isinstance(y, np.ndarray):
            if y.dtype.kind != "f":
                return None
            if y.dtype != _F64:
                raise TypeError(
                    f"gradcheck: the forward returned an array of dtype {y.dtype}; with float64 "
                    "parameters and inputs the outputs must be float64 too"
                )
            return rng.standard_normal(y.shape)
        if y is None:
            return None
        if isinstance(y, (tuple, list)):
            return type(y)(draw(o) for o in y)
        raise TypeError(
            f"gradcheck: the forward returned a {type(y).__name__}; expected NumPy "
            "arrays or (nested) tuples of them"
        )

    return draw(out)


def _weighted_sum(G, out, absolute=False):
    """``sum_k sum_i G_k,i * y_k,i`` over the float leaves (``|G*y|`` when ``absolute``)."""
    if G is None:
        return 0.0
    if isinstance(G, np.ndarray):
        if not isinstance(out, np.ndarray) or out.shape != G.shape:
            got = out.shape if isinstance(out, np.ndarray) else type(out).__name__
            raise ValueError(
                f"gradcheck: the forward's output changed structure between calls "
                f"(expected an array of shape {G.shape}, got {got})"
            )
        prod = G * out
        return float(np.sum(np.abs(prod) if absolute else prod))
    if not isinstance(out, (tuple, list)) or len(out) != len(G):
        raise ValueError("gradcheck: the forward's output changed structure between calls")
    return float(sum(_weighted_sum(g, y, absolute) for g, y in zip(G, out)))


# -- names -------------------------------------------------------------------------------


def _positional_names(fn, n):
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for i in range(n):
        p = params[i] if i < len(params) else None
        if p is not None and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        else:
            names.append(f"inputs[{i}]")
    return names


def _leaf_names(obj, name):
    """Names of the leaves of one argument: ``hx`` becomes ``h0`` / ``(h0, c0)``, else ``name[j]``."""
    if name == "hx":
        if isinstance(obj, (tuple, list)) and len(obj) == 2:
            return (_leaf_names(obj[0], "h0"), _leaf_names(obj[1], "c0"))
        if not isinstance(obj, (tuple, list)):
            return "h0"
    if isinstance(obj, (tuple, list)):
        return type(obj)(_leaf_names(o, f"{name}[{j}]") for j, o in enumerate(obj))
    return name


# -- matching what backward returns to the inputs ----------------------------------------


def _match_grads(inputs, names, grads, where):
    """Pair every float leaf of ``inputs`` with its analytic gradient.

    Returns ``(checked, skipped)``: ``checked`` is a list of
    ``(name, leaf_array, analytic_or_None)``; ``skipped`` is ``(name, reason)``.
    """
    checked, skipped = [], []

    def visit(x, g, name):
        if isinstance(x, (tuple, list)):
            if g is None:
                g = (None,) * len(x)
            if not isinstance(g, (tuple, list)) or len(g) != len(x):
                desc = f"a tuple of {len(g)}" if isinstance(g, (tuple, list)) else type(g).__name__
                raise ValueError(
                    f"gradcheck: {where} returned {desc} for input {name!r}, which is "
                    f"a tuple of {len(x)}; the gradients must mirror the inputs"
                )
            for j, (xj, gj) in enumerate(zip(x, g)):
                visit(xj, gj, name[j] if isinstance(name, (tuple, list)) else f"{name}[{j}]")
        elif _is_float_array(x):
            if g is not None and not isinstance(g, np.ndarray):
                raise ValueError(
                    f"gradcheck: {where} returned a {type(g).__name__} as the gradient "
                    f"of {name!r}; expected a NumPy array of shape {x.shape} or None"
                )
            checked.append((name, x, g))
        else:
            if isinstance(x, np.ndarray):
                reason = f"{x.dtype} array"
            else:
                reason = "None" if x is None else type(x).__name__
            skipped.append((name, reason))

    for x, g, name in zip(inputs, grads, names):
        visit(x, g, name)
    return checked, skipped


def _normalize_returned(ret, n_inputs, where):
    """``backward``'s return value as a tuple with one entry per input."""
    if ret is None:
        return (None,) * n_inputs
    if n_inputs == 1 and not isinstance(ret, (tuple, list)):
        return (ret,)
    if not isinstance(ret, (tuple, list)):
        raise ValueError(
            f"gradcheck: {where} returned a single {type(ret).__name__} for "
            f"{n_inputs} inputs; it must return one gradient per input"
        )
    if len(ret) < n_inputs:
        raise ValueError(f"gradcheck: {where} returned {len(ret)} gradients for {n_inputs} inputs")
    # Extra entries belong to arguments left at their defaults (e.g. dh0 when hx=None).
    return tuple(ret[:n_inputs])


def _call_backward(module, G, unpack):
    """``module.backward(*G)`` for a tuple output whose parts are separate arguments
    (``RNN.backward(dout, dhx)``), ``module.backward(G)`` otherwise (``Linear``, or an
    ``LSTMCell`` taking ``(dh, dc)`` as one argument)."""
    if not isinstance(G, (tuple, list)):
        return module.backward(G)
    if unpack is None:
        try:
            params = list(inspect.signature(module.backward).parameters.values())
        except (TypeError, ValueError):
            params = []
        if any(p.kind == p.VAR_POSITIONAL for p in params):
            unpack = True
        else:
            positional = [
                p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
            unpack = len(positional) >= len(G)
    return module.backward(*G) if unpack else module.backward(G)


# -- the numerical comparison --------------------------------------------------------------


def _select_entries(size, analytic_flat, max_entries, rng):
    """All entries of a small tensor; for a large one a seeded sample of ``max_entries``
    that always includes the entry of largest analytic magnitude."""
    if max_entries is None or size <= max_entries:
        return np.arange(size)
    top = int(np.nanargmax(np.abs(analytic_flat))) if np.any(np.isfinite(analytic_flat)) else 0
    others = rng.choice(size - 1, size=max_entries - 1, replace=False)
    others = others + (others >= top)  # distinct, skipping ``top``
    return np.sort(np.concatenate([[top], others]))


def _compare(name, kind, array, analytic, loss, eps, rtol, atol, max_entries, rng, note=""):
    """Central differences on the selected entries of ``array`` (perturbed in place, restored)."""
    shape = tuple(array.shape)
    size = int(array.size)
    if analytic is not None and tuple(analytic.shape) != shape:
        return GradcheckRow(
            name,
            kind,
            shape,
            0,
            size,
            float("nan"),
            (),
            float("nan"),
            float("nan"),
            float("nan"),
            float("inf"),
            False,
            note=f"gradient has shape {tuple(analytic.shape)}, expected {shape}",
        )
    if analytic is None:
        analytic = np.zeros(shape)
        note = note or "no gradient returned; taken as zero"
    a_flat = np.asarray(analytic, dtype=np.float64).reshape(-1)
    flat_idx = _select_entries(size, a_flat, max_entries, rng)
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


# -- the public entry point -----------------------------------------------------------------


def gradcheck(
    target,
    inputs,
    eps=1e-6,
    *,
    kwargs=None,
    rtol=1e-5,
    atol=None,
    noise_factor=100.0,
    max_entries=200,
    seed=0,
    input_names=None,
    check_inputs=True,
    unpack_grad=None,
):
    r"""Check a module's or a forward/backward pair's gradients by central differences.

    The scalar differentiated is :math:`L = \sum G \odot y` over the output leaves,
    with seeded standard-normal weights ``G`` passed to backward as the upstream
    gradient.  An entry passes when :math:`|a - n| \le \mathrm{atol} + \mathrm{rtol}
    \max(|a|, |n|)`, with ``atol`` the rounding noise of the central difference,
    :math:`c\, u \sum |G \odot y| / \varepsilon` (``c = noise_factor``); the
    docstring of the module ``numrnn/gradcheck.py`` derives this and shows that a 1%
    error on any entry above ``100 * atol`` fails.

    Args:
        target: a :class:`numrnn.Module` with float64 parameters, or a pair
            ``(forward_fn, backward_fn)`` with ``out, cache = forward_fn(*inputs)`` and
            ``grads = backward_fn(dout, cache)``, one gradient per input (None for a
            non-differentiable one; a single array when there is one input).
        inputs: tuple of forward arguments: float64 arrays (differentiated), nested
            tuples of them (an LSTM's ``hx=(h0, c0)``), or anything else (integer
            indices, None: passed through, not differentiated).  A single array is
            taken as a 1-tuple.  For a module, ``module.backward`` must return
            gradients mirroring these arguments (``dx, dh0`` or ``dx, (dh0, dc0)``;
            extra trailing gradients for arguments left at their defaults are ignored).
        eps: the central-difference step (absolute).
        kwargs: keyword arguments for the module's forward (e.g. ``{"lengths": L}``);
            passed unchanged and held fixed (never differentiated).
        rtol: relative part of the tolerance.
        atol: absolute part; by default ``noise_factor * u * sum|G*y| / eps``, the
            rounding noise of the central difference.
        noise_factor: the factor ``c`` in the default ``atol``.
        max_entries: per tensor, check every entry up to this many, else a seeded random
            sample of this many that always includes the entry of largest analytic
            magnitude; None checks everything.
        seed: seeds the upstream gradients ``G`` and the sampling.
        input_names: names for the top-level inputs (default: the forward's argument
            names, ``hx`` shown as ``h0`` / ``c0``, or ``inputs[i]``).
        check_inputs: also check the input gradients (parameters are always checked).
        unpack_grad: for a module whose output is a tuple: call ``backward(*G)``
            (True) or ``backward(G)`` (False); None decides from ``backward``'s
            signature (RNN/LSTM/GRU take ``dout, dhx``; an LSTM cell takes ``(dh, dc)``).

    Returns:
        :class:`GradcheckReport`.

    Raises:
        TypeError: ``target`` is neither a Module nor a pair of callables; a parameter,
            an input or an output is a float array that is not float64; the module is
            not on the NumPy backend.
        ValueError: ``eps``/``rtol``/``atol``/``max_entries`` out of range, or backward's
            return value does not mirror the inputs.
    """
    if not (isinstance(eps, (int, float, np.floating)) and np.isfinite(eps) and eps > 0):
        raise ValueError(f"gradcheck: eps must be a positive finite number; got {eps!r}")
    if not (rtol >= 0):
        raise ValueError(f"gradcheck: rtol must be >= 0; got {rtol!r}")
    if atol is not None and not (atol >= 0):
        raise ValueError(f"gradcheck: atol must be >= 0 or None; got {atol!r}")
    if max_entries is not None and (int(max_entries) != max_entries or max_entries < 1):
        raise ValueError(
            f"gradcheck: max_entries must be a positive integer or None; got {max_entries!r}"
        )
    eps = float(eps)
    if isinstance(inputs, np.ndarray) or not isinstance(inputs, (tuple, list)):
        inputs = (inputs,)
    inputs = tuple(inputs)
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError(f"gradcheck: kwargs must be a dict; got {type(kwargs).__name__}")
    opts = dict(
        eps=eps,
        rtol=float(rtol),
        atol=atol,
        noise_factor=float(noise_factor),
        max_entries=None if max_entries is None else int(max_entries),
        seed=seed,
        input_names=input_names,
        check_inputs=check_inputs,
    )
    if isinstance(target, Module):
        return _check_module(target, inputs, dict(kwargs or {}), unpack_grad=unpack_grad, **opts)
    if (
        isinstance(target, (tuple, list))
        and len(target) == 2
        and callable(target[0])
        and callable(target[1])
    ):
        if kwargs:
            raise TypeError(
                "gradcheck: kwargs= is for modules; bind keyword arguments of a "
                "forward function with functools.partial"
            )
        return _check_pair(target[0], target[1], inputs, **opts)
    raise TypeError(
        "gradcheck: target must be a numrnn.Module or a pair (forward_fn, backward_fn); "
        f"got {type(target).__name__}"
    )


def _names_for(fn, inputs, input_names):
    if input_names is not None:
        if len(input_names) != len(inputs):
            raise ValueError(
                f"gradcheck: input_names has {len(input_names)} names for {len(inputs)} inputs"
            )
        tops = [str(n) for n in input_names]
    else:
        tops = _positional_names(fn, len(inputs))
    return tops, [_leaf_names(x, n) if input_names is None else n for x, n in zip(inputs, tops)]


def _resolve_atol(atol, noise_factor, scale, eps):
    if atol is not None:
        return float(atol)
    return noise_factor * _UNIT_ROUNDOFF * scale / eps


def _check_module(
    module,
    inputs,
    kwargs,
    *,
    eps,
    rtol,
    atol,
    noise_factor,
    max_entries,
    seed,
    input_names,
    check_inputs,
    unpack_grad,
):
    where = f"{type(module).__name__}.backward"
    # Everything is validated before any state changes.
    if module.backend != "numpy":
        raise TypeError(
            f"gradcheck: {type(module).__name__} is on backend {module.backend!r}; "
            "gradcheck runs on NumPy float64: use module.to(backend='numpy')"
        )
    params = list(module.named_parameters())
    for name, p in params:
        if not isinstance(p.data, np.ndarray) or p.data.dtype != _F64:
            dt = getattr(p.data, "dtype", type(p.data).__name__)
            raise TypeError(
                f"gradcheck: parameter {name!r} of {type(module).__name__} has dtype {dt}; "
                "central differences need float64: build the module with dtype=numpy.float64"
            )
    tops, names = _names_for(module.forward, inputs, input_names)
    _check_inputs(inputs, tops, "input")
    _check_inputs(tuple(kwargs.values()), tuple(kwargs), "keyword argument")
    inputs = _copy_struct(inputs)
    pristine = _copy_struct(inputs)
    kwargs = {k: _copy_struct(v) for k, v in kwargs.items()}
    rng = np.random.default_rng(seed)

    modules = list(module.modules())
    saved_modes = [m.training for m in modules]
    saved_caches = [list(m._caches) for m in modules]
    saved_grads = [p.grad.copy() for _, p in params]
    warnings = []
    try:
        for m in modules:
            m._caches.clear()
        module.eval()
        module.zero_grad()
        out = module(*inputs, **kwargs)
        G = _output_weights(out, rng)
        G_given = _copy_struct(G)  # backward gets a copy: G itself stays intact for L
        out_scale = _weighted_sum(G, out, absolute=True)
        l0 = _weighted_sum(G, out)
        if not _structs_equal(inputs, pristine):
            warnings.append("the forward wrote into its input arrays")
        ret = _call_backward(module, G_given, unpack_grad)
        if not _structs_equal(G, G_given):
            warnings.append(f"{where} wrote into the upstream gradient it was given")
        pending = sum(len(m._caches) for m in modules)
        if pending:
            warnings.append(f"{pending} forward cache(s) still pending after backward")
        for m in modules:
            m._caches.clear()
        analytic_params = [p.grad.copy() for _, p in params]
        grads = _normalize_returned(ret, len(inputs), where)
        checked_inputs, skipped = _match_grads(inputs, names, grads, where)

        def loss():
            with no_grad():
                y = module(*inputs, **kwargs)
            return _weighted_sum(G, y)

        atol_v = _resolve_atol(atol, noise_factor, out_scale, eps)
        l_again = loss()
        if abs(l_again - l0) > atol_v * eps:
            warnings.append(
                f"the forward is not deterministic (L = {l0!r}, then {l_again!r}); "
                "the numeric gradients are unreliable"
            )
        rows = []
        for (name, p), a in zip(params, analytic_params):
            rows.append(
                _compare(name, "parameter", p.data, a, loss, eps, rtol, atol_v, max_entries, rng)
            )
        if check_inputs:
            for name, x, a in checked_inputs:
                rows.append(
                    _compare(name, "input", x, a, loss, eps, rtol, atol_v, max_entries, rng)
                )
        if any(len(m._caches) for m in modules):
            warnings.append("forwards under numrnn.no_grad() still pushed caches")
    finally:
        for m, mode, caches in zip(modules, saved_modes, saved_caches):
            object.__setattr__(m, "training", mode)
            m._caches[:] = caches
        for (_, p), g in zip(params, saved_grads):
            p.grad[...] = g
    desc = (
        repr(module).splitlines()[0]
        if len(repr(module).splitlines()) == 1
        else type(module).__name__
    )
    return GradcheckReport(rows, eps, rtol, atol_v, out_scale, desc, skipped, warnings)


def _check_pair(
    forward_fn,
    backward_fn,
    inputs,
    *,
    eps,
    rtol,
    atol,
    noise_factor,
    max_entries,
    seed,
    input_names,
    check_inputs,
):
    fname = getattr(forward_fn, "__name__", "forward_fn")
    bname = getattr(backward_fn, "__name__", "backward_fn")
    tops, names = _names_for(forward_fn, inputs, input_names)
    _check_inputs(inputs, tops, "input")
    inputs = _copy_struct(inputs)
    pristine = _copy_struct(inputs)
    rng = np.random.default_rng(seed)
    warnings = []

    def run_forward():
        res = forward_fn(*inputs)
        if not isinstance(res, tuple) or len(res) != 2:
            raise ValueError(
                f"gradcheck: {fname} must return (out, cache); got "
                f"{type(res).__name__}{'' if not isinstance(res, tuple) else f' of {len(res)}'}"
            )
        return res

    out, cache = run_forward()
    G = _output_weights(out, rng)
    G_given = _copy_struct(G)  # backward gets a copy: G itself stays intact for L
    out_scale = _weighted_sum(G, out, absolute=True)
    l0 = _weighted_sum(G, out)
    if not _structs_equal(inputs, pristine):
        warnings.append(f"{fname} wrote into its input arrays")
    ret = backward_fn(G_given, cache)
    if not _structs_equal(G, G_given):
        warnings.append(f"{bname} wrote into the upstream gradient it was given")
    del cache
    grads = _normalize_returned(ret, len(inputs), bname)
    checked_inputs, skipped = _match_grads(inputs, names, grads, bname)

    def loss():
        return _weighted_sum(G, run_forward()[0])

    atol_v = _resolve_atol(atol, noise_factor, out_scale, eps)
    l_again = loss()
    if abs(l_again - l0) > atol_v * eps:
        warnings.append(f"{fname} is not deterministic; the numeric gradients are unreliable")
    rows = []
    if check_inputs:
        for name, x, a in checked_inputs:
            rows.append(_compare(name, "input", x, a, loss, eps, rtol, atol_v, max_entries, rng))
    return GradcheckReport(
        rows, eps, rtol, atol_v, out_scale, f"{fname} / {bname}", skipped, warnings
    )


# -- command line ---------------------------------------------------------------------------------

_RECURRENT = ("rnn", "lstm", "gru")
_CELLS = ("rnncell", "lstmcell", "grucell")
_LAYERS = _RECURRENT + _CELLS + ("linear", "embedding")


_MAX_SIZE = 4096  # size bounds for the CLI: central differences are for small layers
_MAX_ENTRIES = 2**25  # weights plus activations (float64: 256 MiB)


def _int_at_least(low):
    """An argparse ``type=``: an integer in ``[low, _MAX_SIZE]``, else a usage error."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer; got {text!r}") from None
        if not low <= value <= _MAX_SIZE:
            raise argparse.ArgumentTypeError(
                f"must be an integer in [{low}, {_MAX_SIZE}]; got {value}"
            )
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def _float_in(low, high=math.inf, low_open=False, high_open=True):
    """An argparse ``type=``: a finite float in the interval given, else a usage error."""

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number; got {text!r}") from None
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        if not (math.isfinite(value) and above and below):
            lo, hi = "(" if low_open else "[", ")" if high_open else "]"
            raise argparse.ArgumentTypeError(f"must be in {lo}{low}, {high}{hi}; got {text}")
        return value

    parse.__name__ = "number"
    return parse


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer; got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0; got {value}")
    return value


# options that only some layers read, with those layers: given for another layer, they are
# refused rather than silently ignored
_ONLY_FOR = {
    "num_layers": _RECURRENT,
    "bidirectional": _RECURRENT,
    "batch_first": _RECURRENT,
    "dropout": _RECURRENT,
    "lengths": _RECURRENT,
    "proj_size": ("lstm",),
    "nonlinearity": ("rnn", "rnncell"),
    "unbatched": _RECURRENT + _CELLS,
    "no_hx": _RECURRENT + _CELLS,
    "seq_len": _RECURRENT + ("linear", "embedding"),
    "input_size": _RECURRENT + _CELLS + ("linear",),
    "num_embeddings": ("embedding",),
    "padding_idx": ("embedding",),
    "no_bias": _RECURRENT + _CELLS + ("linear",),
}
_DEFAULTS = {
    "num_layers": 1,
    "dropout": 0.0,
    "proj_size": 0,
    "nonlinearity": "tanh",
    "seq_len": 5,
    "input_size": 3,
    "num_embeddings": 10,
}


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m numrnn.gradcheck",
        description="Check a numrnn layer's hand-written gradients against central differences "
        "(float64, random inputs); exit status 0 when every gradient passes, 1 when one is "
        "wrong, 2 when the command is misused (a bad option, or one the layer does not read).",
    )
    size = _int_at_least(1)
    p.add_argument("layer", choices=_LAYERS, help="which layer to build")
    p.add_argument("--input-size", type=size, default=None, help="D: input features (default 3)")
    p.add_argument(
        "--hidden-size",
        type=size,
        default=4,
        help="H: hidden size; Linear's out_features, Embedding's dim (default 4)",
    )
    p.add_argument("--num-layers", type=size, default=None, help="recurrent layers (default 1)")
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--batch-first", action="store_true")
    p.add_argument("--no-bias", action="store_true")
    p.add_argument(
        "--proj-size",
        type=_int_at_least(0),
        default=None,
        help="LSTM only: projection size, below --hidden-size (default 0: none)",
    )
    p.add_argument("--nonlinearity", choices=("tanh", "relu"), default=None, help="RNN only")
    p.add_argument(
        "--dropout",
        type=_float_in(0.0, 1.0),
        default=None,
        help="in [0, 1), between layers; the check runs in eval mode, where it is the identity",
    )
    p.add_argument("--seq-len", type=size, default=None, help="T (default 5)")
    p.add_argument("--batch", type=size, default=3, help="B (default 3)")
    p.add_argument("--unbatched", action="store_true", help="x of shape (T, D), states (L*dirs, H)")
    p.add_argument(
        "--lengths",
        action="store_true",
        help="random per-row lengths in [1, T] (one row full length)",
    )
    p.add_argument(
        "--no-hx", action="store_true", help="leave the initial state at its default (zeros)"
    )
    p.add_argument("--num-embeddings", type=size, default=None, help="Embedding only (default 10)")
    p.add_argument(
        "--padding-idx",
        type=int,
        default=None,
        help="Embedding only, in [-num_embeddings, num_embeddings); the random indices avoid "
        "this row, whose gradient is zero by design",
    )
    p.add_argument("--seed", type=_seed, default=0, help="an integer >= 0 (default 0)")
    p.add_argument("--eps", type=_float_in(0.0, low_open=True), default=1e-6, help="> 0")
    p.add_argument("--rtol", type=_float_in(0.0), default=1e-5, help=">= 0")
    p.add_argument(
        "--atol", type=_float_in(0.0), default=None, help=">= 0; default: from the output scale"
    )
    p.add_argument(
        "--max-entries",
        type=_int_at_least(0),
        default=200,
        help="per tensor, sample this many entries of larger tensors (0: check all)",
    )
    return p


def _parse_args(argv):
    """Parse and cross-check the options; misuse exits with argparse's usage error (status 2)."""
    p = _parser()
    args = p.parse_args(argv)
    for dest, layers in _ONLY_FOR.items():
        given = getattr(args, dest)
        if given is not None and given is not False and args.layer not in layers:
            flag = "--" + dest.replace("_", "-")
            p.error(f"{flag} does not apply to {args.layer} (only to {', '.join(layers)})")
    for dest, default in _DEFAULTS.items():
        if getattr(args, dest) is None:
            setattr(args, dest, default)
    if args.proj_size and args.proj_size >= args.hidden_size:
        p.error(
            f"--proj-size must be smaller than --hidden-size ({args.hidden_size}); "
            f"got {args.proj_size}"
        )
    D, H, B, T = args.input_size, args.hidden_size, args.batch, args.seq_len
    dirs = 2 if args.bidirectional else 1
    n_weights = 4 * H * (max(D, H * dirs) + H) * args.num_layers * dirs + args.num_embeddings * H
    n_acts = 4 * T * B * max(D, H * dirs) * args.num_layers
    if n_weights + n_acts > _MAX_ENTRIES:
        p.error(
            f"the layer is too large for a gradient check (about {n_weights + n_acts:,} numbers; "
            f"at most {_MAX_ENTRIES:,}): reduce the sizes"
        )
    if args.lengths and args.unbatched:
        p.error("--lengths needs batched input: drop --unbatched")
    if args.padding_idx is not None:
        n = args.num_embeddings
        if n < 2:
            p.error("--padding-idx needs --num-embeddings of at least 2")
        if not -n <= args.padding_idx < n:
            p.error(f"--padding-idx must be in [-{n}, {n}); got {args.padding_idx}")
    return args


def _build(args):
    """The module, its positional inputs and keyword arguments for the CLI's layer."""
    import numrnn

    rng = np.random.default_rng(args.seed + 1)
    f64 = dict(dtype=np.float64, seed=args.seed)
    layer = args.layer
    if layer == "linear":
        mod = numrnn.Linear(args.input_size, args.hidden_size, bias=not args.no_bias, **f64)
        return mod, (rng.standard_normal((args.batch, args.seq_len, args.input_size)),), {}
    if layer == "embedding":
        mod = numrnn.Embedding(
            args.num_embeddings, args.hidden_size, padding_idx=args.padding_idx, **f64
        )
        # The padding row receives no gradient by convention although the lookup reads
        # it, so indices avoid it: its analytic and numeric gradients are then both zero.
        idx = rng.integers(0, args.num_embeddings, (args.seq_len, args.batch))
        if mod.padding_idx is not None:  # --num-embeddings >= 2 was checked with the options
            idx[idx == mod.padding_idx] = (mod.padding_idx + 1) % args.num_embeddings
        return mod, (idx,), {}
    cls_name = {
        "rnn": "RNN",
        "lstm": "LSTM",
        "gru": "GRU",
        "rnncell": "RNNCell",
        "lstmcell": "LSTMCell",
        "grucell": "GRUCell",
    }[layer]
    cls = getattr(numrnn, cls_name, None)
    if cls is None:
        raise SystemExit(f"numrnn.{cls_name} is not available in this version of numrnn")
    D, H, B, T = args.input_size, args.hidden_size, args.batch, args.seq_len
    if layer in _CELLS:
        kw = dict(bias=not args.no_bias, **f64)
        if layer == "rnncell":
            kw["nonlinearity"] = args.nonlinearity
        mod = cls(D, H, **kw)
        lead = () if args.unbatched else (B,)
        x = rng.standard_normal(lead + (D,))
        h = rng.standard_normal(lead + (H,)) * 0.5
        if args.no_hx:
            return mod, (x,), {}
        if layer == "lstmcell":
            return mod, (x, (h, rng.standard_normal(lead + (H,)) * 0.5)), {}
        return mod, (x, h), {}
    kw = dict(
        num_layers=args.num_layers,
        bias=not args.no_bias,
        batch_first=args.batch_first,
        dropout=args.dropout,
        bidirectional=args.bidirectional,
        **f64,
    )
    if layer == "rnn":
        kw["nonlinearity"] = args.nonlinearity
    if layer == "lstm" and args.proj_size:
        kw["proj_size"] = args.proj_size
    mod = cls(D, H, **kw)
    S = args.num_layers * (2 if args.bidirectional else 1)
    if args.unbatched:
        x = rng.standard_normal((T, D))
        state_lead = (S,)
    else:
        x = rng.standard_normal((B, T, D) if args.batch_first else (T, B, D))
        state_lead = (S, B)
    Hout = args.proj_size if (layer == "lstm" and args.proj_size) else H
    h0 = rng.standard_normal(state_lead + (Hout,)) * 0.5
    kwargs = {}
    if args.lengths:  # batched: --unbatched was refused with the options
        lengths = rng.integers(1, T + 1, B)
        lengths[rng.integers(B)] = T
        kwargs["lengths"] = lengths
    if args.no_hx:
        return mod, (x,), kwargs
    if layer == "lstm":
        return mod, (x, (h0, rng.standard_normal(state_lead + (H,)) * 0.5)), kwargs
    return mod, (x, h0), kwargs


def main(argv=None):
    """Command-line entry point: build the layer, check it, print the report.

    Returns the exit status (0 pass, 1 fail) and, when run as ``python -m
    numrnn.gradcheck``, exits with it.  A misused command (a size below 1, ``--eps 0``,
    ``--rtol -1``, ``--dropout`` outside ``[0, 1)``, ``--proj-size`` not below
    ``--hidden-size``, an option the layer does not read such as ``gru --proj-size 2``)
    exits through argparse's usage error with status 2 before anything is built.
    """
    args = _parse_args(argv)
    module, inputs, kwargs = _build(args)
    max_entries = None if args.max_entries == 0 else args.max_entries
    report = gradcheck(
        module,
        inputs,
        eps=args.eps,
        kwargs=kwargs,
        rtol=args.rtol,
        atol=args.atol,
        max_entries=max_entries,
        seed=args.seed,
    )
    print(report)
    return 0 if report.passed else 1


class _CallableModule(type(sys)):
    """This module's type: calling the module calls :func:`gradcheck`.

    ``numrnn.gradcheck`` then works as the function whether the package binds the
    name to the function or (imported lazily, so that ``python -m numrnn.gradcheck``
    finds the module not yet imported) to this module.
    """

    def __call__(self, *args, **kwargs):
        return gradcheck(*args, **kwargs)


if __name__ == "__main__":
    sys.exit(main())
else:
    sys.modules[__name__].__class__ = _CallableModule
