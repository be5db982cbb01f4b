"""The measuring instruments behind ``benchmarks/run.py``: timing, statistics, memory, GEMM counts.

Nothing here knows about numrnn's layers; ``run.py`` builds the callables and
hands them in.  Each piece is small enough to test on synthetic input
(``tests/test_benchmarks.py``), because a benchmark is only as trustworthy as
the code that reads the clock and counts the bytes.
"""

from __future__ import annotations

import datetime
import gc
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "CpuMonitor",
    "Stats",
    "alternate",
    "array_root",
    "cache_nbytes",
    "fmt_ms",
    "gemm_flops",
    "gemm_plan",
    "machine_info",
    "make_gemm_runner",
    "markdown_table",
    "quiesce",
    "summarize",
]


# -- statistics ------------------------------------------------------------------------
@dataclass
class Stats:
    """Per-call times (seconds) of one contender and their summary.

    ``spread`` is the interquartile range as a fraction of the median: robust to the
    odd sample that another process's burst of work inflated, unlike min..max.
    """

    samples: list
    number: int = 1  # calls averaged inside each sample
    median: float = field(init=False)
    q1: float = field(init=False)
    q3: float = field(init=False)
    min: float = field(init=False)
    max: float = field(init=False)

    def __post_init__(self):
        a = np.asarray(self.samples, dtype=np.float64)
        if a.size == 0:
            raise ValueError("Stats needs at least one sample")
        self.median = float(np.median(a))
        self.q1, self.q3 = (float(v) for v in np.percentile(a, [25, 75]))
        self.min, self.max = float(a.min()), float(a.max())

    @property
    def spread(self):
        """Interquartile range over the median (0 for a single sample)."""
        return (self.q3 - self.q1) / self.median if self.median > 0 else float("nan")

    def as_dict(self):
        return {
            "median_s": self.median,
            "q1_s": self.q1,
            "q3_s": self.q3,
            "min_s": self.min,
            "max_s": self.max,
            "iqr_frac": self.spread,
            "n": len(self.samples),
            "calls_per_sample": self.number,
        }


def summarize(samples, number=1):
    """A :class:`Stats` over ``samples`` (seconds per call)."""
    return Stats(list(samples), number)


# -- timing ----------------------------------------------------------------------------
def _time_calls(fn, number):
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def quiesce(window_s=0.005, idle_frac=0.1, max_s=1.0):
    """Sleep until this process's threads stop using the CPU; return the seconds waited.

    BLAS and OpenMP thread pools keep their workers spinning for a while after a
    call returns (OpenBLAS's for tens of milliseconds, libgomp's for a few), so
    that the next call starts at once.  On a machine with few cores those
    spinning workers steal the cores another library's pool needs: the first
    torch calls after NumPy matrix products run at a fraction of their speed,
    and the other way round.  This waits, in windows of ``window_s``, until the
    process's CPU time (all threads) grows by less than ``idle_frac`` of a
    window, or ``max_s`` has passed.
    """
    start = time.perf_counter()
    while time.perf_counter() - start < max_s:
        c0 = time.process_time()
        time.sleep(window_s)
        if time.process_time() - c0 < idle_frac * window_s:
            break
    return time.perf_counter() - start


def alternate(
    fns,
    repeats=21,
    warmup=3,
    min_sample_s=0.005,
    budget_s=None,
    min_repeats=3,
    isolate=True,
    blocked=False,
    prime_below_s=0.25,
):
    """Time several callables in turn, round robin, and summarise each.

    After ``warmup`` untimed calls of each (round robin too, so caches, page
    faults and lazily initialised thread pools are paid before timing), every
    round times one *sample* of each callable in order: ``fns[0]``, ``fns[1]``, ...,
    then the next round.  Alternating exposes all contenders to the same
    background load, so slow drifts in the machine's state cancel in their
    ratio instead of favouring whoever ran in the quiet minute.

    With ``isolate`` (the default) each sample starts after :func:`quiesce` (the
    previous contender's thread pool has stopped spinning) and one untimed
    priming call (this contender's pool is awake and its data in cache), so a
    sample sees the state a training loop calling the same step back to back
    is in, not the aftermath of the other library.  Without it, on two cores
    the torch side measured up to twice as slow right after NumPy's BLAS.
    Calls longer than ``prime_below_s`` are not primed: waking a thread pool
    costs about a millisecond, under half a percent of such a call.

    A sample is ``number`` consecutive calls divided by ``number``, where
    ``number`` is chosen per callable (from the last warm-up call) so that a
    sample lasts at least ``min_sample_s``; a call that takes longer than that
    is timed on its own.  The cyclic garbage collector is off while timing (as
    in :mod:`timeit`); reference counting still frees every array as usual.

    Args:
        fns: callables taking no argument.
        repeats: rounds (samples per callable).
        warmup: untimed calls of each callable first (at least 1).
        min_sample_s: shortest sample, in seconds.
        budget_s: stop after this many seconds of timing once ``min_repeats``
            rounds are done (None: run all ``repeats``).
        isolate: quiesce and prime before every sample.
        blocked: diagnostic; take all samples of ``fns[0]``, then all of ``fns[1]``, ...
            (no alternation; ``budget_s`` then applies to each callable).

    Returns:
        ``(stats, info)``: one :class:`Stats` per callable, in order, and a dict
        with the wall time spent (``elapsed_s``), the rounds run and the longest
        quiescence wait (``max_quiesce_s``).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1; got {repeats}")
    last = [0.0] * len(fns)
    for _ in range(max(1, warmup)):
        for i, fn in enumerate(fns):
            if isolate:
                quiesce()
            last[i] = _time_calls(fn, 1)
    numbers = [max(1, math.ceil(min_sample_s / t)) if t > 0 else 1 for t in last]
    samples = [[] for _ in fns]
    waits = [0.0]
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    start = time.perf_counter()

    def sample(i):
        if isolate:
            waits.append(quiesce())
            if last[i] < prime_below_s:
                fns[i]()  # priming call, untimed
        samples[i].append(_time_calls(fns[i], numbers[i]))

    def over_budget(r, t0):
        return budget_s is not None and r + 1 >= min_repeats and time.perf_counter() - t0 > budget_s

    try:
        if blocked:
            for i in range(len(fns)):
                t0 = time.perf_counter()
                for r in range(repeats):
                    sample(i)
                    if over_budget(r, t0):
                        break
        else:
            for r in range(repeats):
                for i in range(len(fns)):
                    sample(i)
                if over_budget(r, start):
                    break
    finally:
        if was_enabled:
            gc.enable()
    info = {
        "elapsed_s": time.perf_counter() - start,
        "rounds": len(samples[0]),
        "max_quiesce_s": max(waits),
    }
    return [Stats(s, n) for s, n in zip(samples, numbers)], info


class CpuMonitor:
    """How much of the machine's CPU *other* processes used between ``start()`` and ``stop()``.

    Reads the machine's busy time from ``/proc/stat`` and this process's CPU time
    (all threads) from :func:`os.times`; the difference, over wall time times the
    number of CPUs, is the background load that competed with the measurement.
    ``stop()`` returns ``None`` where ``/proc/stat`` does not exist.
    """

    def __init__(self):
        self._start = None

    @staticmethod
    def _snapshot():
        try:
            with open("/proc/stat") as f:
                fields = f.readline().split()
        except OSError:
            return None
        if not fields or fields[0] != "cpu":
            return None
        v = [int(x) for x in fields[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
        busy = sum(v[:8]) - idle  # user nice system idle iowait irq softirq steal
        t = os.times()
        return busy / os.sysconf("SC_CLK_TCK"), t.user + t.system, time.perf_counter()

    def start(self):
        self._start = self._snapshot()
        return self

    def stop(self):
        end = self._snapshot()
        if self._start is None or end is None:
            return None
        (b0, o0, w0), (b1, o1, w1) = self._start, end
        capacity = (w1 - w0) * (os.cpu_count() or 1)
        if capacity <= 0:
            return None
        ours, machine = o1 - o0, b1 - b0
        return {
            "background_frac": max(0.0, (machine - ours) / capacity),
            "ours_frac": ours / capacity,
            "wall_s": w1 - w0,
        }


# -- memory ----------------------------------------------------------------------------
def array_root(a):
    """The array that owns ``a``'s memory: follow ``.base`` while it is an ndarray."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _walk(obj, out, seen):
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        out.append(obj)
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            _walk(item, out, seen)
    elif isinstance(obj, dict):
        for item in obj.values():
            _walk(item, out, seen)


def cache_nbytes(cache, exclude=()):
    """Bytes of the distinct NumPy buffers held in a nested tuple/list/dict ``cache``.

    Arrays are identified by the buffer they view (:func:`array_root`), so a buffer
    reached through several views counts once, at its full size (a view keeps its
    whole buffer alive).  Buffers shared with any array in ``exclude`` (the input,
    the weights: memory the cache does not own) are skipped.

    Returns ``(nbytes, count)``: the bytes and the number of distinct buffers counted.
    """
    arrays = []
    _walk(cache, arrays, set())
    skip = {id(array_root(np.asarray(e))) for e in exclude if isinstance(e, np.ndarray)}
    roots = {}
    for a in arrays:
        root = array_root(a)
        if id(root) not in skip:
            roots[id(root)] = root
    return sum(r.nbytes for r in roots.values()), len(roots)


# -- GEMMs of one training step --------------------------------------------------------
def gemm_plan(G, B, T, D, H):
    """The matrix products one forward + BPTT of a one-layer recurrent net performs.

    ``G`` gate blocks (1 RNN, 3 GRU, 4 LSTM).  Each entry is
    ``(name, m, k, n, count, a_transposed, b_transposed)`` for ``count`` products
    ``(m, k) @ (k, n)``, with the operand layouts the layer uses (``W.T`` and
    ``da.T`` are transposed views, as in numrnn's code):

    * input projection, all steps at once: ``(T*B, D) @ W_ih.T (D, G*H)``;
    * recurrent product at each step: ``(B, H) @ W_hh.T (H, G*H)``, ``T`` times;
    * backward at each step: ``(B, G*H) @ W_hh (G*H, H)``, ``T`` times;
    * after the loop: ``dW_ih = da.T (G*H, T*B) @ x (T*B, D)``,
      ``dW_hh = da.T (G*H, T*B) @ h (T*B, H)``, ``dx = da (T*B, G*H) @ W_ih (G*H, D)``.
    """
    GH, TB = G * H, T * B
    return [
        ("x W_ih^T", TB, D, GH, 1, False, True),
        ("h W_hh^T (per step)", B, H, GH, T, False, True),
        ("da W_hh (per step)", B, GH, H, T, False, False),
        ("dW_ih = da^T x", GH, TB, D, 1, True, False),
        ("dW_hh = da^T h", GH, TB, H, 1, True, False),
        ("dx = da W_ih", TB, GH, D, 1, False, False),
    ]


def gemm_flops(plan):
    """Floating-point operations of ``plan``: ``2 m k n`` per product."""
    return sum(2 * m * k * n * count for _, m, k, n, count, _, _ in plan)


def make_gemm_runner(plan, dtype=np.float32, seed=0):
    """A callable performing every product of ``plan`` with ``numpy.matmul(..., out=)``.

    Operands and outputs are allocated once here; a transposed operand is a
    ``.T`` view of a C-contiguous array, as in the layer, so BLAS sees the same
    transpose flags.  The per-step products reuse one operand pair, which keeps
    them in cache: at most as favourable as the layer's (whose ``W_hh`` is
    shared between steps too).
    """
    rng = np.random.default_rng(seed)
    jobs = []
    for _, m, k, n, count, ta, tb in plan:
        a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float64).astype(dtype)
        b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float64).astype(dtype)
        jobs.append((a.T if ta else a, b.T if tb else b, np.empty((m, n), dtype=dtype), count))

    def run():
        for a, b, out, count in jobs:
            for _ in range(count):
                np.matmul(a, b, out=out)

    return run


# -- reporting -------------------------------------------------------------------------
def fmt_ms(seconds, digits=3):
    """Milliseconds with ``digits`` significant figures."""
    ms = seconds * 1e3
    if ms == 0 or not math.isfinite(ms):
        return str(ms)
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(ms)))))
    return f"{ms:.{decimals}f}"


def markdown_table(headers, rows):
    """A GitHub-flavoured markdown table; numbers right-aligned."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [
        bool(cells) and all(_looks_numeric(r[i]) for r in cells) for i in range(len(headers))
    ]
    out = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |",
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if num else ("-" * (w + 2)) for w, num in zip(widths, numeric)
        )
        + "|",
    ]
    for r in cells:
        out.append(
            "| "
            + " | ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(r, widths, numeric))
            + " |"
        )
    return "\n".join(out)


def _looks_numeric(s):
    try:
        float(s.rstrip("%x"))
        return True
    except ValueError:
        return False


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (or platform's guess elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas_info():
    try:
        import threadpoolctl  # optional; never installed by the harness
    except ImportError:
        threadpoolctl = None
    if threadpoolctl is not None:
        pools = threadpoolctl.threadpool_info()
        if pools:
            return "; ".join(
                f"{p.get('internal_api')} {p.get('version')} ({p.get('prefix')}, "
                f"{p.get('num_threads')} threads, {p.get('threading_layer', '?')})"
                for p in pools
            )
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        text = f"{deps.get('name')} {deps.get('version')}"
        conf = deps.get("openblas configuration")
        if conf:
            text += f" [{conf}]"
    except Exception:  # older NumPy: no dict mode
        text = "see numpy.show_config()"
    env = {
        k: os.environ[k]
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
        if k in os.environ
    }
    threads = (
        ", ".join(f"{k}={v}" for k, v in env.items())
        or "threads: library default (no *_NUM_THREADS set)"
    )
    return f"{text}; {threads}"


def _simd():
    try:
        return " ".join(np.show_config(mode="dicts")["SIMD Extensions"]["found"])
    except Exception:
        return "?"


def machine_info(torch=None):
    """``(label, value)`` pairs describing the machine and the libraries, for the header."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info = [
        ("date", datetime.datetime.now().astimezone().isoformat(timespec="seconds")),
        ("cpu", f"{cpu_model()}; {os.cpu_count()} logical cores, {usable} usable by this process"),
        ("python", f"{platform.python_version()} ({sys.platform})"),
        ("numpy", f"{np.__version__}; BLAS: {_blas_info()}; CPU features: {_simd()}"),
    ]
    if torch is not None:
        info.append(
            (
                "torch",
                f"{torch.__version__}; {torch.get_num_threads()} intra-op threads; "
                f"MKL {'on' if torch.backends.mkl.is_available() else 'off'}",
            )
        )
    if hasattr(os, "getloadavg"):
        info.append(
            (
                "load average",
                "{:.2f} {:.2f} {:.2f} (1, 5, 15 min) at start".format(*os.getloadavg()),
            )
        )
    return info
