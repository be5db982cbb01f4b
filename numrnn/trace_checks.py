"""The checks of :func:`numrnn.trace.trace`'s arguments: kind, sizes, inputs, states, weights.

Each raises ``ValueError`` or ``TypeError`` naming the argument, what is expected and
what was given, before anything is computed.
"""

from __future__ import annotations

import math

import numpy as np

from .trace_tables import _GATES, _PARAMS

KINDS = ("rnn", "lstm", "gru")


def _check_kind(kind):
    if not isinstance(kind, str) or kind.lower() not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}; got {kind!r}")
    return kind.lower()


def _check_size(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    return int(value)


def _as_float_array(name, value):
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must be numbers (nested lists or an array); got {value!r}"
        ) from err
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite numbers; got {arr.tolist()}")
    return arr


def _check_inputs(inputs):
    x = _as_float_array("inputs", inputs)
    if x.ndim == 1:
        x = x[:, None]  # T scalar inputs
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(
            f"inputs must be T >= 1 numbers or a (T, D) nested list; got shape {x.shape}"
        )
    return x


def _check_state(name, value, H):
    if value is None:
        return np.zeros(H)
    s = _as_float_array(name, value).reshape(-1)
    if s.shape != (H,):
        raise ValueError(f"{name} must hold hidden_size = {H} numbers; got {s.size}")
    return s


def _check_weights(kind, weights, D, hidden_size):
    """Validate a weights dict; return (weights as float64 arrays, H, extra keys)."""
    if not isinstance(weights, dict):
        raise TypeError(
            f"weights must be a dict of name -> nested lists; got {type(weights).__name__}"
        )
    G1 = len(_GATES[kind])
    extra_names = ("h0", "c0", "nonlinearity")
    W, extra = {}, {}
    for key, value in weights.items():
        name = key[:-3] if isinstance(key, str) and key.endswith("_l0") else key
        if name in extra_names:
            extra[name] = value
        elif name in _PARAMS:
            W[name] = _as_float_array(key, value)
        else:
            raise ValueError(
                f"unknown weight name {key!r}; expected {', '.join(_PARAMS)} "
                f"(optionally with the suffix _l0) or {', '.join(extra_names)}"
            )
    missing = [n for n in ("weight_ih", "weight_hh") if n not in W]
    if missing:
        raise ValueError(f"weights for a {kind.upper()} must include {' and '.join(missing)}")
    if ("bias_ih" in W) != ("bias_hh" in W):
        raise ValueError("weights must include both bias_ih and bias_hh, or neither (no bias)")
    whh = W["weight_hh"]
    if hidden_size is not None:
        H = _check_size("hidden_size", hidden_size)
    elif whh.ndim == 2:
        H = whh.shape[1]
    else:
        H = int(round(math.sqrt(whh.size / G1)))
    G = G1 * H
    for name, shape in (
        ("weight_ih", (G, D)),
        ("weight_hh", (G, H)),
        ("bias_ih", (G,)),
        ("bias_hh", (G,)),
    ):
        if name not in W:
            continue
        arr = W[name]
        if arr.shape != shape:
            if arr.ndim <= 1 and arr.size == G * (
                D if name == "weight_ih" else H if name == "weight_hh" else 1
            ):
                arr = arr.reshape(shape)
            else:
                gates = f"{G1} gate(s) x hidden size {H}"
                raise ValueError(
                    f"{kind.upper()} {name} must have shape {shape} ({gates}, input size {D}); "
                    f"got {arr.shape}"
                )
        W[name] = arr
    return W, H, extra
