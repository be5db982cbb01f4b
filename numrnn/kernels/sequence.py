"""What every recurrent layer shares when it runs over time.

A layer-direction over ``T`` steps keeps its states in one buffer ``hs`` of shape
``(T + 1, B, H)`` laid out in *time order*:

* forward direction: ``hs[0] = h0`` and ``hs[t + 1] = h_t``;
* reverse direction: ``hs[T] = h0`` and ``hs[t] = h_t`` (step ``t`` reads ``hs[t + 1]``).

So the output sequence is the contiguous view ``hs[1:]`` (forward) or ``hs[:T]``
(reverse), the states each step read are ``hs[:T]`` or ``hs[1:]``, and the final
state is ``hs[T]`` or ``hs[0]``.  No copy is made to return the output, and the
recurrent-weight gradient is one matrix product over all steps after the loop.

Variable lengths follow PyTorch's ``PackedSequence``: the batch is sorted by
length, longest first, and ``batch_sizes[t]`` rows are active at step ``t``.  The
active rows are always a prefix ``[:n]``, so a step computes on ``[:n]`` only;
the inactive rows carry their state through unchanged (forward: frozen after
their last step; reverse: still ``h0`` before their first), which makes the final
state each row's state at its own last valid step.
"""

from __future__ import annotations

import itertools
import math
import threading

import numpy as np

from ..backend import ops

__all__ = [
    "BLOCK_ELEMENTS",
    "active_rows",
    "backward_blocks",
    "check_batch_sizes",
    "input_weight_grads",
    "per_step",
    "project_inputs",
    "recurrent_weight_grad",
    "row_prefixes",
    "sequence_views",
    "state_slots",
    "states_per_step",
    "time_steps",
    "transposed",
    "workspace",
    "zero_padding",
]


def time_steps(T, reverse):
    """The order in which a direction visits the time steps."""
    return range(T - 1, -1, -1) if reverse else range(T)


def state_slots(t, reverse):
    """Indices into ``hs`` of the state step ``t`` reads and the one it writes."""
    return (t + 1, t) if reverse else (t, t + 1)


#: elements (of the widest per-step array) that the backward's per-block work aims to keep in
#: cache: about 128 KiB of float32
BLOCK_ELEMENTS = 32768


def backward_blocks(T, reverse, row_elements):
    r"""Split the steps into blocks for the backward, in the order BPTT visits them.

    Work that does not depend on the incoming gradient (the local derivatives of
    every step) is done for a whole block of steps with one array operation,
    then the recursion runs step by step through the block.  A block holds as
    many steps as keep ``steps * row_elements`` near :data:`BLOCK_ELEMENTS`, so
    that the block's arrays are still in cache when the recursion reads them:
    with a small batch many steps share one operation (less per-call overhead),
    with a large batch each step is its own block (no extra memory traffic).

    Yields ``(lo, hi, steps)``: the block covers time indices ``lo .. hi-1`` and
    ``steps`` lists them in visiting order.
    """
    S = max(1, BLOCK_ELEMENTS // max(1, row_elements))
    starts = list(range(0, T, S))
    for lo in starts if reverse else reversed(starts):
        hi = min(lo + S, T)
        yield lo, hi, (range(lo, hi) if reverse else range(hi - 1, lo - 1, -1))


def active_rows(batch_sizes, t, B):
    """Number of rows (a prefix of the sorted batch) that step ``t`` updates."""
    return B if batch_sizes is None else batch_sizes[t]


_WORKSPACE = threading.local()


def workspace(name, shape, like):
    """An uninitialised array of ``shape`` for a backward's scratch, reused from call to call.

    A large freshly allocated array is paid for again at its first write (the
    operating system maps and zeroes its pages on demand: about 20 ms per training
    step for the (T, B, 4H) gradients of a (64, 100, 256, 512) LSTM).  The
    backward's pre-activation gradients live only until the products after the
    loop, so one buffer per name (per thread, backend and dtype), grown to the
    largest size seen, serves every call.  Callers write every entry they read.
    """
    xp = ops(like)
    pool = getattr(_WORKSPACE, "pool", None)
    if pool is None:
        pool = _WORKSPACE.pool = {}
    key = (name, xp, like.dtype)
    size = math.prod(shape)
    buf = pool.get(key)
    if buf is None or buf.shape[0] < size:
        buf = pool[key] = xp.empty((size,), like=like)
    return buf[:size].reshape(shape)


def per_step(buf, batch_sizes):
    """``[buf[t, :n_t] for every t]``: each step's active rows, as views made once before the loop.

    Indexing this list inside the time loop costs less than slicing there, which
    matters when a step's arrays are small; without ``batch_sizes`` the views are
    the whole steps (``list(buf)``).
    """
    if batch_sizes is None:
        return list(buf)
    return [buf[t, :n] for t, n in enumerate(batch_sizes)]


def states_per_step(hs, reverse, batch_sizes):
    """For every step ``t``: the view of the state it reads and of the state it writes (active rows)."""
    if batch_sizes is None:
        slots = list(hs)
        return (slots[1:], slots[:-1]) if reverse else (slots[:-1], slots[1:])
    read, write = [], []
    for t, n in enumerate(batch_sizes):
        p, c = state_slots(t, reverse)
        read.append(hs[p, :n])
        write.append(hs[c, :n])
    return read, write


def row_prefixes(buf, batch_sizes):
    """``{n: buf[:n]}`` for every active-row count: views of a carried ``(B, ...)`` buffer."""
    sizes = {buf.shape[0]} if batch_sizes is None else set(batch_sizes)
    return {n: buf[:n] for n in sizes}


def sequence_views(hs, reverse):
    """Split the state buffer ``hs`` ``(T+1, B, H)`` into (outputs, previous states, final state)."""
    if reverse:
        return hs[:-1], hs[1:], hs[0]
    return hs[1:], hs[:-1], hs[-1]


def check_batch_sizes(batch_sizes, T, B):
    """Validate ``batch_sizes``: ``T`` non-increasing integers in ``[0, B]`` starting at ``B``.

    A step with no active row (every sequence shorter than ``T``) is allowed: it
    carries all states through and its outputs are zero.
    """
    if batch_sizes is None:
        return None
    bs = [int(n) for n in batch_sizes]
    if len(bs) != T:
        raise ValueError(f"batch_sizes must have one entry per time step ({T}); got {len(bs)}")
    if bs[0] != B or any(n < 0 for n in bs) or any(a < b for a, b in itertools.pairwise(bs)):
        raise ValueError(
            f"batch_sizes must be non-increasing, start at the batch size {B} and stay >= 0; got {bs}"
        )
    return bs


def project_inputs(x, weight_ih, bias=None):
    r"""Input projections of every time step in one matrix product.

    :math:`A^{x}_t = x_t W_{ih}^\top + b` for all ``t`` at once: ``x`` ``(T, B, D)``,
    ``weight_ih`` ``(G, D)``, ``bias`` ``(G,)`` or None; returns ``(T, B, G)``.
    """
    xp = ops(x)
    T, B, D = x.shape
    a = xp.matmul(x.reshape(T * B, D), xp.contiguous(weight_ih.T))  # (T*B, G)
    if bias is not None:
        a += bias
    return a.reshape(T, B, weight_ih.shape[0])


def zero_padding(seq, batch_sizes):
    """Set the padded positions ``seq[t, batch_sizes[t]:]`` to zero, in place."""
    if batch_sizes is not None:
        for t, n in enumerate(batch_sizes):
            seq[t, n:] = 0
    return seq


def input_weight_grads(da, x, weight_ih):
    r"""The gradients that need no loop: one matrix product each over all ``T * B`` rows.

    With :math:`\delta_t = \partial L / \partial A^{x}_t` stacked as ``da`` ``(T, B, G)``:
    :math:`\partial L/\partial W_{ih} = \sum_t \delta_t^\top x_t`,
    :math:`\partial L/\partial b = \sum_{t,b} \delta_t`,
    :math:`\partial L/\partial x_t = \delta_t W_{ih}`.

    Returns ``(dx (T, B, D), dweight_ih (G, D), dbias (G,))``.
    """
    xp = ops(da)
    T, B, G = da.shape
    d2 = da.reshape(T * B, G)
    dweight = xp.matmul(d2.T, x.reshape(T * B, x.shape[-1]))  # (G, D)
    dbias = xp.sum(d2, axis=0)  # (G,)
    dx = xp.matmul(d2, weight_ih).reshape(T, B, x.shape[-1])  # (T, B, D)
    return dx, dweight, dbias


def transposed(weight):
    """``weight.T`` copied row-major once per sequence.

    The recurrent product of every step, :math:`h_{t-1} W_{hh}^\top`, runs faster
    on a row-major right operand (BLAS reads it along its rows); the copy costs
    one pass over the weights, the steps save far more.
    """
    return ops(weight).contiguous(weight.T)


def recurrent_weight_grad(da, h_prev):
    r""":math:`\partial L/\partial W_{hh} = \sum_t \delta_t^\top h_{t-1}` as one product: ``(G, H)``."""
    xp = ops(da)
    T, B, G = da.shape
    return xp.matmul(da.reshape(T * B, G).T, h_prev.reshape(T * B, h_prev.shape[-1]))


def _record(record, key, t, T, grad):
    """Store the norm of ``grad`` at step ``t`` in ``record[key]`` (a NumPy ``(T,)`` array)."""
    if key not in record:
        record[key] = np.zeros(T)
    xp = ops(grad)
    record[key][t] = float(xp.sqrt(xp.sum(grad * grad)))
