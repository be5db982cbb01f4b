"""Attention modules: parity with torch autograd on the same weights, LIFO caches, errors.

Tolerances as in tests/functional/test_attention.py: float64 on both sides, the
same few dozen operations per entry in a different order, so ``rtol=1e-9`` (six
orders above rounding) with ``atol=1e-12`` for entries that cancel to ~0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import torch_attention

import numrnn
from numrnn.nn import AdditiveAttention, DotAttention, GeneralAttention, ScaledDotProductAttention

B, S, DQ, DK, DV, H = 3, 5, 4, 3, 2, 6
KINDS = ["additive", "additive_bias", "dot", "general", "scaled"]


def build(kind, dtype=np.float64, seed=0, **kw):
    if kind == "additive":
        return AdditiveAttention(DQ, DK, H, dtype=dtype, seed=seed, **kw)
    if kind == "additive_bias":
        return AdditiveAttention(DQ, DK, H, bias=True, dtype=dtype, seed=seed, **kw)
    if kind == "general":
        return GeneralAttention(DQ, DK, dtype=dtype, seed=seed, **kw)
    if kind == "dot":
        return DotAttention(dtype=dtype, **kw)
    return ScaledDotProductAttention(dtype=dtype, **kw)


def key_dim(kind):
    return DQ if kind in ("dot", "scaled") else DK


def data(kind, query_3d=False, tq=2, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((B, tq, DQ) if query_3d else (B, DQ)).astype(dtype)
    k = rng.standard_normal((B, S, key_dim(kind))).astype(dtype)
    v = rng.standard_normal((B, S, DV)).astype(dtype)
    return q, k, v


PAD_MASK = np.arange(S)[None, :] < np.array([5, 3, 1])[:, None]


def close(a, b, what=""):
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("query_3d", [False, True])
@pytest.mark.parametrize("mask", [None, PAD_MASK], ids=["nomask", "mask"])
def test_module_matches_torch(kind, query_3d, mask):
    torch = pytest.importorskip("torch")
    attn = build(kind)
    q, k, v = data(kind, query_3d)
    rng = np.random.default_rng(2)
    context, weights = attn(q, k, v, mask=mask)
    dc, dw = rng.standard_normal(context.shape), rng.standard_normal(weights.shape)
    dq, dk, dv = attn.backward(dc, dw)

    params = {n: torch.tensor(a, requires_grad=True) for n, a in attn.state_dict().items()}
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    tc, tw = torch_attention(torch, kind, params, tq, tk, tv, mask)
    ((tc * torch.from_numpy(dc)).sum() + (tw * torch.from_numpy(dw)).sum()).backward()
    close(context, tc.detach().numpy(), "context")
    close(weights, tw.detach().numpy(), "weights")
    close(dq, tq.grad.numpy(), "dquery")
    close(dk, tk.grad.numpy(), "dkeys")
    close(dv, tv.grad.numpy(), "dvalues")
    for name, p in attn.named_parameters():
        close(p.grad, params[name].grad.numpy(), name)
    if mask is not None:
        assert np.all(dk[~mask] == 0) and np.all(dv[~mask] == 0)


@pytest.mark.parametrize("kind", KINDS)
def test_two_forwards_then_two_backwards_is_lifo(kind):
    """A decoder's use: two steps on the same keys, then backward newest first."""
    torch = pytest.importorskip("torch")
    attn = build(kind)
    rng = np.random.default_rng(3)
    _, k, v = data(kind)
    q1, q2 = rng.standard_normal((B, DQ)), rng.standard_normal((B, DQ))
    mask2 = PAD_MASK.copy()
    mask2[0, 4] = False  # the two steps use different masks too
    c1, w1 = attn(q1, k, v, mask=PAD_MASK)
    c2, w2 = attn(q2, k, v, mask=mask2)
    dc1, dc2 = rng.standard_normal(c1.shape), rng.standard_normal(c2.shape)
    dw1, dw2 = rng.standard_normal(w1.shape), rng.standard_normal(w2.shape)
    dq2, dk2, dv2 = attn.backward(dc2, dw2)
    dq1, dk1, dv1 = attn.backward(dc1, dw1)
    with pytest.raises(RuntimeError, match="no pending forward"):
        attn.backward(dc1)

    params = {n: torch.tensor(a, requires_grad=True) for n, a in attn.state_dict().items()}
    for q, m, dc, dw, ours in (
        (q1, PAD_MASK, dc1, dw1, (dq1, dk1, dv1)),
        (q2, mask2, dc2, dw2, (dq2, dk2, dv2)),
    ):
        tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
        tc, tw = torch_attention(torch, kind, params, tq, tk, tv, m)
        ((tc * torch.from_numpy(dc)).sum() + (tw * torch.from_numpy(dw)).sum()).backward()
        for a, t in zip(ours, (tq, tk, tv)):
            close(a, t.grad.numpy())
    for name, p in attn.named_parameters():  # summed over both steps
        close(p.grad, params[name].grad.numpy(), name)


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_accumulate_and_zero_grad_clears(kind):
    attn = build(kind)
    q, k, v = data(kind)
    c, _ = attn(q, k, v)
    attn.backward(np.ones_like(c))
    first = [p.grad.copy() for p in attn.parameters()]
    c, _ = attn(q, k, v)
    attn.backward(np.ones_like(c))
    for g0, p in zip(first, attn.parameters()):
        close(p.grad, 2 * g0)
    attn.zero_grad()
    assert all(np.all(p.grad == 0) for p in attn.parameters())


def test_only_dweights_or_only_dcontext():
    attn = build("additive_bias")
    q, k, v = data("additive_bias")
    c, w = attn(q, k, v, mask=PAD_MASK)
    dq, dk, dv = attn.backward(None, np.ones_like(w) + np.arange(S))
    assert np.all(dv == 0)  # the values only reach the loss through the context
    c, w = attn(q, k, v, mask=PAD_MASK)
    dq2, dk2, dv2 = attn.backward(np.ones_like(c))
    assert np.any(dv2 != 0) and np.all(dv2[~PAD_MASK] == 0)


# ----------------------------------------------------------------- construction
def test_parameter_names_and_shapes():
    a = AdditiveAttention(DQ, DK, H, bias=True)
    assert [(n, p.shape) for n, p in a.named_parameters()] == [
        ("weight_q", (H, DQ)),
        ("weight_k", (H, DK)),
        ("bias_k", (H,)),
        ("v", (H,)),
    ]
    assert [n for n, _ in AdditiveAttention(DQ, DK, H).named_parameters()] == [
        "weight_q",
        "weight_k",
        "v",
    ]
    assert [(n, p.shape) for n, p in GeneralAttention(DQ, DK).named_parameters()] == [
        ("weight", (DQ, DK))
    ]
    assert DotAttention().parameters() == [] and ScaledDotProductAttention().parameters() == []


@pytest.mark.parametrize("kind", KINDS)
def test_dtype_default_float32_and_float64_on_request(kind):
    a32 = build(kind, dtype=np.float32)
    assert all(p.dtype == np.float32 for p in a32.parameters())
    q, k, v = data(kind, dtype=np.float32)
    c, w = a32(q, k, v, mask=PAD_MASK)
    assert c.dtype == np.float32 and w.dtype == np.float32
    grads = a32.backward(np.ones_like(c), np.ones_like(w))
    assert all(g.dtype == np.float32 for g in grads)
    assert all(p.grad.dtype == np.float32 for p in a32.parameters())
    # float32 agrees with float64 on the same weights to float32 rounding
    a64 = build(kind, dtype=np.float64)
    a64.load_state_dict(a32.state_dict())
    c64, w64 = a64(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64), mask=PAD_MASK)
    np.testing.assert_allclose(c, c64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(w, w64, rtol=1e-4, atol=1e-6)
    if kind in ("dot", "scaled"):
        assert build(kind, dtype=np.float32).param_dtype == np.float32
    assert AdditiveAttention(2, 2, 2).param_dtype == np.float32


def test_seed_and_rng():
    a, b = AdditiveAttention(DQ, DK, H, seed=4), AdditiveAttention(DQ, DK, H, seed=4)
    c = AdditiveAttention(DQ, DK, H, seed=5)
    for (n, x), (_, y), (_, z) in zip(
        a.state_dict().items(), b.state_dict().items(), c.state_dict().items()
    ):
        assert np.array_equal(x, y) and not np.array_equal(x, z), n
    g1 = GeneralAttention(DQ, DK, rng=np.random.default_rng(8))
    g2 = GeneralAttention(DQ, DK, rng=np.random.default_rng(8))
    assert np.array_equal(g1.weight.data, g2.weight.data)
    bound = 1 / math.sqrt(DK)
    assert np.all(np.abs(g1.weight.data) <= bound)
    with pytest.raises(ValueError, match="seed= or rng="):
        AdditiveAttention(DQ, DK, H, seed=1, rng=np.random.default_rng(1))
    with pytest.raises(ValueError, match="seed= or rng="):
        DotAttention(seed=1, rng=np.random.default_rng(1))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="hidden_size"):
        AdditiveAttention(DQ, DK, 0)
    with pytest.raises(ValueError, match="query_size must be an integer >= 1; got 0"):
        GeneralAttention(0, DK)
    with pytest.raises(TypeError, match="dtype must be"):
        DotAttention(dtype=np.int32)
    with pytest.raises(TypeError, match="dtype must be"):
        AdditiveAttention(DQ, DK, H, dtype=np.float16)


# ------------------------------------------------------------------- errors
@pytest.mark.parametrize("kind", KINDS)
def test_bad_inputs_raise_before_any_state_changes(kind):
    attn = build(kind)
    q, k, v = data(kind)
    cases = [
        ((q.astype(np.float32), k, v), {}, TypeError, "query has dtype float32"),
        ((q.tolist(), k, v), {}, TypeError, "query must be a numpy.ndarray"),
        ((q[0], k, v), {}, ValueError, r"query must be \(B, d_q\) or \(B, Tq, d_q\)"),
        ((q, k[0], v), {}, ValueError, "keys must be 3-D"),
        ((q[:2], k, v), {}, ValueError, "same batch size"),
        ((q, k, v[:, :4]), {}, ValueError, "values must be"),
        ((q, k, v), {"mask": PAD_MASK[:, :4]}, ValueError, "mask must have shape"),
        ((q, k, v), {"mask": PAD_MASK.astype(np.float64)}, TypeError, "mask must be a boolean"),
        ((q, k, v), {"mask": np.zeros((B, S), bool)}, ValueError, "every key masked"),
        ((q[:, :3], k, v), {}, ValueError, "query must have|keys must have"),
    ]
    if kind not in ("dot", "scaled"):
        cases.append(((q, k[..., :2], v), {}, ValueError, "keys must have 3 features"))
    for args, kw, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            attn(*args, **kw)
        assert attn._caches == []
    with pytest.raises(RuntimeError, match="no pending forward"):
        attn.backward(np.zeros((B, DV)))


@pytest.mark.parametrize("kind", KINDS)
def test_bad_upstream_gradient_keeps_the_forward_pending(kind):
    attn = build(kind)
    q, k, v = data(kind, query_3d=True)
    c, w = attn(q, k, v, mask=PAD_MASK)
    with pytest.raises(ValueError, match=r"dcontext must have shape \(3, 2, 2\)"):
        attn.backward(np.zeros((B, DV)))
    with pytest.raises(ValueError, match=r"dweights must have shape \(3, 2, 5\)"):
        attn.backward(np.zeros_like(c), np.zeros((B, S)))
    with pytest.raises(TypeError, match="dcontext has dtype float32"):
        attn.backward(np.zeros_like(c, dtype=np.float32))
    assert len(attn._caches) == 1
    attn.backward(np.ones_like(c))
    assert attn._caches == []


def test_dot_requires_equal_query_and_key_features():
    attn = DotAttention(dtype=np.float64)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="keys must have 4 features"):
        attn(
            rng.standard_normal((2, 4)),
            rng.standard_normal((2, 3, 5)),
            rng.standard_normal((2, 3, 1)),
        )


@pytest.mark.parametrize("kind", KINDS)
def test_no_grad_keeps_no_cache_and_large_scores_are_quiet(kind):
    attn = build(kind)
    q, k, v = data(kind, query_3d=True)
    if kind.startswith("additive"):
        attn.v.data *= 1e4
    with numrnn.no_grad():
        attn(q * 1e3, k * 1e3, v, mask=PAD_MASK)
    assert attn._caches == []
    with np.errstate(all="raise"):
        c, w = attn(q * 1e3, k * 1e3, v, mask=PAD_MASK)
        grads = attn.backward(np.ones_like(c), np.ones_like(w))
    assert all(np.all(np.isfinite(g)) for g in grads)
    assert np.all(w[~np.broadcast_to(PAD_MASK[:, None], w.shape)] == 0)


@pytest.mark.parametrize("kind", KINDS)
def test_torch_backend_matches_numpy(kind):
    torch = pytest.importorskip("torch")
    a_np, a_t = build(kind), build(kind, backend="torch")
    q, k, v = data(kind, query_3d=True)
    c, w = a_np(q, k, v, mask=PAD_MASK)
    grads = a_np.backward(np.ones_like(c), np.ones_like(w))
    tc, tw = a_t(*(torch.from_numpy(x) for x in (q, k, v)), mask=PAD_MASK)  # NumPy mask accepted
    tgrads = a_t.backward(torch.ones_like(tc), torch.ones_like(tw))
    np.testing.assert_allclose(tc.numpy(), c, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(tw.numpy(), w, rtol=1e-12, atol=1e-14)
    for g, tg in zip(grads, tgrads):
        np.testing.assert_allclose(tg.numpy(), g, rtol=1e-12, atol=1e-14)
    for (n, p), (_, tp) in zip(a_np.named_parameters(), a_t.named_parameters()):
        np.testing.assert_allclose(tp.grad.numpy(), p.grad, rtol=1e-12, atol=1e-14, err_msg=n)
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        a_t(q, k, v)


def test_repr_and_exports():
    assert "hidden_size=6" in repr(AdditiveAttention(DQ, DK, H))
    assert "query_size=4" in repr(GeneralAttention(DQ, DK))
    for name in (
        "AdditiveAttention",
        "DotAttention",
        "GeneralAttention",
        "ScaledDotProductAttention",
    ):
        assert hasattr(numrnn.nn, name)
