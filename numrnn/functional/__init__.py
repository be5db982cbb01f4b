"""Stateless forward/backward pairs with explicit caches: activations, losses, linear, attention.

The gradient convention
-----------------------
Every pair in :mod:`~numrnn.functional.activations`, :mod:`~numrnn.functional.linear`,
:mod:`~numrnn.functional.attention` and :mod:`~numrnn.functional.additive_attention`
follows one convention::

    out, cache = op_forward(*arrays, **options)
    grads = op_backward(dout, cache)

* ``out`` is one array, or a tuple of arrays when the op has several results
  (attention returns ``(context, weights)``).
* ``dout`` has the structure of ``out``: the gradient of the loss with respect
  to each result (for a tuple, an entry may be None, meaning zero).
* ``grads`` is a tuple with **one entry per array argument of the forward, in
  the order of its signature**: the gradient with respect to that argument, of
  its shape, or None where there is none (integer indices, a boolean mask, a
  bias that was None).  Non-array options (``axis``, ``scale``, ``padding_idx``)
  have no entry.  So ``tanh_backward`` returns ``(dx,)``, ``linear_backward``
  ``(dx, dweight, dbias)`` and ``embedding_backward`` ``(None, dweight)``.
* A backward never writes into ``dout`` or into the arrays in the cache.

Losses are the one exception, because a loss ends the chain: each returns the
loss and its gradient in one call, ``loss, dinput = cross_entropy(logits,
target)`` (the upstream gradient of a loss is 1).

:func:`numrnn.gradcheck` accepts any pair in this form,
``numrnn.gradcheck((op_forward, op_backward), arrays)``, and the test suite runs it
over every pair.  The modules in :mod:`numrnn.nn` are thin wrappers that keep the
caches and accumulate parameter gradients.
The recurrent cells are in :mod:`numrnn.reference` (to read) and
:mod:`numrnn.kernels` (fast), with their own documented returns.
"""

from .activations import *  # noqa: F403
from .activations import __all__ as _act
from .additive_attention import *  # noqa: F403
from .additive_attention import __all__ as _add
from .attention import *  # noqa: F403
from .attention import __all__ as _att
from .dropout import *  # noqa: F403
from .dropout import __all__ as _drop
from .linear import *  # noqa: F403
from .linear import __all__ as _lin
from .losses import *  # noqa: F403
from .losses import __all__ as _loss

__all__ = [*_act, *_add, *_att, *_drop, *_lin, *_loss]
