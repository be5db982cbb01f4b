"""Building hostile checkpoint files, and the "nothing changed" snapshot, for the hostile tests.

A crafted file is written member by member with ``zipfile`` (not ``np.savez``),
so that anything can be put in it: a JSON header edited field by field, a
member's ``.npy`` header that lies about its shape, a member that is not
``.npy``, a name used twice, a member that inflates to hundreds of megabytes.
"""

import io
import json
import warnings
import zipfile

import numpy as np

import numrnn
from numrnn.optim import Adam
from numrnn.optim.lr_scheduler import StepLR


def make_run(seed=0, rng_kind=np.random.PCG64):
    """A small LSTM language model, trained 2 steps: model, Adam, StepLR and a data generator."""
    model = numrnn.models.CharLM(
        7, embed_size=3, hidden_size=4, num_layers=1, cell="lstm", dropout=0.2, seed=seed
    )
    opt = Adam(model.parameters(), lr=1e-2, amsgrad=True)
    sched = StepLR(opt, step_size=2, gamma=0.5)
    rng = np.random.Generator(rng_kind(seed + 1))
    for _ in range(2):
        idx = rng.integers(0, 7, size=(5, 2))
        logits, _ = model(idx[:-1])
        _, dlogits = numrnn.functional.cross_entropy(logits.reshape(-1, 7), idx[1:].reshape(-1))
        opt.zero_grad()
        model.backward(dlogits.reshape(logits.shape))
        opt.step()
        sched.step()
    return model, opt, sched, rng


def snapshot(model, opt=None, sched=None, rng=None):
    """Everything a load may change, as plain comparable values (copies)."""
    snap = {
        "params": {n: p.data.copy() for n, p in model.named_parameters()},
        "grads": {n: p.grad.copy() for n, p in model.named_parameters()},
        "gens": {
            n: repr(g.bit_generator.state)
            for n, g in numrnn.checkpoint_fit.model_generators(model).items()
        },
    }
    if opt is not None:
        snap["opt_groups"] = repr(
            [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
        )
        snap["opt_state"] = {
            i: {k: np.array(v, copy=True) for k, v in opt.state[p].items()}
            for i, p in enumerate(opt.param_groups[0]["params"])
            if p in opt.state
        }
        snap["opt_ids"] = [id(p) for g in opt.param_groups for p in g["params"]]
    if sched is not None:
        snap["sched"] = repr(sched.state_dict())
    if rng is not None:
        snap["rng"] = repr(rng.bit_generator.state)
    return snap


def assert_same_snapshot(before, after):
    """Two snapshots hold the same values: every array equal entry by entry, the rest ``==``.

    Takes this module's ``snapshot`` (one object before and after a load) or any
    dict of the same layout: ``params`` / ``grads`` ``{name: array}``, ``opt_state``
    ``{index: {key: array}}``, anything else compared with ``==``.
    """
    assert before.keys() == after.keys()
    for key in before:
        if key in ("params", "grads"):
            assert before[key].keys() == after[key].keys(), key
            for n in before[key]:
                assert np.array_equal(before[key][n], after[key][n]), (key, n)
        elif key == "opt_state":
            assert before[key].keys() == after[key].keys()
            for i in before[key]:
                assert before[key][i].keys() == after[key][i].keys()
                for k in before[key][i]:
                    assert np.array_equal(before[key][i][k], after[key][i][k]), (i, k)
        else:
            assert before[key] == after[key], key


def npy_bytes(array=None, *, header=None, data=b""):
    """A ``.npy`` member: ``array`` as NumPy writes it, or a hand-made ``header`` dict and ``data``."""
    buf = io.BytesIO()
    if array is not None:
        np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
    else:
        np.lib.format.write_array_header_1_0(buf, header)
        buf.write(data)
    return buf.getvalue()


def members_of(path):
    """``[(name, raw bytes)]`` of a checkpoint's zip members, in order."""
    with zipfile.ZipFile(path) as z:
        return [(info.filename, z.read(info)) for info in z.infolist()]


def header_of(path):
    with np.load(path, allow_pickle=False) as f:
        return json.loads(f["header"].tobytes())


def write_members(path, members, compression=zipfile.ZIP_STORED):
    """Write ``[(name, bytes)]`` as a zip (names may repeat: zipfile only warns)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name"
        with zipfile.ZipFile(path, "w", compression=compression) as z:
            for name, data in members:
                z.writestr(name, data)
    return path


def header_member(header_or_text):
    """The ``header.npy`` member for a header dict (or raw JSON text / bytes)."""
    text = header_or_text
    if isinstance(text, dict):
        text = json.dumps(text)
    if isinstance(text, str):
        text = text.encode("utf-8")
    return ("header.npy", npy_bytes(np.frombuffer(text, dtype=np.uint8)))


def with_header(src, dst, edit):
    """Copy the checkpoint ``src`` to ``dst`` after ``edit(header)`` (which may return a new one)."""
    header = header_of(src)
    header = edit(header) or header
    members = [m if m[0] != "header.npy" else header_member(header) for m in members_of(src)]
    return write_members(dst, members)


def deflated_zeros(path, other_members, name, npy_header, nbytes):
    """Write ``other_members`` plus a deflated member of ``nbytes`` zero bytes after ``npy_header``.

    Zeros deflate about 1000:1, so 400 MB of them take some 400 KB on disk.
    """
    with zipfile.ZipFile(path, "w") as z:
        for n, data in other_members:
            if n != name:
                z.writestr(n, data)
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as f:
            f.write(npy_bytes(header=npy_header))
            chunk = bytes(2**20)
            for _ in range(nbytes // len(chunk)):
                f.write(chunk)
    return path
