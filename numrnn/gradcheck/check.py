"""``numrnn.gradcheck``: check a module or a forward/backward pair by central differences."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..nn.module import Module, no_grad
from .compare import _F64, _UNIT_ROUNDOFF, _compare
from .report import GradcheckReport
from .structures import (
    _call_backward,
    _check_inputs,
    _copy_struct,
    _leaf_names,
    _match_grads,
    _normalize_returned,
    _output_weights,
    _positional_names,
    _structs_equal,
    _weighted_sum,
)

__all__ = ["gradcheck"]


def gradcheck(
    target: Module | tuple[Callable, Callable],
    inputs: Any,
    eps: float = 1e-6,
    *,
    kwargs: dict | None = None,
    rtol: float = 1e-5,
    atol: float | None = None,
    noise_factor: float = 100.0,
    max_entries: int | None = 200,
    seed: int = 0,
    input_names: Sequence[str] | None = None,
    check_inputs: bool = True,
    unpack_grad: bool | None = None,
) -> GradcheckReport:
    r"""Check a module's or a forward/backward pair's gradients by central differences.

    The scalar differentiated is :math:`L = \sum G \odot y` over the output leaves,
    with seeded standard-normal weights ``G`` passed to backward as the upstream
    gradient.  An entry passes when :math:`|a - n| \le \mathrm{atol} + \mathrm{rtol}
    \max(|a|, |n|)`, with ``atol`` the rounding noise of the central difference,
    :math:`c\, u \sum |G \odot y| / \varepsilon` (``c = noise_factor``); the
    docstring of the package ``numrnn/gradcheck/__init__.py`` derives this and shows that a 1%
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
    opts = _Settings(
        eps=eps,
        rtol=float(rtol),
        atol=None if atol is None else float(atol),
        noise_factor=float(noise_factor),
        max_entries=None if max_entries is None else int(max_entries),
        seed=seed,
        input_names=input_names,
        check_inputs=check_inputs,
    )
    if isinstance(target, Module):
        return _check_module(target, inputs, dict(kwargs or {}), opts, unpack_grad)
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
        return _check_pair(target[0], target[1], inputs, opts)
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


@dataclass(frozen=True)
class _Settings:
    """The checked arguments of :func:`gradcheck` that both kinds of target use."""

    eps: float
    rtol: float
    atol: float | None  # None: the rounding noise of the central difference
    noise_factor: float
    max_entries: int | None
    seed: int
    input_names: Sequence[str] | None
    check_inputs: bool

    def atol_for(self, out_scale):
        """The absolute tolerance: ``atol`` if given, else ``c u out_scale / eps``."""
        if self.atol is not None:
            return self.atol
        return self.noise_factor * _UNIT_ROUNDOFF * out_scale / self.eps

    def report(self, rows, atol, out_scale, desc, skipped, warnings):
        """The :class:`GradcheckReport` of ``rows`` checked with tolerance ``atol``."""
        factor = self.noise_factor if self.atol is None else None
        return GradcheckReport(
            rows, self.eps, self.rtol, atol, out_scale, desc, skipped, warnings, factor
        )


def _check_module(module, inputs, kwargs, opts, unpack_grad):
    where = f"{type(module).__name__}.backward"
    # Everything is validated before any state changes.
    params = _float64_parameters(module)
    tops, names = _names_for(module.forward, inputs, opts.input_names)
    _check_inputs(inputs, tops, "input")
    _check_inputs(tuple(kwargs.values()), tuple(kwargs), "keyword argument")
    inputs, pristine = _copy_struct(inputs), _copy_struct(inputs)
    kwargs = {k: _copy_struct(v) for k, v in kwargs.items()}
    rng = np.random.default_rng(opts.seed)
    warnings = []
    with _set_aside(module, params) as modules:
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
        _clear_pending(modules, warnings)
        analytic_params = [p.grad.copy() for _, p in params]
        grads = _normalize_returned(ret, len(inputs), where)
        checked_inputs, skipped = _match_grads(inputs, names, grads, where)

        def loss():
            with no_grad():
                y = module(*inputs, **kwargs)
            return _weighted_sum(G, y)

        tensors = [(n, "parameter", p.data, a) for (n, p), a in zip(params, analytic_params)]
        if opts.check_inputs:
            tensors += [(n, "input", x, a) for n, x, a in checked_inputs]
        atol = opts.atol_for(out_scale)
        rows = _measure("the forward", loss, l0, tensors, opts, atol, rng, warnings)
        if any(len(m._caches) for m in modules):
            warnings.append("forwards under numrnn.no_grad() still pushed caches")
    desc = (
        repr(module).splitlines()[0]
        if len(repr(module).splitlines()) == 1
        else type(module).__name__
    )
    return opts.report(rows, atol, out_scale, desc, skipped, warnings)


def _float64_parameters(module):
    """``module``'s named parameters, after checking they are NumPy float64 arrays.

    Raises:
        TypeError: the module is on another backend, or a parameter is not float64.
    """
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
    return params


def _clear_pending(modules, warnings):
    """Drop the caches a backward left pending (a bug worth a warning)."""
    pending = sum(len(m._caches) for m in modules)
    if pending:
        warnings.append(f"{pending} forward cache(s) still pending after backward")
    for m in modules:
        m._caches.clear()


@contextlib.contextmanager
def _set_aside(module, params):
    """Inside: eval mode, no pending caches, zero gradients.  After: all as it was.

    Every submodule's training flag and pending caches and every parameter's
    ``.grad`` are restored exactly, whatever happens inside.  Yields the list of
    the submodules.
    """
    modules = list(module.modules())
    saved_modes = [m.training for m in modules]
    saved_caches = [list(m._caches) for m in modules]
    saved_grads = [p.grad.copy() for _, p in params]
    try:
        for m in modules:
            m._caches.clear()
        module.eval()
        module.zero_grad()
        yield modules
    finally:
        for m, mode, caches in zip(modules, saved_modes, saved_caches):
            object.__setattr__(m, "training", mode)
            m._caches[:] = caches
        for (_, p), g in zip(params, saved_grads):
            p.grad[...] = g


def _check_pair(forward_fn, backward_fn, inputs, opts):
    fname = getattr(forward_fn, "__name__", "forward_fn")
    bname = getattr(backward_fn, "__name__", "backward_fn")
    tops, names = _names_for(forward_fn, inputs, opts.input_names)
    _check_inputs(inputs, tops, "input")
    inputs = _copy_struct(inputs)
    pristine = _copy_struct(inputs)
    rng = np.random.default_rng(opts.seed)
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

    tensors = [(n, "input", x, a) for n, x, a in checked_inputs] if opts.check_inputs else []
    atol = opts.atol_for(out_scale)
    rows = _measure(fname, loss, l0, tensors, opts, atol, rng, warnings)
    return opts.report(rows, atol, out_scale, f"{fname} / {bname}", skipped, warnings)


def _measure(who, loss, l0, tensors, opts, atol, rng, warnings):
    """One report row per ``(name, kind, array, analytic)`` of ``tensors``.

    Entries are compared with ``opts.eps``, ``opts.rtol``, ``atol`` and
    ``opts.max_entries``.  First ``loss`` is evaluated again: a value other than
    ``l0`` means ``who`` is not deterministic, which is added to ``warnings`` (the
    finite differences then measure noise).
    """
    eps, rtol, max_entries = opts.eps, opts.rtol, opts.max_entries
    l_again = loss()
    if abs(l_again - l0) > atol * eps:
        warnings.append(
            f"{who} is not deterministic (L = {l0!r}, then {l_again!r}); "
            "the numeric gradients are unreliable"
        )
    return [
        _compare(name, kind, x, a, loss, eps, rtol, atol, max_entries, rng)
        for name, kind, x, a in tensors
    ]
