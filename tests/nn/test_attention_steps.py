"""AdditiveAttention's two halves (project_keys once, step per query) equal calling the module."""

import numpy as np
import pytest

import numrnn

B, S, DQ, DK, H, T = 2, 5, 3, 4, 6, 3


def _setup(seed=0):
    rng = np.random.default_rng(seed)
    att = numrnn.nn.AdditiveAttention(DQ, DK, H, bias=True, dtype=np.float64, seed=seed)
    queries = rng.standard_normal((T, B, DQ))
    keys = rng.standard_normal((B, S, DK))
    mask = np.arange(S)[None, :] < np.array([5, 3])[:, None]
    dctx = rng.standard_normal((T, B, DK))
    return att, queries, keys, mask, dctx


def test_halves_equal_the_whole_forward_and_backward():
    att, queries, keys, mask, dctx = _setup()
    # the whole module, once per query: keys projected every time
    dq_whole, dk_whole = [], np.zeros_like(keys)
    for t in range(T):
        att(queries[t], keys, keys, mask=mask)
    for t in reversed(range(T)):
        dq, dk, dv = att.backward(dctx[t])
        dq_whole.insert(0, dq)
        dk_whole += dk + dv
    whole = {n: p.grad.copy() for n, p in att.named_parameters()}
    att.zero_grad()
    # the halves: project once, step T times, backward in reverse
    keys_proj = att.project_keys(keys)
    for t in range(T):
        ctx, w = att.step(queries[t], keys_proj, keys, mask)
        ref_ctx, ref_w = att._forward(queries[t], keys, keys, mask)[0]
        np.testing.assert_allclose(ctx, ref_ctx, rtol=1e-13, atol=1e-15)  # same float64 math
        np.testing.assert_allclose(w, ref_w, rtol=1e-13, atol=1e-15)
    dkp_sum, dk_half, dq_half = np.zeros_like(keys_proj), np.zeros_like(keys), []
    for t in reversed(range(T)):
        dq, dkp, dv = att.step_backward(dctx[t])
        dq_half.insert(0, dq)
        dkp_sum += dkp
        dk_half += dv
    dk_half += att.project_keys_backward(dkp_sum)
    assert att._caches == []
    # sums reassociated across steps: agreement to float64 rounding, not bit for bit
    np.testing.assert_allclose(np.array(dq_half), np.array(dq_whole), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dk_half, dk_whole, rtol=1e-12, atol=1e-14)
    for name, p in att.named_parameters():
        np.testing.assert_allclose(p.grad, whole[name], rtol=1e-12, atol=1e-14, err_msg=name)


def test_backward_out_of_order_is_a_clear_error():
    att, queries, keys, mask, dctx = _setup()
    keys_proj = att.project_keys(keys)
    att.step(queries[0], keys_proj, keys, mask)
    with pytest.raises(RuntimeError, match=r"project_keys_backward: the newest pending forward"):
        att.project_keys_backward(np.zeros_like(keys_proj))
    att.step_backward(dctx[0])  # still pending, so the right order works afterwards
    att.project_keys_backward(np.zeros_like(keys_proj))
    with pytest.raises(RuntimeError, match="no pending forward"):
        att.step_backward(dctx[0])


def test_editing_inputs_and_outputs_in_place_changes_no_gradient():
    # the halves keep copies of what their caches hold, like calling the module
    def grads(edit):
        att, queries, keys, mask, dctx = _setup()
        keys_proj = att.project_keys(keys)
        ctx, w = att.step(queries[0], keys_proj, keys, mask)
        if edit:
            for a in (queries, keys, ctx, w):
                a *= 0.5
        dq, dkp, dv = att.step_backward(dctx[0])
        dk = att.project_keys_backward(dkp)
        return [dq, dv, dk] + [p.grad.copy() for p in att.parameters()]

    for a, b in zip(grads(False), grads(True)):
        np.testing.assert_array_equal(a, b)
