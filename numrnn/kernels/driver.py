r"""The time loop every fast recurrent kernel shares: one layer-direction, forward and BPTT.

A cell kernel (:mod:`.rnn`, :mod:`.lstm`, :mod:`.gru`) supplies the arithmetic of
one time step; :class:`TimeLoop` supplies everything around it, once for all
cells: the order of the steps, the state buffers and their per-step views, the
rows that are active at each step when sequences have different lengths, the
final states, and for the backward the walk through time in blocks with the
carried gradient :math:`\partial L/\partial h_t`.  The readable version of the
same loop, a plain ``for t in range(T)`` / ``for t in reversed(range(T))``, is
``numrnn/reference/``; this one computes the same numbers.

**States in time order.**  A layer-direction over ``T`` steps keeps each state
(``h``, and ``c`` for the LSTM) in one buffer ``hs`` of shape ``(T + 1, B, S)``:

* forward direction: ``hs[0] = h_0`` and ``hs[t + 1] = h_t``;
* reverse direction: ``hs[T] = h_0`` and ``hs[t] = h_t`` (step ``t`` reads ``hs[t + 1]``).

So the output sequence is the contiguous view ``hs[1:]`` (forward) or ``hs[:T]``
(reverse), the states the steps read are ``hs[:T]`` or ``hs[1:]``, and the final
state is ``hs[T]`` or ``hs[0]``: no copy is made to return the output, and the
recurrent-weight gradient is one matrix product over all steps after the loop.

**Variable lengths** follow PyTorch's ``PackedSequence``: the batch is sorted by
length, longest first, and ``batch_sizes[t]`` rows are active at step ``t``.  The
active rows are always a prefix ``[:n]``, so a step computes on ``[:n]`` only; the
inactive rows carry their state through unchanged (forward: frozen after their
last step; reverse: still ``h_0`` before their first), which makes the final state
each row's state at its own last valid step.  In the backward the inactive rows
likewise carry their gradient through unchanged.

**Per-step views made once.**  The step functions index lists of views built
before the loop (:meth:`TimeLoop.per_step`, :meth:`TimeLoop.read_write`,
:meth:`TimeLoop.row_prefixes`) instead of slicing ``buf[t, :n]`` inside it.  With
every row active the lists come from ``list(buf)``, which makes all views in one C
loop: at ``B = 1`` a step of tanh-RNN arithmetic took 1.53 µs against 1.66 µs with
slicing in the loop.  With variable lengths the lists cost what the slices would.
A kernel hands its step to the loop as a closure over these views (one Python call
per step, about 0.1 µs).

**The backward in blocks.**  What a step's backward needs that does not depend on
the incoming gradient (the *local factors*, e.g. :math:`1 - h_t^2`) is computed
for a block of steps with one array operation, then the recursion runs step by
step through the block (:func:`backward_blocks`).

**The weights as one dict.**  Every sequence kernel takes the weights of its
layer-direction as :mod:`numrnn.reference` does, one ``params`` dict after the
states; :func:`layer_weights` checks its keys and takes the arrays out once per
call, before the loop.
"""

from __future__ import annotations

import itertools
import math
import threading

import numpy as np

from ..backend import ops

__all__ = [
    "BLOCK_ELEMENTS",
    "TimeLoop",
    "backward_blocks",
    "check_batch_sizes",
    "layer_weights",
    "workspace",
]


def check_batch_sizes(batch_sizes, T, B):
    """Validate ``batch_sizes``: ``T`` non-increasing integers in ``[0, B]`` starting at ``B``.

    A step with no active row (every sequence shorter than ``T``) is allowed: it
    carries all states through and its outputs are zero.  Returns a list of ints
    (or None for None).

    Raises:
        ValueError: wrong count, not non-increasing, not starting at ``B``, or negative.
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


#: the keys of a layer-direction's ``params``, without and with a projection (the LSTM's)
_WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
_PROJECTED = (*_WEIGHTS, "weight_hr")
_KEYS = {False: frozenset(_WEIGHTS), True: frozenset(_PROJECTED)}


def layer_weights(fn, params, projection=False):
    """The weights of one layer-direction, taken out of its ``params`` dict once per call.

    ``params`` is keyed as in :mod:`numrnn.reference`: ``weight_ih`` and ``weight_hh``,
    ``bias_ih`` and ``bias_hh`` (both or neither), and with ``projection`` (the LSTM)
    ``weight_hr``; an optional key absent or None means the layer has no such weight.
    ``fn`` names the kernel in the errors.  Under 0.5 µs a call, made before the loop.

    Returns:
        ``(weight_ih, weight_hh, bias_ih, bias_hh)``, then ``weight_hr`` with ``projection``:
        the arrays, None for an absent one.

    Raises:
        TypeError: ``params`` is not a dict.
        KeyError: a key that is none of these names, or no ``weight_ih`` / ``weight_hh``.
        ValueError: one of ``bias_ih``, ``bias_hh`` without the other.
    """
    if not isinstance(params, dict):
        raise TypeError(f"{fn}: params must be a dict of weights; got {type(params).__name__}")
    if not params.keys() <= _KEYS[projection]:
        names = _PROJECTED if projection else _WEIGHTS
        unknown = min(params.keys() - names)
        raise KeyError(f"{fn}: params has an unknown key {unknown!r}; it takes {', '.join(names)}")
    get = params.get
    weights = (get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"))
    if weights[0] is None or weights[1] is None:
        missing = "weight_ih" if weights[0] is None else "weight_hh"
        raise KeyError(f"{fn}: params has no {missing!r}; it needs weight_ih and weight_hh")
    if (weights[2] is None) != (weights[3] is None):
        given = "bias_ih" if weights[3] is None else "bias_hh"
        raise ValueError(f"{fn}: params has {given} alone; give bias_ih and bias_hh or neither")
    return (*weights, get("weight_hr")) if projection else weights


#: elements (of the widest per-step array) that the backward's per-block work aims to keep in
#: cache: about 128 KiB of float32
BLOCK_ELEMENTS = 32768


def backward_blocks(T, reverse, step_elements):
    r"""Split the steps into blocks for the backward, in the order BPTT visits them.

    A block holds as many steps as keep ``steps * step_elements`` near
    :data:`BLOCK_ELEMENTS`, so that the local factors computed for the block are
    still in cache when the recursion reads them: with a small batch many steps
    share one array operation (less per-call overhead, 16-20% faster at ``B = 1``),
    with a large batch each step is its own block (computing all ``T`` steps'
    factors at once was 7-18% slower at ``B >= 32``: the arrays leave the cache).

    Yields ``(lo, hi, steps)``: the block covers time indices ``lo .. hi-1`` and
    ``steps`` lists them in visiting order.
    """
    S = max(1, BLOCK_ELEMENTS // max(1, step_elements))
    starts = list(range(0, T, S))
    for lo in starts if reverse else reversed(starts):
        hi = min(lo + S, T)
        yield lo, hi, (range(lo, hi) if reverse else range(hi - 1, lo - 1, -1))


_WORKSPACE = threading.local()


def workspace(name, shape, like):
    """An uninitialised array of ``shape`` for a backward's scratch, reused from call to call.

    A large freshly allocated array is paid for again at its first write (the
    operating system maps and zeroes its pages on demand: about 20 ms per training
    step for the ``(T, B, 4H)`` gradients of a (64, 100, 256, 512) LSTM, 5-6% of the
    step at the medium size).  The backward's pre-activation gradients live only
    until the products after the loop, so one buffer per name, backend and dtype,
    grown to the largest size seen, serves every call.  The pool is per thread
    (``threading.local``) because two threads running backwards at once would
    otherwise write into the same buffer.  Callers write every entry they read,
    and nothing returned to the caller may view a workspace.
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


class TimeLoop:
    """The steps of one layer-direction over ``T`` steps of a ``(T, B, ...)`` batch.

    Args:
        x: the ``(T, B, D)`` input (only its shape and backend are read).
        reverse: visit ``t = T-1`` down to 0 (the backward direction of a bidirectional layer).
        batch_sizes: ``T`` non-increasing active-row counts (rows sorted by length,
            longest first), or None when every row has length ``T``.

    Raises:
        ValueError: inconsistent ``batch_sizes`` (see :func:`check_batch_sizes`).
    """

    __slots__ = ("B", "T", "batch_sizes", "reverse", "rows", "xp")

    def __init__(self, x, reverse=False, batch_sizes=None):
        self.xp = ops(x)
        self.T, self.B = T, B = x.shape[0], x.shape[1]
        self.reverse = bool(reverse)
        self.batch_sizes = None if batch_sizes is None else check_batch_sizes(batch_sizes, T, B)
        self.rows = [B] * T if batch_sizes is None else self.batch_sizes  # active rows per step

    # -- the state buffers and their views ------------------------------------
    def steps(self):
        """The order in which this direction visits the time steps."""
        return range(self.T - 1, -1, -1) if self.reverse else range(self.T)

    def slots(self, t):
        """Indices into a state buffer of the state step ``t`` reads and the one it writes."""
        return (t + 1, t) if self.reverse else (t, t + 1)

    def states(self, initial):
        """A ``(T + 1, B, S)`` buffer in time order holding ``initial`` ``(B, S)`` as ``h_0``."""
        buf = self.xp.empty((self.T + 1, *initial.shape), like=initial)
        buf[self.T if self.reverse else 0] = initial
        return buf

    def read_write(self, states):
        """For every step ``t``: the views (active rows) of the state it reads and of the one it writes."""
        if self.batch_sizes is None:
            slots = list(states)  # T + 1 views, each step reads one and writes the next
            return (slots[1:], slots[:-1]) if self.reverse else (slots[:-1], slots[1:])
        return self.per_step(self.previous(states)), self.per_step(self.current(states))

    def per_step(self, buf):
        """``[buf[t, :n_t] for every t]``: each step's active rows of a ``(T, B, ...)`` buffer."""
        if self.batch_sizes is None:
            return list(buf)
        return [buf[t, :n] for t, n in enumerate(self.batch_sizes)]

    def row_prefixes(self, buf):
        """``{n: buf[:n]}`` for every active-row count: views of a ``(B, ...)`` step buffer."""
        if self.batch_sizes is None:
            return {self.B: buf}
        return {n: buf[:n] for n in set(self.batch_sizes)}

    def current(self, states):
        """:math:`h_t` for every ``t``: the ``(T, B, S)`` view of a state buffer in step order."""
        return states[:-1] if self.reverse else states[1:]

    def previous(self, states):
        """:math:`h_{t-1}` for every ``t`` (the state each step read), ``(T, B, S)``."""
        return states[1:] if self.reverse else states[:-1]

    def clear_padding(self, *bufs):
        """Set the padded positions ``buf[t, batch_sizes[t]:]`` of ``(T, B, ...)`` buffers to zero."""
        if self.batch_sizes is not None:
            for buf in bufs:
                for t, n in enumerate(self.batch_sizes):
                    buf[t, n:] = 0

    # -- forward ------------------------------------------------------------------
    def forward(self, step, *states):
        """Run ``step(t, n)`` for every ``t`` in this direction's order.

        ``step`` computes the states of step ``t`` for the ``n`` active rows, reading
        and writing through views it made with :meth:`read_write`; the inactive rows
        of every buffer in ``states`` then carry their state through unchanged.
        """
        B, bs = self.B, self.batch_sizes
        if bs is None:  # every row active at every step
            for t in self.steps():
                step(t, B)
            return
        for t in self.steps():
            n = bs[t]
            step(t, n)
            if n < B:
                p, c = self.slots(t)
                for buf in states:
                    buf[c, n:] = buf[p, n:]

    def output(self, states):
        """The output sequence ``(T, B, S)`` and a copy of the final state.

        The output is a view of ``states``, or a zero-padded copy with variable lengths.
        """
        if self.reverse:
            out, final = states[:-1], states[0]
        else:
            out, final = states[1:], states[-1]
        if self.batch_sizes is not None:
            out = self.xp.copy(out)
            self.clear_padding(out)
        return out, self.xp.copy(final)

    def final(self, states):
        """A copy of the final state ``(B, S)``: each row's state at its last valid step."""
        return self.xp.copy(states[0] if self.reverse else states[-1])

    # -- backward -----------------------------------------------------------------
    def carried(self, grad, states):
        """The ``(B, S)`` buffer that carries the gradient of a state back through time.

        A copy of ``grad`` (the gradient of the final state), or zeros when it is
        None; ``states`` is the state's ``(T + 1, B, S)`` buffer.
        """
        if grad is None:
            return self.xp.zeros(states.shape[1:], like=states)
        return self.xp.copy(grad)

    def backward(self, local_factors, step, dout, dh_next, row_elements, padded, record=None):
        r"""BPTT's walk through time, from the last step this direction visits back to the first.

        Args:
            local_factors: ``local_factors(lo, hi)`` computes the factors of steps
                ``lo .. hi-1`` that do not depend on the incoming gradient.
            step: ``step(t, n, dh)``: on entry ``dh`` ``(n, S)`` is
                :math:`\partial L/\partial h_t` of the active rows; the step forms
                its pre-activation gradients and overwrites ``dh`` with
                :math:`\partial L/\partial h_{t-1}`.
            dout: ``(T, B, S)`` gradient of the outputs (padded positions ignored) or None.
            dh_next: ``(B, S)`` the carried gradient (see :meth:`carried`), updated in place.
            row_elements: elements per batch row of the widest per-step array; with the
                batch size it sets the blocks (:func:`backward_blocks`).
            padded: ``(T, B, ...)`` buffers whose padded rows are cleared after
                ``local_factors``, so that the products after the loop sum zeros there.
            record: None, or a dict that receives ``"h"``: the norm of
                :math:`\partial L/\partial h_t` (active rows) for every ``t``, NumPy ``(T,)``.
        """
        dout_t = None if dout is None else self.per_step(dout)
        dh_rows = self.row_prefixes(dh_next)
        bs, rows = self.batch_sizes, self.rows
        for lo, hi, steps in backward_blocks(self.T, self.reverse, self.B * row_elements):
            local_factors(lo, hi)
            if bs is not None:
                for buf in padded:
                    for t in range(lo, hi):
                        buf[t, bs[t] :] = 0
            for t in steps:
                n = rows[t]
                dh = dh_rows[n]  # rows past n carry their gradient through unchanged
                if dout_t is not None:
                    dh += dout_t[t]
                if record is not None:
                    self.record(record, "h", t, dh)
                step(t, n, dh)

    def record(self, record, key, t, grad):
        """Store the norm of ``grad`` at step ``t`` in ``record[key]`` (a NumPy ``(T,)`` array)."""
        if key not in record:
            record[key] = np.zeros(self.T)
        xp = self.xp
        record[key][t] = float(xp.sqrt(xp.sum(grad * grad)))
