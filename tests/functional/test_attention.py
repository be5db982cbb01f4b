"""Attention forward/backward pairs against torch autograd and central finite differences.

Tolerances.  Against torch (float64) we ask for ``rtol=1e-9``: both sides do the
same few dozen float64 operations per entry in different orders, so they differ
by rounding, a few units of 1e-16 amplified by at most the modest conditioning
of a softmax over O(1) scores; 1e-9 leaves six orders of margin while any real
mistake (a missing term, a transposed weight) shows up at 1e-2 or more.
``atol=1e-12`` covers entries that are zero up to cancellation (softmax
gradients sum to zero over a row).  Central differences with ``eps=1e-6`` have
truncation error ~eps^2 = 1e-12 and rounding error ~1e-16 * |L| / eps ~ 1e-9
for |L| ~ 10, hence ``rtol=1e-6, atol=1e-8``.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from helpers import torch_attention

import numrnn.functional as F

VARIANTS = ["additive", "additive_bias", "dot", "general", "scaled"]
B, TQ, S, DV, H = 3, 2, 5, 2, 6


# ------------------------------------------------------------------------ cases
def make_case(variant, query_3d=False, mask_kind=None, seed=0, scale=1.0):
    """Random inputs, parameters, mask and upstream gradients (float64)."""
    rng = np.random.default_rng(seed)
    dq = 4
    dk = 3 if variant in ("additive", "additive_bias", "general") else dq
    qshape = (B, TQ, dq) if query_3d else (B, dq)
    inputs = {
        "query": scale * rng.standard_normal(qshape),
        "keys": scale * rng.standard_normal((B, S, dk)),
        "values": rng.standard_normal((B, S, DV)),
    }
    params = {}
    if variant.startswith("additive"):
        params["weight_q"] = rng.standard_normal((H, dq)) / 2
        params["weight_k"] = rng.standard_normal((H, dk)) / 2
        params["v"] = scale * rng.standard_normal(H)
        if variant == "additive_bias":
            params["bias"] = rng.standard_normal(H)
    elif variant == "general":
        params["weight"] = scale * rng.standard_normal((dq, dk)) / 2
    mask = None
    if mask_kind == "pad":  # row lengths 5, 3, 1
        mask = np.arange(S)[None, :] < np.array([5, 3, 1])[:, None]
    elif mask_kind == "full":  # (B, Tq, S), a different valid set per query
        assert query_3d
        mask = rng.random((B, TQ, S)) < 0.5
        mask[..., 0] = False
        mask[np.arange(B), :, rng.integers(1, S, size=B)] = True  # each row keeps one position
    lead = qshape[:-1]
    upstream = {
        "dcontext": rng.standard_normal(lead + (DV,)),
        "dweights": rng.standard_normal(lead + (S,)),
    }
    return inputs, params, mask, upstream


def np_forward(variant, inputs, params, mask):
    """``context, weights, cache`` from the variant's ``(context, weights), cache``."""
    (context, weights), cache = _np_forward(variant, inputs, params, mask)
    return context, weights, cache


def _np_forward(variant, inputs, params, mask):
    q, k, v = inputs["query"], inputs["keys"], inputs["values"]
    if variant.startswith("additive"):
        return F.additive_attention_forward(
            q,
            k,
            v,
            params["weight_q"],
            params["weight_k"],
            params["v"],
            bias=params.get("bias"),
            mask=mask,
        )
    if variant == "dot":
        return F.dot_attention_forward(q, k, v, mask=mask)
    if variant == "general":
        return F.general_attention_forward(q, k, v, params["weight"], mask=mask)
    return F.scaled_dot_product_attention_forward(q, k, v, mask=mask)


def np_backward(variant, dcontext, dweights, cache):
    """All gradients as a dict keyed like the inputs and parameters."""
    if variant.startswith("additive"):
        dq, dk, dvals, dwq, dwk, dv, dbias, dmask = F.additive_attention_backward(
            (dcontext, dweights), cache
        )
        out = {
            "query": dq,
            "keys": dk,
            "values": dvals,
            "weight_q": dwq,
            "weight_k": dwk,
            "v": dv,
        }
        if variant == "additive_bias":
            out["bias"] = dbias
        else:
            assert dbias is None
        assert dmask is None
        return out
    if variant == "general":
        dq, dk, dv, dw, dmask = F.general_attention_backward((dcontext, dweights), cache)
        assert dmask is None
        return {"query": dq, "keys": dk, "values": dv, "weight": dw}
    fn = F.dot_attention_backward if variant == "dot" else F.scaled_dot_product_attention_backward
    dq, dk, dv, dmask = fn((dcontext, dweights), cache)
    assert dmask is None
    return {"query": dq, "keys": dk, "values": dv}


def torch_reference(torch, variant, t, mask):
    """Context and weights in torch ops (``helpers.torch_attention``), from the functional names."""
    params = {("bias_k" if n == "bias" else n): x for n, x in t.items()}
    return torch_attention(torch, variant, params, t["query"], t["keys"], t["values"], mask)


def torch_grads(variant, inputs, params, mask, dcontext, dweights):
    torch = pytest.importorskip("torch")
    t = {n: torch.tensor(a, requires_grad=True) for n, a in {**inputs, **params}.items()}
    c, w = torch_reference(torch, variant, t, mask)
    loss = 0
    if dcontext is not None:
        loss = loss + (c * torch.from_numpy(dcontext)).sum()
    if dweights is not None:
        loss = loss + (w * torch.from_numpy(dweights)).sum()
    loss.backward()
    # a tensor the loss does not reach (values, with only dweights) has grad None: zero
    grads = {n: np.zeros(x.shape) if x.grad is None else x.grad.numpy() for n, x in t.items()}
    return c.detach().numpy(), w.detach().numpy(), grads


def close(actual, expected, rtol=1e-9, atol=1e-12, what=""):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


# ------------------------------------------------------------------- vs torch
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("query_3d", [False, True])
@pytest.mark.parametrize("mask_kind", [None, "pad"])
@pytest.mark.parametrize("upstream", ["both", "context", "weights"])
def test_matches_torch(variant, query_3d, mask_kind, upstream):
    inputs, params, mask, up = make_case(variant, query_3d, mask_kind)
    dcontext = up["dcontext"] if upstream in ("both", "context") else None
    dweights = up["dweights"] if upstream in ("both", "weights") else None
    tc, tw, tg = torch_grads(variant, inputs, params, mask, dcontext, dweights)

    context, weights, cache = np_forward(variant, inputs, params, mask)
    close(context, tc, what="context")
    close(weights, tw, what="weights")
    grads = np_backward(variant, dcontext, dweights, cache)
    assert set(grads) == set(tg)
    for name, g in grads.items():
        assert g.shape == tg[name].shape, name
        close(g, tg[name], what=f"d{name}")


def test_full_mask_matches_torch():
    for variant in VARIANTS:
        inputs, params, mask, up = make_case(variant, True, "full", seed=3)
        tc, tw, tg = torch_grads(variant, inputs, params, mask, up["dcontext"], up["dweights"])
        context, weights, cache = np_forward(variant, inputs, params, mask)
        close(context, tc)
        close(weights, tw)
        grads = np_backward(variant, up["dcontext"], up["dweights"], cache)
        for name, g in grads.items():
            close(g, tg[name], what=f"{variant} d{name}")


def test_scaled_matches_torch_sdpa_with_causal_mask():
    """An independent reference for the batched form: torch's own scaled_dot_product_attention."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    Tq = S_ = 6
    q, k, v = (
        rng.standard_normal((2, Tq, 4)),
        rng.standard_normal((2, S_, 4)),
        rng.standard_normal((2, S_, 3)),
    )
    causal = np.tril(np.ones((Tq, S_), bool))
    mask = np.broadcast_to(causal, (2, Tq, S_)).copy()
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    tc = torch.nn.functional.scaled_dot_product_attention(
        tq, tk, tv, attn_mask=torch.from_numpy(mask)
    )
    g = rng.standard_normal(tc.shape)
    (tc * torch.from_numpy(g)).sum().backward()

    (context, weights), cache = F.scaled_dot_product_attention_forward(q, k, v, mask=mask)
    close(context, tc.detach().numpy())
    assert np.all(weights[:, ~causal] == 0)
    dq, dk, dv, _ = F.scaled_dot_product_attention_backward((g, None), cache)
    close(dq, tq.grad.numpy())
    close(dk, tk.grad.numpy())
    close(dv, tv.grad.numpy())


def test_decoder_loop_with_precomputed_keys_matches_torch():
    """Project the keys once, run T steps, sum dkeys_proj, one project_keys_backward."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    T, dq, dk = 4, 3, 5
    queries = rng.standard_normal((T, B, dq))
    keys, values = rng.standard_normal((B, S, dk)), rng.standard_normal((B, S, DV))
    Wq, Wk, v, b = (
        rng.standard_normal((H, dq)),
        rng.standard_normal((H, dk)),
        rng.standard_normal(H),
        rng.standard_normal(H),
    )
    mask = np.arange(S)[None, :] < np.array([5, 2, 4])[:, None]
    dcs, dws = rng.standard_normal((T, B, DV)), rng.standard_normal((T, B, S))

    keys_proj, kcache = F.project_keys_forward(keys, Wk, b)
    caches, contexts = [], []
    for t in range(T):
        (c, w), cache = F.additive_attention_step_forward(
            queries[t], keys_proj, values, Wq, v, mask=mask
        )
        caches.append(cache)
        contexts.append(c)
    dkeys_proj = np.zeros_like(keys_proj)
    dvalues, dWq, dv = np.zeros_like(values), np.zeros_like(Wq), np.zeros_like(v)
    dqueries = np.zeros_like(queries)
    for t in reversed(range(T)):
        dqueries[t], dkp, dval, dwq, dvv, _ = F.additive_attention_step_backward(
            (dcs[t], dws[t]), caches.pop()
        )
        dkeys_proj += dkp
        dvalues += dval
        dWq += dwq
        dv += dvv
    dkeys, dWk, db = F.project_keys_backward(dkeys_proj, kcache)

    tt = {
        n: torch.tensor(a, requires_grad=True)
        for n, a in dict(
            queries=queries, keys=keys, values=values, weight_q=Wq, weight_k=Wk, v=v, bias=b
        ).items()
    }
    loss = 0
    for t in range(T):
        c, w = torch_reference(torch, "additive_bias", {**tt, "query": tt["queries"][t]}, mask)
        close(contexts[t], c.detach().numpy())
        loss = loss + (c * torch.from_numpy(dcs[t])).sum() + (w * torch.from_numpy(dws[t])).sum()
    loss.backward()
    for name, ours in dict(
        queries=dqueries, keys=dkeys, values=dvalues, weight_q=dWq, weight_k=dWk, v=dv, bias=db
    ).items():
        close(ours, tt[name].grad.numpy(), what=name)


# ------------------------------------------------------- finite differences
def _loss(variant, inputs, params, mask, up):
    c, w, _ = np_forward(variant, inputs, params, mask)
    return float(np.sum(c * up["dcontext"]) + np.sum(w * up["dweights"]))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(
    "query_3d,mask_kind", [(False, None), (False, "pad"), (True, None), (True, "full")]
)
def test_central_differences(variant, query_3d, mask_kind):
    inputs, params, mask, up = make_case(variant, query_3d, mask_kind, seed=5)
    _, _, cache = np_forward(variant, inputs, params, mask)
    grads = np_backward(variant, up["dcontext"], up["dweights"], cache)
    eps = 1e-6
    arrays = {**inputs, **params}
    for name, arr in arrays.items():
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + eps
            plus = _loss(variant, inputs, params, mask, up)
            arr[i] = old - eps
            minus = _loss(variant, inputs, params, mask, up)
            arr[i] = old
            num[i] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(grads[name], num, rtol=1e-6, atol=1e-8, err_msg=f"d{name}")


# ------------------------------------------------------------------- masking
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("query_3d", [False, True])
def test_masked_positions_get_exactly_zero(variant, query_3d):
    inputs, params, mask, up = make_case(variant, query_3d, "pad", seed=2)
    # garbage in the padded positions must not leak anywhere
    inputs["keys"][~mask] = 1e3
    inputs["values"][~mask] = -1e3
    context, weights, cache = np_forward(variant, inputs, params, mask)
    wmask = mask if not query_3d else np.broadcast_to(mask[:, None, :], weights.shape)
    assert np.all(weights[~wmask] == 0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-15, atol=1e-15)
    assert np.all(np.abs(context) < 10)  # no -1e3 value leaked into the context
    grads = np_backward(variant, up["dcontext"], up["dweights"], cache)
    assert np.all(grads["keys"][~mask] == 0)
    assert np.all(grads["values"][~mask] == 0)
    assert all(np.all(np.isfinite(g)) for g in grads.values())


@pytest.mark.parametrize("variant", VARIANTS)
def test_all_masked_row_raises(variant):
    inputs, params, mask, _ = make_case(variant, False, "pad")
    mask[1] = False
    with pytest.raises(ValueError, match="every key masked"):
        np_forward(variant, inputs, params, mask)


def test_mask_must_be_boolean_and_shaped():
    inputs, params, mask, _ = make_case("dot", False, "pad")
    with pytest.raises(TypeError, match="mask must be a boolean"):
        np_forward("dot", inputs, params, mask.astype(np.int64))
    with pytest.raises(ValueError, match="mask must have shape"):
        np_forward("dot", inputs, params, mask[:, :-1])
    with pytest.raises(ValueError, match="mask must have shape"):  # a 3-D mask needs a 3-D query
        np_forward("dot", inputs, params, np.ones((B, TQ, S), bool))


# --------------------------------------------------------------- stability
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_large_scores_raise_no_floating_point_error(variant, dtype):
    """Scores spread over ~1e6: no overflow, no underflow, no invalid under errstate(all='raise')."""
    inputs, params, mask, up = make_case(variant, True, "pad", seed=9, scale=1e3)
    cast = {n: a.astype(dtype) for n, a in {**inputs, **params, **up}.items()}
    inputs = {n: cast[n] for n in inputs}
    params = {n: cast[n] for n in params}
    with np.errstate(all="raise"):
        context, weights, cache = np_forward(variant, inputs, params, mask)
        grads = np_backward(variant, cast["dcontext"], cast["dweights"], cache)
    assert context.dtype == dtype and weights.dtype == dtype
    assert all(g.dtype == dtype for g in grads.values())
    assert np.all(np.isfinite(context)) and np.all(np.isfinite(weights))
    assert all(np.all(np.isfinite(g)) for g in grads.values())
    assert np.all(weights[~np.broadcast_to(mask[:, None, :], weights.shape)] == 0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)
    if dtype == np.float64:
        torch = pytest.importorskip("torch")  # noqa: F841 - the reference needs torch
        big_inputs, big_params, _, _ = make_case(variant, True, "pad", seed=9, scale=1e3)
        tc, tw, _ = torch_grads(
            variant, big_inputs, big_params, mask, up["dcontext"], up["dweights"]
        )
        # saturated softmax: tiny weights are exact zeros on both sides (ours flushes terms
        # below ~1e-292 to zero, torch's underflow does the same)
        close(weights, tw, atol=1e-12)
        close(context, tc, atol=1e-9)


# ------------------------------------------------------------------ hygiene
@pytest.mark.parametrize("variant", VARIANTS)
def test_backward_does_not_write_into_its_arguments(variant):
    inputs, params, mask, up = make_case(variant, True, "pad")
    _, _, cache = np_forward(variant, inputs, params, mask)
    before = copy.deepcopy((inputs, params, up, cache))
    np_backward(variant, up["dcontext"], up["dweights"], cache)
    after = (inputs, params, up, cache)

    def flat(x):
        if isinstance(x, dict):
            return [a for v in x.values() for a in flat(v)]
        if isinstance(x, (tuple, list)):
            return [a for v in x for a in flat(v)]
        return [x] if isinstance(x, np.ndarray) else []

    for a, b in zip(flat(before), flat(after)):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_upstream_gives_zero_gradients(variant):
    inputs, params, mask, _ = make_case(variant, False, "pad")
    _, _, cache = np_forward(variant, inputs, params, mask)
    for name, g in np_backward(variant, None, None, cache).items():
        assert g.shape == {**inputs, **params}[name].shape
        assert np.all(g == 0), name


@pytest.mark.parametrize("variant", VARIANTS)
def test_torch_tensors_run_the_same_code(variant):
    """The kernels use only the backend namespace: torch CPU tensors give the NumPy results."""
    torch = pytest.importorskip("torch")
    inputs, params, mask, up = make_case(variant, True, "pad")
    c, w, cache = np_forward(variant, inputs, params, mask)
    grads = np_backward(variant, up["dcontext"], up["dweights"], cache)
    T = {n: torch.from_numpy(a) for n, a in {**inputs, **params}.items()}
    tc, tw, tcache = np_forward(
        variant, {n: T[n] for n in inputs}, {n: T[n] for n in params}, torch.from_numpy(mask)
    )
    tgrads = np_backward(
        variant, torch.from_numpy(up["dcontext"]), torch.from_numpy(up["dweights"]), tcache
    )
    close(tc.numpy(), c, rtol=1e-12)
    close(tw.numpy(), w, rtol=1e-12)
    for name, g in grads.items():
        close(tgrads[name].numpy(), g, rtol=1e-12, what=name)


# -------------------------------------------------------------- bad shapes
def test_bad_shapes_raise_clear_errors():
    rng = np.random.default_rng(0)
    q, k, v = (
        rng.standard_normal((2, 4)),
        rng.standard_normal((2, 5, 4)),
        rng.standard_normal((2, 5, 3)),
    )
    with pytest.raises(
        ValueError, match=r"query must be \(B, d_q\) or \(B, Tq, d_q\); got shape \(4,\)"
    ):
        F.dot_attention_forward(q[0], k, v)
    with pytest.raises(ValueError, match=r"keys must be \(B, S, features\)"):
        F.dot_attention_forward(q, k[0], v)
    with pytest.raises(ValueError, match="same batch size"):
        F.dot_attention_forward(q[:1], k, v)
    with pytest.raises(ValueError, match=r"values must be \(B, S, d_v\) = \(2, 5, d_v\)"):
        F.scaled_dot_product_attention_forward(q, k, v[:, :4])
    with pytest.raises(ValueError, match="keys must have 4 features"):
        F.dot_attention_forward(q, k[..., :3], v)
    with pytest.raises(ValueError, match="query must have 3 features"):
        F.general_attention_forward(q, k, v, rng.standard_normal((3, 4)))
    with pytest.raises(ValueError, match="keys must have 2 features"):
        F.general_attention_forward(q, k, v, rng.standard_normal((4, 2)))
    with pytest.raises(ValueError, match="weight_q must be"):
        F.additive_attention_step_forward(
            q,
            rng.standard_normal((2, 5, 6)),
            v,
            rng.standard_normal((7, 4)),
            rng.standard_normal(6),
        )
    with pytest.raises(ValueError, match="query must have 4 features"):
        F.additive_attention_forward(
            q[:, :3],
            k,
            v,
            rng.standard_normal((6, 4)),
            rng.standard_normal((6, 4)),
            rng.standard_normal(6),
        )
    with pytest.raises(ValueError, match="bias must be"):
        F.project_keys_forward(k, rng.standard_normal((6, 4)), rng.standard_normal(5))
    _, cache = F.dot_attention_forward(q, k, v)
    with pytest.raises(ValueError, match=r"dcontext must have shape \(2, 3\)"):
        F.dot_attention_backward((np.zeros((2, 4)), None), cache)
    with pytest.raises(ValueError, match=r"dweights must have shape \(2, 5\)"):
        F.dot_attention_backward((None, np.zeros((2, 1, 5))), cache)
    with pytest.raises(TypeError, match=r"dout must be the pair \(dcontext, dweights\)"):
        F.dot_attention_backward(np.zeros((2, 3)), cache)


def test_weights_are_a_distribution_property():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies

    @hypothesis.settings(max_examples=40, deadline=None)
    @hypothesis.given(
        b=st.integers(1, 3),
        s=st.integers(1, 6),
        d=st.integers(1, 4),
        tq=st.integers(0, 3),
        seed=st.integers(0, 2**31 - 1),
        logscale=st.floats(-2, 3),
    )
    def check(b, s, d, tq, seed, logscale):
        rng = np.random.default_rng(seed)
        qshape = (b, d) if tq == 0 else (b, tq, d)
        q = rng.standard_normal(qshape) * 10**logscale
        k, v = rng.standard_normal((b, s, d)) * 10**logscale, rng.standard_normal((b, s, 2))
        lengths = rng.integers(1, s + 1, size=b)
        mask = np.arange(s)[None, :] < lengths[:, None]
        with np.errstate(all="raise"):
            (c, w), _ = F.scaled_dot_product_attention_forward(q, k, v, mask=mask)
        wm = mask if tq == 0 else np.broadcast_to(mask[:, None, :], w.shape)
        assert np.all(w >= 0) and np.all(w[~wm] == 0)
        np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-12)
        # the context is a convex combination of the valid values
        lo = np.where(mask[..., None], v, np.inf).min(axis=1)
        hi = np.where(mask[..., None], v, -np.inf).max(axis=1)
        if tq:
            lo, hi = lo[:, None], hi[:, None]
        assert np.all(c >= lo - 1e-12) and np.all(c <= hi + 1e-12)

    check()
