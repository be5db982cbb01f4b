r"""Loss functions, each returning the loss and its gradient in one call.

Every function here returns ``(loss, grad)``: ``loss`` has the dtype of the
first input (a 0-d array for ``reduction="mean"`` or ``"sum"``, the
per-element losses for ``"none"``) and ``grad`` is
:math:`\partial\,\text{loss} / \partial\,\text{input}` (of ``loss.sum()`` for
``"none"``), with the shape and dtype of the first input.  The results equal
``torch.nn.functional``'s on the same inputs, including its conventions for
class weights, ignored targets, label smoothing and empty or fully ignored
batches (a ``"mean"`` over nothing is NaN).

Magnitudes.  Exponentials only ever see non-positive numbers (max-shifted
softmax, :math:`e^{-|x|}` in the sigmoid), so no exponential overflows or
underflows.  What can still overflow in float32 is plain arithmetic on huge
inputs: the max-shift of logits :math:`\pm 3 \cdot 10^{38}`, a sum of many large
losses, a squared difference.  Before computing, each loss bounds the
magnitudes it will meet (largest input times number of terms summed, squared
for :func:`mse_loss`); when that bound comes within a factor 4 of the dtype's
largest number, a float32 (or float16) input is computed in float64 and the
results rounded back.  So, for float32 inputs anywhere in the finite float32
range, no floating-point error is signalled under
``numpy.errstate(all="raise")``, and every result is the float64 value rounded
to float32: a result beyond float32's range (a loss of :math:`6 \cdot 10^{38}`)
is returned as ``inf``, which is its correctly rounded value.  float64 inputs
have no wider type: they are safe while that bound stays below about
:math:`10^{307}`.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .activations import _exp_nonpositive, log_softmax, log_softmax_backward
from .loss_support import (
    _amax,
    _broadcastable,
    _check_ignore_index,
    _check_reduction,
    _class_layout,
    _class_targets,
    _class_weight,
    _float_input,
    _like,
    _narrow,
    _needs_float64,
    _reduce,
    _target_kind,
    _wide,
)

__all__ = ["binary_cross_entropy_with_logits", "cross_entropy", "mse_loss", "nll_loss"]


# ---------------------------------------------------------------------------------
# cross entropy and negative log-likelihood
# ---------------------------------------------------------------------------------
def cross_entropy(
    logits, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0
):
    r"""Softmax cross entropy, ``torch.nn.functional.cross_entropy``, and its gradient.

    With :math:`\ell = \log\mathrm{softmax}(x)` over the classes, class weights
    :math:`w` (all ones by default), :math:`C` classes and smoothing
    :math:`\varepsilon`, a sample with target class :math:`t` has loss

    .. math::
        L_n = -(1 - \varepsilon)\, w_t\, \ell_t - \frac{\varepsilon}{C} \sum_c w_c\, \ell_c,

    and an ignored sample (``t == ignore_index``) has loss 0.  ``"mean"`` divides
    the sum over samples by :math:`\sum_n w_{t_n}` over the samples not ignored
    (both terms, as PyTorch does); ``"sum"`` does not divide.  Writing
    :math:`L_n = -\sum_c a_c \ell_c`, the gradient is

    .. math::
        \frac{\partial L_n}{\partial x_c} = \mathrm{softmax}(x)_c \sum_k a_k - a_c.

    With floating-point ``target`` of the logits' shape (class probabilities
    :math:`q`, classes in dim 1), :math:`a_c = w_c((1-\varepsilon) q_c + \varepsilon / C)`,
    ``ignore_index`` does not apply and ``"mean"`` divides by the number of samples.

    Args:
        logits: unnormalised scores, ``(N, C)``, ``(N, C, d1, ...)`` as in PyTorch,
            ``(C,)`` for one sample, or ``(..., C)`` with classes last when ``target``
            has shape ``logits.shape[:-1]``.  When both ``(N, C, d1, ...)`` and
            ``(..., C)`` readings fit the target's shape, PyTorch's is used.
        target: integer class indices of shape ``(N,)``, ``(N, d1, ...)``, ``()`` or
            ``logits.shape[:-1]``, each in ``[0, C)`` or equal to ``ignore_index``;
            or class probabilities of the logits' shape.
        weight: per-class weights ``(C,)``, or None.
        ignore_index: target value whose samples contribute neither loss nor gradient.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        label_smoothing: :math:`\varepsilon \in [0, 1]`.

    Returns:
        ``(loss, dlogits)``: ``loss`` 0-d (or of the target's shape for ``"none"``,
        of the per-sample shape for probability targets), ``dlogits`` like ``logits``.

    Raises:
        TypeError: logits not floating point, target neither integer nor floating point,
            or ``ignore_index`` not an integer.
        ValueError: shapes that do not fit (the message gives both), a class index
            outside ``[0, C)`` that is not ``ignore_index`` (the message names it),
            a weight not of shape ``(C,)``, an unknown reduction, or smoothing outside ``[0, 1]``.
    """
    fn = "cross_entropy"
    xp, x, dt = _float_input(fn, "logits", logits)
    _check_reduction(fn, reduction)
    _check_ignore_index(fn, ignore_index)
    if (
        isinstance(label_smoothing, bool)
        or not isinstance(label_smoothing, numbers.Real)
        or not 0.0 <= label_smoothing <= 1.0
    ):
        raise ValueError(
            f"{fn}: label_smoothing must be a number in [0, 1]; got {label_smoothing!r}"
        )
    eps = float(label_smoothing)
    target = xp.asarray(target)
    x_shape = tuple(x.shape)
    weight_max = 1.0 if weight is None else _amax(xp, _like(fn, "weight", xp, weight, dt))
    if _needs_float64(dt, 4 * _amax(xp, x) * max(1, math.prod(x_shape)) * max(1.0, weight_max)):
        wide = cross_entropy(_wide(xp, x), target, _wide(xp, weight), ignore_index, reduction, eps)
        return _narrow(xp, wide, dt)

    if _target_kind(fn, xp, target) == "prob":
        return _cross_entropy_probs(fn, xp, x, dt, target, weight, reduction, eps)

    return _cross_entropy_indices(fn, xp, x, dt, target, weight, ignore_index, reduction, eps)


def _cross_entropy_indices(fn, xp, x, dt, target, weight, ignore_index, reduction, eps):
    """Cross entropy against integer class indices (the equations of :func:`cross_entropy`)."""
    x_shape = tuple(x.shape)
    N, C, D = _class_layout(fn, x_shape, target.shape)
    w = _class_weight(fn, xp, weight, C, dt)
    valid, t_safe = _class_targets(fn, xp, target.reshape(N, D), C, ignore_index)  # (N, D)
    x3 = x.reshape(N, C, D)
    # log-softmax over the classes without forming it: ls = shifted - lse
    shifted = x3 - xp.max(x3, axis=1, keepdims=True)  # (N, C, D), all <= 0
    e = _exp_nonpositive(shifted)  # (N, C, D)
    sumexp = xp.sum(e, axis=1, keepdims=True)  # (N, 1, D), >= 1
    lse = xp.log(sumexp)  # (N, 1, D)
    t3 = t_safe.reshape(N, 1, D)
    ls_t = (xp.take_along_axis(shifted, t3, axis=1) - lse).reshape(N, D)  # log p(target)

    validf = xp.asarray(valid, dtype=dt)  # (N, D)
    w_t = (
        validf if w is None else xp.take(w, t_safe) * validf
    )  # weight of each target, 0 if ignored
    # `where`, not a product: an ignored row's -inf (a masked class) must not become 0 * -inf
    nll = xp.where(valid, -ls_t, 0) * w_t  # (N, D)
    elem = nll
    # a = -dL/dls: (1 - eps) w_t at the target, plus (eps / C) w_k on every class k
    a_sum = (1.0 - eps) * w_t  # sum over classes of a, (N, D)
    if eps > 0:
        w3 = 1.0 if w is None else w.reshape(1, C, 1)
        sum_w = float(C) if w is None else xp.sum(w)
        wls = xp.sum(shifted * w3, axis=1) - lse.reshape(N, D) * sum_w  # sum_k w_k ls_k
        elem = (1.0 - eps) * nll + (eps / C) * xp.where(valid, -wls, 0)
        a_sum = a_sum + (eps / C) * sum_w * validf

    out_shape = tuple(target.shape)
    loss, scale = _reduce(xp, elem, xp.sum(w_t), reduction, out_shape, dt)
    nan_scale = isinstance(scale, float) and math.isnan(scale)
    s = 1.0 if nan_scale else scale
    # dL/dx_k = s (p_k sum_j a_j - a_k), with p = e / sumexp
    grad = e * ((s * a_sum).reshape(N, 1, D) / sumexp)  # (N, C, D)
    if eps > 0:
        grad -= (s * eps / C) * (w3 * validf.reshape(N, 1, D))
    xp.add_along_axis(grad, t3, (-(s * (1.0 - eps)) * w_t).reshape(N, 1, D), axis=1)
    if nan_scale:  # mean over nothing: NaN, as in PyTorch, but ignored rows keep a zero gradient
        grad = xp.where(valid.reshape(N, 1, D), grad * scale, 0)
    return loss, grad.reshape(x_shape)


def _cross_entropy_probs(fn, xp, x, dt, target, weight, reduction, eps):
    """Cross entropy against class probabilities (``target`` shaped like ``logits``)."""
    x_shape = tuple(x.shape)
    if tuple(target.shape) != x_shape:
        raise ValueError(
            f"{fn}: a floating-point target holds class probabilities and must have the logits' "
            f"shape {x_shape}; got {tuple(target.shape)} (class indices must be an integer array)"
        )
    if x.ndim == 0:
        raise ValueError(
            f"{fn}: logits must have at least 1 dimension (the classes); got a 0-d array"
        )
    if x.ndim == 1:
        N, C, D = 1, x_shape[0], 1
        out_shape = ()
    else:
        N, C, D = x_shape[0], x_shape[1], math.prod(x_shape[2:])
        out_shape = x_shape[:1] + x_shape[2:]
    w = _class_weight(fn, xp, weight, C, dt)
    q = xp.asarray(target, dtype=dt).reshape(N, C, D)
    if eps > 0:
        q = q * (1.0 - eps) + eps / C
    a = q if w is None else q * w.reshape(1, C, 1)  # (N, C, D)
    ls = log_softmax(x.reshape(N, C, D), axis=1)
    elem = -xp.sum(a * ls, axis=1)  # (N, D)
    loss, scale = _reduce(xp, elem, N * D, reduction, out_shape, dt)
    (grad,) = log_softmax_backward(-a * scale, (ls, 1))
    return loss, grad.reshape(x_shape)


def nll_loss(log_probs, target, weight=None, ignore_index=-100, reduction="mean"):
    r"""Negative log-likelihood, ``torch.nn.functional.nll_loss``, and its gradient.

    .. math::
        L_n = -w_{t_n}\, \ell_{n, t_n}, \qquad
        \frac{\partial L_n}{\partial \ell_{n, c}} = -w_{t_n} [c = t_n],

    with :math:`L_n = 0` for ignored samples; ``"mean"`` divides by
    :math:`\sum_n w_{t_n}` over the samples not ignored.

    Args:
        log_probs: log-probabilities laid out as the logits of :func:`cross_entropy`.
        target: integer class indices, as for :func:`cross_entropy`.
        weight: per-class weights ``(C,)``, or None.
        ignore_index: target value whose samples contribute neither loss nor gradient.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        ``(loss, dlog_probs)``.

    Raises:
        TypeError: log_probs not floating point, target not integer, or ``ignore_index``
            not an integer.
        ValueError: as :func:`cross_entropy`.
    """
    fn = "nll_loss"
    xp, x, dt = _float_input(fn, "log_probs", log_probs)
    _check_reduction(fn, reduction)
    _check_ignore_index(fn, ignore_index)
    target = xp.asarray(target)
    if xp.numpy_dtype(target).kind not in "iu":
        raise TypeError(
            f"{fn}: target must hold integer class indices; got dtype {xp.numpy_dtype(target)}"
        )
    x_shape = tuple(x.shape)
    weight_max = 1.0 if weight is None else _amax(xp, _like(fn, "weight", xp, weight, dt))
    if _needs_float64(dt, _amax(xp, x) * max(1, math.prod(x_shape)) * max(1.0, weight_max)):
        wide = nll_loss(_wide(xp, x), target, _wide(xp, weight), ignore_index, reduction)
        return _narrow(xp, wide, dt)
    N, C, D = _class_layout(fn, x_shape, target.shape)
    w = _class_weight(fn, xp, weight, C, dt)
    valid, t_safe = _class_targets(fn, xp, target.reshape(N, D), C, ignore_index)  # (N, D)
    validf = xp.asarray(valid, dtype=dt)
    w_t = validf if w is None else xp.take(w, t_safe) * validf  # (N, D)
    classes = xp.asarray(np.arange(C)).reshape(1, C, 1)
    onehot = (classes == t_safe.reshape(N, 1, D)) & valid.reshape(N, 1, D)  # (N, C, D)
    elem = -xp.sum(xp.where(onehot, x.reshape(N, C, D), 0), axis=1) * w_t  # (N, D)
    loss, scale = _reduce(xp, elem, xp.sum(w_t), reduction, tuple(target.shape), dt)
    grad = xp.where(onehot, (-w_t * scale).reshape(N, 1, D), 0)  # (N, C, D)
    return loss, grad.reshape(x_shape)


# ---------------------------------------------------------------------------------
# regression and binary losses
# ---------------------------------------------------------------------------------
def mse_loss(input, target, reduction="mean"):
    r"""Mean squared error, ``torch.nn.functional.mse_loss``, and its gradient.

    .. math::
        L_i = (x_i - y_i)^2, \qquad \frac{\partial L_i}{\partial x_i} = 2 (x_i - y_i),

    ``"mean"`` divides by the number of elements (NaN for an empty input).

    Args:
        input: floating-point array of any shape.
        target: array of the same shape (converted to ``input``'s dtype).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        ``(loss, dinput)``.

    Raises:
        TypeError: input not floating point.
        ValueError: target of another shape (no broadcasting), unknown reduction.
    """
    fn = "mse_loss"
    xp, x, dt = _float_input(fn, "input", input)
    _check_reduction(fn, reduction)
    y = _like(fn, "target", xp, target, dt, shape=x.shape)
    if _needs_float64(dt, (_amax(xp, x) + _amax(xp, y)) ** 2 * max(1, math.prod(x.shape))):
        return _narrow(xp, mse_loss(_wide(xp, x), _wide(xp, y), reduction), dt)
    diff = x - y
    elem = diff * diff
    loss, scale = _reduce(xp, elem, math.prod(x.shape), reduction, tuple(x.shape), dt)
    return loss, diff * (2 * scale)


def binary_cross_entropy_with_logits(
    logits, target, weight=None, pos_weight=None, reduction="mean"
):
    r"""Sigmoid binary cross entropy on logits, ``torch.nn.functional.binary_cross_entropy_with_logits``.

    With :math:`\sigma` the logistic function, element weights :math:`w`, positive-class
    weights :math:`p` (both 1 by default) and :math:`\lambda = 1 + (p - 1) y`,

    .. math::
        L = w \left[(1 - y)\,x + \lambda \operatorname{softplus}(-x)\right], \qquad
        \frac{\partial L}{\partial x} = w\left[\lambda\,\sigma(x) - p\,y\right],

    which is :math:`-w[p\,y \log\sigma(x) + (1 - y)\log(1 - \sigma(x))]`.  Both
    :math:`\operatorname{softplus}(-x) = \log(1 + e^{-|x|}) + \max(-x, 0)` and
    :math:`\sigma(x)` (from :math:`e^{-|x|}`) exponentiate only non-positive numbers,
    so any magnitude of logit is safe.

    Args:
        logits: floating-point array of any shape.
        target: values in ``[0, 1]`` of the same shape.
        weight: per-element weights broadcastable to the logits' shape, or None.
        pos_weight: positive-class weights broadcastable to the logits' shape
            (typically ``(C,)`` for classes last), or None.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        ``(loss, dlogits)``.

    Raises:
        TypeError: logits not floating point.
        ValueError: target not of the logits' shape, weights that do not broadcast,
            unknown reduction.
    """
    fn = "binary_cross_entropy_with_logits"
    xp, x, dt = _float_input(fn, "logits", logits)
    _check_reduction(fn, reduction)
    y = _like(fn, "target", xp, target, dt, shape=x.shape)
    w = None if weight is None else _like(fn, "weight", xp, weight, dt)
    p = None if pos_weight is None else _like(fn, "pos_weight", xp, pos_weight, dt)
    if w is not None:
        _broadcastable(fn, "weight", w, x.shape)
    if p is not None:
        _broadcastable(fn, "pos_weight", p, x.shape)
    w_max, p_max = max(1.0, _amax(xp, w)), max(1.0, _amax(xp, p))
    if _needs_float64(dt, 4 * (_amax(xp, x) + 1) * w_max * p_max * max(1, math.prod(x.shape))):
        wide = binary_cross_entropy_with_logits(
            _wide(xp, x), _wide(xp, y), _wide(xp, w), _wide(xp, p), reduction
        )
        return _narrow(xp, wide, dt)

    e = _exp_nonpositive(-xp.abs(x))  # e^{-|x|}
    softplus_neg = xp.log1p(e) + xp.maximum(-x, 0)  # log(1 + e^{-x})
    sig = xp.where(x >= 0, 1, e) / (1 + e)  # sigma(x), accurate in both tails
    if p is None:
        elem = (1 - y) * x + softplus_neg
        d = sig - y
    else:
        lam = 1 + (p - 1) * y
        elem = (1 - y) * x + lam * softplus_neg
        d = lam * sig - p * y
    if w is not None:
        elem = elem * w
        d = d * w
    loss, scale = _reduce(xp, elem, math.prod(x.shape), reduction, tuple(x.shape), dt)
    return loss, d * scale
