"""Translating with a :class:`~numrnn.models.Seq2Seq`: batches of ids, greedy and beam decoding.

The model's encoder and decoder step live in :mod:`numrnn.models.seq2seq`; this file
holds what decoding needs around them (the carry that the search functions of
:mod:`numrnn.models.decoding` pass from step to step, selecting beam rows) and the
batch helpers the translation example uses.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..backend import to_numpy
from ..data.batching import pad_sequences
from ..functional import log_softmax
from ..nn import eval_mode, no_grad
from ..nn.validate import check_size
from .decoding import beam_search, greedy_search

__all__ = [
    "Encoded",
    "beam_hypotheses",
    "check_batch",
    "check_sizes",
    "greedy_hypotheses",
    "translate_ids",
    "translation_batch",
    "unpack_hypotheses",
    "vocab_info",
]


class Encoded(NamedTuple):
    """What the decoder needs from the encoder, batch on axis 0 (state: axis 1)."""

    outputs: object  # (B, S, C) encoder outputs (keys and values), or None without attention
    mask: object  # (B, S) bool, True = a real source token, or None without attention
    keys_proj: object  # (B, S, A) additive attention's key projection, or None
    state: object  # decoder initial state (L, B, H), or a tuple (h0, c0) for the LSTM


def vocab_info(v, what):
    """``(size, pad_id, bos_id, eos_id)`` from a Vocab-like object or an int size."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        if v < 1:
            raise ValueError(f"Seq2Seq: {what} must be a vocabulary or a size >= 1; got {v}")
        return int(v), None, None, None
    if hasattr(v, "__len__") and hasattr(v, "pad_id"):
        return len(v), v.pad_id, getattr(v, "bos_id", None), getattr(v, "eos_id", None)
    raise TypeError(
        f"Seq2Seq: {what} must be a numrnn.data.Vocab or an int size; got {type(v).__name__}"
    )


ATTENTION = (None, "additive", "dot", "general")


def check_sizes(attention, embed_size, hidden_size, num_layers, bidirectional_encoder):
    """Raise for a :class:`~numrnn.models.Seq2Seq` option that does not fit.

    ``attention`` must be one of :data:`ATTENTION`; the sizes ints >= 1; ``"dot"``
    attention needs keys of the decoder's size, so no bidirectional encoder.

    Raises:
        TypeError: a size is not an integer.
        ValueError: an unknown ``attention``, a size below 1, or ``"dot"`` attention
            with a bidirectional encoder.
    """
    if attention not in ATTENTION:
        raise ValueError(f"Seq2Seq: attention must be one of {ATTENTION}; got {attention!r}")
    for name, v in (
        ("embed_size", embed_size),
        ("hidden_size", hidden_size),
        ("num_layers", num_layers),
    ):
        check_size("Seq2Seq", name, v)
    if attention == "dot" and bidirectional_encoder:
        raise ValueError(
            "Seq2Seq: attention='dot' needs keys of the decoder's size H, but a bidirectional "
            f"encoder gives 2H = {2 * int(hidden_size)}; use 'general' or 'additive'"
        )


def check_batch(model, src, src_lengths, tgt_in=None):
    """``(src, lengths, tgt_in)`` as NumPy int arrays, checked against ``model``'s vocabularies.

    Raises:
        ValueError: a shape, dtype or id that does not fit (the message names it).
    """
    src = np.asarray(to_numpy(src))
    if src.ndim != 2 or src.dtype.kind not in "iu":
        raise ValueError(
            f"Seq2Seq: src must be a (B, S) integer array of source ids; got shape "
            f"{src.shape}, dtype {src.dtype}"
        )
    B, S = src.shape
    lengths = np.asarray(to_numpy(src_lengths))
    if lengths.shape != (B,) or lengths.dtype.kind not in "iu":
        raise ValueError(
            f"Seq2Seq: src_lengths must be ({B},) integers, one per row of src; got shape "
            f"{lengths.shape}, dtype {lengths.dtype}"
        )
    if B < 1 or S < 1 or lengths.min() < 1 or lengths.max() > S:
        raise ValueError(
            f"Seq2Seq: src_lengths must be in [1, {S}] (src has {S} columns); got "
            f"min {lengths.min() if B else None}, max {lengths.max() if B else None}"
        )
    if tgt_in is not None:
        tgt_in = np.asarray(to_numpy(tgt_in))
        if (
            tgt_in.ndim != 2
            or tgt_in.shape[0] != B
            or tgt_in.shape[1] < 1
            or tgt_in.dtype.kind not in "iu"
        ):
            raise ValueError(
                f"Seq2Seq: tgt_in must be a ({B}, T) integer array (T >= 1, same rows as "
                f"src); got shape {tgt_in.shape}, dtype {tgt_in.dtype}"
            )
        if tgt_in.min() < 0 or tgt_in.max() >= model.tgt_vocab_size:
            raise ValueError(
                f"Seq2Seq: tgt_in ids must be in [0, {model.tgt_vocab_size}); got min "
                f"{tgt_in.min()}, max {tgt_in.max()}"
            )
    if src.min() < 0 or src.max() >= model.src_vocab_size:
        raise ValueError(
            f"Seq2Seq: src ids must be in [0, {model.src_vocab_size}); got min {src.min()}, "
            f"max {src.max()}"
        )
    return src, lengths.astype(np.int64), tgt_in


def select_rows(model, carry, index):
    """Keep rows ``index`` (int64 NumPy array) of a decoding carry ``(decoder state, _Encoded)``."""
    state, enc = carry
    i = model._idx(index)
    state = tuple(s[:, i] for s in state) if isinstance(state, tuple) else state[:, i]  # (L, K, H)
    enc = Encoded(
        None if enc.outputs is None else enc.outputs[i],
        None if enc.mask is None else enc.mask[index],  # the mask stays NumPy
        None if enc.keys_proj is None else enc.keys_proj[i],
        None,
    )
    return state, enc


def step_function(model):
    """``step(tokens, carry) -> (log_probs, carry, weights)`` for :mod:`numrnn.models.decoding`."""

    def step(tokens, carry):
        state, enc = carry
        logits, state, weights = model._step(tokens, state, enc)
        lp = log_softmax(to_numpy(logits).astype(np.float64), axis=-1)
        return lp, (state, enc), weights

    return step


def start(model, src, src_lengths):
    """Encode a batch for decoding; returns ``(Encoded, B)``.

    Raises:
        ValueError: the model has no ``bos_id`` / ``eos_id``, or the batch is malformed.
    """
    if model.bos_id is None or model.eos_id is None:
        raise ValueError(
            "Seq2Seq: decoding needs bos_id and eos_id (give them, or a tgt_vocab that has them)"
        )
    src, lengths, _ = check_batch(model, src, src_lengths)
    enc, _ = model._encode(src, lengths)
    return enc, src.shape[0]


def greedy_hypotheses(model, src, src_lengths, max_len):
    """Greedy decoding of a batch in eval mode, without caches: one hypothesis per row."""
    with eval_mode(model), no_grad():
        enc, B = start(model, src, src_lengths)
        return greedy_search(
            step_function(model),
            (enc.state, enc._replace(state=None)),
            B,
            int(model.bos_id),
            int(model.eos_id),
            max_len,
        )


def beam_hypotheses(model, src, src_lengths, beam_width, max_len, alpha):
    """Beam search for every row of a batch (one beam per row): the best hypothesis of each."""
    with eval_mode(model), no_grad():
        enc, B = start(model, src, src_lengths)
        step, hyps = step_function(model), []

        def select(carry, index):
            return select_rows(model, carry, index)

        for b in range(B):
            carry = select(
                (enc.state, enc), np.array([b], dtype=np.int64)
            )  # one source row per beam
            hyps.append(
                beam_search(
                    step,
                    carry,
                    select,
                    int(model.bos_id),
                    int(model.eos_id),
                    beam_width,
                    max_len,
                    alpha,
                )[0]
            )
    return hyps


def unpack_hypotheses(hyps, src_lengths):
    """``(tokens, attention)`` lists from hypotheses, attention cut to each source length."""
    lengths = np.asarray(to_numpy(src_lengths))
    tokens = [h.tokens for h in hyps]
    attn = [
        None if h.attention is None else h.attention[:, : int(n)] for h, n in zip(hyps, lengths)
    ]
    return tokens, attn


def translation_batch(src_seqs, tgt_seqs, src_pad_id, tgt_pad_id, bos_id, eos_id):
    """Pad id sequences into the arrays :class:`Seq2Seq` trains on.

    Args:
        src_seqs: ``B`` source id sequences (each non-empty).
        tgt_seqs: ``B`` target id sequences (without ``<bos>`` / ``<eos>``).
        src_pad_id, tgt_pad_id, bos_id, eos_id: the special ids.

    Returns:
        ``(src, src_lengths, tgt_in, tgt_out)``: ``src`` ``(B, S)`` padded with
        ``src_pad_id``; ``src_lengths`` ``(B,)``; ``tgt_in`` ``(B, T)`` =
        ``<bos> y_1 .. y_n`` and ``tgt_out`` ``(B, T)`` = ``y_1 .. y_n <eos>``, both
        padded with ``tgt_pad_id``, ``T = max(n) + 1``.

    Raises:
        ValueError: the two lists differ in length, are empty, or a source is empty.
    """
    if len(src_seqs) != len(tgt_seqs) or not len(src_seqs):
        raise ValueError(
            f"translation_batch: need as many targets as sources (>= 1); got {len(src_seqs)} "
            f"sources, {len(tgt_seqs)} targets"
        )
    if min(len(s) for s in src_seqs) < 1:
        raise ValueError("translation_batch: every source needs at least one token")
    src, src_lengths = pad_sequences(src_seqs, pad_value=src_pad_id)  # (B, S), (B,)
    tgt_in, _ = pad_sequences([[bos_id, *t] for t in tgt_seqs], pad_value=tgt_pad_id)  # (B, T)
    tgt_out, _ = pad_sequences([[*t, eos_id] for t in tgt_seqs], pad_value=tgt_pad_id)  # (B, T)
    return src, src_lengths, tgt_in, tgt_out


def translate_ids(
    model, src_seqs, method="greedy", batch_size=64, beam_width=4, alpha=0.0, max_len=None
):
    """Decode many source id sequences with ``model``; returns ``(tokens, attention)`` lists.

    Sources are decoded in length-sorted batches (less padding) and returned in
    the given order.  ``max_len`` defaults to ``2 * len(source) + 10`` of the
    longest source in each batch.

    Raises:
        ValueError: ``method`` is not ``"greedy"`` or ``"beam"``.
    """
    if method not in ("greedy", "beam"):
        raise ValueError(f"translate_ids: method must be 'greedy' or 'beam'; got {method!r}")
    order = np.argsort([len(s) for s in src_seqs], kind="stable")
    tokens, attn = [None] * len(src_seqs), [None] * len(src_seqs)
    for first in range(0, len(order), batch_size):
        idx = order[first : first + batch_size]
        src, lengths = pad_sequences([src_seqs[i] for i in idx], pad_value=model.src_pad_id)
        limit = max_len or 2 * int(lengths.max()) + 10
        if method == "greedy":
            tok, att = model.greedy(src, lengths, max_len=limit)
        else:
            tok, att = model.beam_search(
                src, lengths, beam_width=beam_width, max_len=limit, alpha=alpha
            )
        for r, i in enumerate(idx):
            tokens[i], attn[i] = tok[r], att[r]
    return tokens, attn
