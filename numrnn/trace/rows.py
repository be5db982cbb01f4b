"""The rows of a trace's step tables: what each quantity is called and how it is computed.

Each row is ``(key, label, formula)``: ``key`` names the number in a step's record
(:class:`~numrnn.trace.tables.Trace`), ``label`` is printed at the row's start and
``formula`` at its end; None draws a rule between groups of rows.  The formulas
are those of the reference's step pairs (``numrnn/reference/``), in the order they
compute.

The rows are written below as text tables, one row a line: ``key | label |
formula``, and ``--`` for a rule.  A formula that depends on the trace's options
names a blank in angle brackets (``<activation>``), filled by :func:`_rows`.
"""

from __future__ import annotations

__all__ = []

_FORWARD_INPUTS = """
    x         | x_t        | input
    h_prev    | h_{t-1}    | state read by step t
"""

_FORWARD = {
    "rnn": """
        --
        a_x       | a_x        | W_ih x_t + b_ih
        a_h       | a_h        | W_hh h_{t-1} + b_hh
        a         | a          | a_x + a_h
        --
        h         | h_t        | <activation>
    """,
    "lstm": """
        c_prev    | c_{t-1}    | cell state read by step t
        --
        a_i       | a_i        | W_ii x_t + b_ii + W_hi h_{t-1} + b_hi
        a_f       | a_f        | W_if x_t + b_if + W_hf h_{t-1} + b_hf
        a_g       | a_g        | W_ig x_t + b_ig + W_hg h_{t-1} + b_hg
        a_o       | a_o        | W_io x_t + b_io + W_ho h_{t-1} + b_ho
        --
        i         | i          | sigmoid(a_i)
        f         | f          | sigmoid(a_f)
        g         | g          | tanh(a_g)
        o         | o          | sigmoid(a_o)
        --
        c         | c_t        | f * c_{t-1} + i * g
        tanh_c    | tanh(c_t)  | tanh(c_t)
        h         | h_t        | o * tanh(c_t)
    """,
    "gru": """
        --
        a_r       | a_r        | W_ir x_t + b_ir + W_hr h_{t-1} + b_hr
        a_z       | a_z        | W_iz x_t + b_iz + W_hz h_{t-1} + b_hz
        r         | r          | sigmoid(a_r)
        z         | z          | sigmoid(a_z)
        ax_n      | ax_n       | W_in x_t + b_in
        u         | u          | W_hn h_{t-1} + b_hn
        a_n       | a_n        | W_in x_t + b_in + r * u
        n         | n          | tanh(a_n)
        --
        h         | h_t        | (1 - z) * n + z * h_{t-1}
    """,
}

_BACKWARD_INPUTS = """
    dh_loss   | dL/dh_t{j} loss      | <share>
    dh_next   | dL/dh_t{j} from t+1  | dL/dh_{t-1} sent back by step t+1 (0 at t = T)
    dh        | dL/dh_t              | total: loss part + part from t+1
    --
"""

_BACKWARD = {
    "rnn": """
        da        | da                   | dL/dh_t * <derivative>
        --
        dh_prev   | dL/dh_{t-1}          | W_hh^T da
        dx        | dL/dx_t              | W_ih^T da
    """,
    "lstm": """
        dc_next   | dL/dc_t{j} from t+1  | dL/dc_{t-1} sent back by step t+1 (0 at t = T)
        do        | do                   | dL/dh_t * tanh(c_t)
        dc        | dL/dc_t              | from t+1 + dL/dh_t * o * (1 - tanh(c_t)^2)
        di        | di                   | dL/dc_t * g
        df        | df                   | dL/dc_t * c_{t-1}
        dg        | dg                   | dL/dc_t * i
        --
        da_i      | da_i                 | di * i * (1 - i)
        da_f      | da_f                 | df * f * (1 - f)
        da_g      | da_g                 | dg * (1 - g^2)
        da_o      | da_o                 | do * o * (1 - o)
        --
        dc_prev   | dL/dc_{t-1}          | dL/dc_t * f
        dh_prev   | dL/dh_{t-1}          | W_hh^T [da_i, da_f, da_g, da_o]
        dx        | dL/dx_t              | W_ih^T [da_i, da_f, da_g, da_o]
    """,
    "gru": """
        dn        | dn                   | dL/dh_t * (1 - z)
        dz        | dz                   | dL/dh_t * (h_{t-1} - n)
        da_n      | da_n                 | dn * (1 - n^2)
        dr        | dr                   | da_n * u
        --
        da_r      | da_r                 | dr * r * (1 - r)
        da_z      | da_z                 | dz * z * (1 - z)
        --
        dh_direct | dL/dh_t{j} * z       | the path h_{t-1} -> h_t that skips the weights
        dh_prev   | dL/dh_{t-1}          | dL/dh_t * z + W_hh^T [da_r, da_z, da_n * r]
        dx        | dL/dx_t              | W_ih^T [da_r, da_z, da_n]
    """,
}

# Under truncated BPTT: after the row of the key, the row that shows what a cut drops
# (or, after dh, the full BPTT's gradient for comparison).
_TRUNCATION = """
    dh_next   | dh_cut   | dL/dh_t{j} dropped     | cut: what step t+1 sent back, discarded
    dh        | dh_full  | dL/dh_t{j} full BPTT   | the same without truncation
    dc_next   | dc_cut   | dL/dc_t{j} dropped     | cut: what step t+1 sent back, discarded
"""


def _rows(table, **blanks):
    """The rows of a text ``table``: a tuple of its ``|``-separated cells per line,
    None for a ``--`` line, nothing for a blank one; each ``<name>`` in a cell is
    replaced by ``blanks[name]``."""
    rows = []
    for line in table.splitlines():
        if not line.strip():
            continue
        if line.strip() == "--":
            rows.append(None)
            continue
        cells = [cell.strip() for cell in line.split("|")]
        for name, value in blanks.items():
            cells = [cell.replace(f"<{name}>", value) for cell in cells]
        rows.append(tuple(cells))
    return rows


def _forward_spec(kind, nonlinearity):
    """The forward table's rows of ``kind``: ``(key, label, formula)``, None for a rule."""
    activation = "tanh(a)" if nonlinearity == "tanh" else "max(a, 0)"
    return _rows(_FORWARD_INPUTS + _FORWARD[kind], activation=activation)


def _truncated_spec(spec):
    """The backward rows with, after the carried gradients, what a cut drops and the
    full BPTT's dL/dh_t for comparison."""
    added = {after: row for after, *row in _rows(_TRUNCATION)}
    out = []
    for item in spec:
        out.append(item)
        if item and item[0] in added:
            out.append(tuple(added[item[0]]))
    return out


def _backward_spec(kind, nonlinearity, loss_kind):
    """The backward table's rows of ``kind``, from the loss's share to ``dL/dx_t``."""
    share = (
        "1 at every t (L = sum of h)"
        if loss_kind == "sum"
        else "1 at t = T, else 0 (L = sum of h_T)"
    )
    derivative = "(1 - h_t^2)" if nonlinearity == "tanh" else "[h_t > 0]"
    return _rows(_BACKWARD_INPUTS + _BACKWARD[kind], share=share, derivative=derivative)
