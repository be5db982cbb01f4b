"""Running a trace: the reference's step pairs over one sequence, and the ``numrnn trace`` command."""

from __future__ import annotations

import argparse
import json
import math
import os
import stat

import numpy as np

from .. import reference as R
from . import fd as TF
from .checks import (
    KINDS,
    _check_inputs,
    _check_kind,
    _check_size,
    _check_state,
    _check_weights,
)
from .tables import _GATES, _PARAMS, Trace, format_trace

__all__ = ["KINDS", "LOSSES", "Trace", "default_weights", "format_trace", "main", "trace"]

LOSSES = ("sum", "last")
# The default weights cycle through these values, parameter after parameter, in
# PyTorch's order: small, distinct and with one decimal, so a step is a few
# multiplications a student can do with a calculator.
_PATTERN = (0.5, -0.3, 0.1, 0.2, -0.4, 0.3, -0.2, 0.4, -0.1, 0.6, -0.5)


# -- the computation ------------------------------------------------------------------------------


def default_weights(kind, hidden_size=1, input_size=1):
    """The fixed small weights the trace uses when none are given.

    The values of :data:`_PATTERN` (0.5, -0.3, 0.1, 0.2, ...) are laid out in
    turn over ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` (row-major).
    For the RNN with hidden and input size 1 that is ``W_ih = 0.5``,
    ``W_hh = -0.3``, ``b_ih = 0.1``, ``b_hh = 0.2``.

    Raises:
        ValueError: unknown ``kind`` or sizes that are not positive integers.
    """
    kind = _check_kind(kind)
    H = _check_size("hidden_size", hidden_size)
    D = _check_size("input_size", input_size)
    G = len(_GATES[kind]) * H
    out, k = {}, 0
    for name, shape in zip(_PARAMS, ((G, D), (G, H), (G,), (G,))):
        n = int(np.prod(shape))
        out[name] = np.array([_PATTERN[(k + j) % len(_PATTERN)] for j in range(n)]).reshape(shape)
        k += n
    return out


def trace(
    kind,
    inputs=(1.0, 2.0, 3.0),
    weights=None,
    *,
    hidden_size=None,
    h0=None,
    c0=None,
    loss="sum",
    nonlinearity=None,
    truncate=None,
    check=True,
):
    r"""Run one sequence forward and backward and keep every intermediate number.

    Args:
        kind: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        inputs: the sequence, ``T`` numbers (input size 1) or ``(T, D)`` nested numbers.
        weights: None (the fixed :func:`default_weights`) or a dict with PyTorch's
            names (``weight_ih`` ``(G H, D)``, ``weight_hh`` ``(G H, H)``,
            optional ``bias_ih``/``bias_hh`` ``(G H,)``, ``G`` = 1, 4, 3 gates; a
            ``_l0`` suffix is accepted); 0-D/1-D values with the right number of
            entries are reshaped.  It may also hold ``h0``, ``c0``, ``nonlinearity``.
        hidden_size: ``H`` for the default weights (default 1); with ``weights`` it
            must match them if given.
        h0, c0: initial states ``(H,)`` (default zeros); ``c0`` for the LSTM only.
        loss: ``"sum"`` (:math:`L = \sum_t \sum_j h_{t,j}`) or ``"last"``
            (:math:`L = \sum_j h_{T,j}`).
        nonlinearity: the RNN's ``"tanh"`` (default) or ``"relu"``.
        truncate: None (full BPTT) or ``K >= 1``: chunked truncated BPTT, as
            :func:`numrnn.train.tbptt_train` runs it.  The sequence is cut into
            chunks of ``K`` steps (``t = 1..K``, ``K+1..2K``, ...; the last may be
            shorter); the forward carries the state across, the backward does not:
            at ``t = K, 2K, ... < T`` the gradient step ``t+1`` sends back
            (:math:`\partial L/\partial h_t`, and :math:`\partial L/\partial c_t`
            for the LSTM) is set to zero.  The dropped values are kept as
            ``backward[t - 1]["dh_cut"]`` (``"dc_cut"``), the full BPTT's
            :math:`\partial L/\partial h_t` as ``"dh_full"`` and its parameter
            gradients as ``full_grads``.  ``K >= T`` cuts nothing: the full trace.
        check: also compute ``numeric_grads``, the central differences of the loss
            the gradients are exact for (:mod:`numrnn.trace.fd`: :math:`L` itself
            without cuts; with cuts, each chunk's loss from its incoming state held
            fixed), ``2 x (number of parameter entries)`` extra forward passes.

    Returns:
        A :class:`Trace`.

    Raises:
        ValueError: an unknown kind, loss or nonlinearity; empty or non-finite
            inputs; weights or states of the wrong shape, or unknown weight names;
            ``truncate`` not an integer >= 1.
        TypeError: inputs or weights that are not numbers; ``check`` not a bool.
    """
    kind, x, W, H, h0, c0, nonlinearity, truncate = _check_options(
        kind, inputs, weights, hidden_size, h0, c0, loss, nonlinearity, truncate, check
    )
    T = x.shape[0]
    tr = Trace(kind, nonlinearity, x, W, h0, c0, loss)
    tr.forward, caches = _forward(kind, x, W, h0, c0, nonlinearity)
    hs = [s["h"] for s in tr.forward]
    tr.loss = float(sum(v.sum() for v in hs)) if loss == "sum" else float(hs[-1].sum())

    # Chunks of `truncate` steps (chunked truncated BPTT): the gradient that step t+1
    # sends back to step t is dropped at the last step t of every chunk but the last.
    K = T if truncate is None else truncate
    cuts = list(range(K - 1, T - 1, K))  # 0-based steps whose dh_next is cut
    tr.truncate, tr.cuts = truncate, [t + 1 for t in cuts]
    tr.backward, tr.step_grads, tr.dh0, tr.dc0 = _backward(kind, caches, loss, H, cuts)
    tr.grads = {k: sum(g[k] for g in tr.step_grads) for k in _PARAMS if k in W}
    if cuts:
        full, full_grads, _, _ = _backward(kind, caches, loss, H, [])
        tr.full_grads = {k: sum(g[k] for g in full_grads) for k in _PARAMS if k in W}
        for rec, rec_full in zip(tr.backward, full):
            rec["dh_full"] = rec_full["dh"]
    if check:
        # the state each chunk starts from, as this forward computed it, then held fixed
        after = [(t + 1, tr.forward[t]["h"], tr.forward[t].get("c")) for t in cuts]
        starts = [(0, h0, c0)] + after
        tr.numeric_grads = TF.numeric_gradients(kind, x, W, starts, loss, nonlinearity)
        _, size = TF.objective(kind, x, W, starts, loss, nonlinearity, terms=True)
        tr.fd_eps, tr.fd_noise = TF.EPS, TF.rounding_noise(size)
    return tr


def _check_options(kind, inputs, weights, hidden_size, h0, c0, loss, nonlinearity, truncate, check):
    """Check :func:`trace`'s arguments (raising its errors) and fill in the defaults.

    Returns ``(kind, x, W, H, h0, c0, nonlinearity, truncate)``; ``x`` is ``(T, D)``.
    """
    kind = _check_kind(kind)
    if truncate is not None:
        truncate = _check_size("truncate", truncate)
    if not isinstance(check, bool):
        raise TypeError(f"check must be True or False; got {check!r}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(map(repr, LOSSES))}; got {loss!r}")
    x = _check_inputs(inputs)  # (T, D)
    T, D = x.shape
    if weights is None:
        H = 1 if hidden_size is None else _check_size("hidden_size", hidden_size)
        W = default_weights(kind, H, D)
    else:
        W, H, extra = _check_weights(kind, weights, D, hidden_size)
        h0 = extra.get("h0") if h0 is None else h0
        c0 = extra.get("c0") if c0 is None else c0
        nonlinearity = extra.get("nonlinearity") if nonlinearity is None else nonlinearity
    nonlinearity = "tanh" if nonlinearity is None else nonlinearity
    if nonlinearity not in ("tanh", "relu") or (kind != "rnn" and nonlinearity != "tanh"):
        allowed = "'tanh' or 'relu'" if kind == "rnn" else "'tanh' (only the RNN has a choice)"
        raise ValueError(f"nonlinearity must be {allowed}; got {nonlinearity!r}")
    h0 = _check_state("h0", h0, H)
    if kind != "lstm" and c0 is not None:
        raise ValueError(f"c0 is the LSTM's cell state; a {kind.upper()} has none")
    c0 = _check_state("c0", c0, H) if kind == "lstm" else None

    return kind, x, W, H, h0, c0, nonlinearity, truncate


def _forward(kind, x, W, h0, c0, nonlinearity):
    """Run the steps t = 1 .. T; returns (one record per step, the steps' caches)."""
    # Every number comes from the reference's step pair (numrnn/reference/), which
    # stores its intermediate quantities in the ``record`` dict it is given.
    records, caches = [], []
    h, c = h0[None], None if c0 is None else c0[None]  # (1, H): a batch of one row
    for t in range(x.shape[0]):
        rec = {"x": x[t], "h_prev": h}
        xt = x[t][None]  # (1, D)
        if kind == "rnn":
            h, cache = R.rnn_step_forward(xt, h, W, nonlinearity, record=rec)
        elif kind == "lstm":
            rec["c_prev"] = c
            (h, c), cache = R.lstm_step_forward(xt, (h, c), W, record=rec)
        else:
            h, cache = R.gru_step_forward(xt, h, W, record=rec)
        rec["h"] = h
        records.append(_one_row(rec))
        caches.append(cache)
    return records, caches


def _backward(kind, caches, loss, H, cuts):
    """Backpropagate through the cached steps, t = T .. 1; ``cuts``: 0-based steps whose
    gradient from t+1 is dropped.  Returns (records, step gradients, dh0, dc0)."""
    T = len(caches)
    # Carrying dh_next (and dc_next) from step t+1, as numrnn.reference's *_backward
    # loops do, with the loss's own part split out.
    records, step_grads = [None] * T, [None] * T
    dh_next = np.zeros((1, H))
    dc_next = np.zeros((1, H)) if kind == "lstm" else None
    for t in reversed(range(T)):
        cut = {}
        if t in cuts:  # the chunk boundary: what step t+1 sent back is discarded
            cut["dh_cut"], dh_next = dh_next, np.zeros((1, H))
            if dc_next is not None:
                cut["dc_cut"], dc_next = dc_next, np.zeros((1, H))
        dh_loss = np.ones(H) if (loss == "sum" or t == T - 1) else np.zeros(H)
        dh = dh_next + dh_loss  # (1, H) everything that reaches h_t
        rec = {"dh_loss": dh_loss, "dh_next": dh_next, "dh": dh}
        if kind == "rnn":
            dx, dh_prev, grads = R.rnn_step_backward(dh, caches[t], record=rec)
        elif kind == "lstm":
            rec["dc_next"] = dc_next
            dx, (dh_prev, dc_next), grads = R.lstm_step_backward(
                (dh, dc_next), caches[t], record=rec
            )
        else:
            dx, dh_prev, grads = R.gru_step_backward(dh, caches[t], record=rec)
        rec.update(cut)
        records[t] = _one_row(rec)
        step_grads[t] = grads
        dh_next = dh_prev
    dc0 = None if dc_next is None else dc_next[0].copy()
    return records, step_grads, dh_next[0].copy(), dc0


def _one_row(record):
    """A step's record with the batch axis of one row dropped: name -> 1-D array (copies)."""
    return {
        k: np.array(v[0] if np.ndim(v) == 2 else v, dtype=np.float64) for k, v in record.items()
    }


# -- command line ---------------------------------------------------------------------------------


_INPUTS_FORM = (
    "numbers separated by commas (one per step), or steps of several features separated by ';'"
)


def _parse_inputs(text):
    """``"1,2,3"`` (or ``"1 2 3"``): three scalar steps; ``"1,2;3,4"``: two steps of two features.

    Every entry must be a finite number: an empty entry (``"1,,2"``, a trailing
    comma or ``;``) is refused, never skipped.

    Raises:
        ValueError: the message names ``--inputs`` and what is wrong.
    """
    if ";" in text:
        rows = [_parse_numbers(text, step) for step in text.split(";")]
    else:
        rows = [[v] for v in _parse_numbers(text, text)]
    if len({len(r) for r in rows}) != 1:
        raise ValueError(f"--inputs: every step needs the same number of features; got {text!r}")
    return rows


def _parse_numbers(text, piece):
    """The finite numbers of ``piece`` (a part of ``text``), separated by commas or spaces."""
    items = piece.split(",") if "," in piece else (piece.split() or [""])
    values = []
    for item in items:
        item = item.strip()
        if not item:
            raise ValueError(
                f"--inputs: empty entry in {text!r} (two separators in a row, or one at an end); "
                f"expected {_INPUTS_FORM}"
            )
        try:
            v = float(item)
        except ValueError:
            raise ValueError(f"--inputs must be {_INPUTS_FORM}; got {item!r} in {text!r}") from None
        if not math.isfinite(v):
            raise ValueError(f"--inputs: every entry must be a finite number; got {item!r}")
        values.append(v)
    return values


_MAX_WEIGHTS_BYTES = 1 << 20


def _read_weights(path):
    """The JSON object in ``path``; ``ValueError`` naming the file for anything unreadable.

    Only a regular file of at most ``_MAX_WEIGHTS_BYTES`` is read (not ``/dev/zero``,
    a FIFO or a directory); ``NaN`` and ``Infinity`` are refused.
    """
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"--weights: {path!r} is not a regular file")
        if info.st_size > _MAX_WEIGHTS_BYTES:
            raise ValueError(
                f"--weights: {path!r} holds {info.st_size:,} bytes; a weights file for a trace "
                f"is at most {_MAX_WEIGHTS_BYTES:,}"
            )
        with open(path, encoding="utf-8") as fh:
            weights = json.load(fh, parse_constant=_refuse_constant)
    except OSError as err:
        raise ValueError(f"--weights: cannot read {path!r}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise ValueError(
            f"--weights: {path!r} is not a UTF-8 text file (a JSON object of weights expected)"
        ) from None
    except RecursionError:
        raise ValueError(f"--weights: {path!r} nests JSON too deeply") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"--weights: {path!r} is not valid JSON: {err}") from None
    if not isinstance(weights, dict):
        raise ValueError(f"--weights: {path!r} must hold a JSON object (name -> nested lists)")
    return weights


def _refuse_constant(name):
    raise json.JSONDecodeError(f"{name} is not a number a weight may hold", name, 0)


_MAX_HIDDEN = 256  # the trace prints every number: it is for layers small enough to read


def _hidden_size(text):
    """argparse ``type=`` of ``--hidden-size``: an integer in ``[1, _MAX_HIDDEN]``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer; got {text!r}") from None
    if not 1 <= value <= _MAX_HIDDEN:
        raise argparse.ArgumentTypeError(f"must be in [1, {_MAX_HIDDEN}]; got {value}")
    return value


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m numrnn.trace",
        description="Print every number of a small RNN/LSTM/GRU forward and backward pass (float64, "
        "batch of one) as tables to check BPTT by hand.",
    )
    p.add_argument("kind", choices=KINDS, help="which recurrent layer")
    p.add_argument(
        "--inputs",
        default="1,2,3",
        help="the input sequence: '1,2,3' (scalar steps, the default) or '1,0;0,1' (steps "
        "separated by ';'); write --inputs=-1,2 when it starts with a minus sign",
    )
    p.add_argument(
        "--hidden-size",
        type=_hidden_size,
        default=None,
        help=f"H in [1, {_MAX_HIDDEN}] (default 1, or the size of the --weights)",
    )
    p.add_argument(
        "--weights",
        metavar="JSON_FILE",
        default=None,
        help="weights with PyTorch's names (weight_ih, weight_hh, optional bias_ih, bias_hh, "
        "h0, c0, nonlinearity); default: fixed small values, printed",
    )
    p.add_argument("--precision", type=int, default=4, help="decimals printed (default 4)")
    p.add_argument(
        "--loss",
        choices=LOSSES,
        default="sum",
        help="'sum': L = sum of h_t over t and units (default); 'last': sum of the last h only",
    )
    p.add_argument(
        "--nonlinearity", choices=("tanh", "relu"), default=None, help="RNN only (default tanh)"
    )
    p.add_argument(
        "--truncate",
        metavar="K",
        type=int,
        default=None,
        help="chunked truncated BPTT: cut the backward every K steps (an integer >= 1; "
        "K >= T cuts nothing), show what is dropped and the full gradient beside it",
    )
    p.add_argument(
        "--no-check",
        action="store_true",
        help="leave out the finite-difference column (numeric) and its relative error, "
        "which cost two forward passes per parameter entry",
    )
    return p


def main(argv=None):
    """Command-line entry point; returns 0, or exits with status 2 on bad arguments."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not 0 <= args.precision <= 17:
        parser.error(f"--precision must be in [0, 17]; got {args.precision}")
    if args.truncate is not None and args.truncate < 1:
        parser.error(f"--truncate must be an integer >= 1 (steps per chunk); got {args.truncate}")
    if args.nonlinearity is not None and args.kind != "rnn":
        parser.error("--nonlinearity applies to the rnn only")
    try:
        inputs = _parse_inputs(args.inputs)
    except ValueError as err:
        parser.error(str(err))
    weights = None
    if args.weights is not None:
        try:
            weights = _read_weights(args.weights)
        except ValueError as err:
            parser.error(str(err))
    try:
        tr = trace(
            args.kind,
            inputs,
            weights,
            hidden_size=args.hidden_size,
            loss=args.loss,
            nonlinearity=args.nonlinearity,
            truncate=args.truncate,
            check=not args.no_check,
        )
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    print(format_trace(tr, precision=args.precision))
    return 0
