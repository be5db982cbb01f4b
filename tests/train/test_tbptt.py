"""Truncated BPTT: each form is the exact gradient of its own objective, not of the full loss.

The objectives are written out here, independently of numrnn.train.tbptt: the frozen states
are computed once at the base point by a plain forward and then held fixed while the
parameters are perturbed (central differences, float64).
"""

import numpy as np
import pytest

import numrnn
from numrnn.functional import cross_entropy
from numrnn.models import CharLM
from numrnn.train.tbptt import chunked_bptt, tbptt, windowed_bptt

V, T, B = 4, 9, 2


def _model(cell):
    return CharLM(V, embed_size=3, hidden_size=3, cell=cell, dtype=np.float64, seed=0)


def _data(seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))


def _state(model, X, state=None):
    """The state after X, by one plain forward (no cache)."""
    if X.shape[0] == 0:
        return state
    with numrnn.no_grad():
        return model(X, state)[1]


def _mean_loss(model, X, Y, state, last):
    """Mean cross-entropy of the last ``last`` outputs of the window X run from ``state``."""
    with numrnn.no_grad():
        out, _ = model(X, state)
    return float(cross_entropy(out[-last:], Y[-last:])[0])


def objective_chunked(model, X, Y, k, frozen):
    # J = sum_c mean_{t in [s, e)} l_t(f(h_s frozen, x_{s..t}))
    return sum(
        _mean_loss(model, X[s : s + k], Y[s : s + k], frozen[s], len(X[s : s + k]))
        for s in range(0, T, k)
    )


def objective_tbptt(model, X, Y, k1, k2, frozen):
    # J = sum_n mean_{t in [prev, e)} l_t(f(h_s frozen, x_{s..t})), s = max(0, e - k2)
    total = 0.0
    for prev in range(0, T, k1):
        e = min(T, prev + k1)
        s = max(0, e - k2)
        total += _mean_loss(model, X[s:e], Y[s:e], frozen[s], e - prev)
    return total


def objective_windowed(model, X, Y, k, frozen):
    # J = (1/T) sum_t l_t(f(h_{t-k+1} frozen, x_{t-k+1..t}))
    total = 0.0
    for t in range(T):
        s = max(0, t - k + 1)
        total += _mean_loss(model, X[s : t + 1], Y[s : t + 1], frozen[s], 1) / T
    return total


def _frozen_states(model, X):
    """frozen[j]: the state before input j of the full forward at the base parameters."""
    return [_state(model, X[:j]) for j in range(T + 1)]


def _numeric_grads(model, objective, eps=1e-6):
    grads = {}
    for name, p in model.named_parameters():
        g = np.zeros_like(p.data)
        for idx in np.ndindex(p.data.shape):
            old = p.data[idx]
            p.data[idx] = old + eps
            up = objective()
            p.data[idx] = old - eps
            down = objective()
            p.data[idx] = old
            g[idx] = (up - down) / (2 * eps)
        grads[name] = g
    return grads


def _analytic(model, run):
    model.zero_grad()
    run()
    return {n: p.grad.copy() for n, p in model.named_parameters()}


def _full_grad(model, X, Y):
    """Gradient of the full-sequence mean loss (plain BPTT to h_0)."""
    model.zero_grad()
    out, _ = model(X)
    model.backward(cross_entropy(out, Y)[1])
    return {n: p.grad.copy() for n, p in model.named_parameters()}


def _max_rel(a, b):
    return max(float(np.max(np.abs(a[n] - b[n])) / max(np.max(np.abs(b[n])), 1e-300)) for n in a)


CASES = [
    ("chunked", dict(k=4)),
    ("chunked", dict(k=3)),
    ("tbptt", dict(k1=2, k2=5)),
    ("tbptt", dict(k1=3, k2=3)),
    ("tbptt", dict(k1=4, k2=7)),
    ("windowed", dict(k=3)),
]


def _run_form(form, model, X, Y, kw):
    if form == "chunked":
        return lambda: list(chunked_bptt(model, X, Y, **kw))
    if form == "tbptt":
        return lambda: list(tbptt(model, X, Y, **kw))
    return lambda: windowed_bptt(model, X, Y, **kw)


def _objective(form, model, X, Y, kw, frozen):
    if form == "chunked":
        return lambda: objective_chunked(model, X, Y, kw["k"], frozen)
    if form == "tbptt":
        return lambda: objective_tbptt(model, X, Y, kw["k1"], kw["k2"], frozen)
    return lambda: objective_windowed(model, X, Y, kw["k"], frozen)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("form,kw", CASES)
def test_gradient_is_exact_for_its_own_objective(cell, form, kw):
    model = _model(cell)
    X, Y = _data()
    analytic = _analytic(model, _run_form(form, model, X, Y, kw))
    frozen = _frozen_states(model, X)  # at the base point, then held fixed
    numeric = _numeric_grads(model, _objective(form, model, X, Y, kw, frozen))
    # float64 central differences with eps=1e-6: truncation ~eps^2 = 1e-12, rounding of an
    # O(1) loss ~1e-16/eps = 1e-10, against gradients of order 1e-2: ~1e-8 measured; 1e-7
    # leaves room, while a dropped or extra term (1e-4..1e-1, next test) fails it
    assert _max_rel(analytic, numeric) < 1e-7


@pytest.mark.parametrize(
    "form,kw,scale",
    [
        ("chunked", dict(k=3), 3.0),  # sum of 3 chunk means = 3 x the full mean
        ("tbptt", dict(k1=3, k2=5), 3.0),
        ("windowed", dict(k=3), 1.0),
    ],
)
def test_differs_from_full_bptt_when_the_window_is_short(form, kw, scale):
    model = _model("lstm")
    X, Y = _data()
    truncated = _analytic(model, _run_form(form, model, X, Y, kw))
    full = _full_grad(model, X, Y)
    truncated = {n: g / scale for n, g in truncated.items()}
    # the dropped terms are Jacobian products over >= 3 steps: small but far above rounding
    assert _max_rel(truncated, full) > 1e-4


@pytest.mark.parametrize(
    "form,kw,scale",
    [
        ("chunked", dict(k=T), 1.0),
        ("tbptt", dict(k1=3, k2=T), 3.0),  # every window reaches h_0
        ("windowed", dict(k=T), 1.0),
    ],
)
def test_equals_full_bptt_when_the_window_covers_the_sequence(form, kw, scale):
    model = _model("gru")
    X, Y = _data()
    truncated = _analytic(model, _run_form(form, model, X, Y, kw))
    full = _full_grad(model, X, Y)
    if form == "tbptt":
        # objective sum_n mean_{t in chunk n} l_t with no state frozen = 3 x the full mean
        truncated = {n: g / scale for n, g in truncated.items()}
    # the same sums in a different order: float64 rounding only
    assert _max_rel(truncated, full) < 1e-12


def test_tbptt_with_k1_equal_k2_is_chunked():
    model = _model("lstm")
    X, Y = _data()
    a = _analytic(model, lambda: list(tbptt(model, X, Y, 3, 3)))
    b = _analytic(model, lambda: list(chunked_bptt(model, X, Y, 3)))
    assert _max_rel(a, b) == 0.0


def test_final_states_and_losses():
    model = _model("lstm")
    X, Y = _data()
    h_T = _state(model, X)
    for steps in (
        list(chunked_bptt(model, X, Y, 4)),
        list(tbptt(model, X, Y, 2, 5)),
    ):
        for a, b in zip(steps[-1][1], h_T):
            np.testing.assert_allclose(a, b, rtol=1e-13)  # the same recursion, split up
    loss, state = windowed_bptt(model, X, Y, 2)
    with numrnn.no_grad():
        full = float(cross_entropy(model(X)[0], Y)[0])
    assert loss == pytest.approx(full, rel=1e-13)  # per-step means averaged = the full mean
    assert not model.rnn._caches and not model.head._caches  # every forward was consumed


def test_errors():
    model = _model("lstm")
    X, Y = _data()
    with pytest.raises(ValueError, match="k2 .* must be >= k1 .*got k1=4, k2=2"):
        next(tbptt(model, X, Y, 4, 2))
    with pytest.raises(ValueError, match="k must be an integer >= 1; got 0"):
        next(chunked_bptt(model, X, Y, 0))
    with pytest.raises(ValueError, match="same number of steps .* got 9 and 8"):
        windowed_bptt(model, X, Y[:8], 2)
