r"""Language models: truncated BPTT over token streams, and evaluation.

Truncated backpropagation through time
--------------------------------------
A long text is cut into ``B`` parallel streams and read ``num_steps`` tokens at a
time (:func:`numrnn.data.sequential_partition`).  The final hidden state of one
chunk is the initial state of the next, so the model *sees* the whole history;
but the backward pass of a chunk stops at the chunk's start: the gradient with
respect to the carried-in state is dropped.  In PyTorch one writes
``h = h.detach()``; in numrnn nothing needs detaching, because ``backward`` only
ever runs through the forward it belongs to, and the loop below discards the
returned :math:`\partial L/\partial h_0`.

What the truncated gradient approximates: the exact gradient of the loss of
chunk :math:`k` is :math:`\sum_{s \le t} \partial L_t/\partial h_t \prod_{j=s+1}^{t}
\partial h_j/\partial h_{j-1} \, \partial h_s/\partial \theta`, a sum over every
earlier step :math:`s` of the whole stream.  Truncation keeps only the terms
with :math:`s` inside the chunk.  The terms it drops are products of many
Jacobians, which usually shrink geometrically with the distance (the vanishing
gradient), so the truncated gradient is a biased but cheap estimate of the full
one.  For the same reason it cannot pass a gradient check against the loss of
the *whole* stream: a finite difference on a weight changes every earlier state
too, and that change is exactly what truncation ignores.  (Checked against the
loss of the chunk as a function of the chunk's weights *with the incoming state
held fixed*, it passes: that is the function it is the exact gradient of.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..backend import to_numpy
from ..functional import cross_entropy
from ..metrics import perplexity
from ..nn import Module, eval_mode, no_grad
from ..optim import Optimizer
from .optimizer_step import check_finite_loss, update

__all__ = ["evaluate_lm", "tbptt_train"]


def tbptt_train(
    model: Module,
    stream: Iterable,
    optimizer: Optimizer,
    *,
    state=None,
    clip_norm: float | None = None,
    loss_fn: Callable = cross_entropy,
    max_steps: int | None = None,
    time_budget: float | None = None,
    on_step: Callable[[int, float, float], bool | None] | None = None,
) -> tuple[list[float], Any, bool]:
    r"""One pass of truncated BPTT over ``stream``, carrying the state between chunks.

    For each ``(X, Y)`` of the stream: ``logits, state = model(X, state)``;
    ``loss, dlogits = loss_fn(logits, Y)``; ``model.backward(dlogits)`` (through
    this chunk only); the global gradient norm :math:`N` (before clipping) and the
    optional clipping, by one ``clip_grad_norm_``; ``optimizer.step()``;
    ``optimizer.zero_grad()``.  The pass stops at the first step whose loss or
    gradient is not finite, before that step's optimiser update
    (:func:`numrnn.train.update`).

    Args:
        model: called as ``model(X, state) -> (logits, state)`` with a
            ``backward(dlogits)`` (e.g. :class:`numrnn.models.CharLM`).
        stream: iterable of ``(X, Y)`` integer arrays, consecutive chunks of
            parallel streams (:func:`numrnn.data.sequential_partition`).
        optimizer: a :mod:`numrnn.optim` optimiser over ``model.parameters()``.
        state: the state to start from (None: zeros).
        clip_norm: clip the global gradient norm to this value before each step.
        max_steps, time_budget: stop after this many steps / seconds.
        on_step: called as ``on_step(step, loss, grad_norm)`` after every step
            (``grad_norm``: the global gradient norm before clipping); returning
            True stops the pass.

    Returns:
        ``(losses, state, stopped)``: the per-step mean losses, the last state
        (to carry into the next pass) and whether a limit stopped the pass early.

    Raises:
        FloatingPointError: at the first non-finite loss (``step 4: loss is not
            finite (nan)``) or gradient (``step 4: gradient of rnn.weight_hh_l0 is
            not finite (inf)``), ``step`` counted from 0 within the pass; the
            parameters are those before that step, its gradients are left in ``.grad``.
    """
    losses = []
    start = time.perf_counter()
    for step, (X, Y) in enumerate(stream):
        logits, state = model(X, state)
        loss, dlogits = loss_fn(logits, Y)
        model.backward(dlogits)
        losses.append(float(to_numpy(loss)))
        check_finite_loss(losses[-1], step)
        grad_norm = update(model, optimizer, clip_norm, step=step)
        if on_step is not None and on_step(step, losses[-1], grad_norm):
            return losses, state, True
        if (max_steps is not None and len(losses) >= max_steps) or (
            time_budget is not None and time.perf_counter() - start >= time_budget
        ):
            return losses, state, True
    return losses, state, False


def evaluate_lm(
    model: Module, stream: Iterable, loss_fn: Callable = cross_entropy
) -> tuple[float, float]:
    """Mean per-token loss of ``model`` over ``stream`` (state carried, no cache kept).

    Returns ``(mean_loss, perplexity)`` with perplexity ``exp(mean_loss)``.
    """
    total, count, state = 0.0, 0, None
    with eval_mode(model), no_grad():
        for X, Y in stream:
            logits, state = model(X, state)
            loss, _ = loss_fn(logits, Y, reduction="sum")
            total += float(to_numpy(loss))
            count += int(np.asarray(Y).size)
    if count == 0:
        raise ValueError("evaluate_lm: the stream yielded no tokens")
    mean = total / count
    return mean, perplexity(mean)
