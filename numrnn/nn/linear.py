"""``Linear`` and ``Embedding`` modules over the functional pairs in :mod:`numrnn.functional.linear`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..backend import Array
from ..functional.linear import (
    embedding_backward,
    embedding_forward,
    linear_backward,
    linear_forward,
)
from .module import Module, Parameter, backend_pass, uniform_parameter
from .options import ModuleOptions, module_options
from .validate import (
    check_array,
    check_index,
    check_padding_idx,
    check_size,
    peek_cache,
    private,
)

if TYPE_CHECKING:
    from typing import Unpack  # Python 3.11+; the annotations are never evaluated

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
        **options: Unpack[ModuleOptions],
    ) -> None:
        super().__init__()
        opts = module_options("Linear", options)
        self.in_features = check_size("Linear", "in_features", in_features)
        self.out_features = check_size("Linear", "out_features", out_features)
        fan_in, rng, dtype = self.in_features, opts.rng, opts.dtype
        self.weight = uniform_parameter(rng, fan_in, (self.out_features, fan_in), dtype)
        self.bias = uniform_parameter(rng, fan_in, (self.out_features,), dtype) if bias else None
        self._init_backend(opts)

    @backend_pass
    def forward(self, x: Array) -> Array:
        """``y = x W^T + b`` for ``x`` ``(..., in_features)``; the cache keeps a copy of ``x``.

        Raises:
            TypeError: ``x`` is not an array of the module's backend and dtype.
            ValueError: ``x`` is 0-d or its last dimension is not ``in_features``.
        """
        check_array(self, "x", x, min_ndim=1, last_dim=self.in_features)
        bias = self.bias.data if self.bias is not None else None
        y, cache = linear_forward(private(self, x), self.weight.data, bias)
        self._push_cache(cache)
        return y

    @backend_pass
    def backward(self, dy: Array) -> Array:
        r"""``dx`` for ``dy`` ``(..., out_features)``, accumulating the parameter gradients.

        With the leading axes of ``x`` and ``dy`` flattened into one of ``N`` rows:

        .. math::
            dx = dy\, W \quad (N, \text{in}), \qquad
            dW \mathrel{+}= dy^\top x \quad (\text{out}, \text{in}), \qquad
            db \mathrel{+}= \textstyle\sum_n dy_n \quad (\text{out},)

        Raises:
            RuntimeError / TypeError / ValueError: those of :meth:`Module.backward`, for ``dy``.
        """
        x = peek_cache(self)[0]
        expected = tuple(x.shape[:-1]) + (self.out_features,)
        check_array(self, "dy", dy, shape=expected)
        dx, dw, db = linear_backward(dy, self._pop_cache())
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
        **options: Unpack[ModuleOptions],
    ) -> None:
        super().__init__()
        opts = module_options("Embedding", options)
        self.num_embeddings = check_size("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = check_size("Embedding", "embedding_dim", embedding_dim)
        padding_idx = check_padding_idx("Embedding", padding_idx, self.num_embeddings)
        self.padding_idx = padding_idx
        w = opts.rng.standard_normal((self.num_embeddings, self.embedding_dim)).astype(opts.dtype)
        if padding_idx is not None:
            w[padding_idx] = 0
        self.weight = Parameter(w)
        self._init_backend(opts)

    @backend_pass
    def forward(self, index: np.ndarray) -> Array:
        """Rows ``W[index]``, shape ``index.shape + (embedding_dim,)``; the cache keeps a copy of ``index``.

        Raises:
            TypeError: ``index`` is not an integer array.
            ValueError: an index is outside ``[0, num_embeddings)``.
        """
        index = check_index(self, "index", index, self.num_embeddings)
        e, cache = embedding_forward(private(self, index), self.weight.data, self.padding_idx)
        self._push_cache(cache)
        return e

    @backend_pass
    def backward(self, de: Array) -> None:
        r"""Scatter-add ``de`` ``index.shape + (embedding_dim,)`` into ``weight.grad``; returns None.

        :math:`dW_k \mathrel{+}= \sum_{n:\, \text{index}_n = k} de_n` for every row ``k``
        except ``padding_idx`` (a scatter-add: an index used twice receives both rows).
        The integer index has no gradient, hence None.

        Raises:
            RuntimeError / TypeError / ValueError: those of :meth:`Module.backward`, for ``de``.
        """
        index = peek_cache(self)[0]
        check_array(self, "de", de, shape=tuple(index.shape) + (self.embedding_dim,))
        cache = self._pop_cache()
        _, dweight = embedding_backward(de, cache)
        self.weight.grad += dweight
        return None

    def extra_repr(self):
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
