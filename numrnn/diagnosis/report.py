"""The text of a BPTT check: per tensor, per time step, per gate, then the diagnosis."""

from __future__ import annotations

import numpy as np

from .catalogue import describe
from .compare import TOL, rel_error

__all__ = ["BPTTReport"]


def _err_text(err):
    return "  wrong shape" if err == float("inf") else f"{err:12.2e}"


class BPTTReport:
    """What :func:`numrnn.check_bptt` found; ``str(report)`` is the printable report.

    Attributes: ``passed``, ``diagnoses`` (catalogue names such as ``"missing-carried-h"``
    or ``"wrong-gate:f"``), ``first_wrong_step`` (an int, ``-1`` when only the initial
    state's gradient is wrong, or None), ``tensors`` (per tensor, its error in each
    probe), ``step_errors`` (``[(label, error)]`` from the last step down) and
    ``gate_errors`` (per gated parameter, the error of each gate's rows).
    """

    def __init__(self, cell, T, B, D, H, seed, lengths, gates):
        self.cell, self.sizes, self.seed, self.lengths, self.gate_names = (
            cell,
            (T, B, D, H),
            seed,
            lengths,
            gates,
        )
        self.tensors, self.shapes, self.step_errors, self.gate_errors = {}, {}, [], {}
        self.diagnoses, self.details, self.first_wrong_step, self.passed = [], [], None, False

    def add_probe(self, probe, got, expected):
        """Record each tensor's normwise relative error in ``probe``."""
        for name, e in expected.items():
            self.tensors.setdefault(name, {})[probe] = rel_error(got[name], e)
            self.shapes.setdefault(name, (np.shape(got[name]), np.shape(e)))

    def steps(self, dx, dx_ref, mask):
        """Per-step errors of ``dx[t]``, from the last step down; padded rows compared to zero."""
        T = dx_ref.shape[0]
        scale = np.linalg.norm(dx_ref) / np.sqrt(
            T
        )  # a typical step's size: the floor for zero rows
        for t in reversed(range(T)):
            err = (
                rel_error(dx[t], dx_ref[t], 1e-3 * scale)
                if np.shape(dx) == dx_ref.shape
                else float("inf")
            )
            self.step_errors.append((f"t={t}", err, int((mask[t] == 0).sum())))

    def gates(self, got, expected, H):
        """Per-gate errors of the gated parameters (rows ``k H .. (k+1) H``) in the one-step probe."""
        if not self.gate_names:
            return
        G = len(self.gate_names)
        for name, e in expected.items():
            if name.startswith("d") or e.shape[0] != G * H or np.shape(got[name]) != e.shape:
                continue
            self.gate_errors[name] = [
                rel_error(got[name][k * H : (k + 1) * H], e[k * H : (k + 1) * H]) for k in range(G)
            ]

    def wrong_gates(self):
        """The gates whose rows are wrong in some parameter, when not all of them are."""
        if not self.gate_errors:
            return []
        bad = [
            g
            for k, g in enumerate(self.gate_names)
            if any(errs[k] > TOL for errs in self.gate_errors.values())
        ]
        return bad if len(bad) < len(self.gate_names) else []

    def all_close(self):
        return all(err <= TOL for probes in self.tensors.values() for err in probes.values())

    def finish(self, diagnoses, details):
        self.diagnoses, self.details = diagnoses, details
        self.passed = self.all_close() and not diagnoses
        wrong = [label for label, err, _ in self.step_errors if err > TOL]
        if wrong:
            self.first_wrong_step = int(wrong[0][2:])
        elif any(
            self.tensors[n]["outputs"] > TOL
            for n in self.tensors
            if n != "dx" and n[1:] in ("h0", "c0")
        ):
            self.first_wrong_step = -1

    def __str__(self):
        T, B, D, H = self.sizes
        probes = ("outputs", "final state", "one step")
        lines = [
            f"BPTT check, {self.cell} cell: T={T}, B={B}, D={D}, H={H}, float64, seed {self.seed}"
            + (f", lengths {self.lengths}" if self.lengths else ""),
            "",
            "per tensor: relative error |yours - reference| / |reference| in each probe",
            f"{'tensor':<10} {'shape':>12} " + " ".join(f"{p:>12}" for p in probes) + "  status",
        ]
        for name, errs in self.tensors.items():
            got, want = self.shapes[name]
            shape = "x".join(map(str, want)) or "()"
            ok = all(err <= TOL for err in errs.values())
            lines.append(
                f"{name:<10} {shape:>12} "
                + " ".join(_err_text(errs[p]) for p in probes)
                + ("  ok" if ok else "  WRONG")
            )
            if got != want:
                hint = ": transposed?" if got == want[::-1] else ""
                lines.append(f"{'':<10} shape {got} where {want} is expected{hint}")
        lines += [
            "",
            "per time step (outputs probe): dx[t], the backward runs from the last step down",
        ]
        for label, err, padded in self.step_errors:
            note = f"  ({padded} padded row(s))" if padded else ""
            lines.append(f"  {label:<6} {_err_text(err)}  {'ok' if err <= TOL else 'WRONG'}{note}")
        for name in (n for n in self.tensors if n in ("dh0", "dc0")):
            err = self.tensors[name]["outputs"]
            lines.append(f"  {name:<6} {_err_text(err)}  {'ok' if err <= TOL else 'WRONG'}")
        if self.gate_errors:
            lines += [
                "",
                "per gate (one-step probe): rows of each gate in the weight and bias gradients",
            ]
            lines.append(f"{'tensor':<10} " + " ".join(f"{g:>10}" for g in self.gate_names))
            for name, errs in self.gate_errors.items():
                lines.append(f"{name:<10} " + " ".join(f"{e:10.1e}" for e in errs))
        lines += [
            "",
            "diagnosis:" if self.diagnoses else "diagnosis: every gradient equals the reference",
        ]
        for name in self.diagnoses:
            m = describe(name)
            lines += [f"  {name}: {m.explanation}", f"    breaks: {m.breaks}"]
        lines += [f"    ({d})" for d in self.details]
        lines += [
            "",
            f"Errors are normwise and relative; both sides are exact float64 computations, so a right "
            f"answer is within ~1e-15 and the tolerance is {TOL:g}.",
            f"first wrong step: {'none' if self.first_wrong_step is None else f't={self.first_wrong_step}'}",
            f"diagnosis: {', '.join(self.diagnoses) if self.diagnoses else 'none'}",
        ]
        return "\n".join(lines)
