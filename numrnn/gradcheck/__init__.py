r"""Numerical gradient checking: hand-written backward passes against central differences.

``report = gradcheck(target, inputs)`` compares every gradient a backward pass
produces with a finite-difference estimate of the same derivative and returns a
:class:`GradcheckReport`: one row per checked tensor, with the worst entry, and a
verdict.  ``target`` is either a :class:`numrnn.Module` or a pair
``(forward_fn, backward_fn)`` in the ``op_forward`` / ``op_backward`` style of
:mod:`numrnn.functional`.

What is compared
----------------
The output of the forward (an array, or nested tuples of arrays such as an LSTM's
``out, (hn, cn)``) is reduced to a scalar with fixed random weights ``G`` of the
same structure (seeded, standard normal):

.. math::

    L(\theta) = \sum_{\text{leaves } k} \sum_i G_{k,i}\, y_{k,i}(\theta)

so :math:`\partial L/\partial y = G`.  The *analytic* gradient is what the
backward pass returns when given ``G`` as the upstream gradient; the *numeric*
gradient of an entry :math:`\theta_j` is the central difference

.. math::

    n_j = \frac{L(\theta + h e_j) - L(\theta - h e_j)}{h_+ + h_-},

where :math:`h_\pm` are the steps actually taken in float64 (``(x + eps) - x``
and ``x - (x - eps)``), not the nominal ``eps``.  Its truncation error is
:math:`O(\varepsilon^2 |L'''|)`, about :math:`10^{-12}` relative for
``eps=1e-6``, far below the rounding noise discussed next.

The pass criterion
------------------
An entry with analytic value ``a`` and numeric value ``n`` passes when

.. math::

    |a - n| \le \mathrm{atol} + \mathrm{rtol} \cdot \max(|a|, |n|),
    \qquad \mathrm{rtol} = 10^{-5},
    \qquad \mathrm{atol} = c \cdot \frac{u\, S}{\varepsilon},
    \quad S = \sum_{k,i} |G_{k,i}\, y_{k,i}|,

with :math:`u = 2^{-52}` the float64 machine epsilon and ``c = 100``
(``noise_factor``).  The reasoning:

* A forward evaluated in float64 returns :math:`L` with an absolute rounding
  error of order :math:`u S`: every term :math:`G_i y_i` of the sum carries a
  relative error of a few ``u``, and the terms do not cancel their errors the
  way they may cancel their values.  The difference of two such evaluations
  divided by :math:`2\varepsilon` therefore has noise of order
  :math:`u S / \varepsilon` (about ``2e-10 * S`` at ``eps=1e-6``), whatever
  the size of the entry being differentiated.  An entry whose true derivative
  is tiny or zero is dominated by that noise, and a pure relative error there
  means nothing; ``atol`` is the noise level times a safety factor
  ``c = 100`` for the depth of the computation (each output is the end of a
  chain of products and sums, hundreds deep for a recurrent layer over a
  sequence).  Measured on numrnn's correct RNN (tanh and relu), LSTM (with
  projection) and GRU layers and cells, with up to three layers, both
  directions, variable lengths, ``T`` up to 50, ``H`` up to 16 and
  saturating or exploding weights, the largest :math:`|a - n|` was 0.07 to
  0.65 times :math:`u S / \varepsilon`, so ``c = 100`` leaves a margin of more
  than two orders of magnitude against false alarms.
* Above the noise, a correct gradient agrees with the central difference to
  about :math:`10^{-8}` relative; ``rtol = 1e-5`` leaves a wide margin for that
  and is still a thousand times smaller than the errors this tool is for.
* Consequently a 1% error on any entry with :math:`|a| > 100.1\,\mathrm{atol}`
  fails (:math:`0.01|a| > \mathrm{atol} + 10^{-5} |a|`), and so does a whole
  tensor scaled by 1.01, a transposed or missing gradient, unless every entry
  of the tensor is within a factor 100 of the rounding noise of ``L``, where
  no finite difference can see anything.  The report prints ``atol`` so the
  threshold is visible.

The maximum relative error :math:`|a - n| / \max(|a|, |n|, \text{tiny})` is
reported for every tensor regardless; on a passing tensor a large value means
entries at the noise level (both ``a`` and ``n`` below ``atol``), which the
``tol ratio`` column (the worst :math:`|a - n| / (\mathrm{atol} + \mathrm{rtol}
\max(|a|, |n|))`, at most 1 for a pass) shows to be harmless.
The printed report ends with this rule, the ``atol`` it used and the meaning of
``tol ratio`` (a correct backward is typically at 0.01 or below: the measurements
above put its largest error under 0.0065 ``atol``); ``--help`` says the same.

A gradient that cannot be compared is not: a gradient of the wrong shape fails its
row with ``shape (5, 4) where (4, 5) is expected: transposed?`` (the question only
when the shape is the reverse of the expected one), and one holding NaN or inf with
``analytic gradient has NaN at (i, j)`` (the first such entry in C order), with no
numbers in the error columns.

Side effects
------------
None that outlive the call.  The module is put in ``eval()`` mode (dropout must
be deterministic for finite differences to mean anything) and its previous
training flags are restored afterwards; the perturbed forwards run under
:class:`numrnn.no_grad` so they keep no cache; pending caches from before the
call are set aside and put back, so the LIFO stack ends exactly as it began
(empty, normally); parameter values are restored bit for bit and the
parameters' ``.grad`` is restored to what it held before the call.  The caller's
input arrays are copied, never perturbed.

Command line
------------
``numrnn gradcheck lstm --num-layers 2 --bidirectional`` (or ``python -m
numrnn.gradcheck ...``) builds the layer in float64 with random inputs and initial
states, prints the table and exits 0 when every gradient passes, 1 otherwise (see
``--help``).

Files
-----
``check.py`` the entry point and the two kinds of target; ``compare.py`` the
central differences and the pass criterion; ``structures.py`` nested inputs,
their names, and matching what a backward returns to them; ``report.py`` the
report; ``cli.py`` the command line.
"""

from .check import gradcheck
from .cli import main
from .report import GradcheckFailure, GradcheckReport, GradcheckRow

__all__ = ["GradcheckFailure", "GradcheckReport", "GradcheckRow", "gradcheck", "main"]
