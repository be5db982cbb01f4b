r"""Step-by-step traces of a small RNN, LSTM or GRU, for checking BPTT by hand.

A trace runs one sequence (batch of one, float64) through the step pairs of
:mod:`numrnn.reference` (the textbook layer) and keeps every number a student would write down:
per time step the pre-activations, the gates, the cell and hidden states; the
loss; and, walking back through time, the gradient reaching each hidden state
(split into what the loss sends directly and what step ``t+1`` sends back), the
chain-rule factors of the step, the gate pre-activation gradients, the gradient
of the cell state (LSTM), what is sent on to ``t-1``, and every parameter
gradient, both per step and summed.

Time steps are counted from 1, as in textbooks: :math:`h_0` is the initial state
and step ``t`` reads :math:`x_t` and :math:`h_{t-1}`.  Two losses are offered,
chosen so that :math:`\partial L/\partial h_t` is easy to write down:

.. math::

    L_{\text{sum}} = \sum_{t=1}^{T} \sum_j h_{t,j}
        \quad (\partial L/\partial h_t = 1 \text{ from the loss at every step}), \qquad
    L_{\text{last}} = \sum_j h_{T,j}

From Python::

    from numrnn.trace import trace, format_trace
    tr = trace("lstm", [1, 2, 3])          # default weights, printed by format_trace
    tr.forward[0]["c"], tr.backward[0]["dc"], tr.grads["weight_hh"]
    print(format_trace(tr, precision=4))

From the shell::

    python -m numrnn.trace lstm --inputs 1,2,3 --hidden-size 1 --precision 4
    python -m numrnn.trace gru --weights my_weights.json --loss last

The weights JSON holds PyTorch's names (``weight_ih``, ``weight_hh`` and,
optionally, ``bias_ih`` and ``bias_hh``; a ``_l0`` suffix is accepted so a saved
``state_dict`` works) as nested lists, plus optional ``h0``, ``c0`` (LSTM) and
``nonlinearity`` (RNN).  Without biases the layer has none (``bias=False``).
Every trace prints its weights in that format, ready to be edited.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field

import numpy as np

from . import reference as R

__all__ = ["KINDS", "LOSSES", "Trace", "default_weights", "format_trace", "main", "trace"]

KINDS = ("rnn", "lstm", "gru")
LOSSES = ("sum", "last")
_GATES = {"rnn": ("",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
_PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
# The default weights cycle through these values, parameter after parameter, in
# PyTorch's order: small, distinct and with one decimal, so a step is a few
# multiplications a student can do with a calculator.
_PATTERN = (0.5, -0.3, 0.1, 0.2, -0.4, 0.3, -0.2, 0.4, -0.1, 0.6, -0.5)


# -- the computation ------------------------------------------------------------------------------


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


def default_weights(kind, hidden_size=1, input_size=1):
    """The fixed small weights the trace uses when none are given.

    The values of :data:`_PATTERN` (0.5, -0.3, 0.1, 0.2, ...) are laid out in
    turn over ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` (row-major).
    For the RNN with hidden and input size 1 that is ``W_ih = 0.5``,
    ``W_hh = -0.3``, ``b_ih = 0.1``, ``b_hh = 0.2``.

    Raises:
        ValueError: unknown ``kind`` or sizes that are not positive integers.
    """
    kind = _check_kind(kind)
    H = _check_size("hidden_size", hidden_size)
    D = _check_size("input_size", input_size)
    G = len(_GATES[kind]) * H
    out, k = {}, 0
    for name, shape in zip(_PARAMS, ((G, D), (G, H), (G,), (G,))):
        n = int(np.prod(shape))
        out[name] = np.array([_PATTERN[(k + j) % len(_PATTERN)] for j in range(n)]).reshape(shape)
        k += n
    return out


def trace(
    kind,
    inputs=(1.0, 2.0, 3.0),
    weights=None,
    *,
    hidden_size=None,
    h0=None,
    c0=None,
    loss="sum",
    nonlinearity=None,
):
    r"""Run one sequence forward and backward and keep every intermediate number.

    Args:
        kind: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        inputs: the sequence, ``T`` numbers (input size 1) or ``(T, D)`` nested numbers.
        weights: None (the fixed :func:`default_weights`) or a dict with PyTorch's
            names (``weight_ih`` ``(G H, D)``, ``weight_hh`` ``(G H, H)``,
            optional ``bias_ih``/``bias_hh`` ``(G H,)``, ``G`` = 1, 4, 3 gates; a
            ``_l0`` suffix is accepted); 0-D/1-D values with the right number of
            entries are reshaped.  It may also hold ``h0``, ``c0``, ``nonlinearity``.
        hidden_size: ``H`` for the default weights (default 1); with ``weights`` it
            must match them if given.
        h0, c0: initial states ``(H,)`` (default zeros); ``c0`` for the LSTM only.
        loss: ``"sum"`` (:math:`L = \sum_t \sum_j h_{t,j}`) or ``"last"``
            (:math:`L = \sum_j h_{T,j}`).
        nonlinearity: the RNN's ``"tanh"`` (default) or ``"relu"``.

    Returns:
        A :class:`Trace`.

    Raises:
        ValueError: an unknown kind, loss or nonlinearity; empty or non-finite
            inputs; weights or states of the wrong shape, or unknown weight names.
        TypeError: inputs or weights that are not numbers.
    """
    kind = _check_kind(kind)
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(map(repr, LOSSES))}; got {loss!r}")
    x = _check_inputs(inputs)  # (T, D)
    T, D = x.shape
    if weights is None:
        H = 1 if hidden_size is None else _check_size("hidden_size", hidden_size)
        W = default_weights(kind, H, D)
    else:
        W, H, extra = _check_weights(kind, weights, D, hidden_size)
        h0 = extra.get("h0") if h0 is None else h0
        c0 = extra.get("c0") if c0 is None else c0
        nonlinearity = extra.get("nonlinearity") if nonlinearity is None else nonlinearity
    nonlinearity = "tanh" if nonlinearity is None else nonlinearity
    if nonlinearity not in ("tanh", "relu") or (kind != "rnn" and nonlinearity != "tanh"):
        allowed = "'tanh' or 'relu'" if kind == "rnn" else "'tanh' (only the RNN has a choice)"
        raise ValueError(f"nonlinearity must be {allowed}; got {nonlinearity!r}")
    h0 = _check_state("h0", h0, H)
    if kind != "lstm" and c0 is not None:
        raise ValueError(f"c0 is the LSTM's cell state; a {kind.upper()} has none")
    c0 = _check_state("c0", c0, H) if kind == "lstm" else None

    tr = Trace(kind, nonlinearity, x, W, h0, c0, loss)
    # Every number comes from the reference's step pair (numrnn/reference/), which
    # stores its intermediate quantities in the ``record`` dict it is given.
    caches = []
    h, c = h0[None], None if c0 is None else c0[None]  # (1, H): a batch of one row
    for t in range(T):
        rec = {"x": x[t], "h_prev": h}
        xt = x[t][None]  # (1, D)
        if kind == "rnn":
            h, cache = R.rnn_step_forward(xt, h, W, nonlinearity, record=rec)
        elif kind == "lstm":
            rec["c_prev"] = c
            (h, c), cache = R.lstm_step_forward(xt, (h, c), W, record=rec)
        else:
            h, cache = R.gru_step_forward(xt, h, W, record=rec)
        rec["h"] = h
        tr.forward.append(_one_row(rec))
        caches.append(cache)

    hs = [s["h"] for s in tr.forward]
    tr.loss = float(sum(v.sum() for v in hs)) if loss == "sum" else float(hs[-1].sum())

    # Backward through time: t = T .. 1, carrying dh_next (and dc_next) from step t+1,
    # as numrnn.reference's *_backward loops do, with the loss's own part split out.
    tr.backward = [None] * T
    tr.step_grads = [None] * T
    dh_next = np.zeros((1, H))
    dc_next = np.zeros((1, H)) if kind == "lstm" else None
    for t in reversed(range(T)):
        dh_loss = np.ones(H) if (loss == "sum" or t == T - 1) else np.zeros(H)
        dh = dh_next + dh_loss  # (1, H) everything that reaches h_t
        rec = {"dh_loss": dh_loss, "dh_next": dh_next, "dh": dh}
        if kind == "rnn":
            dx, dh_prev, grads = R.rnn_step_backward(dh, caches[t], record=rec)
        elif kind == "lstm":
            rec["dc_next"] = dc_next
            dx, (dh_prev, dc_next), grads = R.lstm_step_backward(
                (dh, dc_next), caches[t], record=rec
            )
        else:
            dx, dh_prev, grads = R.gru_step_backward(dh, caches[t], record=rec)
        tr.backward[t] = _one_row(rec)
        tr.step_grads[t] = grads
        dh_next = dh_prev
    tr.grads = {k: sum(g[k] for g in tr.step_grads) for k in _PARAMS if k in W}
    tr.dh0 = dh_next[0].copy()
    tr.dc0 = None if dc_next is None else dc_next[0].copy()
    return tr


def _one_row(record):
    """A step's record with the batch axis of one row dropped: name -> 1-D array (copies)."""
    return {
        k: np.array(v[0] if np.ndim(v) == 2 else v, dtype=np.float64) for k, v in record.items()
    }


# -- argument checks ------------------------------------------------------------------------------


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


# -- formatting -----------------------------------------------------------------------------------


def _fmt(v, precision):
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
        per_step = [np.asarray(s[key]).reshape(-1) for s in steps]
        n = per_step[0].size
        if "{j}" not in label:
            label += "{j}"
        for j in range(n):
            lab = label.replace("{j}", "" if n == 1 else f"[{j}]")
            rows.append((lab, [v[j] for v in per_step], note if j == 0 else ""))
    return rows


def _forward_spec(kind, nonlinearity):
    common = [("x", "x_t", "input"), ("h_prev", "h_{t-1}", "state read by step t")]
    if kind == "rnn":
        act = "tanh(a)" if nonlinearity == "tanh" else "max(a, 0)"
        return common + [
            None,
            ("a_x", "a_x", "W_ih x_t + b_ih"),
            ("a_h", "a_h", "W_hh h_{t-1} + b_hh"),
            ("a", "a", "a_x + a_h"),
            None,
            ("h", "h_t", act),
        ]
    if kind == "lstm":
        spec = common + [("c_prev", "c_{t-1}", "cell state read by step t"), None]
        for g in "ifgo":
            spec.append((f"a_{g}", f"a_{g}", f"W_i{g} x_t + b_i{g} + W_h{g} h_{{t-1}} + b_h{g}"))
        spec.append(None)
        for g in "ifgo":
            spec.append((g, g, f"{'tanh' if g == 'g' else 'sigmoid'}(a_{g})"))
        return spec + [
            None,
            ("c", "c_t", "f * c_{t-1} + i * g"),
            ("tanh_c", "tanh(c_t)", "tanh(c_t)"),
            ("h", "h_t", "o * tanh(c_t)"),
        ]
    return common + [
        None,
        ("a_r", "a_r", "W_ir x_t + b_ir + W_hr h_{t-1} + b_hr"),
        ("a_z", "a_z", "W_iz x_t + b_iz + W_hz h_{t-1} + b_hz"),
        ("r", "r", "sigmoid(a_r)"),
        ("z", "z", "sigmoid(a_z)"),
        ("ax_n", "ax_n", "W_in x_t + b_in"),
        ("u", "u", "W_hn h_{t-1} + b_hn"),
        ("a_n", "a_n", "W_in x_t + b_in + r * u"),
        ("n", "n", "tanh(a_n)"),
        None,
        ("h", "h_t", "(1 - z) * n + z * h_{t-1}"),
    ]


def _backward_spec(kind, nonlinearity, loss_kind):
    src = (
        "1 at every t (L = sum of h)"
        if loss_kind == "sum"
        else "1 at t = T, else 0 (L = sum of h_T)"
    )
    common = [
        ("dh_loss", "dL/dh_t{j} loss", src),
        ("dh_next", "dL/dh_t{j} from t+1", "dL/dh_{t-1} sent back by step t+1 (0 at t = T)"),
        ("dh", "dL/dh_t", "total: loss part + part from t+1"),
        None,
    ]
    if kind == "rnn":
        deriv = "(1 - h_t^2)" if nonlinearity == "tanh" else "[h_t > 0]"
        return common + [
            ("da", "da", f"dL/dh_t * {deriv}"),
            None,
            ("dh_prev", "dL/dh_{t-1}", "W_hh^T da"),
            ("dx", "dL/dx_t", "W_ih^T da"),
        ]
    if kind == "lstm":
        return common + [
            ("dc_next", "dL/dc_t{j} from t+1", "dL/dc_{t-1} sent back by step t+1 (0 at t = T)"),
            ("do", "do", "dL/dh_t * tanh(c_t)"),
            ("dc", "dL/dc_t", "from t+1 + dL/dh_t * o * (1 - tanh(c_t)^2)"),
            ("di", "di", "dL/dc_t * g"),
            ("df", "df", "dL/dc_t * c_{t-1}"),
            ("dg", "dg", "dL/dc_t * i"),
            None,
            ("da_i", "da_i", "di * i * (1 - i)"),
            ("da_f", "da_f", "df * f * (1 - f)"),
            ("da_g", "da_g", "dg * (1 - g^2)"),
            ("da_o", "da_o", "do * o * (1 - o)"),
            None,
            ("dc_prev", "dL/dc_{t-1}", "dL/dc_t * f"),
            ("dh_prev", "dL/dh_{t-1}", "W_hh^T [da_i, da_f, da_g, da_o]"),
            ("dx", "dL/dx_t", "W_ih^T [da_i, da_f, da_g, da_o]"),
        ]
    return common + [
        ("dn", "dn", "dL/dh_t * (1 - z)"),
        ("dz", "dz", "dL/dh_t * (h_{t-1} - n)"),
        ("da_n", "da_n", "dn * (1 - n^2)"),
        ("dr", "dr", "da_n * u"),
        None,
        ("da_r", "da_r", "dr * r * (1 - r)"),
        ("da_z", "da_z", "dz * z * (1 - z)"),
        None,
        ("dh_direct", "dL/dh_t{j} * z", "the path h_{t-1} -> h_t that skips the weights"),
        ("dh_prev", "dL/dh_{t-1}", "dL/dh_t * z + W_hh^T [da_r, da_z, da_n * r]"),
        ("dx", "dL/dx_t", "W_ih^T [da_r, da_z, da_n]"),
    ]


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
    kind, H, D, T = tr.kind, tr.hidden_size, tr.input_size, tr.seq_len
    p = precision
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

    fcols = [f"t={t + 1}" for t in range(T)]
    out.append("FORWARD (one column per time step)")
    out.append(_table(fcols, _quantity_rows(tr.forward, _forward_spec(kind, tr.nonlinearity)), p))
    out.append("")

    hs = [s["h"] for s in tr.forward]
    if tr.loss_kind == "sum":
        terms = [v for h in hs for v in h]
        out.append("LOSS  L = sum over t and units of h_t")
    else:
        terms = list(hs[-1])
        out.append("LOSS  L = sum over units of h_T (the last hidden state)")
    if len(terms) <= 12:
        out.append(
            "  L = "
            + " + ".join(_fmt(v, p) for v in terms).replace("+ -", "- ")
            + f" = {_fmt(tr.loss, p)}"
        )
    else:
        out.append(f"  L = (sum of {len(terms)} values of the h_t row above) = {_fmt(tr.loss, p)}")
    out.append("")

    order = list(reversed(range(T)))
    bcols = [f"t={t + 1}" for t in order]
    out.append("BACKWARD (columns in the order BPTT visits the steps: t = T .. 1)")
    out.append(
        _table(
            bcols,
            _quantity_rows(
                [tr.backward[t] for t in order], _backward_spec(kind, tr.nonlinearity, tr.loss_kind)
            ),
            p,
        )
    )
    out.append("")

    out.append("PARAMETER GRADIENTS (each step's contribution, then the total over steps)")
    rows = []
    gates = _GATES[kind]
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
            vals = [tr.step_grads[t][name][idx] for t in order] + [total[idx]]
            rows.append((lab, vals, note))
            note = ""
    out.append(_table(bcols + ["total"], rows, p))
    out.append("")
    tail = "Gradient of the initial state: " + ", ".join(
        f"dL/dh_0 = {_fmt(v, p)}" if H == 1 else f"dL/dh_0[{j}] = {_fmt(v, p)}"
        for j, v in enumerate(tr.dh0)
    )
    if tr.dc0 is not None:
        tail += ", " + ", ".join(
            f"dL/dc_0 = {_fmt(v, p)}" if H == 1 else f"dL/dc_0[{j}] = {_fmt(v, p)}"
            for j, v in enumerate(tr.dc0)
        )
    out.append(tail)
    return "\n".join(out)


# -- command line ---------------------------------------------------------------------------------


def _parse_inputs(text):
    """``"1,2,3"``: three scalar steps; ``"1,2;3,4"``: two steps of two features."""
    multi = ";" in text
    steps = text.split(";") if multi else text.replace(",", " ").split()
    rows = []
    for s in steps:
        parts = s.replace(",", " ").split()
        if not parts:
            raise ValueError(f"--inputs: empty step in {text!r}")
        try:
            rows.append([float(q) for q in parts])
        except ValueError:
            raise ValueError(
                f"--inputs must be numbers separated by commas (one per step), or steps of "
                f"several features separated by ';'; got {text!r}"
            ) from None
    if not rows:
        raise ValueError("--inputs: no numbers given")
    if len({len(r) for r in rows}) != 1:
        raise ValueError(f"--inputs: every step needs the same number of features; got {text!r}")
    return rows


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m numrnn.trace",
        description="Print every number of a small RNN/LSTM/GRU forward and backward pass (float64, "
        "batch of one) as tables to check BPTT by hand.",
    )
    p.add_argument("kind", choices=KINDS, help="which recurrent layer")
    p.add_argument(
        "--inputs",
        default="1,2,3",
        help="the input sequence: '1,2,3' (scalar steps, the default) or '1,0;0,1' (steps "
        "separated by ';'); write --inputs=-1,2 when it starts with a minus sign",
    )
    p.add_argument(
        "--hidden-size", type=int, default=None, help="H (default 1, or the size of the --weights)"
    )
    p.add_argument(
        "--weights",
        metavar="JSON_FILE",
        default=None,
        help="weights with PyTorch's names (weight_ih, weight_hh, optional bias_ih, bias_hh, "
        "h0, c0, nonlinearity); default: fixed small values, printed",
    )
    p.add_argument("--precision", type=int, default=4, help="decimals printed (default 4)")
    p.add_argument(
        "--loss",
        choices=LOSSES,
        default="sum",
        help="'sum': L = sum of h_t over t and units (default); 'last': sum of the last h only",
    )
    p.add_argument(
        "--nonlinearity", choices=("tanh", "relu"), default=None, help="RNN only (default tanh)"
    )
    return p


def main(argv=None):
    """Command-line entry point; returns 0, or exits with status 2 on bad arguments."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not 0 <= args.precision <= 17:
        parser.error(f"--precision must be in [0, 17]; got {args.precision}")
    if args.nonlinearity is not None and args.kind != "rnn":
        parser.error("--nonlinearity applies to the rnn only")
    try:
        inputs = _parse_inputs(args.inputs)
    except ValueError as err:
        parser.error(str(err))
    weights = None
    if args.weights is not None:
        try:
            with open(args.weights, encoding="utf-8") as fh:
                weights = json.load(fh)
        except OSError as err:
            parser.error(f"--weights: cannot read {args.weights!r}: {err.strerror or err}")
        except json.JSONDecodeError as err:
            parser.error(f"--weights: {args.weights!r} is not valid JSON: {err}")
        if not isinstance(weights, dict):
            parser.error(
                f"--weights: {args.weights!r} must hold a JSON object (name -> nested lists)"
            )
    try:
        tr = trace(
            args.kind,
            inputs,
            weights,
            hidden_size=args.hidden_size,
            loss=args.loss,
            nonlinearity=args.nonlinearity,
        )
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    print(format_trace(tr, precision=args.precision))
    return 0


if __name__ == "__main__":
    sys.exit(main())
