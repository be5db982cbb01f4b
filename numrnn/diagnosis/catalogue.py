"""The catalogue of classic BPTT mistakes that :func:`numrnn.check_bptt` can name.

Each entry has a name (what the report prints after ``diagnosis:``), one sentence
on what went wrong, and the line of the derivation that the mistake breaks, in the
notation of :mod:`numrnn.reference` (``dh_next``, ``dc_next``: the gradients that
step ``t + 1`` sends back to ``h_t`` and ``c_t``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CATALOGUE", "Mistake", "describe"]


@dataclass(frozen=True)
class Mistake:
    """One classic mistake: ``name``, ``explanation`` and the derivation line it breaks."""

    name: str
    explanation: str
    breaks: str


CATALOGUE = {
    m.name: m
    for m in (
        Mistake(
            "missing-carried-h",
            "The gradient that step t+1 sends back to h_t is never added to the output's "
            "gradient, so only the last step is right.",
            "dL/dh_t = dout[t] + dh_next",
        ),
        Mistake(
            "missing-carried-c",
            "The gradient that step t+1 sends back to the cell state c_t (dc_next) is dropped, "
            "so only the last step is right.",
            "dL/dc_t = dc_next + dL/dh_t * o_t * (1 - tanh(c_t)^2)",
        ),
        Mistake(
            "weights-from-one-step",
            "A weight gradient holds one time step's contribution instead of the sum over "
            "all steps (assigned with = instead of accumulated with +=).",
            "dW = sum_t dW_t",
        ),
        Mistake(
            "bias-not-summed",
            "A bias gradient is not summed over the batch (it keeps one row, or a row per "
            "example), although every example adds the same bias.",
            "db = sum_t sum_b da[t, b]",
        ),
        Mistake(
            "wrong-gate",
            "One gate's derivative or product is wrong: only that gate's rows of the weight "
            "and bias gradients are off when the sequence has a single step.",
            "da_gate = d(gate) * gate'(a_gate), with the gate's own upstream factor",
        ),
        Mistake(
            "sign-flip",
            "A gradient has the right size but the opposite sign.",
            "every gradient: d(loss)/d(input), not its negative",
        ),
        Mistake(
            "transposed",
            "A gradient is the transpose of the right one (a matrix product taken the wrong "
            "way round).",
            "dW_ih = da^T x (shape of W_ih), not x^T da",
        ),
        Mistake(
            "scaled",
            "A gradient is the right one times a constant factor (a mean where a sum belongs, "
            "a missing or extra 1/2, 1/B or 1/T).",
            "the chain rule adds no factor of its own",
        ),
        Mistake(
            "wrong-dh-prev",
            "The step's gradient to the previous state misses a path or has one too many: "
            "with one step, every weight and dx is right and only dh0 (or dc0) is wrong.",
            "dh_prev = sum over every use of h_prev in the step (GRU: dh * z, the gates, W_hn)",
        ),
        Mistake(
            "mutated-input",
            "The backward wrote into one of its arguments (for instance dout[t] += dh_next), "
            "which corrupts the caller's arrays.",
            "a backward reads dout and the cache, and writes only new arrays",
        ),
        Mistake(
            "padding-leak",
            "Gradient reaches steps past a row's length: a padded step must pass dh_next on "
            "unchanged and receive nothing itself.",
            "d_new = m_t * (dout[t] + dh_next);  dh_next = dprev + (1 - m_t) * (dout[t] + dh_next)",
        ),
        Mistake(
            "wrong-initial-state",
            "The backward does not start from the gradient of the final state (dhT, dcT), or "
            "does not return the gradient of the initial state (dh0, dc0).",
            "dh_next = dhT before the loop;  dh0 = dh_next after it",
        ),
        Mistake(
            "repeated-index-overwritten",
            "An index that occurs several times receives only one of its gradients: rows "
            "are assigned (dW[idx] = de) instead of added (np.add.at).",
            "dW_k = sum over the positions n with idx_n = k of de_n",
        ),
        Mistake(
            "wrong-shape",
            "A gradient does not have the shape of the tensor it is the gradient of.",
            "dT has the shape of T",
        ),
        Mistake(
            "unclassified",
            "The gradients are wrong in a way that matches none of the classic mistakes: "
            "read the per-step and per-gate tables to find where.",
            "(none in particular)",
        ),
    )
}


def describe(name):
    """The catalogue entry for a diagnosis name such as ``wrong-gate:f`` or ``scaled:1/3``."""
    return CATALOGUE[name.split(":", 1)[0]]
