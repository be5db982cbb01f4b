"""The keyword options every constructor takes (``**options``, :class:`numrnn.nn.ModuleOptions`).

Each module and model checks them with ``module_options`` before it draws a random
number: an unknown keyword is refused as Python refuses one (naming the class and the
keyword) and lists the accepted ones; a refused option leaves a shared ``rng`` as it was.
"""

import numpy as np
import pytest

import numrnn
from numrnn.models import CharLM, Seq2Seq, SequenceClassifier
from numrnn.nn import ModuleOptions
from numrnn.nn.options import module_options
from numrnn.nn.recurrent_base import RecurrentOptions
from numrnn.reference import gru_cell, lstm_cell

OPTIONS = "dtype, seed, rng, backend, device"

# name -> a constructor call that passes its own arguments and then **kw
MAKERS = {
    "Linear": lambda **kw: numrnn.Linear(3, 4, **kw),
    "Embedding": lambda **kw: numrnn.Embedding(5, 3, **kw),
    "RNNCell": lambda **kw: numrnn.RNNCell(3, 4, **kw),
    "LSTMCell": lambda **kw: numrnn.LSTMCell(3, 4, **kw),
    "GRUCell": lambda **kw: numrnn.GRUCell(3, 4, **kw),
    "RNN": lambda **kw: numrnn.RNN(3, 4, **kw),
    "LSTM": lambda **kw: numrnn.LSTM(3, 4, **kw),
    "GRU": lambda **kw: numrnn.GRU(3, 4, **kw),
    "Recurrent": lambda **kw: numrnn.Recurrent(lstm_cell, 3, 4, **kw),
    "VariationalRecurrent": lambda **kw: numrnn.nn.VariationalRecurrent(gru_cell, 3, 4, **kw),
    "AdditiveAttention": lambda **kw: numrnn.nn.AdditiveAttention(3, 5, 4, **kw),
    "GeneralAttention": lambda **kw: numrnn.nn.GeneralAttention(3, 5, **kw),
    "DotAttention": lambda **kw: numrnn.nn.DotAttention(**kw),
    "ScaledDotProductAttention": lambda **kw: numrnn.nn.ScaledDotProductAttention(**kw),
    "CharLM": lambda **kw: CharLM(7, 3, 4, **kw),
    "SequenceClassifier": lambda **kw: SequenceClassifier(7, 2, 3, 4, **kw),
    "Seq2Seq": lambda **kw: Seq2Seq(7, 8, 3, 4, attention="additive", **kw),
}
WITH_FUSED = {"RNN", "LSTM", "GRU"}


def test_module_options_lists_the_five_keywords_and_the_recurrent_layers_add_fused():
    assert ", ".join(ModuleOptions.__annotations__) == OPTIONS
    assert list(RecurrentOptions.__annotations__) == [*ModuleOptions.__annotations__, "fused"]


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_an_unknown_keyword_is_refused_with_the_accepted_ones(name):
    accepted = OPTIONS + (", fused" if name in WITH_FUSED else "")
    message = (
        rf"^{name}\(\) got an unexpected keyword argument 'sed'; "
        rf"besides its own arguments it takes {accepted}$"
    )
    with pytest.raises(TypeError, match=message):
        MAKERS[name](sed=0)


@pytest.mark.parametrize("name", sorted(MAKERS))
@pytest.mark.parametrize(
    "bad,exc",
    [
        ({"sed": 0}, TypeError),
        ({"dtype": np.int32}, TypeError),
        ({"seed": 1}, ValueError),  # seed= and rng= together
        ({"backend": "jax"}, ValueError),
        ({"device": "cuda"}, ValueError),  # the NumPy backend runs on the CPU only
    ],
    ids=lambda v: repr(v),
)
def test_a_refused_option_leaves_a_shared_generator_untouched(name, bad, exc):
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    with pytest.raises(exc):
        MAKERS[name](rng=rng, **bad)
    assert rng.bit_generator.state == before


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_the_defaults_are_float32_on_numpy_and_a_seed_fixes_the_weights(name):
    a, b = MAKERS[name](seed=3), MAKERS[name](seed=3)
    assert a.backend == "numpy" and a.device == "cpu"
    assert a.param_dtype == np.float32
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=n)
    assert MAKERS[name](dtype=np.float64).param_dtype == np.float64


@pytest.mark.parametrize("cls", [numrnn.LSTM, numrnn.GRU])
def test_lstm_and_gru_refuse_nonlinearity_which_only_rnn_has(cls):
    with pytest.raises(ValueError, match=f"{cls.__name__}: nonlinearity is supported by RNN only"):
        cls(3, 4, nonlinearity="relu")  # it used to be accepted and ignored
    with pytest.raises(ValueError, match=f"{cls.__name__}: nonlinearity is supported by RNN only"):
        cls(3, 4, nonlinearity="tanh")  # torch's LSTM and GRU refuse the keyword whatever its value


def test_the_options_are_keywords_only():
    with pytest.raises(TypeError):
        numrnn.Linear(3, 4, True, np.float64)


@pytest.mark.parametrize("name", ["Recurrent", "VariationalRecurrent"])
def test_the_reference_loop_refuses_the_torch_backend(name):
    pytest.importorskip("torch")
    with pytest.raises(
        ValueError, match=rf"^{name}: .* needs backend='numpy'; got backend='torch'"
    ):
        MAKERS[name](backend="torch")


def test_module_options_fills_in_the_defaults():
    opts = module_options("Test", {})
    assert (opts.dtype, opts.backend, opts.device) == (np.dtype(np.float32), "numpy", None)
    assert isinstance(opts.rng, np.random.Generator)
    rng = np.random.default_rng(1)
    assert module_options("Test", {"rng": rng}).rng is rng  # the caller's stream, shared
