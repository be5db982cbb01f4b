r"""Gate initialisation for the gated layers: a fixed forget-gate bias and "chrono" biases.

Both act on the bias vectors only; every weight matrix keeps PyTorch's uniform
initialisation.  With PyTorch's layout the gate blocks of ``bias_ih`` / ``bias_hh``
(each of length ``gates * H``) are

* LSTM: ``i = [0:H]``, ``f = [H:2H]``, ``g = [2H:3H]``, ``o = [3H:4H]``;
* GRU:  ``r = [0:H]``, ``z = [H:2H]``, ``n = [2H:3H]``.

A gate's pre-activation receives the *sum* ``bias_ih + bias_hh`` of its two blocks.
Both functions below write the intended value into the ``bias_ih`` block and set the
matching ``bias_hh`` block to zero, so the gate's total bias is exactly the value
written (not the value plus PyTorch's uniform noise).  Nothing else changes.

Forget-gate bias (Gers et al. 2000; Jozefowicz et al. 2015)
-----------------------------------------------------------
:math:`f_t = \sigma(\dots + b_f)`: with :math:`b_f = 1` the forget gate starts near
:math:`\sigma(1) \approx 0.73` instead of :math:`1/2`, so the cell state and its
gradient decay more slowly at the start of training.  ``numrnn.LSTM(...,
forget_bias=b)`` and ``numrnn.LSTMCell(..., forget_bias=b)`` call
:func:`set_forget_bias` at construction.

Chrono initialisation (Tallec & Ollivier 2018, "Can recurrent neural networks warp time?")
------------------------------------------------------------------------------------------
A leaky unit :math:`h_t = \alpha h_{t-1} + (1-\alpha)\,\tilde h_t` forgets its past with
the characteristic time :math:`1/(1-\alpha)` steps.  For an LSTM with the input gate
shut to the same extent, :math:`f = \sigma(b_f)` plays :math:`\alpha`.  Choosing
:math:`b_f = \log u` gives :math:`f = u/(1+u)` and :math:`1/(1-f) = 1 + u`; drawing
:math:`u \sim U[1, T_{max} - 1]` per unit spreads the characteristic times over
:math:`[2, T_{max}]`, the range of dependencies the data has.  The input gate is
set to the complement, :math:`b_i = -b_f`, so :math:`i = 1/(1+u) = 1 - f`.

PyTorch's GRU computes :math:`h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}`: the
update gate :math:`z` is the leak :math:`\alpha` (it keeps the old state), and
:math:`1 - z` already acts as the input gate, tied to it.  The analogue is therefore
:math:`b_z = \log u` with the same :math:`u`, and no second gate to set (the reset
gate :math:`r` only shapes the candidate :math:`n` and keeps PyTorch's init).  In
the formulation :math:`h_t = z_t \odot n_t + (1 - z_t) \odot h_{t-1}` (the roles
swapped, as in some textbooks) the sign would flip: :math:`b_z = -\log u`.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..backend import to_numpy
from .module import make_rng

__all__ = ["check_forget_bias", "chrono_init", "set_forget_bias"]


def check_forget_bias(owner, forget_bias, bias):
    """Validate a constructor's ``forget_bias`` argument (None, or a finite real with ``bias``).

    Raises:
        TypeError: ``forget_bias`` is neither None nor a real number.
        ValueError: it is not finite, or ``bias`` is False (there is no bias to set).
    """
    if forget_bias is None:
        return
    if isinstance(forget_bias, bool) or not isinstance(forget_bias, numbers.Real):
        raise TypeError(f"{owner}: forget_bias must be a real number or None; got {forget_bias!r}")
    if not np.isfinite(forget_bias):
        raise ValueError(f"{owner}: forget_bias must be finite; got {forget_bias!r}")
    if not bias:
        raise ValueError(
            f"{owner}: forget_bias={forget_bias!r} needs bias=True (with bias=False there is "
            "no forget-gate bias to set)"
        )


def _gated_layout(module, caller):
    """Return ``(kind, H, bias_names)`` for an LSTM/GRU layer or cell, or raise TypeError."""
    from .cells import GRUCell, LSTMCell
    from .recurrent import GRU, LSTM

    if isinstance(module, (LSTM, LSTMCell)):
        kind = "lstm"
    elif isinstance(module, (GRU, GRUCell)):
        kind = "gru"
    else:
        raise TypeError(
            f"{caller}: module must be a numrnn LSTM, LSTMCell, GRU or GRUCell; "
            f"got {type(module).__name__}"
        )
    if not module.bias:
        raise ValueError(
            f"{caller}: the {type(module).__name__} was built with bias=False, so there is "
            "no gate bias to initialise"
        )
    names = [n for n, _ in module.named_parameters() if n.startswith("bias_ih")]
    return kind, module.hidden_size, names


def _write(module, name, block, values):
    """``module.<name>[block] = values`` on the module's backend, in place."""
    p = module._parameters[name]
    p.data[block] = module._ops.asarray(np.asarray(values, dtype=to_numpy(p.data).dtype))


def set_forget_bias(module, value):
    r"""Set every LSTM forget-gate bias to ``value``: ``bias_ih[H:2H] = value``, ``bias_hh[H:2H] = 0``.

    Args:
        module: a :class:`numrnn.LSTM` (every layer and direction) or :class:`numrnn.LSTMCell`.
        value: a finite real number (Jozefowicz et al. 2015 recommend 1).

    Returns:
        ``module``.

    Raises:
        TypeError: ``module`` is not an LSTM layer or cell, or ``value`` is not a real number.
        ValueError: the module has no biases (``bias=False``) or ``value`` is not finite.
    """
    kind, H, names = _gated_layout(module, "set_forget_bias")
    if kind != "lstm":
        raise TypeError(
            f"set_forget_bias: module must be an LSTM or LSTMCell; got {type(module).__name__}"
        )
    check_forget_bias("set_forget_bias", value, True)
    for name in names:
        _write(module, name, slice(H, 2 * H), np.full(H, float(value)))
        _write(module, name.replace("bias_ih", "bias_hh"), slice(H, 2 * H), np.zeros(H))
    return module


def chrono_init(module, T_max, rng=None):
    r"""Chrono initialisation of the gate biases (Tallec & Ollivier 2018).

    For each layer-direction, draw :math:`u \sim U[1, T_{max} - 1]` (one value per
    hidden unit) and set

    * LSTM: :math:`b_f = \log u` in ``bias_ih[H:2H]``, :math:`b_i = -\log u` in
      ``bias_ih[0:H]``; ``bias_hh[0:2H] = 0``.
    * GRU: :math:`b_z = \log u` in ``bias_ih[H:2H]``; ``bias_hh[H:2H] = 0``
      (in :math:`h' = (1-z) n + z h` the update gate :math:`z` is the forget gate).

    Every other entry (weights, the ``g``/``o`` or ``r``/``n`` biases) is left as it was.
    The derivation is in this module's docstring.

    Args:
        module: a :class:`numrnn.LSTM`, :class:`numrnn.GRU` (all layers and directions),
            :class:`numrnn.LSTMCell` or :class:`numrnn.GRUCell`, built with ``bias=True``.
        T_max: the longest dependency expected, a number >= 2 (``u`` is drawn from
            ``[1, T_max - 1]``; ``T_max = 2`` gives :math:`b_f = 0`).
        rng: a ``numpy.random.Generator`` or an integer seed (None: fresh entropy).

    Returns:
        ``module``.

    Raises:
        TypeError: ``module`` is not one of the four, or ``T_max`` is not a real number.
        ValueError: ``bias=False``, or ``T_max < 2``.
    """
    kind, H, names = _gated_layout(module, "chrono_init")
    if isinstance(T_max, bool) or not isinstance(T_max, numbers.Real):
        raise TypeError(f"chrono_init: T_max must be a real number >= 2; got {T_max!r}")
    if not T_max >= 2 or not np.isfinite(T_max):
        raise ValueError(f"chrono_init: T_max must be a finite number >= 2; got {T_max!r}")
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        rng = np.random.default_rng(int(rng))
    rng = make_rng(None, rng)
    for name in names:
        log_u = np.log(rng.uniform(1.0, float(T_max) - 1.0, H))  # (H,), in [0, log(T_max-1)]
        hh = name.replace("bias_ih", "bias_hh")
        _write(module, name, slice(H, 2 * H), log_u)  # forget (LSTM) / update (GRU) gate
        _write(module, hh, slice(H, 2 * H), np.zeros(H))
        if kind == "lstm":
            _write(module, name, slice(0, H), -log_u)  # input gate: the complement
            _write(module, hh, slice(0, H), np.zeros(H))
    return module
