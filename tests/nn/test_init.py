"""Gate initialisation: forget_bias= and chrono_init change exactly the intended bias slices."""

import numpy as np
import pytest

import numrnn
from numrnn.nn.init import chrono_init, set_forget_bias


def _snapshot(module):
    return {k: np.array(v, copy=True) for k, v in module.state_dict().items()}


def _changed(before, after):
    """The (name, index) pairs whose value changed, as a set."""
    out = set()
    for name in before:
        for idx in np.argwhere(before[name] != after[name]):
            out.add((name, int(idx[0])) if before[name].ndim == 1 else (name, tuple(idx)))
    return out


def _expected(names, blocks):
    return {(n, i) for n in names for b in blocks for i in range(b.start, b.stop)}


H = 5


@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True)])
def test_forget_bias_sets_only_the_forget_slices(num_layers, bidirectional):
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, dtype=np.float64, seed=3)
    plain = numrnn.LSTM(4, H, **kw)
    fb = numrnn.LSTM(4, H, forget_bias=1.0, **kw)
    before, after = _snapshot(plain), _snapshot(fb)
    ih = [n for n in before if n.startswith("bias_ih")]
    hh = [n.replace("bias_ih", "bias_hh") for n in ih]
    assert len(ih) == num_layers * (2 if bidirectional else 1)
    # the same random stream: every other entry is identical to the plain LSTM's
    assert _changed(before, after) == _expected(ih + hh, [slice(H, 2 * H)])
    for n in ih:
        np.testing.assert_array_equal(after[n][H : 2 * H], 1.0)
        np.testing.assert_array_equal(after[n.replace("ih", "hh")][H : 2 * H], 0.0)


def test_forget_bias_cell_and_gate_value():
    cell = numrnn.LSTMCell(3, H, forget_bias=2.5, dtype=np.float64, seed=0)
    plain = numrnn.LSTMCell(3, H, dtype=np.float64, seed=0)
    assert _changed(_snapshot(plain), _snapshot(cell)) == _expected(
        ["bias_ih", "bias_hh"], [slice(H, 2 * H)]
    )
    # with zero input and state the forget gate is exactly sigmoid(2.5)
    h, c = cell(np.zeros((1, 3)), (np.zeros((1, H)), np.ones((1, H))))
    g = plain.bias_ih.data[2 * H : 3 * H] + plain.bias_hh.data[2 * H : 3 * H]
    i = 1 / (1 + np.exp(-(plain.bias_ih.data[:H] + plain.bias_hh.data[:H])))
    f = 1 / (1 + np.exp(-2.5))
    np.testing.assert_allclose(c[0], f * 1.0 + i * np.tanh(g), rtol=1e-14)


@pytest.mark.parametrize("ctor", [numrnn.LSTM, numrnn.LSTMCell])
def test_forget_bias_refused_without_bias_or_bad_value(ctor):
    with pytest.raises(ValueError, match="forget_bias=1.0 needs bias=True"):
        ctor(3, 4, bias=False, forget_bias=1.0)
    with pytest.raises(TypeError, match="forget_bias must be a real number"):
        ctor(3, 4, forget_bias="1")
    with pytest.raises(ValueError, match="forget_bias must be finite"):
        ctor(3, 4, forget_bias=float("nan"))


def test_set_forget_bias_refuses_a_gru():
    with pytest.raises(TypeError, match="LSTM or LSTMCell; got GRU"):
        set_forget_bias(numrnn.GRU(3, 4), 1.0)


@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True)])
def test_chrono_lstm_slices_and_values(num_layers, bidirectional):
    T_max = 40
    lstm = numrnn.LSTM(3, H, num_layers, bidirectional=bidirectional, dtype=np.float64, seed=1)
    before = _snapshot(lstm)
    chrono_init(lstm, T_max, rng=np.random.default_rng(7))
    after = _snapshot(lstm)
    ih = [n for n in before if n.startswith("bias_ih")]
    hh = [n.replace("bias_ih", "bias_hh") for n in ih]
    changed = _changed(before, after)
    # input and forget blocks of both bias vectors, nothing else (g, o blocks, weights untouched)
    assert changed <= _expected(ih + hh, [slice(0, H), slice(H, 2 * H)])
    assert {n for n, _ in changed} == set(ih + hh)
    # the values: u drawn per layer-direction in named_parameters order, b_f = log u, b_i = -b_f
    rng = np.random.default_rng(7)
    for n in ih:
        log_u = np.log(rng.uniform(1.0, T_max - 1.0, H))
        np.testing.assert_array_equal(after[n][H : 2 * H], log_u)
        np.testing.assert_array_equal(after[n][:H], -log_u)
        np.testing.assert_array_equal(after[n.replace("ih", "hh")][: 2 * H], 0.0)
    # the forget gate's characteristic time 1 / (1 - f) = 1 + u lies in [2, T_max]
    f = 1 / (1 + np.exp(-after[ih[0]][H : 2 * H]))
    assert np.all(1 / (1 - f) >= 2 - 1e-12) and np.all(1 / (1 - f) <= T_max + 1e-9)


@pytest.mark.parametrize("ctor", [numrnn.GRU, numrnn.GRUCell])
def test_chrono_gru_sets_only_the_update_gate(ctor):
    gru = ctor(3, H, dtype=np.float64, seed=2)
    before = _snapshot(gru)
    chrono_init(gru, 30, rng=5)
    after = _snapshot(gru)
    ih = [n for n in before if n.startswith("bias_ih")]
    hh = [n.replace("bias_ih", "bias_hh") for n in ih]
    assert _changed(before, after) == _expected(ih + hh, [slice(H, 2 * H)])
    log_u = np.log(np.random.default_rng(5).uniform(1.0, 29.0, H))
    np.testing.assert_array_equal(after[ih[0]][H : 2 * H], log_u)
    # zero input and state: h' = (1 - z) n + z h keeps the fraction z = u / (1 + u) of h
    if ctor is numrnn.GRUCell:
        h0 = np.ones((1, H))
        gru.weight_hh.data[...] = 0.0  # so that only the biases reach the gates
        h1 = gru(np.zeros((1, 3)), h0)
        z = np.exp(log_u) / (1 + np.exp(log_u))
        r = 1 / (1 + np.exp(-(after["bias_ih"][:H] + after["bias_hh"][:H])))
        n = np.tanh(after["bias_ih"][2 * H :] + r * after["bias_hh"][2 * H :])
        np.testing.assert_allclose(h1[0], (1 - z) * n + z, rtol=1e-13)


def test_chrono_on_the_torch_backend_matches_numpy():
    pytest.importorskip("torch")
    a = numrnn.LSTM(3, H, dtype=np.float64, seed=0)
    b = numrnn.LSTM(3, H, dtype=np.float64, seed=0, backend="torch")
    chrono_init(a, 20, rng=1)
    chrono_init(b, 20, rng=1)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(numrnn.backend.to_numpy(b.state_dict()[k]), v)


def test_chrono_errors():
    with pytest.raises(TypeError, match="LSTM, LSTMCell, GRU or GRUCell; got RNN"):
        chrono_init(numrnn.RNN(3, 4), 10)
    with pytest.raises(ValueError, match="bias=False"):
        chrono_init(numrnn.GRU(3, 4, bias=False), 10)
    with pytest.raises(ValueError, match="T_max must be a finite number >= 2; got 1.5"):
        chrono_init(numrnn.LSTM(3, 4), 1.5)
    with pytest.raises(TypeError, match="T_max must be a real number"):
        chrono_init(numrnn.LSTM(3, 4), "10")
