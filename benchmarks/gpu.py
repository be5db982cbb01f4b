"""numrnn's torch backend against torch.nn (cuDNN) on a GPU: one training step each.

One training step is a forward over the sequence and BPTT to every gradient:

* numrnn, torch backend: ``out, _ = m(x); m.backward(dout)`` — the same
  hand-written algorithm as the NumPy backend, on CUDA tensors, no autograd;
* reference: ``torch.nn.LSTM/GRU/RNN`` with cuDNN and autograd,
  ``out, _ = tm(x); out.backward(dout)``.

float32, both in this process, called in turn after a warm-up, each sample
bracketed by ``torch.cuda.synchronize()``.  Goal: at most 1.5x cuDNN's time at
the two larger sizes.

    python benchmarks/gpu.py                     # needs a CUDA GPU
    python benchmarks/gpu.py --device cpu        # the same comparison on the CPU
                                                  # (checks the script; timings are not the goal's)
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time

import numpy as np

SIZES = {  # name: ((B, T, D, H), goal for median(numrnn) / median(cuDNN))
    "small": ((32, 35, 28, 128), None),
    "medium": ((64, 50, 128, 256), 1.5),
    "large": ((64, 100, 256, 512), 1.5),
}
CELLS = ("rnn", "lstm", "gru")


def _sync(torch, device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(torch, device, cell, size, repeats, warmup):
    """Median seconds per training step for numrnn (torch backend) and torch.nn; and their gap."""
    import numrnn

    (B, T, D, H), _ = SIZES[size]
    ours = {"rnn": numrnn.RNN, "lstm": numrnn.LSTM, "gru": numrnn.GRU}[cell](
        D, H, seed=0, backend="torch", device=str(device)
    )
    ref = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](D, H).to(device)
    ref.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    gen = np.random.default_rng(0)
    x = torch.tensor(gen.standard_normal((T, B, D), dtype=np.float32), device=device)
    dout = torch.tensor(gen.standard_normal((T, B, H), dtype=np.float32), device=device)
    xr = x.clone().requires_grad_(True)

    def step_ours():
        ours(x)
        ours.backward(dout)

    def step_ref():
        out, _ = ref(xr)
        out.backward(dout)

    # agreement: one step from the same weights
    out_a, _ = ours(x)
    dx_a, _ = ours.backward(dout)
    out_b, _ = ref(xr)
    out_b.backward(dout)
    gap = max(
        float((out_a - out_b).abs().max() / out_b.abs().max()),
        float((dx_a - xr.grad).abs().max() / xr.grad.abs().max()),
    )
    times = {"ours": [], "ref": []}
    for fn in (step_ours, step_ref):
        for _ in range(warmup):
            fn()
    for _ in range(repeats):
        for name, fn in (("ours", step_ours), ("ref", step_ref)):
            _sync(torch, device)
            t0 = time.perf_counter()
            fn()
            _sync(torch, device)
            times[name].append(time.perf_counter() - t0)
    return statistics.median(times["ours"]), statistics.median(times["ref"]), gap


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda", help="cuda, cuda:1, or cpu (a check of the script)")
    p.add_argument("--cells", default=",".join(CELLS))
    p.add_argument("--sizes", default=",".join(SIZES))
    p.add_argument("--repeats", type=int, default=21)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("benchmarks/gpu.py needs PyTorch: pip install torch==2.13.0")
        return 0
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(
            "no CUDA GPU on this machine: nothing to measure (use --device cpu to check the script)"
        )
        return 0
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"# numrnn torch backend vs torch.nn ({'cuDNN' if device.type == 'cuda' else 'CPU'}), float32"
    )
    print(f"device: {name}; torch {torch.__version__}; {datetime.date.today().isoformat()}\n")
    print(
        "| size | cell | (B, T, D, H) | numrnn ms | torch.nn ms | ratio | goal | met? | max rel. gap |"
    )
    print("|---|---|---|---:|---:|---:|---|---|---:|")
    for size in args.sizes.split(","):
        for cell in args.cells.split(","):
            ours, ref, gap = measure(torch, device, cell, size, args.repeats, args.warmup)
            goal = SIZES[size][1]
            ratio = ours / ref
            met = (
                "—" if goal is None or device.type != "cuda" else ("yes" if ratio <= goal else "no")
            )
            print(
                f"| {size} | {cell} | {SIZES[size][0]} | {ours * 1e3:.2f} | {ref * 1e3:.2f} | "
                f"{ratio:.2f} | {'—' if goal is None else f'<= {goal}'} | {met} | {gap:.1e} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
