"""Choosing a recurrent layer by name, shared by the models."""

from ..nn import GRU, LSTM, RNN

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def make_recurrent(cell, *args, **kwargs):
    """``RNN``/``LSTM``/``GRU`` by name ("rnn", "lstm", "gru"); "rnn-relu" gives a ReLU RNN."""
    name = str(cell).lower()
    if name == "rnn-relu":
        return RNN(*args, nonlinearity="relu", **kwargs)
    if name not in CELLS:
        raise ValueError(f"cell must be one of 'rnn', 'rnn-relu', 'lstm', 'gru'; got {cell!r}")
    return CELLS[name](*args, **kwargs)
