"""Hostile checkpoints and state dicts: crafted files, headers, targets, metadata, failed writes.

What is promised, and asserted by every case of the tables below:

* ``numrnn.load`` / ``numrnn.io.read_header`` read regular files only (a FIFO or a
  device is refused at once, a folder raises ``IsADirectoryError``) and refuse a bad file with
  ``CheckpointError`` (a ``ValueError``) whose message names the file and, for
  a header value, the field (``header['optimizer']['state']['0']['numbers']['step']``);
* the model's parameters and gradients, the optimiser's groups and state, the
  scheduler and every generator are exactly as they were after a refusal,
  and the file itself is byte for byte what it was;
* no array data is read before the member's ``.npy`` header, its declared size
  and the announced shape have been checked against the model: a member that
  inflates to 400 MB costs well under a megabyte;
* ``numrnn.save`` refuses a folder (``IsADirectoryError``), a FIFO or a device
  (``FileExistsError``), a dangling symbolic link (``FileNotFoundError``), a path
  of another type (``TypeError``), metadata that JSON cannot hold (``TypeError``)
  or nested deeper than 64 levels or larger than 4 MiB (``ValueError``); it
  follows a symbolic link to a regular file and keeps the file's permission bits;
  a write that fails midway (disk full) leaves the previous file byte for byte;
* ``Module.load_state_dict`` and ``Optimizer.load_state_dict`` refuse values that
  are not real numbers, do not fit the dtype, or are out of range, with
  ``TypeError`` / ``ValueError`` naming the key, and change nothing.

Concurrent writers and a reader: every load sees one whole file.  Killing a writer with
SIGKILL mid-save is tested in tests/test_io_resume.py.
"""

import errno
import json
import os
import pathlib
import signal
import stat
import threading
import tracemalloc
import zipfile

import numpy as np
import pytest
from hostile.checkpoint_craft import (
    assert_same_snapshot,
    deflated_zeros,
    header_member,
    header_of,
    make_run,
    members_of,
    npy_bytes,
    snapshot,
    with_header,
    write_members,
)

import numrnn
from numrnn.io import CheckpointError, load, read_header, save


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    """A valid checkpoint (LSTM language model, Adam, StepLR, PCG64 data generator)."""
    path = tmp_path_factory.mktemp("valid") / "valid.npz"
    model, opt, sched, rng = make_run(seed=0)
    save(path, model, opt, sched, rng=rng, step=2, vocab=list("abcdefg"))
    return path


@pytest.fixture(scope="module")
def valid_mt(tmp_path_factory):
    """The same, with an MT19937 data generator (its state holds an array)."""
    path = tmp_path_factory.mktemp("valid_mt") / "valid_mt.npz"
    model, opt, sched, rng = make_run(seed=0, rng_kind=np.random.MT19937)
    save(path, model, opt, sched, rng=rng)
    return path


def refused(path, match, *, rng_kind=np.random.PCG64):
    """Load ``path`` into a fresh run; assert the refusal and that nothing changed."""
    model, opt, sched, rng = make_run(seed=5, rng_kind=rng_kind)
    before = snapshot(model, opt, sched, rng)
    on_disk = path.read_bytes()
    with pytest.raises(CheckpointError, match=match) as info:
        load(path, model, opt, sched, rng=rng)
    assert str(path) in str(info.value)  # the message names the file
    assert_same_snapshot(before, snapshot(model, opt, sched, rng))
    assert path.read_bytes() == on_disk
    return str(info.value)


# ------------------------------------------------------------------------------------------
# header fields: each edit (path in the header, new value) and the field the message names
# ------------------------------------------------------------------------------------------
def _set(*keys):
    def edit(value):
        def change(h):
            target = h
            for k in keys[:-1]:
                target = target[k]
            target[keys[-1]] = value

        return change

    return edit


HEADER_CASES = [
    # RNG states: huge ints, wrong types
    ("rng_2**200", _set("rng", "state", "state")(2**200), r"\['rng'\]\['state'\]\['state'\]"),
    ("rng_negative", _set("rng", "state", "inc")(-1), r"\['rng'\]\['state'\]\['inc'\]"),
    ("rng_float", _set("rng", "has_uint32")(0.5), r"\['rng'\]\['has_uint32'\]"),
    ("rng_list", _set("rng", "uinteger")([1, 2]), r"\['rng'\]\['uinteger'\]"),
    ("rng_kind", _set("rng", "bit_generator")(7), r"\['rng'\]\['bit_generator'\]"),
    (
        "gen_2**200",
        _set("generators", "rnn._dropout_rng", "state", "state")(2**200),
        r"\['generators'\]\['rnn._dropout_rng'\]\['state'\]\['state'\]",
    ),
    ("gen_not_object", _set("generators", "rnn._dropout_rng")("x"), r"\['rnn._dropout_rng'\]"),
    # optimiser step: Infinity, 10**400, a string, a bool, negative, fractional
    (
        "step_inf",
        _set("optimizer", "state", "0", "numbers", "step")(float("inf")),
        r"\['optimizer'\]\['state'\]\['0'\]\['numbers'\]\['step'\] must be a finite number",
    ),
    (
        "step_10**400",
        _set("optimizer", "state", "0", "numbers", "step")(10**400),
        r"\['numbers'\]\['step'\] must be an integer in",
    ),
    ("step_str", _set("optimizer", "state", "0", "numbers", "step")("3"), r"\['step'\]"),
    ("step_bool", _set("optimizer", "state", "0", "numbers", "step")(True), r"\['step'\]"),
    ("step_negative", _set("optimizer", "state", "0", "numbers", "step")(-2), "'step'.*-2"),
    ("step_2**60", _set("optimizer", "state", "0", "numbers", "step")(2**60), r"'step'.*2\*\*53"),
    ("step_fraction", _set("optimizer", "state", "0", "numbers", "step")(2.5), "'step'.*2.5"),
    # hyperparameters
    ("lr_inf", _set("optimizer", "param_groups", 0, "lr")(float("inf")), r"\['lr'\]"),
    ("lr_str", _set("optimizer", "param_groups", 0, "lr")("fast"), "'lr'"),
    ("lr_huge", _set("optimizer", "param_groups", 0, "lr")(10**400), r"\['lr'\]"),
    ("amsgrad_str", _set("optimizer", "param_groups", 0, "amsgrad")("yes"), "'amsgrad'"),
    ("betas_short", _set("optimizer", "param_groups", 0, "betas")([0.9]), "'betas'"),
    ("betas_nested", _set("optimizer", "param_groups", 0, "betas")([[0.9], 0.9]), "betas"),
    ("params_bool", _set("optimizer", "param_groups", 0, "params")([True]), r"\['params'\]"),
    ("params_range", _set("optimizer", "param_groups", 0, "params")([99]), r"\['params'\]"),
    ("state_index", _set("optimizer", "state", "07")({}), r"\['state'\] key"),
    ("state_shape", _set("optimizer", "param_shapes", 0, 0)(-1), r"\['param_shapes'\]\[0\]"),
    # the scheduler
    (
        "sched_huge",
        _set("scheduler", "state", "last_epoch")(10**400),
        r"\['scheduler'\]\['state'\]\['last_epoch'\]",
    ),
    ("sched_type", _set("scheduler", "state", "gamma")({"a": 1}), r"\['gamma'\]"),
    ("sched_value", _set("scheduler", "state", "gamma")(-1.0), "gamma"),
    # array descriptions
    (
        "shape_bool",
        _set("model", "parameters", "head.bias", "shape")([True]),
        r"\['head.bias'\]\['shape'\]\[0\]",
    ),
    ("shape_str", _set("model", "parameters", "head.bias", "shape")("7"), r"\['shape'\]"),
    ("shape_neg", _set("model", "parameters", "head.bias", "shape")([-7]), r"\['shape'\]\[0\]"),
    ("ndim_99", _set("model", "parameters", "head.bias", "shape")([1] * 99), r"\['shape'\]"),
    ("dtype_object", _set("model", "parameters", "head.bias", "dtype")("|O"), r"\['dtype'\]"),
    ("dtype_complex", _set("model", "parameters", "head.bias", "dtype")("<c16"), r"\['dtype'\]"),
    ("dtype_bad", _set("model", "parameters", "head.bias", "dtype")("f8,f8"), r"\['dtype'\]"),
    ("dtype_type", _set("model", "parameters", "head.bias", "dtype")(8), r"\['dtype'\]"),
    # the layout itself
    ("format", _set("format")("other"), r"header\['format'\]"),
    ("version_str", _set("version")("1"), "format version '1'"),
    ("version_bool", _set("version")(True), "format version True"),
    ("unknown_key", _set("extra")(1), "header must be an object with the keys"),
    ("model_list", _set("model")([]), r"header\['model'\] must be a JSON object"),
    ("metadata_list", _set("metadata")([1]), r"header\['metadata'\]"),
    ("param_names", _set("optimizer", "param_names")("x"), r"\['param_names'\]"),
    ("class_type", _set("model", "class")(None), r"\['model'\]\['class'\]"),
]


#: values of the right type and range for the file's format, refused by the objects they load into
FIT_CASES = {
    "step_negative",
    "step_2**60",
    "step_fraction",
    "lr_str",
    "amsgrad_str",
    "betas_short",
    "sched_value",
}


@pytest.mark.parametrize("name, edit, field", HEADER_CASES, ids=[c[0] for c in HEADER_CASES])
def test_every_header_field_is_checked(valid, tmp_path, name, edit, field):
    bad = with_header(valid, tmp_path / f"{name}.npz", edit)
    refused(bad, field)
    if name in FIT_CASES:  # well-formed; refused when checked against the optimiser/scheduler
        assert read_header(bad)
    else:
        with pytest.raises(CheckpointError, match=field):
            read_header(bad)


def test_rng_array_holding_a_string(valid_mt, tmp_path):
    def edit(h):
        h["rng"]["state"]["key"]["__ndarray__"][0] = "a"

    bad = with_header(valid_mt, tmp_path / "a.npz", edit)
    refused(bad, r"\['rng'\]\['state'\]\['key'\]\['__ndarray__'\]\[0\]", rng_kind=np.random.MT19937)

    def overflow(h):  # out of uint32's range
        h["rng"]["state"]["key"]["__ndarray__"][3] = 2**40

    bad = with_header(valid_mt, tmp_path / "b.npz", overflow)
    refused(bad, r"\['__ndarray__'\]\[3\] must be an integer in", rng_kind=np.random.MT19937)


# ------------------------------------------------------------------------------------------
# raw JSON and zip members
# ------------------------------------------------------------------------------------------
def _raw_json(valid, tmp_path, name, text):
    members = [m if m[0] != "header.npy" else header_member(text) for m in members_of(valid)]
    return write_members(tmp_path / f"{name}.npz", members)


def test_deeply_nested_json_is_refused(valid, tmp_path):
    header = json.dumps(header_of(valid))
    deep = header[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}"
    refused(_raw_json(valid, tmp_path, "deep5000", deep), "not valid JSON")
    # 100 deep parses, and is refused by the depth limit on the metadata
    meta = header.replace('"metadata": {', '"metadata": {"x": ' + "[" * 100 + "]" * 100 + ", ")
    refused(_raw_json(valid, tmp_path, "deep100", meta), r"header\['metadata'\]\['x'\].*64 levels")


@pytest.mark.parametrize(
    "name, text, match",
    [
        ("duplicate_key", '{"format": "numrnn-checkpoint", "format": "x"}', "appears twice"),
        ("not_utf8", b"\xff\xfe{}", "not valid JSON"),
        ("not_object", "[1, 2]", "header must be a JSON object"),
        ("big_int", '{"format": ' + "9" * 5000 + "}", "not valid JSON"),
        ("empty", "", "not valid JSON"),
    ],
)
def test_raw_json_headers(valid, tmp_path, name, text, match):
    refused(_raw_json(valid, tmp_path, name, text), match)


def _swap(name, data):
    return lambda members: [(n, data if n == name else d) for n, d in members]


MEMBER_CASES = [
    ("not_npy", lambda m: m + [("notes.txt", b"hello")], "member 'notes.txt' is not a .npy"),
    ("dir_member", lambda m: m + [("model/", b"")], "member 'model/' is not a .npy"),
    (
        "duplicate",
        lambda m: m + [m[0]],
        "member 'model/embedding.weight.npy' appears more than once",
    ),
    ("missing", lambda m: m[1:], r"missing \['model/embedding.weight'\]"),
    ("no_header", lambda m: [x for x in m if x[0] != "header.npy"], "no 'header' entry"),
    (
        "lying_shape",
        _swap("model/head.bias.npy", npy_bytes(np.zeros(8, np.float32))),
        "entry 'model/head.bias' is <f4 of shape \\(8,\\) but the header says <f4 of shape \\(7,\\)",
    ),
    (
        "lying_dtype",
        _swap("model/head.bias.npy", npy_bytes(np.zeros(7, np.float64))),
        "is <f8 of shape",
    ),
    (
        "shape_10**12",
        _swap(
            "model/head.bias.npy",
            npy_bytes(header={"descr": "<f4", "fortran_order": False, "shape": (10**12,)}),
        ),
        r"declares \d+ bytes, but its .npy header announces",
    ),
    (
        "short_data",
        _swap("model/head.bias.npy", npy_bytes(np.zeros(7, np.float32))[:-4]),
        "declares .* bytes, but its .npy header announces",
    ),
    (
        "objects",
        _swap(
            "model/head.bias.npy",
            npy_bytes(header={"descr": "|O", "fortran_order": False, "shape": (7,)}),
        ),
        "holds Python objects",
    ),
    (
        "fortran",
        _swap(
            "model/head.weight.npy",
            npy_bytes(
                header={"descr": "<f4", "fortran_order": True, "shape": (7, 4)},
                data=bytes(7 * 4 * 4),
            ),
        ),
        "Fortran order",
    ),
    ("not_npy_data", _swap("model/head.bias.npy", b"just bytes"), "no valid .npy header"),
    (
        "npy_v3",
        _swap("model/head.bias.npy", b"\x93NUMPY\x03\x00" + npy_bytes(np.zeros(7))[8:]),
        "no valid .npy header",
    ),
    (
        "header_not_bytes",
        _swap("header.npy", npy_bytes(np.zeros(3))),
        "'header' entry must be 1-D uint8",
    ),
]


@pytest.mark.parametrize("name, change, match", MEMBER_CASES, ids=[c[0] for c in MEMBER_CASES])
def test_crafted_members(valid, tmp_path, name, change, match):
    bad = write_members(tmp_path / f"{name}.npz", change(members_of(valid)))
    refused(bad, match)
    with pytest.raises(CheckpointError, match=match):
        read_header(bad)


def test_compression_other_than_deflate_is_refused(valid, tmp_path):
    bad = write_members(tmp_path / "bz.npz", members_of(valid), zipfile.ZIP_BZIP2)
    refused(bad, "compression method 12")


def test_a_deflated_member_declaring_too_much_is_refused(valid, tmp_path):
    """A zip entry claiming more bytes than deflate can produce from its data (ratio > 1032)."""
    bad = tmp_path / "ratio.npz"
    write_members(bad, members_of(valid), zipfile.ZIP_DEFLATED)
    data = bytearray(bad.read_bytes())
    name = b"model/head.bias.npy"
    # its central directory record: signature, ..., uncompressed size at offset 24, name at 46
    start = data.find(b"PK\x01\x02")
    while data[start + 46 : start + 46 + len(name)] != name:
        start = data.find(b"PK\x01\x02", start + 4)
    data[start + 24 : start + 28] = (10**9).to_bytes(4, "little")
    bad.write_bytes(bytes(data))
    refused(bad, "declares 1000000000 bytes, more than its")


def test_load_refuses_what_is_not_a_regular_file(tmp_path):
    """A FIFO would block the reader and a device never end: both are refused at once."""
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    model = _model()
    before = snapshot(model)

    def hung(signum, frame):
        raise AssertionError("load blocked on a FIFO or kept reading a device")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)  # a reader that waits for a FIFO's writer would wait forever
    try:
        for path, match in ((fifo, "is a FIFO"), ("/dev/zero", "is a device")):
            with pytest.raises(CheckpointError, match=match) as info:
                load(path, model)
            assert str(path) in str(info.value)
            with pytest.raises(CheckpointError, match=match):
                read_header(path)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    with pytest.raises(IsADirectoryError):
        load(tmp_path, model)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz", model)
    assert_same_snapshot(before, snapshot(model))


class _Tied(numrnn.Module):
    """An embedding and an output layer sharing one weight (saved under both names)."""

    def __init__(self):
        super().__init__()
        self.emb = numrnn.Embedding(5, 3, seed=0)
        self.out = numrnn.Linear(3, 5, seed=1)
        self.out.weight = self.emb.weight


def test_tied_weights_must_agree_in_the_file(tmp_path):
    good = tmp_path / "tied.npz"
    save(good, _Tied())
    assert load(good, _Tied()) == {}
    members = [
        (n, npy_bytes(np.ones((5, 3), np.float32)) if n == "model/out.weight.npy" else d)
        for n, d in members_of(good)
    ]
    bad = write_members(tmp_path / "untied.npz", members)
    model = _Tied()
    before = snapshot(model)
    with pytest.raises(
        CheckpointError, match="'emb.weight' and 'out.weight' are one shared"
    ) as info:
        load(bad, model)
    assert str(bad) in str(info.value)
    assert_same_snapshot(before, snapshot(model))


# ------------------------------------------------------------------------------------------
# memory: nothing is read before it is checked
# ------------------------------------------------------------------------------------------
_BOMB = 400 * 2**20  # 400 MB of zeros, deflated to about 400 KB


@pytest.fixture(scope="module")
def bombs(valid, tmp_path_factory):
    """Two ~400 KB files whose 'model/head.bias' member inflates to 400 MB.

    ``lying``: the JSON header says (7,) float32, the member's .npy header says
    (100M,) float32.  ``consistent``: both say (100M,).
    """
    folder = tmp_path_factory.mktemp("bombs")
    npy = {"descr": "<f4", "fortran_order": False, "shape": (_BOMB // 4,)}
    members = members_of(valid)
    lying = deflated_zeros(folder / "lying.npz", members, "model/head.bias.npy", npy, _BOMB)
    header = header_of(valid)
    header["model"]["parameters"]["head.bias"]["shape"] = [_BOMB // 4]
    members = [m if m[0] != "header.npy" else header_member(header) for m in members]
    consistent = deflated_zeros(
        folder / "consistent.npz", members, "model/head.bias.npy", npy, _BOMB
    )
    return lying, consistent


def _peak(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_400mb_member_is_refused_without_reading_it(bombs):
    lying, consistent = bombs
    assert lying.stat().st_size < 2**20 and consistent.stat().st_size < 2**20
    # the limit: the small arrays, the header, a read chunk (256 KiB, which zipfile may buffer
    # a few times over) and bookkeeping; reading the member would take 400 MB
    limit = 4 * 2**20
    assert (
        _peak(lambda: refused(lying, r"\(104857600,\) but the header says <f4 of shape \(7,\)"))
        < limit
    )
    assert _peak(lambda: refused(consistent, r"'head.bias' has shape \(104857600,\)")) < limit


def test_read_header_streams_a_large_member_in_bounded_memory(bombs):
    _, consistent = bombs
    assert _peak(lambda: read_header(consistent)) < 4 * 2**20


# ------------------------------------------------------------------------------------------
# save: targets, permissions, symbolic links, paths, metadata
# ------------------------------------------------------------------------------------------
def _model():
    return numrnn.Linear(3, 2, seed=0)


def test_save_refuses_a_fifo_and_leaves_it(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(FileExistsError, match="is a FIFO") as info:
        save(fifo, _model())
    assert info.value.filename == str(fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(os.listdir(tmp_path)) == ["pipe"]


def _a_device(tmp_path):
    """A character device to save onto: a private copy of /dev/null when we may create one.

    As root, a test that saved onto /dev/null itself would, were the refusal ever
    broken, replace the system's /dev/null; so root gets a device node of its own.
    Others cannot create one, and cannot replace /dev/null either: they use it.
    """
    if os.geteuid() == 0:
        node = tmp_path / "null"
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        return node
    return pathlib.Path("/dev/null")


def test_save_refuses_a_device(tmp_path):
    device = _a_device(tmp_path)
    before = os.stat(device)
    with pytest.raises(FileExistsError, match="is a device"):
        save(device, _model())
    after = os.stat(device)
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino
    link = tmp_path / "link"  # through a symbolic link too
    link.symlink_to(device)
    with pytest.raises(FileExistsError, match="is a device"):
        save(link, _model())
    assert os.path.islink(link) and os.stat(device).st_ino == before.st_ino


def test_save_refuses_a_folder(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match="folder"):
        save(folder, _model())
    link = tmp_path / "d_link"
    link.symlink_to(folder)
    with pytest.raises(IsADirectoryError):
        save(link, _model())
    assert folder.is_dir() and not list(folder.iterdir())


def test_save_refuses_a_dangling_symlink(tmp_path):
    link = tmp_path / "link.npz"
    link.symlink_to(tmp_path / "missing" / "target.npz")
    with pytest.raises(FileNotFoundError, match="symbolic link to a missing file"):
        save(link, _model())
    assert os.path.islink(link) and sorted(os.listdir(tmp_path)) == ["link.npz"]


def test_save_follows_a_symlink_to_a_regular_file(tmp_path):
    real = tmp_path / "real.npz"
    save(real, _model(), n=1)
    os.chmod(real, 0o600)
    link = tmp_path / "latest.npz"
    link.symlink_to(real.name)
    save(link, numrnn.Linear(3, 2, seed=1), n=2)
    assert os.path.islink(link) and os.readlink(link) == real.name  # the link stays
    assert load(real, _model()) == {"n": 2}  # the file it points to was replaced
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["latest.npz", "real.npz"]


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_save_keeps_the_permission_bits(tmp_path, mode):
    path = tmp_path / "c.npz"
    save(path, _model())
    os.chmod(path, mode)
    if mode == 0o444 and os.geteuid() != 0:
        os.chmod(path, 0o644)  # a read-only file can still be replaced (the folder is writable)
        mode = 0o644
    save(path, _model(), n=2)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode


def test_new_files_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        save(tmp_path / "c.npz", _model())
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "c.npz").st_mode) == 0o640


def test_save_and_load_take_bytes_and_pathlike(tmp_path):
    raw = os.fsencode(tmp_path / "b.npz")
    save(raw, _model(), n=1)
    assert load(raw, _model()) == {"n": 1}
    assert read_header(tmp_path / "b.npz")["metadata"] == {"n": 1}


SAVE_REFUSALS = [
    ("path_int", dict(path=3), TypeError, "path must be a str, bytes or os.PathLike; got int"),
    ("path_none", dict(path=None), TypeError, "path must be a str, bytes or os.PathLike"),
    ("path_empty", dict(path=""), ValueError, "non-empty"),
    ("path_nul", dict(path="a\x00b"), ValueError, "NUL"),
    ("meta_set", dict(tags={1, 2}), TypeError, r"metadata\['tags'\] is of type set"),
    ("meta_numpy", dict(x=np.float32(1)), TypeError, r"metadata\['x'\].*NumPy scalar"),
    ("meta_array", dict(x=np.zeros(2)), TypeError, r"metadata\['x'\].*\.tolist"),
    ("meta_key", dict(x={1: 2}), TypeError, r"metadata\['x'\] has the key 1"),
    ("meta_bytes", dict(x=b"ab"), TypeError, r"metadata\['x'\] is of type bytes"),
    ("meta_object", dict(x=object()), TypeError, r"metadata\['x'\] is of type object"),
    ("meta_big_int", dict(x=10**5000), ValueError, "cannot be written as JSON"),
    ("meta_huge", dict(x="a" * (5 * 2**20)), ValueError, "at most 4194304"),
]


def _nested(depth):
    value = []
    for _ in range(depth):
        value = [value]
    return value


SAVE_REFUSALS += [
    ("meta_10000_deep", dict(x=_nested(10_000)), ValueError, r"metadata\['x'\].*64 levels"),
    ("meta_65_levels", dict(x=_nested(63)), ValueError, "64 levels"),
]


@pytest.mark.parametrize(
    "name, kwargs, exc, match", SAVE_REFUSALS, ids=[c[0] for c in SAVE_REFUSALS]
)
def test_save_refusals_write_nothing(tmp_path, name, kwargs, exc, match):
    target = tmp_path / "c.npz"
    save(target, _model(), n=1)
    before = target.read_bytes()
    path = kwargs.pop("path", target)
    with pytest.raises(exc, match=match):
        save(path, numrnn.Linear(3, 2, seed=1), **kwargs)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.npz"]


def test_metadata_at_the_depth_limit_round_trips(tmp_path):
    deep = _nested(62)  # the metadata dict is level 1, and 63 nested lists make 64 levels
    save(tmp_path / "c.npz", _model(), x=deep)
    assert load(tmp_path / "c.npz", _model()) == {"x": deep}


# ------------------------------------------------------------------------------------------
# a write that fails midway (disk full) leaves the previous file
# ------------------------------------------------------------------------------------------
def _disk_full_after(nbytes):
    """An ``os.fdopen`` whose files raise ENOSPC once ``nbytes`` have been written."""
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, f):
            self._f, self._left = f, nbytes

        def write(self, data):
            if len(data) > self._left:
                self._f.write(bytes(data)[: self._left])
                self._left = 0
                raise OSError(errno.ENOSPC, "No space left on device")
            self._left -= len(data)
            return self._f.write(data)

        def __getattr__(self, name):
            return getattr(self._f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._f.close()

    return lambda fd, *a, **k: Full(real_fdopen(fd, *a, **k))


@pytest.mark.parametrize("after", [0, 100, 2000])
def test_disk_full_midway_keeps_the_previous_file(tmp_path, monkeypatch, after):
    path = tmp_path / "c.npz"
    model, opt, sched, rng = make_run(seed=0)
    save(path, model, opt, sched, rng=rng, n=1)
    before = path.read_bytes()
    monkeypatch.setattr(os, "fdopen", _disk_full_after(after))
    with pytest.raises(OSError, match="No space left"):
        save(path, model, opt, sched, rng=rng, n=2)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.npz"]


def test_array_writer_failing_midway_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    save(path, _model(), n=1)
    before = path.read_bytes()
    real = np.lib.format.write_array
    calls = []

    def half(fp, array, **kw):  # the second array: half of it, then the disk is full
        calls.append(1)
        if len(calls) == 2:
            fp.write(b"\x93NUMPY" + bytes(20))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fp, array, **kw)

    monkeypatch.setattr(np.lib.format, "write_array", half)
    with pytest.raises(OSError, match="No space left"):
        save(path, numrnn.Linear(3, 2, seed=1), n=2)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.npz"]


def test_concurrent_writers_and_a_reader_see_whole_files(tmp_path):
    """Four writers replace one checkpoint while a reader loads it: every load is one whole file."""
    path = tmp_path / "c.npz"
    models = [numrnn.Linear(3, 2, seed=k) for k in range(4)]
    save(path, models[0], writer=0)
    weights = {k: m.weight.data.copy() for k, m in enumerate(models)}
    errors = []

    def write(k):
        try:
            for _ in range(15):
                save(path, models[k], writer=k)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    writers = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in writers:
        t.start()
    reader = numrnn.Linear(3, 2, seed=9)
    loads = 0
    while loads == 0 or any(t.is_alive() for t in writers):
        meta = load(path, reader)  # never a CheckpointError: the name always holds a whole file
        assert np.array_equal(reader.weight.data, weights[meta["writer"]])
        loads += 1
    for t in writers:
        t.join()
    assert not errors
    assert os.listdir(tmp_path) == ["c.npz"]  # no temporary file left behind


# ------------------------------------------------------------------------------------------
# Module.load_state_dict: validate everything, then assign
# ------------------------------------------------------------------------------------------
def _torch():
    return pytest.importorskip("torch")


MODULE_VALUES = [
    ("none", lambda: None, TypeError, "is None"),
    ("string", lambda: "0.5", TypeError, "must hold numbers"),
    ("strings", lambda: np.array(["a", "b"]), TypeError, "must hold numbers"),
    ("objects", lambda: np.array([object(), object()]), TypeError, "must hold numbers"),
    ("complex", lambda: np.ones(2, np.complex128), TypeError, "must hold numbers"),
    ("ragged", lambda: [[1.0], [1.0, 2.0]], TypeError, "cannot be read as an array"),
    ("dict", lambda: {"a": 1}, TypeError, "must hold numbers"),
    ("overflow", lambda: np.array([1e300, 0.0]), ValueError, "beyond the range of float32"),
    ("shape", lambda: np.zeros(3, np.float32), ValueError, r"expected shape \(2,\)"),
    ("bf16", lambda: _torch().zeros(2, dtype=_torch().bfloat16), TypeError, "bfloat16"),
    ("meta", lambda: _torch().zeros(2, device="meta"), TypeError, "meta tensor"),
    ("torch_complex", lambda: _torch().zeros(2, dtype=_torch().complex64), TypeError, "complex"),
]


@pytest.mark.parametrize("name, make, exc, match", MODULE_VALUES, ids=[c[0] for c in MODULE_VALUES])
def test_module_load_state_dict_refusals_change_nothing(name, make, exc, match):
    model = numrnn.Linear(3, 2, seed=0, dtype=np.float32)
    model.weight.grad[...] = 1.5
    before = snapshot(model)
    good = {"weight": np.full((2, 3), 7.0)}  # would change the weight: comes first
    with pytest.raises(exc, match=match) as info:
        model.load_state_dict({**good, "bias": make()})
    assert "'bias'" in str(info.value)
    assert_same_snapshot(before, snapshot(model))


def test_module_load_state_dict_needs_a_mapping():
    model = numrnn.Linear(3, 2, seed=0)
    with pytest.raises(TypeError, match="state_dict must be a mapping"):
        model.load_state_dict([("weight", np.zeros((2, 3)))])


def test_module_load_state_dict_accepts_real_numbers_of_any_width():
    model = numrnn.Linear(2, 1, seed=0, dtype=np.float32)
    model.load_state_dict({"weight": np.array([[1, 2]], np.int64), "bias": [True]})
    assert model.weight.data.tolist() == [[1.0, 2.0]] and model.bias.data.tolist() == [1.0]
    assert model.weight.data.dtype == np.float32


# ------------------------------------------------------------------------------------------
# Optimizer.load_state_dict: no silent cast, every number in range
# ------------------------------------------------------------------------------------------
def _stepped():
    model = numrnn.Linear(3, 2, seed=0, dtype=np.float32)
    opt = numrnn.optim.Adam(model.parameters(), lr=1e-2, amsgrad=True)
    model.weight.grad[...] = 0.5
    model.bias.grad[...] = -0.5
    opt.step()
    return model, opt


def _state(key, value):
    return lambda sd: sd["state"][1].update({key: value})


def _group(key, value):
    return lambda sd: sd["param_groups"][0].update({key: value})


OPTIMIZER_VALUES = [
    ("step_inf", _state("step", float("inf")), ValueError, "'step' of parameter 1"),
    ("step_nan", _state("step", float("nan")), ValueError, "'step' of parameter 1"),
    ("step_10**400", _state("step", 10**400), ValueError, r"'step' of parameter 1.*2\*\*53"),
    ("step_negative", _state("step", -1), ValueError, "'step' of parameter 1"),
    ("step_fraction", _state("step", 1.5), ValueError, "'step' of parameter 1"),
    ("step_bool", _state("step", True), ValueError, "'step' of parameter 1"),
    ("step_complex", _state("step", np.array(1 + 0j)), TypeError, "'step' of parameter 1"),
    ("step_vector", _state("step", np.array([1.0, 2.0])), ValueError, "'step'.*one number"),
    ("avg_complex", _state("exp_avg", np.ones(2, np.complex64)), TypeError, "'exp_avg'"),
    ("avg_bool", _state("exp_avg", np.ones(2, bool)), TypeError, "'exp_avg'"),
    ("avg_objects", _state("exp_avg", np.array([None, None])), TypeError, "'exp_avg'"),
    ("avg_strings", _state("exp_avg", np.array(["a", "b"])), TypeError, "'exp_avg'"),
    ("avg_overflow", _state("exp_avg", np.array([1e300, 0])), ValueError, "'exp_avg'.*range"),
    ("avg_sq_negative", _state("exp_avg_sq", -np.ones(2)), ValueError, "'exp_avg_sq'.*negative"),
    (
        "avg_bf16",
        lambda sd: _state("exp_avg", _torch().zeros(2, dtype=_torch().bfloat16))(sd),
        TypeError,
        "'exp_avg'.*bfloat16",
    ),
    (
        "avg_meta",
        lambda sd: _state("exp_avg", _torch().zeros(2, device="meta"))(sd),
        TypeError,
        "'exp_avg'.*meta",
    ),
    ("other_inf", _state("mu", float("inf")), ValueError, "'mu' of parameter 1"),
    ("lr_10**400", _group("lr", 10**400), ValueError, "lr"),
    ("lr_bool", _group("lr", True), ValueError, "'lr'"),
    ("amsgrad_str", _group("amsgrad", "yes"), ValueError, "'amsgrad' must be a bool"),
    ("betas_one", _group("betas", (0.9,)), ValueError, "'betas'"),
    ("betas_inf", _group("betas", (0.9, float("inf"))), ValueError, "'betas'"),
    ("initial_lr", _group("initial_lr", float("nan")), ValueError, "'initial_lr'"),
    ("params_dup", _group("params", [0, 0]), ValueError, "listed twice"),
    ("params_bool", _group("params", [False, True]), ValueError, "index False"),
    ("groups_type", lambda sd: sd.update(param_groups="x"), ValueError, "group"),
]


@pytest.mark.parametrize(
    "name, mutate, exc, match", OPTIMIZER_VALUES, ids=[c[0] for c in OPTIMIZER_VALUES]
)
def test_optimizer_load_state_dict_refusals_change_nothing(name, mutate, exc, match):
    model, opt = _stepped()
    sd = opt.state_dict()
    other_model, other = _stepped()
    other.param_groups[0]["lr"] = 0.5
    before = snapshot(other_model, other)
    mutate(sd)
    with pytest.raises(exc, match=match):
        other.load_state_dict(sd)
    assert_same_snapshot(before, snapshot(other_model, other))


def test_optimizer_step_at_the_limit_loads_and_steps():
    model, opt = _stepped()
    sd = opt.state_dict()
    for st in sd["state"].values():
        st["step"] = 2**53
    opt.load_state_dict(sd)
    opt.step()  # bias corrections 1 - beta**2**53 stay finite
    assert all(np.isfinite(p.data).all() for p in model.parameters())
