"""``Linear`` and ``Embedding`` modules over the functional pairs in :mod:`numrnn.functional.linear`."""

from __future__ import annotations

import math

import numpy as np

from ..backend import Array
from ..functional.linear import (
    embedding_backward,
    embedding_forward,
    linear_backward,
    linear_forward,
)
from .module import Module, Parameter, backend_pass, check_dtype, make_rng
from .validate import check_array, check_index

__all__ = ["Embedding", "Linear"]


class Linear(Module):
    r"""Affine layer :math:`y = x W^\top + b`, PyTorch's ``nn.Linear``.

    Parameters ``weight`` ``(out_features, in_features)`` and ``bias``
    ``(out_features,)``, both initialised uniform in :math:`\pm 1/\sqrt{\text{in\_features}}`.
    Input ``(..., in_features)``; output ``(..., out_features)``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        dtype: np.typing.DTypeLike = np.float32,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        backend: str = "numpy",
        device: str | None = None,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        if self.in_features < 1 or self.out_features < 1:
            raise ValueError(
                f"Linear: in_features and out_features must be >= 1; got {in_features}, {out_features}"
            )
        dtype = check_dtype(dtype)
        rng = make_rng(seed, rng)
        k = 1.0 / math.sqrt(self.in_features)
        self.weight = Parameter(
            rng.uniform(-k, k, (self.out_features, self.in_features)).astype(dtype)
        )
        if bias:
            self.bias = Parameter(rng.uniform(-k, k, (self.out_features,)).astype(dtype))
        else:
            self.bias = None
        self._init_backend(backend, device)

    @backend_pass
    def forward(self, x: Array) -> Array:
        check_array(self, "x", x, min_ndim=1, last_dim=self.in_features)
        bias = self.bias.data if self.bias is not None else None
        y, cache = linear_forward(x, self.weight.data, bias)
        self._push_cache(cache)
        return y

    @backend_pass
    def backward(self, dy: Array) -> Array:
        cache = self._pop_cache()
        x = cache[0]
        expected = tuple(x.shape[:-1]) + (self.out_features,)
        if tuple(dy.shape) != expected:
            self._push_cache(cache)
            raise ValueError(
                f"Linear.backward: dy must have shape {expected}; got {tuple(dy.shape)}"
            )
        dx, dw, db = linear_backward(dy, cache)
        self.weight.grad += dw
        if self.bias is not None:
            self.bias.grad += db
        return dx

    def extra_repr(self):
        bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={bias}"


class Embedding(Module):
    r"""Lookup table :math:`e = W[\text{index}]`, PyTorch's ``nn.Embedding``.

    ``weight`` ``(num_embeddings, embedding_dim)`` is initialised standard normal;
    the row ``padding_idx`` (if given) starts at zero and never receives gradient.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        *,
        dtype: np.typing.DTypeLike = np.float32,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        backend: str = "numpy",
        device: str | None = None,
    ) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if self.num_embeddings < 1 or self.embedding_dim < 1:
            raise ValueError(
                "Embedding: num_embeddings and embedding_dim must be >= 1; "
                f"got {num_embeddings}, {embedding_dim}"
            )
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx must be in [-{self.num_embeddings}, {self.num_embeddings}); "
                    f"got {padding_idx}"
                )
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        dtype = check_dtype(dtype)
        rng = make_rng(seed, rng)
        w = rng.standard_normal((self.num_embeddings, self.embedding_dim)).astype(dtype)
        if padding_idx is not None:
            w[padding_idx] = 0
        self.weight = Parameter(w)
        self._init_backend(backend, device)

    @backend_pass
    def forward(self, index: np.ndarray) -> Array:
        index = check_index(self, "index", index, self.num_embeddings)
        e, cache = embedding_forward(index, self.weight.data, self.padding_idx)
        self._push_cache(cache)
        return e

    @backend_pass
    def backward(self, de: Array) -> None:
        cache = self._pop_cache()
        expected = tuple(cache[0].shape) + (self.embedding_dim,)
        if tuple(de.shape) != expected:
            self._push_cache(cache)
            raise ValueError(
                f"Embedding.backward: de must have shape {expected}; got {tuple(de.shape)}"
            )
        _, dweight = embedding_backward(de, cache)
        self.weight.grad += dweight
        return None

    def extra_repr(self):
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
