r"""Vanishing gradients, measured: a tanh RNN, an LSTM and a GRU on the same long-range task.

    python examples/vanishing_gradients.py                   # adding problem, T = 100, a few minutes
    python examples/vanishing_gradients.py --gate-init default
    python examples/vanishing_gradients.py --task first-symbol --seq-len 60
    python examples/vanishing_gradients.py --dry-run         # seconds, for the tests

The task (``numrnn.study.tasks``) puts the information the answer needs far from the
loss: in the adding problem the answer is the sum of two marked numbers, the
first of them on average ``3T/4`` steps before the end; the loss is taken on the
last step only.  Three models of the same hidden size, each a recurrent layer and
a Linear head on its last hidden state, are trained on fresh random batches with
Adam.  Before and after training the script runs one backward pass with
``record=True`` on a fixed probe batch: the recurrent layer then keeps
:math:`\lVert \partial L/\partial h_t \rVert` for every step (and
:math:`\lVert \partial L/\partial c_t \rVert` for the LSTM), which is plotted
against the distance from the loss, ``k = T - 1 - t``, on a log scale.

Why the lines are (nearly) straight: from one step to the one before,

.. math::

    \frac{\partial L}{\partial h_{t-1}} = \frac{\partial L}{\partial h_t}\,
    \mathrm{diag}(1 - h_t^2)\, W_{hh}  \qquad \text{(tanh RNN)}

so the gradient ``k`` steps back is a product of ``k`` Jacobians, each of norm
at most :math:`\lVert W_{hh} \rVert`.  With PyTorch's initialisation
(:math:`W_{hh}` uniform in :math:`\pm 1/\sqrt{H}`, spectral radius about
:math:`1/\sqrt 3`) every factor shrinks the gradient, by roughly the same
amount, so :math:`\log \lVert g_k \rVert` falls linearly in ``k``.  The slope of
a line fitted to :math:`\log \lVert g_k \rVert` against ``k`` gives the decay
factor per step, :math:`\rho = e^{\text{slope}}`, reported for each model.

The LSTM's cell state has an additive path, :math:`\partial L/\partial c_{t-1}
\mathrel{+}= \partial L/\partial c_t \odot f_t`: the factor per step is the forget
gate itself, with no weight matrix and no squashing derivative in between.  The
GRU has the same kind of path through its update gate,
:math:`h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}`.  How far those paths
carry depends on how open the gates are: with PyTorch's default (zero-centred)
biases :math:`f \approx z \approx 1/2` and the gradient halves every step, not
much better than the RNN.  By default this script therefore uses the
"chrono" initialisation of Tallec & Ollivier (2018, "Can recurrent neural
networks warp time?"): LSTM forget-gate biases :math:`b_f = \log u`,
:math:`u \sim U(1, T - 1)`, input-gate biases :math:`b_i = -b_f`, and GRU
update-gate biases :math:`b_z = \log u`, which start the gates nearly shut to
forgetting (a characteristic memory of ``u`` steps).  The plain RNN has no gate
to initialise.  ``--gate-init default`` keeps PyTorch's initialisation for
all three; the table printed at the end always includes the decay factors of
default-initialised LSTM and GRU layers at initialisation, for comparison.

Figures go to ``--out``: ``vanishing_gradients.png`` (gradient norm against
distance at initialisation and after training, and the learning curves) and
``results.json``.  ``--copy-figures DIR`` also copies the figure there (the
repository's ``docs/figures/`` holds one from a default run).
"""

from __future__ import annotations

import argparse
import math
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
from numrnn.functional import cross_entropy, mse_loss
from numrnn.study.plotting import pyplot
from numrnn.study.tasks import ADDING_BASELINE_MSE, adding_problem, first_symbol_task
from numrnn.train import progress

CELLS = {"rnn": numrnn.RNN, "lstm": numrnn.LSTM, "gru": numrnn.GRU}
COLORS = {"rnn": "C3", "lstm": "C0", "gru": "C2"}


# what --dry-run sets, unless the option is given explicitly
DRY_RUN = dict(seq_len=30, hidden_size=8, steps=15, probe_batch=16, eval_batch=64)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="vanishing_gradients.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--task", default="adding", choices=["adding", "first-symbol"])
    p.add_argument("--seq-len", type=integer_at_least(2), default=100, help="T: steps per sequence")
    p.add_argument(
        "--num-symbols", type=integer_at_least(2), default=8, help="K for --task first-symbol"
    )
    p.add_argument("--cells", default="rnn,lstm,gru", help="comma-separated models to train")
    p.add_argument("--hidden-size", type=positive_int, default=32, help="the same for every model")
    p.add_argument(
        "--gate-init",
        default="chrono",
        choices=["chrono", "default"],
        help="LSTM/GRU gate biases: chrono (long memory at init) or PyTorch's",
    )
    p.add_argument("--steps", type=positive_int, default=800, help="training steps per model")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--lr", type=positive_float, default=1e-2)
    p.add_argument("--clip", type=positive_float, default=1.0, help="max global gradient norm")
    p.add_argument(
        "--probe-batch", type=positive_int, default=256, help="sequences in the gradient probe"
    )
    p.add_argument(
        "--eval-batch", type=positive_int, default=2000, help="fresh sequences for the final test"
    )
    add_study_options(p, "runs/vanishing_gradients", "figures and results", "the figure")
    args = p.parse_args(argv)
    args.cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    bad = [c for c in args.cells if c not in CELLS]
    if bad or not args.cells:
        p.error(
            f"--cells takes a comma-separated subset of {sorted(CELLS)}; got {bad or 'nothing'}"
        )
    if args.dry_run:
        apply_dry_run(p, args, argv, DRY_RUN)
    return args


# -- the task ---------------------------------------------------------------------------


class Task:
    """Batches, loss and scores of the chosen task (all in float64)."""

    def __init__(self, args):
        self.name, self.T, self.K = args.task, args.seq_len, args.num_symbols
        self.input_size = 2 if self.name == "adding" else self.K
        self.output_size = 1 if self.name == "adding" else self.K
        if self.name == "adding":
            self.baseline = ADDING_BASELINE_MSE
            self.baseline_text = "MSE of always answering 1 (1/6)"
        else:
            self.baseline = math.log(self.K)
            self.baseline_text = f"cross entropy of guessing (ln {self.K})"

    def batch(self, n, rng):
        if self.name == "adding":
            return adding_problem(n, self.T, rng)
        return first_symbol_task(n, self.T, self.K, rng)

    def loss(self, z, y):
        """``(loss, dz)`` for the head's output ``z`` ``(B, out)``."""
        if self.name == "adding":
            loss, dz = mse_loss(z[:, 0], y)
            return float(loss), dz[:, None]
        loss, dz = cross_entropy(z, y)
        return float(loss), dz

    def score(self, z, y):
        """The test metrics: MSE and the fraction within 0.04 (adding), or accuracy."""
        if self.name == "adding":
            err = z[:, 0] - y
            return {
                "test_mse": float(np.mean(err**2)),
                "within_0.04": float(np.mean(np.abs(err) < 0.04)),
            }
        loss, _ = cross_entropy(z, y)
        return {"test_loss": float(loss), "accuracy": float(np.mean(z.argmax(-1) == y))}


# -- the model ----------------------------------------------------------------------------


class LastStepModel:
    """A recurrent layer and a Linear head reading its last hidden state."""

    def __init__(self, cell, task, hidden_size, gate_init, seed):
        self.cell = cell
        self.rnn = CELLS[cell](task.input_size, hidden_size, dtype=np.float64, seed=seed)
        self.head = numrnn.Linear(hidden_size, task.output_size, dtype=np.float64, seed=seed + 1)
        if gate_init == "chrono":
            chrono_init(self.rnn, task.T, np.random.default_rng(seed + 2))
        self.params = list(self.rnn.parameters()) + list(self.head.parameters())

    def forward(self, x):
        out, _ = self.rnn(x)  # (T, B, H)
        self._shape = out.shape
        return self.head(out[-1])  # (B, out)

    def backward(self, dz, record=False):
        dh = self.head.backward(dz)  # (B, H)
        dout = np.zeros(self._shape)
        dout[-1] = dh  # the loss sees the last step only
        self.rnn.backward(dout, record=record)


def chrono_init(layer, T, rng):
    """Chrono gate biases (:func:`numrnn.nn.init.chrono_init`); a plain RNN has no gate."""
    if not isinstance(layer, numrnn.RNN):
        numrnn.nn.init.chrono_init(layer, T, rng=rng)


def probe(model, task, x, y):
    """One forward and a recording backward on the probe batch; parameters' .grad untouched."""
    saved = [p.grad.copy() for p in model.params]
    z = model.forward(x)
    loss, dz = task.loss(z, y)
    model.backward(dz, record=True)
    for p, g in zip(model.params, saved):
        p.grad[...] = g
    return {k: np.asarray(v, dtype=np.float64) for k, v in model.rnn.grad_flow.items()}, loss


def decay_fit(norms):
    r"""Fit :math:`\log \lVert g_k \rVert = a + k \log\rho` over the distances ``k`` with a
    non-zero norm; return the factor per step :math:`\rho` and the fitted line."""
    norms = np.asarray(norms, dtype=np.float64)
    k = np.arange(len(norms))
    ok = np.isfinite(norms) & (norms > 0)
    if ok.sum() < 2:
        return float("nan"), None
    slope, intercept = np.polyfit(k[ok], np.log(norms[ok]), 1)
    return float(math.exp(slope)), np.exp(intercept + slope * k)


def by_distance(grad_flow, key="h"):
    """The norms of the (single, forward) layer ordered by distance from the loss."""
    return grad_flow[key][0, 0][::-1].copy()


def summarise(grad_flow):
    row = {}
    for key in ("h", "c"):
        if key in grad_flow:
            n = by_distance(grad_flow, key)
            rho, _ = decay_fit(n)
            row[f"decay_{key}"] = rho
            row[f"ratio_{key}"] = float(n[-1] / n[0]) if n[0] > 0 else float("nan")
    return row


# -- training -------------------------------------------------------------------------------


def train_one(cell, args, task, probe_x, probe_y):
    model = LastStepModel(cell, task, args.hidden_size, args.gate_init, args.seed)
    flow_init, _ = probe(model, task, probe_x, probe_y)
    opt = numrnn.optim.Adam(model.params, lr=args.lr)
    rng = np.random.default_rng(args.seed + 10)  # the same batches for every model
    losses, running = [], None
    bar = progress(range(args.steps), desc=f"{cell:>4}", unit="step")
    t0 = time.perf_counter()
    for _ in bar:
        x, y = task.batch(args.batch_size, rng)
        loss, dz = task.loss(model.forward(x), y)
        model.backward(dz)
        numrnn.clip_grad_norm_(model.params, args.clip)
        opt.step()
        opt.zero_grad()
        losses.append(loss)
        running = loss if running is None else 0.97 * running + 0.03 * loss
        bar.set_postfix(loss=f"{running:.4f}")
    seconds = time.perf_counter() - t0
    bar.close()
    flow_trained, _ = probe(model, task, probe_x, probe_y)
    tx, ty = task.batch(args.eval_batch, np.random.default_rng(args.seed + 20))
    with numrnn.no_grad():
        scores = task.score(model.forward(tx), ty)
    return {
        "cell": cell,
        "flow_init": flow_init,
        "flow_trained": flow_trained,
        "losses": losses,
        "seconds": seconds,
        **scores,
    }


def default_init_flows(args, task, probe_x, probe_y):
    """Gradient flow of LSTM and GRU layers with PyTorch's default biases, at initialisation."""
    flows = {}
    for cell in ("lstm", "gru"):
        model = LastStepModel(cell, task, args.hidden_size, "default", args.seed)
        flows[cell] = probe(model, task, probe_x, probe_y)[0]
    return flows


# -- figure -----------------------------------------------------------------------------------


def plot(results, extra, args, task, path):
    plt = pyplot()
    if plt is None:
        return None
    try:
        from numrnn.study import plot_grad_flow
    except ImportError:  # pragma: no cover - older numrnn without the study helpers
        plot_grad_flow = None
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    for ax, key, when in (
        (axes[0], "flow_init", "at initialisation"),
        (axes[1], "flow_trained", f"after {args.steps} training steps"),
    ):
        for r in results:
            cell, gf = r["cell"], r[key]
            n_before = len(ax.get_lines())
            if plot_grad_flow is not None:
                plot_grad_flow(gf, ax=ax, label=cell.upper())
            else:
                for state, style in (("h", "-"), ("c", "--")):
                    if state in gf:
                        ax.plot(
                            by_distance(gf, state), style, label=f"{cell.upper()}: |dL/d{state}_t|"
                        )
            for line in ax.get_lines()[n_before:]:
                line.set_color(COLORS[cell])
            rho, fit = decay_fit(by_distance(gf, "h"))
            if fit is not None:
                ax.plot(
                    np.arange(len(fit)),
                    fit,
                    ":",
                    color=COLORS[cell],
                    lw=1.2,
                    label=f"{cell.upper()} fit: x{rho:.3f} per step",
                )
        if key == "flow_init" and extra:
            for cell, gf in extra.items():
                rho, _ = decay_fit(by_distance(gf, "h"))
                ax.plot(
                    by_distance(gf, "h"),
                    "-",
                    color=COLORS[cell],
                    alpha=0.35,
                    lw=1,
                    label=f"{cell.upper()}, default biases: x{rho:.3f} per step",
                )
        ax.set_yscale("log")
        ax.set_xlabel("distance from the loss k (steps before the last)")
        ax.set_ylabel("gradient norm |dL/dh_{T-1-k}|")
        ax.set_title(f"gradient reaching each step, {when}")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    ax = axes[2]
    for r in results:
        loss = np.asarray(r["losses"])
        w = max(1, len(loss) // 40)
        smooth = np.convolve(loss, np.ones(w) / w, mode="valid")
        ax.plot(
            np.arange(len(smooth)) + w, smooth, color=COLORS[r["cell"]], label=r["cell"].upper()
        )
    ax.axhline(task.baseline, color="k", ls="--", lw=1, label=task.baseline_text)
    ax.set(
        yscale="log",
        xlabel="training step",
        ylabel="training loss (moving average)",
        title=f"learning curves: {task.name}, T = {task.T}, H = {args.hidden_size}",
    )
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    gates = (
        "chrono-initialised gates"
        if args.gate_init == "chrono"
        else "PyTorch's default initialisation"
    )
    fig.suptitle(f"Vanishing gradients: tanh RNN vs LSTM vs GRU ({gates})", fontsize=11)
    write_figure(fig, path)
    return path


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    task = Task(args)
    probe_x, probe_y = task.batch(args.probe_batch, np.random.default_rng(args.seed + 30))
    print(
        f"task: {task.name}, T = {task.T}; baseline: {task.baseline_text} = {task.baseline:.4f}; "
        f"hidden size {args.hidden_size}, {args.steps} steps of {args.batch_size}, gates: {args.gate_init}"
    )
    results = [train_one(cell, args, task, probe_x, probe_y) for cell in args.cells]
    extra = default_init_flows(args, task, probe_x, probe_y) if args.gate_init == "chrono" else {}

    metric = "test_mse" if task.name == "adding" else "accuracy"
    print(
        f"\ngradient norm against distance from the loss: decay factor per step from a line fitted "
        f"to log|dL/dh| (and log|dL/dc|) over k = 0..{task.T - 1}; ratio = |g_(T-1)| / |g_0|\n"
    )
    print(f"| model | when | decay/step (h) | ratio (h) | decay/step (c) | {metric} | train s |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for r in results:
        for when, key in (("init", "flow_init"), ("trained", "flow_trained")):
            s = summarise(r[key])
            c = f"{s['decay_c']:.3f}" if "decay_c" in s else "-"
            m = f"{r[metric]:.4f}" if when == "trained" else "-"
            t = f"{r['seconds']:.1f}" if when == "trained" else "-"
            print(
                f"| {r['cell'].upper()} | {when} | {s['decay_h']:.3f} | {s['ratio_h']:.2e} | {c} "
                f"| {m} | {t} |"
            )
            rows.append({"model": r["cell"], "when": when, "gate_init": args.gate_init, **s})
    for cell, gf in extra.items():
        s = summarise(gf)
        c = f"{s['decay_c']:.3f}" if "decay_c" in s else "-"
        print(
            f"| {cell.upper()} (default biases) | init | {s['decay_h']:.3f} | {s['ratio_h']:.2e} "
            f"| {c} | - | - |"
        )
        rows.append({"model": cell, "when": "init", "gate_init": "default", **s})
    print(f"\nbaseline ({task.baseline_text}): {task.baseline:.4f}")
    for r in results:
        extra_txt = (
            f", {100 * r['within_0.04']:.1f}% within 0.04"
            if task.name == "adding"
            else f", test loss {r['test_loss']:.4f}"
        )
        print(f"  {r['cell'].upper():>4}: {metric} {r[metric]:.4f}{extra_txt}")

    path = plot(results, extra, args, task, os.path.join(args.out, "vanishing_gradients.png"))
    for dest in copy_figures([path] if path else [], args.copy_figures):
        print(f"copied to {dest}")
    summary = {
        "args": {
            k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool, list))
        },
        "decay": rows,
        "models": [
            {k: v for k, v in r.items() if k not in ("flow_init", "flow_trained", "losses")}
            for r in results
        ],
    }
    write_json(os.path.join(args.out, "results.json"), summary)
    return summary


if __name__ == "__main__":
    main()
