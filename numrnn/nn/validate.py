"""Input checks shared by the modules: clear errors, raised before any state changes."""

from __future__ import annotations

import numpy as np

from ..backend import is_torch_tensor, to_numpy
from .module import is_grad_enabled

__all__ = [
    "check_array",
    "check_index",
    "check_lengths",
    "check_padding_idx",
    "check_probability",
    "check_size",
    "peek_cache",
    "private",
    "shape_str",
]


def shape_str(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def check_array(module, name, x, *, ndim=None, min_ndim=None, last_dim=None, shape=None):
    """Check that ``x`` is a float array of the module's backend and dtype.

    Raises:
        TypeError: ``x`` is not an array of the module's backend, or its dtype is
            not the module's (float32 by default); nothing is converted silently.
        ValueError: the rank, the last dimension or the whole shape is not the expected one.
    """
    owner = type(module).__name__
    xp = module._ops
    if not xp.is_array(x):
        kind = "torch.Tensor" if xp.name == "torch" else "numpy.ndarray"
        hint = ""
        if is_torch_tensor(x) or isinstance(x, np.ndarray):
            hint = f" (this module uses backend={xp.name!r}; convert the input or move the module with .to())"
        raise TypeError(f"{owner}: {name} must be a {kind}; got {type(x).__name__}{hint}")
    if xp.name == "torch" and x.device != xp.device:
        raise TypeError(f"{owner}: {name} is on device {x.device}; the module is on {xp.device}")
    dt = xp.numpy_dtype(x)
    want = module.param_dtype
    if dt.kind != "f":
        raise TypeError(
            f"{owner}: {name} must be a floating-point array of dtype {want}; got dtype {dt}"
        )
    if dt != want:
        raise TypeError(
            f"{owner}: {name} has dtype {dt} but the module's parameters are {want}; "
            f"convert with .astype({want.name}) (nothing is cast silently)"
        )
    if ndim is not None and x.ndim not in (ndim if isinstance(ndim, tuple) else (ndim,)):
        raise ValueError(f"{owner}: {name} must be {ndim}-D; got shape {shape_str(x.shape)}")
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(
            f"{owner}: {name} must have at least {min_ndim} dimension(s); got shape {shape_str(x.shape)}"
        )
    if last_dim is not None and x.shape[-1] != last_dim:
        raise ValueError(
            f"{owner}: {name} must have {last_dim} features in its last dimension; "
            f"got shape {shape_str(x.shape)}"
        )
    if shape is not None and tuple(x.shape) != tuple(shape):
        raise ValueError(
            f"{owner}: {name} must have shape {shape_str(shape)}; got {shape_str(x.shape)}"
        )
    return x


def check_index(module, name, index, num_embeddings):
    """Check an integer index array and return it in the module's backend."""
    owner = type(module).__name__
    xp = module._ops
    arr = (
        to_numpy(index)
        if (is_torch_tensor(index) or isinstance(index, np.ndarray))
        else np.asarray(index)
    )
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{owner}: {name} must be an integer array; got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= num_embeddings):
        raise ValueError(
            f"{owner}: {name} values must be in [0, {num_embeddings}); got min {arr.min()}, max {arr.max()}"
        )
    if xp.name == "numpy":
        return arr
    return xp.asarray(arr.astype(np.int64))


def check_size(owner, name, value, low=1):
    """Return ``value`` as an ``int`` if it is an integer ``>= low``; every constructor uses this.

    Only Python and NumPy integers are sizes: ``2.7``, ``3.0``, ``"3"`` and
    ``True`` are refused rather than converted, so ``Linear(2.7, 3)`` cannot
    quietly become ``Linear(2, 3)``.

    Raises:
        TypeError: ``value`` is not an integer (a bool, a float, a string, ...).
        ValueError: ``value`` is smaller than ``low``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{owner}: {name} must be an integer >= {low}; got {value!r} ({type(value).__name__})"
        )
    if value < low:
        raise ValueError(f"{owner}: {name} must be an integer >= {low}; got {value!r}")
    return int(value)


def check_padding_idx(owner, padding_idx, num_embeddings):
    """Return ``padding_idx`` as a row index in ``[0, num_embeddings)``, or None.

    As in PyTorch, a negative ``padding_idx`` counts from the end:
    ``-1`` is the last row.

    Raises:
        TypeError: ``padding_idx`` is neither None nor an integer.
        ValueError: ``padding_idx`` is outside ``[-num_embeddings, num_embeddings)``.
    """
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
        raise TypeError(
            f"{owner}: padding_idx must be None or an integer; got {padding_idx!r} "
            f"({type(padding_idx).__name__})"
        )
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(
            f"{owner}: padding_idx must be in [-{num_embeddings}, {num_embeddings}); "
            f"got {padding_idx}"
        )
    return int(padding_idx) % num_embeddings


def check_probability(owner, name, value):
    """Return ``value`` as a float in ``[0, 1]`` (a dropout probability).

    Raises:
        TypeError: ``value`` is not a real number (a bool or a string, say).
        ValueError: ``value`` is NaN or outside ``[0, 1]``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: {name} must be a number in [0, 1]; got {value!r}")
    if not 0 <= value <= 1:
        raise ValueError(f"{owner}: {name} must be a number in [0, 1]; got {value!r}")
    return float(value)


def peek_cache(module):
    """The newest pending forward's cache, left in place.

    A backward checks its upstream gradient against this cache and pops it
    only once the gradient is accepted, so a refused call changes nothing.

    Raises:
        RuntimeError: no forward is pending.
    """
    if not module._caches:
        module._pop_cache()  # raises the common "no pending forward" error
    return module._caches[-1]


def private(module, x):
    """A copy of ``x`` for a forward that keeps it for the backward, else ``x`` itself.

    Forward inputs that the cache keeps, and forward outputs that are (views
    of) cached arrays, are copied while gradients are recorded: the caller may
    then edit its own arrays in place (``out *= 0.5``) without changing the
    gradients of the pending backward.  Inside ``numrnn.no_grad()`` nothing is
    cached and nothing is copied.
    """
    if x is None or not is_grad_enabled():
        return x
    return module._ops.copy(x)


def check_lengths(module, lengths, T, B, batched):
    """Return ``lengths`` as an ``int64`` array of ``B`` values in ``[1, T]``, or None.

    Raises:
        TypeError: ``lengths`` is not a 1-D sequence of integers.
        ValueError: the input is unbatched, there is not one length per batch row,
            or a length is outside ``[1, T]``.
    """
    if lengths is None:
        return None
    name = type(module).__name__
    if not batched:
        raise ValueError(
            f"{name}: lengths needs a batched (3-D) input; got a 2-D (unbatched) input"
        )
    arr = to_numpy(lengths) if not isinstance(lengths, (list, tuple)) else np.asarray(lengths)
    if arr.dtype.kind not in "iu" or arr.ndim != 1:
        raise TypeError(
            f"{name}: lengths must be a 1-D sequence of integers; got dtype {arr.dtype}, "
            f"shape {shape_str(arr.shape)}"
        )
    if arr.shape[0] != B:
        raise ValueError(
            f"{name}: lengths must have one entry per batch row ({B}); got {arr.shape[0]}"
        )
    if arr.min() < 1 or arr.max() > T:
        raise ValueError(
            f"{name}: every length must be in [1, {T}] (the sequence length); "
            f"got min {arr.min()}, max {arr.max()}"
        )
    return arr.astype(np.int64)
