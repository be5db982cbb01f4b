"""Parameters and gradients packed into flat buckets, one collective call per bucket."""

from __future__ import annotations

import time

import numpy as np

from ..backend import is_torch_tensor
from .group import _collective, _dist, _require_group

__all__ = ["DEFAULT_BUCKET_MB", "GradientBuckets", "broadcast_parameters", "unique_parameters"]

#: megabytes of gradient sent by one all_reduce call (PyTorch's DDP uses 25)
DEFAULT_BUCKET_MB = 25.0


def unique_parameters(parameters):
    """The parameters in order, each once: a parameter shared by two layers (tied
    weights) appears twice in ``model.parameters()`` but must be reduced once."""
    seen, out = set(), []
    for p in parameters:
        if id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


def _check_reducible(arrays, who):
    """Raise ``TypeError`` unless the process group's backend can reduce ``arrays``:
    NCCL reduces CUDA tensors only (gloo takes CPU arrays and tensors)."""
    if _dist().get_backend() != "nccl":
        return
    for x in arrays:
        if not (is_torch_tensor(x) and x.is_cuda):
            raise TypeError(
                f"{who}: the nccl backend reduces CUDA tensors only; build the model with "
                "backend='torch', device='cuda' (or use gloo for a model on the CPU)"
            )


def _as_tensor(x):
    """A torch tensor sharing ``x``'s memory (``torch.from_numpy`` for NumPy arrays)."""
    if is_torch_tensor(x):
        return x
    import torch

    return torch.from_numpy(x)


def _flat_buffer(like, n):
    """A zeroed 1-D buffer of ``n`` elements of ``like``'s kind, dtype and device."""
    if is_torch_tensor(like):
        import torch

        return torch.zeros(n, dtype=like.dtype, device=like.device)
    return np.zeros(n, dtype=like.dtype)


def _kind(x):
    """What must agree for two arrays to share a bucket: library, dtype, device."""
    if is_torch_tensor(x):
        return ("torch", str(x.dtype), str(x.device))
    return ("numpy", str(x.dtype), "cpu")


def _group_into_buckets(arrays, bucket_mb):
    """Indices of ``arrays`` grouped in order into buckets of at most ``bucket_mb`` MB
    of one kind each; an array larger than that gets a bucket of its own."""
    limit = bucket_mb * 2**20
    buckets, current, size, kind = [], [], 0, None
    for i, a in enumerate(arrays):
        nbytes = a.numel() * a.element_size() if is_torch_tensor(a) else a.nbytes
        if current and (_kind(a) != kind or size + nbytes > limit):
            buckets.append(current)
            current, size = [], 0
        current.append(i)
        size += nbytes
        kind = _kind(a)
    if current:
        buckets.append(current)
    return buckets


def broadcast_parameters(parameters, src=0, bucket_mb=DEFAULT_BUCKET_MB):
    """Copy rank ``src``'s parameter values into every rank's parameters, in place.

    Call it once before training so that every process starts from the same
    :math:`\\theta_0`.  Parameters are packed into buckets (as the gradients are
    in :class:`GradientBuckets`), one ``broadcast`` per bucket, and the values are
    written back into each ``Parameter.data`` in place.

    Raises:
        RuntimeError: no process group (see :func:`init_from_env`).
        ValueError: ``src`` is not a rank of the group.
        TypeError: the group's backend is nccl and a parameter is not a CUDA tensor.
        DistributedError: the broadcast failed (a peer died or timed out).
    """
    dist = _require_group("broadcast_parameters")
    world = dist.get_world_size()
    if isinstance(src, bool) or not isinstance(src, (int, np.integer)) or not 0 <= src < world:
        raise ValueError(f"broadcast_parameters: src must be a rank in [0, {world}); got {src!r}")
    params = unique_parameters(parameters)
    datas = [p.data for p in params]
    _check_reducible(datas, "broadcast_parameters")
    for k, idx in enumerate(_group_into_buckets(datas, bucket_mb)):
        sizes = [_numel(datas[i]) for i in idx]
        flat = _flat_buffer(datas[idx[0]], sum(sizes))
        offset = 0
        for i, n in zip(idx, sizes):
            flat[offset : offset + n] = datas[i].reshape(-1)
            offset += n
        _collective(f"broadcast of parameter bucket {k}", dist.broadcast, _as_tensor(flat), src)
        offset = 0
        for i, n in zip(idx, sizes):
            datas[i][...] = flat[offset : offset + n].reshape(datas[i].shape)
            offset += n


def _numel(x):
    return x.numel() if is_torch_tensor(x) else x.size


class GradientBuckets:
    r"""The gradients of some parameters, laid out in flat buckets, averaged over ranks.

    Building it rebinds each ``Parameter.grad`` to a view into a bucket (keeping
    its values).  :meth:`average` then replaces every gradient by its mean over the
    ranks of the process group, :math:`g \leftarrow \frac{1}{N}\sum_r g_r`, with one
    ``all_reduce`` per bucket.  Shared parameters are counted once.

    Args:
        parameters: an iterable of :class:`numrnn.Parameter` (NumPy arrays or torch
            tensors; several dtypes or devices make several buckets).
        bucket_mb: the largest bucket, in megabytes (a number > 0).

    Attributes:
        buckets: the flat buffers, one per ``all_reduce``.
        seconds, calls: time spent in, and number of, ``all_reduce`` calls so far.

    Raises:
        RuntimeError: no process group (see :func:`init_from_env`).
        ValueError: ``bucket_mb`` is not a positive number.
        TypeError: the group's backend is nccl and a gradient is not a CUDA tensor.
    """

    def __init__(self, parameters, bucket_mb=DEFAULT_BUCKET_MB):
        dist = _require_group("GradientBuckets")
        if isinstance(bucket_mb, bool) or not isinstance(bucket_mb, (int, float)) or bucket_mb <= 0:
            raise ValueError(f"GradientBuckets: bucket_mb must be a number > 0; got {bucket_mb!r}")
        self.world_size = dist.get_world_size()
        self.params = unique_parameters(parameters)
        self.buckets, self._slots = [], []  # _slots[k]: (param, view) pairs of bucket k
        grads = [p.grad for p in self.params]
        _check_reducible(grads, "GradientBuckets")
        for idx in _group_into_buckets(grads, bucket_mb):
            flat = _flat_buffer(grads[idx[0]], sum(_numel(grads[i]) for i in idx))
            slots, offset = [], 0
            for i in idx:
                p, n = self.params[i], _numel(grads[i])
                view = flat[offset : offset + n].reshape(p.grad.shape)
                view[...] = p.grad
                p.grad = view
                slots.append((p, view))
                offset += n
            self.buckets.append(flat)
            self._slots.append(slots)
        self.seconds, self.calls = 0.0, 0

    def average(self):
        """Replace every gradient by its average over the ranks (one all_reduce per bucket).

        Raises:
            TypeError: a ``.grad`` was replaced by an array of another kind, dtype
                or shape than the one the bucket was built for (the module moved to
                another backend after the buckets were built: build them again).
            DistributedError: an ``all_reduce`` failed (a peer died or timed out).
        """
        dist = _dist()
        for k, (flat, slots) in enumerate(zip(self.buckets, self._slots)):
            for p, view in slots:
                if p.grad is not view:  # rebound by someone: put it back into the bucket
                    if _kind(p.grad) != _kind(view) or tuple(p.grad.shape) != tuple(view.shape):
                        raise TypeError(
                            f"GradientBuckets.average: a gradient of shape {tuple(view.shape)} "
                            f"({_kind(view)}) was replaced by one of shape {tuple(p.grad.shape)} "
                            f"({_kind(p.grad)}); build the buckets again after moving a module"
                        )
                    view[...] = p.grad
                    p.grad = view
            t0 = time.perf_counter()
            _collective(
                f"all_reduce of gradient bucket {k}",
                dist.all_reduce,
                _as_tensor(flat),
                op=dist.ReduceOp.SUM,
            )
            flat /= self.world_size
            self.seconds += time.perf_counter() - t0
            self.calls += 1
