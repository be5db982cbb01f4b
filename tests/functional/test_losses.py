"""Losses of numrnn.functional against torch.nn.functional, and against finite differences.

Tolerances
----------
* Against torch in float64: ``rtol=1e-9``.  Both sides evaluate the same
  formulas (log-softmax, weighted sums, one division) in a different order, so
  they agree closely (measured: losses within 2e-15, gradients within 3e-12
  relative away from entries that cancel to nearly zero); any
  mistake in a formula or a convention (weights, ignored targets, smoothing,
  the mean's denominator) moves results by far more than 1e-9.  ``atol=1e-13``
  only covers entries that are zero up to rounding (gradients of classes with
  probability close to 0).
* Central differences in float64 with step ``h=1e-6``: the truncation error is
  about ``h**2 * f''' ~ 1e-12`` and the rounding error about
  ``eps * |f| / h ~ 2e-16 * 10 / 1e-6 = 2e-9`` absolute for losses of size ~10,
  so ``rtol=1e-6`` with ``atol=1e-8`` leaves a margin of 5x over the worst case
  while an error in the hand-written gradient (a missing term, a wrong scale)
  is of the size of the gradient itself.
"""

from __future__ import annotations

import numpy as np
import pytest

import numrnn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RTOL, ATOL = 1e-9, 1e-13
FD_H, FD_RTOL, FD_ATOL = 1e-6, 1e-6, 1e-8


# ---------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------
def _t(a):
    return torch.tensor(a) if isinstance(a, np.ndarray) else a


def torch_loss_grad(tfn, x, *args, **kwargs):
    """Loss and gradient of ``loss.sum()`` w.r.t. ``x`` from torch autograd, as NumPy."""
    xt = torch.tensor(x, requires_grad=True)
    loss = tfn(xt, *[_t(a) for a in args], **{k: _t(v) for k, v in kwargs.items()})
    loss.sum().backward()
    return loss.detach().numpy(), xt.grad.numpy()


def assert_matches_torch(ours, theirs, rtol=RTOL, atol=ATOL):
    (l, g), (lt, gt) = ours, theirs
    assert np.shape(l) == np.shape(lt)
    assert g.shape == gt.shape
    np.testing.assert_allclose(l, lt, rtol=rtol, atol=atol, equal_nan=True)
    np.testing.assert_allclose(g, gt, rtol=rtol, atol=atol, equal_nan=True)


def finite_difference(f, x, h=FD_H):
    """Central differences of the scalar ``f(x)`` in every element of ``x``."""
    x = x.copy()
    num = np.zeros_like(x)
    flat, nflat = x.reshape(-1), num.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        fp = f(x)
        flat[i] = old - h
        fm = f(x)
        flat[i] = old
        nflat[i] = (fp - fm) / (2 * h)
    return num


def sample_targets(rng, shape, C, ignore_frac=0.25, ignore_index=-100):
    t = rng.integers(0, C, size=shape)
    t[rng.random(size=shape) < ignore_frac] = ignore_index
    return t


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# ---------------------------------------------------------------------------------
# cross entropy against torch
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.15, 1.0])
@pytest.mark.parametrize("ignore", [False, True])
def test_cross_entropy_2d_matches_torch(rng, reduction, use_weight, smoothing, ignore):
    N, C = 9, 6
    x = rng.normal(scale=2.0, size=(N, C))
    t = sample_targets(rng, (N,), C, ignore_frac=0.3 if ignore else 0.0)
    if ignore:
        t[0] = -100  # at least one ignored, at least one kept
        t[1] = 2
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    if use_weight:
        kw["weight"] = rng.uniform(0.2, 3.0, size=C)
    assert_matches_torch(F.cross_entropy(x, t, **kw), torch_loss_grad(TF.cross_entropy, x, t, **kw))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_torch_layout_nd(rng, reduction):
    """(N, C, d1, d2) logits with (N, d1, d2) targets, weights, smoothing and ignored targets together."""
    N, C, d1, d2 = 3, 5, 4, 2
    x = rng.normal(size=(N, C, d1, d2))
    t = sample_targets(rng, (N, d1, d2), C)
    kw = dict(weight=rng.uniform(0.2, 3.0, size=C), reduction=reduction, label_smoothing=0.2)
    ours = F.cross_entropy(x, t, **kw)
    assert_matches_torch(ours, torch_loss_grad(TF.cross_entropy, x, t, **kw))
    if reduction == "none":
        assert ours[0].shape == (N, d1, d2)


def test_cross_entropy_3d_torch_layout(rng):
    N, C, d1 = 4, 3, 7
    x = rng.normal(size=(N, C, d1))
    t = sample_targets(rng, (N, d1), C)
    for kw in (dict(), dict(label_smoothing=0.1, weight=np.array([0.5, 1.0, 2.0]))):
        assert_matches_torch(
            F.cross_entropy(x, t, **kw), torch_loss_grad(TF.cross_entropy, x, t, **kw)
        )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_class_last(rng, reduction):
    """(B, T, C) logits with (B, T) targets equal torch on the logits moved to (B, C, T)."""
    B, T, C = 3, 5, 7
    x = rng.normal(size=(B, T, C))
    t = sample_targets(rng, (B, T), C)
    w = rng.uniform(0.2, 3.0, size=C)
    kw = dict(weight=w, reduction=reduction, label_smoothing=0.1)
    loss, grad = F.cross_entropy(x, t, **kw)

    xt = torch.tensor(x, requires_grad=True)
    lt = TF.cross_entropy(
        xt.permute(0, 2, 1),
        torch.tensor(t),
        weight=torch.tensor(w),
        reduction=reduction,
        label_smoothing=0.1,
    )
    lt.sum().backward()
    assert_matches_torch((loss, grad), (lt.detach().numpy(), xt.grad.numpy()))
    if reduction == "none":
        assert loss.shape == (B, T)


def test_cross_entropy_ambiguous_layout_prefers_torch(rng):
    """Logits (A, C, C) with target (A, C) fit both layouts; PyTorch's (classes in dim 1) is used."""
    x = rng.normal(size=(2, 4, 4))
    t = rng.integers(0, 4, size=(2, 4))
    assert_matches_torch(
        F.cross_entropy(x, t, reduction="none"),
        torch_loss_grad(TF.cross_entropy, x, t, reduction="none"),
    )


def test_cross_entropy_unbatched(rng):
    x = rng.normal(size=(6,))
    for t in (np.array(3), 3):
        for reduction in ("mean", "none"):
            ours = F.cross_entropy(x, t, reduction=reduction, label_smoothing=0.1)
            assert_matches_torch(
                ours,
                torch_loss_grad(
                    TF.cross_entropy, x, torch.tensor(3), reduction=reduction, label_smoothing=0.1
                ),
            )
            assert ours[0].shape == ()


def test_cross_entropy_ignore_index_inside_class_range(rng):
    x = rng.normal(size=(8, 4))
    t = np.array([0, 1, 2, 3, 2, 2, 1, 0])
    kw = dict(ignore_index=2, label_smoothing=0.3, weight=np.array([1.0, 2.0, 3.0, 4.0]))
    loss, grad = F.cross_entropy(x, t, **kw)
    assert_matches_torch((loss, grad), torch_loss_grad(TF.cross_entropy, x, t, **kw))
    np.testing.assert_array_equal(grad[t == 2], 0.0)  # ignored samples get exactly no gradient


def test_ignored_targets_contribute_nothing(rng):
    """Changing the logits of ignored samples changes neither loss nor any other gradient."""
    x = rng.normal(size=(6, 5))
    t = np.array([1, -100, 4, -100, 0, 2])
    kw = dict(weight=rng.uniform(0.5, 2, 5), label_smoothing=0.2)
    l1, g1 = F.cross_entropy(x, t, **kw)
    x2 = x.copy()
    x2[t == -100] = rng.normal(scale=100, size=(2, 5))
    l2, g2 = F.cross_entropy(x2, t, **kw)
    assert l1 == l2
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(g1[t == -100], 0.0)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("use_weight", [False, True])
def test_cross_entropy_all_ignored(rng, smoothing, use_weight):
    """mean over no target is NaN with a zero gradient (torch's behaviour); sum is 0."""
    x = rng.normal(size=(4, 3))
    t = np.full(4, -100)
    kw = dict(label_smoothing=smoothing, weight=np.array([1.0, 2.0, 3.0]) if use_weight else None)
    if kw["weight"] is None:
        del kw["weight"]
    with np.errstate(all="raise"):
        loss, grad = F.cross_entropy(x, t, **kw)
    assert np.isnan(loss)
    np.testing.assert_array_equal(grad, 0.0)
    assert_matches_torch((loss, grad), torch_loss_grad(TF.cross_entropy, x, t, **kw))
    assert_matches_torch(
        F.cross_entropy(x, t, reduction="sum", **kw),
        torch_loss_grad(TF.cross_entropy, x, t, reduction="sum", **kw),
    )


def test_cross_entropy_zero_total_weight_matches_torch(rng):
    """Targets present but all of weight 0: torch gives NaN loss and NaN gradients; so do we."""
    x = rng.normal(size=(3, 4))
    t = np.array([0, 1, -100])
    w = np.array([0.0, 0.0, 1.0, 1.0])
    for fn, tfn in ((F.cross_entropy, TF.cross_entropy), (F.nll_loss, TF.nll_loss)):
        assert_matches_torch(fn(x, t, weight=w), torch_loss_grad(tfn, x, t, weight=w))


def test_cross_entropy_empty_batch():
    x = np.zeros((0, 4))
    t = np.zeros(0, dtype=np.int64)
    loss, grad = F.cross_entropy(x, t)
    assert np.isnan(loss) and grad.shape == (0, 4)
    loss, grad = F.cross_entropy(x, t, reduction="sum")
    assert loss == 0.0


def test_cross_entropy_masked_class(rng):
    """A -inf logit (a masked class) is fine as long as it is not the target, as in torch."""
    x = rng.normal(size=(3, 5))
    x[:, 1] = -np.inf
    t = np.array([0, 2, 4])
    with np.errstate(all="raise"):
        ours = F.cross_entropy(x, t)
    assert np.isfinite(ours[0]) and np.all(np.isfinite(ours[1]))
    assert_matches_torch(ours, torch_loss_grad(TF.cross_entropy, x, t))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_probability_targets(rng, reduction):
    N, C, d1 = 4, 5, 3
    x = rng.normal(size=(N, C, d1))
    q = rng.uniform(size=(N, C, d1))
    q /= q.sum(axis=1, keepdims=True)
    kw = dict(weight=rng.uniform(0.5, 2, C), label_smoothing=0.1, reduction=reduction)
    assert_matches_torch(F.cross_entropy(x, q, **kw), torch_loss_grad(TF.cross_entropy, x, q, **kw))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("use_weight", [False, True])
def test_cross_entropy_equals_log_softmax_then_nll(rng, reduction, use_weight):
    x = rng.normal(size=(7, 4))
    t = sample_targets(rng, (7,), 4)
    t[0] = 1
    w = rng.uniform(0.5, 2, 4) if use_weight else None
    l1, _ = F.cross_entropy(x, t, weight=w, reduction=reduction)
    ls = F.log_softmax(x)
    l2, _ = F.nll_loss(ls, t, weight=w, reduction=reduction)
    np.testing.assert_allclose(l1, l2, rtol=1e-13)


# ---------------------------------------------------------------------------------
# the other losses against torch
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("shape", [(7, 5), (3, 5, 4)])
def test_nll_loss_matches_torch(rng, reduction, use_weight, shape):
    C = shape[1]
    x = rng.normal(size=shape)
    t = sample_targets(rng, shape[:1] + shape[2:], C)
    t.reshape(-1)[0] = 1
    kw = dict(reduction=reduction)
    if use_weight:
        kw["weight"] = rng.uniform(0.2, 3.0, size=C)
    assert_matches_torch(F.nll_loss(x, t, **kw), torch_loss_grad(TF.nll_loss, x, t, **kw))


def test_nll_loss_class_last(rng):
    x = rng.normal(size=(2, 3, 6))
    t = sample_targets(rng, (2, 3), 6)
    loss, grad = F.nll_loss(x, t, reduction="sum")
    xt = torch.tensor(x, requires_grad=True)
    lt = TF.nll_loss(xt.permute(0, 2, 1), torch.tensor(t), reduction="sum")
    lt.backward()
    assert_matches_torch((loss, grad), (lt.detach().numpy(), xt.grad.numpy()))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_matches_torch(rng, reduction):
    x = rng.normal(size=(4, 3, 2))
    y = rng.normal(size=(4, 3, 2))
    assert_matches_torch(
        F.mse_loss(x, y, reduction=reduction),
        torch_loss_grad(TF.mse_loss, x, y, reduction=reduction),
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("use_pos_weight", [False, True])
def test_bce_with_logits_matches_torch(rng, reduction, use_weight, use_pos_weight):
    x = rng.normal(scale=5.0, size=(6, 4))
    y = rng.uniform(size=(6, 4))
    y[0] = [0.0, 1.0, 0.0, 1.0]
    kw = dict(reduction=reduction)
    if use_weight:
        kw["weight"] = rng.uniform(0.2, 2.0, size=(6, 1))
    if use_pos_weight:
        kw["pos_weight"] = rng.uniform(0.2, 4.0, size=(4,))
    assert_matches_torch(
        F.binary_cross_entropy_with_logits(x, y, **kw),
        torch_loss_grad(TF.binary_cross_entropy_with_logits, x, y, **kw),
    )


def test_bce_with_logits_tails_are_relatively_accurate():
    """sigma(x) for very negative x is formed from e^x, not 1 - something: relative accuracy holds."""
    x = np.array([-30.0, -50.0, -300.0, 30.0, 50.0, 300.0])
    y = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    ours = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    theirs = torch_loss_grad(TF.binary_cross_entropy_with_logits, x, y, reduction="none")
    assert_matches_torch(ours, theirs, atol=0.0)


# ---------------------------------------------------------------------------------
# extreme inputs, dtypes, inputs left untouched
# ---------------------------------------------------------------------------------
def _extreme_cases():
    x = np.array(
        [
            [1e4, -1e4, 0.0, 5.0],
            [-1e4, -1e4, -1e4, -1e4],
            [-1e4, 1e4, 1e4, -3.0],
            [2.0, -1e4, 1e4, 1e4],
        ]
    )
    t = np.array([1, 2, -100, 3])
    w = np.array([0.5, 1.0, 2.0, 3.0])
    y = np.array(
        [[1.0, 0.0, 0.5, 1.0], [0.0, 1.0, 0.0, 0.3], [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.5]]
    )
    return [
        (
            "cross_entropy",
            F.cross_entropy,
            TF.cross_entropy,
            x,
            (t,),
            dict(weight=w, label_smoothing=0.1),
        ),
        ("cross_entropy_plain", F.cross_entropy, TF.cross_entropy, x, (t,), {}),
        ("nll_loss", F.nll_loss, TF.nll_loss, x, (t,), dict(weight=w)),
        ("mse_loss", F.mse_loss, TF.mse_loss, x, (y,), {}),
        (
            "bce",
            F.binary_cross_entropy_with_logits,
            TF.binary_cross_entropy_with_logits,
            x,
            (y,),
            dict(weight=w, pos_weight=w[::-1].copy()),
        ),
    ]


@pytest.mark.parametrize("case", _extreme_cases(), ids=lambda c: c[0])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_extreme_inputs_stable_and_match_torch(case, reduction):
    _, fn, tfn, x, args, kw = case
    with np.errstate(all="raise"):
        loss, grad = fn(x, *args, reduction=reduction, **kw)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    assert_matches_torch((loss, grad), torch_loss_grad(tfn, x, *args, reduction=reduction, **kw))


@pytest.mark.parametrize("case", _extreme_cases(), ids=lambda c: c[0])
def test_extreme_inputs_stable_float32(case):
    _, fn, _, x, args, kw = case
    x32 = x.astype(np.float32)
    with np.errstate(all="raise"):
        loss, grad = fn(x32, *args, **kw)
    assert loss.dtype == np.float32 and grad.dtype == np.float32
    assert np.isfinite(loss) and np.all(np.isfinite(grad))


def _float32_cases(rng):
    x = rng.normal(size=(5, 4))
    t = np.array([0, 3, -100, 1, 2])
    w = rng.uniform(0.5, 2, 4)
    y = rng.uniform(size=(5, 4))
    return [
        (F.cross_entropy, TF.cross_entropy, x, (t,), dict(weight=w, label_smoothing=0.1)),
        (F.nll_loss, TF.nll_loss, x, (t,), dict(weight=w)),
        (F.mse_loss, TF.mse_loss, x, (y,), {}),
        (
            F.binary_cross_entropy_with_logits,
            TF.binary_cross_entropy_with_logits,
            x,
            (y,),
            dict(pos_weight=w),
        ),
    ]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_float32_in_float32_out(rng, reduction):
    """float32 inputs (with float64 weights and targets) give float32 results close to float64 torch.

    rtol 1e-5: a handful of float32 roundings (eps 6e-8) on values of size ~1.
    """
    for fn, tfn, x, args, kw in _float32_cases(rng):
        loss, grad = fn(x.astype(np.float32), *args, reduction=reduction, **kw)
        assert loss.dtype == np.float32 and grad.dtype == np.float32, fn.__name__
        assert isinstance(loss, np.ndarray), "the loss is an array (0-d when reduced), not a scalar"
        lt, gt = torch_loss_grad(tfn, x, *args, reduction=reduction, **kw)
        np.testing.assert_allclose(loss, lt, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(grad, gt, rtol=1e-5, atol=1e-6)


def test_reduced_loss_is_0d_array(rng):
    loss, _ = F.cross_entropy(rng.normal(size=(3, 4)), np.array([0, 1, 2]))
    assert isinstance(loss, np.ndarray) and loss.shape == () and loss.dtype == np.float64


def test_inputs_not_modified(rng):
    for fn, _, x, args, kw in _float32_cases(rng):
        xs = [a for a in (x, *args, *kw.values()) if isinstance(a, np.ndarray)]
        before = [a.copy() for a in xs]
        fn(x, *args, **kw)
        for a, b in zip(xs, before):
            np.testing.assert_array_equal(a, b)


def test_torch_tensors_in_torch_tensors_out(rng):
    """The same code runs on torch tensors (the torch backend) and gives the NumPy results."""
    x = rng.normal(size=(4, 3, 5))
    t = sample_targets(rng, (4, 3), 5)
    w = rng.uniform(0.5, 2, 5)
    ln, gn = F.cross_entropy(x, t, weight=w, label_smoothing=0.1)
    lt, gt = F.cross_entropy(
        torch.tensor(x), torch.tensor(t), weight=torch.tensor(w), label_smoothing=0.1
    )
    assert isinstance(lt, torch.Tensor) and isinstance(gt, torch.Tensor)
    np.testing.assert_allclose(lt.numpy(), ln, rtol=1e-14)
    np.testing.assert_allclose(gt.numpy(), gn, rtol=1e-14, atol=1e-16)
    y = rng.uniform(size=x.shape)
    for fn in (F.mse_loss, F.binary_cross_entropy_with_logits):
        ln, gn = fn(x, y)
        lt, gt = fn(torch.tensor(x), torch.tensor(y))
        np.testing.assert_allclose(lt.numpy(), ln, rtol=1e-14)
        np.testing.assert_allclose(gt.numpy(), gn, rtol=1e-14, atol=1e-16)


# ---------------------------------------------------------------------------------
# finite differences
# ---------------------------------------------------------------------------------
def _fd_cases(rng):
    x2 = rng.normal(size=(5, 4))
    x3 = rng.normal(size=(3, 4, 2))
    t2 = np.array([0, 3, -100, 1, 2])
    t3 = np.array([[0, 3], [-100, 1], [2, 2]])
    w = rng.uniform(0.5, 2, 4)
    q = rng.uniform(size=(5, 4))
    q /= q.sum(axis=1, keepdims=True)
    y = rng.uniform(size=(5, 4))
    return [
        ("ce", F.cross_entropy, x2, (t2,), dict(weight=w, label_smoothing=0.2)),
        ("ce_3d", F.cross_entropy, x3, (t3,), dict(weight=w, label_smoothing=0.2)),
        (
            "ce_class_last",
            F.cross_entropy,
            x3.transpose(0, 2, 1).copy(),
            (t3,),
            dict(label_smoothing=0.2),
        ),
        ("ce_probs", F.cross_entropy, x2, (q,), dict(weight=w, label_smoothing=0.2)),
        ("nll", F.nll_loss, x2, (t2,), dict(weight=w)),
        ("mse", F.mse_loss, x2, (y,), {}),
        (
            "bce",
            F.binary_cross_entropy_with_logits,
            3 * x2,
            (y,),
            dict(weight=w, pos_weight=w[::-1].copy()),
        ),
    ]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("idx", range(7))
def test_gradients_match_finite_differences(rng, idx, reduction):
    name, fn, x, args, kw = _fd_cases(rng)[idx]

    def f(z):
        return float(np.sum(fn(z, *args, reduction=reduction, **kw)[0]))

    _, grad = fn(x, *args, reduction=reduction, **kw)
    num = finite_difference(f, x)
    np.testing.assert_allclose(grad, num, rtol=FD_RTOL, atol=FD_ATOL, err_msg=name)


# ---------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------
def test_target_out_of_range_names_range_and_value():
    x = np.zeros((4, 5))
    with pytest.raises(ValueError, match=r"target.*\[0, 5\).*got 7"):
        F.cross_entropy(x, np.array([0, 1, 7, 2]))
    with pytest.raises(ValueError, match=r"target.*\[0, 5\).*got -1"):
        F.cross_entropy(x, np.array([0, -1, -100, 2]))
    with pytest.raises(ValueError, match=r"target.*\[0, 5\).*got 5"):
        F.nll_loss(x, np.array([0, 5, 1, 2]))
    # -100 is fine by default but not once ignore_index moves elsewhere
    with pytest.raises(ValueError, match=r"got -100"):
        F.cross_entropy(x, np.array([0, -100, 1, 2]), ignore_index=3)


def test_shape_mismatch_reports_shapes():
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(4,\).*\(3,\)"):
        F.cross_entropy(np.zeros((4, 5)), np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match=r"\(2, 7\).*\(2, 5, 3\).*\(2, 3\).*\(2, 5\)"):
        F.cross_entropy(np.zeros((2, 5, 3)), np.zeros((2, 7), dtype=np.int64))
    with pytest.raises(ValueError, match=r"0-d"):
        F.cross_entropy(np.zeros(5), np.zeros(1, dtype=np.int64))
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(4, 4\)"):
        F.cross_entropy(np.zeros((4, 5)), np.full((4, 4), 0.25))
    with pytest.raises(ValueError, match=r"target.*\(3, 2\).*\(3, 3\)"):
        F.mse_loss(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"target.*\(3, 2\).*\(2,\)"):
        F.binary_cross_entropy_with_logits(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=r"pos_weight.*\(3,\).*\(3, 2\)"):
        F.binary_cross_entropy_with_logits(
            np.zeros((3, 2)), np.zeros((3, 2)), pos_weight=np.ones(3)
        )
    with pytest.raises(ValueError, match=r"weight.*\(2, 2\).*\(3, 2\)"):
        F.binary_cross_entropy_with_logits(
            np.zeros((3, 2)), np.zeros((3, 2)), weight=np.ones((2, 2))
        )


def test_bad_options_and_types():
    x = np.zeros((4, 3))
    t = np.array([0, 1, 2, 0])
    with pytest.raises(ValueError, match=r"weight.*\(3,\).*\(4,\)"):
        F.cross_entropy(x, t, weight=np.ones(4))
    with pytest.raises(ValueError, match=r"reduction.*'average'"):
        F.cross_entropy(x, t, reduction="average")
    with pytest.raises(ValueError, match=r"reduction"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match=r"label_smoothing.*1.5"):
        F.cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"label_smoothing"):
        F.cross_entropy(x, t, label_smoothing=-0.1)
    with pytest.raises(TypeError, match=r"logits.*floating.*int64"):
        F.cross_entropy(np.zeros((4, 3), dtype=np.int64), t)
    with pytest.raises(TypeError, match=r"target.*integer.*bool"):
        F.cross_entropy(x, t == 1)
    with pytest.raises(TypeError, match=r"target.*integer.*float64"):
        F.nll_loss(x, t.astype(np.float64))


# ---------------------------------------------------------------------------------
# property test: random layouts and options against torch
# ---------------------------------------------------------------------------------
hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


@hypothesis.settings(max_examples=40, deadline=None)
@hypothesis.given(
    N=st.integers(1, 4),
    C=st.integers(1, 5),
    extra=st.lists(st.integers(1, 3), max_size=2),
    class_last=st.booleans(),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    smoothing=st.sampled_from([0.0, 0.05, 0.5]),
    use_weight=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_cross_entropy_property(N, C, extra, class_last, reduction, smoothing, use_weight, seed):
    rng = np.random.default_rng(seed)
    torch_shape = (N, C, *extra)
    x_torch = rng.normal(scale=3.0, size=torch_shape)
    t = sample_targets(rng, (N, *extra), C)
    t.reshape(-1)[0] = C - 1  # keep at least one target so "mean" is finite
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    if use_weight:
        kw["weight"] = rng.uniform(0.2, 3.0, size=C)
    expected = torch_loss_grad(TF.cross_entropy, x_torch, t, **kw)
    if class_last and extra:
        # same problem with classes moved last: (N, d1, .., C); the gradient moves with them
        x = np.moveaxis(x_torch, 1, -1).copy()
        if x.shape[:1] + x.shape[2:] == t.shape:
            hypothesis.assume(False)  # would be read in PyTorch's layout (tested elsewhere)
        loss, grad = F.cross_entropy(x, t, **kw)
        grad = np.moveaxis(grad, -1, 1)
    else:
        loss, grad = F.cross_entropy(x_torch, t, **kw)
    assert_matches_torch((loss, grad), expected)
