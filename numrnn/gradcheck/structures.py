"""Nested inputs and outputs (arrays, tuples of arrays): copies, weights, names, matching.

A forward's inputs and outputs may be nested tuples (an LSTM's ``x, (h0, c0)`` and
``out, (hn, cn)``); these helpers walk such structures, name their leaves, and pair
each input leaf with the gradient a backward returned for it.
"""

from __future__ import annotations

import inspect

import numpy as np

_F64 = np.dtype(np.float64)


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
