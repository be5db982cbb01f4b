r"""Bring your own cell: a peephole LSTM written as a step pair, run by ``numrnn.Recurrent``.

    python examples/custom_cell.py              # gradient check, then train against the LSTM
    python examples/custom_cell.py --dry-run    # seconds, for the tests

The peephole LSTM (Gers & Schmidhuber, 2000, "Recurrent nets that time and count")
lets the gates look at the cell state: the input and forget gates at
:math:`c_{t-1}`, the output gate at the new :math:`c_t`, through diagonal weights
``weight_ci``, ``weight_cf``, ``weight_co`` ``(H,)``::

    i = sigmoid(x W_ii^T + h_prev W_hi^T + b_i + w_ci * c_prev)
    f = sigmoid(x W_if^T + h_prev W_hf^T + b_f + w_cf * c_prev)
    g = tanh(x W_ig^T + h_prev W_hg^T + b_g)
    c = f * c_prev + i * g
    o = sigmoid(x W_io^T + h_prev W_ho^T + b_o + w_co * c)
    h = o * tanh(c)

All a user writes is the step pair below (compare ``numrnn/reference/lstm.py``) and a
``numrnn.reference.Cell`` naming its weights and states.  ``numrnn.Recurrent`` does the
rest: layers, directions, variable lengths, ``hx``, dropout, state_dict.  The script
checks the hand-written backward of a bidirectional 2-layer variable-length model
with ``numrnn.gradcheck``, then trains it and ``numrnn.LSTM`` of the same size on the
adding problem of ``numrnn.tasks`` (here with a different length per sequence) and
prints both mean squared errors against the constant-answer baseline 1/6.
"""

from __future__ import annotations

import argparse

import numpy as np

import numrnn
from numrnn.reference import Cell, Weight
from numrnn.reference.cell import gated_weights
from numrnn.reference.common import bias_or_zeros, sigmoid
from numrnn.tasks import ADDING_BASELINE_MSE, adding_problem


def peephole_step_forward(x, state, params):
    """x (B, D), state = (h_prev, c_prev) (B, H) each -> (h, c), cache."""
    h_prev, c_prev = state
    W_ih, W_hh, H = params["weight_ih"], params["weight_hh"], c_prev.shape[1]
    b_ih = bias_or_zeros(params, "bias_ih", 4 * H, x.dtype)
    b_hh = bias_or_zeros(params, "bias_hh", 4 * H, x.dtype)
    a = x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh  # (B, 4H)
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)  # each (B, H)
    i = sigmoid(a_i + params["weight_ci"] * c_prev)
    f = sigmoid(a_f + params["weight_cf"] * c_prev)
    g = np.tanh(a_g)
    c = f * c_prev + i * g
    o = sigmoid(a_o + params["weight_co"] * c)
    h = o * np.tanh(c)
    return (h, c), (x, h_prev, c_prev, i, f, g, c, o, params)


def peephole_step_backward(dstate, cache):
    """(dh, dc_next) -> dx, (dh_prev, dc_prev), grads (the keys of params)."""
    dh, dc_next = dstate
    x, h_prev, c_prev, i, f, g, c, o, params = cache
    da_o = dh * np.tanh(c) * o * (1 - o)
    dc = dc_next + dh * o * (1 - np.tanh(c) ** 2) + da_o * params["weight_co"]
    da_i = dc * g * i * (1 - i)
    da_f = dc * c_prev * f * (1 - f)
    da_g = dc * i * (1 - g**2)
    dc_prev = dc * f + da_i * params["weight_ci"] + da_f * params["weight_cf"]
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)  # (B, 4H)
    grads = {
        "weight_ih": da.T @ x,
        "weight_hh": da.T @ h_prev,
        "bias_ih": da.sum(axis=0),
        "bias_hh": da.sum(axis=0),
        "weight_ci": (da_i * c_prev).sum(axis=0),
        "weight_cf": (da_f * c_prev).sum(axis=0),
        "weight_co": (da_o * c).sum(axis=0),
    }
    dx, dh_prev = da @ params["weight_ih"], da @ params["weight_hh"]
    return dx, (dh_prev, dc_prev), {name: grads[name] for name in params}


peephole_cell = Cell(
    "peephole_lstm",
    gated_weights(4)
    + tuple(Weight(name, lambda D, H: (H,)) for name in ("weight_ci", "weight_cf", "weight_co")),
    ("h", "c"),
    peephole_step_forward,
    peephole_step_backward,
)


def adding_batch(batch_size, max_len, rng, dtype):
    """The adding problem with a different length per row: x (T, B, 2), y (B,), lengths (B,)."""
    lengths = rng.integers(max_len // 2, max_len + 1, batch_size)
    x = np.zeros((max_len, batch_size, 2), dtype)
    y = np.zeros(batch_size, dtype)
    for b, n in enumerate(lengths):
        xb, yb = adding_problem(1, int(n), rng, dtype=dtype)
        x[:n, b], y[b] = xb[:, 0], yb[0]
    return x, y, lengths


class Regressor(numrnn.Module):
    """A recurrent layer and a Linear head on the last layer's final states (both directions)."""

    def __init__(self, rnn, hidden_size, dtype, seed):
        super().__init__()
        self.rnn = rnn
        self.head = numrnn.Linear(2 * hidden_size, 1, dtype=dtype, seed=seed)

    def forward(self, x, lengths):
        out, (hn, cn) = self.rnn(x, lengths=lengths)
        self._push_cache((out.shape, hn.shape))
        return self.head(np.concatenate([hn[-2], hn[-1]], axis=1))[:, 0]  # (B,)

    def backward(self, dz):
        out_shape, hn_shape = self._pop_cache()
        H = hn_shape[-1]
        dfeat = self.head.backward(dz[:, None])  # (B, 2H)
        dhn = np.zeros(hn_shape, dz.dtype)
        dhn[-2], dhn[-1] = dfeat[:, :H], dfeat[:, H:]
        self.rnn.backward(np.zeros(out_shape, dz.dtype), (dhn, np.zeros_like(dhn)))


def gradient_check(seed):
    """numrnn.gradcheck on a small float64 model: every weight, x, h0 and c0."""
    rng = np.random.default_rng(seed)
    model = numrnn.Recurrent(
        peephole_cell, 3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=seed
    )
    x = rng.standard_normal((5, 3, 3))
    hx = (rng.standard_normal((4, 3, 4)), rng.standard_normal((4, 3, 4)))
    report = numrnn.gradcheck(model, (x, hx), kwargs={"lengths": [5, 2, 4]})
    print(report)
    return report


def train(name, rnn, args):
    model = Regressor(rnn, args.hidden_size, np.float32, args.seed)
    opt = numrnn.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    for _ in range(args.steps):
        x, y, lengths = adding_batch(args.batch_size, args.seq_len, rng, np.float32)
        _, dz = numrnn.functional.mse_loss(model(x, lengths), y)
        opt.zero_grad()
        model.backward(dz)
        numrnn.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    x, y, lengths = adding_batch(512, args.seq_len, np.random.default_rng(12345), np.float32)
    with numrnn.no_grad():
        mse = float(numrnn.functional.mse_loss(model(x, lengths), y)[0])
    print(f"| {name} | {args.steps} | {mse:.4f} | {ADDING_BASELINE_MSE:.4f} |")
    return mse


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seq-len", type=int, default=20, help="longest sequence T")
    p.add_argument("--hidden-size", type=int, default=16)
    p.add_argument("--steps", type=int, default=300, help="training steps per model")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dry-run", action="store_true", help="a few seconds end to end (tests)")
    args = p.parse_args(argv)
    if args.dry_run:
        args.seq_len, args.hidden_size, args.steps, args.batch_size = 8, 4, 3, 4
    return args


def main(argv=None):
    args = parse_args(argv)
    if not gradient_check(args.seed).passed:
        raise SystemExit(1)
    opts = {"num_layers": 2, "bidirectional": True, "seed": args.seed}
    print("| model | steps | test MSE | baseline MSE |\n|---|---|---|---|")
    train(
        "peephole LSTM (Recurrent)",
        numrnn.Recurrent(peephole_cell, 2, args.hidden_size, **opts),
        args,
    )
    train("LSTM (numrnn.LSTM)", numrnn.LSTM(2, args.hidden_size, **opts), args)


if __name__ == "__main__":
    main()
