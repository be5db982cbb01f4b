"""Hostile inputs for the modules, losses, optimisers and clipping.

Every case is a row of a table and asserts three things: the documented exception
type, the argument named in the message, and that nothing changed (parameters,
gradients, pending forward caches).  The last sections check what a user may do
with the arrays numrnn hands out (edit them in place) and with shared Parameters.
"""

import math

import numpy as np
import pytest

import numrnn
import numrnn.functional as F
from numrnn.models import CharLM, Seq2Seq, SequenceClassifier
from numrnn.nn import (
    GRU,
    LSTM,
    RNN,
    AdditiveAttention,
    DotAttention,
    Embedding,
    GeneralAttention,
    GRUCell,
    Linear,
    LSTMCell,
    Module,
    RNNCell,
    ScaledDotProductAttention,
)
from numrnn.optim import SGD, Adagrad, Adam, AdamW, RMSprop, clip_grad_norm_, clip_grad_value_
from numrnn.reference import lstm_cell

F64 = np.float64


def _state(module):
    """Everything a refused call must leave alone: values, gradients, pending caches."""
    params = [
        (n, p.data.copy(), p.grad.copy())
        for n, p in module.named_parameters(remove_duplicate=False)
    ]
    caches = [(name, len(m._caches)) for name, m in module.named_modules()]
    return params, caches


def _assert_same(module, before):
    params, caches = _state(module)
    assert caches == before[1], "a pending forward was consumed or added"
    for (name, data, grad), (_, data0, grad0) in zip(params, before[0]):
        np.testing.assert_array_equal(data, data0, err_msg=f"{name} changed")
        np.testing.assert_array_equal(grad, grad0, err_msg=f"{name}.grad changed")


# -- constructors: one shared size check ---------------------------------------------------------

_SIZE_CONSTRUCTORS = {
    "Linear": (lambda a, b: Linear(a, b), ("in_features", "out_features")),
    "Embedding": (lambda a, b: Embedding(a, b), ("num_embeddings", "embedding_dim")),
    "RNN": (lambda a, b: RNN(a, b), ("input_size", "hidden_size")),
    "LSTM": (lambda a, b: LSTM(a, b), ("input_size", "hidden_size")),
    "GRU": (lambda a, b: GRU(a, b), ("input_size", "hidden_size")),
    "RNNCell": (lambda a, b: RNNCell(a, b), ("input_size", "hidden_size")),
    "LSTMCell": (lambda a, b: LSTMCell(a, b), ("input_size", "hidden_size")),
    "GRUCell": (lambda a, b: GRUCell(a, b), ("input_size", "hidden_size")),
    "GeneralAttention": (lambda a, b: GeneralAttention(a, b), ("query_size", "key_size")),
    "AdditiveAttention": (lambda a, b: AdditiveAttention(a, b, 4), ("query_size", "key_size")),
    "Recurrent": (lambda a, b: numrnn.Recurrent(lstm_cell, a, b), ("input_size", "hidden_size")),
    "CharLM": (lambda a, b: CharLM(a, b, 4), ("vocab_size", "embed_size")),
    "SequenceClassifier": (lambda a, b: SequenceClassifier(a, b), ("vocab_size", "num_classes")),
}
_BAD_SIZES = [
    (2.7, TypeError),  # used to become 2
    (3.0, TypeError),
    ("3", TypeError),
    (True, TypeError),
    (None, TypeError),
    ([3], TypeError),
    (0, ValueError),
    (-1, ValueError),
]


@pytest.mark.parametrize("cls", sorted(_SIZE_CONSTRUCTORS))
@pytest.mark.parametrize("position", [0, 1])
@pytest.mark.parametrize("value,exc", _BAD_SIZES, ids=lambda v: repr(v))
def test_constructor_refuses_a_size_that_is_not_a_positive_integer(cls, position, value, exc):
    make, names = _SIZE_CONSTRUCTORS[cls]
    args = [3, 3]
    args[position] = value
    with pytest.raises(exc, match=rf"{cls}: {names[position]} must be an integer >= 1; got"):
        make(*args)


@pytest.mark.parametrize(
    "make,exc,match",
    [
        (lambda: AdditiveAttention(3, 3, 2.5), TypeError, "hidden_size must be an integer"),
        (lambda: Seq2Seq(5, 6, hidden_size=2.5), TypeError, "Seq2Seq: hidden_size must be an"),
        (lambda: Seq2Seq(5, 6, embed_size="8"), TypeError, "Seq2Seq: embed_size must be an"),
        (lambda: Seq2Seq(5, 6, num_layers=0), ValueError, "Seq2Seq: num_layers must be an"),
        (lambda: LSTM(3, 4, num_layers=1.0), TypeError, "num_layers must be an integer"),
        (lambda: LSTM(3, 4, num_layers=0), ValueError, "num_layers must be an integer >= 1"),
        (lambda: LSTM(3, 4, proj_size=2.0), TypeError, "proj_size must be an integer >= 0"),
        (lambda: LSTM(3, 4, proj_size=-1), ValueError, "proj_size must be an integer >= 0"),
        (lambda: LSTM(3, 4, proj_size=4), ValueError, "proj_size must be smaller"),
        (lambda: GRU(3, 4, proj_size=2), ValueError, "proj_size is supported by LSTM only"),
        (lambda: RNN(3, 4, dropout="0.1"), TypeError, "dropout must be a number"),
        (lambda: RNN(3, 4, dropout=True), TypeError, "dropout must be a number"),
        (lambda: RNN(3, 4, dropout=1.5), ValueError, "dropout must be a number in"),
        (lambda: RNN(3, 4, dropout=math.nan), ValueError, "dropout must be a number in"),
        (lambda: RNN(3, 4, nonlinearity="sigmoid"), ValueError, "nonlinearity"),
        (lambda: Linear(3, 4, dtype=np.int32), TypeError, "dtype"),
        (lambda: Embedding(5, 3, padding_idx=2.5), TypeError, "padding_idx must be None or an"),
        (lambda: Embedding(5, 3, padding_idx="1"), TypeError, "padding_idx must be None or an"),
        (lambda: Embedding(5, 3, padding_idx=True), TypeError, "padding_idx must be None or an"),
        (lambda: Embedding(5, 3, padding_idx=5), ValueError, r"padding_idx must be in \[-5, 5\)"),
        (lambda: Embedding(5, 3, padding_idx=-6), ValueError, r"padding_idx must be in \[-5, 5\)"),
        (lambda: Linear(3, 4, seed=1, rng=np.random.default_rng(1)), ValueError, "seed= or rng="),
    ],
)
def test_constructor_refuses_other_bad_options(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_negative_padding_idx_counts_from_the_end_like_torch():
    torch = pytest.importorskip("torch")
    m = Embedding(5, 3, padding_idx=-2, dtype=F64, seed=0)
    ref = torch.nn.Embedding(5, 3, padding_idx=-2)
    assert m.padding_idx == ref.padding_idx == 3
    assert not np.any(m.weight.data[3])
    m(np.array([3, 1]))
    m.backward(np.ones((2, 3)))
    assert not np.any(m.weight.grad[3]) and np.all(m.weight.grad[1] == 1)


# -- forward: hostile inputs change nothing -----------------------------------------------------

_X = np.zeros((5, 2, 3))


@pytest.mark.parametrize(
    "make,call,exc,match",
    [
        (
            lambda: LSTM(3, 4, dtype=F64),
            lambda m: m(_X, 5),
            TypeError,
            r"hx must be None or a tuple \(h0, c0\)",
        ),
        (
            lambda: LSTM(3, 4, dtype=F64),
            lambda m: m(_X, np.zeros((1, 2, 4))),
            TypeError,
            r"hx .*\(h0, c0\)",
        ),
        (
            lambda: LSTM(3, 4, dtype=F64),
            lambda m: m(_X, (np.zeros((1, 2, 4)),)),
            ValueError,
            r"hx must be a tuple \(h0, c0\)",
        ),
        (
            lambda: LSTM(3, 4, dtype=F64),
            lambda m: m(_X, (np.zeros((1, 2, 4)), 5)),
            TypeError,
            r"hx\[1\] must be a numpy",
        ),
        (
            lambda: LSTMCell(3, 4, dtype=F64),
            lambda m: m(np.zeros((2, 3)), 5),
            TypeError,
            r"hx must be None or a tuple \(h0, c0\)",
        ),
        (
            lambda: LSTMCell(3, 4, dtype=F64),
            lambda m: m(np.zeros((2, 3)), (np.zeros((2, 4)),)),
            ValueError,
            r"hx must be a tuple \(h0, c0\)",
        ),
        (lambda: GRU(3, 4, dtype=F64), lambda m: m(_X, 5), TypeError, "hx must be a numpy.ndarray"),
        (
            lambda: RNNCell(3, 4, dtype=F64),
            lambda m: m(np.zeros((2, 3)), [0.0] * 4),
            TypeError,
            "hx must be a numpy.ndarray",
        ),
        (
            lambda: RNN(3, 4, dtype=F64),
            lambda m: m(_X.tolist()),
            TypeError,
            "x must be a numpy.ndarray",
        ),
        (lambda: RNN(3, 4), lambda m: m(_X), TypeError, "x has dtype float64"),
        (
            lambda: GRU(3, 4, dtype=F64),
            lambda m: m(np.zeros((5, 2, 4))),
            ValueError,
            "x must have 3 features",
        ),
        (lambda: GRU(3, 4, dtype=F64), lambda m: m(_X, lengths=[5, 6]), ValueError, "length"),
        (
            lambda: Linear(3, 4, dtype=F64),
            lambda m: m(np.zeros((2, 4))),
            ValueError,
            "x must have 3 features",
        ),
        (
            lambda: Linear(3, 4, dtype=F64),
            lambda m: m([[0.0] * 3]),
            TypeError,
            "x must be a numpy.ndarray",
        ),
        (lambda: Linear(3, 4), lambda m: m(np.zeros((2, 3))), TypeError, "x has dtype float64"),
        (
            lambda: Embedding(5, 3),
            lambda m: m(np.array([0, 5])),
            ValueError,
            r"index values must be in \[0, 5\)",
        ),
        (
            lambda: Embedding(5, 3),
            lambda m: m(np.array([0.0, 1.0])),
            TypeError,
            "index must be an integer array",
        ),
        (
            lambda: DotAttention(dtype=F64),
            lambda m: m(np.zeros((2, 3)), np.zeros((2, 4, 5)), np.zeros((2, 4, 3))),
            ValueError,
            "3",
        ),
        (
            lambda: GeneralAttention(3, 5, dtype=F64),
            lambda m: m(np.zeros((2, 3)), np.zeros((2, 4, 5)), [0.0]),
            TypeError,
            "values",
        ),
    ],
)
def test_forward_refuses_and_changes_nothing(make, call, exc, match):
    m = make()
    before = _state(m)
    with pytest.raises(exc, match=match):
        call(m)
    _assert_same(m, before)


# -- backward: hostile upstream gradients change nothing ----------------------------------------


def _forward(kind, dtype=F64):
    """A module of ``kind`` with one pending forward, and a valid upstream gradient builder."""
    r = np.random.default_rng(0)
    x = r.standard_normal((5, 2, 3)).astype(dtype)
    if kind == "linear":
        m = Linear(3, 4, dtype=dtype, seed=0)
        return m, m(x), "dy"
    if kind == "embedding":
        m = Embedding(6, 4, dtype=dtype, seed=0)
        return m, m(np.array([[1, 2], [3, 4]])), "de"
    if kind in ("rnn", "gru", "lstm"):
        m = {"rnn": RNN, "gru": GRU, "lstm": LSTM}[kind](3, 4, dtype=dtype, seed=0)
        return m, m(x)[0], "dout"
    if kind in ("rnncell", "grucell"):
        m = {"rnncell": RNNCell, "grucell": GRUCell}[kind](3, 4, dtype=dtype, seed=0)
        return m, m(x[0]), "dh"
    if kind == "lstmcell":
        m = LSTMCell(3, 4, dtype=dtype, seed=0)
        return m, m(x[0])[0], "dh"
    if kind == "attention":
        m = GeneralAttention(3, 3, dtype=dtype, seed=0)
        return m, m(x[0], x[:2].swapaxes(0, 1), x[:2].swapaxes(0, 1))[0], "dcontext"
    if kind == "charlm":
        m = CharLM(7, 3, 4, dtype=dtype, seed=0)
        return m, m(np.array([[1, 2], [3, 4]]))[0], "dlogits"
    m = SequenceClassifier(7, 3, 4, 5, dtype=dtype, seed=0)
    return m, m(np.array([[1, 2], [3, 4]]), lengths=[2, 1]), "dlogits"


def _call_backward(kind, m, g):
    if kind == "lstmcell":
        return m.backward((g, None))
    return m.backward(g)


_BACKWARD_KINDS = [
    "linear",
    "embedding",
    "rnn",
    "gru",
    "lstm",
    "rnncell",
    "grucell",
    "lstmcell",
    "attention",
    "charlm",
    "classifier",
]


@pytest.mark.parametrize("kind", _BACKWARD_KINDS)
@pytest.mark.parametrize(
    "bad,exc,what",
    [
        (lambda y: y.tolist(), TypeError, "must be a numpy.ndarray; got list"),
        (lambda y: y.astype(np.float32), TypeError, "has dtype float32 but the module"),
        (lambda y: y.astype(np.int64), TypeError, "must be a floating-point array"),
        (lambda y: np.zeros(y.shape[:-1] + (y.shape[-1] + 1,)), ValueError, "must have shape"),
        (lambda y: y[..., None], ValueError, "must have shape"),
        (lambda y: 1.0, TypeError, "must be a numpy.ndarray; got float"),
    ],
    ids=["list", "float32", "int", "wider", "rank", "scalar"],
)
def test_backward_refuses_a_bad_upstream_gradient_and_changes_nothing(kind, bad, exc, what):
    m, y, name = _forward(kind)
    before = _state(m)
    with pytest.raises(exc, match=rf"{name} {what}"):
        _call_backward(kind, m, bad(y))
    _assert_same(m, before)
    _call_backward(kind, m, np.ones_like(y))  # the pending forward is still there, and usable
    assert all(not sub._caches for sub in m.modules())


@pytest.mark.parametrize("kind", ["linear", "embedding", "lstm"])
def test_a_float32_layer_never_casts_a_float64_gradient(kind):
    m, y, name = _forward(kind, dtype=np.float32)
    before = _state(m)
    with pytest.raises(TypeError, match=rf"{name} has dtype float64 but the module's parameters"):
        _call_backward(kind, m, np.ones(y.shape, dtype=np.float64))
    _assert_same(m, before)


@pytest.mark.parametrize(
    "make,call,exc,match",
    [
        (
            lambda: LSTM(3, 4, dtype=F64),
            lambda m, y: m.backward(y, 5),
            TypeError,
            r"dhx must be None or a tuple \(dhn, dcn\)",
        ),
        (
            lambda: LSTMCell(3, 4, dtype=F64),
            lambda m, y: m.backward(y),
            TypeError,
            r"dhx must be a tuple \(dh, dc\)",
        ),
        (
            lambda: LSTMCell(3, 4, dtype=F64),
            lambda m, y: m.backward((y,)),
            ValueError,
            r"dhx must be a tuple \(dh, dc\)",
        ),
        (
            lambda: GRU(3, 4, dtype=F64),
            lambda m, y: m.backward(y, np.zeros((1, 2, 5))),
            ValueError,
            r"dhx must have shape \(1, 2, 4\)",
        ),
    ],
)
def test_backward_refuses_bad_state_gradients(make, call, exc, match):
    m = make()
    y = m(_X)[0] if isinstance(m, (LSTM, GRU)) else m(_X[0])[0]
    before = _state(m)
    with pytest.raises(exc, match=match):
        call(m, np.ones_like(y))
    _assert_same(m, before)


# -- what numrnn hands out belongs to the caller -------------------------------------------------


def _arrays(tree):
    if isinstance(tree, np.ndarray):
        return [tree]
    if isinstance(tree, (tuple, list)):
        return [a for t in tree for a in _arrays(t)]
    return []


_EDIT_CASES = {
    "linear": (lambda: Linear(3, 4, dtype=F64, seed=0), lambda r: (r.standard_normal((5, 3)),)),
    "rnn": (
        lambda: RNN(3, 4, dtype=F64, seed=0),
        lambda r: (r.standard_normal((5, 2, 3)), r.standard_normal((1, 2, 4))),
    ),
    "rnn unbatched": (lambda: RNN(3, 4, dtype=F64, seed=0), lambda r: (r.standard_normal((5, 3)),)),
    "rnn batch_first": (
        lambda: RNN(3, 4, batch_first=True, dtype=F64, seed=0),
        lambda r: (r.standard_normal((2, 5, 3)),),
    ),
    "gru 2 layers": (
        lambda: GRU(3, 4, num_layers=2, dtype=F64, seed=0),
        lambda r: (r.standard_normal((5, 2, 3)), r.standard_normal((2, 2, 4))),
    ),
    "gru bidirectional": (
        lambda: GRU(3, 4, bidirectional=True, dtype=F64, seed=0),
        lambda r: (r.standard_normal((5, 2, 3)),),
    ),
    "lstm": (
        lambda: LSTM(3, 4, dtype=F64, seed=0),
        lambda r: (
            r.standard_normal((5, 2, 3)),
            (r.standard_normal((1, 2, 4)), r.standard_normal((1, 2, 4))),
        ),
    ),
    "lstm proj": (
        lambda: LSTM(3, 4, proj_size=2, dtype=F64, seed=0),
        lambda r: (r.standard_normal((5, 2, 3)),),
    ),
    "rnncell": (
        lambda: RNNCell(3, 4, dtype=F64, seed=0),
        lambda r: (r.standard_normal((2, 3)), r.standard_normal((2, 4))),
    ),
    "grucell": (
        lambda: GRUCell(3, 4, dtype=F64, seed=0),
        lambda r: (r.standard_normal((2, 3)), r.standard_normal((2, 4))),
    ),
    "lstmcell": (
        lambda: LSTMCell(3, 4, dtype=F64, seed=0),
        lambda r: (
            r.standard_normal((2, 3)),
            (r.standard_normal((2, 4)), r.standard_normal((2, 4))),
        ),
    ),
    "lstmcell unbatched": (
        lambda: LSTMCell(3, 4, dtype=F64, seed=0),
        lambda r: (r.standard_normal(3),),
    ),
    "additive attention": (
        lambda: AdditiveAttention(3, 2, 4, dtype=F64, seed=0),
        lambda r: (
            r.standard_normal((2, 3)),
            r.standard_normal((2, 5, 2)),
            r.standard_normal((2, 5, 3)),
        ),
    ),
    "general attention": (
        lambda: GeneralAttention(3, 2, dtype=F64, seed=0),
        lambda r: (
            r.standard_normal((2, 4, 3)),
            r.standard_normal((2, 5, 2)),
            r.standard_normal((2, 5, 3)),
        ),
    ),
    "dot attention": (
        lambda: DotAttention(dtype=F64),
        lambda r: (
            r.standard_normal((2, 3)),
            r.standard_normal((2, 5, 3)),
            r.standard_normal((2, 5, 3)),
        ),
    ),
    "scaled dot attention": (
        lambda: ScaledDotProductAttention(dtype=F64),
        lambda r: (
            r.standard_normal((2, 4, 3)),
            r.standard_normal((2, 5, 3)),
            r.standard_normal((2, 5, 3)),
        ),
    ),
    "recurrent lstm_cell": (
        lambda: numrnn.Recurrent(lstm_cell, 3, 4, dtype=F64, seed=0),
        lambda r: (r.standard_normal((5, 2, 3)), (r.standard_normal((1, 2, 4)),) * 2),
    ),
}


def _upstream(kind, out, r):
    """An upstream gradient for every output, drawn from the shapes only."""
    if isinstance(out, np.ndarray):
        return (r.standard_normal(out.shape),)
    if kind.startswith("lstmcell"):
        return ((r.standard_normal(out[0].shape), r.standard_normal(out[1].shape)),)
    return tuple(
        tuple(r.standard_normal(s.shape) for s in o)
        if isinstance(o, tuple)
        else r.standard_normal(o.shape)
        for o in out
    )


def _run(kind, edit_outputs, edit_inputs):
    make, inputs = _EDIT_CASES[kind]
    m = make()
    r = np.random.default_rng(1)
    args = inputs(r)
    out = m(*args)
    g = _upstream(kind, out, r)
    if edit_outputs:
        for a in _arrays(out):
            a *= 0.5  # what user code often does: out *= mask, h *= 0.5, ...
    if edit_inputs:
        for a in _arrays(args):
            a[...] = 7.0
    dinputs = m.backward(*g)
    return [p.grad.copy() for p in m.parameters()], [a.copy() for a in _arrays(dinputs)]


@pytest.mark.parametrize("kind", sorted(_EDIT_CASES))
@pytest.mark.parametrize("edit", ["outputs", "inputs"])
def test_editing_arrays_in_place_after_the_forward_leaves_the_gradients_alone(kind, edit):
    grads, dinputs = _run(kind, False, False)
    grads2, dinputs2 = _run(kind, edit == "outputs", edit == "inputs")
    assert (grads and len(grads) == len(grads2)) or not grads
    for a, b in zip(grads + dinputs, grads2 + dinputs2):
        np.testing.assert_array_equal(a, b)  # the same arithmetic on the same numbers: exact


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_a_decoder_loop_may_rescale_its_state_in_place(cell):
    """Cells fed their own previous output: editing it between steps is safe."""

    def loop(edit):
        m = RNNCell(3, 4, dtype=F64, seed=0) if cell == "rnn" else LSTMCell(3, 4, dtype=F64, seed=0)
        r = np.random.default_rng(2)
        xs = r.standard_normal((4, 2, 3))
        h = prev = None
        for x in xs:
            h = m(x, h)
            if edit and prev is not None:
                for a in _arrays(prev):
                    a *= 0.9  # the state the step just read: its cache holds its own copy
            prev = h
        for _ in xs:
            m.backward(np.ones((2, 4)) if cell == "rnn" else (np.ones((2, 4)), None))
        return [p.grad.copy() for p in m.parameters()]

    for a, b in zip(loop(False), loop(True)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_model_s_logits_and_state_may_be_edited_in_place(cell):
    def run(edit):
        m = CharLM(7, 3, 4, cell=cell, dtype=F64, seed=0)
        idx = np.array([[1, 2], [3, 4], [5, 6]])
        logits, state = m(idx)
        if edit:
            for a in _arrays(logits) + _arrays(state):
                a *= 0.5
            idx[...] = 0
        m.backward(np.random.default_rng(4).standard_normal(logits.shape))
        return [p.grad.copy() for p in m.parameters()]

    for a, b in zip(run(False), run(True)):
        np.testing.assert_array_equal(a, b)


def test_copies_are_made_only_while_gradients_are_recorded():
    from numrnn.nn.validate import private

    m = Linear(3, 4, dtype=F64, seed=0)
    x = np.ones((2, 3))
    copy = private(m, x)
    assert copy is not x and not np.shares_memory(copy, x)
    with numrnn.no_grad():
        assert private(m, x) is x
        m(x)
    assert not m._caches


# -- shared (tied) Parameters --------------------------------------------------------------------


class _Tied(Module):
    """A language-model head tied to its embedding: ``out.weight is emb.weight``."""

    def __init__(self, dtype=F64):
        super().__init__()
        self.emb = Embedding(5, 3, dtype=dtype, seed=0)
        self.out = Linear(3, 5, dtype=dtype, seed=1)
        self.out.weight = self.emb.weight

    def forward(self, idx):
        return self.out(self.emb(idx))

    def backward(self, dy):
        self.emb.backward(self.out.backward(dy))


def _torch_tied(m):
    torch = pytest.importorskip("torch")

    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(5, 3, dtype=torch.float64)
            self.out = torch.nn.Linear(3, 5, dtype=torch.float64)
            self.out.weight = self.emb.weight

    ref = Tied()
    ref.load_state_dict({k: torch.tensor(v) for k, v in m.state_dict().items()})
    return torch, ref


def _tied_with_grads(scale=1.0):
    m = _Tied()
    idx = np.array([[0, 1, 2], [3, 4, 1]])
    dy = np.random.default_rng(3).standard_normal((2, 3, 5)) * scale
    m(idx)
    m.backward(dy)
    return m, idx, dy


def test_tied_parameters_are_listed_once_and_named_as_torch_names_them():
    m = _Tied()
    torch, ref = _torch_tied(m)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert len(m.parameters()) == len(list(ref.parameters())) == 2
    full = [n for n, _ in m.named_parameters(remove_duplicate=False)]
    assert full == [n for n, _ in ref.named_parameters(remove_duplicate=False)]
    assert list(m.state_dict()) == list(ref.state_dict())  # both names, torch's order
    m.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    with pytest.raises(ValueError, match="out.weight"):
        m.load_state_dict({k: v for k, v in m.state_dict().items() if k != "out.weight"})


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clip_grad_norm_counts_a_tied_parameter_once_like_torch(norm_type):
    m, idx, dy = _tied_with_grads()
    torch, ref = _torch_tied(m)
    (ref.out(ref.emb(torch.tensor(idx))) * torch.tensor(dy)).sum().backward()
    want = float(torch.nn.utils.clip_grad_norm_(ref.parameters(), 0.5, norm_type=norm_type))
    got = clip_grad_norm_(m.parameters(), 0.5, norm_type=norm_type)
    # float64 sums of ~30 terms in another order: a few ulps
    assert got == pytest.approx(want, rel=1e-12)
    for (name, p), (_, q) in zip(m.named_parameters(), ref.named_parameters()):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-12, err_msg=name)
    # the same Parameter listed twice by hand still counts once, and is scaled once
    m2, _, _ = _tied_with_grads()
    listed = [m2.emb.weight, m2.out.weight, m2.out.bias]
    assert clip_grad_norm_(listed, 0.5, norm_type=norm_type) == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(m2.emb.weight.grad, ref.emb.weight.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_and_optimisers_accept_tied_parameters():
    m, _, _ = _tied_with_grads()
    g = m.emb.weight.grad.copy()
    clip_grad_value_([m.emb.weight, m.out.weight], 0.1)
    np.testing.assert_array_equal(m.emb.weight.grad, np.clip(g, -0.1, 0.1))
    for cls in (SGD, Adam, AdamW, Adagrad, RMSprop):
        opt = cls([m.emb.weight, m.out.weight, m.out.bias], lr=0.1)
        assert opt.param_groups[0]["params"] == [m.emb.weight, m.out.bias]
        cls(m.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        SGD([{"params": [m.emb.weight]}, {"params": [m.out.weight]}], lr=0.1)


def test_a_tied_parameter_takes_one_optimiser_step_like_torch():
    m, idx, dy = _tied_with_grads()
    torch, ref = _torch_tied(m)
    (ref.out(ref.emb(torch.tensor(idx))) * torch.tensor(dy)).sum().backward()
    Adam([m.emb.weight, m.out.weight, m.out.bias], lr=0.1).step()
    torch.optim.Adam(ref.parameters(), lr=0.1).step()
    np.testing.assert_allclose(m.emb.weight.data, ref.emb.weight.detach().numpy(), rtol=1e-12)


def test_gradcheck_and_checkpoints_handle_tied_parameters(tmp_path):
    m = _Tied()
    report = numrnn.gradcheck(m, (np.array([[0, 1, 2], [3, 4, 1]]),))
    assert report.passed, report
    names = [row.name for row in report.rows]
    assert "emb.weight" in names and "out.weight" not in names
    m.emb.weight.data += 1.0
    numrnn.save(tmp_path / "tied.npz", m)
    fresh = _Tied()
    numrnn.load(tmp_path / "tied.npz", fresh)
    np.testing.assert_array_equal(fresh.emb.weight.data, m.emb.weight.data)
    assert fresh.out.weight is fresh.emb.weight


# -- clipping is all or nothing ----------------------------------------------------------------


def _grads(n=3, bad=None):
    ps = [numrnn.Parameter(np.zeros(4)) for _ in range(n)]
    for i, p in enumerate(ps):
        p.grad[:] = np.arange(4) + i
    if bad is not None:
        ps[-1].grad[1] = bad
    return ps


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda ps: clip_grad_norm_(ps, 1.0), FloatingPointError, "invalid"),
        (lambda ps: clip_grad_norm_(ps, 1.0, error_if_nonfinite=True), RuntimeError, "non-finite"),
        (lambda ps: clip_grad_norm_(ps, -1.0), ValueError, "max_norm"),
        (lambda ps: clip_grad_norm_(ps, "1"), ValueError, "max_norm"),
        (lambda ps: clip_grad_norm_(ps, 1.0, norm_type=0), ValueError, "norm_type"),
        (lambda ps: clip_grad_norm_(ps, 1.0, norm_type=True), ValueError, "norm_type"),
        (lambda ps: clip_grad_norm_(ps + [np.zeros(4)], 1.0), TypeError, "item 3 is a ndarray"),
        (lambda ps: clip_grad_value_(ps, -1.0), ValueError, "clip_value"),
        (lambda ps: clip_grad_value_(ps, None), ValueError, "clip_value"),
    ],
)
def test_clipping_refuses_without_touching_a_gradient(call, exc, match):
    ps = _grads(bad=np.inf)
    before = [p.grad.copy() for p in ps]
    with np.errstate(all="raise"), pytest.raises(exc, match=match):
        call(ps)
    for p, g in zip(ps, before):
        np.testing.assert_array_equal(p.grad, g)


def test_clip_grad_norm_without_errstate_scales_an_inf_gradient_as_torch_does():
    torch = pytest.importorskip("torch")
    ps = _grads(bad=np.inf)
    ts = [torch.tensor(p.data, requires_grad=True) for p in ps]
    for t, p in zip(ts, ps):
        t.grad = torch.tensor(p.grad)
    want = float(torch.nn.utils.clip_grad_norm_(ts, 1.0))
    with np.errstate(invalid="ignore"):
        assert clip_grad_norm_(ps, 1.0) == want == math.inf
    for p, t in zip(ps, ts):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())  # zeros, and nan where inf was


# -- losses: hostile inputs, and logits at the edge of float32 ----------------------------------

_L = np.zeros((3, 4))
_T = np.array([0, 1, 2])


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: F.cross_entropy(_L.astype(int), _T), TypeError, "logits must be a floating-point"),
        (lambda: F.cross_entropy(_L, _T.astype(np.float64)), ValueError, "class probabilities"),
        (lambda: F.cross_entropy(_L, np.array([0, 1, 4])), ValueError, "4"),
        (lambda: F.cross_entropy(_L, _T, reduction="avg"), ValueError, "reduction"),
        (lambda: F.cross_entropy(_L, _T, label_smoothing=1.5), ValueError, "label_smoothing"),
        (lambda: F.cross_entropy(_L, _T, weight=np.ones(3)), ValueError, "weight"),
        (lambda: F.cross_entropy(_L, _T, weight=["a"] * 4), TypeError, "weight"),
        (lambda: F.cross_entropy(_L, _T, ignore_index=1.5), TypeError, "ignore_index"),
        (lambda: F.cross_entropy(_L, _T, ignore_index="a"), TypeError, "ignore_index"),
        (lambda: F.nll_loss(_L, _T, ignore_index=None), TypeError, "ignore_index"),
        (lambda: F.cross_entropy(_L, _T, label_smoothing=True), ValueError, "label_smoothing"),
        (lambda: F.nll_loss(_L, _T.astype(float)), TypeError, "target"),
        (lambda: F.mse_loss(_L, np.zeros((3, 5))), ValueError, "target"),
        (
            lambda: F.binary_cross_entropy_with_logits(_L, np.zeros(4), weight=np.ones(5)),
            ValueError,
            "target",
        ),
        (
            lambda: F.binary_cross_entropy_with_logits(_L, _L, pos_weight=np.ones(5)),
            ValueError,
            "pos_weight",
        ),
    ],
)
def test_losses_refuse_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


_HUGE = np.array([[3e38, -3e38, 0.0, 1.0], [-3e38, 3e38, 1.0, -2.0], [1.0, 2.0, -3e38, 3e38]])


def _torch64(fn, *args, **kw):
    """torch's float64 result and gradient, rounded to float32: the reference for a float32 call."""
    torch = pytest.importorskip("torch")
    x = torch.tensor(args[0], dtype=torch.float64, requires_grad=True)
    rest = [torch.tensor(a) for a in args[1:]]
    loss = fn(torch, x, *rest, **kw)
    loss.sum().backward()
    with np.errstate(over="ignore"):  # a loss beyond float32 rounds to inf, as it should
        return loss.detach().numpy().astype(np.float32), x.grad.numpy().astype(np.float32)


@pytest.mark.parametrize(
    "ours,theirs",
    [
        (lambda x: F.cross_entropy(x, _T), lambda t, x, y: t.nn.functional.cross_entropy(x, y)),
        (
            lambda x: F.cross_entropy(x, _T, label_smoothing=0.2),
            lambda t, x, y: t.nn.functional.cross_entropy(x, y, label_smoothing=0.2),
        ),
        (
            lambda x: F.cross_entropy(x, _T, reduction="sum"),
            lambda t, x, y: t.nn.functional.cross_entropy(x, y, reduction="sum"),
        ),
        (
            lambda x: F.cross_entropy(x, _T, reduction="none"),
            lambda t, x, y: t.nn.functional.cross_entropy(x, y, reduction="none"),
        ),
        (lambda x: F.nll_loss(x, _T), lambda t, x, y: t.nn.functional.nll_loss(x, y)),
        (
            lambda x: F.binary_cross_entropy_with_logits(x, (_T[:, None] > 0) * np.ones((3, 4))),
            lambda t, x, y: t.nn.functional.binary_cross_entropy_with_logits(
                x, (y[:, None] > 0) * t.ones(3, 4, dtype=t.float64)
            ),
        ),
    ],
)
def test_losses_at_the_edge_of_float32_signal_nothing_and_equal_torch_in_float64(ours, theirs):
    x = _HUGE.astype(np.float32)
    with np.errstate(all="raise"):
        loss, grad = ours(x)
    want_loss, want_grad = _torch64(theirs, _HUGE, _T)
    assert loss.dtype == grad.dtype == np.float32
    # float64 arithmetic rounded once to float32: within one float32 rounding (6e-8 relative)
    np.testing.assert_allclose(loss, want_loss, rtol=1.2e-7)
    np.testing.assert_allclose(grad, want_grad, rtol=1.2e-7, atol=1e-30)


def test_a_loss_beyond_float32_is_inf_without_a_signal():
    x = np.array([[3e38, -3e38]], dtype=np.float32)  # the target's log-probability is -6e38
    with np.errstate(all="raise"):
        loss, grad = F.cross_entropy(x, np.array([1]))
    assert loss == np.inf  # 6e38 rounded to float32
    np.testing.assert_array_equal(grad, np.array([[1.0, -1.0]], dtype=np.float32))


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_softmax_at_the_edge_of_float32_signals_nothing(fn):
    x = _HUGE.astype(np.float32)
    with np.errstate(all="raise"):
        y = fn(x, axis=-1)
    torch = pytest.importorskip("torch")
    with np.errstate(over="ignore"):  # -6e38 rounds to -inf in float32
        want = getattr(torch, fn.__name__)(torch.tensor(_HUGE), dim=-1).numpy().astype(np.float32)
    np.testing.assert_array_equal(y, want)  # -inf, 0 and 1 exactly; -3e38 rounds the same


# -- optimisers: hostile hyperparameters and gradients change nothing ----------------------------


@pytest.mark.parametrize(
    "make,exc,match",
    [
        (lambda p: SGD(p, lr=-0.1), ValueError, "lr"),
        (lambda p: SGD(p, lr="0.1"), ValueError, "lr"),
        (lambda p: SGD(p, lr=0.1, momentum=math.nan), ValueError, "momentum"),
        (lambda p: Adam(p, lr=0.1, betas=(0.9, 1.0)), ValueError, "beta"),
        (lambda p: Adam(p, lr=0.1, eps=-1), ValueError, "eps"),
        (lambda p: AdamW(p, lr=0.1, weight_decay=math.inf), ValueError, "weight_decay"),
        (lambda p: RMSprop(p, lr=0.1, alpha=-0.5), ValueError, "alpha"),
        (lambda p: Adagrad(p, lr=0.1, lr_decay=-1), ValueError, "lr_decay"),
        (lambda p: Adam(p[0], lr=0.1), TypeError, "iterable"),
        (lambda p: Adam([], lr=0.1), ValueError, "empty"),
        (lambda p: Adam([p[0].data], lr=0.1), TypeError, "Parameter"),
    ],
)
def test_optimiser_constructors_refuse(make, exc, match):
    m = Linear(3, 4, dtype=F64, seed=0)
    with pytest.raises(exc, match=match):
        make(m.parameters())


@pytest.mark.parametrize("cls", [SGD, Adam, AdamW, Adagrad, RMSprop])
def test_a_step_with_a_misshapen_gradient_changes_nothing(cls):
    m = Linear(3, 4, dtype=F64, seed=0)
    m(np.ones((2, 3)))
    m.backward(np.ones((2, 4)))
    opt = cls(m.parameters(), lr=0.1)
    m.bias.grad = np.zeros(5)
    before = _state(m)
    state = {id(p): {k: np.copy(v) for k, v in st.items()} for p, st in opt.state.items()}
    with pytest.raises(ValueError, match=r"parameter 1 of group 0 has shape \(4,\)"):
        opt.step()
    _assert_same(m, before)
    after = {id(p): {k: np.copy(v) for k, v in st.items()} for p, st in opt.state.items()}
    assert after.keys() == state.keys()
    for key, st in after.items():
        for k, v in st.items():
            np.testing.assert_array_equal(v, state[key][k])
