"""The array namespace the kernels compute with.

Every forward and backward in :mod:`numrnn.kernels` and :mod:`numrnn.functional`
is written once, against a small set of array operations reached through
``ops(x)``: the namespace that matches the array ``x``.  NumPy's is the default; a
torch namespace (CPU or CUDA) exposes the same names over ``torch.Tensor``.  This
module, :mod:`numrnn.interop` (which converts modules to and from ``torch.nn``) and
:mod:`numrnn.distributed` (``torch.distributed``) are the only places in numrnn
that import torch, and only when a torch tensor or ``backend="torch"`` is
actually used.

Operator syntax (``a * b``, ``a + b``, ``a[t]``, ``a.T``, ``a.reshape``) means
the same on both kinds of array, so the kernels use it freely; everything whose
spelling differs between NumPy and torch (allocation, reductions, ``out=``
arguments, scatter-add, dtype handling) goes through the namespace.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

if TYPE_CHECKING:  # for the type hints only; never imported at run time
    import torch

__all__ = ["Array", "NumpyOps", "TorchOps", "get_backend", "is_torch_tensor", "ops", "to_numpy"]

#: What the type hints call an array: a NumPy array, or a torch tensor on the torch backend.
Array: TypeAlias = "np.ndarray | torch.Tensor"


def is_torch_tensor(x) -> bool:
    """True when ``x`` is a torch tensor (without importing torch if it is absent)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def to_numpy(x: Array) -> np.ndarray:
    """Return ``x`` as a NumPy array (torch tensors are detached and moved to CPU)."""
    if is_torch_tensor(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


class NumpyOps:
    """Array operations on NumPy arrays (the default backend)."""

    name = "numpy"
    device = "cpu"

    def __eq__(self, other):
        return isinstance(other, NumpyOps)

    def __hash__(self):
        return hash("numpy")

    # -- allocation and conversion ------------------------------------------------
    def asarray(self, x, dtype=None):
        if is_torch_tensor(x):
            x = x.detach().cpu().numpy()
        return np.asarray(x, dtype=dtype)

    def empty(self, shape, like):
        return np.empty(shape, dtype=like.dtype)

    def zeros(self, shape, like):
        return np.zeros(shape, dtype=like.dtype)

    def zeros_like(self, x):
        return np.zeros_like(x)

    def empty_like(self, x):
        return np.empty_like(x)

    def copy(self, x):
        return x.copy()

    def contiguous(self, x):
        """``x`` laid out row-major (a copy only if it is not already)."""
        return np.ascontiguousarray(x)

    def is_array(self, x):
        return isinstance(x, np.ndarray)

    def numpy_dtype(self, x):
        return x.dtype

    # -- elementwise --------------------------------------------------------------
    def tanh(self, x, out=None):
        return np.tanh(x, out=out)

    def sigmoid(self, x, out=None):
        """Stable logistic: ``0.5 * tanh(0.5 x) + 0.5`` never overflows."""
        out = np.multiply(x, 0.5, out=out)
        np.tanh(out, out=out)
        out *= 0.5
        out += 0.5
        return out

    def exp(self, x, out=None):
        return np.exp(x, out=out)

    def log(self, x, out=None):
        return np.log(x, out=out)

    def log1p(self, x):
        return np.log1p(x)

    def sqrt(self, x):
        return np.sqrt(x)

    def abs(self, x):
        return np.abs(x)

    def maximum(self, x, value, out=None):
        return np.maximum(x, value, out=out)

    def minimum(self, x, value, out=None):
        return np.minimum(x, value, out=out)

    def where(self, cond, a, b):
        return np.where(cond, a, b)

    def multiply(self, a, b, out=None):
        return np.multiply(a, b, out=out)

    def add(self, a, b, out=None):
        return np.add(a, b, out=out)

    def subtract(self, a, b, out=None):
        return np.subtract(a, b, out=out)

    # -- linear algebra and reductions -------------------------------------------
    def matmul(self, a, b, out=None):
        return np.matmul(a, b, out=out)

    def sum(self, x, axis=None, keepdims=False):
        return np.sum(x, axis=axis, keepdims=keepdims)

    def max(self, x, axis=None, keepdims=False):
        return np.max(x, axis=axis, keepdims=keepdims)

    def concatenate(self, arrays, axis=0):
        return np.concatenate(arrays, axis=axis)

    def stack(self, arrays, axis=0):
        return np.stack(arrays, axis=axis)

    def index_add(self, target, index, source):
        """``target[index[k]] += source[k]`` for every k, repeated indices summed."""
        np.add.at(target, index, source)
        return target

    def take(self, table, index):
        return table[index]

    def take_along_axis(self, x, index, axis):
        return np.take_along_axis(x, index, axis=axis)

    def add_along_axis(self, x, index, values, axis):
        """``x[..., index, ...] += values`` along ``axis`` (one index per position), in place."""
        np.put_along_axis(x, index, np.take_along_axis(x, index, axis=axis) + values, axis=axis)
        return x

    def fused(self, fn):
        """The kernel ``fn`` as it runs here: NumPy runs it as written."""
        return fn

    def running(self, fused=False):
        """Context for a module's forward or backward (nothing to set up for NumPy)."""
        return contextlib.nullcontext()


class TorchOps:
    """The same operations on torch tensors, on one device, never building a graph."""

    name = "torch"

    def __init__(self, device="cpu"):
        import torch  # the one import of torch in numrnn's kernels' path

        self.torch = torch
        self.device = torch.device(device)

    def __eq__(self, other):
        return isinstance(other, TorchOps) and other.device == self.device

    def __hash__(self):
        return hash(("torch", str(self.device)))

    def _dtype(self, dtype):
        if dtype is None:
            return None
        if isinstance(dtype, self.torch.dtype):
            return dtype
        return getattr(self.torch, np.dtype(dtype).name)

    def asarray(self, x, dtype=None):
        torch = self.torch
        if isinstance(x, torch.Tensor):
            return x.detach().to(device=self.device, dtype=self._dtype(dtype) or x.dtype)
        x = np.asarray(x, dtype=dtype)
        return torch.from_numpy(np.ascontiguousarray(x)).to(self.device)

    def empty(self, shape, like):
        return self.torch.empty(shape, dtype=like.dtype, device=like.device)

    def zeros(self, shape, like):
        return self.torch.zeros(shape, dtype=like.dtype, device=like.device)

    def zeros_like(self, x):
        return self.torch.zeros_like(x)

    def empty_like(self, x):
        return self.torch.empty_like(x)

    def copy(self, x):
        return x.clone()

    def contiguous(self, x):
        return x.contiguous()

    def is_array(self, x):
        return isinstance(x, self.torch.Tensor)

    def numpy_dtype(self, x):
        return np.dtype(str(x.dtype).replace("torch.", ""))

    def tanh(self, x, out=None):
        return self.torch.tanh(x, out=out)

    def sigmoid(self, x, out=None):
        out = self.torch.mul(x, 0.5, out=out)
        self.torch.tanh(out, out=out)
        out.mul_(0.5).add_(0.5)
        return out

    def exp(self, x, out=None):
        return self.torch.exp(x, out=out)

    def log(self, x, out=None):
        return self.torch.log(x, out=out)

    def log1p(self, x):
        return self.torch.log1p(x)

    def sqrt(self, x):
        return self.torch.sqrt(x)

    def abs(self, x):
        return self.torch.abs(x)

    def maximum(self, x, value, out=None):
        if not isinstance(value, self.torch.Tensor):
            return self.torch.clamp(x, min=value, out=out)
        return self.torch.maximum(x, value, out=out)

    def minimum(self, x, value, out=None):
        if not isinstance(value, self.torch.Tensor):
            return self.torch.clamp(x, max=value, out=out)
        return self.torch.minimum(x, value, out=out)

    def where(self, cond, a, b):
        return self.torch.where(cond, a, b)

    def multiply(self, a, b, out=None):
        return self.torch.mul(a, b, out=out)

    def add(self, a, b, out=None):
        return self.torch.add(a, b, out=out)

    def subtract(self, a, b, out=None):
        if not isinstance(a, self.torch.Tensor):  # scalar minus tensor
            return (
                self.torch.sub(self.torch.full_like(b, a), b, out=out)
                if out is None
                else self.torch.neg(b, out=out).add_(a)
            )
        return self.torch.sub(a, b, out=out)

    def matmul(self, a, b, out=None):
        return self.torch.matmul(a, b, out=out)

    def sum(self, x, axis=None, keepdims=False):
        if axis is None:
            return x.sum()
        return x.sum(dim=axis, keepdim=keepdims)

    def max(self, x, axis=None, keepdims=False):
        if axis is None:
            return x.max()
        return x.amax(dim=axis, keepdim=keepdims)

    def concatenate(self, arrays, axis=0):
        return self.torch.cat(list(arrays), dim=axis)

    def stack(self, arrays, axis=0):
        return self.torch.stack(list(arrays), dim=axis)

    def index_add(self, target, index, source):
        index = self.asarray(index).long().reshape(-1)
        target.index_add_(0, index, source.reshape(index.shape[0], *target.shape[1:]))
        return target

    def take(self, table, index):
        return table[self.asarray(index).long()]

    def take_along_axis(self, x, index, axis):
        return self.torch.gather(x, axis, self.asarray(index).long())

    def add_along_axis(self, x, index, values, axis):
        return x.scatter_add_(axis, self.asarray(index).long(), values)

    def fused(self, fn):
        """``fn`` compiled by ``torch.compile`` while a module with ``fused=True`` runs, else ``fn``.

        The pointwise kernels of a time step (gate activations, the local
        factors of the backward, one step of the recursion) are several small
        elementwise operations each; compiled, each becomes one fused loop (one
        kernel launch on a GPU instead of ten).  The math is the same function.
        """
        if not _FUSION[0]:
            return fn
        compiled = _COMPILED.get(fn)
        if compiled is None:
            compiled = _COMPILED[fn] = self.torch.compile(fn, dynamic=True)
        return compiled

    @contextlib.contextmanager
    def running(self, fused=False):
        """Context for a module's forward or backward: no autograd graph, kernels fused on request."""
        previous = _FUSION[0]
        _FUSION[0] = bool(fused)
        try:
            with self.torch.no_grad():
                yield
        finally:
            _FUSION[0] = previous


_NUMPY = NumpyOps()
_TORCH = {}
_FUSION = [False]  # True while a module built with fused=True runs (see TorchOps.fused)
_COMPILED = {}  # kernel function -> its torch.compile'd version


def import_torch(needed_by: str):
    """The ``torch`` module, imported on first use.

    Raises:
        ImportError: PyTorch is not installed; the message names ``needed_by``, the
            feature that asked for it (numrnn itself never needs torch).
    """
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(f"{needed_by} needs PyTorch: pip install torch==2.13.0") from err
    return torch


def get_backend(backend="numpy", device=None):
    """The namespace named by ``backend`` ("numpy" or "torch") on ``device``."""
    if backend == "numpy":
        if device not in (None, "cpu"):
            raise ValueError(f"backend='numpy' runs on device 'cpu' only; got device={device!r}")
        return _NUMPY
    if backend == "torch":
        torch = import_torch("backend='torch'")
        dev = torch.device(device or "cpu")
        key = str(dev)
        if key not in _TORCH:
            _TORCH[key] = TorchOps(dev)
        return _TORCH[key]
    raise ValueError(f"backend must be 'numpy' or 'torch'; got {backend!r}")


def ops(x):
    """The namespace for array ``x``: torch's for a tensor, NumPy's otherwise."""
    if type(x) is np.ndarray:  # the common case, decided without looking for torch
        return _NUMPY
    if is_torch_tensor(x):
        return get_backend("torch", x.device)
    return _NUMPY
