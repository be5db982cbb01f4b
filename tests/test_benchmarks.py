"""The benchmark harness (benchmarks/run.py, benchmarks/common.py) measures what it claims.

No test here asserts a timing: the machine running the tests is shared and its
speed is not the harness's business.  What is checked is the instrument: the
statistics, the round-robin order, the byte counting of caches, the GEMM list
against the products numrnn really performs, and that a row and the whole
``--quick`` run produce their tables.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import common  # noqa: E402
from benchmarks import run as bench  # noqa: E402


# -- statistics and timing -------------------------------------------------------------
def test_stats_median_quartiles_and_spread():
    s = common.Stats([5.0, 1.0, 4.0, 2.0, 3.0])
    assert (s.median, s.q1, s.q3, s.min, s.max) == (3.0, 2.0, 4.0, 1.0, 5.0)
    assert s.spread == pytest.approx(2.0 / 3.0)
    assert common.Stats([0.25]).spread == 0.0
    with pytest.raises(ValueError):
        common.Stats([])


@pytest.mark.parametrize("isolate", [False, True])
def test_alternate_runs_round_robin_after_warmup(isolate):
    log = []
    fns = [lambda: log.append("a"), lambda: log.append("b"), lambda: log.append("c")]
    stats, info = common.alternate(fns, repeats=4, warmup=2, min_sample_s=0, isolate=isolate)
    assert len(stats) == 3 and all(len(s.samples) == 4 for s in stats)
    assert all(s.number == 1 for s in stats)  # min_sample_s=0: one call per sample
    per_round = 2 if isolate else 1  # a priming call, then the timed call
    assert log == ["a", "b", "c"] * 2 + [f for f in "abc" for _ in range(per_round)] * 4
    assert info["rounds"] == 4 and info["elapsed_s"] >= 0


def test_blocked_order_takes_each_callables_samples_together():
    log = []
    fns = [lambda: log.append("a"), lambda: log.append("b")]
    common.alternate(fns, repeats=3, warmup=1, min_sample_s=0, isolate=False, blocked=True)
    assert log == ["a", "b"] + ["a"] * 3 + ["b"] * 3


def test_alternate_repeats_fast_calls_within_a_sample():
    count = [0]

    def fn():
        count[0] += 1

    stats, _ = common.alternate([fn], repeats=2, warmup=1, min_sample_s=1e-3, isolate=False)
    assert stats[0].number > 1  # a no-op call is far shorter than a millisecond
    assert count[0] == 1 + 2 * stats[0].number


def test_alternate_stops_at_budget_after_min_repeats():
    stats, info = common.alternate(
        [lambda: None],
        repeats=1000,
        warmup=1,
        min_sample_s=0,
        budget_s=0.0,
        min_repeats=3,
        isolate=False,
    )
    assert info["rounds"] == 3 and len(stats[0].samples) == 3


def test_quiesce_returns_when_the_process_is_idle():
    assert common.quiesce(max_s=2.0) < 1.0


# -- memory ----------------------------------------------------------------------------
def test_cache_nbytes_counts_each_buffer_once_and_skips_excluded():
    a = np.zeros((10, 4), np.float32)  # 160 bytes
    b = np.zeros(8, np.float64)  # 64 bytes
    x = np.zeros((3, 5), np.float32)  # excluded (the input)
    w = np.zeros((2, 2), np.float32)  # excluded, reached through a view
    cache = ([a[1:], a.T, (a.reshape(40)[::2],)], {"b": b, "same": b}, x, w.T, 3, "s", None)
    nbytes, count = common.cache_nbytes(cache, exclude=[x, w])
    assert (nbytes, count) == (160 + 64, 2)
    assert common.cache_nbytes(cache) == (160 + 64 + 60 + 16, 4)


def test_cache_memory_minimum_follows_the_documented_per_step_state():
    torch = pytest.importorskip("torch")  # noqa: F841
    B, T, D, H = 2, 3, 4, 5
    for cell, per_step, initial in (("rnn", 1, 1), ("lstm", 6, 2), ("gru", 5, 1)):
        b = bench.build_recurrent(cell, B, T, D, H)
        mem = bench.cache_memory(b, cell, B, T, H)
        assert mem["minimum_bytes"] == (T * per_step + initial) * B * H * 4
        assert mem["numrnn_bytes"] > 0 and mem["torch_saved_bytes"] > 0
        assert not b["m"]._caches  # the measuring forward leaves nothing pending


# -- GEMMs -----------------------------------------------------------------------------
def test_gemm_plan_flops_by_hand():
    G, B, T, D, H = 4, 2, 3, 5, 7
    GH, TB = G * H, T * B
    want = 2 * (
        TB * D * GH + T * B * H * GH + T * B * GH * H + GH * TB * D + GH * TB * H + TB * GH * D
    )
    assert common.gemm_flops(common.gemm_plan(G, B, T, D, H)) == want


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gemm_plan_is_the_list_of_products_numrnn_performs(cell, monkeypatch):
    """Record every matrix product of one numrnn step; it must be the plan, no more, no less."""
    import numrnn
    from numrnn.backend import NumpyOps

    B, T, D, H = 3, 4, 5, 6
    seen = []
    real = NumpyOps.matmul

    def recording(self, a, b, out=None):
        assert a.ndim == 2 and b.ndim == 2, "the plan assumes 2-D products"
        seen.append((a.shape[0], a.shape[1], b.shape[1]))
        return real(self, a, b, out=out)

    monkeypatch.setattr(NumpyOps, "matmul", recording)
    m = {"rnn": numrnn.RNN, "lstm": numrnn.LSTM, "gru": numrnn.GRU}[cell](D, H, seed=0)
    x = np.ones((T, B, D), np.float32)
    out, _ = m(x)
    m.backward(np.ones_like(out))
    plan = common.gemm_plan(bench.GATES[cell], B, T, D, H)
    want = sorted((mm, k, n) for _, mm, k, n, count, _, _ in plan for _ in range(count))
    assert sorted(seen) == want


def test_gemm_runner_performs_the_plan():
    plan = common.gemm_plan(3, 2, 3, 4, 5)
    common.make_gemm_runner(plan)()  # shapes consistent, out= accepted


# -- rows, tables, command line --------------------------------------------------------
def test_one_tiny_row_measures_and_tabulates():
    pytest.importorskip("torch")
    row = bench.measure_recurrent("tiny", "lstm", repeats=1, warmup=1, min_sample_s=0, gemm=True)
    for key in ("numrnn", "torch"):
        assert len(row[key].samples) == 1 and np.isfinite(row[key].median) and row[key].median > 0
    assert np.isfinite(row["ratio"]) and row["ratio"] > 0
    # same weights and inputs on both sides: float32 agreement, not a timing
    assert row["max_rel_gap"] < bench.AGREE_TOL
    assert row["gemm"]["flops"] == common.gemm_flops(common.gemm_plan(4, 1, 10, 10, 32))
    assert row["memory"]["ratio"] > 0
    table = bench.timing_table([row])
    lines = table.splitlines()
    assert lines[0].startswith("| size") and "ratio" in lines[0] and len(lines) == 3
    assert "| tiny" in lines[2] and "(1, 10, 10, 32)" in lines[2] and "<= 0.5" in lines[2]
    assert "tiny" in bench.gemm_table([row]) and "tiny" in bench.memory_table([row])


def test_missing_extra_becomes_a_skipped_row():
    def build():
        raise ImportError("no module named numrnn.nothing")

    row = bench.measure_extra("adam", "tiny", "LSTM(10, 32)", build, repeats=1)
    assert "ImportError" in row["skipped"]
    assert "skipped" in bench.timing_table([row])
    assert any("skipped" in line for line in bench.notes([row]))


def test_parse_args_quick_and_errors():
    args = bench.parse_args(["--quick"])
    assert args.size_list == ["tiny", "karpathy", "small"]
    assert {"rnn", "lstm", "gru"} <= set(args.cell_list)
    with pytest.raises(SystemExit):
        bench.parse_args(["--cells", "lstm,transformer"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--sizes", "huge"])


def test_markdown_table_alignment():
    t = common.markdown_table(["name", "ms"], [["a", "1.5"], ["bb", "10"]]).splitlines()
    assert t == ["| name | ms  |", "|------|----:|", "| a    | 1.5 |", "| bb   |  10 |"]


@pytest.mark.benchmark
def test_quick_run_prints_the_table(tmp_path):
    pytest.importorskip("torch")
    md = tmp_path / "bench.md"
    res = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "benchmarks", "run.py"),
            "--quick",
            "--markdown",
            str(md),
            "--json",
            str(tmp_path / "bench.json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "| size" in out and "numrnn ms" in out and "torch ms" in out and "met?" in out
    for size in ("tiny", "karpathy", "small"):
        for cell in ("rnn", "lstm", "gru"):
            assert any(
                line.startswith(f"| {size}") and f"| {cell} " in line for line in out.splitlines()
            )
    assert "BPTT cache memory" in out and "numpy" in out and "torch" in out
    assert md.read_text() == out.rstrip("\n") + "\n"


# -- before/after in one process (benchmarks/ab.py) ------------------------------------
def test_ab_compares_two_copies_of_numrnn(capsys):
    from benchmarks import ab

    ab.main(
        [ROOT, "--sizes", "tiny", "--cells", "rnn,gru", "--rounds", "2", "--min-sample-ms", "0"]
    )
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| tiny")]
    assert [r.split("|")[2].strip() for r in rows] == ["rnn", "gru"]
    for r in rows:  # this / other: both medians positive and a finite ratio
        this_ms, other_ms, ratio = (c.strip() for c in r.split("|")[3:6])
        assert float(this_ms) > 0 and float(other_ms) > 0 and np.isfinite(float(ratio.split()[0]))


def test_ab_refuses_a_directory_without_numrnn(tmp_path):
    from benchmarks import ab

    with pytest.raises(SystemExit, match="holds no numrnn/ package"):
        ab.main([str(tmp_path)])
