"""The process group: joining it, leaving it, and what a failed collective raises."""

from __future__ import annotations

import datetime
import os
import sys

from ..backend import import_torch

__all__ = ["DEFAULT_TIMEOUT", "DistributedError", "init_from_env", "quiet_unless_main", "shutdown"]

#: seconds a collective may wait for the other processes before failing
DEFAULT_TIMEOUT = 300.0
_TIMEOUT = [None]  # the timeout of the group init_from_env made, for error messages


class DistributedError(RuntimeError):
    """A collective failed: another process died, hung past the timeout, or disagreed."""


def _dist():
    return import_torch("numrnn.distributed").distributed


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
    _TIMEOUT[0] = float(timeout)
    return dist.get_rank(), dist.get_world_size()


def shutdown():
    """Leave the process group (``torch.distributed.destroy_process_group``), if any.

    Call it at the end of every process: a process that exits while its group's
    background threads still run can be aborted by the C++ runtime.
    """
    dist = _dist()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _collective(what, fn, *args, **kwargs):
    """Run one collective; turn its failure into a :class:`DistributedError`."""
    dist = _dist()
    try:
        fn(*args, **kwargs)
    except RuntimeError as err:  # gloo's errors (DistBackendError is a RuntimeError)
        rank = dist.get_rank() if dist.is_initialized() else "?"
        size = dist.get_world_size() if dist.is_initialized() else "?"
        timeout = f"{_TIMEOUT[0]:g} s" if _TIMEOUT[0] is not None else "set by the caller"
        raise DistributedError(
            f"numrnn.distributed: {what} failed on rank {rank} of {size}: another process "
            f"has died, or has not answered within the group's timeout ({timeout}): {err}"
        ) from err


def quiet_unless_main(rank):
    """On ranks other than 0, send ``print`` output (stdout) to ``os.devnull``;
    errors (stderr) still show, prefixed by torchrun with the rank."""
    if rank != 0:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
