r"""Data-parallel training of the hand-written BPTT on ``torch.distributed``.

Data parallelism in one paragraph
---------------------------------
``N`` processes (ranks ``0 .. N-1``) hold the same model.  A global batch of ``B``
rows is split into ``N`` blocks of ``B/N`` rows; rank ``r`` runs the forward and the
hand-written backward on block ``r`` only and gets the gradient of its own mean
loss, :math:`g_r = \nabla_\theta \frac{1}{|b_r|}\sum_{i \in b_r} \ell_i`.  With
equal blocks the gradient of the mean loss over the whole batch is the average

.. math::
    g = \nabla_\theta \frac{1}{B} \sum_{i=1}^{B} \ell_i
      = \frac{1}{N} \sum_{r=0}^{N-1} g_r ,

which one ``all_reduce`` (a sum over the ranks, left in every rank's buffer)
followed by a division by ``N`` computes.  Every rank then holds the same
:math:`g`, clips it the same way and takes the same optimiser step, so the
parameters, equal at the start (:func:`broadcast_parameters`), stay equal without
ever being sent again.  In exact arithmetic ``N`` processes compute what one
process computes on the concatenated batch; in floating point the sums are taken
in another order, so the two agree to rounding (about 1e-15 relative in float64).

What is sent
------------
Gradients are few large arrays and many small ones (biases).  Each collective call
has a fixed cost, so the gradients are laid out in a few flat *buckets* of about
``bucket_mb`` megabytes, and each bucket is reduced with one call.  After
:class:`GradientBuckets` is built, every ``Parameter.grad`` *is* a view into its
bucket (PyTorch's ``gradient_as_bucket_view``): the backward passes accumulate
straight into the bucket, a NumPy bucket is handed to torch with
``torch.from_numpy`` (which shares the memory), and the reduced sums land back in
``.grad`` with no copy in either direction.  If something rebinds a ``.grad`` to a
new array, that array is copied into its place in the bucket once and the view is
restored.

Failure
-------
The process group is created with a timeout (:func:`init_from_env`): a peer that
dies closes its connections and the others fail at their next collective; a peer
that hangs makes them fail when the timeout runs out.  Either way the survivors
raise :class:`DistributedError`, which names the rank, the operation and the
timeout, instead of waiting for ever.

Backends
--------
The NumPy backend and the torch backend on the CPU use the ``gloo`` communication
backend.  A torch-backend model on CUDA uses ``nccl`` (one process per GPU, each
with its own device); that path is written to the same calls but is not exercised
by the test suite, which runs on CPUs.

torch is imported inside the functions of this module only, so ``import numrnn``
still needs NumPy alone.
"""

from __future__ import annotations

import datetime
import os
import sys
import time

import numpy as np

from .backend import is_torch_tensor

__all__ = [
    "DataParallel",
    "DistributedError",
    "GradientBuckets",
    "broadcast_parameters",
    "init_from_env",
    "quiet_unless_main",
    "rank_rng",
    "shard_batch",
    "shutdown",
    "unique_parameters",
]

#: seconds a collective may wait for the other processes before failing
DEFAULT_TIMEOUT = 300.0
#: megabytes of gradient sent by one all_reduce call (PyTorch's DDP uses 25)
DEFAULT_BUCKET_MB = 25.0


class DistributedError(RuntimeError):
    """A collective failed: another process died, hung past the timeout, or disagreed."""


def _dist():
    try:
        import torch.distributed as dist
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "numrnn.distributed needs PyTorch (pip install torch); numrnn itself does not"
        ) from err
    return dist


def _require_group(who):
    dist = _dist()
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError(
            f"{who}: no process group; call numrnn.distributed.init_from_env() first "
            "(in a script started by torchrun)"
        )
    return dist


def init_from_env(backend=None, timeout=DEFAULT_TIMEOUT):
    """Join the process group that ``torchrun`` describes in the environment.

    ``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
    ``MASTER_PORT`` for every process it starts; this calls
    ``torch.distributed.init_process_group`` with them (``init_method="env://"``).

    Args:
        backend: ``"gloo"`` (CPU, the default) or ``"nccl"`` (CUDA; also selects
            the device ``cuda:LOCAL_RANK`` for this process).
        timeout: seconds any collective waits for the other processes before it
            fails (a number > 0).  It bounds how long a dead or hung peer can stall
            the survivors; it must exceed the longest time one rank works alone
            between two collectives (rank 0 evaluating or writing a checkpoint).

    Returns:
        ``(rank, world_size)``.

    Raises:
        RuntimeError: a variable torchrun sets is missing (the script was not
            started by torchrun), or a process group already exists.
        ValueError: ``backend`` is not ``"gloo"`` or ``"nccl"``, or ``timeout`` is
            not a positive number.
    """
    if backend is None:
        backend = "gloo"
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"init_from_env: backend must be 'gloo' or 'nccl'; got {backend!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"init_from_env: timeout must be a number of seconds > 0; got {timeout!r}")
    missing = [
        k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ
    ]
    if missing:
        raise RuntimeError(
            f"init_from_env: the environment lacks {', '.join(missing)}; start the script with "
            "torchrun, e.g. torchrun --standalone --nproc_per_node 2 script.py ..."
        )
    dist = _dist()
    if dist.is_initialized():
        raise RuntimeError("init_from_env: a process group is already initialised")
    kwargs = {}
    if backend == "nccl":
        import torch

        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
        kwargs["device_id"] = device
    dist.init_process_group(
        backend, init_method="env://", timeout=datetime.timedelta(seconds=timeout), **kwargs
    )
    return dist.get_rank(), dist.get_world_size()


def shutdown():
    """Leave the process group (``torch.distributed.destroy_process_group``), if any.

    Call it at the end of every process: a process that exits while its group's
    background threads still run can be aborted by the C++ runtime.
    """
    dist = _dist()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def unique_parameters(parameters):
    """The parameters in order, each once: a parameter shared by two layers (tied
    weights) appears twice in ``model.parameters()`` but must be reduced once."""
    seen, out = set(), []
    for p in parameters:
        if id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


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


def _collective(what, fn, *args, **kwargs):
    """Run one collective; turn its failure into a :class:`DistributedError`."""
    dist = _dist()
    try:
        fn(*args, **kwargs)
    except Exception as err:
        rank = dist.get_rank() if dist.is_initialized() else "?"
        size = dist.get_world_size() if dist.is_initialized() else "?"
        raise DistributedError(
            f"numrnn.distributed: {what} failed on rank {rank} of {size}: another process "
            f"has died or stopped answering within the process group's timeout ({err})"
        ) from err


def broadcast_parameters(parameters, src=0, bucket_mb=DEFAULT_BUCKET_MB):
    """Copy rank ``src``'s parameter values into every rank's parameters, in place.

    Call it once before training so that every process starts from the same
    :math:`\\theta_0`.  Parameters are packed into buckets (as the gradients are
    in :class:`GradientBuckets`), one ``broadcast`` per bucket, and the values are
    written back into each ``Parameter.data`` in place.

    Raises:
        RuntimeError: no process group (see :func:`init_from_env`).
        ValueError: ``src`` is not a rank of the group.
        DistributedError: the broadcast failed (a peer died or timed out).
    """
    dist = _require_group("broadcast_parameters")
    world = dist.get_world_size()
    if isinstance(src, bool) or not isinstance(src, (int, np.integer)) or not 0 <= src < world:
        raise ValueError(f"broadcast_parameters: src must be a rank in [0, {world}); got {src!r}")
    params = unique_parameters(parameters)
    datas = [p.data for p in params]
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
    """

    def __init__(self, parameters, bucket_mb=DEFAULT_BUCKET_MB):
        dist = _require_group("GradientBuckets")
        if isinstance(bucket_mb, bool) or not isinstance(bucket_mb, (int, float)) or bucket_mb <= 0:
            raise ValueError(f"GradientBuckets: bucket_mb must be a number > 0; got {bucket_mb!r}")
        self.world_size = dist.get_world_size()
        self.params = unique_parameters(parameters)
        self.buckets, self._slots = [], []  # _slots[k]: (param, view) pairs of bucket k
        grads = [p.grad for p in self.params]
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


def shard_batch(batch, rank, world_size, axis):
    """Block ``rank`` of ``world_size`` equal blocks of ``batch`` along ``axis``.

    With ``B`` rows along ``axis``, rank ``r`` gets rows ``r B/N .. (r+1) B/N - 1``;
    the blocks of all ranks, concatenated in rank order, give back ``batch``.

    Raises:
        ValueError: ``B`` is not divisible by ``world_size``, or ``rank`` is not in
            ``[0, world_size)``.
    """
    b = batch.shape[axis]
    if not 0 <= rank < world_size:
        raise ValueError(f"shard_batch: rank must be in [0, {world_size}); got {rank!r}")
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
        """``module.backward(*args)``, then average the gradients over the ranks."""
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
        t = torch.tensor([float(loss), 1.0 if stop else 0.0], dtype=torch.float64)
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
        t = torch.tensor([float(value)], dtype=torch.float64)
        _collective("all_reduce (max)", dist.all_reduce, t, op=dist.ReduceOp.MAX)
        return float(t[0])


def quiet_unless_main(rank):
    """On ranks other than 0, send ``print`` output (stdout) to ``os.devnull``;
    errors (stderr) still show, prefixed by torchrun with the rank."""
    if rank != 0:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
