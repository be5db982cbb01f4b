"""Checkpoint files on disk: the atomic writer and the checked reader.

:func:`atomic_write` writes a checkpoint's arrays as an ``.npz`` under a
temporary name in the target's folder, ``fsync``-s it, renames it over the
target with ``os.replace`` and ``fsync``-s the folder: a writer that fails or is
killed at any moment leaves the previous file.  Before writing it decides what
the target is (:func:`resolve_target`): a regular file is replaced and keeps
its permission bits, a symbolic link to a regular file is followed, anything
else is refused.

:class:`CheckpointFile` opens a checkpoint for :func:`numrnn.io.load`: it
checks the zip's members, the JSON header (every field, see
:mod:`numrnn.checkpoint_format`) and every member's ``.npy`` header against the
JSON header, and reads an array only when asked, in bounded chunks.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import stat
import zipfile

import numpy as np

from .checkpoint_format import (
    MAX_HEADER_BYTES,
    ZIP_ERRORS,
    CheckpointError,
    check_header,
    list_members,
    member_layout,
    read_member,
    verify_member,
)

__all__ = ["HEADER", "MODEL", "OPTIM", "CheckpointFile", "atomic_write", "check_path"]

#: the member holding the JSON header
HEADER = "header"
#: the prefix of the members holding the model's parameters
MODEL = "model/"
#: the prefix of the members holding the optimiser's state arrays
OPTIM = "optim/state/"
_ZIP_MAGIC = b"PK\x03\x04"
_HEADER, _MODEL, _OPTIM = HEADER, MODEL, OPTIM


def check_path(path, fn):
    """``path`` as a ``str``: a ``str``, ``bytes`` (decoded as the OS does) or ``os.PathLike``.

    ``fn`` names the caller in the messages.

    Raises:
        TypeError: ``path`` is of another type (an ``int`` file descriptor too).
        ValueError: ``path`` is empty or holds a NUL character.
    """
    try:
        text = os.fspath(path)
    except TypeError:
        raise TypeError(
            f"{fn}: path must be a str, bytes or os.PathLike; got {type(path).__name__}"
        ) from None
    text = os.fsdecode(text)
    if not text or "\x00" in text:
        raise ValueError(f"{fn}: path must be a non-empty file name without NUL characters")
    return text


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------
def resolve_target(path):
    """Where ``save`` writes for ``path``, and the mode to give the file (None: a new file).

    A regular file is replaced; a symbolic link to a regular file is followed
    (the file it points to is replaced, the link stays); anything else that
    exists is refused.  The existing file's permission bits are kept.

    Raises:
        IsADirectoryError: ``path`` is a folder (or a link to one).
        FileExistsError: ``path`` is a FIFO, a device or a socket (or a link to one).
        FileNotFoundError: ``path`` is a symbolic link to a missing file.
        OSError: ``path`` cannot be examined (permissions, a link loop, ...).
    """
    try:
        st = os.stat(path)  # follows symbolic links
    except FileNotFoundError:
        if os.path.islink(path):
            raise FileNotFoundError(
                errno.ENOENT,
                "save: path is a symbolic link to a missing file; numrnn does not create files "
                "through dangling links",
                path,
            ) from None
        return path, None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "save: path is a folder, not a file", path)
    if not stat.S_ISREG(st.st_mode):
        if stat.S_ISFIFO(st.st_mode):
            kind = "a FIFO"
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            kind = "a device"
        elif stat.S_ISSOCK(st.st_mode):
            kind = "a socket"
        else:  # pragma: no cover - no other kind of file exists on POSIX
            kind = "not a regular file"
        raise FileExistsError(
            errno.EEXIST,
            f"save: path exists and is {kind}; numrnn replaces regular files only",
            path,
        )
    return os.path.realpath(path), stat.S_IMODE(st.st_mode)


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


def atomic_write(path, arrays):
    """Write ``arrays`` as an .npz to ``path`` atomically (temporary file, fsync, replace).

    The target is resolved first (:func:`resolve_target`); a replaced file keeps
    its permission bits, a new one gets ``0o666`` less the umask.

    Raises:
        OSError: the target is refused (see :func:`resolve_target`) or cannot be
            written; the previous file is then as it was and the temporary file
            is removed.
    """
    path, mode = resolve_target(path)
    folder, tmp = _tmp_name(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)  # the process's umask applies, as for an ordinary file
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:  # keep the replaced file's permissions
                os.chmod(f.fileno() if os.chmod in os.supports_fd else tmp, mode)
            np.savez(f, allow_pickle=False, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------
def _unique_keys(pairs):
    """``json.loads`` hook: a JSON object that names a key twice is refused."""
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"the key {k!r} appears twice in one object")
        out[k] = v
    return out


def _read_json_header(zf, members, where):
    """The parsed header member; its size is checked before it is read."""
    info = members.get(_HEADER)
    if info is None:
        raise CheckpointError(
            f"{where}: has no {_HEADER!r} entry, so it is not a numrnn checkpoint"
        )
    if info.file_size > MAX_HEADER_BYTES + 4096:  # + room for the .npy header
        raise CheckpointError(
            f"{where}: the {_HEADER!r} entry declares {info.file_size} bytes; a header holds at "
            f"most {MAX_HEADER_BYTES}"
        )
    dtype, shape = member_layout(zf, info, where)
    if dtype != np.uint8 or len(shape) != 1:
        raise CheckpointError(
            f"{where}: the {_HEADER!r} entry must be 1-D uint8 bytes; got dtype "
            f"{dtype}, shape {shape}"
        )
    raw = read_member(zf, info, dtype, shape, where)
    try:
        return json.loads(raw.tobytes().decode("utf-8"), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise CheckpointError(
            f"{where}: the header is not valid JSON ({type(err).__name__}: {err})"
        ) from None


def _described_arrays(header):
    """``{npz key: (dtype, shape)}`` for every array the (checked) header announces."""
    out = {}
    for name, desc in header["model"]["parameters"].items():
        out[_MODEL + name] = (np.dtype(desc["dtype"]), tuple(desc["shape"]))
    opt = header["optimizer"]
    if opt is not None:
        for idx, entry in opt["state"].items():
            for key, desc in entry["arrays"].items():
                out[f"{_OPTIM}{idx}/{key}"] = (np.dtype(desc["dtype"]), tuple(desc["shape"]))
    return out


def _check_regular(mode, path, where):
    """Refuse to read anything but a regular file (a FIFO or a device could block or never end)."""
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a checkpoint", path)
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
        raise CheckpointError(f"{where}: is {kind}, not a regular file; refused")


class CheckpointFile:
    """An open checkpoint whose header and member layouts are checked; arrays are read on demand.

    ``header`` is the parsed, checked JSON header; ``layouts`` maps each array's
    key to its ``(dtype, shape)``, equal in the header and in the member's
    ``.npy`` header and matching the member's declared size.  Nothing of the
    arrays' data has been read yet.

    Raises:
        OSError: the file cannot be opened (``FileNotFoundError``, ...).
        CheckpointError: the file is not a checkpoint, or a member or a header
            field is malformed (see :mod:`numrnn.checkpoint_format`).
    """

    def __init__(self, path, where):
        self.where = where
        # closed by close() / __exit__; FileNotFoundError and other OS errors pass through.
        # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        try:
            _check_regular(os.fstat(fd).st_mode, path, where)
        except BaseException:
            os.close(fd)
            raise
        self._file = os.fdopen(fd, "rb")
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self):
        where = self.where
        start = self._file.read(4)
        if start != _ZIP_MAGIC:
            what = "an empty file" if not start else "not a .npz (zip) archive"
            raise CheckpointError(f"{where}: is {what}, so not a numrnn checkpoint")
        self._file.seek(0)
        try:
            self.zip = zipfile.ZipFile(self._file)
        except ZIP_ERRORS as err:
            raise CheckpointError(
                f"{where}: is truncated or corrupt ({type(err).__name__}: {err})"
            ) from None
        self.members = list_members(self.zip, where)
        self.header = _read_json_header(self.zip, self.members, where)
        check_header(self.header, where)
        self.layouts = _described_arrays(self.header)
        keys = [k for k in self.members if k != _HEADER]
        missing = [k for k in self.layouts if k not in self.members]
        unexpected = [k for k in keys if k not in self.layouts]
        if missing or unexpected:
            raise CheckpointError(
                f"{where}: the entries do not match the header: missing {missing}, "
                f"unexpected {unexpected}"
            )
        for key, (dtype, shape) in self.layouts.items():
            got = member_layout(self.zip, self.members[key], where)
            if got != (dtype, shape):
                raise CheckpointError(
                    f"{where}: entry {key!r} is {got[0].str} of shape {got[1]} but the header "
                    f"says {dtype.str} of shape {shape} (corrupt file)"
                )

    def read(self, key):
        """The array stored under ``key`` (its layout was checked when the file was opened)."""
        dtype, shape = self.layouts[key]
        return read_member(self.zip, self.members[key], dtype, shape, self.where)

    def verify(self, keys):
        """Read the members ``keys`` through (length and CRC) without keeping them."""
        for key in keys:
            verify_member(self.zip, self.members[key], self.where)

    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
