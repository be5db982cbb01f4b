"""Tests for numrnn.gradcheck: correct backward passes pass, broken ones fail and are located.

The toy modules below are written here, independently of numrnn's layers, with the
same call shapes as numrnn.RNN / LSTM / LSTMCell (``forward(x, hx=None, lengths=None)``
returning ``out, hn`` or ``out, (hn, cn)``; ``backward(dout, dhx=None)``), and a
``bug=`` switch that plants one known error in their backward.
"""

import subprocess
import sys

import numpy as np
import pytest

import numrnn
import numrnn.functional as F
from numrnn.gradcheck import GradcheckReport, gradcheck, main
from numrnn.nn.module import Module, Parameter


def _verdict(text):
    """The report's verdict line (the tolerance footer follows it)."""
    return next(line for line in text.splitlines() if line.startswith(("PASSED", "FAILED")))


def _rng(seed=0):
    return np.random.default_rng(seed)


# -- toy modules ---------------------------------------------------------------------------


class ToyRNN(Module):
    """h_t = tanh(x_t W^T + h_{t-1} U^T + b); rows past their length keep h and output zero."""

    def __init__(self, D, H, seed=0, dtype=np.float64, bug=None, scale=1.0):
        super().__init__()
        r = _rng(seed)
        k = scale / np.sqrt(H)
        self.weight_ih = Parameter(r.uniform(-k, k, (H, D)).astype(dtype))
        self.weight_hh = Parameter(r.uniform(-k, k, (H, H)).astype(dtype))
        self.bias = Parameter(r.uniform(-k, k, (H,)).astype(dtype))
        self.bug = bug

    def forward(self, x, hx=None, lengths=None):
        T, B, _ = x.shape
        W, U, b = self.weight_ih.data, self.weight_hh.data, self.bias.data
        h = np.zeros((B, U.shape[0])) if hx is None else hx
        if lengths is None:
            mask = np.ones((T, B))
        else:
            mask = (np.arange(T)[:, None] < np.asarray(lengths)[None, :]).astype(np.float64)
        hs, cands = [h], []
        out = np.zeros((T, B, U.shape[0]))
        for t in range(T):
            cand = np.tanh(x[t] @ W.T + h @ U.T + b)
            m = mask[t][:, None]
            h = m * cand + (1 - m) * h
            out[t] = m * cand
            hs.append(h)
            cands.append(cand)
        self._push_cache((x, hs, cands, mask))
        return out, h.copy()

    def backward(self, dout, dhx=None):
        x, hs, cands, mask = self._pop_cache()
        W, U = self.weight_ih.data, self.weight_hh.data
        dh = np.zeros_like(hs[0]) if dhx is None else dhx.copy()
        dx = np.zeros_like(x)
        dW, dU, db = np.zeros_like(W), np.zeros_like(U), np.zeros(U.shape[0])
        for t in reversed(range(x.shape[0])):
            m = mask[t][:, None]
            da = m * (dout[t] + dh) * (1 - cands[t] ** 2)  # (B, H)
            dW += da.T @ x[t]
            dU += da.T @ hs[t]
            db += da.sum(0)
            dx[t] = da @ W
            dh = (1 - m) * dh + da @ U
        if self.bug == "entry":
            dW[1, 2] *= 1.01
        elif self.bug == "scale":
            dU *= 1.01
        elif self.bug == "transpose":
            dU = dU.T
        elif self.bug == "dh0":
            dh = dh * 1.01
        elif self.bug == "dx_entry":
            dx[2, 1, 0] *= 1.01
        self.weight_ih.grad += dW
        self.weight_hh.grad += dU
        if self.bug != "no_bias":
            self.bias.grad += db
        return dx, dh


def _cell_step(x, h, c, W, U):
    """h' = tanh(x W^T + h U^T), c' = c / 2 + h'."""
    hn = np.tanh(x @ W.T + h @ U.T)
    return hn, 0.5 * c + hn


def _cell_step_backward(dh, dc, x, h, hn, W, U):
    dh = dh + dc  # c' = c/2 + h'
    da = dh * (1 - hn**2)
    return da @ W, da @ U, 0.5 * dc, da.T @ x, da.T @ h


class ToyPairState(Module):
    """A sequence layer with an LSTM-like state pair: ``out, (hn, cn) = m(x, (h0, c0))``."""

    def __init__(self, D, H, seed=0, bug=None):
        super().__init__()
        r = _rng(seed)
        self.weight_ih = Parameter(r.uniform(-0.5, 0.5, (H, D)))
        self.weight_hh = Parameter(r.uniform(-0.5, 0.5, (H, H)))
        self.bug = bug

    def forward(self, x, hx=None, lengths=None):
        h, c = hx
        states = [(h, c)]
        out = []
        for t in range(x.shape[0]):
            h, c = _cell_step(x[t], h, c, self.weight_ih.data, self.weight_hh.data)
            states.append((h, c))
            out.append(h)
        self._push_cache((x, states))
        return np.stack(out), (h.copy(), c.copy())

    def backward(self, dout, dhx=None):
        x, states = self._pop_cache()
        dh, dc = dhx
        dh, dc = dh.copy(), dc.copy()
        dx = np.zeros_like(x)
        for t in reversed(range(x.shape[0])):
            h_prev = states[t][0]
            hn = states[t + 1][0]
            dx[t], dh, dc, dW, dU = _cell_step_backward(
                dout[t] + dh, dc, x[t], h_prev, hn, self.weight_ih.data, self.weight_hh.data
            )
            self.weight_ih.grad += dW
            self.weight_hh.grad += dU
        if self.bug == "dc0":
            dc = dc * 1.01
        return dx, (dh, dc)


class ToyCell(Module):
    """``h, c = cell(x, (h, c))``; ``cell.backward((dh, dc))`` takes the pair as one argument."""

    def __init__(self, D, H, seed=0):
        super().__init__()
        r = _rng(seed)
        self.weight_ih = Parameter(r.uniform(-0.5, 0.5, (H, D)))
        self.weight_hh = Parameter(r.uniform(-0.5, 0.5, (H, H)))

    def forward(self, x, hx):
        h, c = hx
        hn, cn = _cell_step(x, h, c, self.weight_ih.data, self.weight_hh.data)
        self._push_cache((x, h, hn))
        return hn, cn

    def backward(self, dhx):
        x, h, hn = self._pop_cache()
        dx, dh, dc, dW, dU = _cell_step_backward(
            dhx[0], dhx[1], x, h, hn, self.weight_ih.data, self.weight_hh.data
        )
        self.weight_ih.grad += dW
        self.weight_hh.grad += dU
        return dx, (dh, dc)


class ToyDropoutLinear(Module):
    """``y = dropout(x W^T)``: random in training mode, the identity in eval mode."""

    def __init__(self, D, H, p=0.5, seed=0):
        super().__init__()
        self.weight = Parameter(_rng(seed).standard_normal((H, D)))
        self.p = p
        self._mask_rng = _rng(seed + 1)

    def forward(self, x):
        y = x @ self.weight.data.T
        if self.training:
            mask = (self._mask_rng.random(y.shape) >= self.p) / (1 - self.p)
        else:
            mask = np.ones_like(y)
        self._push_cache((x, mask))
        return y * mask

    def backward(self, dy):
        x, mask = self._pop_cache()
        g = dy * mask
        self.weight.grad += g.reshape(-1, g.shape[-1]).T @ x.reshape(-1, x.shape[-1])
        return g @ self.weight.data


class Wrapper(Module):
    """A container, to check that submodules' modes and caches are handled too."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, *args, **kwargs):
        return self.inner(*args, **kwargs)

    def backward(self, *args):
        return self.inner.backward(*args)


def _toy_inputs(T=6, B=3, D=4, H=5, seed=1):
    r = _rng(seed)
    return r.standard_normal((T, B, D)), r.standard_normal((B, H)) * 0.5


# -- correct gradients pass -------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_linear_module_passes(bias):
    lin = numrnn.Linear(4, 3, bias=bias, dtype=np.float64, seed=0)
    x = _rng(1).standard_normal((2, 5, 4))
    report = gradcheck(lin, (x,))
    assert isinstance(report, GradcheckReport)
    assert report.passed and bool(report) and report.first_failure is None
    names = [r.name for r in report.rows]
    assert names == (["weight", "bias", "x"] if bias else ["weight", "x"])
    for row in report.rows:
        assert row.checked == row.size == int(np.prod(row.shape))
        # A correct affine map agrees with central differences to ~1e-8 relative: the
        # rounding noise of L (~1e-10 * sum|G*y|) over entries of order 0.01..1.
        assert row.max_rel_error < 1e-5
        assert row.tol_ratio < 0.05


def test_embedding_module_passes_and_skips_the_index():
    emb = numrnn.Embedding(7, 3, dtype=np.float64, seed=0)
    idx = _rng(2).integers(0, 7, (4, 2))
    report = gradcheck(emb, (idx,))
    assert report.passed
    assert [r.name for r in report.rows] == ["weight"]
    assert report.skipped == [("index", "int64 array")]


@pytest.mark.parametrize(
    "pair",
    [
        (F.tanh_forward, F.tanh_backward),
        (F.sigmoid_forward, F.sigmoid_backward),
        (F.relu_forward, F.relu_backward),
        (F.softmax_forward, F.softmax_backward),
        (F.log_softmax_forward, F.log_softmax_backward),
    ],
)
def test_functional_activation_pairs_pass(pair):
    x = _rng(3).standard_normal((4, 6)) * 2
    report = gradcheck(pair, (x,))
    assert report.passed, report
    assert [r.name for r in report.rows] == ["x"]


def test_functional_linear_pair_passes_with_argument_names():
    r = _rng(4)
    x, W, b = r.standard_normal((5, 4)), r.standard_normal((3, 4)), r.standard_normal(3)
    report = gradcheck((F.linear_forward, F.linear_backward), (x, W, b))
    assert report.passed, report
    assert [r.name for r in report.rows] == ["x", "weight", "bias"]


def test_toy_rnn_passes_with_names_and_lengths():
    x, h0 = _toy_inputs()
    mod = ToyRNN(4, 5)
    report = gradcheck(mod, (x, h0))
    assert report.passed, report
    assert [r.name for r in report.rows] == ["weight_ih", "weight_hh", "bias", "x", "h0"]
    lengths = np.array([6, 2, 4])
    report = gradcheck(mod, (x, h0), kwargs={"lengths": lengths})
    assert report.passed, report
    # Outputs past a row's length are constant zero: their inputs get exactly zero gradient.
    xrow = [r for r in report.rows if r.name == "x"][0]
    idx, a, n = xrow.entries
    for (t, b, _), ai, ni in zip(idx, a, n):
        if t >= lengths[b]:
            assert ai == 0 and abs(ni) <= report.atol


def test_toy_rnn_without_initial_state_ignores_the_extra_gradient():
    x, _ = _toy_inputs()
    report = gradcheck(ToyRNN(4, 5), (x,))  # backward still returns (dx, dh0)
    assert report.passed
    assert [r.name for r in report.rows][-1] == "x"


def test_nested_state_pair_is_named_h0_c0_and_passes():
    x, h0 = _toy_inputs()
    c0 = _rng(5).standard_normal(h0.shape)
    report = gradcheck(ToyPairState(4, 5), (x, (h0, c0)))
    assert report.passed, report
    assert [r.name for r in report.rows] == ["weight_ih", "weight_hh", "x", "h0", "c0"]


def test_cell_backward_taking_the_pair_as_one_argument():
    r = _rng(6)
    x, h, c = r.standard_normal((3, 4)), r.standard_normal((3, 5)), r.standard_normal((3, 5))
    report = gradcheck(ToyCell(4, 5), (x, (h, c)))
    assert report.passed, report
    assert [r.name for r in report.rows] == ["weight_ih", "weight_hh", "x", "h0", "c0"]


def test_large_activations_do_not_cause_false_failures():
    # Saturating weights and long sequences: the rounding noise of L grows with
    # sum|G*y|, and the default atol follows it.
    x, h0 = _toy_inputs(T=30, B=4, D=4, H=8)
    report = gradcheck(ToyRNN(4, 8, scale=4.0), (x * 5, h0))
    assert report.passed, report


# -- broken gradients fail and are located ----------------------------------------------------


@pytest.mark.parametrize(
    "bug, tensor",
    [
        ("entry", "weight_ih"),
        ("scale", "weight_hh"),
        ("transpose", "weight_hh"),
        ("no_bias", "bias"),
        ("dh0", "h0"),
        ("dx_entry", "x"),
    ],
)
def test_broken_toy_rnn_fails_and_names_the_tensor(bug, tensor):
    x, h0 = _toy_inputs()
    report = gradcheck(ToyRNN(4, 5, bug=bug), (x, h0))
    assert not report.passed
    assert not bool(report)
    failing = [r.name for r in report.rows if not r.passed]
    assert failing == [tensor]
    ff = report.first_failure
    assert ff.name == tensor
    assert abs(ff.analytic - ff.numeric) > ff.tolerance
    if bug == "entry":
        assert ff.index == (1, 2)
        assert ff.analytic == pytest.approx(1.01 * ff.numeric, rel=1e-6)
        assert [r for r in report.rows if r.name == tensor][0].num_failed == 1
    if bug == "dx_entry":
        assert ff.index == (2, 1, 0)
    assert "FAIL" in str(report) and tensor in _verdict(str(report))


def test_broken_nested_state_gradient_names_c0():
    x, h0 = _toy_inputs()
    c0 = _rng(5).standard_normal(h0.shape)
    report = gradcheck(ToyPairState(4, 5, bug="dc0"), (x, (h0, c0)))
    assert [r.name for r in report.rows if not r.passed] == ["c0"]
    assert report.first_failure.name == "c0"


def _linear_pair_with(corrupt):
    """linear_forward / linear_backward, with ``corrupt(dx, dW, db)`` applied to the gradients."""

    def backward(dy, cache):
        dx, dW, db = F.linear_backward(dy, cache)
        dx, dW, db = dx.copy(), dW.copy(), None if db is None else db.copy()
        return corrupt(dx, dW, db)

    return F.linear_forward, backward


def _linear_inputs(seed=7, n=5, d=4, o=3):
    r = _rng(seed)
    return r.standard_normal((n, d)), r.standard_normal((o, d)), r.standard_normal(o)


def test_every_entry_with_a_one_percent_error_fails():
    """A 1% error on any single gradient entry above the noise floor is caught."""
    inputs = _linear_inputs()
    clean = gradcheck((F.linear_forward, F.linear_backward), inputs)
    assert clean.passed
    for k, name in enumerate(["x", "weight", "bias"]):
        shape = inputs[k].shape
        for idx in np.ndindex(*shape):

            def corrupt(*grads, k=k, idx=idx):
                grads[k][idx] *= 1.01
                return grads

            row = [r for r in clean.rows if r.name == name][0]
            a = row.entries[1][row.entries[0].index(idx)]
            assert abs(a) > 100.1 * clean.atol  # every entry here is far above the noise
            report = gradcheck(_linear_pair_with(corrupt), inputs)
            assert not report.passed
            assert report.first_failure.name == name and report.first_failure.index == idx


@pytest.mark.parametrize("which", ["x", "weight", "bias"])
def test_whole_gradient_scaled_by_1_01_fails(which):
    k = ["x", "weight", "bias"].index(which)

    def corrupt(*grads):
        grads[k][...] *= 1.01
        return grads

    report = gradcheck(_linear_pair_with(corrupt), _linear_inputs())
    assert [r.name for r in report.rows if not r.passed] == [which]
    assert report.first_failure.name == which


def test_transposed_square_and_non_square_gradients_fail():
    # Square weight: same shape, wrong values.
    report = gradcheck(
        _linear_pair_with(lambda dx, dW, db: (dx, dW.T, db)), _linear_inputs(d=3, o=3)
    )
    assert report.first_failure.name == "weight"
    # Non-square: the shape itself is wrong; the row fails and says so.
    report = gradcheck(_linear_pair_with(lambda dx, dW, db: (dx, dW.T, db)), _linear_inputs())
    row = [r for r in report.rows if r.name == "weight"][0]
    assert not row.passed and "shape" in row.note
    assert report.first_failure.name == "weight"
    assert "FAIL (shape (4, 3) where (3, 4) is expected: transposed?)" in str(report)


def test_missing_gradient_for_a_float_input_is_taken_as_zero_and_fails():
    report = gradcheck(_linear_pair_with(lambda dx, dW, db: (dx, dW, None)), _linear_inputs())
    row = [r for r in report.rows if r.name == "bias"][0]
    assert not row.passed and "no gradient" in row.note
    assert report.first_failure.name == "bias"


def test_missing_bias_gradient_in_a_module_fails():
    class NoBiasGrad(numrnn.Linear):
        def backward(self, dy):
            saved = self.bias.grad.copy()
            dx = super().backward(dy)
            self.bias.grad[...] = saved
            return dx

    lin = NoBiasGrad(4, 3, dtype=np.float64, seed=0)
    report = gradcheck(lin, (_rng(1).standard_normal((5, 4)),))
    assert [r.name for r in report.rows if not r.passed] == ["bias"]


# -- sampling of large tensors --------------------------------------------------------------


def test_large_tensors_are_sampled_and_include_the_largest_entry():
    lin = numrnn.Linear(40, 30, dtype=np.float64, seed=0)
    x = _rng(8).standard_normal((6, 40))
    report = gradcheck(lin, (x,), max_entries=50, seed=3)
    assert report.passed, report
    w = report.rows[0]
    assert (w.name, w.checked, w.size) == ("weight", 50, 1200)
    assert "50/1200" in str(report)
    bias, xrow = report.rows[1], report.rows[2]
    assert bias.checked == bias.size == 30 and xrow.checked == 50
    idx = w.entries[0]
    assert len(set(idx)) == 50
    # The entry of largest analytic magnitude is always among those checked.
    report_all = gradcheck(lin, (x,), max_entries=None, seed=3)
    assert report_all.rows[0].checked == 1200
    a_all = np.zeros((30, 40))
    for i, v in zip(report_all.rows[0].entries[0], report_all.rows[0].entries[1]):
        a_all[i] = v
    top = np.unravel_index(np.argmax(np.abs(a_all)), a_all.shape)
    assert tuple(int(i) for i in top) in idx
    # Seeded: the same sample every time, another seed gives another sample.
    again = gradcheck(lin, (x,), max_entries=50, seed=3)
    assert again.rows[0].entries[0] == idx
    other = gradcheck(lin, (x,), max_entries=50, seed=4)
    assert other.rows[0].entries[0] != idx


def test_sampled_check_still_catches_an_error_at_the_largest_entry():
    r = _rng(9)
    inputs = (r.standard_normal((8, 60)), r.standard_normal((50, 60)), r.standard_normal(50))

    def corrupt(dx, dW, db):
        top = np.unravel_index(np.argmax(np.abs(dW)), dW.shape)
        dW[top] *= 1.01
        return dx, dW, db

    report = gradcheck(_linear_pair_with(corrupt), inputs, max_entries=20)
    assert report.rows[1].checked == 20
    assert report.first_failure.name == "weight"


# -- the report -------------------------------------------------------------------------------


def test_report_table_prints_aligned_with_a_verdict():
    x, h0 = _toy_inputs()
    report = gradcheck(ToyRNN(4, 5), (x, h0))
    text = str(report)
    lines = text.splitlines()
    header = [i for i, line in enumerate(lines) if line.startswith("tensor")][0]
    for word in ("shape", "checked", "max rel err", "analytic", "numeric", "tol ratio"):
        assert word in lines[header]
    body = lines[header + 2 : header + 2 + len(report.rows)]
    assert [line.split()[0] for line in body] == [r.name for r in report.rows]
    # Columns line up: every body line puts its shape where the header's "shape" is.
    col = lines[header].index("shape")
    assert all(line[col - 2 : col] == "  " and line[col] != " " for line in body)
    assert _verdict(text).startswith("PASSED: 5 tensors")
    assert f"atol={report.atol:.3g}" in text
    failed = str(gradcheck(ToyRNN(4, 5, bug="scale"), (x, h0)))
    assert _verdict(failed).startswith("FAILED: 1 of 5 tensors; first failure weight_hh[")


def test_max_relative_error_is_reported_at_its_entry():
    report = gradcheck(_linear_pair_with(lambda dx, dW, db: (dx, dW, db * 1.03)), _linear_inputs())
    row = report.rows[2]
    assert row.max_rel_error == pytest.approx(0.03 / 1.03, rel=1e-4)
    assert row.analytic == pytest.approx(1.03 * row.numeric, rel=1e-6)
    assert row.num_failed == 3


# -- no side effects --------------------------------------------------------------------------


def test_module_state_is_left_as_found():
    x, h0 = _toy_inputs()
    inner = ToyRNN(4, 5)
    mod = Wrapper(inner)
    mod.train()
    for p in mod.parameters():
        p.grad[...] = 7.0
    before = {n: p.data.copy() for n, p in mod.named_parameters()}
    x_before, h_before = x.copy(), h0.copy()
    report = gradcheck(mod, (x, h0))
    assert report.passed
    assert [r.name for r in report.rows][:3] == ["inner.weight_ih", "inner.weight_hh", "inner.bias"]
    assert mod._caches == [] and inner._caches == []
    assert mod.training and inner.training
    for n, p in mod.named_parameters():
        assert np.array_equal(p.data, before[n])  # bit for bit
        assert np.all(p.grad == 7.0)
    assert np.array_equal(x, x_before) and np.array_equal(h0, h_before)
    mod.eval()
    gradcheck(mod, (x, h0))
    assert not mod.training and not inner.training


def test_caches_are_empty_after_the_check_and_pending_ones_are_kept():
    lin = numrnn.Linear(3, 2, dtype=np.float64, seed=0)
    x = _rng(10).standard_normal((4, 3))
    assert gradcheck(lin, (x,)).passed
    assert lin._caches == []
    y = lin(x)  # a pending forward from before the check
    assert gradcheck(lin, (x,)).passed
    assert len(lin._caches) == 1
    lin.zero_grad()
    dy = np.ones_like(y)
    lin.backward(dy)  # the pending cache is still the one for this forward
    np.testing.assert_allclose(lin.weight.grad, dy.T @ x, rtol=1e-12)
    assert lin._caches == []


def test_dropout_module_is_checked_in_eval_mode_and_mode_restored():
    mod = ToyDropoutLinear(4, 3)
    mod.train()
    report = gradcheck(mod, (_rng(11).standard_normal((5, 4)),))
    assert report.passed and not report.warnings
    assert mod.training


# -- refusals and warnings ---------------------------------------------------------------------


def test_float32_module_is_refused():
    lin = numrnn.Linear(3, 2, seed=0)  # float32 by default
    with pytest.raises(TypeError, match=r"'weight'.*float32.*dtype=numpy.float64"):
        gradcheck(lin, (np.zeros((2, 3)),))
    assert lin._caches == []


def test_float32_input_is_refused():
    lin = numrnn.Linear(3, 2, dtype=np.float64, seed=0)
    with pytest.raises(TypeError, match=r"'x'.*float32.*astype\(numpy.float64\)"):
        gradcheck(lin, (np.zeros((2, 3), dtype=np.float32),))
    with pytest.raises(TypeError, match=r"'bias'.*float32"):
        x, W, b = _linear_inputs()
        gradcheck((F.linear_forward, F.linear_backward), (x, W, b.astype(np.float32)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"eps": 0.0}, "eps"),
        ({"eps": float("nan")}, "eps"),
        ({"max_entries": 0}, "max_entries"),
        ({"rtol": -1.0}, "rtol"),
        ({"atol": -1.0}, "atol"),
    ],
)
def test_bad_options_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gradcheck((F.tanh_forward, F.tanh_backward), (np.zeros(3),), **kwargs)


def test_bad_targets_and_mismatched_backward_raise():
    with pytest.raises(TypeError, match="target"):
        gradcheck(np.tanh, (np.zeros(3),))
    x, W, b = _linear_inputs()
    with pytest.raises(ValueError, match="2 gradients for 3 inputs"):
        gradcheck((F.linear_forward, lambda dy, c: F.linear_backward(dy, c)[:2]), (x, W, b))
    with pytest.raises(ValueError, match=r"\(out, cache\)"):
        gradcheck((np.tanh, F.tanh_backward), (x,))


def test_backward_that_writes_into_its_upstream_gradient_is_reported():
    def bad_backward(dy, cache):
        dx = F.tanh_backward(dy, cache)
        dy[0, 0] = 123.0  # breaks the convention; the gradient itself is right
        return dx

    report = gradcheck((F.tanh_forward, bad_backward), (_rng(12).standard_normal((2, 3)),))
    assert report.passed
    assert any("wrote into the upstream gradient" in w for w in report.warnings)
    assert "warning: bad_backward wrote into the upstream gradient" in str(report)


def test_nondeterministic_forward_is_reported():
    r = _rng(13)

    def noisy_forward(x):
        return x * (1 + 1e-3 * r.standard_normal()), None

    report = gradcheck((noisy_forward, lambda dy, c: dy), (np.ones(3),))
    assert any("not deterministic" in w for w in report.warnings)


# -- command line -----------------------------------------------------------------------------


def test_cli_linear_and_embedding(capsys):
    assert main(["linear", "--input-size", "3", "--hidden-size", "2"]) == 0
    out = capsys.readouterr().out
    assert "weight" in out and "PASSED" in out
    assert main(["embedding", "--padding-idx", "0", "--num-embeddings", "5"]) == 0
    capsys.readouterr()
    assert main(["linear", "--no-bias"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert "weight" in names and "bias" not in names


def test_cli_runs_as_a_module():
    proc = subprocess.run(
        [sys.executable, "-m", "numrnn.gradcheck", "linear", "--batch", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "PASSED" in proc.stdout


def test_cli_rejects_an_unknown_layer():
    with pytest.raises(SystemExit) as exc:
        main(["transformer"])
    assert exc.value.code == 2


_RECURRENT_CASES = [
    ["rnn"],
    ["rnn", "--nonlinearity", "relu", "--batch-first", "--no-bias"],
    ["rnn", "--num-layers", "2", "--bidirectional", "--lengths"],
    ["lstm"],
    ["lstm", "--num-layers", "2", "--bidirectional"],
    ["lstm", "--proj-size", "2", "--lengths", "--batch-first"],
    ["gru"],
    ["gru", "--num-layers", "2", "--bidirectional", "--lengths", "--no-bias"],
    ["gru", "--unbatched"],
]


@pytest.mark.skipif(numrnn.RNN is None, reason="numrnn.RNN/LSTM/GRU not available yet")
@pytest.mark.parametrize("argv", _RECURRENT_CASES, ids=" ".join)
def test_cli_recurrent_layers_pass(argv, capsys):
    status = main(
        argv + ["--seq-len", "4", "--batch", "3", "--input-size", "3", "--hidden-size", "3"]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    assert "weight_ih_l0" in out and "PASSED" in out


def test_numrnn_gradcheck_is_the_function():
    # a plain function bound by the package, not a callable module
    assert numrnn.gradcheck is gradcheck and callable(numrnn.gradcheck)
    assert type(sys.modules["numrnn.gradcheck"]).__name__ == "module"
    lin = numrnn.Linear(3, 2, dtype=np.float64, seed=0)
    report = numrnn.gradcheck(lin, (_rng(14).standard_normal((4, 3)),))
    assert isinstance(report, GradcheckReport) and report.passed


# -- numrnn's recurrent layers ------------------------------------------------------------------


@pytest.mark.skipif(numrnn.LSTM is None, reason="numrnn.LSTM not available yet")
def test_real_lstm_passes_and_a_corrupted_one_is_located():
    kw = dict(num_layers=2, bidirectional=True, dtype=np.float64, seed=0)
    r = _rng(15)
    x = r.standard_normal((4, 2, 3))
    h0, c0 = r.standard_normal((4, 2, 3)) * 0.5, r.standard_normal((4, 2, 3)) * 0.5
    lengths = np.array([4, 2])
    report = gradcheck(numrnn.LSTM(3, 3, **kw), (x, (h0, c0)), kwargs={"lengths": lengths})
    assert report.passed, report
    assert [r.name for r in report.rows][-3:] == ["x", "h0", "c0"]

    class Corrupted(numrnn.LSTM):
        def backward(self, dout, dhx=None):
            before = self.weight_hh_l1_reverse.grad.copy()
            grads = super().backward(dout, dhx)
            g = self.weight_hh_l1_reverse.grad
            g[...] = before + 1.01 * (g - before)
            return grads

    report = gradcheck(Corrupted(3, 3, **kw), (x, (h0, c0)), kwargs={"lengths": lengths})
    assert [r.name for r in report.rows if not r.passed] == ["weight_hh_l1_reverse"]
