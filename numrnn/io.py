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

Every part of a checkpoint is checked against the model, the optimiser, the
scheduler and the generators before any of them changes; a file that is
truncated, corrupt, of another format version, holding Python objects, or
that does not fit (a missing or unexpected parameter, another shape) raises
:class:`CheckpointError`, a ``ValueError`` that names the file and the problem.

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

import contextlib
import copy
import json
import os
import secrets
import zipfile

import numpy as np

from .backend import to_numpy
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

_HEADER = "header"
_MODEL = "model/"
_OPTIM = "optim/state/"
_ZIP_MAGIC = b"PK\x03\x04"


class CheckpointError(ValueError):
    """A checkpoint cannot be read, or does not fit what it is loaded into."""


# --------------------------------------------------------------------------------------
# JSON helpers
# --------------------------------------------------------------------------------------
def _check_json(value, where, _active=None):
    """Raise ``TypeError`` unless ``value`` is made of JSON types only.

    Allowed: ``None``, ``bool``, ``int``, ``float`` (NumPy's ``float64`` is a
    ``float``), ``str``, lists and tuples of these (tuples come back as lists),
    and dicts with string keys.  ``where`` names the value in the message, e.g.
    ``metadata['vocab'][3]``.
    """
    if value is None or isinstance(value, (bool, str, float)):
        return
    if isinstance(value, int):  # bool handled above; numpy integers are not int
        return
    active = set() if _active is None else _active
    if isinstance(value, (list, tuple, dict)):
        if id(value) in active:
            raise TypeError(f"{where} contains itself; JSON cannot hold a reference cycle")
        active.add(id(value))
        if isinstance(value, dict):
            for k, v in value.items():
                if not isinstance(k, str):
                    raise TypeError(
                        f"{where} has the key {k!r} of type {type(k).__name__}; JSON object keys "
                        "must be strings (convert it, e.g. str(key))"
                    )
                _check_json(v, f"{where}[{k!r}]", active)
        else:
            for i, v in enumerate(value):
                _check_json(v, f"{where}[{i}]", active)
        active.discard(id(value))
        return
    hint = ""
    if isinstance(value, np.generic):
        hint = " (a NumPy scalar: convert it with .item())"
    elif isinstance(value, np.ndarray):
        hint = " (an array: convert it with .tolist())"
    raise TypeError(
        f"{where} is of type {type(value).__name__}, which is not JSON-serialisable{hint}"
    )


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
        _check_json(packed, f"save: optimizer.param_groups[{gi}]")
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


def _tmp_name(path):
    folder, base = os.path.split(os.path.abspath(path))
    return folder, os.path.join(folder, f".{base}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _fsync_dir(folder):
    """Make the rename durable: fsync the folder (where the platform allows opening one)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - e.g. Windows, which cannot open a folder
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


def _atomic_write(path, arrays):
    """Write ``arrays`` as an .npz to ``path`` atomically (temporary file, fsync, replace)."""
    folder, tmp = _tmp_name(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)  # the process's umask applies, as for an ordinary file
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, allow_pickle=False, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def save(path, model, optimizer=None, scheduler=None, *, rng=None, **metadata):
    """Write a checkpoint of ``model`` (and optimiser, scheduler, generators) to ``path``.

    Args:
        path: the file to write (used as given; ``.npz`` is the customary suffix).
            An existing file is replaced atomically.
        model: a :class:`numrnn.Module` (NumPy or torch backend).  Its parameters
            and the state of every ``numpy.random.Generator`` it holds (the
            recurrent layers' dropout generators) are saved.
        optimizer: a :class:`numrnn.optim.Optimizer` or None: hyperparameters of
            every group and the per-parameter state (moments, step counts).
        scheduler: a learning-rate scheduler or None: its position and settings.
        rng: a ``numpy.random.Generator`` of the caller's (e.g. the one that
            shuffles the data) whose state is saved, or None.
        **metadata: anything else to keep, JSON types only (None, bool, int,
            float, str, lists/tuples, dicts with string keys): a vocabulary, the
            epoch, the global step, a configuration.  Tuples come back as lists.

    Raises:
        TypeError: an argument of the wrong type, or metadata (or an optimiser
            hyperparameter) that JSON cannot hold; nothing is written then.
        OSError: the file cannot be written; ``path`` is left as it was and the
            temporary file is removed.
    """
    _check_types(model, optimizer, scheduler, rng, "save")
    _check_json(metadata, "save: metadata")
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
        _check_json(sd, "save: scheduler.state_dict()")
        header["scheduler"] = {"class": type(scheduler).__name__, "state": sd}
    text = json.dumps(header, allow_nan=True)
    arrays[_HEADER] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    _atomic_write(path, arrays)


# --------------------------------------------------------------------------------------
# reading and checking
# --------------------------------------------------------------------------------------
def _read(path):
    """Read and check the file's structure: returns ``(header, arrays)`` or raises."""
    where = f"checkpoint {os.fspath(path)}"
    with open(path, "rb") as f:  # FileNotFoundError and other OS errors pass through
        start = f.read(4)
    if start != _ZIP_MAGIC:
        what = "an empty file" if not start else "not a .npz (zip) archive"
        raise CheckpointError(f"{where}: is {what}, so not a numrnn checkpoint")
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not hasattr(npz, "files"):  # pragma: no cover - the magic check rules this out
                raise CheckpointError(f"{where}: is not a .npz archive")
            for key in npz.files:
                try:
                    arrays[key] = npz[key]
                except ValueError as err:
                    if "pickle" in str(err).lower() or "object" in str(err).lower():
                        raise CheckpointError(
                            f"{where}: entry {key!r} holds Python objects (pickled data); a checkpoint "
                            "holds numeric arrays only, and loading objects could run code, so the "
                            "file is refused"
                        ) from None
                    raise
    except CheckpointError:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        ValueError,
        OSError,
        KeyError,
        RuntimeError,
        NotImplementedError,
    ) as err:
        raise CheckpointError(
            f"{where}: is truncated or corrupt ({type(err).__name__}: {err})"
        ) from None
    for key, arr in arrays.items():
        if arr.dtype.hasobject:  # pragma: no cover - numpy already refuses these
            raise CheckpointError(f"{where}: entry {key!r} holds Python objects; refused")
    raw = arrays.pop(_HEADER, None)
    if raw is None:
        raise CheckpointError(
            f"{where}: has no {_HEADER!r} entry, so it is not a numrnn checkpoint"
        )
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise CheckpointError(
            f"{where}: the {_HEADER!r} entry must be 1-D uint8 bytes; got dtype "
            f"{raw.dtype}, shape {raw.shape}"
        )
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise CheckpointError(f"{where}: the header is not valid JSON ({err})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        fmt = header.get("format") if isinstance(header, dict) else None
        raise CheckpointError(f"{where}: header format is {fmt!r}, expected {FORMAT!r}")
    version = header.get("version")
    if version != VERSION:
        raise CheckpointError(
            f"{where}: has format version {version!r}; this numrnn reads version {VERSION} only"
        )
    try:
        described = _described_arrays(header)
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise CheckpointError(
            f"{where}: the header is malformed ({type(err).__name__}: {err})"
        ) from None
    missing = [k for k in described if k not in arrays]
    unexpected = [k for k in arrays if k not in described]
    if missing or unexpected:
        raise CheckpointError(
            f"{where}: the entries do not match the header: missing {missing}, unexpected {unexpected}"
        )
    for key, desc in described.items():
        arr = arrays[key]
        if list(arr.shape) != desc["shape"] or arr.dtype.str != desc["dtype"]:
            raise CheckpointError(
                f"{where}: entry {key!r} is {arr.dtype.str} of shape {tuple(arr.shape)} but the header "
                f"says {desc['dtype']} of shape {tuple(desc['shape'])} (corrupt file)"
            )
        if arr.dtype.kind not in "fiub":
            raise CheckpointError(f"{where}: entry {key!r} has non-numeric dtype {arr.dtype}")
    return header, arrays


def _described_arrays(header):
    """``{npz key: {"shape", "dtype"}}`` for every array the header announces."""
    out = {}
    for name, desc in header["model"]["parameters"].items():
        out[_MODEL + name] = {"shape": list(desc["shape"]), "dtype": str(desc["dtype"])}
    opt = header.get("optimizer")
    if opt is not None:
        for idx, entry in opt["state"].items():
            for key, desc in entry["arrays"].items():
                out[f"{_OPTIM}{idx}/{key}"] = {
                    "shape": list(desc["shape"]),
                    "dtype": str(desc["dtype"]),
                }
    return out


def read_header(path):
    """The checkpoint's header (a dict) after checking the whole file; changes nothing.

    ``read_header(path)["metadata"]`` is what ``save`` got as ``**metadata``.

    Raises:
        CheckpointError: as :func:`load`, for a file that cannot be read.
    """
    header, _ = _read(path)
    return header


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
    except (TypeError, ValueError, KeyError) as err:
        raise CheckpointError(f"{where}: the saved state of {label} is invalid ({err})") from None
    return decoded


def load(path, model, optimizer=None, scheduler=None, *, rng=None):
    """Restore a checkpoint written by :func:`save`; return its metadata.

    Everything is checked before anything changes: when an error is raised, the
    model, the optimiser, the scheduler and the generators are as they were.
    Parameters are copied into the model's own arrays (its backend, device and
    dtype), so a checkpoint written on one backend loads on the other.

    Args:
        path: the checkpoint file.
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
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: (a ``ValueError``) the file is not a .npz archive, is
            truncated or corrupt, holds Python objects, has another format
            version, or does not fit: a parameter missing, unexpected or of
            another shape, an optimiser or scheduler of another class or layout,
            a generator missing or of another kind, or optimiser/scheduler/rng
            state requested that the file does not hold.
        TypeError: an argument of the wrong type.
    """
    _check_types(model, optimizer, scheduler, rng, "load")
    where = f"checkpoint {os.fspath(path)}"
    header, arrays = _read(path)
    try:
        apply, metadata = _prepare(where, header, arrays, model, optimizer, scheduler, rng)
    except (KeyError, TypeError, AttributeError, IndexError) as err:
        # a header that passed the format checks but lacks or mistypes an entry
        raise CheckpointError(
            f"{where}: the header is malformed ({type(err).__name__}: {err})"
        ) from None
    apply()
    return metadata


def _prepare(where, header, arrays, model, optimizer, scheduler, rng):
    """Check the checkpoint against the objects; return ``(apply, metadata)``, changing nothing."""
    # -- the model's parameters ---------------------------------------------------
    own = dict(model.named_parameters(remove_duplicate=False))  # every name save() wrote
    saved = header["model"]["parameters"]
    missing = [n for n in own if n not in saved]
    unexpected = [n for n in saved if n not in own]
    if missing or unexpected:
        raise CheckpointError(
            f"{where}: the parameters do not match the model ({type(model).__name__}, the file's is "
            f"{header['model'].get('class')}): missing {missing}, unexpected {unexpected}"
        )
    params = {}
    for name, p in own.items():
        arr = arrays[_MODEL + name]
        if tuple(arr.shape) != tuple(p.shape):
            raise CheckpointError(
                f"{where}: parameter {name!r} has shape {_fmt_shape(arr.shape)}, "
                f"the model expects {_fmt_shape(p.shape)}"
            )
        if arr.dtype.kind != "f":
            raise CheckpointError(f"{where}: parameter {name!r} has non-float dtype {arr.dtype}")
        params[name] = arr

    # -- the model's generators ---------------------------------------------------
    gens = _model_generators(model)
    saved_gens = header.get("generators") or {}
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

    # -- optimiser ------------------------------------------------------------------
    opt_sd = None
    if optimizer is not None:
        entry = header.get("optimizer")
        if entry is None:
            raise CheckpointError(f"{where}: holds no optimiser state, but an optimiser was given")
        if entry["class"] != type(optimizer).__name__:
            raise CheckpointError(
                f"{where}: the optimiser state is {entry['class']}'s; the optimiser given is a "
                f"{type(optimizer).__name__}"
            )
        opt_sd = _optimizer_state_dict(where, model, optimizer, entry, arrays)
        try:
            copy.copy(optimizer).load_state_dict(opt_sd)  # dry run: changes nothing of optimizer
        except (ValueError, TypeError, KeyError) as err:
            raise CheckpointError(f"{where}: the optimiser state does not fit: {err}") from None

    # -- scheduler --------------------------------------------------------------------
    sched_sd = None
    if scheduler is not None:
        entry = header.get("scheduler")
        if entry is None:
            raise CheckpointError(f"{where}: holds no scheduler state, but a scheduler was given")
        if entry["class"] != type(scheduler).__name__:
            raise CheckpointError(
                f"{where}: the scheduler state is {entry['class']}'s; the scheduler given is a "
                f"{type(scheduler).__name__}"
            )
        sched_sd = entry["state"]
        try:
            copy.copy(scheduler).load_state_dict(sched_sd)  # dry run on a shallow copy
        except (ValueError, TypeError, KeyError) as err:
            raise CheckpointError(f"{where}: the scheduler state does not fit: {err}") from None

    # -- the caller's generator -----------------------------------------------------------
    rng_state = None
    if rng is not None:
        if header.get("rng") is None:
            raise CheckpointError(f"{where}: holds no rng state, but rng= was given")
        rng_state = _check_generator(where, "rng", rng, header["rng"])

    metadata = header.get("metadata")
    if not isinstance(metadata, dict):
        raise CheckpointError(
            f"{where}: the metadata must be a JSON object; got {type(metadata).__name__}"
        )

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

    return apply, metadata


def _optimizer_state_dict(where, model, optimizer, entry, arrays):
    """Rebuild the optimiser's ``state_dict`` from the header entry and arrays, checking the layout."""
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
    state = {}
    for idx, item in entry["state"].items():
        try:
            index = int(idx)
        except ValueError:
            raise CheckpointError(
                f"{where}: optimiser state index {idx!r} is not an integer"
            ) from None
        st = dict(item["numbers"])
        for key in item["arrays"]:
            st[key] = arrays[f"{_OPTIM}{idx}/{key}"]
        state[index] = st
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
