"""Modules users build with: PyTorch's names and shapes over numrnn's functional pairs."""

from . import init  # noqa: F401  (numrnn.nn.init.chrono_init)
from .attention import *  # noqa: F403
from .attention import __all__ as _att
from .cells import GRUCell, LSTMCell, RNNCell
from .linear import Embedding, Linear
from .module import Module, Parameter, eval_mode, is_grad_enabled, no_grad
from .options import ModuleOptions
from .recurrent import GRU, LSTM, RNN
from .recurrent_generic import Recurrent
from .variational import VariationalRecurrent

__all__ = [
    "Module",
    "Parameter",
    "ModuleOptions",
    "no_grad",
    "eval_mode",
    "is_grad_enabled",
    "Linear",
    "Embedding",
    "RNN",
    "LSTM",
    "GRU",
    "Recurrent",
    "VariationalRecurrent",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    *_att,
]
