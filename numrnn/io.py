"""Checkpoints and torch interop.

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

Torch interop
-------------
``to_torch(module)`` builds the ``torch.nn`` module with the same options and
weights (and dtype, and device for a module on the torch backend);
``from_torch(torch_module, dtype=None)`` builds the numrnn module from a
``torch.nn`` one.  Parameter names and layouts are PyTorch's on both sides,
so the weights are copied without any reordering.  torch is imported inside
these two functions only.
"""

from __future__ import annotations

import copy
import json

import numpy as np

from .backend import to_numpy
from .checkpoint_files import HEADER as _HEADER
from .checkpoint_files import MODEL as _MODEL
from .checkpoint_files import OPTIM as _OPTIM
from .checkpoint_files import CheckpointFile, atomic_write, check_path
from .checkpoint_format import MAX_HEADER_BYTES, CheckpointError, check_json
from .nn.cells import GRUCell, LSTMCell, RNNCell
from .nn.linear import Embedding, Linear
from .nn.module import Module, check_dtype
from .nn.recurrent import GRU, LSTM, RNN, RNNBase
from .optim.lr_scheduler import LRScheduler
from .optim.optimizer import Optimizer

__all__ = [
    "FORMAT",
    "VERSION",
    "CheckpointError",
    "from_torch",
    "load",
    "read_header",
    "save",
    "to_torch",
]

#: the value of ``header["format"]`` in every numrnn checkpoint
FORMAT = "numrnn-checkpoint"
#: the format version this module writes (and the only one it reads)
VERSION = 1


# --------------------------------------------------------------------------------------
# random generators
# --------------------------------------------------------------------------------------
def _rng_state_to_json(state):
    """A bit generator's ``state`` dict with its arrays turned into tagged lists."""
    if isinstance(state, dict):
        return {k: _rng_state_to_json(v) for k, v in state.items()}
    if isinstance(state, np.ndarray):
        return {"__ndarray__": state.tolist(), "dtype": state.dtype.str}
    if isinstance(state, np.integer):
        return int(state)
    return state


def _rng_state_from_json(state):
    if isinstance(state, dict):
        if set(state) == {"__ndarray__", "dtype"}:
            return np.array(state["__ndarray__"], dtype=np.dtype(state["dtype"]))
        return {k: _rng_state_from_json(v) for k, v in state.items()}
    return state


def _generator_state(gen):
    return _rng_state_to_json(gen.bit_generator.state)


def _model_generators(model):
    """``{"<module path>.<attribute>": Generator}`` for every NumPy Generator the model holds."""
    found = {}
    for mod_name, mod in model.named_modules():
        for attr, value in vars(mod).items():
            if isinstance(value, np.random.Generator):
                found[f"{mod_name}.{attr}" if mod_name else attr] = value
    return found


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
    ordered = []  # parameters in state_dict numbering: in order through the groups
    seen = set()
    for group in optimizer.param_groups:
        for p in group["params"]:
            if id(p) not in seen:
                seen.add(id(p))
                ordered.append(p)
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


def save(path, model, optimizer=None, scheduler=None, *, rng=None, **metadata):
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
        "generators": {k: _generator_state(g) for k, g in _model_generators(model).items()},
        "optimizer": None if optimizer is None else _optimizer_entry(model, optimizer, arrays),
        "scheduler": None,
        "rng": None if rng is None else _generator_state(rng),
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
def read_header(path):
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


def _fmt_shape(shape):
    shape = tuple(int(s) for s in shape)
    return str(shape)


def _check_generator(where, label, gen, state):
    """Dry run: the saved ``state`` must fit ``gen``'s bit generator; returns the decoded state."""
    decoded = _rng_state_from_json(state)
    want = type(gen.bit_generator).__name__
    got = decoded.get("bit_generator") if isinstance(decoded, dict) else None
    if got != want:
        raise CheckpointError(f"{where}: {label} was a {got} generator; this one is a {want}")
    try:
        type(gen.bit_generator)().state = decoded
    except (TypeError, ValueError, KeyError, OverflowError) as err:
        raise CheckpointError(f"{where}: the saved state of {label} is invalid ({err})") from None
    return decoded


def load(path, model, optimizer=None, scheduler=None, *, rng=None):
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


def _check_parameters(ck, model):
    """The saved parameters must be the model's: same names, same shapes, float dtypes."""
    where, saved = ck.where, ck.header["model"]["parameters"]
    own = dict(model.named_parameters(remove_duplicate=False))  # every name save() wrote
    missing = [n for n in own if n not in saved]
    unexpected = [n for n in saved if n not in own]
    if missing or unexpected:
        raise CheckpointError(
            f"{where}: the parameters do not match the model ({type(model).__name__}, the file's is "
            f"{ck.header['model']['class']}): missing {missing}, unexpected {unexpected}"
        )
    for name, p in own.items():
        dtype, shape = ck.layouts[_MODEL + name]
        if shape != tuple(p.shape):
            raise CheckpointError(
                f"{where}: parameter {name!r} has shape {_fmt_shape(shape)}, "
                f"the model expects {_fmt_shape(p.shape)}"
            )
        if dtype.kind != "f":
            raise CheckpointError(f"{where}: parameter {name!r} has non-float dtype {dtype}")
    return own


def _prepare(ck, model, optimizer, scheduler, rng):
    """Check the checkpoint against the objects; return ``(apply, metadata)``, changing nothing.

    All checks that need no array data come first; the arrays are read last.
    """
    where, header = ck.where, ck.header
    own = _check_parameters(ck, model)

    gens = _model_generators(model)
    saved_gens = header["generators"]
    missing = [n for n in gens if n not in saved_gens]
    unexpected = [n for n in saved_gens if n not in gens]
    if missing or unexpected:
        raise CheckpointError(
            f"{where}: the random generators do not match the model's: missing {missing}, "
            f"unexpected {unexpected}"
        )
    gen_states = {
        n: _check_generator(where, f"generator {n!r}", g, saved_gens[n]) for n, g in gens.items()
    }
    opt_entry = _check_optimizer_layout(ck, model, optimizer)
    sched_sd = None
    if scheduler is not None:
        sched_sd = _check_scheduler(where, header["scheduler"], scheduler)
    rng_state = None
    if rng is not None:
        if header["rng"] is None:
            raise CheckpointError(f"{where}: holds no rng state, but rng= was given")
        rng_state = _check_generator(where, "rng", rng, header["rng"])

    # -- every layout fits: read the arrays (the others are read through for their CRC)
    params = {name: ck.read(_MODEL + name) for name in own}
    first = {}  # a shared (tied) Parameter is saved under each name: the copies must agree
    for name, p in own.items():
        other = first.setdefault(id(p), name)
        if other != name and not np.array_equal(params[name], params[other], equal_nan=True):
            raise CheckpointError(
                f"{where}: {other!r} and {name!r} are one shared parameter in the model, but "
                "the file holds different values under the two names"
            )
    opt_keys = [k for k in ck.layouts if k.startswith(_OPTIM)]
    if optimizer is None:
        ck.verify(opt_keys)
    opt_sd = None
    if optimizer is not None:
        opt_sd = _optimizer_state_dict(ck, opt_entry)
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


def _check_scheduler(where, entry, scheduler):
    """The saved scheduler state, after a dry run on a shallow copy of ``scheduler``."""
    if entry is None:
        raise CheckpointError(f"{where}: holds no scheduler state, but a scheduler was given")
    if entry["class"] != type(scheduler).__name__:
        raise CheckpointError(
            f"{where}: the scheduler state is {entry['class']}'s; the scheduler given is a "
            f"{type(scheduler).__name__}"
        )
    try:
        copy.copy(scheduler).load_state_dict(entry["state"])
    except (ValueError, TypeError, KeyError, OverflowError) as err:
        raise CheckpointError(f"{where}: the scheduler state does not fit: {err}") from None
    return entry["state"]


def _check_optimizer_layout(ck, model, optimizer):
    """The saved optimiser entry must cover ``optimizer``'s parameters, in order, with their shapes."""
    if optimizer is None:
        return None
    where, entry = ck.where, ck.header["optimizer"]
    if entry is None:
        raise CheckpointError(f"{where}: holds no optimiser state, but an optimiser was given")
    if entry["class"] != type(optimizer).__name__:
        raise CheckpointError(
            f"{where}: the optimiser state is {entry['class']}'s; the optimiser given is a "
            f"{type(optimizer).__name__}"
        )
    names = {id(p): n for n, p in model.named_parameters()}
    ordered, seen = [], set()
    for group in optimizer.param_groups:
        for p in group["params"]:
            if id(p) not in seen:
                seen.add(id(p))
                ordered.append(p)
    saved_names = entry["param_names"]
    if len(saved_names) != len(ordered):
        raise CheckpointError(
            f"{where}: the optimiser state covers {len(saved_names)} parameter(s); the optimiser "
            f"given has {len(ordered)}"
        )
    for i, (p, saved_name, saved_shape) in enumerate(
        zip(ordered, saved_names, entry["param_shapes"])
    ):
        name = names.get(id(p))
        if name != saved_name:
            raise CheckpointError(
                f"{where}: the optimiser's parameter {i} is {name!r} here but {saved_name!r} in the "
                "checkpoint (build the optimiser over the parameters in the same order)"
            )
        if tuple(saved_shape) != tuple(p.data.shape):
            raise CheckpointError(
                f"{where}: the optimiser's parameter {i} ({name!r}) has shape {_fmt_shape(p.data.shape)}; "
                f"the checkpoint's has {_fmt_shape(saved_shape)}"
            )
    for idx, item in entry["state"].items():
        for key in item["arrays"]:
            shape = ck.layouts[f"{_OPTIM}{idx}/{key}"][1]
            if shape != tuple(ordered[int(idx)].data.shape):
                raise CheckpointError(
                    f"{where}: optimiser state {key!r} of parameter {idx} has shape "
                    f"{_fmt_shape(shape)}; the parameter has {_fmt_shape(ordered[int(idx)].data.shape)}"
                )
    return entry


def _optimizer_state_dict(ck, entry):
    """Rebuild the optimiser's ``state_dict`` from the (checked) header entry, reading its arrays."""
    state = {}
    for idx, item in entry["state"].items():
        st = dict(item["numbers"])
        for key in item["arrays"]:
            st[key] = ck.read(f"{_OPTIM}{idx}/{key}")
        state[int(idx)] = st
    groups = []
    for g in entry["param_groups"]:
        g = dict(g)
        if isinstance(g.get("betas"), list):
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    return {"state": state, "param_groups": groups}


# --------------------------------------------------------------------------------------
# torch interop
# --------------------------------------------------------------------------------------
def _torch():
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "numrnn.io.to_torch / from_torch need PyTorch: pip install torch==2.13.0"
        ) from err
    return torch


_SUPPORTED = "RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell, Linear, Embedding"


def to_torch(module):
    """The ``torch.nn`` module equal to ``module``: same class, options, weights and dtype.

    Supported: ``RNN``, ``LSTM``, ``GRU`` (every constructor option: num_layers,
    nonlinearity, bias, batch_first, dropout, bidirectional, proj_size), the
    three cells, ``Linear`` and ``Embedding`` (with ``padding_idx``).  The
    result is in the same train/eval mode, on the module's device when the
    module uses the torch backend (on the CPU otherwise); its weights are
    copies, exact to the bit.  For a composed model, build the torch model and
    ``load_state_dict`` the numrnn model's ``state_dict()``: the names match.

    Raises:
        TypeError: ``module`` is not one of the supported numrnn modules.
        ValueError: a ``GRU`` or ``GRUCell`` with ``reset_after=False`` (torch.nn has none).
        ImportError: torch is not installed.
    """
    torch = _torch()
    if not isinstance(module, Module):
        raise TypeError(f"to_torch: module must be a numrnn.Module; got {type(module).__name__}")
    dtype = getattr(torch, module.param_dtype.name)
    device = torch.device(module.device if module.backend == "torch" else "cpu")
    if not getattr(module, "reset_after", True):
        raise ValueError(
            f"to_torch: torch.nn has no GRU with the reset gate before the product; got "
            f"{type(module).__name__}(..., reset_after=False)"
        )
    if isinstance(module, RNNBase):
        cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[module.mode]
        kw = dict(
            input_size=module.input_size,
            hidden_size=module.hidden_size,
            num_layers=module.num_layers,
            bias=module.bias,
            batch_first=module.batch_first,
            dropout=module.dropout,
            bidirectional=module.bidirectional,
        )
        if module.mode == "rnn":
            kw["nonlinearity"] = module.nonlinearity
        if module.mode == "lstm":
            kw["proj_size"] = module.proj_size
    elif isinstance(module, (RNNCell, LSTMCell, GRUCell)):
        cls = {RNNCell: torch.nn.RNNCell, LSTMCell: torch.nn.LSTMCell, GRUCell: torch.nn.GRUCell}[
            next(c for c in (RNNCell, LSTMCell, GRUCell) if isinstance(module, c))
        ]
        kw = dict(input_size=module.input_size, hidden_size=module.hidden_size, bias=module.bias)
        if isinstance(module, RNNCell):
            kw["nonlinearity"] = module.nonlinearity
    elif isinstance(module, Linear):
        cls = torch.nn.Linear
        kw = dict(
            in_features=module.in_features,
            out_features=module.out_features,
            bias=module.bias is not None,
        )
    elif isinstance(module, Embedding):
        cls = torch.nn.Embedding
        kw = dict(
            num_embeddings=module.num_embeddings,
            embedding_dim=module.embedding_dim,
            padding_idx=module.padding_idx,
        )
    else:
        raise TypeError(
            f"to_torch: no torch.nn counterpart for {type(module).__name__}; supported: {_SUPPORTED}. "
            "For a composed model, load its state_dict() into the torch model (the names match)"
        )
    out = cls(**kw, dtype=dtype, device=device)
    with torch.no_grad():
        out.load_state_dict(
            {k: torch.from_numpy(v) for k, v in module.state_dict().items()}, strict=True
        )
    out.train(module.training)
    return out


def from_torch(torch_module, dtype=None, **kwargs):
    """The numrnn module equal to a ``torch.nn`` one: same options and weights.

    Args:
        torch_module: a ``torch.nn.RNN``, ``LSTM``, ``GRU``, ``RNNCell``,
            ``LSTMCell``, ``GRUCell``, ``Linear`` or ``Embedding``.
        dtype: ``numpy.float32`` or ``numpy.float64``; None keeps the torch
            module's (which must then be float32 or float64).
        **kwargs: passed to the numrnn constructor (``backend=``, ``device=``).

    Returns:
        the numrnn module, in the torch module's train/eval mode, holding copies
        of its weights (exact when the dtype is kept).

    Raises:
        TypeError: an unsupported module, or a dtype other than float32/float64.
        ValueError: an ``Embedding`` with ``max_norm`` or ``scale_grad_by_freq``,
            which numrnn's Embedding does not implement.
        ImportError: torch is not installed.
    """
    torch = _torch()
    nn = torch.nn
    if not isinstance(torch_module, nn.Module):
        raise TypeError(
            f"from_torch: expected a torch.nn.Module; got {type(torch_module).__name__}"
        )
    tparams = list(torch_module.parameters())
    if dtype is None:
        if not tparams:  # pragma: no cover - every supported module has parameters
            raise TypeError("from_torch: the module has no parameters; pass dtype=")
        tdt = str(tparams[0].dtype).replace("torch.", "")
        try:
            dtype = check_dtype(np.dtype(tdt))
        except TypeError:
            raise TypeError(
                f"from_torch: the torch module's dtype is {tdt}; numrnn computes in float32 or float64: "
                "pass dtype=numpy.float32 or numpy.float64"
            ) from None
    else:
        dtype = check_dtype(dtype)
    m = torch_module
    kw = dict(dtype=dtype, seed=0, **kwargs)
    if isinstance(m, nn.LSTM):
        out = LSTM(
            m.input_size,
            m.hidden_size,
            m.num_layers,
            bias=m.bias,
            batch_first=m.batch_first,
            dropout=float(m.dropout),
            bidirectional=m.bidirectional,
            proj_size=m.proj_size,
            **kw,
        )
    elif isinstance(m, nn.GRU):
        out = GRU(
            m.input_size,
            m.hidden_size,
            m.num_layers,
            bias=m.bias,
            batch_first=m.batch_first,
            dropout=float(m.dropout),
            bidirectional=m.bidirectional,
            **kw,
        )
    elif isinstance(m, nn.RNN):
        out = RNN(
            m.input_size,
            m.hidden_size,
            m.num_layers,
            nonlinearity=m.nonlinearity,
            bias=m.bias,
            batch_first=m.batch_first,
            dropout=float(m.dropout),
            bidirectional=m.bidirectional,
            **kw,
        )
    elif isinstance(m, nn.RNNCell):
        out = RNNCell(m.input_size, m.hidden_size, bias=m.bias, nonlinearity=m.nonlinearity, **kw)
    elif isinstance(m, nn.LSTMCell):
        out = LSTMCell(m.input_size, m.hidden_size, bias=m.bias, **kw)
    elif isinstance(m, nn.GRUCell):
        out = GRUCell(m.input_size, m.hidden_size, bias=m.bias, **kw)
    elif isinstance(m, nn.Linear):
        out = Linear(m.in_features, m.out_features, bias=m.bias is not None, **kw)
    elif isinstance(m, nn.Embedding):
        if m.max_norm is not None or m.scale_grad_by_freq:
            raise ValueError(
                "from_torch: numrnn's Embedding has no max_norm or scale_grad_by_freq; got "
                f"max_norm={m.max_norm}, scale_grad_by_freq={m.scale_grad_by_freq}"
            )
        out = Embedding(m.num_embeddings, m.embedding_dim, padding_idx=m.padding_idx, **kw)
    else:
        raise TypeError(
            f"from_torch: no numrnn counterpart for {type(m).__name__}; supported: {_SUPPORTED}"
        )
    out.load_state_dict({k: v.detach().cpu().numpy() for k, v in m.state_dict().items()})
    out.train(m.training)
    return out
