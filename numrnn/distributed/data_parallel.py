"""``DataParallel``: a model whose backward ends with the gradients averaged; data shards."""

from __future__ import annotations

import numpy as np

from .buckets import DEFAULT_BUCKET_MB, GradientBuckets, broadcast_parameters
from .group import _collective, _dist, _require_group

__all__ = ["DataParallel", "rank_rng", "shard_batch"]


def shard_batch(batch, rank, world_size, axis):
    """Block ``rank`` of ``world_size`` equal blocks of ``batch`` along ``axis``.

    With ``B`` rows along ``axis``, rank ``r`` gets rows ``r B/N .. (r+1) B/N - 1``;
    the blocks of all ranks, concatenated in rank order, give back ``batch``.

    Args:
        batch: an array (NumPy or torch) with at least ``axis + 1`` dimensions.
        rank, world_size: ints, ``0 <= rank < world_size``.
        axis: the batch axis (1 for time-major ``(T, B, ...)``).

    Raises:
        ValueError: ``B`` is not divisible by ``world_size``, ``rank`` is not in
            ``[0, world_size)``, or ``axis`` is not an axis of ``batch``.
    """
    if not hasattr(batch, "shape"):
        batch = np.asarray(batch)
    for name, v in (("world_size", world_size), ("rank", rank), ("axis", axis)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"shard_batch: {name} must be an int; got {v!r}")
    if world_size < 1:
        raise ValueError(f"shard_batch: world_size must be >= 1; got {world_size}")
    if not 0 <= rank < world_size:
        raise ValueError(f"shard_batch: rank must be in [0, {world_size}); got {rank!r}")
    if not 0 <= axis < len(batch.shape):
        raise ValueError(
            f"shard_batch: axis must be in [0, {len(batch.shape)}) for a batch of shape "
            f"{tuple(batch.shape)}; got {axis}"
        )
    b = batch.shape[axis]
    if b % world_size:
        raise ValueError(
            f"shard_batch: the batch has {b} rows along axis {axis}, which do not split "
            f"evenly over {world_size} processes; make the global batch size a multiple of "
            f"{world_size}"
        )
    n = b // world_size
    index = [slice(None)] * batch.ndim
    index[axis] = slice(rank * n, (rank + 1) * n)
    return batch[tuple(index)]


def rank_rng(seed, rank):
    """A ``numpy.random.Generator`` for rank ``rank``: independent of every other
    rank's, and the same in every run with the same ``seed``.

    Use it for what each process must draw on its own (its own shuffle of its own
    data files, dropout masks); what all ranks must agree on (the order of the
    global batches that :class:`DataParallel` splits) takes a generator seeded
    with ``seed`` alone.  Built with ``numpy.random.SeedSequence(seed).spawn``, so
    the streams of the ranks do not overlap.

    Raises:
        ValueError: ``seed`` or ``rank`` is not a non-negative int.
    """
    for name, v in (("seed", seed), ("rank", rank)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"rank_rng: {name} must be an int >= 0; got {v!r}")
    return np.random.default_rng(np.random.SeedSequence(int(seed)).spawn(int(rank) + 1)[-1])


def _device():
    """Where a small tensor must be for the process group's backend to reduce it."""
    import torch

    if _dist().get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


class DataParallel:
    r"""A model trained data-parallel: its backward ends with the gradients averaged.

    ``dp = DataParallel(model)`` broadcasts rank ``src``'s parameters to every
    rank and lays the gradients out in buckets (:class:`GradientBuckets`).
    ``dp(*args)`` is ``model(*args)``; ``dp.backward(*args)`` is
    ``model.backward(*args)`` followed by :meth:`GradientBuckets.average`, so a
    training loop written for one process (:func:`numrnn.training.tbptt_train`)
    clips and steps the averaged gradient unchanged.  Save and evaluate
    ``dp.module``: its parameter names are the model's own, so a checkpoint does
    not depend on the number of processes.

    A training loop, run by every process (``torchrun --nproc_per_node N script.py``)::

        rank, world = numrnn.distributed.init_from_env(timeout=300)
        model = CharLM(V, seed=0)
        opt = numrnn.optim.Adam(model.parameters())
        dp = numrnn.distributed.DataParallel(model)
        for X, Y in dp.shard(sequential_partition(ids, 32, 64, rng=seed)):  # (64, 32 / N)
            logits, state = dp(X, state)
            loss, dlogits = cross_entropy(logits, Y)
            dp.backward(dlogits)               # local BPTT, then the average over ranks
            clip_grad_norm_(model.parameters(), 5.0)
            opt.step(); opt.zero_grad()        # the same step on every rank
        if dp.is_main:
            numrnn.save("ckpt.npz", model, opt)
        numrnn.distributed.shutdown()

    Args:
        module: a :class:`numrnn.Module` with ``forward`` and ``backward``.
        bucket_mb: the largest gradient bucket, in megabytes.
        src: the rank whose initial parameters every rank takes.

    Attributes:
        module, rank, world_size, buckets (the :class:`GradientBuckets`).

    Raises:
        RuntimeError: no process group (see :func:`init_from_env`).
        DistributedError: the broadcast failed.
    """

    def __init__(self, module, bucket_mb=DEFAULT_BUCKET_MB, src=0):
        dist = _require_group("DataParallel")
        self.module = module
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        broadcast_parameters(module.parameters(), src=src, bucket_mb=bucket_mb)
        self.buckets = GradientBuckets(module.parameters(), bucket_mb=bucket_mb)

    def __call__(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def backward(self, *args, **kwargs):
        """``module.backward(*args)``, then average the gradients over the ranks.

        A step that calls backward several times (a decoder stepping through time)
        is still averaged correctly, since the average is linear and what was
        averaged before is equal on every rank; but each call pays the
        communication.  Such a loop calls ``dp.module.backward`` instead and
        ``dp.buckets.average()`` once before the optimiser step.
        """
        result = self.module.backward(*args, **kwargs)
        self.buckets.average()
        return result

    def parameters(self):
        return self.module.parameters()

    def named_parameters(self, prefix=""):
        return self.module.named_parameters(prefix)

    @property
    def training(self):
        return self.module.training

    def train(self, mode=True):
        self.module.train(mode)
        return self

    def eval(self):
        return self.train(False)

    @property
    def is_main(self):
        """True on rank 0, the process that prints, evaluates and writes files."""
        return self.rank == 0

    def shard(self, batches, axis=1):
        """Yield this rank's block of each batch of ``batches`` (tuples of arrays).

        All ranks must iterate over the same global batches (built from a
        generator seeded alike on every rank); rank ``r`` keeps block ``r`` of
        each array along ``axis`` (the batch axis; 1 for time-major ``(T, B)``),
        see :func:`shard_batch`.
        """
        for batch in batches:
            yield tuple(shard_batch(a, self.rank, self.world_size, axis) for a in batch)

    def agree(self, loss, stop):
        """The mean of ``loss`` over the ranks, and whether any rank asked to ``stop``.

        One ``all_reduce`` of two float64 numbers.  A loop whose stopping rule reads
        a clock (a time budget) must stop at the same step on every rank, or the
        ranks that go on wait for ever at their next ``all_reduce``: let each rank
        vote, and all stop when one does.

        Raises:
            DistributedError: the all_reduce failed.
        """
        import torch

        dist = _dist()
        t = torch.tensor([float(loss), 1.0 if stop else 0.0], dtype=torch.float64, device=_device())
        _collective("all_reduce of the step's loss", dist.all_reduce, t, op=dist.ReduceOp.SUM)
        return float(t[0]) / self.world_size, bool(t[1] > 0)

    def max(self, value):
        """The largest ``value`` (a float) over the ranks; e.g. the time spent, so that
        every rank takes the same decision from it.

        Raises:
            DistributedError: the all_reduce failed.
        """
        import torch

        dist = _dist()
        t = torch.tensor([float(value)], dtype=torch.float64, device=_device())
        _collective("all_reduce (max)", dist.all_reduce, t, op=dist.ReduceOp.MAX)
        return float(t[0])
