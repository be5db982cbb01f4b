r"""The two GRUs: reset gate after the recurrent product (PyTorch, cuDNN) or before it (Cho et al.).

Both share the gates :math:`r = \sigma(x W_{ir}^\top + b_{ir} + h W_{hr}^\top + b_{hr})`,
:math:`z = \sigma(x W_{iz}^\top + b_{iz} + h W_{hz}^\top + b_{hz})` and the update
:math:`h' = (1 - z) \odot n + z \odot h`; they differ in the candidate:

.. math::

    n_{\text{after}}  &= \tanh(x W_{in}^\top + b_{in} + r \odot (h W_{hn}^\top + b_{hn})) \\
    n_{\text{before}} &= \tanh(x W_{in}^\top + b_{in} + (r \odot h) W_{hn}^\top + b_{hn})

so on the same weights the pre-activations of ``n`` differ by

.. math::

    \Delta = r \odot (h W_{hn}^\top) - (r \odot h) W_{hn}^\top + (r - 1) \odot b_{hn}.

The first term and the second are equal only when ``r`` is the same for every unit
(a scalar passes through the product); the bias term vanishes only when ``r = 1``.
From a zero state the first step differs by :math:`(r - 1) \odot b_{hn}` alone, and
the differences then feed back through ``h``.  Neither is an approximation of the
other: they are two models with the same parameter shapes, so a ``state_dict`` moves
between them without error and silently means something else (the confusion the
Keras ``reset_after`` flag and cuDNN-compatibility notes are about).

Part 1 runs both on the same weights and input and prints how far apart they are,
step by step, and checks the first-step formula above.  Part 2 trains both from the
same initial weights on the same batches of the adding problem and reports the test
MSE of each.  Writes ``gru_variants.png`` and ``gru_variants.json`` to ``--out``.

Both run on the fast kernels (``numrnn.GRU(..., reset_after=False)``); part 1 also
runs the reset-before GRU as :class:`numrnn.nn.Recurrent` over the readable reference
step (:mod:`numrnn.reference.gru`) and prints how closely the fast kernel matches it.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from _cli import (
    add_study_options,
    apply_dry_run,
    copy_figures,
    integer_at_least,
    positive_float,
    positive_int,
    write_figure,
    write_json,
)

import numrnn
from numrnn.reference import Cell, gru_step_backward, gru_step_forward
from numrnn.reference.cell import gated_weights
from numrnn.study.plotting import moving_average, pyplot
from numrnn.study.tasks import ADDING_BASELINE_MSE, adding_problem
from numrnn.train import update


def _reset_before_step(x, h_prev, params):
    return gru_step_forward(x, h_prev, params, reset_after=False)


GRU_RESET_BEFORE = Cell(
    "gru_reset_before", gated_weights(3), ("h",), _reset_before_step, gru_step_backward
)


DRY_RUN = dict(T=10, hidden_size=8, batch_size=4, steps=3)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--T", type=integer_at_least(2), default=50, help="adding problem length")
    p.add_argument("--hidden-size", type=positive_int, default=32)
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--steps", type=positive_int, default=600)
    p.add_argument("--seconds", type=positive_float, default=120.0, help="time budget per model")
    add_study_options(p, "runs/gru_variants", "the figure and the results", "the figure")
    args = p.parse_args(argv)
    if args.dry_run:
        apply_dry_run(p, args, argv, DRY_RUN)
    return args


def pair(input_size, hidden_size, seed):
    """``(reset after, reset before)`` fast GRUs holding the same weights, float64."""
    after = numrnn.GRU(input_size, hidden_size, dtype=np.float64, seed=seed)
    before = numrnn.GRU(input_size, hidden_size, reset_after=False, dtype=np.float64, seed=seed)
    before.load_state_dict(after.state_dict())
    return after, before


def reference_parity(before, x):
    """Max normwise relative error of the fast reset-before GRU against the reference loop,
    over the output and every gradient (float64; rounding only, ~1e-15)."""
    ref = numrnn.nn.Recurrent(GRU_RESET_BEFORE, before.input_size, before.hidden_size,
                              dtype=np.float64)  # fmt: skip
    ref.load_state_dict(before.state_dict())
    dout = np.random.default_rng(1).standard_normal((x.shape[0], x.shape[1], before.hidden_size))
    errs = []
    outs = [m(x)[0] for m in (before, ref)]
    dxs = [m.backward(dout)[0] for m in (before, ref)]
    pairs = [(outs[0], outs[1]), (dxs[0], dxs[1])]
    ref_params = dict(ref.named_parameters())
    pairs += [(p.grad, ref_params[n].grad) for n, p in before.named_parameters()]
    for a, b in pairs:
        errs.append(float(np.abs(a - b).max() / np.abs(b).max()))
    return max(errs)


def same_weights(args):
    """Part 1: the same weights and input through both; the gap per step and its cause."""
    after, before = pair(2, args.hidden_size, args.seed)
    x, _ = adding_problem(8, args.T, rng=args.seed)  # (T, 8, 2)
    with numrnn.no_grad():
        out_a, _ = after(x)
        out_b, _ = before(x)
    parity = reference_parity(before, x)  # before the weights are changed below
    gap = np.abs(out_a - out_b).max(axis=(1, 2))  # (T,)
    scale = np.abs(out_a).max(axis=(1, 2))
    # first step from h = 0: the pre-activations of n differ by (r - 1) * b_hn only
    H = args.hidden_size
    b_ih, b_hh = after.bias_ih_l0.data, after.bias_hh_l0.data
    W_ih = after.weight_ih_l0.data
    a = x[0] @ W_ih.T + b_ih  # (8, 3H), h = 0
    r = 1 / (1 + np.exp(-(a[:, :H] + b_hh[:H])))
    z = 1 / (1 + np.exp(-(a[:, H : 2 * H] + b_hh[H : 2 * H])))
    n_after = np.tanh(a[:, 2 * H :] + r * b_hh[2 * H :])
    n_before = np.tanh(a[:, 2 * H :] + b_hh[2 * H :])
    predicted = (1 - z) * (n_after - n_before)  # h' = (1 - z) n from h = 0
    formula_err = float(np.abs((out_a[0] - out_b[0]) - predicted).max())
    with numrnn.no_grad():
        after.weight_hh_l0.data[2 * H :] = 0.0  # no W_hn and no b_hn: nothing tells them apart
        after.bias_hh_l0.data[2 * H :] = 0.0
        before.load_state_dict(after.state_dict())
        identical = float(np.abs(after(x)[0] - before(x)[0]).max())
    return {
        "fast_vs_reference": parity,
        "max_gap_per_step": gap.tolist(),
        "relative_gap_last_step": float(gap[-1] / scale[-1]),
        "first_step_formula_error": formula_err,
        "gap_without_W_hn_b_hn": identical,
    }


class LastStep(numrnn.Module):
    """A recurrent layer and a Linear head on its last hidden state: ``(T, B, 2) -> (B,)``."""

    def __init__(self, layer, hidden_size, seed):
        super().__init__()
        self.rnn = layer
        self.head = numrnn.Linear(hidden_size, 1, dtype=np.float64, seed=seed)

    def forward(self, x):
        out, _ = self.rnn(x)
        self._shape = out.shape
        return self.head(out[-1])[:, 0]

    def backward(self, dy):
        dout = np.zeros(self._shape)
        dout[-1] = self.head.backward(dy[:, None])
        self.rnn.backward(dout)


def train(args, layer):
    """Part 2: Adam on fresh adding-problem batches (the same sequence of batches for both)."""
    model = LastStep(layer, args.hidden_size, args.seed + 2)
    opt = numrnn.optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(args.seed + 3)
    losses, start = [], time.perf_counter()
    while len(losses) < args.steps and time.perf_counter() - start < args.seconds:
        x, y = adding_problem(args.batch_size, args.T, rng=rng)
        err = model(x) - y
        losses.append(float(np.mean(err**2)))
        model.backward(2 * err / err.size)
        update(model, opt, clip_norm=1.0)
    seconds = time.perf_counter() - start
    x_test, y_test = adding_problem(1000, args.T, rng=12345)
    model.eval()
    with numrnn.no_grad():
        mse = float(np.mean((model(x_test) - y_test) ** 2))
    return {"losses": losses, "steps": len(losses), "seconds": seconds, "test_mse": mse}


def plot(part1, runs, path):
    plt = pyplot()
    if plt is None:
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.semilogy(np.arange(1, len(part1["max_gap_per_step"]) + 1), part1["max_gap_per_step"])
    ax1.set_xlabel("time step")
    ax1.set_ylabel("max |h_after - h_before|")
    ax1.set_title("same weights, same input")
    for name, r in runs.items():
        x, y = moving_average(r["losses"], max(1, len(r["losses"]) // 40))
        ax2.plot(x, y, label=f"{name} (test MSE {r['test_mse']:.4f})")
    ax2.axhline(ADDING_BASELINE_MSE, color="gray", ls=":", label="answer 1 (1/6)")
    ax2.set_xlabel("optimiser step")
    ax2.set_ylabel("training MSE (moving average)")
    ax2.set_title("adding problem, same start, same batches")
    ax2.legend(fontsize=8)
    write_figure(fig, path, dpi=120, note=None)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    part1 = same_weights(args)
    gaps = part1["max_gap_per_step"]
    print(f"same weights: max |h_after - h_before| at step 1 {gaps[0]:.2e}, "
          f"step {len(gaps)} {gaps[-1]:.2e} ({part1['relative_gap_last_step']:.1%} of max |h|)")  # fmt: skip
    print(f"first step: (1 - z) (n_after - n_before) predicts the gap to "
          f"{part1['first_step_formula_error']:.1e}; with W_hn = 0 and b_hn = 0 the gap is "
          f"{part1['gap_without_W_hn_b_hn']:.1e}")  # fmt: skip
    print(f"fast reset_after=False kernel against the reference loop: max relative error "
          f"{part1['fast_vs_reference']:.1e}")  # fmt: skip
    runs = {}
    for name, layer in zip(("reset after", "reset before"), pair(2, args.hidden_size, args.seed)):
        r = runs[name] = train(args, layer)
        print(f"{name:12s}  steps {r['steps']:4d}  {r['seconds']:6.1f} s  "
              f"test MSE {r['test_mse']:.4f}  (baseline {ADDING_BASELINE_MSE:.4f})")  # fmt: skip
    path = os.path.join(args.out, "gru_variants.png")
    plot(part1, runs, path)
    summary = {"same_weights": part1, "training": {
        n: {k: v for k, v in r.items() if k != "losses"} for n, r in runs.items()}}  # fmt: skip
    write_json(
        os.path.join(args.out, "gru_variants.json"),
        {"args": vars(args), "summary": summary, "curves": runs},
        indent=None,
    )
    copy_figures([path], args.copy_figures)
    return summary


if __name__ == "__main__":
    main()
