"""Character-level language model: embedding -> recurrent layers -> linear read-out."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..backend import Array, to_numpy
from ..functional import softmax
from ..nn import Embedding, Linear, Module, no_grad
from ..nn.module import backend_pass, eval_mode, make_rng
from ..nn.options import ModuleOptions, module_options
from ..nn.validate import check_array, check_size, peek_cache
from .recurrent import make_recurrent

if TYPE_CHECKING:
    from typing import Unpack  # Python 3.11+; the annotations are never evaluated

__all__ = ["CharLM"]


class CharLM(Module):
    r"""Predicts the next token of every position: :math:`p(x_{t+1} \mid x_{\le t})`.

    .. math::  e_t = E[x_t], \quad h_t = \mathrm{RNN}(e_t, h_{t-1}), \quad z_t = h_t W^\top + b

    ``logits, state = model(idx, state=None)`` with ``idx`` ``(T, B)`` integers
    (time-major) returns ``logits`` ``(T, B, V)`` and the final recurrent state,
    which the next chunk of a truncated-BPTT stream takes as its initial state.
    ``model.backward(dlogits)`` back-propagates through the chunk only: the
    gradient is not sent into the previous chunk (that is the truncation).
    """

    def __init__(
        self,
        vocab_size: int,
        embed_size: int = 64,
        hidden_size: int = 256,
        num_layers: int = 1,
        cell: str = "lstm",
        dropout: float = 0.0,
        **options: Unpack[ModuleOptions],
    ) -> None:
        super().__init__()
        opts = module_options("CharLM", options)
        dtype, rng = opts.dtype, opts.rng
        for arg, value in (("embed_size", embed_size), ("hidden_size", hidden_size)):
            check_size("CharLM", arg, value)  # named as the caller wrote them
        self.vocab_size, self.cell = check_size("CharLM", "vocab_size", vocab_size), str(cell)
        self.embedding = Embedding(vocab_size, embed_size, dtype=dtype, rng=rng)
        self.rnn = make_recurrent(
            cell, embed_size, hidden_size, num_layers, dropout=dropout, dtype=dtype, rng=rng
        )
        self.head = Linear(hidden_size, vocab_size, dtype=dtype, rng=rng)
        self._init_backend(opts)

    @backend_pass
    def forward(self, idx: np.ndarray, state: Array | tuple | None = None) -> tuple:
        e = self.embedding(idx)  # (T, B, E)
        out, state = self.rnn(e, state)  # (T, B, H)
        return self.head(out), state  # (T, B, V)

    @backend_pass
    def backward(self, dlogits: Array) -> None:
        """Back-propagate ``dlogits`` ``(T, B, V)`` through the chunk; returns None.

        Raises:
            RuntimeError / TypeError / ValueError: those of :meth:`Module.backward`, for
                ``dlogits``.
        """
        x = peek_cache(self.head)[0]  # the head's input, (T, B, H)
        check_array(self, "dlogits", dlogits, shape=tuple(x.shape[:-1]) + (self.vocab_size,))
        dout = self.head.backward(dlogits)  # (T, B, H)
        de, _ = self.rnn.backward(dout)  # gradient of the initial state is dropped: truncated BPTT
        self.embedding.backward(de)

    def sample(
        self,
        n: int,
        prime,
        temperature: float = 1.0,
        rng: np.random.Generator | None = None,
        top_k: int | None = None,
        on_token: Callable[[int], None] | None = None,
    ) -> list[int]:
        r"""Generate ``n`` token ids after the ids in ``prime`` (a non-empty sequence).

        Each next id is drawn from :math:`\mathrm{softmax}(z / \text{temperature})`;
        ``temperature -> 0`` approaches greedy decoding.  With ``top_k`` only the
        ``k`` largest logits keep their probability (the rest get :math:`z = -\infty`
        before the softmax; ids tied with the k-th largest are kept too).
        ``on_token(id)`` is called with every id as soon as it is drawn (to stream text).

        Returns:
            the list of the ``n`` generated ids.

        Raises:
            ValueError: an empty prime, ``temperature <= 0``, ``top_k`` not an int in
                ``[1, vocab_size]``, or ``n`` < 0.
        """
        if len(prime) == 0:
            raise ValueError("sample: prime must hold at least one token id")
        if not temperature > 0:
            raise ValueError(f"sample: temperature must be > 0; got {temperature}")
        if top_k is not None and (
            isinstance(top_k, bool)
            or not isinstance(top_k, (int, np.integer))
            or not 1 <= top_k <= self.vocab_size
        ):
            raise ValueError(
                f"sample: top_k must be an int in [1, {self.vocab_size}]; got {top_k!r}"
            )
        if int(n) < 0:
            raise ValueError(f"sample: n must be >= 0; got {n}")
        rng = make_rng(rng=rng)
        out = []
        with eval_mode(self), no_grad():
            logits, state = self(np.asarray(prime, dtype=np.int64)[:, None])
            for _ in range(int(n)):
                z = to_numpy(logits[-1, 0]).astype(np.float64)  # (V,)
                if top_k is not None:
                    z = np.where(z >= np.partition(z, -top_k)[-top_k], z, -np.inf)
                p = softmax(z / temperature)
                nxt = int(rng.choice(self.vocab_size, p=p / p.sum()))
                out.append(nxt)
                if on_token is not None:
                    on_token(nxt)
                logits, state = self(np.array([[nxt]], dtype=np.int64), state)
        return out
