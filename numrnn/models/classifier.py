"""Sequence classifier: embedding -> (bidirectional) recurrent layers -> final states -> linear."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..backend import Array
from ..nn import Embedding, Linear, Module
from ..nn.module import backend_pass
from ..nn.options import ModuleOptions, module_options
from ..nn.validate import check_array, check_size, peek_cache
from .recurrent import make_recurrent

if TYPE_CHECKING:
    from typing import Unpack  # Python 3.11+; the annotations are never evaluated

__all__ = ["SequenceClassifier"]


class SequenceClassifier(Module):
    r"""Classifies a padded batch of token sequences from the recurrent layers' final states.

    .. math::  e = E[x], \quad (h_n^{\rightarrow}, h_n^{\leftarrow}) = \mathrm{RNN}(e, \text{lengths}),
               \quad z = [h_n^{\rightarrow}; h_n^{\leftarrow}] W^\top + b

    ``logits = model(idx, lengths)`` with ``idx`` ``(B, T)`` (batch first, padded
    with ``padding_idx``) and ``lengths`` ``(B,)``; the final states are each row's
    state at its own last token (forward) and at its first token (reverse), so the
    padding never reaches the classifier.  ``model.backward(dlogits)`` sends the
    gradient into the last layer's final states and back through time.
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        embed_size: int = 64,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = False,
        dropout: float = 0.0,
        padding_idx: int | None = 0,
        **options: Unpack[ModuleOptions],
    ) -> None:
        super().__init__()
        opts = module_options("SequenceClassifier", options)
        dtype, rng = opts.dtype, opts.rng
        for arg, value in (
            ("vocab_size", vocab_size),
            ("embed_size", embed_size),
            ("hidden_size", hidden_size),
        ):
            check_size("SequenceClassifier", arg, value)  # named as the caller wrote them
        self.num_classes = check_size("SequenceClassifier", "num_classes", num_classes)
        self.embedding = Embedding(
            vocab_size, embed_size, padding_idx=padding_idx, dtype=dtype, rng=rng
        )
        self.rnn = make_recurrent(
            cell,
            embed_size,
            hidden_size,
            num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout,
            dtype=dtype,
            rng=rng,
        )
        dirs = 2 if bidirectional else 1
        self.head = Linear(hidden_size * dirs, num_classes, dtype=dtype, rng=rng)
        self._init_backend(opts)

    def _final_hidden(self, state):
        return state[0] if isinstance(state, tuple) else state  # (L*D, B, H)

    @backend_pass
    def forward(self, idx: np.ndarray, lengths=None) -> Array:
        e = self.embedding(idx)  # (B, T, E)
        out, state = self.rnn(e, lengths=lengths)
        hn = self._final_hidden(state)
        dirs = self.rnn.num_directions
        last = hn[-dirs:]  # the last layer's directions, (D, B, H)
        feats = (
            last[0] if dirs == 1 else self._ops.concatenate([last[0], last[1]], axis=-1)
        )  # (B, D*H)
        self._push_cache((tuple(out.shape), state))
        return self.head(feats)  # (B, C)

    @backend_pass
    def backward(self, dlogits: Array) -> None:
        """Back-propagate ``dlogits`` ``(B, num_classes)``; returns None.

        Raises:
            RuntimeError / TypeError / ValueError: those of :meth:`Module.backward`, for
                ``dlogits``.
        """
        out_shape = peek_cache(self)[0]  # (B, T, D*H), batch first
        check_array(self, "dlogits", dlogits, shape=(out_shape[0], self.num_classes))
        out_shape, state = self._pop_cache()
        xp = self._ops
        dfeats = self.head.backward(dlogits)  # (B, D*H)
        dirs, H = self.rnn.num_directions, self.rnn.hidden_size
        dstate = (
            tuple(xp.zeros_like(s) for s in state)
            if isinstance(state, tuple)
            else xp.zeros_like(state)
        )
        dhn = dstate[0] if isinstance(dstate, tuple) else dstate
        for d in range(dirs):
            dhn[dhn.shape[0] - dirs + d] = dfeats[:, d * H : (d + 1) * H]
        dout = xp.zeros(out_shape, like=dfeats)  # the outputs themselves are not used
        de, _ = self.rnn.backward(dout, dstate)
        self.embedding.backward(de)

    def predict_proba(self, idx, lengths=None):
        """Class probabilities ``(B, C)`` without keeping a cache."""
        from ..functional import softmax
        from ..nn import no_grad

        with no_grad():
            return softmax(self(idx, lengths))
