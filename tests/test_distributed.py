"""Data-parallel training on torch.distributed (gloo, 2 processes on this machine).

The processes are tests/distributed_worker.py, started with the variables torchrun
sets; the single-process references are computed here with the same functions.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available() or not dist.is_gloo_available():  # pragma: no cover
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

import distributed_worker as worker  # noqa: E402

import numrnn  # noqa: E402
from numrnn import distributed  # noqa: E402
from numrnn.functional import cross_entropy  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distributed_worker.py")
CHAR_LM = os.path.join(ROOT, "examples", "char_lm.py")
# float64 throughout: two processes sum the same terms as one, in another order, so
# the results differ by rounding only, a few units of 1e-16 relative, far below this.
RTOL = 1e-12


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(rank, world, port):
    env = dict(os.environ)
    env.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        PYTHONPATH=os.pathsep.join([ROOT, env.get("PYTHONPATH", "")]),
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
    )
    return env


def plain_env():
    """This environment without the variables torchrun sets."""
    dist_vars = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    return {k: v for k, v in env_for(0, 1, 0).items() if k not in dist_vars}


def start(*args, world=2):
    """Start ``world`` ranks of the worker; return the Popen objects, rank order."""
    port = free_port()
    return [
        subprocess.Popen(
            [sys.executable, WORKER, *map(str, args)],
            env=env_for(rank, world, port),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(world)
    ]


def finish(procs, timeout=120):
    outs = [p.communicate(timeout=timeout) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    return outs


def rel_err(a, b):
    """Largest difference relative to the largest entry of the reference ``b``."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# -------------------------------------------------------------------------------------
# one step, two processes against one
# -------------------------------------------------------------------------------------
STEPS = 3


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """One launch of 2 processes (tests/distributed_worker.py ``all``): the one-step
    results of each rank, a checkpoint trained on 2 processes from scratch, and one
    trained on 2 processes from the checkpoint ``one.npz`` written here by 1 process."""
    out = tmp_path_factory.mktemp("two")
    model, opt = worker.build(worker.SEED)
    data_rng = np.random.default_rng(worker.SEED)
    worker.segment(model, opt, data_rng, STEPS)
    numrnn.save(out / "one.npz", model, opt, rng=data_rng)
    finish(start("all", out, STEPS, out / "one.npz"))
    return out


@pytest.fixture(scope="module")
def step_results(two_processes):
    return [dict(np.load(two_processes / f"rank{r}.npz")) for r in range(2)]


def reference_step(backend):
    """One process, the whole global batch, from rank 0's initial parameters."""
    model, opt = worker.build(seed=10, backend=backend)
    X, Y = worker.global_batch()
    logits, _ = model(X)
    loss, dlogits = cross_entropy(logits, Y)
    model.backward(dlogits)
    grads = {n: numrnn.backend.to_numpy(p.grad).copy() for n, p in model.named_parameters()}
    opt.step()
    after = {n: numrnn.backend.to_numpy(p.data).copy() for n, p in model.named_parameters()}
    return float(loss), grads, after


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_two_processes_step_equals_one_process_on_the_concatenated_batch(step_results, backend):
    loss, grads, after = reference_step(backend)
    for r, res in enumerate(step_results):
        assert int(res[f"{backend}/buckets"]) > 1  # several all_reduce calls were made
        assert rel_err(res[f"{backend}/loss"], loss) < RTOL, (r, "loss")
        for name in grads:
            assert rel_err(res[f"{backend}/grad/{name}"], grads[name]) < RTOL, (r, name)
            assert rel_err(res[f"{backend}/after/{name}"], after[name]) < RTOL, (r, name)


def test_broadcast_gives_every_rank_rank0s_parameters(step_results):
    r0, r1 = step_results
    names = [k for k in r0 if k.startswith("numpy/before/")]
    assert names
    # the ranks start apart (seeds 10 and 11) and are bitwise equal after the broadcast
    assert any(not np.array_equal(r0[k], r1[k]) for k in names)
    for k in names:
        b = k.replace("/before/", "/broadcast/")
        assert np.array_equal(r0[b], r0[k]) and np.array_equal(r1[b], r0[k]), k
    for backend in ("numpy", "torch"):  # and stay bitwise equal after the averaged step
        for k in r0:
            if k.startswith(f"{backend}/after/"):
                assert np.array_equal(r0[k], r1[k]), k


def test_data_shards_differ_and_make_up_the_global_batch(step_results):
    r0, r1 = step_results
    assert not np.array_equal(r0["shard"], r1["shard"])
    stream = worker.sequential_partition(
        worker.TOKENS, worker.B, worker.T, rng=np.random.default_rng(worker.SEED)
    )
    X, _ = next(iter(stream))
    np.testing.assert_array_equal(np.concatenate([r0["shard"], r1["shard"]], axis=1), X)
    # per-rank generators: different streams, the same in every run
    assert not np.allclose(r0["rank_rng"], r1["rank_rng"])
    np.testing.assert_array_equal(r1["rank_rng"], distributed.rank_rng(worker.SEED, 1).random(4))


# -------------------------------------------------------------------------------------
# checkpoints move between 2 processes and 1
# -------------------------------------------------------------------------------------
def reference_run(segments):
    """One process, ``segments`` segments of STEPS steps, uninterrupted."""
    model, opt = worker.build(worker.SEED)
    data_rng = np.random.default_rng(worker.SEED)
    losses = []
    for _ in range(segments):
        losses += worker.segment(model, opt, data_rng, STEPS)
    return model, losses


def assert_same_params(model, ref):
    for (name, p), (_, q) in zip(model.named_parameters(), ref.named_parameters()):
        assert rel_err(p.data, q.data) < RTOL, name


def test_checkpoint_written_by_two_processes_resumes_in_one(two_processes):
    ckpt = two_processes / "two.npz"
    model, opt = worker.build(seed=99)  # loading must overwrite all of it
    data_rng = np.random.default_rng(0)
    meta = numrnn.load(ckpt, model, opt, rng=data_rng)
    losses = meta["losses"] + worker.segment(model, opt, data_rng, STEPS)
    ref, ref_losses = reference_run(2)
    assert_same_params(model, ref)
    assert rel_err(losses, ref_losses) < RTOL


def test_checkpoint_written_by_one_process_resumes_in_two(two_processes):
    model, opt = worker.build(seed=99)
    numrnn.load(two_processes / "one_two.npz", model, opt)
    assert_same_params(model, reference_run(2)[0])


# -------------------------------------------------------------------------------------
# a peer that dies or hangs
# -------------------------------------------------------------------------------------
def wait_for_saves(proc, n):
    for line in proc.stdout:
        if line.startswith("saved") and int(line.split()[1]) >= n:
            return
    raise AssertionError(f"rank 0 stopped before saving {n} times: {proc.stderr.read()[-2000:]}")


@pytest.mark.parametrize(
    "victim, how",
    [
        (1, signal.SIGKILL),
        pytest.param(0, signal.SIGKILL, marks=pytest.mark.slow),  # rank 0 hosts the store
        pytest.param(1, signal.SIGSTOP, marks=pytest.mark.slow),  # waits out the timeout
    ],
    ids=["rank1-killed", "rank0-killed", "rank1-hung"],
)
def test_a_dead_or_hung_peer_stops_the_other_with_a_clear_error(tmp_path, victim, how):
    timeout = 4.0
    ckpt = tmp_path / "ckpt.npz"
    procs = start("forever", ckpt, timeout)
    survivor = procs[1 - victim]
    try:
        wait_for_saves(procs[0], 3)
        procs[victim].send_signal(how)
        t0 = time.perf_counter()
        _, err = survivor.communicate(timeout=timeout + 30)
        took = time.perf_counter() - t0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.communicate()
    assert survivor.returncode != 0
    assert "DistributedError" in err and f"failed on rank {1 - victim} of 2" in err, err[-2000:]
    assert "within the group's timeout (4 s)" in err
    # a killed peer is noticed at once (closed connection); a hung one within the
    # timeout (plus the time to start the error path on a loaded machine)
    assert took < timeout + 20, took
    model, opt = worker.build(seed=99)
    meta = numrnn.load(ckpt, model, opt)  # the last checkpoint is whole
    assert meta["step"] >= 3


# -------------------------------------------------------------------------------------
# in this process: a group of one, for the layout and the errors
# -------------------------------------------------------------------------------------
@pytest.fixture
def group_of_one(monkeypatch):
    for k, v in env_for(0, 1, free_port()).items():
        monkeypatch.setenv(k, v)
    assert distributed.init_from_env(timeout=30) == (0, 1)
    yield
    dist.destroy_process_group()


def test_gradients_become_views_of_the_buckets(group_of_one):
    model, _ = worker.build(seed=0)
    grads = {n: p.grad.copy() + 1.5 for n, p in model.named_parameters()}
    for n, p in model.named_parameters():
        p.grad[...] = grads[n]
    buckets = distributed.GradientBuckets(model.parameters(), bucket_mb=1e-3)
    sizes = [b.size for b in buckets.buckets]
    assert sum(sizes) == sum(p.data.size for p in model.parameters())
    for n, p in model.named_parameters():  # values kept, memory now in a bucket
        np.testing.assert_array_equal(p.grad, grads[n])
        assert any(np.shares_memory(p.grad, b) for b in buckets.buckets), n
    p = model.parameters()[0]
    p.grad = np.full_like(p.grad, 2.0)  # rebinding is repaired at the next average
    buckets.average()
    assert np.shares_memory(p.grad, buckets.buckets[0]) and np.all(p.grad == 2.0)
    assert buckets.calls == len(sizes)
    p.grad = np.zeros(3)
    with pytest.raises(TypeError, match="replaced by one of shape"):
        buckets.average()


def test_shared_parameters_are_reduced_once(group_of_one):
    a, b = numrnn.Linear(3, 4, seed=0), numrnn.Linear(3, 4, seed=1)
    b.weight = a.weight  # tied
    params = a.parameters() + b.parameters()
    assert len(distributed.unique_parameters(params)) == 3
    buckets = distributed.GradientBuckets(params)
    assert sum(x.size for x in buckets.buckets) == 12 + 4 + 4


@pytest.mark.parametrize("axis", [0, 1])
def test_shard_batch_blocks_make_up_the_batch(axis):
    batch = np.arange(6 * 9).reshape(6, 9)
    blocks = [distributed.shard_batch(batch, r, 3, axis) for r in range(3)]
    assert all(b.shape[axis] == batch.shape[axis] // 3 for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks, axis=axis), batch)
    t = torch.as_tensor(batch)
    assert torch.equal(distributed.shard_batch(t, 1, 3, axis), torch.as_tensor(blocks[1]))


def test_agree_and_max_in_a_group_of_one(group_of_one):
    dp = distributed.DataParallel(numrnn.Linear(2, 2, seed=0))
    assert dp.agree(2.5, False) == (2.5, False) and dp.agree(1.0, True) == (1.0, True)
    assert dp.max(3.25) == 3.25 and dp.is_main and dp.world_size == 1


def test_errors_name_what_is_wrong(group_of_one):
    model = numrnn.Linear(2, 2, seed=0)
    with pytest.raises(ValueError, match="bucket_mb must be a number > 0; got 0"):
        distributed.GradientBuckets(model.parameters(), bucket_mb=0)
    with pytest.raises(ValueError, match=r"src must be a rank in \[0, 1\); got 1"):
        distributed.broadcast_parameters(model.parameters(), src=1)
    with pytest.raises(RuntimeError, match="already initialised"):
        distributed.init_from_env()
    with pytest.raises(ValueError, match="do not split evenly over 2 processes"):
        distributed.shard_batch(np.zeros((4, 3)), 0, 2, axis=1)
    with pytest.raises(ValueError, match=r"rank must be in \[0, 2\); got 2"):
        distributed.shard_batch(np.zeros((4, 4)), 2, 2, axis=1)
    with pytest.raises(ValueError, match=r"axis must be in \[0, 1\) for a batch of shape \(4,\)"):
        distributed.shard_batch(np.zeros(4), 0, 2, axis=1)
    with pytest.raises(ValueError, match="world_size must be an int; got 2.0"):
        distributed.shard_batch(np.zeros((4, 4)), 0, 2.0, axis=1)
    with pytest.raises(ValueError, match="seed must be an int >= 0; got -1"):
        distributed.rank_rng(-1, 0)


def test_errors_without_a_process_group(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(RuntimeError, match="lacks RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT"):
        distributed.init_from_env()
    with pytest.raises(ValueError, match="backend must be 'gloo' or 'nccl'; got 'mpi'"):
        distributed.init_from_env(backend="mpi")
    with pytest.raises(ValueError, match="timeout must be a number of seconds > 0; got 0"):
        distributed.init_from_env(timeout=0)
    with pytest.raises(RuntimeError, match="no process group"):
        distributed.DataParallel(numrnn.Linear(2, 2, seed=0))


def test_import_numrnn_does_not_import_torch():
    code = "import sys, numrnn, numrnn.distributed; print('torch' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.stdout.strip() == "False", res.stderr


# -------------------------------------------------------------------------------------
# examples/char_lm.py under torchrun
# -------------------------------------------------------------------------------------
def run_char_lm(*args, nproc=None):
    """Run char_lm.py in one process, or in ``nproc`` under torchrun; return stdout."""
    launcher = [sys.executable]
    if nproc is not None:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    res = subprocess.run(
        [*launcher, CHAR_LM, "--dry-run", *map(str, args)],
        env=plain_env(),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def test_char_lm_dry_run_on_two_processes(tmp_path):
    out = run_char_lm("--distributed", "--out", tmp_path / "two", "--sample", 20, nproc=2)
    assert "data parallel: 2 processes, 4 streams each" in out
    assert out.count("| lstm | 1 |") == 1  # one table: only rank 0 reports
    assert out.count("--- sample") == 1
    # the checkpoint is an ordinary one: it loads into one process's model and optimiser
    # (the script's own resume path is run by the slow test below)
    meta = numrnn.io.read_header(tmp_path / "two" / "checkpoint.npz")["metadata"]
    a = meta["args"]
    model = numrnn.models.CharLM(
        len(meta["vocab"]), a["embed_size"], a["hidden_size"], a["num_layers"], cell=a["cell"]
    )
    opt = numrnn.optim.Adam(model.parameters(), lr=a["lr"])
    rng = np.random.default_rng()
    assert numrnn.load(tmp_path / "two" / "checkpoint.npz", model, opt, rng=rng)["step"] > 0


@pytest.mark.slow
def test_char_lm_checkpoints_move_between_one_and_two_processes(tmp_path):
    run_char_lm("--out", tmp_path / "one", "--sample", 0)
    ckpt = tmp_path / "one" / "checkpoint.npz"
    steps = numrnn.io.read_header(ckpt)["metadata"]["step"]
    out = run_char_lm("--distributed", "--resume", ckpt, "--out", tmp_path / "two", nproc=2)
    assert f"resumed from {ckpt} at step {steps}" in out
    ckpt2 = tmp_path / "two" / "checkpoint.npz"
    steps2 = numrnn.io.read_header(ckpt2)["metadata"]["step"]
    assert steps2 > steps
    out = run_char_lm("--resume", ckpt2, "--out", tmp_path / "three", "--sample", 0)
    assert f"resumed from {ckpt2} at step {steps2}" in out


def test_char_lm_distributed_without_torchrun_says_so(tmp_path):
    res = subprocess.run(
        [sys.executable, CHAR_LM, "--dry-run", "--distributed", "--out", tmp_path],
        env=plain_env(),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert res.returncode == 2  # a usage error
    assert "argument --distributed: init_from_env: the environment lacks RANK" in res.stderr
    assert "start the script with torchrun" in res.stderr


@pytest.mark.benchmark
def test_benchmark_script_prints_its_table(tmp_path):
    md = tmp_path / "dist.md"
    cmd = [sys.executable, os.path.join(ROOT, "benchmarks", "distributed.py")]
    cmd += ["--repeats=1", "--steps=2", "--warmup=1", "--hidden-size=16", "--embed-size=8"]
    cmd += ["--batch-size=4", "--seq-len=8", f"--markdown={md}"]
    res = subprocess.run(cmd, env=plain_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    table = md.read_text()
    for label in ("1 proc x 1 thread", "1 proc x 2 threads", "2 procs x 1 thread"):
        assert f"| {label} |" in table


@pytest.mark.slow
def test_char_lm_distributed_refuses_a_batch_that_does_not_split(tmp_path):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    res = subprocess.run(
        [*launcher, "--nproc_per_node=2", CHAR_LM, "--dry-run", "--distributed"]
        + ["--batch-size", "7", "--out", str(tmp_path)],
        env=plain_env(),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert res.returncode != 0
    assert "argument --batch-size: 7 must be a multiple of the number of processes (2)" in (
        res.stderr
    )
    assert not (tmp_path / "checkpoint.npz").exists()
