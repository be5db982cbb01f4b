"""The report of a gradient check: one row per tensor, the first failure, a printed table."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["GradcheckFailure", "GradcheckReport", "GradcheckRow"]


@dataclass
class GradcheckFailure:
    """The first failing entry of the first failing tensor.

    ``index`` is the entry's position (a tuple, in C order the first that fails
    among those checked); ``tolerance`` is ``atol + rtol * max(|a|, |n|)``.  ``note``
    is set when the tensor could not be compared at all (a gradient of the wrong shape,
    or one holding NaN or inf): it says why, and the numbers are then NaN.
    """

    name: str
    index: tuple
    analytic: float
    numeric: float
    abs_error: float
    rel_error: float
    tolerance: float
    note: str = ""

    def __str__(self):
        if self.note:
            return f"{self.name}: {self.note}"
        return (
            f"{self.name}{list(self.index)}: analytic {self.analytic:.9g}, numeric "
            f"{self.numeric:.9g} (|a-n| {self.abs_error:.3g} > tolerance {self.tolerance:.3g}, "
            f"relative error {self.rel_error:.3g})"
        )


@dataclass
class GradcheckRow:
    """The check of one tensor (a parameter or a float input).

    Attributes:
        name: parameter name from ``named_parameters()`` or input name.
        kind: ``"parameter"`` or ``"input"``.
        shape: the tensor's shape.
        checked: number of entries compared (all of them, or a seeded sample).
        size: number of entries in the tensor.
        max_rel_error: max of ``|a - n| / max(|a|, |n|, tiny)`` over checked entries.
        index: where ``max_rel_error`` occurred; ``analytic`` and ``numeric`` are the values there.
        max_abs_error: max ``|a - n|``.
        tol_ratio: max of ``|a - n| / (atol + rtol * max(|a|, |n|))``; the row passes iff it is <= 1.
        passed: every checked entry within tolerance (and the gradient had the right shape).
        num_failed: how many checked entries are out of tolerance.
        first_failure: the first failing entry in C order, or None.
        note: why the row failed without a comparison (e.g. wrong gradient shape), or a remark.
        entries: ``(indices, analytic, numeric)`` of every checked entry, for inspection.
    """

    name: str
    kind: str
    shape: tuple
    checked: int
    size: int
    max_rel_error: float
    index: tuple
    analytic: float
    numeric: float
    max_abs_error: float
    tol_ratio: float
    passed: bool
    num_failed: int = 0
    first_failure: GradcheckFailure | None = None
    note: str = ""
    entries: tuple = field(default=(), repr=False)


@dataclass
class GradcheckReport:
    """Result of :func:`gradcheck`: one :class:`GradcheckRow` per checked tensor.

    ``passed`` is true when every row passed; ``bool(report)`` is the same.
    ``str(report)`` is an aligned table followed by a verdict line.
    ``skipped`` lists inputs not differentiated (integer arrays, None, ...), as
    ``(name, reason)``; ``warnings`` lists contract problems found on the way
    (a backward that wrote into its upstream gradient, caches left pending, ...).
    ``noise_factor`` is the ``c`` of the default ``atol = c * u * S / eps``, or None
    when ``atol`` was given; the printed report ends with the tolerance rule it used
    (:func:`tolerance_footer`).
    """

    rows: list
    eps: float
    rtol: float
    atol: float
    output_scale: float
    target: str = ""
    skipped: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    noise_factor: float | None = None

    @property
    def passed(self):
        return all(r.passed for r in self.rows)

    def __bool__(self):
        return self.passed

    @property
    def first_failure(self):
        """A :class:`GradcheckFailure` for the first failing row (in row order), or None."""
        for r in self.rows:
            if not r.passed:
                if r.first_failure is not None:
                    return r.first_failure
                return GradcheckFailure(
                    r.name, (), float("nan"), float("nan"), float("nan"), float("nan"), float("nan")
                )
        return None

    @property
    def entries_checked(self):
        return sum(r.checked for r in self.rows)

    def __str__(self):
        head = (
            "tensor",
            "shape",
            "checked",
            "max rel err",
            "at",
            "analytic",
            "numeric",
            "tol ratio",
            "",
        )
        body = [_cells(r) for r in self.rows]
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
        right = {2, 3, 5, 6, 7}

        def line(cells):
            out = [
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths))
            ]
            return "  ".join(out).rstrip()

        lines = []
        if self.target:
            lines.append(f"gradcheck {self.target}")
        lines.append(
            f"eps={self.eps:g}  rtol={self.rtol:g}  atol={self.atol:.3g}  "
            f"(output scale sum|G*y| = {self.output_scale:.4g})"
        )
        lines.append(line(head))
        lines.append(line(["-" * w for w in widths]))
        lines.extend(line(b) for b in body)
        for name, reason in self.skipped:
            lines.append(f"not differentiated: {name} ({reason})")
        for w in self.warnings:
            lines.append(f"warning: {w}")
        n_fail = sum(not r.passed for r in self.rows)
        if self.passed:
            lines.append(
                f"PASSED: {len(self.rows)} tensors, {self.entries_checked} entries checked"
            )
        else:
            lines.append(
                f"FAILED: {n_fail} of {len(self.rows)} tensors; first failure {self.first_failure}"
            )
        lines.extend(tolerance_footer(self.atol, self.noise_factor))
        return "\n".join(lines)

    __repr__ = __str__


TOL_RATIO_TEXT = (
    "tol ratio: a tensor's worst |analytic - numeric| / tolerance; above 1 fails;\n"
    "  a correct backward is typically at 0.01 or below."
)


def tolerance_footer(atol=None, noise_factor=100.0):
    r"""The lines that end a printed report: the pass rule and the ``tol ratio`` column.

    An entry passes when :math:`|a - n| \le \mathrm{atol} + \mathrm{rtol} \max(|a|, |n|)`;
    the default ``atol`` is ``noise_factor * u * S / eps``, the rounding noise of the
    central difference (``u = 2**-52``, ``S = sum|G*y|`` the output scale) times a safety
    factor.  ``atol=None`` states the rule without a value (the command's ``--help``);
    ``noise_factor=None`` says that ``atol`` was given by the caller.
    """
    if noise_factor is None:
        how = "given by the caller"
    else:
        how = (
            f"{noise_factor:g} * u * S / eps, the central difference's rounding noise times "
            f"{noise_factor:g}\n  (u = 2**-52; S = sum|G*y|, the output y weighted by the random "
            "upstream gradient G)"
        )
    value = "" if atol is None else f"{atol:.3g}" + (", " if noise_factor is None else " = ")
    return [
        "tolerance: an entry passes when |analytic - numeric| <= atol + rtol * "
        "max(|analytic|, |numeric|),",
        f"  atol = {value}{how}.",
        *TOL_RATIO_TEXT.split("\n"),
    ]


def _fmt_index(index):
    return "(" + ",".join(str(i) for i in index) + ")"


def _cells(r):
    """The printed cells of one row of the report's table."""
    checked = f"{r.checked}" if r.checked == r.size else f"{r.checked}/{r.size}"
    if r.checked == 0 and r.note:  # not compared (wrong shape, not finite): no numbers
        return (r.name, "x".join(map(str, r.shape)) or "()", checked, *"-----", f"FAIL ({r.note})")
    return (
        r.name,
        "x".join(map(str, r.shape)) or "()",
        checked,
        f"{r.max_rel_error:.2e}",
        _fmt_index(r.index),
        f"{r.analytic:.6g}",
        f"{r.numeric:.6g}",
        f"{r.tol_ratio:.3g}",
        "ok" if r.passed else "FAIL" + (f" ({r.note})" if r.note else ""),
    )
