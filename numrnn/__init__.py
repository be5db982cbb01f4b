"""numrnn: recurrent networks with hand-written backpropagation through time, in NumPy.

``import numrnn`` imports every part of the package and needs NumPy only: torch
(the parity tests, :mod:`numrnn.interop`, :mod:`numrnn.distributed` and the
optional torch backend),
matplotlib and tqdm (the examples) are imported inside the functions that use them.
"""

from . import (
    cli,
    data,
    diagnosis,
    distributed,
    functional,
    interop,
    io,
    metrics,
    models,
    nn,
    optim,
    reference,
    rng,
    study,
    trace,
    train,
)
from .diagnosis import check_bptt
from .gradcheck import gradcheck  # the function; its files are numrnn/gradcheck/*.py
from .io import load, save
from .nn import (
    GRU,
    LSTM,
    RNN,
    Embedding,
    GRUCell,
    Linear,
    LSTMCell,
    Module,
    Parameter,
    Recurrent,
    RNNCell,
    eval_mode,
    no_grad,
)
from .optim import clip_grad_norm_, clip_grad_value_

__version__ = "0.1.0"

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Embedding",
    "GRUCell",
    "LSTMCell",
    "Linear",
    "Module",
    "Parameter",
    "RNNCell",
    "Recurrent",
    "check_bptt",
    "cli",
    "clip_grad_norm_",
    "clip_grad_value_",
    "data",
    "diagnosis",
    "distributed",
    "eval_mode",
    "functional",
    "gradcheck",
    "interop",
    "io",
    "load",
    "metrics",
    "models",
    "nn",
    "no_grad",
    "optim",
    "reference",
    "rng",
    "save",
    "study",
    "trace",
    "train",
]
