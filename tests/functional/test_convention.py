"""Every functional pair follows the one gradient convention, and numrnn.gradcheck checks it.

The convention (numrnn/functional/__init__.py): ``out, cache = op_forward(*arrays)``,
``grads = op_backward(dout, cache)`` with one entry per array argument, in order,
None for integer indices, boolean masks and an absent bias.
"""

import inspect

import numpy as np
import pytest

import numrnn
from numrnn.functional import activations, additive_attention, attention, linear, losses

B, S, TQ, D, H, DV = 2, 4, 3, 3, 5, 2


def _inputs(name, rng):
    """The array arguments for each pair, in the forward's order (float64)."""
    n = rng.standard_normal
    mask = np.ones((B, S), bool)
    mask[1, 2:] = False  # the second row has two masked positions
    relu_x = n((3, 4))
    relu_x[np.abs(relu_x) < 0.1] = 0.5  # keep every entry away from the kink at 0
    index = np.array([[0, 2, 2], [5, 1, 0]])
    table = {
        "sigmoid": (n((3, 4)),),
        "tanh": (n((3, 4)),),
        "relu": (relu_x,),
        "softmax": (n((3, 4)),),
        "log_softmax": (n((3, 4)),),
        "linear": (n((2, 3, D)), n((H, D)), n(H)),
        "embedding": (index, n((6, D))),
        "masked_softmax": (n((B, TQ, S)), mask[:, None, :]),
        "project_keys": (n((B, S, D)), n((H, D)), n(H)),
        "additive_attention_step": (
            n((B, TQ, D)),
            n((B, S, H)),
            n((B, S, DV)),
            n((H, D)),
            n(H),
            mask,
        ),
        "additive_attention": (
            n((B, D)),
            n((B, S, D + 1)),
            n((B, S, DV)),
            n((H, D)),
            n((H, D + 1)),
            n(H),
            n(H),
            mask,
        ),
        "dot_attention": (n((B, TQ, D)), n((B, S, D)), n((B, S, DV)), mask),
        "scaled_dot_product_attention": (n((B, D)), n((B, S, D)), n((B, S, DV)), mask),
        "general_attention": (n((B, TQ, D)), n((B, S, D + 1)), n((B, S, DV)), n((D, D + 1)), mask),
    }
    return table[name]


def _pairs():
    """Every ``*_forward`` with a ``*_backward`` beside it in the functional modules."""
    pairs = {}
    for module in (activations, linear, attention, additive_attention):
        for name in module.__all__:
            if name.endswith("_forward"):
                stem = name[: -len("_forward")]
                pairs[stem] = (getattr(module, name), getattr(module, f"{stem}_backward"))
    return pairs


PAIRS = _pairs()


def test_every_pair_has_inputs_here():
    # A new pair must be added to the table above, so that the checks below cover it.
    rng = np.random.default_rng(0)
    missing = []
    for name in PAIRS:
        try:
            _inputs(name, rng)
        except KeyError:
            missing.append(name)
    assert missing == []
    assert len(PAIRS) == 14


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_backward_returns_one_gradient_per_array_argument(name):
    forward, backward = PAIRS[name]
    rng = np.random.default_rng(1)
    args = _inputs(name, rng)
    out, cache = forward(*args)
    outs = out if isinstance(out, tuple) else (out,)
    douts = tuple(rng.standard_normal(o.shape) for o in outs)
    grads = backward(douts if isinstance(out, tuple) else douts[0], cache)
    assert isinstance(grads, tuple)
    # one entry per array parameter of the forward's signature, in order
    params = list(inspect.signature(forward).parameters)
    assert len(grads) == len(args) <= len(params)
    for arg, grad, pname in zip(args, grads, params):
        if arg.dtype.kind == "f":
            assert grad is not None and grad.shape == arg.shape, pname
        else:
            assert grad is None, pname  # indices and masks have no gradient


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_gradcheck_passes_on_every_pair(name):
    forward, backward = PAIRS[name]
    args = _inputs(name, np.random.default_rng(2))
    report = numrnn.gradcheck((forward, backward), args)
    assert report.passed, str(report)
    floats = sum(a.dtype.kind == "f" for a in args)
    assert len(report.rows) == floats  # every float input was compared


def test_gradcheck_locates_a_wrong_gradient_in_a_pair():
    # The same check fails when one returned gradient is off by 1%.
    forward, backward = PAIRS["general_attention"]

    def wrong(dout, cache):
        dq, dk, dv, dw, dmask = backward(dout, cache)
        return dq, dk, dv, dw * 1.01, dmask

    report = numrnn.gradcheck(
        (forward, wrong), _inputs("general_attention", np.random.default_rng(2))
    )
    assert not report.passed
    assert [r.name for r in report.rows if not r.passed] == ["weight"]


def _loss_pair(loss_fn, target, **options):
    """A loss as a pair: the forward returns the loss and keeps its gradient as the cache."""

    def forward(x):
        return loss_fn(x, target, **options)

    def backward(dloss, dx):
        # with reduction="none" a class axis follows the per-sample losses
        dloss = np.reshape(dloss, np.shape(dloss) + (1,) * (dx.ndim - np.ndim(dloss)))
        return (dloss * dx,)

    return forward, backward


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: (losses.cross_entropy, rng.standard_normal((4, 5)), np.array([0, 4, 2, 1])),
        lambda rng: (
            losses.nll_loss,
            numrnn.functional.log_softmax(rng.standard_normal((4, 5))),
            np.array([3, 0, 2, 2]),
        ),
        lambda rng: (losses.mse_loss, rng.standard_normal((3, 2)), rng.standard_normal((3, 2))),
        lambda rng: (
            losses.binary_cross_entropy_with_logits,
            rng.standard_normal((3, 2)),
            rng.integers(0, 2, (3, 2)).astype(np.float64),
        ),
    ],
    ids=["cross_entropy", "nll_loss", "mse_loss", "binary_cross_entropy_with_logits"],
)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_passes_on_every_loss(make, reduction):
    loss_fn, x, target = make(np.random.default_rng(3))
    report = numrnn.gradcheck(_loss_pair(loss_fn, target, reduction=reduction), (x,))
    assert report.passed, str(report)
    assert len(report.rows) == 1
