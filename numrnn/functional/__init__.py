"""Stateless forward/backward pairs with explicit caches: the textbook layer of numrnn.

Every operation comes as ``y, cache = op_forward(...)`` and
``grads = op_backward(dy, cache)``; the modules in :mod:`numrnn.nn` are thin
wrappers that keep the caches and accumulate parameter gradients.
"""

from .activations import *  # noqa: F403
from .activations import __all__ as _act
from .attention import *  # noqa: F403
from .attention import __all__ as _att
from .gru import *  # noqa: F403
from .gru import __all__ as _gru
from .linear import *  # noqa: F403
from .linear import __all__ as _lin
from .losses import *  # noqa: F403
from .losses import __all__ as _loss
from .lstm import *  # noqa: F403
from .lstm import __all__ as _lstm
from .rnn import *  # noqa: F403
from .rnn import __all__ as _rnn

__all__ = [*_act, *_att, *_gru, *_lin, *_loss, *_lstm, *_rnn]
