"""The ``numrnn gradcheck`` command: build a layer with random inputs, check it, print the table."""

from __future__ import annotations

import argparse
import math

import numpy as np

from .check import gradcheck
from .report import tolerance_footer

__all__ = ["main"]


_RECURRENT = ("rnn", "lstm", "gru")
_CELLS = ("rnncell", "lstmcell", "grucell")
_LAYERS = _RECURRENT + _CELLS + ("linear", "embedding")


_MAX_SIZE = 4096  # size bounds for the CLI: central differences are for small layers
_MAX_ENTRIES = 2**25  # weights plus activations (float64: 256 MiB)


def _int_at_least(low):
    """An argparse ``type=``: an integer in ``[low, _MAX_SIZE]``, else a usage error."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer; got {text!r}") from None
        if not low <= value <= _MAX_SIZE:
            raise argparse.ArgumentTypeError(
                f"must be an integer in [{low}, {_MAX_SIZE}]; got {value}"
            )
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def _float_in(low, high=math.inf, low_open=False, high_open=True):
    """An argparse ``type=``: a finite float in the interval given, else a usage error."""

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number; got {text!r}") from None
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        if not (math.isfinite(value) and above and below):
            lo, hi = "(" if low_open else "[", ")" if high_open else "]"
            raise argparse.ArgumentTypeError(f"must be in {lo}{low}, {high}{hi}; got {text}")
        return value

    parse.__name__ = "number"
    return parse


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer; got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0; got {value}")
    return value


# options that only some layers read, with those layers: given for another layer, they are
# refused rather than silently ignored
_ONLY_FOR = {
    "num_layers": _RECURRENT,
    "bidirectional": _RECURRENT,
    "batch_first": _RECURRENT,
    "dropout": _RECURRENT,
    "lengths": _RECURRENT,
    "proj_size": ("lstm",),
    "nonlinearity": ("rnn", "rnncell"),
    "unbatched": _RECURRENT + _CELLS,
    "no_hx": _RECURRENT + _CELLS,
    "seq_len": _RECURRENT + ("linear", "embedding"),
    "input_size": _RECURRENT + _CELLS + ("linear",),
    "num_embeddings": ("embedding",),
    "padding_idx": ("embedding",),
    "no_bias": _RECURRENT + _CELLS + ("linear",),
}
_DEFAULTS = {
    "num_layers": 1,
    "dropout": 0.0,
    "proj_size": 0,
    "nonlinearity": "tanh",
    "seq_len": 5,
    "input_size": 3,
    "num_embeddings": 10,
}


def _parser():
    """The command's argument parser.

    Longer than 60 lines: one ``add_argument`` per option, a flat list that reads
    best as it is.
    """
    p = argparse.ArgumentParser(
        prog="python -m numrnn.gradcheck",
        description="Check a numrnn layer's hand-written gradients against central differences "
        "(float64, random inputs); exit status 0 when every gradient passes, 1 when one is "
        "wrong, 2 when the command is misused (a bad option, or one the layer does not read).",
        epilog=" ".join(line.strip() for line in tolerance_footer()),
    )
    size = _int_at_least(1)
    p.add_argument("layer", choices=_LAYERS, help="which layer to build")
    p.add_argument("--input-size", type=size, default=None, help="D: input features (default 3)")
    p.add_argument(
        "--hidden-size",
        type=size,
        default=4,
        help="H: hidden size; Linear's out_features, Embedding's dim (default 4)",
    )
    p.add_argument("--num-layers", type=size, default=None, help="recurrent layers (default 1)")
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--batch-first", action="store_true")
    p.add_argument("--no-bias", action="store_true")
    p.add_argument(
        "--proj-size",
        type=_int_at_least(0),
        default=None,
        help="LSTM only: projection size, below --hidden-size (default 0: none)",
    )
    p.add_argument("--nonlinearity", choices=("tanh", "relu"), default=None, help="RNN only")
    p.add_argument(
        "--dropout",
        type=_float_in(0.0, 1.0),
        default=None,
        help="in [0, 1), between layers; the check runs in eval mode, where it is the identity",
    )
    p.add_argument("--seq-len", type=size, default=None, help="T (default 5)")
    p.add_argument("--batch", type=size, default=3, help="B (default 3)")
    p.add_argument("--unbatched", action="store_true", help="x of shape (T, D), states (L*dirs, H)")
    p.add_argument(
        "--lengths",
        action="store_true",
        help="random per-row lengths in [1, T] (one row full length)",
    )
    p.add_argument(
        "--no-hx", action="store_true", help="leave the initial state at its default (zeros)"
    )
    p.add_argument("--num-embeddings", type=size, default=None, help="Embedding only (default 10)")
    p.add_argument(
        "--padding-idx",
        type=int,
        default=None,
        help="Embedding only, in [-num_embeddings, num_embeddings); the random indices avoid "
        "this row, whose gradient is zero by design",
    )
    p.add_argument("--seed", type=_seed, default=0, help="an integer >= 0 (default 0)")
    p.add_argument("--eps", type=_float_in(0.0, low_open=True), default=1e-6, help="> 0")
    p.add_argument("--rtol", type=_float_in(0.0), default=1e-5, help=">= 0")
    p.add_argument(
        "--atol", type=_float_in(0.0), default=None, help=">= 0; default: from the output scale"
    )
    p.add_argument(
        "--max-entries",
        type=_int_at_least(0),
        default=200,
        help="per tensor, sample this many entries of larger tensors (0: check all)",
    )
    return p


def _parse_args(argv):
    """Parse and cross-check the options; misuse exits with argparse's usage error (status 2)."""
    p = _parser()
    args = p.parse_args(argv)
    for dest, layers in _ONLY_FOR.items():
        given = getattr(args, dest)
        if given is not None and given is not False and args.layer not in layers:
            flag = "--" + dest.replace("_", "-")
            p.error(f"{flag} does not apply to {args.layer} (only to {', '.join(layers)})")
    for dest, default in _DEFAULTS.items():
        if getattr(args, dest) is None:
            setattr(args, dest, default)
    if args.proj_size and args.proj_size >= args.hidden_size:
        p.error(
            f"--proj-size must be smaller than --hidden-size ({args.hidden_size}); "
            f"got {args.proj_size}"
        )
    D, H, B, T = args.input_size, args.hidden_size, args.batch, args.seq_len
    dirs = 2 if args.bidirectional else 1
    n_weights = 4 * H * (max(D, H * dirs) + H) * args.num_layers * dirs + args.num_embeddings * H
    n_acts = 4 * T * B * max(D, H * dirs) * args.num_layers
    if n_weights + n_acts > _MAX_ENTRIES:
        p.error(
            f"the layer is too large for a gradient check (about {n_weights + n_acts:,} numbers; "
            f"at most {_MAX_ENTRIES:,}): reduce the sizes"
        )
    if args.lengths and args.unbatched:
        p.error("--lengths needs batched input: drop --unbatched")
    if args.padding_idx is not None:
        n = args.num_embeddings
        if n < 2:
            p.error("--padding-idx needs --num-embeddings of at least 2")
        if not -n <= args.padding_idx < n:
            p.error(f"--padding-idx must be in [-{n}, {n}); got {args.padding_idx}")
    return args


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
        if mod.padding_idx is not None:  # --num-embeddings >= 2 was checked with the options
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
    if args.lengths:  # batched: --unbatched was refused with the options
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
    numrnn.gradcheck``, exits with it.  A misused command (a size below 1, ``--eps 0``,
    ``--rtol -1``, ``--dropout`` outside ``[0, 1)``, ``--proj-size`` not below
    ``--hidden-size``, an option the layer does not read such as ``gru --proj-size 2``)
    exits through argparse's usage error with status 2 before anything is built.
    """
    args = _parse_args(argv)
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
