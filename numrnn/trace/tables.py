"""The record of a trace (:class:`Trace`) and how it prints (:func:`format_trace`).

:mod:`numrnn.trace` computes a trace with the reference's step pairs; this file
holds the record it fills and lays the record out as text tables, one column per
time step, each row with its formula.  No arithmetic of the recurrent layers here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from .rows import _backward_spec, _forward_spec, _truncated_spec

__all__ = ["Trace", "format_trace"]

_GATES = {"rnn": ("",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
_PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


@dataclass
class Trace:
    r"""Every number of one forward and backward pass (batch of one, float64).

    Attributes:
        kind: ``"rnn"``, ``"lstm"`` or ``"gru"``; nonlinearity: the RNN's ``"tanh"``/``"relu"``.
        inputs: ``(T, D)``; weights: name -> array in PyTorch's layout (no biases
            when the layer has none); h0 ``(H,)``; c0 ``(H,)`` (LSTM) or None.
        loss_kind: ``"sum"`` or ``"last"``; loss: the value of :math:`L`.
        forward: ``T`` dicts, one per step (``forward[t - 1]`` is step ``t``),
            quantity name -> ``(H,)`` array (``"x"`` is ``(D,)``); the names are
            listed, with their formulas, by :func:`format_trace`.
        backward: ``T`` dicts indexed like ``forward``: the gradients of step ``t``
            (``"dh"`` the whole :math:`\partial L/\partial h_t`, ``"da"`` or
            ``"da_<gate>"`` the pre-activation gradients, ``"dc"`` for the LSTM, ...).
        step_grads: ``T`` dicts of each step's contribution to every parameter gradient.
        grads: the parameter gradients (sums of ``step_grads``); dh0, dc0: the
            gradients of the initial states.
        truncate: None (full BPTT) or the chunk length ``K`` of truncated BPTT;
            cuts: the steps ``t`` (from 1) whose gradient from ``t+1`` was dropped;
            full_grads: with cuts, the full BPTT's parameter gradients, else None.
        numeric_grads: central differences of the loss the gradients are exact for,
            or None (not computed); fd_eps: their step; fd_noise: their rounding
            noise :math:`u S / \varepsilon` (:mod:`numrnn.trace.fd`).
    """

    kind: str
    nonlinearity: str
    inputs: np.ndarray
    weights: dict
    h0: np.ndarray
    c0: np.ndarray | None
    loss_kind: str
    loss: float = 0.0
    forward: list = field(default_factory=list)
    backward: list = field(default_factory=list)
    step_grads: list = field(default_factory=list)
    grads: dict = field(default_factory=dict)
    dh0: np.ndarray | None = None
    dc0: np.ndarray | None = None
    truncate: int | None = None
    cuts: list = field(default_factory=list)
    full_grads: dict | None = None
    numeric_grads: dict | None = None
    fd_eps: float | None = None
    fd_noise: float | None = None

    @property
    def hidden_size(self):
        return int(self.h0.shape[0])

    @property
    def input_size(self):
        return int(self.inputs.shape[1])

    @property
    def seq_len(self):
        return int(self.inputs.shape[0])

    def as_dict(self):
        """The trace as plain Python (lists and floats), e.g. for ``json.dumps``."""

        def plain(v):
            if isinstance(v, np.ndarray):
                return v.tolist()
            if isinstance(v, dict):
                return {k: plain(u) for k, u in v.items()}
            if isinstance(v, list):
                return [plain(u) for u in v]
            return v

        return {name: plain(getattr(self, name)) for name in self.__dataclass_fields__}

    def __str__(self):
        return format_trace(self)


# -- formatting -----------------------------------------------------------------------------------


def _fmt(v, precision):
    if v is None:  # a quantity the step does not have (e.g. a cut at another step)
        return "-"
    if isinstance(v, str):  # formatted by the caller (a relative error)
        return v
    v = float(v)
    if v == 0:
        return f"{0.0:.{precision}f}"
    if abs(v) < 10.0**-precision or abs(v) >= 1e7:
        return f"{v:.{precision}e}"
    return f"{v:.{precision}f}"


def _table(columns, rows, precision, note_header="formula"):
    """Aligned text table: rows of (label, numbers, note); blank label = separator line."""
    cells = [(lab, [_fmt(v, precision) for v in vals], note) for lab, vals, note in rows if lab]
    lw = max([len("quantity")] + [len(lab) for lab, _, _ in cells])
    nw = max([len(c) for c in columns] + [len(s) for _, vals, _ in cells for s in vals])
    head = (
        "  "
        + "quantity".ljust(lw)
        + "".join("  " + c.rjust(nw) for c in columns)
        + "   "
        + note_header
    )
    lines = [head, "  " + "-" * (len(head) - 2)]
    for lab, vals, note in rows:
        if not lab:
            lines.append("")
            continue
        strs = [_fmt(v, precision) for v in vals]
        lines.append(
            "  "
            + lab.ljust(lw)
            + "".join("  " + s.rjust(nw) for s in strs)
            + ("   " + note if note else "")
        )
    return "\n".join(lines)


def _quantity_rows(steps, spec):
    """Rows of a step table: ``spec`` is a list of (key, label, note), None for a separator."""
    rows = []
    for item in spec:
        if item is None:
            rows.append(("", [], ""))
            continue
        key, label, note = item
        per_step = [np.asarray(s[key]).reshape(-1) if key in s else None for s in steps]
        n = next(v.size for v in per_step if v is not None)
        if "{j}" not in label:
            label += "{j}"
        for j in range(n):
            lab = label.replace("{j}", "" if n == 1 else f"[{j}]")
            vals = [None if v is None else v[j] for v in per_step]
            rows.append((lab, vals, note if j == 0 else ""))
    return rows


_EQUATIONS = {
    "rnn": ["h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)"],
    "lstm": [
        "[a_i, a_f, a_g, a_o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh   (rows stacked i, f, g, o)",
        "i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)",
        "c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)",
    ],
    "gru": [
        "r = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)   (rows stacked r, z, n)",
        "z = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)",
        "n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))",
        "h_t = (1 - z) * n + z * h_{t-1}",
    ],
}


def _entry_label(name, gates, H, r, k=None):
    gate = gates[r // H]
    unit = str(r % H) if H > 1 else ""
    row = (gate + unit) or "0"
    return f"{name}[{row}]" if k is None else f"{name}[{row},{k}]"


def _param_rows(W, kind, H, precision):
    gates = _GATES[kind]
    lines = []
    for name in _PARAMS:
        if name not in W:
            continue
        arr = W[name]
        blocks = "" if kind == "rnn" else f", rows stacked {', '.join(gates)}"
        lines.append(f"  {name}  shape {tuple(arr.shape)}{blocks}")
        for g, gate in enumerate(gates):
            block = arr[g * H : (g + 1) * H]
            for j, row in enumerate(block.reshape(H, -1)):
                tag = f"{gate}:" if (j == 0 and gate) else ""
                vals = "  ".join(_fmt(v, precision).rjust(precision + 3) for v in row)
                lines.append(f"    {tag:<3} [{vals}]")
    return lines


def _header_lines(tr, p):
    """The title, the equations, the weights (also as JSON), the initial state, the inputs."""
    kind, H, D, T = tr.kind, tr.hidden_size, tr.input_size, tr.seq_len
    out = []
    bias = "" if "bias_ih" in tr.weights else ", no bias"
    out.append(
        f"numrnn trace: {kind.upper()}, hidden size {H}, input size {D}, T = {T}{bias}, float64, "
        f"batch of one"
    )
    out.append("")
    out.append("Equations (PyTorch's formulation; * is the elementwise product):")
    for line in _EQUATIONS[kind]:
        if tr.nonlinearity == "relu":
            line = line.replace("tanh(", "relu(")
        out.append("  " + line)
    out.append("")
    out.append("Weights:")
    out.extend(_param_rows(tr.weights, kind, H, p))
    js = {k: v.tolist() for k, v in tr.weights.items()}
    out.append("  as a --weights JSON file: " + json.dumps(js))
    init = f"h_0 = {[float(v) for v in tr.h0]}"
    if tr.c0 is not None:
        init += f", c_0 = {[float(v) for v in tr.c0]}"
    out.append(f"Initial state: {init}")
    xs = ", ".join(
        f"x_{t + 1} = "
        + (_fmt(r[0], p) if D == 1 else "[" + ", ".join(_fmt(v, p) for v in r) + "]")
        for t, r in enumerate(tr.inputs)
    )
    out.append(f"Inputs: {xs}")
    out.append("")

    return out


def format_trace(tr, precision=4):
    """The trace as text: equations, weights, forward table, loss, backward tables.

    Columns of the step tables are time steps: ``t = 1 .. T`` for the forward and
    ``t = T .. 1`` (the order BPTT visits them) for the backward.  Numbers are
    printed with ``precision`` decimals (scientific notation when smaller than
    ``10**-precision``).

    Raises:
        TypeError: ``tr`` is not a :class:`Trace`.
        ValueError: ``precision`` is not an integer in [0, 17].
    """
    if not isinstance(tr, Trace):
        raise TypeError(
            f"format_trace expects a Trace (from numrnn.trace.trace); got {type(tr).__name__}"
        )
    if (
        isinstance(precision, bool)
        or not isinstance(precision, (int, np.integer))
        or not 0 <= precision <= 17
    ):
        raise ValueError(f"precision must be an integer in [0, 17]; got {precision!r}")
    kind, T = tr.kind, tr.seq_len
    p = precision
    out = _header_lines(tr, p)
    fcols = [f"t={t + 1}" for t in range(T)]
    out.append("FORWARD (one column per time step)")
    out.append(_table(fcols, _quantity_rows(tr.forward, _forward_spec(kind, tr.nonlinearity)), p))
    out.append("")

    out.extend(_loss_lines(tr, p))
    out.append("")

    order = list(reversed(range(T)))
    bcols = [f"t={t + 1}" for t in order]
    if tr.truncate is not None:
        out.extend(_truncation_lines(tr))
    spec = _backward_spec(kind, tr.nonlinearity, tr.loss_kind)
    if tr.cuts:
        spec = _truncated_spec(spec)
    out.append("BACKWARD (columns in the order BPTT visits the steps: t = T .. 1)")
    out.append(_table(bcols, _quantity_rows([tr.backward[t] for t in order], spec), p))
    out.append("")
    out.extend(_gradient_table(tr, order, bcols, p))
    out.append("")
    out.append(_initial_state_line(tr, p))
    if tr.numeric_grads is not None:
        out.append("")
        out.extend(_check_lines(tr))
    return "\n".join(out)


def _loss_lines(tr, p):
    """The loss written out: its definition, then its terms summed when there are few."""
    hs = [s["h"] for s in tr.forward]
    if tr.loss_kind == "sum":
        terms = [v for h in hs for v in h]
        out = ["LOSS  L = sum over t and units of h_t"]
    else:
        terms = list(hs[-1])
        out = ["LOSS  L = sum over units of h_T (the last hidden state)"]
    if len(terms) <= 12:
        out.append(
            "  L = "
            + " + ".join(_fmt(v, p) for v in terms).replace("+ -", "- ")
            + f" = {_fmt(tr.loss, p)}"
        )
    else:
        out.append(f"  L = (sum of {len(terms)} values of the h_t row above) = {_fmt(tr.loss, p)}")
    return out


def _initial_state_line(tr, p):
    """``Gradient of the initial state: dL/dh_0 = ...`` (and ``dL/dc_0`` for the LSTM)."""
    H = tr.hidden_size
    tail = "Gradient of the initial state: " + ", ".join(
        f"dL/dh_0 = {_fmt(v, p)}" if H == 1 else f"dL/dh_0[{j}] = {_fmt(v, p)}"
        for j, v in enumerate(tr.dh0)
    )
    if tr.dc0 is not None:
        tail += ", " + ", ".join(
            f"dL/dc_0 = {_fmt(v, p)}" if H == 1 else f"dL/dc_0[{j}] = {_fmt(v, p)}"
            for j, v in enumerate(tr.dc0)
        )
    return tail


def _truncation_lines(tr):
    """The TRUNCATION section: the chunks, the cuts, and what the gradients are exact for."""
    K, T = tr.truncate, tr.seq_len
    if not tr.cuts:
        return [f"TRUNCATION  K = {K} >= T = {T}: one chunk, nothing is cut (full BPTT)", ""]
    chunks = ", ".join(f"{s}..{min(s + K - 1, T)}" for s in range(1, T + 1, K))
    at = ", ".join(map(str, tr.cuts))
    carried = "dL/dh_t" + (" and dL/dc_t" if tr.kind == "lstm" else "")
    return [
        f"TRUNCATION  K = {K}: chunked truncated BPTT (as numrnn.train.tbptt_train runs it),",
        f"  chunks t = {chunks}.  The forward carries the state across chunks; the backward",
        f"  does not: at t = {at}, the {carried} that step t+1 sends back is set to 0",
        "  (row 'from t+1'); the 'dropped' rows show the value discarded.  The gradients are",
        "  then exact for L_K = sum over chunks of the chunk's loss, each chunk run from its",
        "  incoming state held fixed (h.detach() in PyTorch), not for L: L_K has the value of L",
        "  at these weights, not its derivatives.  Column 'dropped' = full BPTT - total: the",
        "  terms of the full gradient whose path crosses a cut.",
        "",
    ]


def _gradient_table(tr, order, bcols, p):
    """PARAMETER GRADIENTS: per step, the total, and (when computed) the central
    difference with its relative error, and with cuts the full BPTT and the difference."""
    kind, H, gates = tr.kind, tr.hidden_size, _GATES[tr.kind]
    check, cut = tr.numeric_grads is not None, bool(tr.cuts)
    cols = bcols + ["total"] + (["numeric", "rel err"] if check else [])
    cols += ["full BPTT", "dropped"] if cut else []
    rows = []
    for name in _PARAMS:
        if name not in tr.grads:
            continue
        total = tr.grads[name]
        if rows:
            rows.append(("", [], ""))
        note = {
            "weight_ih": "sum_t da_t x_t^T",
            "weight_hh": "sum_t da_t h_{t-1}^T",
            "bias_ih": "sum_t da_t",
            "bias_hh": "sum_t da_t",
        }[name]
        if kind == "gru" and name != "bias_ih" and name != "weight_ih":
            note = {
                "weight_hh": "sum_t [da_r, da_z, da_n * r]_t h_{t-1}^T",
                "bias_hh": "sum_t [da_r, da_z, da_n * r]_t",
            }[name]
        for idx in np.ndindex(*total.shape):
            lab = _entry_label(name, gates, H, *idx)
            a = total[idx]
            vals = [tr.step_grads[t][name][idx] for t in order] + [a]
            if check:
                n = tr.numeric_grads[name][idx]
                rel = abs(a - n) / max(abs(a), abs(n), tr.fd_noise)
                vals += [n, f"{rel:.1e}" if rel else "0"]
            if cut:
                vals += [tr.full_grads[name][idx], tr.full_grads[name][idx] - a]
            rows.append((lab, vals, note))
            note = ""
    head = "PARAMETER GRADIENTS (each step's contribution, then the total over steps"
    head += ", truncated)" if cut else ")"
    return [head, _table(cols, rows, p)]


def _check_lines(tr):
    """The footer that says what the numeric column is and how to read the relative error."""
    of = "L_K (the truncated objective above)" if tr.cuts else "L (the loss above)"
    return [
        f"numeric: central differences of {of}, one entry w at a time,",
        f"  in float64: (L(w + eps) - L(w - eps)) / (2 eps) with eps = {tr.fd_eps:g}, which balances the",
        "  truncation error eps^2 |L'''| / 6 against the rounding error u S / eps (u = 2^-52,",
        "  S = the sum of the absolute values of the loss's terms): both near 1e-10 relative.",
        "rel err: |total - numeric| / max(|total|, |numeric|, noise), noise = u S / eps = "
        f"{tr.fd_noise:.1e}:",
        "  about 1e-8 or less when the backward is right (most near 1e-10; more for entries",
        "  close to the noise); a wrong term shows as 1e-3 and more.",
    ]
