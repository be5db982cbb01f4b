"""Fuzzing ``numrnn.load`` with mutated checkpoints (hypothesis).

A valid checkpoint (LSTM language model, Adam with amsgrad, StepLR, a data
generator) is mutated: bits flipped, the file truncated, bytes overwritten,
JSON header values replaced by hostile ones, members' ``.npy`` headers
rewritten, members swapped, deleted or duplicated.  For every mutant:

* ``load`` raises ``CheckpointError`` or returns; never another exception;
* after a refusal the model, optimiser, scheduler and generators are exactly
  as before (no partial load);
* after a load, every parameter is exactly what an independent reader
  (``numpy.load``) finds in the mutated file, and the metadata is the file's;
  a bit flip or a truncation that loads left the parameters as saved;
* the peak of Python-tracked memory during ``load`` (``tracemalloc``: NumPy
  reports its arrays to it) stays below twice the bytes of the arrays the
  original file declares, plus a constant ``SLACK`` for what is not an array:
  the zip directory (~0.5 KB per member), the parsed JSON header (Python
  objects take up to ~30 times its text, which the fuzzer keeps under ~8 KB)
  and the read buffers (at most the member, here under 1 KB).  256 KiB
  covers all three for this ~14 KB file; the largest peak measured over
3000 byte-level mutants was 127 KB.

The default run tries 150 mutants; ``-m slow`` tries 3000.
"""

import contextlib
import json
import tracemalloc
import zipfile

import numpy as np
import pytest
from hostile.checkpoint_craft import (
    assert_same_snapshot,
    header_member,
    header_of,
    make_run,
    members_of,
    npy_bytes,
    snapshot,
    write_members,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from numrnn.io import CheckpointError, load, save

SLACK = 256 * 2**10

HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, -1, 1, 2**31, 2**53 + 1, 2**63, 2**64, 2**200, 10**400]),
    st.sampled_from([0.5, -0.0, 1e308, float("inf"), float("-inf"), float("nan")]),
    st.text(max_size=8),
    st.lists(st.integers(-3, 3), max_size=4),
    st.just([[[[[]]]]]),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.just({"__ndarray__": ["a"], "dtype": "<u4"}),
    st.just({"shape": [10**12], "dtype": "<f8"}),
)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "valid.npz"
    model, opt, sched, rng = make_run(seed=0)
    save(path, model, opt, sched, rng=rng, step=2, vocab=list("abcdefg"))
    with np.load(path) as f:
        declared = sum(f[k].nbytes for k in f.files if k != "header")
        saved = {k[len("model/") :]: f[k] for k in f.files if k.startswith("model/")}
    target = make_run(seed=5)
    # warm up: the first load imports and compiles what later loads reuse (zlib streams, the
    # .npy header parser), which would count against the first example's memory
    for data in (path.read_bytes(), path.read_bytes()[:-100]):
        (folder / "warm.npz").write_bytes(data)
        with contextlib.suppress(CheckpointError):
            load(folder / "warm.npz", *target[:3], rng=target[3])
    return {
        "path": path,
        "bytes": path.read_bytes(),
        "members": members_of(path),
        "declared": declared,
        "saved": saved,
        "mutant": folder / "mutant.npz",
        "target": target,
    }


# ------------------------------------------------------------------------------------------
# mutations: each a strategy of functions from the base to the mutant's bytes or members
# ------------------------------------------------------------------------------------------
@st.composite
def bit_flip(draw, size):
    pos, bit = draw(st.integers(0, size - 1)), draw(st.integers(0, 7))
    return "bytes", lambda data: data[:pos] + bytes([data[pos] ^ (1 << bit)]) + data[pos + 1 :]


@st.composite
def truncation(draw, size):
    n = draw(st.integers(0, size - 1))
    return "bytes", lambda data: data[:n]


@st.composite
def overwrite(draw, size):
    pos = draw(st.integers(0, size - 1))
    junk = draw(st.binary(min_size=1, max_size=16))
    return "bytes", lambda data: data[:pos] + junk + data[pos + len(junk) :]


def _json_paths(value, prefix=()):
    """Every path into a JSON value (dict keys and list indices)."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _json_paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):
            yield from _json_paths(v, (*prefix, i))


@st.composite
def header_edit(draw, header):
    paths = [p for p in _json_paths(header) if p]
    path = draw(st.sampled_from(paths))
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    value = draw(HOSTILE)

    def edit(members):
        h = json.loads(json.dumps(header))
        parent = h
        for k in path[:-1]:
            parent = parent[k]
        if action == "replace" or isinstance(parent, list):
            parent[path[-1]] = value
        elif action == "delete":
            del parent[path[-1]]
        else:
            parent[f"{path[-1]}_extra"] = value
        text = json.dumps(h, allow_nan=True)
        return [m if m[0] != "header.npy" else header_member(text) for m in members]

    return "members", edit


@st.composite
def npy_edit(draw, members):
    i = draw(st.integers(0, len(members) - 1))
    shape = tuple(draw(st.lists(st.sampled_from([0, 1, 4, 7, 16, 10**6, 10**12]), max_size=3)))
    descr = draw(st.sampled_from(["<f4", "<f8", "|u1", "<c8", "|O", ">f4", "<U2"]))
    keep_data = draw(st.booleans())

    def edit(ms):
        name, data = ms[i]
        body = data[data.index(b"\n") + 1 :] if keep_data else b""
        header = {"descr": descr, "fortran_order": False, "shape": shape}
        return [*ms[:i], (name, npy_bytes(header=header, data=body)), *ms[i + 1 :]]

    return "members", edit


@st.composite
def member_shuffle(draw, members):
    n = len(members)
    kind = draw(st.sampled_from(["swap_data", "swap_order", "delete", "duplicate", "rename"]))
    i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))

    def edit(ms):
        ms = list(ms)
        if kind == "swap_data":
            (a, da), (b, db) = ms[i], ms[j]
            ms[i], ms[j] = (a, db), (b, da)
        elif kind == "swap_order":
            ms[i], ms[j] = ms[j], ms[i]
        elif kind == "delete":
            del ms[i]
        elif kind == "duplicate":
            ms.append(ms[i])
        else:
            ms[i] = (ms[j][0], ms[i][1])
        return ms

    return "members", edit


def mutations(b):
    size = len(b["bytes"])
    header = header_of(b["path"])
    return st.one_of(
        bit_flip(size),
        truncation(size),
        overwrite(size),
        header_edit(header),
        npy_edit(b["members"]),
        member_shuffle(b["members"]),
    )


# ------------------------------------------------------------------------------------------
# the property
# ------------------------------------------------------------------------------------------
def _independent_read(path):
    """What numpy's own reader finds in the file: model arrays and metadata."""
    with np.load(path, allow_pickle=False) as f:
        params = {k[len("model/") :]: f[k] for k in f.files if k.startswith("model/")}
        header = json.loads(f["header"].tobytes())
    return params, header["metadata"]


def check_mutant(b, kind, mutate):
    path = b["mutant"]
    if kind == "bytes":
        path.write_bytes(mutate(b["bytes"]))
    else:
        write_members(path, mutate(b["members"]))
    model, opt, sched, rng = b["target"]
    before = snapshot(model, opt, sched, rng)
    tracemalloc.start()
    try:
        meta = load(path, model, opt, sched, rng=rng)
    except CheckpointError as err:
        assert str(path) in str(err)
        assert_same_snapshot(before, snapshot(model, opt, sched, rng))
        meta = None
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 2 * b["declared"] + SLACK, peak
    if meta is None:
        return "refused"
    params, expected_meta = _independent_read(path)
    assert meta == expected_meta
    for name, p in model.named_parameters():
        assert np.array_equal(p.data, params[name].astype(p.data.dtype)), name
        if kind == "bytes":  # a flipped, overwritten or truncated file that loads is the saved one
            assert np.array_equal(p.data, b["saved"][name]), name
    return "loaded"


def _fuzz(b, data):
    kind, mutate = data.draw(mutations(b))
    check_mutant(b, kind, mutate)


def _fuzz_settings(max_examples):
    """``max_examples`` mutants, no deadline, no example database; large draws allowed."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )


@_fuzz_settings(150)
@given(data=st.data())
def test_mutated_checkpoints_are_refused_or_load_what_they_hold(base, data):
    _fuzz(base, data)


@pytest.mark.slow
@_fuzz_settings(3000)
@given(data=st.data())
def test_mutated_checkpoints_many(base, data):
    _fuzz(base, data)


def test_the_mutations_reach_both_outcomes(base):
    """The oracle is not vacuous: a harmless mutation loads, a harmful one is refused."""
    reorder = lambda ms: list(reversed(ms))  # noqa: E731 - member order does not matter
    assert check_mutant(base, "members", reorder) == "loaded"
    assert check_mutant(base, "bytes", lambda d: d[: len(d) // 2]) == "refused"
    with zipfile.ZipFile(base["path"]) as z:
        offset = z.getinfo("model/head.weight.npy").header_offset
    flip = lambda d: d[: offset + 120] + bytes([d[offset + 120] ^ 1]) + d[offset + 121 :]  # noqa: E731
    assert check_mutant(base, "bytes", flip) == "refused"
