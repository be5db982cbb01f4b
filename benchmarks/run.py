"""numrnn's NumPy recurrent layers against torch on the CPU: one training step each.

One training step is a forward over the whole sequence and BPTT to every
gradient (input, initial state, all weights and biases), given a fixed random
upstream gradient on the output:

* numrnn: ``out, _ = m(x); m.backward(dout)``;
* torch:  ``out, _ = tm(x); out.backward(dout)`` (``x.requires_grad``, autograd).

Both run float32 in this process with the same weights and inputs, called in
turn (numrnn, torch, numrnn, torch, ...) after a warm-up; see
``benchmarks/README.md`` for the method and ``--help`` for the options::

    python benchmarks/run.py                    # every size, cell and extra row
    python benchmarks/run.py --quick            # CI smoke run, well under a minute
    python benchmarks/run.py --cells lstm --sizes large --repeats 31 --markdown out.md
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np

try:  # imported as the package ``benchmarks`` (the tests)
    from . import common
except ImportError:  # run as a script: benchmarks/ is sys.path[0]
    import common

# name: ((B, T, D, H), goal for median(numrnn) / median(torch))
SIZES = {
    "tiny": ((1, 10, 10, 32), 0.5),
    "karpathy": ((1, 25, 65, 100), 0.8),
    "small": ((32, 35, 28, 128), 1.0),
    "medium": ((64, 50, 128, 256), 1.0),
    "large": ((64, 100, 256, 512), 1.0),
    "long": ((8, 1000, 32, 64), 2.0),
}
RECURRENT = ("rnn", "lstm", "gru")
EXTRAS = ("adam", "xent")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
# What BPTT must keep, in units of H per (step, batch row), and the initial states
# (the kernels' docstrings, numrnn/kernels/): RNN h_t; LSTM i, f, g, o, c_t, h_t;
# GRU r, z, n, u = W_hn h + b_hn, h_t.
MIN_PER_STEP = {"rnn": 1, "lstm": 6, "gru": 5}
MIN_INITIAL = {"rnn": 1, "lstm": 2, "gru": 1}
MEMORY_GOAL = {"long": 1.2}
GEMM_GOAL = 0.85
AGREE_TOL = 1e-3  # float32 steps; a larger gap means the two sides do different work
QUICK = dict(
    sizes=["tiny", "karpathy", "small"],
    repeats=5,
    warmup=2,
    budget=3.0,
    min_sample_ms=2.0,
    xent_classes=[65],
)


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


def _rel_diff(a, b):
    """``max|a - b| / max|b|``: a norm-wise gap that float32 rounding keeps near 1e-6."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


# -- the two contenders ----------------------------------------------------------------
def build_recurrent(cell, B, T, D, H, seed=0):
    """Same-weight numrnn and torch layers, inputs, upstream gradients and step callables.

    Returns a dict with ``ours``/``theirs`` (no-argument callables doing one
    training step), the modules ``m``/``tm`` and the arrays ``x``/``dout``.
    """
    import torch

    import numrnn

    m = {"rnn": numrnn.RNN, "lstm": numrnn.LSTM, "gru": numrnn.GRU}[cell](D, H, seed=seed)
    tm = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](D, H)
    tm.load_state_dict(
        {k: torch.from_numpy(np.array(v, np.float32)) for k, v in m.state_dict().items()}
    )
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((T, B, D)).astype(np.float32)
    dout = rng.standard_normal((T, B, H)).astype(np.float32)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    doutt = torch.from_numpy(dout.copy())

    def ours():
        out, _ = m(x)
        m.backward(dout)

    def theirs():
        out, _ = tm(xt)
        out.backward(doutt)

    return dict(ours=ours, theirs=theirs, m=m, tm=tm, x=x, dout=dout, xt=xt, doutt=doutt)


def check_recurrent(b):
    """One step of each from zero gradients; the largest relative gap over out, dx, grads."""
    m, tm = b["m"], b["tm"]
    m.zero_grad()
    tm.zero_grad()
    b["xt"].grad = None
    out, _ = m(b["x"])
    dx, _ = m.backward(b["dout"])
    tout, _ = tm(b["xt"])
    tout.backward(b["doutt"])
    gaps = {"out": _rel_diff(out, tout.detach().numpy()), "dx": _rel_diff(dx, b["xt"].grad.numpy())}
    tparams = dict(tm.named_parameters())
    for name, p in m.named_parameters():
        gaps[name] = _rel_diff(p.grad, tparams[name].grad.numpy())
    return max(gaps.values()), gaps


def cache_memory(b, cell, B, T, H):
    """Bytes of numrnn's pending BPTT cache, the minimum BPTT needs, torch's saved tensors."""
    import torch

    m = b["m"]
    m(b["x"])
    exclude = [b["x"]] + [p.data for p in m.parameters()]
    ours, count = common.cache_nbytes(m._caches[-1], exclude=exclude)
    m.clear_caches()
    itemsize = np.dtype(np.float32).itemsize
    minimum = (T * MIN_PER_STEP[cell] + MIN_INITIAL[cell]) * B * H * itemsize

    storages = {}

    def pack(t):
        s = t.untyped_storage()
        storages[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out, _ = b["tm"](b["xt"])
    del out
    skip = {t.untyped_storage().data_ptr() for t in [b["xt"], *b["tm"].parameters()]}
    theirs = sum(n for ptr, n in storages.items() if ptr not in skip)
    return dict(
        numrnn_bytes=ours,
        numrnn_buffers=count,
        minimum_bytes=minimum,
        ratio=ours / minimum,
        torch_saved_bytes=theirs,
    )


def build_adam(B, T, D, H, seed=0):
    """numrnn.optim.Adam and torch.optim.Adam over the same LSTM's parameters and gradients."""
    import torch

    import numrnn
    from numrnn.optim import Adam

    m = numrnn.LSTM(D, H, seed=seed)
    tm = torch.nn.LSTM(D, H)
    tm.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in m.state_dict().items()})
    rng = np.random.default_rng(seed + 1)
    tparams = dict(tm.named_parameters())
    for name, p in m.named_parameters():
        p.grad[...] = rng.standard_normal(p.shape).astype(np.float32)
        tparams[name].grad = torch.from_numpy(p.grad.copy())
    opt, topt = Adam(m.parameters(), lr=1e-3), torch.optim.Adam(tm.parameters(), lr=1e-3)
    nparams = sum(p.data.size for p in m.parameters())

    def check():
        opt.step()
        topt.step()
        return max(_rel_diff(p.data, tparams[n].detach().numpy()) for n, p in m.named_parameters())

    return dict(ours=opt.step, theirs=topt.step, check=check, nparams=nparams)


def build_xent(N, C, seed=0):
    """numrnn.functional.cross_entropy (loss and dlogits) against F.cross_entropy + backward."""
    import torch

    from numrnn.functional import cross_entropy

    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((N, C)).astype(np.float32)
    target = rng.integers(0, C, N).astype(np.int64)
    lt = torch.from_numpy(logits.copy()).requires_grad_(True)
    tt = torch.from_numpy(target.copy())

    def ours():
        return cross_entropy(logits, target)

    def theirs():
        lt.grad = None  # a fresh gradient array, as numrnn returns one
        loss = torch.nn.functional.cross_entropy(lt, tt)
        loss.backward()
        return loss

    def check():
        loss, dlogits = ours()
        tloss = theirs()
        return max(_rel_diff(loss, tloss.detach().numpy()), _rel_diff(dlogits, lt.grad.numpy()))

    return dict(ours=ours, theirs=theirs, check=check)


# -- rows ------------------------------------------------------------------------------
def measure_pair(
    ours,
    theirs,
    repeats,
    warmup=3,
    budget=None,
    min_sample_s=0.005,
    extra=(),
    isolate=True,
    blocked=False,
):
    """Alternate ``ours`` and ``theirs`` (and any ``extra`` callables); ratio of medians."""
    stats, info = common.alternate(
        [ours, theirs, *extra],
        repeats=repeats,
        warmup=warmup,
        min_sample_s=min_sample_s,
        budget_s=budget,
        isolate=isolate,
        blocked=blocked,
    )
    a, b = stats[0], stats[1]
    paired = np.asarray(a.samples) / np.asarray(b.samples)  # per-round ratios
    return dict(
        numrnn=a,
        torch=b,
        extra=stats[2:],
        ratio=a.median / b.median,
        paired_ratio_q1=float(np.percentile(paired, 25)),
        paired_ratio_q3=float(np.percentile(paired, 75)),
        **info,
    )


def measure_recurrent(
    size,
    cell,
    repeats,
    warmup=3,
    budget=None,
    min_sample_s=0.005,
    gemm=False,
    memory=True,
    isolate=True,
    blocked=False,
):
    """Time one (size, cell) row; with ``gemm`` also its matrix products alone."""
    (B, T, D, H), goal = SIZES[size]
    b = build_recurrent(cell, B, T, D, H)
    gap, gaps = check_recurrent(b)
    row = dict(
        kind="recurrent",
        size=size,
        cell=cell,
        shape=(B, T, D, H),
        goal=goal,
        max_rel_gap=gap,
        rel_gaps=gaps,
    )
    if memory:
        row["memory"] = cache_memory(b, cell, B, T, H)
    extra = ()
    mon = common.CpuMonitor().start()
    if gemm:
        plan = common.gemm_plan(GATES[cell], B, T, D, H)
        extra = (common.make_gemm_runner(plan),)
    res = measure_pair(
        b["ours"], b["theirs"], repeats, warmup, budget, min_sample_s, extra, isolate, blocked
    )
    row.update(res)
    row["cpu"] = mon.stop()
    if gemm:
        flops = common.gemm_flops(plan)
        g = res["extra"][0]
        row["gemm"] = dict(
            flops=flops,
            gemm_median_s=g.median,
            gemm_spread=g.spread,
            numrnn_gflops=flops / res["numrnn"].median / 1e9,
            torch_gflops=flops / res["torch"].median / 1e9,
            gemm_gflops=flops / g.median / 1e9,
            fraction=g.median / res["numrnn"].median,
        )
    return row


def measure_extra(
    kind,
    label,
    shape,
    build,
    repeats,
    warmup=3,
    budget=None,
    min_sample_s=0.005,
    isolate=True,
    blocked=False,
):
    """An Adam or cross-entropy row; a module that is missing or failing becomes a skip note."""
    row = dict(kind=kind, size=label, cell=kind, shape=shape, goal=None)
    try:
        b = build()
        row["max_rel_gap"] = b["check"]()
        if "nparams" in b:
            row["shape"] = f"{shape}, {b['nparams']} params"
    except Exception as err:
        row["skipped"] = f"{type(err).__name__}: {err}"
        return row
    mon = common.CpuMonitor().start()
    row.update(
        measure_pair(
            b["ours"],
            b["theirs"],
            repeats,
            warmup,
            budget,
            min_sample_s,
            isolate=isolate,
            blocked=blocked,
        )
    )
    row["cpu"] = mon.stop()
    return row


# -- report ----------------------------------------------------------------------------
def _met(value, goal, smaller_is_better=True):
    if goal is None or value is None or not math.isfinite(value):
        return "—"
    return "yes" if (value <= goal if smaller_is_better else value >= goal) else "no"


def _shape_str(shape):
    return "(" + ", ".join(str(v) for v in shape) + ")" if isinstance(shape, tuple) else str(shape)


def _fmt_ratio(r):
    return f"{r:.2f}" if r >= 0.1 else f"{r:.2g}"


def timing_table(rows):
    headers = [
        "size",
        "cell",
        "(B, T, D, H)",
        "numrnn ms",
        "torch ms",
        "spread (IQR/median numrnn / torch)",
        "ratio",
        "goal",
        "met?",
    ]
    out = []
    for r in rows:
        if "skipped" in r:
            out.append(
                [r["size"], r["cell"], _shape_str(r["shape"]), "—", "—", "—", "—", "—", "skipped"]
            )
            continue
        a, b = r["numrnn"], r["torch"]
        goal = r["goal"]
        out.append(
            [
                r["size"],
                r["cell"],
                _shape_str(r["shape"]),
                common.fmt_ms(a.median),
                common.fmt_ms(b.median),
                f"{100 * a.spread:.1f}% / {100 * b.spread:.1f}%",
                _fmt_ratio(r["ratio"]),
                "—" if goal is None else f"<= {goal:g}",
                _met(r["ratio"], goal),
            ]
        )
    return common.markdown_table(headers, out)


def gemm_table(rows):
    headers = [
        "size",
        "cell",
        "GFLOP / step",
        "numrnn GFLOP/s",
        "torch GFLOP/s",
        "GEMMs alone GFLOP/s",
        "GEMM time / numrnn time",
        "goal",
        "met?",
    ]
    out = []
    for r in rows:
        g = r.get("gemm")
        if g is None:
            continue
        out.append(
            [
                r["size"],
                r["cell"],
                f"{g['flops'] / 1e9:.2f}",
                f"{g['numrnn_gflops']:.1f}",
                f"{g['torch_gflops']:.1f}",
                f"{g['gemm_gflops']:.1f}",
                f"{100 * g['fraction']:.0f}%",
                f">= {100 * GEMM_GOAL:.0f}%",
                _met(g["fraction"], GEMM_GOAL, smaller_is_better=False),
            ]
        )
    return common.markdown_table(headers, out) if out else None


def memory_table(rows):
    headers = [
        "size",
        "cell",
        "numrnn cache MiB",
        "BPTT minimum MiB",
        "ratio",
        "torch saved MiB",
        "goal",
        "met?",
    ]
    out = []
    for r in rows:
        mem = r.get("memory")
        if mem is None:
            continue
        goal = MEMORY_GOAL.get(r["size"])
        out.append(
            [
                r["size"],
                r["cell"],
                f"{mem['numrnn_bytes'] / 2**20:.3f}",
                f"{mem['minimum_bytes'] / 2**20:.3f}",
                f"{mem['ratio']:.2f}",
                f"{mem['torch_saved_bytes'] / 2**20:.3f}",
                "—" if goal is None else f"<= {goal:g}",
                _met(mem["ratio"], goal),
            ]
        )
    return common.markdown_table(headers, out) if out else None


BUSY_FRAC = 0.10  # background CPU share above which a row's timings are flagged


def notes(rows):
    lines = []
    busy = [
        f"{r['size']} {r['cell']} ({100 * r['cpu']['background_frac']:.0f}%)"
        for r in rows
        if (r.get("cpu") or {}).get("background_frac", 0) > BUSY_FRAC
    ]
    if busy:
        lines.append(
            f"- WARNING other processes used more than {100 * BUSY_FRAC:.0f}% of the machine's "
            f"CPU while these rows were timed; their times are unreliable: " + ", ".join(busy)
        )
    stuck = [f"{r['size']} {r['cell']}" for r in rows if r.get("max_quiesce_s", 0) >= 0.99]
    if stuck:
        lines.append(
            "- WARNING the process did not go idle within 1 s before some samples (a thread "
            "kept spinning), so the isolation did not hold: " + ", ".join(stuck)
        )
    for r in rows:
        if "skipped" in r:
            lines.append(f"- {r['size']} {r['cell']}: skipped ({r['skipped']})")
        elif r.get("max_rel_gap", 0) > AGREE_TOL:
            lines.append(
                f"- {r['size']} {r['cell']}: WARNING numrnn and torch disagree by "
                f"{r['max_rel_gap']:.2e} (relative) on one step; the two sides may not "
                f"be doing the same work"
            )
    return lines


def report(rows, info, args, elapsed, cpu=None):
    parts = ["# numrnn vs torch (CPU, float32): one training step", ""]
    parts += [f"- {k}: {v}" for k, v in info]
    parts += [
        f"- method: alternating calls, {args.warmup} warm-up call(s) each, up to {args.repeats} "
        f"samples each (>= {args.min_sample_ms:g} ms per sample"
        + (
            "; NOT isolated"
            if args.no_isolate
            else "; each after the process went idle and one untimed priming call"
        )
        + ")"
        + ("; BLOCKED, not alternating (diagnostic)" if args.blocked else "")
        + (f", at most {args.budget:g} s per row" if args.budget else "")
        + "; ratio = median(numrnn) / median(torch)",
        f"- wall time {elapsed:.1f} s",
    ]
    if hasattr(os, "getloadavg"):
        parts.append("- load average {:.2f} {:.2f} {:.2f} at end".format(*os.getloadavg()))
    if cpu:
        parts.append(
            f"- background load: other processes used {100 * cpu['background_frac']:.0f}% "
            f"of the machine's CPU during the run (this one {100 * cpu['ours_frac']:.0f}%)"
        )
    gaps = [r["max_rel_gap"] for r in rows if "max_rel_gap" in r]
    if gaps:
        parts.append(
            f"- agreement check (one step each from the same weights): largest relative "
            f"gap {max(gaps):.1e} (warning above {AGREE_TOL:g})"
        )
    parts += ["", "## Time per training step", "", timing_table(rows)]
    for title, table in (
        ("## GEMM efficiency", gemm_table(rows)),
        ("## BPTT cache memory (after one forward)", memory_table(rows)),
    ):
        if table:
            parts += ["", title, "", table]
    extra = notes(rows)
    if extra:
        parts += ["", "## Notes", "", *extra]
    return "\n".join(parts) + "\n"


def _jsonable(row):
    out = {}
    for k, v in row.items():
        if isinstance(v, common.Stats):
            out[k] = v.as_dict()
        elif k == "extra":
            continue
        else:
            out[k] = v
    return out


# -- command line ----------------------------------------------------------------------
def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--cells",
        default=",".join(RECURRENT + EXTRAS),
        help="comma-separated among rnn,lstm,gru,adam,xent (default: all)",
    )
    p.add_argument(
        "--sizes", default=",".join(SIZES), help=f"comma-separated among {','.join(SIZES)}"
    )
    p.add_argument(
        "--repeats", type=int, default=21, help="timed samples per contender (default 21)"
    )
    p.add_argument("--warmup", type=int, default=3, help="untimed calls of each first (default 3)")
    p.add_argument(
        "--budget",
        type=float,
        default=None,
        help="stop a row after this many seconds of timing (at least 3 samples)",
    )
    p.add_argument(
        "--min-sample-ms",
        type=float,
        default=5.0,
        help="a sample repeats a fast call until it lasts this long (default 5)",
    )
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    p.add_argument(
        "--gemm-sizes",
        default="large",
        help="sizes at which to time the GEMMs alone ('all', 'none'; default large)",
    )
    p.add_argument("--xent-n", type=int, default=64 * 50, help="cross-entropy rows (default 3200)")
    p.add_argument("--xent-classes", default="65,10000", help="cross-entropy class counts")
    p.add_argument("--no-memory", action="store_true", help="skip the cache-memory table")
    p.add_argument(
        "--no-isolate",
        action="store_true",
        help="diagnostic: no quiescence wait and priming call before each sample "
        "(shows how much one library's spinning threads slow the other)",
    )
    p.add_argument(
        "--blocked",
        action="store_true",
        help="diagnostic: all samples of numrnn, then all of torch, instead of alternating",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="short CI run: tiny, karpathy, small; 5 samples; cross-entropy C=65 only",
    )
    p.add_argument("--markdown", metavar="FILE", help="also write the report to FILE")
    p.add_argument("--json", metavar="FILE", help="write every measurement (all samples) to FILE")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes = ",".join(QUICK["sizes"])
        args.repeats, args.warmup = QUICK["repeats"], QUICK["warmup"]
        args.budget = args.budget if args.budget is not None else QUICK["budget"]
        args.min_sample_ms = QUICK["min_sample_ms"]
        args.xent_classes = ",".join(map(str, QUICK["xent_classes"]))
    args.cell_list = [c for c in args.cells.split(",") if c]
    args.size_list = [s for s in args.sizes.split(",") if s]
    bad = [c for c in args.cell_list if c not in RECURRENT + EXTRAS]
    if bad:
        p.error(f"--cells: unknown {bad}; choose among {', '.join(RECURRENT + EXTRAS)}")
    bad = [s for s in args.size_list if s not in SIZES]
    if bad:
        p.error(f"--sizes: unknown {bad}; choose among {', '.join(SIZES)}")
    if args.repeats < 1 or args.threads < 1:
        p.error("--repeats and --threads must be >= 1")
    gs = args.gemm_sizes
    args.gemm_set = set(SIZES) if gs == "all" else set() if gs == "none" else set(gs.split(","))
    args.xent_list = [int(c) for c in args.xent_classes.split(",") if c]
    return args


def run(args):
    """Measure every selected row; returns the rows (dicts) in table order."""
    sample = args.min_sample_ms / 1e3
    kw = dict(
        repeats=args.repeats,
        warmup=args.warmup,
        budget=args.budget,
        min_sample_s=sample,
        isolate=not args.no_isolate,
        blocked=args.blocked,
    )
    rows = []
    for size in args.size_list:
        for cell in args.cell_list:
            if cell not in RECURRENT:
                continue
            t0 = time.perf_counter()
            rows.append(
                measure_recurrent(
                    size, cell, gemm=size in args.gemm_set, memory=not args.no_memory, **kw
                )
            )
            _log(
                f"[bench] {size} {cell}: ratio {rows[-1]['ratio']:.2f} "
                f"({time.perf_counter() - t0:.1f} s)"
            )
    if "adam" in args.cell_list:
        for size in args.size_list:
            (B, T, D, H), _ = SIZES[size]
            rows.append(
                measure_extra(
                    "adam", size, f"LSTM({D}, {H})", lambda D=D, H=H: build_adam(1, 1, D, H), **kw
                )
            )
    if "xent" in args.cell_list:
        for C in args.xent_list:
            rows.append(
                measure_extra(
                    "xent",
                    f"N={args.xent_n}, C={C}",
                    f"(N={args.xent_n}, C={C})",
                    lambda C=C: build_xent(args.xent_n, C),
                    **kw,
                )
            )
    return rows


def main(argv=None):
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    info = common.machine_info(torch)
    start, mon = time.perf_counter(), common.CpuMonitor().start()
    rows = run(args)
    text = report(rows, info, args, time.perf_counter() - start, mon.stop())
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": dict(info),
                    "args": {k: v for k, v in vars(args).items() if k != "gemm_set"},
                    "rows": [_jsonable(r) for r in rows],
                },
                f,
                indent=1,
                default=str,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
