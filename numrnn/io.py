"""Checkpoints: one ``.npz`` file that resumes a training run exactly.

Checkpoints
-----------
``save(path, model, optimizer=None, scheduler=None, *, rng=None, **metadata)``
writes everything a training run needs to continue exactly where it stopped
into one ``.npz`` file; ``load(path, model, optimizer=None, scheduler=None, *,
rng=None)`` puts it back and returns the metadata.  The file holds

* ``header``: UTF-8 JSON (as a ``uint8`` array) with the format name and
  version, a description of every array below, the optimiser's hyperparameters
  and scalar state (``step``, ...), the scheduler's state, the states of the
  random generators, and the caller's metadata;
* ``model/<name>``: each parameter, under its ``state_dict`` name;
* ``optim/state/<index>/<key>``: each array of the optimiser's state, numbered
  as in ``Optimizer.state_dict()``.

Only plain numeric arrays are written and the file is read with
``numpy.load(..., allow_pickle=False)``: loading a checkpoint can never run
code.  Floats in the JSON header are written with Python's shortest
round-tripping ``repr``, so learning rates and other hyperparameters come back
bit for bit, and training resumed from a checkpoint (in another process)
follows the uninterrupted run exactly.

Writes are atomic: the file is written under a temporary name in the same
folder, flushed and ``fsync``-ed, renamed over ``path`` with ``os.replace``,
and then the folder itself is ``fsync``-ed.  A writer killed at any moment
leaves either the previous checkpoint or the new one at ``path``, never a mix;
at worst a hidden temporary file ``.<name>.<pid>.<random>.tmp`` stays behind,
which ``load`` never reads and which may be deleted.

``save`` replaces a regular file (keeping its permission bits) or, through a
symbolic link, the regular file the link points to; it refuses a folder
(``IsADirectoryError``), a FIFO, device or socket (``FileExistsError``) and a
link to a missing file (``FileNotFoundError``), before writing anything.

Every part of a checkpoint is checked against the model, the optimiser, the
scheduler and the generators before any of them changes; a file that is
truncated, corrupt, crafted, of another format version, holding Python objects,
or that does not fit (a missing or unexpected parameter, another shape) raises
:class:`CheckpointError`, a ``ValueError`` that names the file and the problem.
No array is read before its declared shape and size have been checked
(:mod:`numrnn.checkpoint_format` holds those checks and the format's limits).

``to_torch`` / ``from_torch`` live in :mod:`numrnn.interop`.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import numpy as np

from .backend import to_numpy
from .checkpoint_files import HEADER as _HEADER
from .checkpoint_files import MODEL as _MODEL
from .checkpoint_files import OPTIM as _OPTIM
from .checkpoint_files import CheckpointFile, atomic_write, check_path
from .checkpoint_fit import (
    check_generator,
    check_generators,
    check_optimizer_layout,
    check_parameters,
    check_scheduler,
    generator_state,
    model_generators,
    optimizer_params,
    optimizer_state_dict,
    read_parameters,
)
from .checkpoint_format import MAX_HEADER_BYTES, CheckpointError, check_json
from .nn.module import Module
from .optim.lr_scheduler import LRScheduler
from .optim.optimizer import Optimizer

__all__ = [
    "FORMAT",
    "VERSION",
    "CheckpointError",
    "load",
    "read_header",
    "save",
]

#: the value of ``header["format"]`` in every numrnn checkpoint
FORMAT = "numrnn-checkpoint"
#: the format version this module writes (and the only one it reads)
VERSION = 1


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------
def _check_types(model, optimizer, scheduler, rng, fn):
    if not isinstance(model, Module):
        raise TypeError(f"{fn}: model must be a numrnn.Module; got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{fn}: optimizer must be a numrnn.optim.Optimizer or None; got {type(optimizer).__name__}"
        )
    if scheduler is not None and not isinstance(scheduler, LRScheduler):
        raise TypeError(
            f"{fn}: scheduler must be a numrnn.optim.lr_scheduler.LRScheduler or None; "
            f"got {type(scheduler).__name__}"
        )
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{fn}: rng must be a numpy.random.Generator or None; got {type(rng).__name__}"
        )


def _describe(arr):
    return {"shape": list(arr.shape), "dtype": arr.dtype.str}


def _optimizer_entry(model, optimizer, arrays):
    """The optimiser's header entry; its state arrays go into ``arrays``."""
    sd = optimizer.state_dict()
    names = {id(p): n for n, p in model.named_parameters()}
    ordered = optimizer_params(optimizer)  # in state_dict numbering
    groups = []
    for gi, group in enumerate(sd["param_groups"]):
        packed = {k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items()}
        check_json(packed, f"save: optimizer.param_groups[{gi}]")
        groups.append(packed)
    state = {}
    for idx, entries in sd["state"].items():
        numbers, described = {}, {}
        for key, value in entries.items():
            if value is None:
                continue
            if isinstance(value, (bool, int, float)):
                numbers[key] = value
                continue
            arr = np.ascontiguousarray(to_numpy(value))
            if arr.dtype.kind not in "fiub":
                raise TypeError(
                    f"save: optimizer state {key!r} of parameter {idx} is not numeric "
                    f"(dtype {arr.dtype})"
                )
            if arr.ndim == 0 and key == "step":
                numbers[key] = arr.item()
                continue
            arrays[f"{_OPTIM}{idx}/{key}"] = arr
            described[key] = _describe(arr)
        state[str(idx)] = {"numbers": numbers, "arrays": described}
    return {
        "class": type(optimizer).__name__,
        "param_names": [names.get(id(p)) for p in ordered],
        "param_shapes": [list(p.data.shape) for p in ordered],
        "param_groups": groups,
        "state": state,
    }


# save and load mirror each other: their signatures are written in rows to read side by side
def save(
    path: str | bytes | os.PathLike, model: Module, optimizer: Optimizer | None = None,
    scheduler: LRScheduler | None = None, *, rng: np.random.Generator | None = None,
    **metadata: Any,
) -> None:  # fmt: skip
    """Write a checkpoint of ``model`` (and optimiser, scheduler, generators) to ``path``.

    Args:
        path: the file to write: a ``str``, ``bytes`` or ``os.PathLike``
            (``.npz`` is the customary suffix).  An existing regular file is
            replaced atomically and keeps its permission bits; a symbolic link
            to a regular file is followed (the file it points to is replaced,
            the link stays a link).
        model: a :class:`numrnn.Module` (NumPy or torch backend).  Its parameters
            and the state of every ``numpy.random.Generator`` it holds (the
            recurrent layers' dropout generators) are saved.
        optimizer: a :class:`numrnn.optim.Optimizer` or None: hyperparameters of
            every group and the per-parameter state (moments, step counts).
        scheduler: a learning-rate scheduler or None: its position and settings.
        rng: a ``numpy.random.Generator`` of the caller's (e.g. the one that
            shuffles the data) whose state is saved, or None.
        **metadata: anything else to keep, JSON types only (None, bool, int,
            float, str, lists/tuples, dicts with string keys), nested at most
            64 levels deep, at most 4 MiB as JSON: a vocabulary, the epoch,
            the global step, a configuration.  Tuples come back as lists.

    Raises:
        TypeError: an argument of the wrong type (``path`` included), or
            metadata (or an optimiser hyperparameter) that JSON cannot hold;
            nothing is written then.
        ValueError: metadata nested too deep or too large, or an empty path.
        OSError: the file cannot be written (``path`` is left as it was and the
            temporary file is removed); ``IsADirectoryError`` when ``path`` is a
            folder, ``FileExistsError`` when it is a FIFO, a device or a socket,
            ``FileNotFoundError`` for a symbolic link to a missing file.
    """
    _check_types(model, optimizer, scheduler, rng, "save")
    path = check_path(path, "save")
    check_json(metadata, "save: metadata")
    arrays = {}
    params = {}
    for name, value in model.state_dict().items():
        arr = np.ascontiguousarray(value)
        arrays[_MODEL + name] = arr
        params[name] = _describe(arr)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "model": {"class": type(model).__name__, "parameters": params},
        "generators": {k: generator_state(g) for k, g in model_generators(model).items()},
        "optimizer": None if optimizer is None else _optimizer_entry(model, optimizer, arrays),
        "scheduler": None,
        "rng": None if rng is None else generator_state(rng),
        "metadata": metadata,
    }
    if scheduler is not None:
        sd = scheduler.state_dict()
        sd = {k: (list(v) if isinstance(v, tuple) else v) for k, v in sd.items()}
        check_json(sd, "save: scheduler.state_dict()")
        header["scheduler"] = {"class": type(scheduler).__name__, "state": sd}
    try:
        text = json.dumps(header, allow_nan=True).encode("utf-8")
    except ValueError as err:  # e.g. an int with more digits than Python converts
        raise ValueError(f"save: metadata cannot be written as JSON ({err})") from None
    if len(text) > MAX_HEADER_BYTES:
        raise ValueError(
            f"save: the metadata takes {len(text)} bytes as JSON; a checkpoint's header holds "
            f"at most {MAX_HEADER_BYTES}"
        )
    arrays[_HEADER] = np.frombuffer(text, dtype=np.uint8)
    atomic_write(path, arrays)


# --------------------------------------------------------------------------------------
# reading and checking
# --------------------------------------------------------------------------------------
def read_header(path: str | os.PathLike) -> dict:
    """The checkpoint's header (a dict) after checking the whole file; changes nothing.

    ``read_header(path)["metadata"]`` is what ``save`` got as ``**metadata``.
    Every member is read through (its length and CRC checked) without keeping
    its data, so memory stays bounded whatever the file announces.

    Raises:
        CheckpointError: as :func:`load`, for a file that cannot be read.
    """
    path = check_path(path, "read_header")
    with CheckpointFile(path, f"checkpoint {path}") as ck:
        ck.verify(list(ck.members))
        return ck.header


def load(
    path: str | bytes | os.PathLike, model: Module, optimizer: Optimizer | None = None,
    scheduler: LRScheduler | None = None, *, rng: np.random.Generator | None = None,
) -> dict:  # fmt: skip
    """Restore a checkpoint written by :func:`save`; return its metadata.

    Everything is checked before anything changes: when an error is raised, the
    model, the optimiser, the scheduler and the generators are as they were.
    Parameters are copied into the model's own arrays (its backend, device and
    dtype), so a checkpoint written on one backend loads on the other.

    The file is checked in this order, and no array data is read before the
    first three steps pass: (1) the zip's members (``.npy`` only, each named
    once, stored or deflated, sizes the compressed data can hold); (2) every
    field of the JSON header, for type and range (see
    :mod:`numrnn.checkpoint_format`); (3) each member's ``.npy`` header and
    declared size against the JSON header, and every announced shape against
    the model's parameters and the optimiser's.  Only then are the arrays read,
    in chunks, into arrays of the announced size: memory use is bounded by the
    size of the arrays the model and the optimiser expect, whatever the file claims.

    Args:
        path: the checkpoint file (``str``, ``bytes`` or ``os.PathLike``).
        model: the :class:`numrnn.Module` to fill; its parameter names and shapes
            must be those saved.  The states of its random generators (dropout)
            are restored too.
        optimizer: an optimiser of the saved class over the same parameters, in
            the same order; None to skip the saved optimiser state.
        scheduler: a scheduler of the saved class; None to skip.
        rng: a ``numpy.random.Generator`` whose state is set, in place, to the one
            saved with ``save(..., rng=...)``; None to skip.

    Returns:
        the metadata dict given to ``save``.

    Raises:
        FileNotFoundError: ``path`` does not exist (other ``OSError``s, such as
            ``IsADirectoryError``, pass through too).
        CheckpointError: (a ``ValueError``) naming the file and the problem: the
            path is a FIFO or a device (refused without reading), the file is not
            a .npz archive, is truncated or corrupt, holds Python
            objects or non-``.npy`` members, has another format version, a
            header field of the wrong type or out of range, or does not fit: a
            parameter missing, unexpected or of another shape, an optimiser or
            scheduler of another class or layout, a generator missing or of
            another kind, or optimiser/scheduler/rng state requested that the
            file does not hold.
        TypeError: an argument of the wrong type.
    """
    _check_types(model, optimizer, scheduler, rng, "load")
    path = check_path(path, "load")
    where = f"checkpoint {path}"
    with CheckpointFile(path, where) as ck:
        apply, metadata = _prepare(ck, model, optimizer, scheduler, rng)
    apply()
    return metadata


def _prepare(ck, model, optimizer, scheduler, rng):
    """Check the checkpoint against the objects; return ``(apply, metadata)``, changing nothing.

    All checks that need no array data come first; the arrays are read last.
    """
    where, header = ck.where, ck.header
    own = check_parameters(ck, model)

    gens = model_generators(model)
    gen_states = check_generators(where, header["generators"], gens)
    opt_entry = check_optimizer_layout(ck, model, optimizer)
    sched_sd = None
    if scheduler is not None:
        sched_sd = check_scheduler(where, header["scheduler"], scheduler)
    rng_state = None
    if rng is not None:
        if header["rng"] is None:
            raise CheckpointError(f"{where}: holds no rng state, but rng= was given")
        rng_state = check_generator(where, "rng", rng, header["rng"])

    # -- every layout fits: read the arrays (the others are read through for their CRC)
    params = read_parameters(ck, own)
    opt_keys = [k for k in ck.layouts if k.startswith(_OPTIM)]
    if optimizer is None:
        ck.verify(opt_keys)
    opt_sd = None
    if optimizer is not None:
        opt_sd = optimizer_state_dict(ck, opt_entry)
        try:
            copy.copy(optimizer).load_state_dict(opt_sd)  # dry run: changes nothing of optimizer
        except (ValueError, TypeError, KeyError) as err:
            raise CheckpointError(f"{where}: the optimiser state does not fit: {err}") from None

    def apply():  # everything fits: nothing below can fail
        model.load_state_dict(params)
        for name, gen in gens.items():
            gen.bit_generator.state = gen_states[name]
        if opt_sd is not None:
            optimizer.load_state_dict(opt_sd)
        if sched_sd is not None:
            scheduler.load_state_dict(sched_sd)
        if rng_state is not None:
            rng.bit_generator.state = rng_state

    return apply, header["metadata"]
