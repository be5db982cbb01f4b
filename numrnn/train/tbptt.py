r"""Truncated backpropagation through time in its three forms, each the exact gradient of a stated objective.

Notation: a model maps an initial state and inputs to per-step outputs,
:math:`z_t = f_\theta(h_s, x_{s+1..t})` for :math:`t > s`, with a per-step loss
:math:`\ell_t(z_t) = \mathrm{mean}_b\, \ell(z_{t,b}, y_{t,b})`.  Full BPTT differentiates
:math:`\frac1T \sum_t \ell_t` through every state back to :math:`h_0`.  Truncation holds
some state :math:`h_s` *constant*: written :math:`\bar h_s`, a number computed by a
forward pass at the current :math:`\theta` and then frozen (``h.detach()`` in PyTorch;
here nothing needs detaching, because numrnn's ``backward`` never leaves the forward it
belongs to).  Each function below returns (or accumulates into ``.grad``) the *exact*
gradient of an objective in which the frozen states appear as constants, so each passes
a finite-difference check against that objective (``tests/train/test_tbptt.py`` writes them
out), and none equals the full-sequence gradient when its window is shorter than ``T``:
the terms it drops are the Jacobian products reaching back past the window.

1. **Chunked** (:func:`chunked_bptt`, what :func:`numrnn.train.tbptt_train` runs):
   cut the sequence into consecutive chunks :math:`[s, e)` of ``k`` steps; per chunk

   .. math:: J_c(\theta) = \frac{1}{e-s} \sum_{t=s}^{e-1} \ell_t\big(f_\theta(\bar h_s, x_{s..t})\big).

   The first output of a chunk gets no gradient from earlier steps at all, its last one
   ``k - 1`` steps: the window is uneven.

2. **TBPTT(k1, k2)** (:func:`tbptt`, Williams & Peng 1990): every ``k1`` steps, backpropagate
   the losses of the last ``k1`` steps through the last ``k2 >= k1`` steps.  For the update
   ending at :math:`e` (a multiple of ``k1``, or ``T``) with loss steps :math:`[e-k_1', e)`
   (:math:`k_1' = k_1`, shorter for a last partial chunk) and :math:`s = \max(0, e - k_2)`

   .. math:: J_n(\theta) = \frac{1}{k_1'} \sum_{t=e-k_1'}^{e-1} \ell_t\big(f_\theta(\bar h_s, x_{s..t})\big).

   Every output is backpropagated through at least ``k2 - k1 + 1`` steps; ``k1 = k2 = k`` is
   the chunked form.  The window's forward is recomputed from :math:`\bar h_s` (the states
   before it are advanced without a cache): ``k2 / k1`` times the forward cost of the
   chunked form, and the memory of ``k2`` steps.

3. **Per-output k-step window** (:func:`windowed_bptt`): every output is backpropagated
   exactly ``k`` steps (fewer only at the start of the sequence):

   .. math:: J(\theta) = \frac1T \sum_{t=0}^{T-1} \ell_t\big(f_\theta(\bar h_{t-k+1}, x_{t-k+1..t})\big),

   with :math:`\bar h_j` the state before input :math:`j` of the full forward (and the
   given initial state for :math:`j \le 0`).  With :math:`k \ge T` it is full BPTT.  It costs
   about ``k`` forward and backward steps per output (``T k`` in all, against ``T``).

The model: ``out, state = model(X, state)`` on time-major ``X`` (``(T, B, ...)``; e.g.
:class:`numrnn.models.CharLM`) and ``model.backward(dout)`` (gradient of the initial state
dropped).  ``loss_fn(out, Y) -> (loss, dout)`` with ``dout`` the gradient of ``loss``; by
default :func:`numrnn.functional.cross_entropy` (mean over its targets).  Dropout inside the
model draws new masks on the recomputed forwards: check gradients in ``eval()`` mode.
"""

from __future__ import annotations

from ..functional import cross_entropy
from ..nn import no_grad

__all__ = ["chunked_bptt", "tbptt", "windowed_bptt"]


def _check_steps(caller, **steps):
    for name, value in steps.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{caller}: {name} must be an integer >= 1; got {value!r}")


def _check_sequences(caller, X, Y):
    """Both time-major with the same number of steps >= 1; return ``T``."""
    for name, a in (("X", X), ("Y", Y)):
        if getattr(a, "ndim", 0) < 1 or a.shape[0] < 1:
            raise ValueError(
                f"{caller}: {name} must be a time-major array with at least one step; "
                f"got shape {getattr(a, 'shape', type(a).__name__)}"
            )
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"{caller}: X and Y must have the same number of steps (axis 0); "
            f"got {X.shape[0]} and {Y.shape[0]}"
        )
    return int(X.shape[0])


def _advance(model, X, state):
    """The state after running ``X`` from ``state``, keeping no cache (no gradient)."""
    if X.shape[0] == 0:
        return state
    with no_grad():
        _, state = model(X, state)
    return state


def _window(model, X, Y, state, num_loss_steps, loss_fn, scale=1.0):
    r"""Forward over the window ``X`` from the frozen ``state``; backward of the mean loss of
    its last ``num_loss_steps`` outputs, times ``scale``.  Returns ``(loss, final state)``."""
    out, final = model(X, state)  # (W, B, ...)
    loss, dlast = loss_fn(out[-num_loss_steps:], Y[-num_loss_steps:])
    dout = out * 0  # zeros on the backend of out; earlier outputs carry no loss
    dout[-num_loss_steps:] = dlast * scale
    model.backward(dout)
    return loss, final


def chunked_bptt(model, X, Y, k, *, state=None, loss_fn=cross_entropy):
    r"""Chunked truncated BPTT: one backward per chunk of ``k`` steps (form 1 in the module doc).

    A generator: for each chunk :math:`[s, e)` it runs the forward from the carried state,
    accumulates :math:`\nabla_\theta J_c` into ``.grad`` and yields ``(loss, state)``, the
    chunk's mean loss and the state at :math:`e` (carried into the next chunk).  Step the
    optimiser between yields to train; accumulate without stepping to get
    :math:`\nabla_\theta \sum_c J_c` at a fixed :math:`\theta`.

    Args:
        model: ``out, state = model(X, state)``; ``model.backward(dout)``.
        X, Y: time-major inputs and targets with the same ``T = X.shape[0]``.
        k: chunk length, an integer >= 1 (the last chunk may be shorter).
        state: the initial state (None: the model's default, zeros).
        loss_fn: ``loss_fn(out, Y) -> (loss, dout)``.

    Raises:
        ValueError: ``k`` is not a positive integer, or ``X``/``Y`` lengths disagree.
    """
    _check_steps("chunked_bptt", k=k)
    T = _check_sequences("chunked_bptt", X, Y)
    for s in range(0, T, k):
        e = min(T, s + k)
        loss, state = _window(model, X[s:e], Y[s:e], state, e - s, loss_fn)
        yield loss, state


def tbptt(model, X, Y, k1, k2, *, state=None, loss_fn=cross_entropy):
    r"""TBPTT(k1, k2) of Williams & Peng (1990): every ``k1`` steps, backpropagate ``k2`` steps.

    A generator over the updates (form 2 in the module doc): for the update ending at
    :math:`e`, the state :math:`\bar h_s` at :math:`s = \max(0, e - k_2)` is advanced without
    a cache from the last kept boundary state, the window :math:`[s, e)` is run forward, the
    mean loss of its last ``k1`` outputs is backpropagated to :math:`s`
    (:math:`\nabla_\theta J_n` added to ``.grad``), and ``(loss, state at e)`` is yielded.

    Args:
        model, X, Y, state, loss_fn: as in :func:`chunked_bptt`.
        k1: steps between updates (and loss steps per update), an integer >= 1.
        k2: steps backpropagated per update, an integer >= ``k1``.

    Raises:
        ValueError: ``k1`` or ``k2`` not positive integers, ``k2 < k1``, or the lengths of
            ``X`` and ``Y`` disagree.
    """
    _check_steps("tbptt", k1=k1, k2=k2)
    if k2 < k1:
        raise ValueError(
            f"tbptt: k2 (steps backpropagated) must be >= k1 (steps between updates); "
            f"got k1={k1}, k2={k2}"
        )
    T = _check_sequences("tbptt", X, Y)
    boundary = {0: state}  # states at the update times, kept while a window may start there
    for prev in range(0, T, k1):
        e = min(T, prev + k1)  # this update's loss steps are [prev, e)
        s = max(0, e - k2)  # ... backpropagated to s
        b = max(t for t in boundary if t <= s)  # nearest kept state at or before s
        h_s = _advance(model, X[b:s], boundary[b])
        loss, boundary[e] = _window(model, X[s:e], Y[s:e], h_s, e - prev, loss_fn)
        s_next = max(0, min(T, e + k1) - k2)  # where the next window starts
        keep = max(t for t in boundary if t <= s_next)
        for t in [t for t in boundary if t < keep]:
            del boundary[t]  # no later window needs a state before `keep`
        yield loss, boundary[e]


def windowed_bptt(model, X, Y, k, *, state=None, loss_fn=cross_entropy):
    r"""Per-output k-step truncation: each output's loss backpropagated exactly ``k`` steps.

    Accumulates :math:`\nabla_\theta J` (form 3 in the module doc) into ``.grad``: one
    cache-free forward over ``X`` records the state before every step, then for each
    output :math:`t` the window :math:`[\max(0, t-k+1), t]` is run from its frozen state
    and the loss of output :math:`t`, divided by ``T``, is backpropagated through it.

    Args:
        model, X, Y, state, loss_fn: as in :func:`chunked_bptt`.
        k: steps backpropagated per output, an integer >= 1 (``k >= T``: full BPTT).

    Returns:
        ``(loss, state)``: :math:`J` (the mean of the per-step losses, which do not depend
        on ``k``) and the state after the last step.

    Raises:
        ValueError: ``k`` not a positive integer, or the lengths of ``X`` and ``Y`` disagree.
    """
    _check_steps("windowed_bptt", k=k)
    T = _check_sequences("windowed_bptt", X, Y)
    before = [state]  # before[j]: the state before input j
    for j in range(T):
        before.append(_advance(model, X[j : j + 1], before[j]))
    total = 0.0
    for t in range(T):
        s = max(0, t - k + 1)
        loss, _ = _window(model, X[s : t + 1], Y[s : t + 1], before[s], 1, loss_fn, 1.0 / T)
        total = total + loss / T
    return total, before[T]
