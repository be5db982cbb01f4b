"""Check a hand-written BPTT loop against the reference, and say where and how it is wrong.

:func:`check_bptt` draws a small float64 problem, runs the student's backward on three
probes, compares every result with :mod:`numrnn.reference`, and diagnoses the
mistake from :mod:`numrnn.diagnosis.catalogue`:

* probe ``outputs``: gradient on every output, none on the final state (the usual
  loss); the per-step table and the first wrong step come from it;
* probe ``final state``: gradient on the final state only (``dhT``, ``dcT``);
* probe ``one step``: a sequence of length 1, where only the step's own math
  matters, so a wrong gate shows in its own rows of the weight gradients.
"""

from __future__ import annotations

import copy

import numpy as np

from .. import reference
from ..reference.masked import as_tuple, masked_backward, masked_forward, packed
from .compare import TOL, classify, close
from .report import BPTTReport
from .simulate import Switches, backward_with

__all__ = ["check_bptt"]

CELLS = {
    "rnn": reference.rnn_cell,
    "rnn_relu": reference.rnn_relu_cell,
    "lstm": reference.lstm_cell,
    "gru": reference.gru_cell,
}
SEQUENCE_FORWARD = {
    "rnn_tanh": reference.rnn_forward,
    "lstm": reference.lstm_forward,
    "gru": reference.gru_forward,
}
GATES = {"lstm": "ifgo", "gru": "rzn"}
PROBES = ("outputs", "final state", "one step")

# the loop-level mistakes, each as the switches that reproduce it (any one may match)
LOOP_MISTAKES = {
    "missing-carried-h": (
        Switches(carry=(False, True)),
        Switches(carry=(False, True), start_from_final=(False, True)),
    ),
    "missing-carried-c": (
        Switches(carry=(True, False)),
        Switches(carry=(True, False), start_from_final=(True, False)),
    ),
    "wrong-initial-state": (
        Switches(start_from_final=(False, False)),
        Switches(start_from_final=(False, True)),
        Switches(start_from_final=(True, False)),
    ),
    "padding-leak": (Switches(honour_mask=False),),
}


def _cell(cell):
    if isinstance(cell, str):
        if cell not in CELLS:
            raise ValueError(
                f"check_bptt: cell must be one of {sorted(CELLS)} or a Cell; got {cell!r}"
            )
        return CELLS[cell]
    if not isinstance(cell, reference.Cell):
        raise TypeError(
            f"check_bptt: cell must be a name or a numrnn.reference.Cell; got {type(cell).__name__}"
        )
    return cell


def _draw(cell, T, B, D, H, rng, lengths):
    """float64 inputs: weights as PyTorch initialises them, states and upstreams ~ N(0, 1/4)."""
    params = {w.name: w.init(rng, w.shape(D, H), H) for w in cell.weights}
    x = rng.standard_normal((T, B, D))
    state0 = tuple(0.5 * rng.standard_normal((B, H)) for _ in cell.states)
    mask = reference.masked.valid_mask(lengths if lengths is not None else [T] * B, T)
    return x, state0, params, mask


def _same(a, b):
    """Exact equality of nested tuples/lists/dicts of arrays (NaNs equal)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        )
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a is b or a == b


def _flatten(cell, dx, dstate0, grads):
    """The results as ``{tensor name: array}``: dx, dh0 (dc0), then each parameter."""
    states = as_tuple(dstate0)
    out = {"dx": dx}
    out.update({f"d{s}0": d for s, d in zip(cell.states, states)})
    out.update(grads)
    return out


def _student(forward, backward, cell, x, state0, params, lengths, dout, dstate):
    """Run the student's pair; returns (results dict, mutated argument names)."""
    args = (x.copy(), packed([s.copy() for s in state0]), copy.deepcopy(params))
    _, _, cache = forward(*args, lengths) if lengths is not None else forward(*args)
    given = {
        "dout": dout.copy(),
        "dstate": packed([d.copy() for d in as_tuple(dstate)]),
        "cache": cache,
    }
    before = copy.deepcopy(given)
    result = backward(given["dout"], given["dstate"], given["cache"])
    mutated = [name for name in given if not _same(before[name], given[name])]
    if not (isinstance(result, tuple) and len(result) == 3 and isinstance(result[2], dict)):
        raise TypeError(
            f"backward must return (dx, dstate0, grads) with grads a dict; got {type(result).__name__}"
        )
    dstate0 = result[1]
    if len(as_tuple(dstate0)) != len(cell.states):
        raise TypeError(f"backward must return the gradient of {len(cell.states)} initial state(s)")
    missing = [w.name for w in cell.weights if w.name not in result[2]]
    if missing:
        raise TypeError(f"backward's grads lack {', '.join(missing)}")
    return _flatten(cell, result[0], dstate0, result[2]), mutated


def _probe_inputs(cell, T, B, D, H, seed, lengths):
    """The three probes' (x, state0, params, mask, lengths, dout, dstate)."""
    rng = np.random.default_rng(seed)
    probes = {}
    for name in PROBES:
        Tp, Lp = (1, lengths and [1] * B) if name == "one step" else (T, lengths)
        x, state0, params, mask = _draw(cell, Tp, B, D, H, rng, Lp)
        dout = rng.standard_normal((Tp, B, H)) * (name != "final state")
        dstate = tuple(rng.standard_normal((B, H)) * (name != "outputs") for _ in cell.states)
        probes[name] = (x, state0, params, mask, Lp, dout, dstate)
    return probes


def check_bptt(backward, cell="lstm", *, forward=None, lengths=None, T=5, B=3, D=4, H=5, seed=0):
    """Check ``backward(dout, dstate, cache) -> (dx, dstate0, grads)`` against the reference.

    Args:
        backward: the loop to check, with the signature of :mod:`numrnn.reference`'s
            sequence backward (``lstm_backward(dout, (dhT, dcT), cache)`` returns
            ``dx, (dh0, dc0), grads``).
        cell: ``"rnn"``, ``"rnn_relu"``, ``"lstm"``, ``"gru"`` or a :class:`numrnn.reference.Cell`.
        forward: the forward whose cache ``backward`` reads, ``forward(x, state0, params)``
            (``forward(x, state0, params, lengths)`` with ``lengths``) returning
            ``(out, state, cache)``; default: the reference's.
        lengths: ``B`` valid lengths for a masked (variable-length) loop, or None.
        T, B, D, H: sizes of the drawn problem (distinct, so a transposed product shows).
        seed: seed of the drawn inputs.

    Returns:
        A :class:`~numrnn.diagnosis.report.BPTTReport`: ``str(report)`` is the full text, ending
        with ``first wrong step: t=<k>`` and ``diagnosis: <names>``; ``report.passed``,
        ``report.diagnoses`` and ``report.first_wrong_step`` give the same to code.

    Raises:
        ValueError / TypeError: for a bad ``cell``, sizes or ``lengths``.  Errors raised by
        ``backward`` itself propagate.
    """
    cell = _cell(cell)
    for name, v in (("T", T), ("B", B), ("D", D), ("H", H)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"check_bptt: {name} must be an int >= 1; got {v!r}")
    if lengths is not None:
        lengths = [int(n) for n in lengths]
        if len(lengths) != B or not all(1 <= n <= T for n in lengths):
            raise ValueError(f"check_bptt: lengths must be {B} ints in [1, {T}]; got {lengths}")
    if forward is None:
        if lengths is None and cell.name in SEQUENCE_FORWARD:
            forward = SEQUENCE_FORWARD[cell.name]
        else:

            def forward(x, s, p, n=None):
                return masked_forward(
                    cell, x, s, p, n if n is not None else [x.shape[0]] * x.shape[1]
                )

    report = BPTTReport(cell.name, T, B, D, H, seed, lengths, GATES.get(cell.name))
    mutated, diagnoses, details = set(), [], []
    for name, (x, state0, params, mask, Lp, dout, dstate) in _probe_inputs(
        cell, T, B, D, H, seed, lengths
    ).items():
        Tp = x.shape[0]
        _, _, (caches, _) = masked_forward(cell, x, packed(state0), params, Lp or [Tp] * B)
        expected = _flatten(cell, *masked_backward(cell, dout, packed(dstate), (caches, mask)))
        got, changed = _student(forward, backward, cell, x, state0, params, Lp, dout, dstate)
        mutated.update(changed)
        report.add_probe(name, got, expected)
        if name == "outputs":
            report.steps(got["dx"], expected["dx"], mask)
        if name == "one step":
            report.gates(got, expected, H)
        _diagnose_probe(cell, name, got, expected, (caches, mask, dout, dstate), diagnoses, details)
    if mutated:
        diagnoses.insert(0, "mutated-input")
        details.insert(
            0, f"mutated-input: the backward changed its argument(s) {', '.join(sorted(mutated))}"
        )
    if not report.all_close() and not diagnoses:
        wrong = report.wrong_gates()
        diagnoses.extend(f"wrong-gate:{g}" for g in wrong)
        if wrong:
            details.append(
                f"wrong-gate: with one step, only the rows of gate(s) {', '.join(wrong)} are wrong"
            )
    if not report.all_close() and not diagnoses:
        diagnoses.append("unclassified")
    report.finish(list(dict.fromkeys(diagnoses)), list(dict.fromkeys(details)))
    return report


def _diagnose_probe(cell, probe, got, expected, sim_inputs, diagnoses, details):
    """Name the mistakes visible in one probe (shape, sign, scale, loop-level, one step)."""
    caches, mask, dout, dstate = sim_inputs
    wrong = [n for n in expected if not close(got[n], expected[n])]
    if not wrong:
        return
    for n in wrong:
        kind = classify(got[n], expected[n], bias=n.startswith("bias"))
        if kind is not None:
            diagnoses.append(kind)
            details.append(f"{kind}: {n} ({probe} probe)")
    initial = {f"d{s}0" for s in cell.states}
    if probe == "one step":
        # with a single step the loop-level mistakes coincide (dropping dc_next is ignoring
        # dcT); this probe only tells a wrong step apart: its gates, or its dh_prev alone
        if set(wrong) <= initial:
            diagnoses.append("wrong-dh-prev")
            details.append(f"wrong-dh-prev: with one step, only {', '.join(wrong)} is wrong")
        return
    if set(wrong) <= initial:
        diagnoses.append("wrong-initial-state")
        details.append(f"wrong-initial-state: only {', '.join(wrong)} is wrong ({probe} probe)")
    masked = mask is not None and not np.all(mask == 1)
    if masked and np.shape(got["dx"]) == mask.shape[:2] + (got["dx"].shape[-1],):
        leak = np.abs(got["dx"]) * (1 - mask)
        if np.any(leak > TOL * max(np.abs(expected["dx"]).max(), 1e-300)):
            t, b = np.argwhere(leak.max(axis=-1) > 0)[0]
            diagnoses.append("padding-leak")
            details.append(
                f"padding-leak: dx[{t}, {b}] is not zero although row {b} has length < {t + 1}"
            )
    for mistake, variants in LOOP_MISTAKES.items():
        if (mistake == "missing-carried-c" and len(cell.states) < 2) or (
            mistake == "padding-leak" and not masked
        ):
            continue
        for sw in variants:
            simulated = _flatten(
                cell, *backward_with(cell, dout, packed(dstate), caches, mask, sw)[:3]
            )
            if all(close(got[n], simulated[n]) for n in expected):
                diagnoses.append(mistake)
                details.append(
                    f"{mistake}: every gradient equals the reference loop with that mistake"
                )
                break
    _one_step_weights(cell, probe, got, expected, sim_inputs, wrong, diagnoses, details)


def _one_step_weights(cell, probe, got, expected, sim_inputs, wrong, diagnoses, details):
    """weights-from-one-step and bias-not-summed (one row), from per-step and per-row sums."""
    caches, mask, dout, dstate = sim_inputs
    _, _, _, per_step = backward_with(cell, dout, packed(dstate), caches, mask)
    B = dout.shape[1]
    for n in wrong:
        if n not in per_step[0] or len(per_step) < 2:
            continue
        steps = [t for t, g in enumerate(per_step) if close(got[n], g[n])]
        if steps:
            diagnoses.append("weights-from-one-step")
            details.append(
                f"weights-from-one-step: {n} equals the contribution of step t={steps[0]} alone"
            )
        elif n.startswith("bias") and B > 1:
            for b in range(B):
                row = np.zeros((1, B, 1))
                row[0, b] = 1.0
                one = backward_with(
                    cell, dout * row, packed([d * row[0] for d in dstate]), caches, mask
                )[2]
                if close(got[n], one[n]):
                    diagnoses.append("bias-not-summed")
                    details.append(f"bias-not-summed: {n} holds batch row {b} only")
                    break
