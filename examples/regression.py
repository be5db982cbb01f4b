r"""Warm-up before the recurrent networks: regression by hand in NumPy, then a small forecast.

    python examples/regression.py                     # all three parts, about a minute
    python examples/regression.py --cell rnn --epochs 60
    python examples/regression.py --target price      # the GRU predicts normalised prices
    python examples/regression.py --dry-run           # seconds, for the tests

(a) Linear regression on a seven-row table (temperature and price -> sales), solved
    twice: exactly, by the normal equations, and iteratively, by gradient descent on
    standardised features with several learning rates (one of them too large).
(b) Logistic regression by gradient descent on a synthetic two-feature data set,
    with its gradient checked by ``numrnn.gradcheck`` and its decision boundary drawn.
(c) One-step-ahead forecasting of a real series (Google's daily adjusted close,
    2004-2008, shipped with matplotlib) with a numrnn GRU (or RNN/LSTM) and a
    Linear head, trained with Adam on the mean squared error, against the naive
    forecast "tomorrow = today".  Both test errors are printed in dollars.

Figures go to ``--out``: ``regression_linear.png``, ``regression_logistic.png``,
``regression_forecast.png``; the numbers to ``results.json``.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from _cli import (
    apply_dry_run,
    integer_at_least,
    nonnegative_int,
    open_fraction,
    output_folder,
    positive_float,
    positive_int,
    rate,
    usage_error,
    write_figure,
    write_json,
)

import numrnn
from numrnn.data import load_timeseries, sliding_windows
from numrnn.data.datasets import TIMESERIES
from numrnn.functional import mse_loss
from numrnn.study.plotting import pyplot
from numrnn.train import progress

# The seed's illustrative table: made-up but plausible numbers for an ice-cream stall.
# Sales were written down as roughly 20 + 5 * temperature - 30 * price, plus noise.
TABLE_COLUMNS = ("temperature_C", "price", "sales")
TABLE = np.array(
    [
        [20.0, 1.50, 77.0],
        [22.0, 1.00, 98.0],
        [24.0, 2.00, 83.0],
        [26.0, 1.25, 110.0],
        [28.0, 1.75, 108.0],
        [30.0, 1.50, 121.0],
        [32.0, 2.00, 124.0],
    ]
)


# what --dry-run sets, unless the option is given explicitly
DRY_RUN = dict(gd_iters=30, logistic_iters=50, epochs=2, hidden_size=8)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="regression.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = p.add_argument_group("(a) linear regression")
    g.add_argument(
        "--lrs",
        default="0.01,0.1,1.0,1.5",
        help="comma-separated learning rates for gradient descent",
    )
    g.add_argument("--gd-iters", type=positive_int, default=100, help="gradient-descent iterations")
    g = p.add_argument_group("(b) logistic regression")
    g.add_argument(
        "--logistic-n", type=integer_at_least(2), default=200, help="points in the synthetic set"
    )
    g.add_argument("--logistic-lr", type=positive_float, default=1.0)
    g.add_argument("--logistic-iters", type=positive_int, default=500)
    g = p.add_argument_group("(c) forecasting")
    g.add_argument("--series", default="goog", choices=sorted(TIMESERIES))
    g.add_argument(
        "--target",
        default="return",
        choices=["return", "price"],
        help="predict the next log-return (and so the price) or the next normalised price",
    )
    g.add_argument("--cell", default="gru", choices=["rnn", "lstm", "gru"])
    g.add_argument("--window", type=positive_int, default=30, help="days of history per prediction")
    g.add_argument("--hidden-size", type=positive_int, default=32)
    g.add_argument("--epochs", type=positive_int, default=40)
    g.add_argument("--batch-size", type=positive_int, default=32)
    g.add_argument("--lr", type=positive_float, default=3e-3)
    g.add_argument("--clip", type=positive_float, default=1.0, help="max global gradient norm")
    g.add_argument(
        "--test-fraction",
        type=open_fraction,
        default=0.2,
        help="the last part of the series, never trained on",
    )
    g.add_argument(
        "--val-fraction",
        type=rate,
        default=0.15,
        help="the last part of the training windows, held out to pick the epoch",
    )
    p.add_argument(
        "--out",
        type=output_folder,
        default="runs/regression",
        help="folder for figures and results.json",
    )
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--dry-run", action="store_true", help="a few seconds end to end (tests)")
    args = p.parse_args(argv)
    try:
        args.lrs = [positive_float(v) for v in args.lrs.split(",") if v.strip()]
    except argparse.ArgumentTypeError as err:
        p.error(f"argument --lrs: each learning rate {err}")
    if not args.lrs:
        p.error("argument --lrs: needs at least one learning rate")
    if args.dry_run:
        apply_dry_run(p, args, argv, DRY_RUN)
    return args


# -- (a) linear regression ----------------------------------------------------------------


def with_intercept(features):
    """``[1, x_1, ..., x_d]`` per row: the column of ones carries the intercept."""
    return np.column_stack([np.ones(len(features)), features])  # (n, d + 1)


def normal_equations(X, y):
    r"""Least squares two ways: ``lstsq`` (QR/SVD, robust) and solving :math:`X^\top X w = X^\top y`.

    Setting the gradient of :math:`\lVert Xw - y\rVert^2` to zero gives the normal
    equations.  Solving them squares the condition number of ``X``, so ``lstsq``
    is what to use in practice; on a small, well-posed table both agree.
    """
    w_lstsq = np.linalg.lstsq(X, y, rcond=None)[0]
    w_solve = np.linalg.solve(X.T @ X, X.T @ y)
    return w_lstsq, w_solve


def gradient_descent(X, y, lr, iters):
    r"""Minimise :math:`J(w) = \frac{1}{2n}\lVert Xw - y\rVert^2` from :math:`w = 0`.

    :math:`\nabla J = \frac{1}{n} X^\top (Xw - y)`, and the Hessian is the constant
    :math:`A = \frac{1}{n}X^\top X`.  Along an eigenvector of ``A`` with eigenvalue
    :math:`\lambda` the error is multiplied by :math:`1 - \text{lr}\,\lambda` every
    step, so the iteration converges iff :math:`\text{lr} < 2/\lambda_{\max}`, and
    the slowest direction shrinks like :math:`(1 - \text{lr}\,\lambda_{\min})^k`.

    Returns the weights and the loss before each step and after the last (``iters + 1``
    values; the run stops early, padding with inf, once the loss overflows).
    """
    n = len(y)
    w = np.zeros(X.shape[1])
    losses = np.full(iters + 1, np.inf)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(iters + 1):
            r = X @ w - y  # (n,) residuals
            losses[k] = 0.5 * float(r @ r) / n
            if not np.isfinite(losses[k]) or losses[k] > 1e30:
                losses[k] = np.inf
                break
            if k < iters:
                w = w - lr * (X.T @ r) / n
    return w, losses


def part_linear(args, plt):
    feats, y = TABLE[:, :2], TABLE[:, 2]
    n = len(y)
    print("(a) linear regression on the seed's illustrative table (made-up ice-cream sales)")
    print("    " + "  ".join(f"{c:>13}" for c in TABLE_COLUMNS))
    for row in TABLE:
        print("    " + "  ".join(f"{v:13.2f}" for v in row))
    X = with_intercept(feats)
    w_lstsq, w_solve = normal_equations(X, y)
    fit = X @ w_lstsq
    r2 = 1 - np.sum((y - fit) ** 2) / np.sum((y - y.mean()) ** 2)
    print(
        f"    normal equations: sales = {w_lstsq[0]:.3f} + {w_lstsq[1]:.3f} * temperature "
        f"{w_lstsq[2]:+.3f} * price   (R^2 = {r2:.4f}, training RMSE "
        f"{np.sqrt(np.mean((y - fit) ** 2)):.3f})"
    )
    print(f"    lstsq and solve(X^T X, X^T y) agree to {np.max(np.abs(w_lstsq - w_solve)):.1e}")

    # Standardise: every feature gets mean 0 and standard deviation 1.  Raw temperatures
    # (~26) and prices (~1.5) make X^T X badly conditioned, so one learning rate cannot suit
    # both directions; standardised, the Hessian's eigenvalues are 1 and 1 +- |corr|.
    mu, sd = feats.mean(axis=0), feats.std(axis=0)
    Xs = with_intercept((feats - mu) / sd)
    eig_raw = np.linalg.eigvalsh(X.T @ X / n)
    eig_std = np.linalg.eigvalsh(Xs.T @ Xs / n)
    lr_max = 2.0 / eig_std[-1]
    print(
        f"    Hessian condition number: raw features {eig_raw[-1] / eig_raw[0]:.3g}, "
        f"standardised {eig_std[-1] / eig_std[0]:.3g}; gradient descent on standardised "
        f"features converges iff lr < 2/lambda_max = {lr_max:.4f}"
    )
    optimum = 0.5 * float(np.sum((y - fit) ** 2)) / n
    curves, rows = {}, []
    for lr in args.lrs:
        w, losses = gradient_descent(Xs, y, lr, args.gd_iters)
        curves[lr] = losses
        # back to the original units: w1 z1 + w2 z2 with z = (x - mu) / sd
        slope = w[1:] / sd
        intercept = w[0] - float(np.sum(w[1:] * mu / sd))
        final = losses[np.isfinite(losses)][-1] if np.isfinite(losses[-1]) else float("inf")
        diverged = not np.isfinite(losses[-1]) or final > losses[0]
        gap = (
            float(np.max(np.abs(np.r_[intercept, slope] - w_lstsq)))
            if not diverged
            else float("inf")
        )
        rows.append(
            {"lr": lr, "final_loss": final, "diverged": bool(diverged), "max_weight_gap": gap}
        )
        status = "DIVERGED" if diverged else f"loss {final:.4f}, max |w - w*| {gap:.2e}"
        print(f"    GD lr={lr:<6g} {args.gd_iters} iterations: {status}")
    # The same descent on raw features, at the largest rate it tolerates (1/lambda_max):
    w_raw, raw_losses = gradient_descent(X, y, 1.0 / eig_raw[-1], args.gd_iters)
    print(
        f"    GD on raw features at lr = 1/lambda_max = {1 / eig_raw[-1]:.2e}: loss "
        f"{raw_losses[-1]:.3f} after {args.gd_iters} iterations (optimum {optimum:.4f}): the "
        "flat direction has barely moved"
    )

    if plt is not None:
        fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
        for lr, losses in curves.items():
            k = np.arange(len(losses))
            ok = np.isfinite(losses)
            lab = f"lr={lr:g}" + (" (diverges)" if lr >= lr_max else "")
            a.plot(k[ok], losses[ok] - optimum + 1e-12 if lr < lr_max else losses[ok], label=lab)
        a.plot(
            np.arange(len(raw_losses)), raw_losses - optimum, "k:", label="raw features, lr=1/lmax"
        )
        a.set(
            yscale="log",
            xlabel="iteration",
            ylabel="J(w) - J(w*)  (diverging: J(w))",
            title=f"gradient descent, standardised features\n(stable iff lr < {lr_max:.3f})",
        )
        a.grid(alpha=0.3)
        a.legend(fontsize="small")
        b.scatter(fit, y, color="C0")
        lims = [min(y.min(), fit.min()) - 3, max(y.max(), fit.max()) + 3]
        b.plot(lims, lims, "k--", lw=1)
        for (t, pr, s), f in zip(TABLE, fit):
            b.annotate(
                f"{t:.0f}C, {pr:.2f}",
                (f, s),
                fontsize=7,
                xytext=(3, -8),
                textcoords="offset points",
            )
        b.set(
            xlabel="fitted sales", ylabel="sales", title="normal-equations fit (illustrative table)"
        )
        b.grid(alpha=0.3)
        write_figure(fig, os.path.join(args.out, "regression_linear.png"), note="    wrote")
    return {
        "weights_normal_equations": w_lstsq.tolist(),
        "r2": float(r2),
        "lr_max": float(lr_max),
        "gradient_descent": rows,
    }


# -- (b) logistic regression ------------------------------------------------------------


def logistic_loss_forward(w, X, y):
    r"""Mean log-loss of :math:`p = \sigma(Xw)`, as ``(loss (0-d array), cache)``.

    :math:`\ell = \frac{1}{n}\sum_i [\log(1 + e^{s_i}) - y_i s_i]` with :math:`s = Xw`,
    computed with ``logaddexp`` so that no exponential overflows.
    """
    s = X @ w  # (n,)
    loss = np.mean(np.logaddexp(0.0, s) - y * s)
    return np.asarray(loss), (X, y, s)


def logistic_loss_backward(dloss, cache):
    r""":math:`\partial \ell/\partial w = \frac{1}{n} X^\top (\sigma(s) - y)`; returns ``(dw, dX, dy)``."""
    X, y, s = cache
    p = np.exp(-np.logaddexp(0.0, -s))  # sigmoid(s) without overflow
    return dloss * X.T @ (p - y) / len(y), None, None


def make_logistic_data(n, rng):
    """Synthetic 'did the stall sell out?' days: labels drawn from a known logistic model."""
    temp = rng.uniform(18, 34, n)
    price = rng.uniform(0.8, 2.2, n)
    true_logit = 0.8 * (temp - 26.0) - 5.0 * (price - 1.5)
    y = (rng.random(n) < 1 / (1 + np.exp(-true_logit))).astype(np.float64)
    return np.column_stack([temp, price]), y


def part_logistic(args, plt):
    rng = np.random.default_rng(args.seed)
    feats, y = make_logistic_data(args.logistic_n, rng)
    print(
        f"\n(b) logistic regression on {len(y)} synthetic days (sold out: {int(y.sum())}); "
        "labels drawn from p = sigmoid(0.8 (T - 26) - 5 (price - 1.5))"
    )
    mu, sd = feats.mean(axis=0), feats.std(axis=0)
    X = with_intercept((feats - mu) / sd)
    report = numrnn.gradcheck(
        (logistic_loss_forward, logistic_loss_backward),
        (rng.standard_normal(3), X, y),
        check_inputs=True,
    )
    w_row = next(r for r in report.rows if r.name == "w")
    print(
        f"    gradient check of the hand-derived gradient: {'passed' if w_row.passed else 'FAILED'} "
        f"(max relative error {w_row.max_rel_error:.1e})"
    )
    w = np.zeros(3)
    losses = []
    for _ in range(args.logistic_iters):
        loss, cache = logistic_loss_forward(w, X, y)
        dw = logistic_loss_backward(1.0, cache)[0]
        losses.append(float(loss))
        w = w - args.logistic_lr * dw
    loss = float(logistic_loss_forward(w, X, y)[0])
    acc = float(np.mean(((X @ w) > 0) == (y > 0.5)))
    # boundary w0 + w1 (T - mu1)/sd1 + w2 (p - mu2)/sd2 = 0, in original units
    coef = w[1:] / sd
    const = w[0] - float(np.sum(w[1:] * mu / sd))
    print(
        f"    after {args.logistic_iters} iterations (lr {args.logistic_lr:g}): loss {loss:.4f}, "
        f"training accuracy {acc:.3f}"
    )
    print(
        f"    fitted logit = {const:.2f} + {coef[0]:.3f} * T {coef[1]:+.3f} * price   "
        f"(true: -13.50 + 0.800 * T -5.000 * price)"
    )
    if plt is not None:
        fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
        a.plot(losses)
        a.set(
            xlabel="iteration", ylabel="mean log-loss", title="logistic regression: training loss"
        )
        a.grid(alpha=0.3)
        tt, pp = np.meshgrid(np.linspace(17, 35, 200), np.linspace(0.7, 2.3, 200))
        grid = with_intercept((np.column_stack([tt.ravel(), pp.ravel()]) - mu) / sd)
        prob = 1 / (1 + np.exp(-np.clip(grid @ w, -500, 500)))
        cs = b.contourf(
            tt, pp, prob.reshape(tt.shape), levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.35
        )
        fig.colorbar(cs, ax=b, label="P(sold out)")
        b.scatter(feats[y == 1, 0], feats[y == 1, 1], c="C3", s=14, label="sold out")
        b.scatter(feats[y == 0, 0], feats[y == 0, 1], c="C0", s=14, marker="x", label="not")
        t_line = np.array([17.0, 35.0])
        b.plot(t_line, -(const + coef[0] * t_line) / coef[1], "k-", label="fitted boundary")
        b.plot(t_line, (0.8 * (t_line - 26.0)) / 5.0 + 1.5, "k--", lw=1, label="true boundary")
        b.set(
            xlim=(17, 35),
            ylim=(0.7, 2.3),
            xlabel="temperature (C)",
            ylabel="price",
            title="decision boundary (synthetic data)",
        )
        b.legend(fontsize="small", loc="upper left")
        write_figure(fig, os.path.join(args.out, "regression_logistic.png"), note="    wrote")
    return {
        "loss": loss,
        "accuracy": acc,
        "weights": [const, *coef.tolist()],
        "gradcheck_max_rel_error": float(w_row.max_rel_error),
    }


# -- (c) forecasting with a recurrent network --------------------------------------------


class Forecaster:
    """A recurrent layer reading the window, a Linear head on its last hidden state."""

    def __init__(self, cell, hidden_size, seed):
        cls = {"rnn": numrnn.RNN, "lstm": numrnn.LSTM, "gru": numrnn.GRU}[cell]
        self.rnn = cls(1, hidden_size, dtype=np.float64, seed=seed)
        self.head = numrnn.Linear(hidden_size, 1, dtype=np.float64, seed=seed + 1)
        self.params = list(self.rnn.parameters()) + list(self.head.parameters())

    def forward(self, x):
        """``x`` ``(B, w)`` windows -> predictions ``(B,)``."""
        out, _ = self.rnn(x.T[:, :, None])  # (w, B, H): time-major
        self._T = out.shape[0]
        self._shape = out.shape
        return self.head(out[-1])[:, 0]  # (B,)

    def backward(self, dpred):
        dh = self.head.backward(dpred[:, None])  # (B, H)
        dout = np.zeros(self._shape)
        dout[-1] = dh  # only the last step feeds the head
        self.rnn.backward(dout)

    def predict(self, x):
        with numrnn.no_grad():
            return self.forward(x)


def forecast_data(prices, args):
    """Windows, targets and the map from a model output back to a price.

    Returns ``(X, y, last, truth, to_price, test, target_idx)``, one row per
    forecast: ``X`` ``(M, w)`` model inputs, ``y`` ``(M,)`` model targets, the
    price on the window's last day (the naive forecast), the true next price, a
    function turning model outputs into price forecasts, the test mask (targets
    in the last ``test_fraction`` of the series) and each target's index in the
    series.  Scaling statistics come from the training part only.
    """
    N = len(prices)
    split = int(round(N * (1 - args.test_fraction)))  # prices[split:] are test targets
    if args.target == "return":
        r = np.diff(np.log(prices))  # r[j] = log p[j+1] - log p[j], (N-1,)
        mu, sd = r[: split - 1].mean(), r[: split - 1].std()  # training returns only
        X, y = sliding_windows((r - mu) / sd, args.window)  # X_i = z[i:i+w], y_i = z[i+w]
        target_idx = np.arange(len(y)) + args.window + 1  # y_i is the return into p[i+w+1]

        def to_price(pred, last):
            return last * np.exp(pred * sd + mu)
    else:
        mu, sd = prices[:split].mean(), prices[:split].std()
        X, y = sliding_windows((prices - mu) / sd, args.window)
        target_idx = np.arange(len(y)) + args.window  # y_i is p[i+w]

        def to_price(pred, last):
            return pred * sd + mu

    last = prices[target_idx - 1]
    truth = prices[target_idx]
    test = target_idx >= split
    return X, y, last, truth, to_price, test, target_idx


def errors(pred, truth):
    e = pred - truth
    return float(np.sqrt(np.mean(e * e))), float(np.mean(np.abs(e)))


def part_forecast(args, plt):
    dates, prices = load_series(args)
    X, y, last, truth, to_price, test, target_idx = forecast_data(prices, args)
    # Chronological three-way split: train | validation (picks the epoch) | test.
    n_fit = int(round((~test).sum() * (1 - args.val_fraction)))
    train = np.zeros(len(y), bool)
    train[:n_fit] = True
    val = ~train & ~test
    print(
        f"\n(c) one-step-ahead forecast of {args.series!r} ({len(prices)} values, "
        f"{dates[0]} to {dates[-1]}); window {args.window}, target: next {args.target}"
    )
    print(
        f"    windows: {train.sum()} training, {val.sum()} validation, {test.sum()} test "
        f"(test targets from {dates[target_idx[test][0]]}; chronological split)"
    )
    model = Forecaster(args.cell, args.hidden_size, args.seed)
    opt = numrnn.optim.Adam(model.params, lr=args.lr)
    rng = np.random.default_rng(args.seed)
    Xtr, ytr = X[train], y[train]

    def val_mse():
        return float(np.mean((model.predict(X[val]) - y[val]) ** 2)) if val.any() else float("nan")

    history, val_history, running = [], [val_mse()], None
    best = (val_history[0], 0, [p.data.copy() for p in model.params])
    n_batches = -(-len(ytr) // args.batch_size)
    bar = progress(total=args.epochs * n_batches, desc=f"{args.cell} forecaster", unit="step")
    for epoch in range(args.epochs):
        order = rng.permutation(len(ytr))
        for i in range(0, len(order), args.batch_size):
            idx = order[i : i + args.batch_size]
            pred = model.forward(Xtr[idx])
            loss, dpred = mse_loss(pred, ytr[idx])
            model.backward(dpred)
            numrnn.clip_grad_norm_(model.params, args.clip)
            opt.step()
            opt.zero_grad()
            loss = float(loss)
            running = loss if running is None else 0.95 * running + 0.05 * loss
            history.append(loss)
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{running:.4f}", val=f"{val_history[-1]:.4f}")
        val_history.append(val_mse())
        if val_history[-1] < best[0]:
            best = (val_history[-1], epoch + 1, [p.data.copy() for p in model.params])
    bar.close()
    if val.any():  # keep the epoch with the lowest validation error (0: the untrained model)
        for p, data in zip(model.params, best[2]):
            p.data[...] = data
        print(
            f"    validation MSE by epoch: {val_history[0]:.4f} (untrained) -> min {best[0]:.4f} at "
            f"epoch {best[1]} -> {val_history[-1]:.4f} at epoch {args.epochs}; keeping epoch {best[1]}"
        )
    pred_price = to_price(model.predict(X), last)
    train_mse = float(np.mean((model.predict(Xtr) - ytr) ** 2))
    rnn_rmse, rnn_mae = errors(pred_price[test], truth[test])
    naive_rmse, naive_mae = errors(last[test], truth[test])
    print(f"    training MSE (standardised units) {train_mse:.4f}")
    print("\n    | forecast (test period) | RMSE ($) | MAE ($) |")
    print("    |---|---|---|")
    print(f"    | {args.cell.upper()} + Linear | {rnn_rmse:.3f} | {rnn_mae:.3f} |")
    print(f"    | naive: tomorrow = today | {naive_rmse:.3f} | {naive_mae:.3f} |")
    verdict = "beats" if rnn_rmse < naive_rmse else "does not beat"
    print(
        f"    The {args.cell.upper()} {verdict} the naive forecast on RMSE "
        f"({100 * (rnn_rmse / naive_rmse - 1):+.1f}%).  Daily prices are close to a random walk, "
        "so 'tomorrow = today' is a hard baseline, and a prediction curve that hugs the "
        "truth says little until it is compared with it."
    )
    if plt is not None:
        fig, axes = plt.subplots(1, 3, figsize=(15, 4), gridspec_kw={"width_ratios": [2, 1.2, 1]})
        a, b, c = axes
        d_test = dates[target_idx[test]]
        a.plot(dates, prices, color="0.7", lw=1, label="price")
        a.plot(d_test, truth[test], color="k", lw=1, label="truth (test)")
        a.plot(d_test, pred_price[test], color="C1", lw=1, label=f"{args.cell.upper()} forecast")
        a.axvline(d_test[0], color="0.5", ls=":")
        a.set(ylabel="adjusted close ($)", title=f"{args.series}: one-step-ahead forecast")
        a.legend(fontsize="small")
        a.grid(alpha=0.3)
        k = min(60, int(test.sum()))
        b.plot(d_test[-k:], truth[test][-k:], "k.-", lw=1, label="truth")
        b.plot(d_test[-k:], last[test][-k:], ".-", color="0.6", lw=1, label="naive (yesterday)")
        b.plot(d_test[-k:], pred_price[test][-k:], ".-", color="C1", lw=1, label=args.cell.upper())
        b.set(title=f"last {k} test days", ylabel="$")
        b.tick_params(axis="x", labelrotation=45)
        b.legend(fontsize="small")
        b.grid(alpha=0.3)
        h = np.asarray(history)
        w = max(1, len(h) // 50)
        c.plot(np.convolve(h, np.ones(w) / w, mode="valid"))
        c.set(yscale="log", xlabel="step", ylabel="MSE (standardised)", title="training loss")
        c.grid(alpha=0.3)
        write_figure(fig, os.path.join(args.out, "regression_forecast.png"), note="    wrote")
    return {
        "series": args.series,
        "target": args.target,
        "cell": args.cell,
        "test_windows": int(test.sum()),
        "rnn_rmse": rnn_rmse,
        "rnn_mae": rnn_mae,
        "naive_rmse": naive_rmse,
        "naive_mae": naive_mae,
        "train_mse": train_mse,
        "best_epoch": best[1],
        "val_mse": val_history,
    }


def load_series(args):
    """The dates and prices of ``--series`` (the last 300 in a dry run)."""
    dates, prices = load_timeseries(args.series, return_dates=True)
    if args.dry_run:
        dates, prices = dates[-300:], prices[-300:]
    return dates, prices


def check_window(args):
    """Stop with a usage error unless ``--window`` leaves windows to train and to test on."""
    _, prices = load_series(args)
    n_fit = int(round(len(prices) * (1 - args.test_fraction))) - args.window - 1
    n_test = len(prices) - int(round(len(prices) * (1 - args.test_fraction)))
    if n_fit < 2 or n_test < 1:
        usage_error(
            "regression.py",
            f"--window {args.window} with --test-fraction {args.test_fraction} leaves {max(n_fit, 0)} "
            f"training and {n_test} test windows in the {len(prices)} values of {args.series!r}; "
            "a smaller --window is needed",
        )


def main(argv=None):
    args = parse_args(argv)
    check_window(args)
    os.makedirs(args.out, exist_ok=True)
    plt = pyplot()
    results = {
        "linear": part_linear(args, plt),
        "logistic": part_logistic(args, plt),
        "forecast": part_forecast(args, plt),
    }
    write_json(os.path.join(args.out, "results.json"), results)
    return results


if __name__ == "__main__":
    main()
