r"""Data-parallel training of the hand-written BPTT on ``torch.distributed``.

Data parallelism in one paragraph
---------------------------------
``N`` processes (ranks ``0 .. N-1``) hold the same model.  A global batch of ``B``
rows is split into ``N`` blocks of ``B/N`` rows; rank ``r`` runs the forward and the
hand-written backward on block ``r`` only and gets the gradient of its own mean
loss, :math:`g_r = \nabla_\theta \frac{1}{|b_r|}\sum_{i \in b_r} \ell_i`.  With
equal blocks the gradient of the mean loss over the whole batch is the average

.. math::
    g = \nabla_\theta \frac{1}{B} \sum_{i=1}^{B} \ell_i
      = \frac{1}{N} \sum_{r=0}^{N-1} g_r ,

which one ``all_reduce`` (a sum over the ranks, left in every rank's buffer)
followed by a division by ``N`` computes.  Every rank then holds the same
:math:`g`, clips it the same way and takes the same optimiser step, so the
parameters, equal at the start (:func:`broadcast_parameters`), stay equal without
ever being sent again.  In exact arithmetic ``N`` processes compute what one
process computes on the concatenated batch; in floating point the sums are taken
in another order, so the two agree to rounding (about 1e-15 relative in float64).

What is sent
------------
Gradients are few large arrays and many small ones (biases).  Each collective call
has a fixed cost, so the gradients are laid out in a few flat *buckets* of about
``bucket_mb`` megabytes, and each bucket is reduced with one call.  After
:class:`GradientBuckets` is built, every ``Parameter.grad`` *is* a view into its
bucket (PyTorch's ``gradient_as_bucket_view``): the backward passes accumulate
straight into the bucket, a NumPy bucket is handed to torch with
``torch.from_numpy`` (which shares the memory), and the reduced sums land back in
``.grad`` with no copy in either direction.  If something rebinds a ``.grad`` to a
new array, that array is copied into its place in the bucket once and the view is
restored.

Failure
-------
The process group is created with a timeout (:func:`init_from_env`): a peer that
dies closes its connections and the others fail at their next collective; a peer
that hangs makes them fail when the timeout runs out.  Either way the survivors
raise :class:`DistributedError`, which names the rank, the operation and the
timeout, instead of waiting for ever.

Backends
--------
The NumPy backend and the torch backend on the CPU use the ``gloo`` communication
backend.  A torch-backend model on CUDA uses ``nccl`` (one process per GPU, each
with its own device); that path is written to the same calls but is not exercised
by the test suite, which runs on CPUs.  NCCL's collectives run asynchronously, so
there a failed peer is reported by NCCL's own watchdog, not as DistributedError.

torch is imported inside the functions of this module only, so ``import numrnn``
still needs NumPy alone.
"""

from .buckets import DEFAULT_BUCKET_MB, GradientBuckets, broadcast_parameters, unique_parameters
from .data_parallel import DataParallel, rank_rng, shard_batch
from .group import DEFAULT_TIMEOUT, DistributedError, init_from_env, quiet_unless_main, shutdown

__all__ = [
    "DEFAULT_BUCKET_MB",
    "DEFAULT_TIMEOUT",
    "DataParallel",
    "DistributedError",
    "GradientBuckets",
    "broadcast_parameters",
    "init_from_env",
    "quiet_unless_main",
    "rank_rng",
    "shard_batch",
    "shutdown",
    "unique_parameters",
]
