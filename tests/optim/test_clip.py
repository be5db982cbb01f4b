"""clip_grad_norm_ / clip_grad_value_ against torch.nn.utils in float64.

The total norm is a sum of squares (or powers) then a root: numpy and torch sum
in different orders, so they agree to a few ulps of the norm; 1e-12 relative
is asserted (1e-6 in float32, whose sums torch accumulates in double).
"""

import math

import numpy as np
import pytest
from optim_parity import LSTM_SHAPES, lstm_params

from numrnn import Parameter
from numrnn.optim import clip_grad_norm_, clip_grad_value_


def _pair(torch, seed, scale=1.0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    grads = [(rng.standard_normal(s) * scale).astype(dtype) for s in LSTM_SHAPES]
    ours = lstm_params(dtype=dtype)
    for p, g in zip(ours, grads):
        p.grad[...] = g
    theirs = [
        torch.zeros(s, dtype=getattr(torch, np.dtype(dtype).name), requires_grad=True)
        for s in LSTM_SHAPES
    ]
    for t, g in zip(theirs, grads):
        t.grad = torch.tensor(g.copy())
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.0, 0.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])  # clipping and no clipping
def test_clip_grad_norm_matches_torch(torch, norm_type, max_norm):
    ours, theirs = _pair(torch, 0)
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type, foreach=False)
    assert isinstance(total, float)
    assert total == pytest.approx(float(ttotal), rel=1e-12)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12, atol=0)


def test_clip_grad_norm_result_has_max_norm():
    params = lstm_params()
    for p in params:
        p.grad[...] = 10.0
    total = clip_grad_norm_(params, 1.0)
    assert total == pytest.approx(10.0 * math.sqrt(sum(np.prod(s) for s in LSTM_SHAPES)), rel=1e-14)
    after = math.sqrt(sum(float((p.grad**2).sum()) for p in params))
    assert after == pytest.approx(1.0 / (1 + 1e-6 / total), rel=1e-12)


def test_clip_grad_norm_float32(torch):
    ours, theirs = _pair(torch, 1, dtype=np.float32)
    total = clip_grad_norm_(ours, 1.0)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, 1.0, foreach=False)
    assert total == pytest.approx(float(ttotal), rel=1e-6)
    for p, t in zip(ours, theirs):
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-6, atol=1e-9)


def test_exploding_float32_gradients_give_a_finite_norm():
    params = lstm_params(dtype=np.float32)
    for p in params:
        p.grad[...] = 3e37  # squares overflow float32 and a float64 sum is still safe
    params[0].grad[0, 0] = -3e38
    with np.errstate(all="raise"):
        total = clip_grad_norm_(params, 5.0)
    assert math.isfinite(total) and total > 3e38
    assert all(np.isfinite(p.grad).all() for p in params)
    assert math.sqrt(
        sum(float((p.grad.astype(np.float64) ** 2).sum()) for p in params)
    ) == pytest.approx(5.0, rel=1e-5)


def test_huge_float64_gradients_are_rescaled_not_overflowed():
    p = Parameter(np.zeros(4))
    p.grad[...] = 1e200
    with np.errstate(all="raise"):
        total = clip_grad_norm_([p], 1.0)
    assert total == pytest.approx(2e200, rel=1e-14)
    np.testing.assert_allclose(p.grad, 0.5, rtol=1e-12)


def test_nonfinite_norm():
    params = lstm_params()
    for p in params:
        p.grad[...] = 1.0
    params[1].grad[0, 0] = np.nan
    before = [p.grad.copy() for p in params]
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p.grad, b)
    assert math.isnan(clip_grad_norm_(params, 1.0))


def test_clip_grad_norm_arguments():
    params = lstm_params()
    assert clip_grad_norm_([], 1.0) == 0.0
    p = params[0]
    p.grad[...] = 3.0
    assert clip_grad_norm_(p, 1e9) == pytest.approx(
        3.0 * math.sqrt(p.grad.size)
    )  # a single Parameter
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm_(params, -1.0)
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm_(params, 1.0, norm_type=0)
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm_(params, 1.0, norm_type="two")
    with pytest.raises(TypeError, match="Parameter"):
        clip_grad_norm_([np.ones(3)], 1.0)


def test_clip_grad_value_matches_torch(torch):
    ours, theirs = _pair(torch, 2, scale=2.0)
    ours[2].grad[0] = np.nan
    theirs[2].grad[0] = float("nan")
    assert clip_grad_value_(ours, 0.7) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.7, foreach=False)
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value_(ours, -1.0)


def test_clipping_on_torch_tensors_matches_numpy(torch):
    ref = lstm_params()
    tp = lstm_params(backend_array=torch.from_numpy)
    rng = np.random.default_rng(3)
    for a, b in zip(ref, tp):
        a.grad[...] = rng.standard_normal(a.shape)
        b.grad.copy_(torch.from_numpy(a.grad))
    assert clip_grad_norm_(tp, 0.3) == pytest.approx(clip_grad_norm_(ref, 0.3), rel=1e-13)
    clip_grad_value_(tp, 0.01)
    clip_grad_value_(ref, 0.01)
    for a, b in zip(ref, tp):
        np.testing.assert_allclose(b.grad.numpy(), a.grad, rtol=1e-13)
