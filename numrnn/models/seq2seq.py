r"""Encoder-decoder translation model with optional attention, trained with teacher forcing.

The model, for a source :math:`x_1 \dots x_S` and a target :math:`y_1 \dots y_T`
(:math:`y_0` = ``<bos>``):

.. math::

    (h_1 \dots h_S),\ h_n &= \mathrm{Encoder}(E_s[x_1] \dots E_s[x_S]) \\
    s_0 &= h_n \quad\text{or, with a bidirectional encoder,}\quad
          s_0^{(l)} = \tanh\big(W_b [h_n^{(l)\rightarrow}; h_n^{(l)\leftarrow}] + b_b\big) \\
    c_t &= \mathrm{Attn}(q = s_{t-1}^{\mathrm{top}},\ K = V = (h_1 \dots h_S),\ \text{source mask}) \\
    s_t &= \mathrm{Decoder}([E_t[y_{t-1}]; c_t],\ s_{t-1}) \\
    z_t &= W_o [s_t^{\mathrm{top}}; c_t] + b_o

That is Bahdanau et al.'s arrangement: the query is the decoder's *previous*
top-layer state, and the context enters both the decoder's input and the
output layer.  Without attention there is no :math:`c_t`: the decoder reads
:math:`E_t[y_{t-1}]` and the output layer :math:`s_t^{\mathrm{top}}` (Sutskever
et al. / Cho et al.; the source reaches the decoder only through :math:`s_0`).

Bridge.  A unidirectional encoder hands its final state (``h_n``, and ``c_n``
for the LSTM) to the decoder unchanged; encoder and decoder have the same
``num_layers`` and ``hidden_size``.  A bidirectional encoder's two directions
are concatenated per layer and mapped to the decoder's size by ``bridge_h``
(a ``Linear(2H, H)`` followed by ``tanh``, Bahdanau's :math:`s_0 = \tanh(W_s h)`)
and, for the LSTM cell state, ``bridge_c`` (a ``Linear(2H, H)`` without a
non-linearity).

Training.  ``logits = model(src, src_lengths, tgt_in)`` runs the decoder one
step at a time (the recurrent module is called once per step with ``T = 1``,
each call keeping its own cache), feeding the reference token ``tgt_in[:, t]``
(teacher forcing) or, with ``teacher_forcing_ratio < 1``, for each row with
probability ``1 - ratio``, the argmax of the previous step's logits (a choice
the gradient does not flow through).  ``model.backward(dlogits)`` walks the
steps in reverse, each submodule's backward consuming its newest cache, and
sends the gradient through the attention into the encoder outputs and through
the decoder's initial state (and the bridge) into the encoder's final state.
``model.train_step_loss(...)`` does forward, the cross entropy over the target
positions that are not padding, and backward in one call.  ``dropout`` (training
mode only) masks both embeddings' outputs, the output layer's input and the
activations between stacked recurrent layers; each mask is kept for the backward.

Inference.  :meth:`Seq2Seq.greedy` and :meth:`Seq2Seq.beam_search` run under
:class:`numrnn.no_grad` (see :mod:`numrnn.models.decoding`) and return token ids
and, with attention, the weights ``(target tokens, source tokens)`` for heatmaps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..backend import Array, to_numpy
from ..data.vocab import Vocab
from ..functional import (
    cross_entropy,
    tanh_backward,
    tanh_forward,
)
from ..functional.dropout import dropout_mask
from ..nn import (
    AdditiveAttention,
    DotAttention,
    Embedding,
    GeneralAttention,
    Linear,
    Module,
)
from ..nn.module import backend_pass
from ..nn.options import ModuleOptions, module_options
from ..nn.validate import check_array, peek_cache
from .recurrent import make_recurrent
from .translation import (
    Encoded,
    beam_hypotheses,
    check_batch,
    check_sizes,
    greedy_hypotheses,
    unpack_hypotheses,
    vocab_info,
)

if TYPE_CHECKING:
    from typing import Unpack  # Python 3.11+; the annotations are never evaluated

__all__ = ["Seq2Seq"]


class Seq2Seq(Module):
    r"""Recurrent encoder-decoder for translation (see the module docstring for the equations).

    Args:
        src_vocab, tgt_vocab: :class:`numrnn.data.Vocab` objects (their sizes and
            ``pad_id`` / ``bos_id`` / ``eos_id`` are used) or plain sizes.
        embed_size: ``E``, the size of both embeddings.
        hidden_size: ``H``, of every encoder and decoder layer.
        num_layers: layers of the encoder and of the decoder.
        cell: ``"gru"``, ``"lstm"``, ``"rnn"`` (or ``"rnn-relu"``).
        bidirectional_encoder: run the encoder both ways; its outputs have
            ``2H`` features and a bridge maps its final states to the decoder's.
        attention: None, ``"additive"`` (Bahdanau), ``"dot"`` or ``"general"`` (Luong's scores).
            ``"dot"`` needs the query and keys to have the same size, so not with
            a bidirectional encoder.
        attention_size: the hidden size of additive attention (default ``H``).
        dropout: inverted dropout, in training mode, on both embeddings' outputs, on the
            output layer's input :math:`[s_t; c_t]` and between stacked recurrent layers.
        src_pad_id, tgt_pad_id: padding ids (embedding rows without gradient;
            the target's is ignored by the loss).  Default: the vocabularies',
            else 0.
        bos_id, eos_id: target start / end ids for decoding; default: ``tgt_vocab``'s.

    Parameters, in ``named_parameters()`` order: ``src_embedding.weight``,
    ``encoder.*``, (``bridge_h.*``, ``bridge_c.*``), ``tgt_embedding.weight``,
    ``decoder.*``, (``attention.*``), ``out.weight``, ``out.bias``.

    Raises:
        ValueError / TypeError: a bad size, cell, attention name, or vocabulary.
    """

    def __init__(
        self,
        src_vocab: Vocab | int,
        tgt_vocab: Vocab | int,
        embed_size: int = 64,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "gru",
        bidirectional_encoder: bool = False,
        attention: str | None = None,
        attention_size: int | None = None,
        dropout: float = 0.0,
        src_pad_id: int | None = None,
        tgt_pad_id: int | None = None,
        bos_id: int | None = None,
        eos_id: int | None = None,
        **options: Unpack[ModuleOptions],
    ) -> None:
        """Check every option, then build the submodules (see the class docstring).

        Longer than 60 lines because the submodules must be created in this order,
        which is the order of ``state_dict()``, shared with the torch reference model.
        """
        super().__init__()
        src_size, s_pad, _, _ = vocab_info(src_vocab, "src_vocab")
        tgt_size, t_pad, t_bos, t_eos = vocab_info(tgt_vocab, "tgt_vocab")
        check_sizes(attention, embed_size, hidden_size, num_layers, bidirectional_encoder)
        H, E, dirs = int(hidden_size), int(embed_size), 2 if bidirectional_encoder else 1
        opts = module_options("Seq2Seq", options)
        dtype, rng = opts.dtype, opts.rng
        self.src_vocab_size, self.tgt_vocab_size = src_size, tgt_size
        self.src_pad_id = int(
            src_pad_id if src_pad_id is not None else (s_pad if s_pad is not None else 0)
        )
        self.tgt_pad_id = int(
            tgt_pad_id if tgt_pad_id is not None else (t_pad if t_pad is not None else 0)
        )
        self.bos_id = bos_id if bos_id is not None else t_bos
        self.eos_id = eos_id if eos_id is not None else t_eos
        self.embed_size, self.hidden_size, self.num_layers = E, H, int(num_layers)
        self.cell, self.attention_kind = str(cell).lower(), attention
        self.bidirectional_encoder = bool(bidirectional_encoder)
        self.context_size = dirs * H if attention else 0  # C: features of the encoder outputs

        self.src_embedding = Embedding(
            src_size, E, padding_idx=self.src_pad_id, dtype=dtype, rng=rng
        )
        self.encoder = make_recurrent(
            cell,
            E,
            H,
            num_layers,
            batch_first=True,
            dropout=dropout,
            bidirectional=self.bidirectional_encoder,
            dtype=dtype,
            rng=rng,
        )
        self._lstm = self.encoder.mode == "lstm"
        if self.bidirectional_encoder:
            self.bridge_h = Linear(2 * H, H, dtype=dtype, rng=rng)
            if self._lstm:
                self.bridge_c = Linear(2 * H, H, dtype=dtype, rng=rng)
        self.tgt_embedding = Embedding(
            tgt_size, E, padding_idx=self.tgt_pad_id, dtype=dtype, rng=rng
        )
        C = self.context_size
        self.decoder = make_recurrent(
            cell, E + C, H, num_layers, dropout=dropout, dtype=dtype, rng=rng
        )
        if attention == "additive":
            self.attention = AdditiveAttention(H, C, attention_size or H, dtype=dtype, rng=rng)
        elif attention == "dot":
            self.attention = DotAttention(dtype=dtype)
        elif attention == "general":
            self.attention = GeneralAttention(H, C, dtype=dtype, rng=rng)
        self.out = Linear(H + C, tgt_size, dtype=dtype, rng=rng)
        self.dropout = float(dropout)
        self._tf_rng = np.random.default_rng(rng.integers(2**63))
        self._dropout_rng = np.random.default_rng(rng.integers(2**63))
        self.decoder_inputs = None  # (B, T) ids the last forward fed the decoder
        self._init_backend(opts)

    # -- helpers ------------------------------------------------------------------
    def _idx(self, idx):
        """An int64 index array in the module's backend (NumPy stays NumPy)."""
        return idx if self._ops.name == "numpy" else self._ops.asarray(idx)

    def _dropout_mask(self, x):
        """Inverted-dropout mask like ``x`` (0 with probability p, else 1/(1-p)), or None when off."""
        p = self.dropout
        if not (self.training and p > 0):
            return None
        mask = dropout_mask(self._dropout_rng, tuple(x.shape), p, self.out.param_dtype)
        return self._ops.asarray(mask)

    @staticmethod
    def _top(state):
        """The top layer's hidden state ``(B, H)``."""
        return (state[0] if isinstance(state, tuple) else state)[-1]

    # -- encoder --------------------------------------------------------------------
    def _encode(self, src, lengths):
        """Run the encoder and the bridge; returns ``(Encoded, cache)``."""
        xp = self._ops
        e = self.src_embedding(src)  # (B, S, E)
        emask = self._dropout_mask(e)
        if emask is not None:
            e = e * emask
        outputs, final = self.encoder(e, lengths=lengths)  # (B, S, D*H); (L*D, B, H) [x2 for LSTM]
        bridge_cache = None
        if self.bidirectional_encoder:
            finals = final if isinstance(final, tuple) else (final,)
            joined = [
                xp.concatenate([f[0::2], f[1::2]], axis=-1) for f in finals
            ]  # each (L, B, 2H)
            h0, tanh_cache = tanh_forward(self.bridge_h(joined[0]))  # (L, B, H)
            state = (h0, self.bridge_c(joined[1])) if self._lstm else h0
            bridge_cache = tanh_cache
        else:
            state = final
        mask = keys_proj = None
        if self.attention_kind:
            mask = np.arange(src.shape[1])[None, :] < lengths[:, None]  # (B, S)
            if self.attention_kind == "additive":
                keys_proj = self.attention.project_keys(outputs)  # (B, S, A), once for all steps
        else:
            outputs = None
        enc_shape = (
            src.shape[0],
            src.shape[1],
            self.encoder.output_size * self.encoder.num_directions,
        )
        cache = (enc_shape, bridge_cache, keys_proj is not None, emask)
        return Encoded(outputs, mask, keys_proj, state), cache

    def _encode_backward(self, dstate0, doutputs, dkeys_proj, cache):
        """Gradients from the decoder's initial state and the attention into the encoder.

        ``doutputs`` ``(B, S, C)`` (or None) is the gradient of the encoder
        outputs as keys and values, ``dkeys_proj`` ``(B, S, A)`` (or None) that of
        additive attention's key projection, summed over the decoder steps.
        """
        xp = self._ops
        enc_shape, bridge_cache, projected, emask = cache
        if projected:  # one product for all the steps' key-projection gradients
            dkeys = self.attention.project_keys_backward(dkeys_proj)
            doutputs = dkeys if doutputs is None else doutputs + dkeys
        if doutputs is None:
            doutputs = xp.zeros(
                enc_shape, like=self.out.weight.data
            )  # outputs unused without attention
        if self.bidirectional_encoder:
            parts = dstate0 if isinstance(dstate0, tuple) else (dstate0,)
            djoined = [
                self.bridge_h.backward(tanh_backward(parts[0], bridge_cache)[0])
            ]  # (L, B, 2H)
            if self._lstm:
                djoined.append(self.bridge_c.backward(parts[1]))
            H = self.hidden_size
            dfinal = []
            for dj in djoined:
                d = xp.zeros(
                    (2 * dj.shape[0],) + tuple(dj.shape[1:-1]) + (H,), like=dj
                )  # (2L, B, H)
                d[0::2] = dj[..., :H]
                d[1::2] = dj[..., H:]
                dfinal.append(d)
            dstate0 = tuple(dfinal) if self._lstm else dfinal[0]
        de, _ = self.encoder.backward(doutputs, dstate0)  # (B, S, E)
        self.src_embedding.backward(de if emask is None else de * emask)

    # -- one decoder step ---------------------------------------------------------------
    def _step(self, tokens, state, enc, caches=None):
        """One decoder step for ids ``tokens`` ``(B,)``: returns ``(logits (B, V), state, weights)``.

        Submodules keep their caches (when gradients are on); what the model
        itself needs for the step's backward (the additive attention's functional
        cache, the dropout masks) is appended to ``caches`` when given.
        """
        xp = self._ops
        e = self.tgt_embedding(tokens)  # (B, E)
        emask = self._dropout_mask(e)
        if emask is not None:
            e = e * emask
        weights = ctx = None
        if self.attention_kind:
            query = self._top(state)  # (B, H): the previous top-layer state
            if self.attention_kind == "additive":
                ctx, weights = self.attention.step(query, enc.keys_proj, enc.outputs, enc.mask)
            else:
                ctx, weights = self.attention(query, enc.outputs, enc.outputs, mask=enc.mask)
            x = xp.concatenate([e, ctx], axis=-1)  # (B, E + C)
        else:
            x = e
        out, state = self.decoder(x[None], state)  # (1, B, H)
        feat = out[0] if ctx is None else xp.concatenate([out[0], ctx], axis=-1)  # (B, H [+ C])
        fmask = self._dropout_mask(feat)
        if fmask is not None:
            feat = feat * fmask
        if caches is not None:
            caches.append((emask, fmask))
        return self.out(feat), state, weights

    # -- training -------------------------------------------------------------------
    @backend_pass
    def forward(
        self,
        src: np.ndarray,
        src_lengths,
        tgt_in: np.ndarray,
        teacher_forcing_ratio: float = 1.0,
        rng: np.random.Generator | None = None,
    ) -> Array:
        """Decoder logits ``(B, T, V)`` for the decoder inputs ``tgt_in`` ``(B, T)``.

        Args:
            src: ``(B, S)`` source ids, padded (batch first).
            src_lengths: ``(B,)`` true source lengths, each in ``[1, S]``.
            tgt_in: ``(B, T)`` decoder inputs: ``<bos>`` then the target shifted
                right, padded; the loss targets are the target followed by ``<eos>``.
            teacher_forcing_ratio: probability, per row and step ``t >= 1``, of
                feeding ``tgt_in[:, t]``; otherwise the previous step's argmax is fed.
            rng: a ``numpy.random.Generator`` for those choices (default: the model's own).

        The ids actually fed are kept in ``self.decoder_inputs``.

        Raises:
            ValueError: bad shapes, lengths, ids or ratio (before any state changes).
        """
        src, lengths, tgt_in = check_batch(self, src, src_lengths, tgt_in)
        if not 0.0 <= float(teacher_forcing_ratio) <= 1.0:
            raise ValueError(
                f"Seq2Seq: teacher_forcing_ratio must be in [0, 1]; got {teacher_forcing_ratio!r}"
            )
        B, T = tgt_in.shape
        force = None
        if teacher_forcing_ratio < 1.0:
            gen = rng if rng is not None else self._tf_rng
            force = gen.random((B, T)) < teacher_forcing_ratio  # (B, T)
        xp = self._ops
        enc, enc_cache = self._encode(src, lengths)
        state, step_caches, steps, fed = enc.state, [], [], np.empty_like(tgt_in)
        for t in range(T):
            tokens = tgt_in[:, t]
            if force is not None and t > 0 and not force[:, t].all():
                guess = np.argmax(to_numpy(steps[-1]), axis=-1)
                tokens = np.where(force[:, t], tokens, guess)
            fed[:, t] = tokens
            logits, state, _ = self._step(tokens, state, enc, step_caches)
            steps.append(logits)
        self.decoder_inputs = fed
        logits = xp.stack(steps, axis=1)  # (B, T, V)
        self._push_cache((enc_cache, step_caches, tuple(logits.shape), isinstance(state, tuple)))
        return logits

    @backend_pass
    def backward(self, dlogits: Array) -> None:
        """Back-propagate ``dlogits`` ``(B, T, V)`` through every step, the attention and the encoder.

        Parameter gradients accumulate into ``.grad``; returns None (the inputs are ids).

        Raises:
            RuntimeError / TypeError / ValueError: those of :meth:`Module.backward`, for
                ``dlogits``.
        """
        check_array(self, "dlogits", dlogits, shape=peek_cache(self)[2])
        enc_cache, step_caches, shape, is_tuple = self._pop_cache()
        xp = self._ops
        T = shape[1]
        H, E, C = self.hidden_size, self.embed_size, self.context_size
        dlogits = xp.copy(dlogits.swapaxes(0, 1))  # (T, B, V), each step's slice contiguous
        dstate = None  # gradient of the decoder state after step t (from step t + 1)
        doutputs = dkeys_proj = None
        for t in reversed(range(T)):
            emask, fmask = step_caches.pop()
            dfeat = self.out.backward(dlogits[t])  # (B, H + C)
            if fmask is not None:
                dfeat = dfeat * fmask
            dx, dstate = self.decoder.backward(dfeat[None, :, :H], dstate)  # (1, B, E + C)
            if C:
                dctx = dfeat[:, H:] + dx[0, :, E:]  # (B, C): through the output layer and the input
                if self.attention_kind == "additive":
                    dq, dkp, dv = self.attention.step_backward(dctx)
                    dkeys_proj = dkp if dkeys_proj is None else dkeys_proj + dkp
                    doutputs = dv if doutputs is None else doutputs + dv
                else:
                    dq, dk, dv = self.attention.backward(dctx)
                    doutputs = dk + dv if doutputs is None else doutputs + dk + dv
                dh = dstate[0] if is_tuple else dstate
                dh[-1] = dh[-1] + dq  # the query was the previous top-layer state
            de = dx[0, :, :E]
            self.tgt_embedding.backward(de if emask is None else de * emask)
        self._encode_backward(dstate, doutputs, dkeys_proj, enc_cache)

    def train_step_loss(
        self,
        src,
        src_lengths,
        tgt_in,
        tgt_out,
        teacher_forcing_ratio=1.0,
        rng=None,
        label_smoothing=0.0,
    ):
        """Forward, mean cross entropy over the non-padding targets, and backward, in one call.

        ``tgt_out`` ``(B, T)`` holds the targets (positions equal to ``tgt_pad_id``
        are ignored).  Gradients accumulate into ``.grad`` (call ``zero_grad()``
        first).  Returns the loss as a Python float.

        Raises:
            ValueError: ``tgt_out``'s shape differs from ``tgt_in``'s, or as :meth:`forward`.
        """
        tgt_out = np.asarray(to_numpy(tgt_out))
        if tgt_out.shape != np.shape(to_numpy(tgt_in)):
            raise ValueError(
                f"Seq2Seq: tgt_out must have tgt_in's shape {np.shape(to_numpy(tgt_in))}; "
                f"got {tgt_out.shape}"
            )
        logits = self.forward(src, src_lengths, tgt_in, teacher_forcing_ratio, rng)
        B, T, V = logits.shape
        target = tgt_out.reshape(-1).astype(np.int64)
        if self._ops.name != "numpy":
            target = self._ops.asarray(target)
        loss, dlogits = cross_entropy(
            logits.reshape(B * T, V),
            target,
            ignore_index=self.tgt_pad_id,
            label_smoothing=label_smoothing,
        )
        self.backward(dlogits.reshape(B, T, V))
        return float(to_numpy(loss))

    # -- inference ------------------------------------------------------------------
    def greedy(self, src, src_lengths, max_len=50, return_hypotheses=False):
        """Greedy decoding of a batch.

        Returns:
            ``(tokens, attention)``: a list of ``B`` lists of target ids (without
            ``<eos>``) and a list of ``B`` arrays ``(len(tokens[b]), src_lengths[b])``
            of attention weights (None without attention).  With
            ``return_hypotheses`` the :class:`~numrnn.models.decoding.Hypothesis`
            list instead (scores included).
        """
        hyps = greedy_hypotheses(self, src, src_lengths, max_len)
        return hyps if return_hypotheses else unpack_hypotheses(hyps, src_lengths)

    def beam_search(
        self, src, src_lengths, beam_width=4, max_len=50, alpha=0.0, return_hypotheses=False
    ):
        """Beam search for every row of a batch (one beam per row).

        See :func:`~numrnn.models.decoding.beam_search`.

        ``alpha`` is the length-normalisation exponent (``score = log p / len**alpha``).
        Returns the best hypothesis per row, as :meth:`greedy` does.
        """
        hyps = beam_hypotheses(self, src, src_lengths, beam_width, max_len, alpha)
        return hyps if return_hypotheses else unpack_hypotheses(hyps, src_lengths)

    def extra_repr(self):
        return (
            f"cell={self.cell!r}, num_layers={self.num_layers}, bidirectional_encoder="
            f"{self.bidirectional_encoder}, attention={self.attention_kind!r}"
        )
