"""Variational (time-locked) dropout: one mask per sequence, its backward, train vs eval."""

import numpy as np
import pytest

import numrnn
from numrnn.nn import Recurrent, VariationalRecurrent
from numrnn.reference import gru_cell, lstm_cell, rnn_cell

CELLS = {"rnn": rnn_cell, "lstm": lstm_cell, "gru": gru_cell}


def _flat(state):
    return list(state) if isinstance(state, tuple) else [state]


def test_the_input_mask_is_the_same_at_every_step():
    # W_hh = 0 and the same x_t at every step: h_t = tanh(W_ih (m_x * x) + b) is the same
    # for every t exactly when the mask is; a fresh mask per step would change it
    m = VariationalRecurrent(rnn_cell, 50, 8, input_dropout=0.5, dtype=np.float64, seed=0)
    m.weight_hh_l0.data[...] = 0.0
    x = np.ones((6, 4, 50))
    out, _ = m(x)
    for t in range(1, 6):
        np.testing.assert_array_equal(out[t], out[0])
    # ... and differs between rows (one mask per sequence) and between calls
    assert np.abs(out[0, 0] - out[0, 1]).max() > 1e-3
    out2, _ = m(x)
    assert np.abs(out2[0] - out[0]).max() > 1e-3


def test_the_state_mask_is_the_same_at_every_step():
    # W_ih = 0, b = 0, W_hh = I: h_t = tanh(m_h * h_{t-1}); a unit dropped once stays zero
    # and a kept unit never becomes zero, so the zero pattern of every h_t is the mask's
    H = 40
    m = VariationalRecurrent(rnn_cell, 2, H, hidden_dropout=0.5, dtype=np.float64, seed=1)
    m.weight_ih_l0.data[...] = 0.0
    m.weight_hh_l0.data[...] = np.eye(H)
    m.bias_ih_l0.data[...] = m.bias_hh_l0.data[...] = 0.0
    out, _ = m(np.zeros((7, 3, 2)), np.ones((1, 3, H)))
    zero = out[0] == 0
    assert 0.2 < zero.mean() < 0.8  # about half of the units dropped
    for t in range(7):
        np.testing.assert_array_equal(out[t] == 0, zero)


def test_lstm_cell_state_is_not_masked():
    # with W_hh = 0 the state mask has nothing to act on: c and h are those of eval mode
    m = VariationalRecurrent(lstm_cell, 3, 5, hidden_dropout=0.7, dtype=np.float64, seed=2)
    m.weight_hh_l0.data[...] = 0.0
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    h0 = np.random.default_rng(1).standard_normal((1, 2, 5))
    train = m(x, (h0, h0))
    m.eval()
    evaluated = m(x, (h0, h0))
    for a, b in zip([train[0], *train[1]], [evaluated[0], *evaluated[1]]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_eval_mode_and_zero_rates_are_the_plain_recurrent(kind):
    x = np.random.default_rng(0).standard_normal((5, 3, 4))
    plain = Recurrent(CELLS[kind], 4, 6, num_layers=2, dtype=np.float64, seed=3)
    ref = _flat(plain(x)[1])
    for p, mode in ((0.5, "eval"), (0.0, "train")):
        m = VariationalRecurrent(
            CELLS[kind],
            4,
            6,
            num_layers=2,
            input_dropout=p,
            hidden_dropout=p,
            dtype=np.float64,
            seed=3,
        )
        if mode == "eval":
            m.eval()
        for a, b in zip(_flat(m(x)[1]), ref):
            np.testing.assert_array_equal(a, b)  # the same computation, bit for bit
    m.train()
    assert np.abs(_flat(m(x)[1])[0] - ref[0]).max() == 0.0  # p = 0: no mask drawn
    m = VariationalRecurrent(
        CELLS[kind], 4, 6, num_layers=2, input_dropout=0.5, dtype=np.float64, seed=3
    )
    assert np.abs(_flat(m(x)[1])[0] - ref[0]).max() > 1e-3  # training mode masks


def _loss_and_grads(m, x, lengths, hx, w_out, w_states, seed=7):
    """L = sum(out * w_out) + sum_k sum(hn_k * w_k) with the masks drawn from a fixed seed."""
    m._dropout_rng = np.random.default_rng(seed)  # the same masks at every evaluation
    out, hn = m(x, hx, lengths=lengths)
    loss = float(np.sum(out * w_out) + sum(np.sum(a * w) for a, w in zip(_flat(hn), w_states)))
    return loss, out, hn


# a covering subset of cell x layers x bidirectional x batch_first x lengths (each value of
# each option appears with each cell; the full product costs 4x the time for no new path)
GRID = [
    ("lstm", 2, True, True, True),
    ("gru", 2, True, False, True),
    ("lstm", 1, False, False, False),
    ("gru", 1, False, True, False),
    ("lstm", 2, False, False, True),
    ("gru", 1, True, True, False),
]


@pytest.mark.parametrize("kind,num_layers,bidirectional,batch_first,lengths", GRID)
def test_finite_differences_with_a_fixed_mask(
    kind, num_layers, bidirectional, batch_first, lengths
):
    T, B, D, H = 4, 3, 3, 3
    m = VariationalRecurrent(
        CELLS[kind],
        D,
        H,
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=batch_first,
        input_dropout=0.4,
        hidden_dropout=0.4,
        dtype=np.float64,
        seed=4,
    )
    rng = np.random.default_rng(5)
    n = num_layers * (2 if bidirectional else 1)
    x = rng.standard_normal((B, T, D) if batch_first else (T, B, D))
    hx = [rng.standard_normal((n, B, H)) for _ in CELLS[kind].states]
    hx = tuple(hx) if len(hx) > 1 else hx[0]
    lens = [4, 2, 3] if lengths else None
    _, out, hn = _loss_and_grads(m, x, lens, hx, 0, [0] * len(_flat(hx)))
    w_out = rng.standard_normal(out.shape)
    w_states = [rng.standard_normal(a.shape) for a in _flat(hn)]
    m.zero_grad()
    _loss_and_grads(m, x, lens, hx, w_out, w_states)
    dhn = tuple(w_states) if len(w_states) > 1 else w_states[0]
    dx, dh0 = m.backward(w_out, dhn)
    eps = 1e-6

    def numeric(arr, idx):
        old = arr[idx]
        arr[idx] = old + eps
        up = _loss_and_grads(m, x, lens, hx, w_out, w_states)[0]
        arr[idx] = old - eps
        down = _loss_and_grads(m, x, lens, hx, w_out, w_states)[0]
        arr[idx] = old
        return (up - down) / (2 * eps)

    pairs = [(p.data, p.grad) for _, p in m.named_parameters()]
    pairs += [(x, dx)] + list(zip(_flat(hx), _flat(dh0)))
    worst = 0.0
    for data, grad in pairs:
        num = np.array([numeric(data, i) for i in np.ndindex(data.shape)]).reshape(data.shape)
        worst = max(worst, np.max(np.abs(num - grad)) / max(np.max(np.abs(grad)), 1e-300))
    # float64 central differences, eps = 1e-6: truncation ~1e-12, rounding ~1e-10 of an
    # O(1) loss; normwise relative to the largest gradient entry, so 1e-7 leaves room,
    # while a mask missing from one path of the backward is an O(1) error
    assert worst < 1e-7


def test_masks_drop_at_the_requested_rate_and_scale():
    m = VariationalRecurrent(rnn_cell, 200, 4, input_dropout=0.3, dtype=np.float64, seed=6)
    m.weight_hh_l0.data[...] = 0.0
    mask = m._mask((500, 200), 0.3)
    assert abs((mask == 0).mean() - 0.3) < 0.01  # 1e5 draws: standard error 1.4e-3
    np.testing.assert_array_equal(np.unique(mask), [0.0, 1 / 0.7])


def test_errors():
    with pytest.raises(ValueError, match=r"hidden_dropout must be a number in \[0, 1\); got 1"):
        VariationalRecurrent(lstm_cell, 3, 4, hidden_dropout=1)
    with pytest.raises(ValueError, match="input_dropout must be a number"):
        VariationalRecurrent(lstm_cell, 3, 4, input_dropout=-0.1)
    with pytest.raises(TypeError, match="cell must be a numrnn.reference.Cell"):
        VariationalRecurrent(numrnn.LSTM, 3, 4)
