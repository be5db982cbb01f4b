"""The ``numrnn gradcheck`` command: build a layer with random inputs, check it, print the table."""

from __future__ import annotations

import argparse

import numpy as np

from .check import gradcheck

__all__ = ["main"]


_RECURRENT = ("rnn", "lstm", "gru")
_CELLS = ("rnncell", "lstmcell", "grucell")
_LAYERS = _RECURRENT + _CELLS + ("linear", "embedding")


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m numrnn.gradcheck",
        description="Check a numrnn layer's hand-written gradients against central differences "
        "(float64, random inputs); exit status 0 when every gradient passes, 1 otherwise.",
    )
    p.add_argument("layer", choices=_LAYERS, help="which layer to build")
    p.add_argument("--input-size", type=int, default=3, help="D: input features (default 3)")
    p.add_argument(
        "--hidden-size",
        type=int,
        default=4,
        help="H: hidden size; Linear's out_features, Embedding's dim (default 4)",
    )
    p.add_argument("--num-layers", type=int, default=1)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--batch-first", action="store_true")
    p.add_argument("--no-bias", action="store_true")
    p.add_argument(
        "--proj-size", type=int, default=0, help="LSTM projection size (default 0: none)"
    )
    p.add_argument("--nonlinearity", choices=("tanh", "relu"), default="tanh", help="RNN only")
    p.add_argument(
        "--dropout",
        type=float,
        default=0.0,
        help="between layers; the check runs in eval mode, where it is the identity",
    )
    p.add_argument("--seq-len", type=int, default=5, help="T (default 5)")
    p.add_argument("--batch", type=int, default=3, help="B (default 3)")
    p.add_argument("--unbatched", action="store_true", help="x of shape (T, D), states (L*dirs, H)")
    p.add_argument(
        "--lengths",
        action="store_true",
        help="random per-row lengths in [1, T] (one row full length)",
    )
    p.add_argument(
        "--no-hx", action="store_true", help="leave the initial state at its default (zeros)"
    )
    p.add_argument("--num-embeddings", type=int, default=10, help="Embedding only (default 10)")
    p.add_argument(
        "--padding-idx",
        type=int,
        default=None,
        help="Embedding only; the random indices avoid this row, whose gradient is zero by design",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eps", type=float, default=1e-6)
    p.add_argument("--rtol", type=float, default=1e-5)
    p.add_argument("--atol", type=float, default=None, help="default: from the output scale")
    p.add_argument(
        "--max-entries",
        type=int,
        default=200,
        help="per tensor, sample this many entries of larger tensors (0: check all)",
    )
    return p


def _build(args):
    """The module, its positional inputs and keyword arguments for the CLI's layer.

    Longer than 60 lines: one straight branch per kind of layer reads more easily
    than a table of builders.
    """
    import numrnn

    rng = np.random.default_rng(args.seed + 1)
    f64 = dict(dtype=np.float64, seed=args.seed)
    layer = args.layer
    if layer == "linear":
        mod = numrnn.Linear(args.input_size, args.hidden_size, bias=not args.no_bias, **f64)
        return mod, (rng.standard_normal((args.batch, args.seq_len, args.input_size)),), {}
    if layer == "embedding":
        mod = numrnn.Embedding(
            args.num_embeddings, args.hidden_size, padding_idx=args.padding_idx, **f64
        )
        # The padding row receives no gradient by convention although the lookup reads
        # it, so indices avoid it: its analytic and numeric gradients are then both zero.
        idx = rng.integers(0, args.num_embeddings, (args.seq_len, args.batch))
        if mod.padding_idx is not None:
            if args.num_embeddings < 2:
                raise SystemExit("--padding-idx needs --num-embeddings of at least 2")
            idx[idx == mod.padding_idx] = (mod.padding_idx + 1) % args.num_embeddings
        return mod, (idx,), {}
    cls_name = {
        "rnn": "RNN",
        "lstm": "LSTM",
        "gru": "GRU",
        "rnncell": "RNNCell",
        "lstmcell": "LSTMCell",
        "grucell": "GRUCell",
    }[layer]
    cls = getattr(numrnn, cls_name, None)
    if cls is None:
        raise SystemExit(f"numrnn.{cls_name} is not available in this version of numrnn")
    D, H, B, T = args.input_size, args.hidden_size, args.batch, args.seq_len
    if layer in _CELLS:
        kw = dict(bias=not args.no_bias, **f64)
        if layer == "rnncell":
            kw["nonlinearity"] = args.nonlinearity
        mod = cls(D, H, **kw)
        lead = () if args.unbatched else (B,)
        x = rng.standard_normal(lead + (D,))
        h = rng.standard_normal(lead + (H,)) * 0.5
        if args.no_hx:
            return mod, (x,), {}
        if layer == "lstmcell":
            return mod, (x, (h, rng.standard_normal(lead + (H,)) * 0.5)), {}
        return mod, (x, h), {}
    kw = dict(
        num_layers=args.num_layers,
        bias=not args.no_bias,
        batch_first=args.batch_first,
        dropout=args.dropout,
        bidirectional=args.bidirectional,
        **f64,
    )
    if layer == "rnn":
        kw["nonlinearity"] = args.nonlinearity
    if layer == "lstm" and args.proj_size:
        kw["proj_size"] = args.proj_size
    mod = cls(D, H, **kw)
    S = args.num_layers * (2 if args.bidirectional else 1)
    if args.unbatched:
        x = rng.standard_normal((T, D))
        state_lead = (S,)
    else:
        x = rng.standard_normal((B, T, D) if args.batch_first else (T, B, D))
        state_lead = (S, B)
    Hout = args.proj_size if (layer == "lstm" and args.proj_size) else H
    h0 = rng.standard_normal(state_lead + (Hout,)) * 0.5
    kwargs = {}
    if args.lengths:
        if args.unbatched:
            raise SystemExit("--lengths needs batched input")
        lengths = rng.integers(1, T + 1, B)
        lengths[rng.integers(B)] = T
        kwargs["lengths"] = lengths
    if args.no_hx:
        return mod, (x,), kwargs
    if layer == "lstm":
        return mod, (x, (h0, rng.standard_normal(state_lead + (H,)) * 0.5)), kwargs
    return mod, (x, h0), kwargs


def main(argv=None):
    """Command-line entry point: build the layer, check it, print the report.

    Returns the exit status (0 pass, 1 fail) and, when run as ``python -m
    numrnn.gradcheck``, exits with it.
    """
    args = _parser().parse_args(argv)
    module, inputs, kwargs = _build(args)
    max_entries = None if args.max_entries == 0 else args.max_entries
    report = gradcheck(
        module,
        inputs,
        eps=args.eps,
        kwargs=kwargs,
        rtol=args.rtol,
        atol=args.atol,
        max_entries=max_entries,
        seed=args.seed,
    )
    print(report)
    return 0 if report.passed else 1
