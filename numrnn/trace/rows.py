"""The rows of a trace's step tables: what each quantity is called and how it is computed.

Each row is ``(key, label, formula)``: ``key`` names the number in a step's record
(:class:`~numrnn.trace.tables.Trace`), ``label`` is printed at the row's start and
``formula`` at its end; None draws a rule between groups of rows.  The formulas
are those of the reference's step pairs (``numrnn/reference/``), in the order they
compute.
"""

from __future__ import annotations

__all__ = []


def _forward_spec(kind, nonlinearity):
    """The forward table's rows of ``kind``: ``(key, label, formula)``, None for a rule."""
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


def _truncated_spec(spec):
    """The backward rows with, after the carried gradients, what a cut drops and the
    full BPTT's dL/dh_t for comparison."""
    out = []
    for item in spec:
        out.append(item)
        key = item[0] if item else None
        if key == "dh_next":
            out.append(("dh_cut", "dL/dh_t{j} dropped", "cut: what step t+1 sent back, discarded"))
        elif key == "dh":
            out.append(("dh_full", "dL/dh_t{j} full BPTT", "the same without truncation"))
        elif key == "dc_next":
            out.append(("dc_cut", "dL/dc_t{j} dropped", "cut: what step t+1 sent back, discarded"))
    return out


def _backward_spec(kind, nonlinearity, loss_kind):
    """The backward table's rows of ``kind``, from the loss's share to ``dL/dx_t``."""
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
