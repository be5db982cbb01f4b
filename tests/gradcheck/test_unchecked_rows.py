"""Gradients that cannot be compared (wrong shape, NaN or inf) fail with a plain reason."""

import numpy as np
import pytest

import numrnn
from numrnn.gradcheck import gradcheck


def _pair(wrong):
    """y = x w^T, w of shape (5, 4); ``wrong`` rewrites the returned (dx, dw)."""

    def forward(x, w):
        return x @ w.T, (x, w)

    def backward(dy, cache):
        x, w = cache
        return wrong(dy @ w, dy.T @ x)

    return forward, backward


def _inputs(o=5):
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 4)), rng.standard_normal((o, 4))


def _row(report, name):
    return next(r for r in report.rows if r.name == name)


def test_a_transposed_gradient_says_transposed_and_prints_no_nan():
    report = gradcheck(_pair(lambda dx, dw: (dx, dw.T)), _inputs())
    row = _row(report, "w")
    assert not report.passed and not row.passed
    assert row.note == "shape (4, 5) where (5, 4) is expected: transposed?"
    assert row.checked == 0 and row.tol_ratio == float("inf")
    assert str(report.first_failure) == "w: shape (4, 5) where (5, 4) is expected: transposed?"
    table_row = next(line for line in str(report).splitlines() if line.startswith("w "))
    assert "nan" not in table_row
    assert table_row.endswith("FAIL (shape (4, 5) where (5, 4) is expected: transposed?)")
    assert _row(report, "x").passed  # the other rows are still checked


def test_a_wrong_shape_that_is_not_the_transpose_names_only_the_shapes():
    report = gradcheck(_pair(lambda dx, dw: (dx, dw[:, :3])), _inputs())
    assert _row(report, "w").note == "shape (5, 3) where (5, 4) is expected"
    report = gradcheck(_pair(lambda dx, dw: (dx, dw.reshape(-1))), _inputs())
    assert _row(report, "w").note == "shape (20,) where (5, 4) is expected"
    assert "nan" not in str(report)


@pytest.mark.parametrize("value, word", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_a_non_finite_analytic_gradient_is_reported_as_such(value, word):
    def poison(dx, dw):
        dw[1, 2] = value
        return dx, dw

    report = gradcheck(_pair(poison), _inputs())
    row = _row(report, "w")
    assert not report.passed
    assert row.note == f"analytic gradient has {word} at (1, 2)"
    assert str(report.first_failure) == f"w: analytic gradient has {word} at (1, 2)"
    assert report.first_failure.index == (1, 2)
    table_row = next(line for line in str(report).splitlines() if line.startswith("w "))
    assert "nan" not in table_row.replace("NaN", "")
    assert table_row.endswith(f"FAIL (analytic gradient has {word} at (1, 2))")


def test_several_non_finite_entries_name_the_first_and_count_them():
    def poison(dx, dw):
        dw[3, 0] = np.nan
        dw[0, 1] = np.inf
        return dx, dw

    row = _row(gradcheck(_pair(poison), _inputs()), "w")
    assert row.note == "analytic gradient has inf at (0, 1) (2 of 20 entries not finite)"


def test_a_module_whose_backward_returns_nan_fails_through_the_command_status():
    # A module path: poison one parameter's gradient inside backward.
    class Poisoned(numrnn.Linear):
        def backward(self, dy):
            dx = super().backward(dy)
            self.weight.grad[0, 0] = np.nan
            return dx

    mod = Poisoned(3, 2, dtype=np.float64, seed=0)
    report = gradcheck(mod, (np.random.default_rng(0).standard_normal((4, 3)),))
    assert not report.passed
    assert _row(report, "weight").note == "analytic gradient has NaN at (0, 0)"
    assert _row(report, "bias").passed
