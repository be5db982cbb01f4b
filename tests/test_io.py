"""Checkpoints (numrnn.io.save / load) and torch interop (to_torch / from_torch).

Resume in a new process and SIGKILL during saves: tests/test_io_resume.py.
"""

import json
import os
import pickle
import re
import zipfile

import numpy as np
import pytest
from hostile.checkpoint_craft import assert_same_snapshot

import numrnn
from numrnn.interop import from_torch, to_torch
from numrnn.io import CheckpointError, load, read_header, save
from numrnn.models import CharLM
from numrnn.optim import SGD, Adam
from numrnn.optim.lr_scheduler import ExponentialLR, StepLR

V = 9


def make(seed=0, hidden=6, layers=2, cell="lstm", dtype=np.float64, **kw):
    model = CharLM(
        V,
        embed_size=4,
        hidden_size=hidden,
        num_layers=layers,
        cell=cell,
        dropout=0.3,
        dtype=dtype,
        seed=seed,
        **kw,
    )
    opt = Adam(model.parameters(), lr=1e-2, amsgrad=True)
    sched = StepLR(opt, step_size=2, gamma=0.5)
    return model, opt, sched


def train_steps(model, opt, sched, rng, n):
    for _ in range(n):
        idx = rng.integers(0, V, size=(6, 3))
        logits, _ = model(idx[:-1])
        _, dlogits = numrnn.functional.cross_entropy(logits.reshape(-1, V), idx[1:].reshape(-1))
        opt.zero_grad()
        model.backward(dlogits.reshape(logits.shape))
        numrnn.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()


def snapshot(model, opt=None, sched=None, rng=None):
    """Everything load may change, as plain values (copies)."""
    snap = {
        "params": {k: v.copy() for k, v in model.state_dict().items()},
        "gens": {
            n: json.dumps(g.bit_generator.state, default=str)
            for n, g in numrnn.checkpoint_fit.model_generators(model).items()
        },
    }
    if opt is not None:
        sd = opt.state_dict()
        snap["opt_groups"] = repr([dict(g.items()) for g in sd["param_groups"]])
        snap["opt_state"] = {
            i: {k: (np.array(v) if isinstance(v, np.ndarray) else v) for k, v in st.items()}
            for i, st in sd["state"].items()
        }
    if sched is not None:
        snap["sched"] = repr(sched.state_dict())
    if rng is not None:
        snap["rng"] = repr(rng.bit_generator.state)
    return snap


@pytest.fixture
def trained(tmp_path):
    """A trained model, optimiser, scheduler and data generator, saved to ckpt.npz."""
    model, opt, sched = make(seed=0)
    rng = np.random.default_rng(1)
    train_steps(model, opt, sched, rng, 3)
    path = tmp_path / "ckpt.npz"
    save(path, model, opt, sched, rng=rng, step=3, vocab=list("abcdefghi"), config={"lr": 1e-2})
    return path, model, opt, sched, rng


# ------------------------------------------------------------------------------------------
# round trips
# ------------------------------------------------------------------------------------------
def test_round_trip_restores_everything(trained):
    path, model, opt, sched, rng = trained
    model2, opt2, sched2 = make(seed=5)
    rng2 = np.random.default_rng(99)
    meta = load(path, model2, opt2, sched2, rng=rng2)
    assert meta == {"step": 3, "vocab": list("abcdefghi"), "config": {"lr": 1e-2}}
    assert_same_snapshot(snapshot(model, opt, sched, rng), snapshot(model2, opt2, sched2, rng2))
    # the restored objects continue exactly as the originals do (dropout, data, schedule)
    train_steps(model, opt, sched, rng, 3)
    train_steps(model2, opt2, sched2, rng2, 3)
    assert_same_snapshot(snapshot(model, opt, sched, rng), snapshot(model2, opt2, sched2, rng2))


def test_header_describes_the_file(trained):
    path = trained[0]
    h = read_header(path)
    assert h["format"] == "numrnn-checkpoint" and h["version"] == numrnn.io.VERSION == 1
    assert list(h["model"]["parameters"]) == list(trained[1].state_dict())
    assert set(h["generators"]) == {"rnn._dropout_rng"}
    assert h["optimizer"]["class"] == "Adam" and h["scheduler"]["class"] == "StepLR"
    assert h["optimizer"]["state"]["0"]["numbers"] == {"step": 3}
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
    assert "header.npy" in names and "model/rnn.weight_hh_l1.npy" in names
    assert "optim/state/0/exp_avg.npy" in names and "optim/state/0/max_exp_avg_sq.npy" in names


def test_model_only_and_partial_loads(trained, tmp_path):
    path, model, *_ = trained
    model2, opt2, sched2 = make(seed=5)
    before = snapshot(model2, opt2, sched2)
    load(path, model2)  # the optimiser and scheduler state in the file are simply not used
    after = snapshot(model2, opt2, sched2)
    assert_same_snapshot(snapshot(model), {k: after[k] for k in ("params", "gens")})
    assert after["opt_groups"] == before["opt_groups"] and after["sched"] == before["sched"]
    # a model-only file refuses an optimiser, a scheduler or an rng it does not hold
    only = tmp_path / "only.npz"
    save(only, model)
    for kwargs, what in (
        ({"optimizer": opt2}, "optimiser"),
        ({"scheduler": sched2}, "scheduler"),
        ({"rng": np.random.default_rng()}, "rng"),
    ):
        with pytest.raises(CheckpointError, match=what):
            load(only, model2, **kwargs)


@pytest.mark.parametrize(
    "bitgen", [np.random.PCG64, np.random.MT19937, np.random.Philox, np.random.SFC64]
)
def test_caller_rng_of_any_bit_generator(tmp_path, bitgen):
    model = numrnn.Linear(2, 3)
    rng = np.random.Generator(bitgen(3))
    rng.random(5)
    save(tmp_path / "c.npz", model, rng=rng)
    expected = rng.random(4)
    other = np.random.Generator(bitgen(4))
    load(tmp_path / "c.npz", model, rng=other)
    assert np.array_equal(other.random(4), expected)
    if bitgen is not np.random.PCG64:
        with pytest.raises(CheckpointError, match="generator"):
            load(tmp_path / "c.npz", model, rng=np.random.default_rng())


def test_float32_and_torch_backend(tmp_path):
    torch = pytest.importorskip("torch")
    model, opt, sched = make(seed=0, dtype=np.float32, backend="torch")
    rng = np.random.default_rng(1)
    train_steps(model, opt, sched, rng, 2)
    assert isinstance(model.head.weight.data, torch.Tensor)
    save(tmp_path / "t.npz", model, opt, sched, rng=rng)
    assert read_header(tmp_path / "t.npz")["model"]["parameters"]["head.weight"]["dtype"] == "<f4"
    # into a NumPy model, and into a torch one
    for backend in ("numpy", "torch"):
        model2, opt2, sched2 = make(seed=3, dtype=np.float32, backend=backend)
        rng2 = np.random.default_rng()
        load(tmp_path / "t.npz", model2, opt2, sched2, rng=rng2)
        assert_same_snapshot(snapshot(model, opt, sched, rng), snapshot(model2, opt2, sched2, rng2))
        assert model2.backend == backend
        if backend == "torch":
            assert isinstance(opt2.state[model2.head.weight]["exp_avg"], torch.Tensor)


def test_other_optimisers_and_schedulers(tmp_path):
    model = numrnn.GRU(3, 4, dtype=np.float64, seed=0)
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    sched = ExponentialLR(opt, gamma=0.9)
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    for _ in range(2):
        out, _ = model(x)
        opt.zero_grad()
        model.backward(out)
        opt.step()
        sched.step()
    save(tmp_path / "s.npz", model, opt, sched)
    model2 = numrnn.GRU(3, 4, dtype=np.float64, seed=1)
    opt2 = SGD(model2.parameters(), lr=0.5, momentum=0.9, nesterov=True)
    sched2 = ExponentialLR(opt2, gamma=0.9)
    load(tmp_path / "s.npz", model2, opt2, sched2)
    assert_same_snapshot(snapshot(model, opt, sched), snapshot(model2, opt2, sched2))
    # Adam state into an SGD optimiser, or StepLR state into ExponentialLR: refused
    m3, adam, step = make()
    save(tmp_path / "a.npz", m3, adam, step)
    m4, _, _ = make()
    wrong_opt = SGD(m4.parameters(), lr=0.1)
    with pytest.raises(CheckpointError, match="Adam's; the optimiser given is a SGD"):
        load(tmp_path / "a.npz", m4, wrong_opt)
    with pytest.raises(CheckpointError, match="StepLR's"):
        load(tmp_path / "a.npz", m4, None, ExponentialLR(Adam(m4.parameters()), 0.5))


# ------------------------------------------------------------------------------------------
# metadata
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad, where",
    [
        ({"vocab": {"a", "b"}}, "metadata['vocab'] is of type set"),
        ({"n": np.int64(3)}, "NumPy scalar"),
        ({"arr": np.zeros(2)}, "tolist"),
        ({"m": {1: "a"}}, "keys must be strings"),
        ({"f": [1, object()]}, "metadata['f'][1] is of type object"),
        ({"b": b"bytes"}, "bytes"),
    ],
)
def test_non_json_metadata_is_refused_and_nothing_written(tmp_path, bad, where):
    model = numrnn.Linear(2, 2)
    path = tmp_path / "m.npz"
    save(path, model, kept=True)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=re.escape(where)):
        save(path, model, **bad)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


def test_metadata_json_round_trip(tmp_path):
    model = numrnn.Linear(2, 2)
    meta = {
        "vocab": ["a", "é", "\n"],
        "epoch": 3,
        "best": float("inf"),
        "lr": 0.1 + 0.2,
        "nested": {"t": (1, 2), "none": None, "flag": False},
        "big": 2**70,
    }
    save(tmp_path / "m.npz", model, **meta)
    got = load(tmp_path / "m.npz", model)
    assert got == {**meta, "nested": {"t": [1, 2], "none": None, "flag": False}}
    assert got["lr"] == 0.1 + 0.2  # floats are exact


def test_cycle_in_metadata_is_refused(tmp_path):
    loop = []
    loop.append(loop)
    with pytest.raises(TypeError, match="cycle"):
        save(tmp_path / "m.npz", numrnn.Linear(2, 2), loop=loop)


def test_argument_types(tmp_path):
    model = numrnn.Linear(2, 2)
    with pytest.raises(TypeError, match="model must be a numrnn.Module"):
        save(tmp_path / "x.npz", {"w": np.zeros(2)})
    with pytest.raises(TypeError, match="optimizer"):
        save(tmp_path / "x.npz", model, optimizer="adam")
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        save(tmp_path / "x.npz", model, rng=np.random.RandomState(0))
    assert not os.listdir(tmp_path)


# ------------------------------------------------------------------------------------------
# atomic writes
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_failed_save_keeps_previous_file_and_removes_temporary(tmp_path, monkeypatch, where):
    model = numrnn.Linear(3, 2, seed=0)
    path = tmp_path / "c.npz"
    save(path, model, n=1)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError(f"simulated failure in {where}")

    if where == "write":
        monkeypatch.setattr(np, "savez", boom)
    elif where == "fsync":
        monkeypatch.setattr(os, "fsync", boom)
    else:
        monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="simulated"):
        save(path, numrnn.Linear(3, 2, seed=1), n=2)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.npz"]
    assert load(path, model) == {"n": 1}


def test_save_replaces_and_ignores_stale_temporaries(tmp_path):
    model = numrnn.Linear(3, 2, seed=0)
    path = tmp_path / "c.npz"
    stale = tmp_path / ".c.npz.12345.deadbeef.tmp"  # as a killed writer leaves one
    stale.write_bytes(b"PK\x03\x04 half a zip")
    save(path, model, n=1)
    save(path, model, n=2)
    assert load(path, model) == {"n": 2}
    assert sorted(os.listdir(tmp_path)) == [stale.name, "c.npz"]


# ------------------------------------------------------------------------------------------
# refusals: each leaves model, optimiser, scheduler and rng exactly as they were
# ------------------------------------------------------------------------------------------
def _rewrite(src, dst, change):
    """Copy a checkpoint's entries, let ``change(entries, header)`` edit them, write them out."""
    with np.load(src, allow_pickle=False) as f:
        entries = {k: f[k] for k in f.files}
    header = json.loads(entries["header"].tobytes())
    change(entries, header)
    if header is not None:
        entries["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(dst, **entries)
    return dst


def _bad_files(trained, tmp_path):
    path = trained[0]
    data = path.read_bytes()
    files = {}

    files["truncated"] = tmp_path / "truncated.npz"
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["truncated_tail"] = tmp_path / "truncated_tail.npz"
    files["truncated_tail"].write_bytes(data[:-10])
    files["empty"] = tmp_path / "empty.npz"
    files["empty"].write_bytes(b"")
    flipped = bytearray(data)
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("model/rnn.weight_hh_l0.npy")
    flipped[info.header_offset + 200] ^= 0xFF  # inside that entry's array data
    files["corrupt"] = tmp_path / "corrupt.npz"
    files["corrupt"].write_bytes(bytes(flipped))
    files["not_zip"] = tmp_path / "text.npz"
    files["not_zip"].write_text("this is not a checkpoint\n")
    files["npy"] = tmp_path / "single.npz"
    np.save(files["npy"].open("wb"), np.zeros(3))
    files["raw_pickle"] = tmp_path / "raw.npz"
    files["raw_pickle"].write_bytes(pickle.dumps({"weights": np.zeros(3)}))

    def version(e, h):
        h["version"] = 2

    def drop_param(e, h):
        del e["model/head.bias"]

    def extra_entry(e, h):
        e["model/extra"] = np.zeros(2)

    def no_header(e, h):
        del e["header"]

    files["version"] = _rewrite(path, tmp_path / "version.npz", version)
    files["entry_missing"] = _rewrite(path, tmp_path / "entry_missing.npz", drop_param)
    files["entry_unexpected"] = _rewrite(path, tmp_path / "entry_unexpected.npz", extra_entry)
    files["no_header"] = tmp_path / "no_header.npz"
    with np.load(path) as f:
        np.savez(files["no_header"], **{k: f[k] for k in f.files if k != "header"})

    def objects(e, h):  # an object array where a parameter should be (np.savez of a dict)
        e["model/head.bias"] = np.array({"payload": [1, 2, 3]}, dtype=object)

    files["object_array"] = tmp_path / "objects.npz"
    with np.load(path) as f:
        entries = {k: f[k] for k in f.files}
    objects(entries, None)
    np.savez(files["object_array"], **entries)  # np.savez pickles the object array
    return files


MESSAGES = {
    "truncated": "truncated or corrupt",
    "truncated_tail": "truncated or corrupt",
    "empty": "empty file",
    "corrupt": "truncated or corrupt",
    "not_zip": "not a .npz",
    "npy": "not a .npz",
    "raw_pickle": "not a .npz",
    "version": "format version 2",
    "entry_missing": r"missing \['model/head.bias'\]",
    "entry_unexpected": r"unexpected \['model/extra'\]",
    "no_header": "no 'header' entry",
    "object_array": "holds Python objects",
}


def test_bad_files_are_refused_and_nothing_changes(trained, tmp_path):
    _, model, opt, sched, rng = trained
    files = _bad_files(trained, tmp_path)
    assert files.keys() == MESSAGES.keys()
    model2, opt2, sched2 = make(seed=5)
    train_steps(model2, opt2, sched2, np.random.default_rng(8), 1)
    rng2 = np.random.default_rng(7)
    before = snapshot(model2, opt2, sched2, rng2)
    for kind, bad in files.items():
        with pytest.raises(CheckpointError, match=MESSAGES[kind]) as info:
            load(bad, model2, opt2, sched2, rng=rng2)
        assert str(bad) in str(info.value), kind  # the message names the file
        assert_same_snapshot(snapshot(model2, opt2, sched2, rng2), before)


def test_pickled_objects_are_never_unpickled(tmp_path):
    class Bomb:
        def __reduce__(self):
            return (open, (str(tmp_path / "exploded"), "w"))

    model = numrnn.Linear(2, 2)
    save(tmp_path / "ok.npz", model)
    with np.load(tmp_path / "ok.npz") as f:
        entries = {k: f[k] for k in f.files}
    entries["model/weight"] = np.array([Bomb()], dtype=object)
    np.savez(tmp_path / "bomb.npz", **entries)
    (tmp_path / "raw.pkl").write_bytes(pickle.dumps(Bomb()))
    for bad in ("bomb.npz", "raw.pkl"):
        with pytest.raises(CheckpointError):
            load(tmp_path / bad, model)
    assert not (tmp_path / "exploded").exists()


def test_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.npz", numrnn.Linear(2, 2))


def test_shape_mismatch_names_parameter_and_shapes(trained, tmp_path):
    path = tmp_path / "h5.npz"
    save(path, CharLM(V, embed_size=4, hidden_size=5, num_layers=2, dtype=np.float64, seed=0))
    model, opt, sched = make(hidden=4)
    before = snapshot(model, opt, sched)
    msg = (
        f"checkpoint {path}: parameter 'rnn.weight_ih_l0' has shape (20, 4), "
        "the model expects (16, 4)"
    )
    with pytest.raises(CheckpointError) as info:
        load(path, model)
    assert str(info.value) == msg
    assert_same_snapshot(snapshot(model, opt, sched), before)


def test_wrong_keys_are_listed(trained):
    path = trained[0]
    model, opt, sched = make(layers=1)
    before = snapshot(model, opt, sched)
    with pytest.raises(CheckpointError, match=r"missing \[\], unexpected \['rnn.weight_ih_l1'"):
        load(path, model, opt, sched)
    gru, gopt, gsched = make(cell="gru")
    with pytest.raises(CheckpointError, match="has shape"):  # same names, GRU's 3H rows
        load(path, gru, gopt, gsched)
    assert_same_snapshot(snapshot(model, opt, sched), before)


def test_optimizer_mismatches_leave_everything_unchanged(trained):
    path, model, *_ = trained
    model2, _, _ = make(seed=5)
    rng2 = np.random.default_rng(3)
    # the optimiser over the parameters in another order
    opt_rev = Adam(list(reversed(model2.parameters())), lr=1e-2, amsgrad=True)
    sched_rev = StepLR(opt_rev, 2, 0.5)
    before = snapshot(model2, opt_rev, sched_rev, rng2)
    with pytest.raises(
        CheckpointError, match="parameter 0 is 'head.bias' here but 'embedding.weight'"
    ):
        load(path, model2, opt_rev, sched_rev, rng=rng2)
    assert_same_snapshot(snapshot(model2, opt_rev, sched_rev, rng2), before)
    # over a subset of them
    opt_sub = Adam(model2.parameters()[:3], lr=1e-2, amsgrad=True)
    with pytest.raises(
        CheckpointError, match=r"covers 11 parameter\(s\); the optimiser given has 3"
    ):
        load(path, model2, opt_sub)
    # a scheduler state that fails the scheduler's own checks: refused, after the
    # optimiser's state was found to fit, and the optimiser is still unchanged
    opt_ok = Adam(model2.parameters(), lr=1e-2, amsgrad=True)
    sched_bad = StepLR(opt_ok, 2, 0.5)

    def bad_sched(e, h):
        h["scheduler"]["state"]["step_size"] = 0

    bad = _rewrite(path, path.with_name("bad_sched.npz"), bad_sched)
    before = snapshot(model2, opt_ok, sched_bad, rng2)
    with pytest.raises(CheckpointError, match="scheduler state does not fit.*step_size"):
        load(bad, model2, opt_ok, sched_bad, rng=rng2)
    assert_same_snapshot(snapshot(model2, opt_ok, sched_bad, rng2), before)


def test_malformed_header_and_rng_state(trained):
    path = trained[0]
    model2, opt2, sched2 = make(seed=5)
    rng2 = np.random.default_rng(3)
    before = snapshot(model2, opt2, sched2, rng2)

    def drop_generators(e, h):
        h["generators"] = {}

    def bad_rng(e, h):
        h["rng"]["state"] = {"state": "oops"}

    def bad_optim_shape(e, h):  # header and entry disagree
        h["optimizer"]["state"]["0"]["arrays"]["exp_avg"]["shape"] = [1]

    def no_metadata(e, h):
        del h["model"]

    cases = [
        (drop_generators, r"generators do not match.*missing \['rnn._dropout_rng'\]"),
        (bad_rng, r"header field header\['rng'\]\['state'\]\['state'\] must be an integer"),
        (bad_optim_shape, "header says"),
        (no_metadata, r"header field header must be an object with the keys"),
    ]
    for change, msg in cases:
        bad = _rewrite(path, path.with_name(change.__name__ + ".npz"), change)
        with pytest.raises(CheckpointError, match=msg):
            load(bad, model2, opt2, sched2, rng=rng2)
        assert_same_snapshot(snapshot(model2, opt2, sched2, rng2), before)


# ------------------------------------------------------------------------------------------
# torch interop
# ------------------------------------------------------------------------------------------
torch_cases = [
    (
        "RNN",
        dict(
            input_size=3,
            hidden_size=5,
            num_layers=2,
            nonlinearity="relu",
            bias=False,
            batch_first=True,
            dropout=0.5,
            bidirectional=True,
        ),
    ),
    ("RNN", dict(input_size=3, hidden_size=5)),
    (
        "LSTM",
        dict(
            input_size=3,
            hidden_size=6,
            num_layers=2,
            bidirectional=True,
            proj_size=4,
            batch_first=True,
            dropout=0.25,
        ),
    ),
    ("LSTM", dict(input_size=3, hidden_size=6, bias=False)),
    ("GRU", dict(input_size=4, hidden_size=5, num_layers=3, bidirectional=True, dropout=0.1)),
    ("RNNCell", dict(input_size=3, hidden_size=4, nonlinearity="relu")),
    ("LSTMCell", dict(input_size=3, hidden_size=4, bias=False)),
    ("GRUCell", dict(input_size=3, hidden_size=4)),
    ("Linear", dict(in_features=4, out_features=3)),
    ("Linear", dict(in_features=4, out_features=3, bias=False)),
    ("Embedding", dict(num_embeddings=7, embedding_dim=3, padding_idx=2)),
    ("Embedding", dict(num_embeddings=7, embedding_dim=3)),
]

TORCH_OPTIONS = (
    "input_size",
    "hidden_size",
    "num_layers",
    "nonlinearity",
    "bias",
    "batch_first",
    "dropout",
    "bidirectional",
    "proj_size",
    "in_features",
    "out_features",
    "num_embeddings",
    "embedding_dim",
    "padding_idx",
    "training",
)


def _options(m):
    out = {k: getattr(m, k) for k in TORCH_OPTIONS if hasattr(m, k)}
    if "bias" in out and not isinstance(out["bias"], bool):
        out["bias"] = out["bias"] is not None  # Linear's bias is a parameter (or None)
    return out


@pytest.mark.parametrize("name, kw", torch_cases)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_torch_round_trip_is_exact(name, kw, dtype):
    torch = pytest.importorskip("torch")
    ours = getattr(numrnn, name)(**kw, dtype=dtype, seed=3)
    ours.eval()
    ref = to_torch(ours)
    assert type(ref) is getattr(torch.nn, name)
    assert not ref.training
    for k, v in ours.state_dict().items():
        t = ref.state_dict()[k]
        assert t.dtype == getattr(torch, np.dtype(dtype).name)
        assert np.array_equal(t.numpy(), v), k  # the same bits
    assert list(ref.state_dict()) == list(ours.state_dict())
    back = from_torch(ref)
    assert type(back) is type(ours) and back.param_dtype == np.dtype(dtype)
    assert _options(back) == _options(ours)
    for k, v in ours.state_dict().items():
        assert np.array_equal(back.state_dict()[k], v), k
    # and the options as torch sees them
    for opt, value in kw.items():
        if name == "Linear" and opt == "bias":
            assert (ref.bias is not None) == value
        else:
            assert getattr(ref, opt) == value, opt


def _forward_both(ours, ref, torch, rng):
    """Run both modules on the same random input; return pairs of outputs to compare."""
    name = type(ours).__name__
    dt = ours.param_dtype
    if name == "Embedding":
        idx = rng.integers(0, ours.num_embeddings, size=(4, 3))
        return [(ours(idx), ref(torch.from_numpy(idx)))]
    if name == "Linear":
        x = rng.standard_normal((5, ours.in_features)).astype(dt)
        return [(ours(x), ref(torch.from_numpy(x)))]
    if name.endswith("Cell"):
        x = rng.standard_normal((2, ours.input_size)).astype(dt)
        y, r = ours(x), ref(torch.from_numpy(x))
        if name == "LSTMCell":
            return list(zip(y, r))
        return [(y, r)]
    T, B = 5, 2
    x = rng.standard_normal(
        (B, T, ours.input_size) if ours.batch_first else (T, B, ours.input_size)
    ).astype(dt)
    (out, hn), (rout, rhn) = ours(x), ref(torch.from_numpy(x))
    pairs = [(out, rout)]
    pairs += list(zip(hn, rhn)) if name == "LSTM" else [(hn, rhn)]
    return pairs


@pytest.mark.parametrize("name, kw", torch_cases)
def test_converted_modules_compute_the_same(name, kw):
    # float64, eval mode (no dropout): each output is a few matrix products and
    # elementwise functions, so the two implementations agree to ~1e-15 relative
    # (summation order in BLAS); 1e-10 leaves room and still flags any real error.
    torch = pytest.importorskip("torch")
    from helpers import rel_err

    rng = np.random.default_rng(0)
    ours = getattr(numrnn, name)(**kw, dtype=np.float64, seed=1).eval()
    ref = to_torch(ours)
    with torch.no_grad():
        for a, b in _forward_both(ours, ref, torch, rng):
            assert rel_err(a, b.numpy()) < 1e-10
    # and the reverse direction, from a torch module with torch's own initialisation
    tref = getattr(torch.nn, name)(**kw, dtype=torch.float64).eval()
    back = from_torch(tref).eval()
    with torch.no_grad():
        for a, b in _forward_both(back, tref, torch, rng):
            assert rel_err(a, b.numpy()) < 1e-10


def test_from_torch_dtype_and_refusals():
    torch = pytest.importorskip("torch")
    lstm = torch.nn.LSTM(3, 4)  # float32
    m = from_torch(lstm)
    assert m.param_dtype == np.float32 and m.training
    m64 = from_torch(lstm, dtype=np.float64)
    assert m64.param_dtype == np.float64
    for k, v in lstm.state_dict().items():
        assert np.array_equal(m64.state_dict()[k], v.numpy().astype(np.float64))
    with pytest.raises(TypeError, match="float16"):
        from_torch(torch.nn.Linear(2, 2, dtype=torch.float16))
    from_torch(torch.nn.Linear(2, 2, dtype=torch.float16), dtype=np.float32)  # explicit: fine
    with pytest.raises(ValueError, match="max_norm"):
        from_torch(torch.nn.Embedding(5, 2, max_norm=1.0))
    with pytest.raises(TypeError, match="no numrnn counterpart for Conv1d"):
        from_torch(torch.nn.Conv1d(2, 2, 3))
    with pytest.raises(TypeError, match="no torch.nn counterpart for CharLM"):
        to_torch(CharLM(5, 2, 3))
    g = from_torch(torch.nn.GRU(2, 3), backend="torch")
    assert g.backend == "torch"


def test_to_torch_from_torch_backend_module():
    torch = pytest.importorskip("torch")
    ours = numrnn.GRU(3, 4, dtype=np.float64, seed=0, backend="torch")
    ref = to_torch(ours)
    assert (
        ref.weight_hh_l0.device == torch.device("cpu") and ref.weight_hh_l0.dtype == torch.float64
    )
    for k, v in ours.state_dict().items():
        assert np.array_equal(ref.state_dict()[k].numpy(), v)


def test_import_numrnn_io_needs_no_torch():
    import subprocess
    import sys

    code = (
        "import sys; import numrnn.io; import numrnn; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
