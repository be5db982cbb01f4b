"""Checkpoints across processes: exact resume, and a writer killed in the middle of saves.

The child processes are tests/io_worker.py.
"""

import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time

import io_worker
import numpy as np
import pytest

from numrnn.io import load, save

WORKER = os.path.join(os.path.dirname(__file__), "io_worker.py")
N_STEPS, SAVE_AT = 12, 5


def _run_worker(*args):
    proc = subprocess.run(
        [sys.executable, WORKER, *map(str, args)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The reference run (in this process), saving a checkpoint after step SAVE_AT on the way."""
    path = tmp_path_factory.mktemp("resume") / "step5.npz"
    model, opt, sched, data_rng = io_worker.build(seed=7)
    losses = io_worker.train(model, opt, sched, data_rng, 0, N_STEPS, save_at=SAVE_AT, path=path)
    return path, model.state_dict(), losses


def _resumed(tmp_path, ckpt, sabotage=None):
    out = tmp_path / "final.npz"
    extra = ["--sabotage", sabotage] if sabotage else []
    _run_worker("resume", ckpt, out, N_STEPS, *extra)
    with np.load(out, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def test_resume_in_a_new_process_is_bit_identical(uninterrupted, tmp_path):
    ckpt, final, losses = uninterrupted
    assert np.isfinite(losses).all() and losses[-1] != losses[0]
    got = _resumed(tmp_path, ckpt)
    assert list(got) == list(final)
    for name in final:
        assert got[name].dtype == final[name].dtype
        assert np.array_equal(got[name], final[name]), name


@pytest.mark.parametrize("sabotage", ["data", "dropout"])
def test_resume_comparison_notices_a_generator_left_unrestored(uninterrupted, tmp_path, sabotage):
    # The same resume with one generator not restored (the data order, or the dropout
    # masks) must end elsewhere: the bit-for-bit test above depends on both.
    ckpt, final, _ = uninterrupted
    got = _resumed(tmp_path, ckpt, sabotage)
    assert not all(np.array_equal(got[k], final[k]) for k in final)


# ------------------------------------------------------------------------------------------
# crash safety
# ------------------------------------------------------------------------------------------
TMP_RE = re.compile(r"^\.ckpt\.npz\.(\d+)\.[0-9a-f]{8}\.tmp$")


def _writer_context():
    """Writers are forked from a fork server that has numrnn imported already.

    Each writer is a separate process (killed with SIGKILL like any other), but
    starts in milliseconds instead of an interpreter start-up, so that a few
    seconds buy dozens of kills.
    """
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["numpy", "numrnn.io", "io_worker"])
    return ctx


def _wait_ready(proc, log, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and log.read_text().startswith("ready"):
            return
        if proc.exitcode is not None:
            raise AssertionError(f"writer exited with code {proc.exitcode} before it was ready")
        time.sleep(0.001)
    raise AssertionError("writer did not start")


def _kill_rounds(tmp_path, n_kills, seed):
    """Start writers and SIGKILL each at a random moment; check the file after every kill.

    Returns the number of kills that landed between the start and the end of a save.
    """
    ctx = _writer_context()
    rng = np.random.default_rng(seed)
    folder = tmp_path / "ckpt"
    folder.mkdir()
    path = folder / "ckpt.npz"
    model = io_worker.writer_model()
    io_worker.fill(model, 0)
    save(path, model, counter=0)  # the previous checkpoint of the first round
    on_disk, killed_pids, mid_save = 0, set(), 0
    for rnd in range(1, n_kills + 1):
        log = tmp_path / f"writer{rnd}.log"
        proc = ctx.Process(
            target=io_worker.writer_process, args=(str(path), rnd, str(log)), daemon=True
        )
        proc.start()
        try:
            _wait_ready(proc, log)
            time.sleep(rng.uniform(0.0, 0.1))  # a save takes ~20 ms: kill after 0 to ~5 saves
            os.kill(proc.pid, signal.SIGKILL)
            proc.join(timeout=30)
        finally:
            if proc.exitcode is None:
                proc.kill()
                proc.join()
        assert proc.exitcode == -signal.SIGKILL, proc.exitcode
        killed_pids.add(proc.pid)
        lines = log.read_text().split()[1:]  # after "ready"
        events = list(zip(lines[0::2], map(int, lines[1::2])))
        # What may be at the path: the last completed save (or the previous round's), and,
        # if a save had begun and not reported its end, that one (its rename may have happened).
        ended = [c for e, c in events if e == "end"]
        allowed = {ended[-1] if ended else on_disk}
        if events and events[-1][0] == "begin":
            allowed.add(events[-1][1])
            mid_save += 1
        loaded = io_worker.writer_model()
        meta = load(path, loaded)
        c = meta["counter"]
        assert c in allowed, (c, allowed, events[-3:])
        expected = io_worker.writer_model()
        io_worker.fill(expected, c)
        for (name, a), b in zip(loaded.state_dict().items(), expected.state_dict().values()):
            assert np.array_equal(a, b), (
                f"round {rnd}: {name} is not the state saved with counter {c}"
            )
        on_disk = c
        # Nothing else in the folder but temporary files of killed writers, at most one each.
        pids = []
        for f in os.listdir(folder):
            if f == "ckpt.npz":
                continue
            m = TMP_RE.match(f)
            assert m, f"unexpected file {f!r} after a kill"
            pids.append(int(m.group(1)))
        assert set(pids) <= killed_pids and len(pids) == len(set(pids)), pids
    return mid_save


def test_killed_writer_leaves_a_loadable_previous_checkpoint(tmp_path):
    kills = 40
    mid_save = _kill_rounds(tmp_path, kills, seed=0)
    print(f"{kills} SIGKILLs, {mid_save} of them between the start and the end of a save")
    assert mid_save >= kills // 2  # most kills hit a save in progress, or the test proves little


@pytest.mark.slow
def test_killed_writer_many_times(tmp_path):
    kills = 300
    mid_save = _kill_rounds(tmp_path, kills, seed=1)
    print(f"{kills} SIGKILLs, {mid_save} of them between the start and the end of a save")
    assert mid_save >= kills // 2
