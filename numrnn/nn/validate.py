"""Input checks shared by the modules: clear errors, raised before any state changes."""

from __future__ import annotations

import numpy as np

from ..backend import is_torch_tensor, to_numpy

__all__ = ["check_array", "check_index", "shape_str"]


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
