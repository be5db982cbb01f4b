"""Optimisers, learning-rate schedules and gradient clipping, equal to ``torch.optim`` step for step.

``SGD``, ``Adam``, ``AdamW``, ``Adagrad`` and ``RMSprop`` update the ``.data``
of numrnn Parameters in place from their ``.grad``; ``lr_scheduler`` holds the
schedules; ``clip_grad_norm_`` / ``clip_grad_value_`` are
``torch.nn.utils``'s.  All of them work on NumPy arrays and on torch tensors.
"""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .clip import clip_grad_norm_, clip_grad_value_
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "clip_grad_norm_",
    "clip_grad_value_",
    "lr_scheduler",
]
