"""numrnn: recurrent networks with hand-written backpropagation through time, in NumPy.

``import numrnn`` needs NumPy only.  torch (the parity tests and the optional
torch backend), matplotlib and tqdm (the examples) are imported where used.
"""

from . import diagnosis, functional, io, metrics, models, nn, optim, reference
from .diagnosis import check_bptt
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
    "clip_grad_norm_",
    "clip_grad_value_",
    "diagnosis",
    "functional",
    "gradcheck",
    "io",
    "load",
    "metrics",
    "models",
    "nn",
    "no_grad",
    "optim",
    "reference",
    "save",
]


def __getattr__(name):
    # numrnn.gradcheck is imported on first use, so that ``python -m numrnn.gradcheck``
    # runs it fresh; the module object is callable: numrnn.gradcheck(module, inputs).
    if name == "gradcheck":
        import importlib

        return importlib.import_module(".gradcheck", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
