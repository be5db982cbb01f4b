"""What a checkpoint file may hold, checked before any of its arrays is read.

:mod:`numrnn.io` writes and reads checkpoints; this module holds the two
checks that make reading a hostile file safe:

* **the JSON header** (:func:`check_header`): every field is walked and its type
  and range checked against the one layout that version 1 of the format
  writes.  A crafted value (an RNG state of ``2**200``, a ``step`` of
  ``Infinity``, a string where a shape belongs, an unknown key, nesting deeper
  than :data:`MAX_DEPTH`) is refused with a :class:`CheckpointError` naming the
  file and the field, e.g. ``header['optimizer']['state']['0']['numbers']['step']``.
* **the zip members** (:func:`list_members`, :func:`member_layout`,
  :func:`read_member`, :func:`verify_member`): each member must be a ``.npy``
  array, stored or deflated, unencrypted, named once.  Its ``.npy`` header
  (shape, dtype) is read from the member stream *without* reading the data and
  compared with what the JSON header announces, and the member's declared
  uncompressed size must be exactly that header plus ``prod(shape) * itemsize``
  bytes.  Data is then read in chunks of :data:`CHUNK` bytes straight into an
  array of the announced shape, so a member can never make the reader allocate
  more than it announced, and a deflated member cannot expand past its
  declared size (``zipfile`` stops there and checks the CRC).

Limits (also what :func:`numrnn.io.save` refuses to write):

* the header's JSON text is at most :data:`MAX_HEADER_BYTES` (4 MiB) long.
  Parsed, JSON takes up to ~25 times its text in Python objects (measured:
  a list of empty dicts 24x, short strings 10x, integers 6x), so reading the
  largest header costs at most ~100 MiB, whatever the arrays;
* containers (lists, dicts) nest at most :data:`MAX_DEPTH` (64) levels deep
  in the metadata;
* an array has at most :data:`MAX_NDIM` dimensions.

Every integer outside the metadata fits in 64 bits (RNG states, which are
128-bit, excepted) and every number in the optimiser's and the scheduler's
state is finite.
"""

from __future__ import annotations

import math
import struct
import zipfile
import zlib

import numpy as np

__all__ = [
    "CHUNK",
    "MAX_DEPTH",
    "MAX_HEADER_BYTES",
    "MAX_NDIM",
    "ZIP_ERRORS",
    "CheckpointError",
    "check_header",
    "check_json",
    "list_members",
    "member_layout",
    "read_member",
    "verify_member",
]

#: largest JSON header, in bytes (the header member's uncompressed size)
MAX_HEADER_BYTES = 4 * 2**20
#: deepest nesting of lists and dicts in the metadata
MAX_DEPTH = 64
#: most dimensions of one array
MAX_NDIM = 32
#: bytes read from a member at a time
CHUNK = 2**18

_INT64 = 2**63
_RNG_INT = 2**128  # PCG64's state and increment are 128-bit
_DEFLATE_RATIO = 1032  # deflate cannot expand data by more than about 1032:1
_TOP_KEYS = (
    "format",
    "version",
    "model",
    "generators",
    "optimizer",
    "scheduler",
    "rng",
    "metadata",
)

#: what the zip and zlib modules raise on a damaged archive
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    EOFError,
    OSError,
    ValueError,
    KeyError,
    IndexError,
    OverflowError,
    RuntimeError,
    NotImplementedError,
)


class CheckpointError(ValueError):
    """A checkpoint cannot be read, or does not fit what it is loaded into."""


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------------------
# JSON values
# --------------------------------------------------------------------------------------
def check_json(value, where, depth=0, _active=None):
    """Raise unless ``value`` is made of JSON types only, nested at most :data:`MAX_DEPTH` deep.

    Allowed: ``None``, ``bool``, ``int``, ``float`` (NumPy's ``float64`` is a
    ``float``), ``str``, lists and tuples of these (tuples come back as lists),
    and dicts with string keys.  ``where`` names the value in the message, e.g.
    ``metadata['vocab'][3]``.

    Raises:
        TypeError: a value of another type, a non-string key, or a reference cycle.
        ValueError: nesting deeper than :data:`MAX_DEPTH`.
    """
    if value is None or isinstance(value, (bool, str, float, int)):
        return  # numpy integers are not int; bool is an int
    if not isinstance(value, (list, tuple, dict)):
        hint = ""
        if isinstance(value, np.generic):
            hint = " (a NumPy scalar: convert it with .item())"
        elif isinstance(value, np.ndarray):
            hint = " (an array: convert it with .tolist())"
        raise TypeError(
            f"{where} is of type {type(value).__name__}, which is not JSON-serialisable{hint}"
        )
    if depth >= MAX_DEPTH:
        raise ValueError(
            f"{where} nests lists/dicts more than {MAX_DEPTH} levels deep (the limit of a "
            "checkpoint's metadata)"
        )
    active = set() if _active is None else _active
    if id(value) in active:
        raise TypeError(f"{where} contains itself; JSON cannot hold a reference cycle")
    active.add(id(value))
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(
                    f"{where} has the key {_short(k)} of type {type(k).__name__}; JSON object keys "
                    "must be strings (convert it, e.g. str(key))"
                )
            check_json(v, f"{where}[{k!r}]", depth + 1, active)
    else:
        for i, v in enumerate(value):
            check_json(v, f"{where}[{i}]", depth + 1, active)
    active.discard(id(value))


# --------------------------------------------------------------------------------------
# the JSON header, field by field
# --------------------------------------------------------------------------------------
def _fail(where, path, expected, value):
    raise CheckpointError(f"{where}: header field {path} must be {expected}; got {_short(value)}")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _dict(where, path, value, keys=None):
    """``value`` must be a dict with string keys (exactly ``keys`` when given)."""
    if not isinstance(value, dict):
        _fail(where, path, "a JSON object", value)
    if keys is not None and set(value) != set(keys):
        _fail(where, path, f"an object with the keys {sorted(keys)}", sorted(value))
    return value


def _str(where, path, value, max_len=1000):
    if not isinstance(value, str) or len(value) > max_len:
        _fail(where, path, f"a string of at most {max_len} characters", value)
    return value


def _int(where, path, value, low, high):
    if not _is_int(value) or not low <= value < high:
        _fail(where, path, f"an integer in [{low}, {high})", value)
    return value


def _finite(where, path, value):
    """A JSON number of the optimiser's or scheduler's state: finite, 64-bit if an int."""
    if _is_int(value):
        return _int(where, path, value, -_INT64, _INT64)
    if not isinstance(value, float) or not math.isfinite(value):
        _fail(where, path, "a finite number", value)
    return value


def _array_desc(where, path, value):
    """``{"shape": [...], "dtype": "<f8"}`` of one array; returns its size in bytes."""
    _dict(where, path, value, ("shape", "dtype"))
    shape = value["shape"]
    if not isinstance(shape, list) or len(shape) > MAX_NDIM:
        _fail(where, f"{path}['shape']", f"a list of at most {MAX_NDIM} sizes", shape)
    for i, n in enumerate(shape):
        _int(where, f"{path}['shape'][{i}]", n, 0, _INT64)
    text = _str(where, f"{path}['dtype']", value["dtype"], 16)
    try:
        dtype = np.dtype(text)
    except (TypeError, ValueError, SyntaxError):
        dtype = None
    if dtype is None or dtype.kind not in "fiub" or dtype.str != text:
        _fail(where, f"{path}['dtype']", "a numeric dtype such as '<f8'", text)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes >= _INT64:
        _fail(where, f"{path}['shape']", "an array of fewer than 2**63 bytes", shape)
    return nbytes


def _rng_state(where, path, value, depth=0):
    """A bit generator's state as saved: strings, 128-bit ints, tagged integer arrays."""
    if depth == 0:
        _dict(where, path, value)
        _str(where, f"{path}['bit_generator']", value.get("bit_generator"), 64)
    if _is_int(value):
        return _int(where, path, value, 0, _RNG_INT)
    if isinstance(value, str) and depth == 1:
        return _str(where, path, value, 64)
    if not isinstance(value, dict) or depth > 2:
        _fail(where, path, "an integer, a tagged array or an object of them", value)
    if "__ndarray__" in value:
        _dict(where, path, value, ("__ndarray__", "dtype"))
        dtype = {"<u4": np.uint32, "<u8": np.uint64, "<i8": np.int64}.get(value["dtype"])
        if dtype is None:
            _fail(where, f"{path}['dtype']", "one of '<u4', '<u8', '<i8'", value["dtype"])
        items = value["__ndarray__"]
        if not isinstance(items, list) or len(items) > 4096:
            _fail(where, f"{path}['__ndarray__']", "a list of at most 4096 integers", items)
        info = np.iinfo(dtype)
        for i, v in enumerate(items):
            _int(where, f"{path}['__ndarray__'][{i}]", v, int(info.min), int(info.max) + 1)
        return value
    for k, v in value.items():
        _str(where, f"{path} key", k, 64)
        _rng_state(where, f"{path}[{k!r}]", v, depth + 1)
    return value


def _state_value(where, path, value):
    """A scheduler state value or optimiser hyperparameter: a scalar or a short list of numbers."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        _str(where, path, value, 200)
    elif isinstance(value, list):
        if len(value) > 4096:
            _fail(where, path, "a list of at most 4096 numbers", value)
        for i, v in enumerate(value):
            _finite(where, f"{path}[{i}]", v)
    else:
        _finite(where, path, value)


def _optimizer(where, path, value):
    keys = ("class", "param_names", "param_shapes", "param_groups", "state")
    _dict(where, path, value, keys)
    _str(where, f"{path}['class']", value["class"], 200)
    names, shapes = value["param_names"], value["param_shapes"]
    if not isinstance(names, list) or not isinstance(shapes, list) or len(names) != len(shapes):
        _fail(where, f"{path}['param_names']", "a list as long as param_shapes", names)
    for i, n in enumerate(names):
        if n is not None:
            _str(where, f"{path}['param_names'][{i}]", n)
    for i, s in enumerate(shapes):
        if not isinstance(s, list) or len(s) > MAX_NDIM:
            _fail(where, f"{path}['param_shapes'][{i}]", "a list of sizes", s)
        for j, n in enumerate(s):
            _int(where, f"{path}['param_shapes'][{i}][{j}]", n, 0, _INT64)
    groups = value["param_groups"]
    if not isinstance(groups, list) or not groups:
        _fail(where, f"{path}['param_groups']", "a non-empty list of objects", groups)
    for gi, group in enumerate(groups):
        gpath = f"{path}['param_groups'][{gi}]"
        _dict(where, gpath, group)
        params = group.get("params")
        if not isinstance(params, list):
            _fail(where, f"{gpath}['params']", "a list of parameter indices", params)
        for i, idx in enumerate(params):
            _int(where, f"{gpath}['params'][{i}]", idx, 0, len(names))
        for k, v in group.items():
            if k != "params":
                _state_value(where, f"{gpath}[{k!r}]", v)
    nbytes = 0
    for idx, entry in _dict(where, f"{path}['state']", value["state"]).items():
        spath = f"{path}['state'][{idx!r}]"
        if not (idx.isdigit() and idx.isascii() and str(int(idx)) == idx and int(idx) < len(names)):
            _fail(where, f"{path}['state'] key", f"a parameter index below {len(names)}", idx)
        _dict(where, spath, entry, ("numbers", "arrays"))
        for k, v in _dict(where, f"{spath}['numbers']", entry["numbers"]).items():
            _finite(where, f"{spath}['numbers'][{k!r}]", v)
        for k, v in _dict(where, f"{spath}['arrays']", entry["arrays"]).items():
            nbytes += _array_desc(where, f"{spath}['arrays'][{k!r}]", v)
    return nbytes


def check_header(header, where):
    """Check every field of a parsed header; return the total bytes of the arrays it announces.

    Raises:
        CheckpointError: naming ``where`` (the file) and the first field found
            of the wrong type or out of range.
    """
    _dict(where, "header", header)
    if header.get("format") != "numrnn-checkpoint":
        _fail(where, "header['format']", "'numrnn-checkpoint'", header.get("format"))
    version = header.get("version")
    if version != 1 or not _is_int(version):
        raise CheckpointError(
            f"{where}: has format version {_short(version)}; this numrnn reads version 1 only"
        )
    _dict(where, "header", header, _TOP_KEYS)
    model = _dict(where, "header['model']", header["model"], ("class", "parameters"))
    _str(where, "header['model']['class']", model["class"], 200)
    nbytes = 0
    for name, desc in _dict(where, "header['model']['parameters']", model["parameters"]).items():
        nbytes += _array_desc(where, f"header['model']['parameters'][{name!r}]", desc)
    for name, state in _dict(where, "header['generators']", header["generators"]).items():
        _rng_state(where, f"header['generators'][{name!r}]", state)
    if header["rng"] is not None:
        _rng_state(where, "header['rng']", header["rng"])
    if header["optimizer"] is not None:
        nbytes += _optimizer(where, "header['optimizer']", header["optimizer"])
    if header["scheduler"] is not None:
        entry = _dict(where, "header['scheduler']", header["scheduler"], ("class", "state"))
        _str(where, "header['scheduler']['class']", entry["class"], 200)
        for k, v in _dict(where, "header['scheduler']['state']", entry["state"]).items():
            _state_value(where, f"header['scheduler']['state'][{k!r}]", v)
    _dict(where, "header['metadata']", header["metadata"])
    try:
        check_json(header["metadata"], "header['metadata']")
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{where}: {err}") from None
    return nbytes


# --------------------------------------------------------------------------------------
# the zip members
# --------------------------------------------------------------------------------------
def list_members(zf, where):
    """``{key: ZipInfo}`` for the archive's members, each a ``<key>.npy`` named once.

    Raises:
        CheckpointError: a member that is not ``.npy``, a name used twice, an
            encrypted member, a compression other than stored/deflated, or a
            declared size that the compressed data cannot hold.
    """
    members = {}
    for info in zf.infolist():
        name = info.filename
        if not name.endswith(".npy"):
            raise CheckpointError(
                f"{where}: member {_short(name)} is not a .npy array; a checkpoint holds .npy "
                "members only"
            )
        key = name[: -len(".npy")]
        if key in members:
            raise CheckpointError(f"{where}: member {_short(name)} appears more than once")
        if info.flag_bits & 0x1:
            raise CheckpointError(f"{where}: member {_short(name)} is encrypted")
        if info.compress_type == zipfile.ZIP_STORED:
            ok = info.file_size == info.compress_size
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            ok = info.file_size <= _DEFLATE_RATIO * info.compress_size + 1024
        else:
            raise CheckpointError(
                f"{where}: member {_short(name)} uses compression method {info.compress_type}; "
                "only stored and deflated members are read"
            )
        if not ok:
            raise CheckpointError(
                f"{where}: member {_short(name)} declares {info.file_size} bytes, more than its "
                f"{info.compress_size} compressed bytes can hold (corrupt or crafted file)"
            )
        members[key] = info
    return members


def member_layout(zf, info, where):
    """``(dtype, shape)`` from a member's ``.npy`` header, reading the header only.

    The member's declared uncompressed size must be exactly the ``.npy`` header
    plus ``prod(shape) * itemsize`` bytes of data.

    Raises:
        CheckpointError: no valid ``.npy`` header, Python objects, Fortran order,
            or a size that does not match.
    """
    name = _short(info.filename)
    try:
        with zf.open(info) as stream:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
            else:
                raise ValueError(f".npy format version {version} is not read")
            start = stream.tell()
    except ZIP_ERRORS + (SyntaxError, TypeError) as err:
        raise CheckpointError(
            f"{where}: member {name} is truncated or corrupt, or has no valid .npy header "
            f"({type(err).__name__}: {err})"
        ) from None
    if dtype.hasobject:
        raise CheckpointError(
            f"{where}: member {name} holds Python objects (pickled data); a checkpoint holds "
            "numeric arrays only, and loading objects could run code, so the file is refused"
        )
    if fortran:
        raise CheckpointError(f"{where}: member {name} is in Fortran order; numrnn writes C order")
    data = math.prod(shape) * dtype.itemsize
    if info.file_size != start + data:
        raise CheckpointError(
            f"{where}: member {name} declares {info.file_size} bytes, but its .npy header "
            f"announces {start} + {data} (dtype {dtype.str}, shape {tuple(shape)}): corrupt file"
        )
    return dtype, tuple(shape)


def read_member(zf, info, dtype, shape, where):
    """The member's array, read in chunks into a new array of the given (checked) layout."""
    out = np.empty(shape, dtype=dtype)
    view = memoryview(out.reshape(-1).view(np.uint8)) if out.size else memoryview(b"")
    _stream(zf, info, view, where)
    return out


def verify_member(zf, info, where):
    """Read the member through without keeping it: checks its length and CRC."""
    _stream(zf, info, None, where)


def _stream(zf, info, view, where):
    """Read the member's data (after its .npy header) into ``view`` (or nowhere) in chunks."""
    name = _short(info.filename)
    nbytes = 0 if view is None else len(view)
    try:
        with zf.open(info) as stream:
            version = np.lib.format.read_magic(stream)
            reader = np.lib.format.read_array_header_1_0
            if version == (2, 0):
                reader = np.lib.format.read_array_header_2_0
            reader(stream)
            pos = 0
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                if view is not None:
                    if pos + len(chunk) > nbytes:
                        raise ValueError("more data than the .npy header announces")
                    view[pos : pos + len(chunk)] = chunk
                pos += len(chunk)
            if view is not None and pos != nbytes:
                raise EOFError(f"{pos} bytes of data, {nbytes} announced")
    except ZIP_ERRORS as err:
        raise CheckpointError(
            f"{where}: member {name} is truncated or corrupt ({type(err).__name__}: {err})"
        ) from None
