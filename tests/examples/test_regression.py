"""examples/regression.py end to end at a tiny size, and its hand-written pieces."""

import json

import numpy as np
import pytest
from example_scripts import load_example, run_example


def _module():
    return load_example("regression.py")


def test_dry_run_writes_figures_and_results(tmp_path):
    pytest.importorskip("matplotlib")
    res = run_example("regression.py", "--dry-run", "--out", str(tmp_path), "--seed", "1")
    assert res.returncode == 0, res.stderr[-3000:]
    for name in ("regression_linear.png", "regression_logistic.png", "regression_forecast.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert "naive: tomorrow = today" in res.stdout
    out = json.loads((tmp_path / "results.json").read_text())
    fc = out["forecast"]
    assert np.isfinite([fc["rnn_rmse"], fc["rnn_mae"], fc["naive_rmse"], fc["naive_mae"]]).all()
    assert fc["rnn_mae"] <= fc["rnn_rmse"] and fc["naive_mae"] <= fc["naive_rmse"]
    # the learning rate above 2 / lambda_max diverges, the others do not
    gd = out["linear"]["gradient_descent"]
    assert [r["diverged"] for r in gd] == [r["lr"] >= out["linear"]["lr_max"] for r in gd]
    assert out["logistic"]["gradcheck_max_rel_error"] < 1e-6


def test_normal_equations_match_an_independent_solution():
    mod = _module()
    X = mod.with_intercept(mod.TABLE[:, :2])
    y = mod.TABLE[:, 2]
    w_lstsq, w_solve = mod.normal_equations(X, y)
    # independent: the pseudo-inverse; float64 on a 7x3 system with cond(X) ~ 1e2
    w_pinv = np.linalg.pinv(X) @ y
    np.testing.assert_allclose(w_lstsq, w_pinv, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(w_solve, w_pinv, rtol=1e-7, atol=1e-7)


def test_gradient_descent_converges_below_and_diverges_above_two_over_lambda_max():
    mod = _module()
    feats, y = mod.TABLE[:, :2], mod.TABLE[:, 2]
    Xs = mod.with_intercept((feats - feats.mean(0)) / feats.std(0))
    lam = np.linalg.eigvalsh(Xs.T @ Xs / len(y))[-1]
    w_star = np.linalg.lstsq(Xs, y, rcond=None)[0]
    w, losses = mod.gradient_descent(Xs, y, 1.0 / lam, 400)
    np.testing.assert_allclose(w, w_star, rtol=1e-8)
    _, losses = mod.gradient_descent(Xs, y, 2.05 / lam, 400)
    assert not np.isfinite(losses[-1]) or losses[-1] > losses[0]


def test_logistic_gradient_matches_central_differences():
    mod = _module()
    rng = np.random.default_rng(0)
    X = mod.with_intercept(rng.standard_normal((20, 2)))
    y = (rng.random(20) < 0.5).astype(float)
    w = rng.standard_normal(3)
    _, cache = mod.logistic_loss_forward(w, X, y)
    dw = mod.logistic_loss_backward(1.0, cache)[0]
    num = np.zeros(3)
    h = 1e-6
    for j in range(3):
        e = np.zeros(3)
        e[j] = h
        up, down = (
            mod.logistic_loss_forward(w + e, X, y)[0],
            mod.logistic_loss_forward(w - e, X, y)[0],
        )
        num[j] = (up - down) / (2 * h)
    # central differences in float64 on an O(1) loss: about 1e-9 absolute
    np.testing.assert_allclose(dw, num, rtol=1e-6, atol=1e-8)
