"""Stateless forward/backward pairs with explicit caches: activations, losses, linear, attention.

Every operation comes as ``y, cache = op_forward(...)`` and
``grads = op_backward(dy, cache)``; the modules in :mod:`numrnn.nn` are thin
wrappers that keep the caches and accumulate parameter gradients.  The recurrent
cells are in :mod:`numrnn.reference` (to read) and :mod:`numrnn.kernels` (fast).
"""

from .activations import *  # noqa: F403
from .activations import __all__ as _act
from .attention import *  # noqa: F403
from .attention import __all__ as _att
from .linear import *  # noqa: F403
from .linear import __all__ as _lin
from .losses import *  # noqa: F403
from .losses import __all__ as _loss

__all__ = [*_act, *_att, *_lin, *_loss]
