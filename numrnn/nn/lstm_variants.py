r"""What ``numrnn.LSTM(..., peephole=True)`` and ``numrnn.LSTM(..., layer_norm=True)`` add.

The two variants are reference cells (:mod:`numrnn.reference.lstm_peephole`,
:mod:`numrnn.reference.lstm_layernorm`) run by the time loop of
:class:`numrnn.nn.Recurrent`, not by the fast kernels: an ``LSTM`` built with either
flag keeps the plain LSTM's parameters (same names, same values for the same seed),
adds the variant's, and hands each layer-direction to that loop.  Everything else
(layers, directions, between-layer dropout, ``lengths``, ``hx``, ``batch_first``,
unbatched input, LIFO caches, ``forget_bias``) is the LSTM's own.

The cost: the loop does one small matrix product per step for the input as well as
for the state (the fast kernels project all steps' inputs at once), allocates per
step, and runs on NumPy only; the README's "Variants" section gives measured times.

Extra parameters, per layer ``k`` (``_reverse`` for the backward direction)::

    peephole=True:    weight_ci_l{k}, weight_cf_l{k}, weight_co_l{k}          (H,) each, zeros
    layer_norm=True:  weight_ln_ih_l{k}, bias_ln_ih_l{k}, weight_ln_hh_l{k},
                      bias_ln_hh_l{k}  (4H,) each;  weight_ln_c_l{k}, bias_ln_c_l{k}  (H,) each;
                      gains ones, biases zeros
"""

from __future__ import annotations

import numpy as np

from .module import Parameter

__all__ = [
    "add_variant_parameters",
    "extra_weights",
    "variant_cell",
    "variant_params",
    "variant_repr",
    "variant_run",
]


def variant_cell(owner, peephole, layer_norm, proj_size, options):
    """The reference cell for the flags (None for the plain LSTM), after checking them.

    ``options``: the constructor's ``**options`` (``backend`` and ``fused`` are read).

    Raises:
        TypeError: a flag is not a bool.
        ValueError: both flags, or a flag with ``proj_size``, ``backend != "numpy"`` or ``fused``.
    """
    backend, fused = options.get("backend", "numpy"), options.get("fused", False)
    for name, flag in (("peephole", peephole), ("layer_norm", layer_norm)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{owner}: {name} must be True or False; got {flag!r}")
    if not (peephole or layer_norm):
        return None
    which = "peephole=True" if peephole else "layer_norm=True"
    if peephole and layer_norm:
        raise ValueError(f"{owner}: choose one of peephole=True and layer_norm=True, not both")
    if proj_size:
        raise ValueError(f"{owner}: {which} does not support proj_size; got proj_size={proj_size}")
    if backend != "numpy" or fused:
        raise ValueError(
            f"{owner}: {which} runs the NumPy reference loop (numrnn.nn.Recurrent), so it needs "
            f"backend='numpy' and fused=False; got backend={backend!r}, fused={fused!r}"
        )
    from ..reference import lstm_layernorm_cell, lstm_peephole_cell

    return lstm_peephole_cell if peephole else lstm_layernorm_cell


def extra_weights(cell):
    """The cell's weights beyond the plain LSTM's four."""
    plain = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return [w for w in cell.weights if w.name not in plain]


def add_variant_parameters(module, cell, dtype):
    """Register the variant's extra parameters on ``module``, after the plain LSTM's (None: none).

    Their initial values are constants (no random draws), so the plain weights stay
    those of ``numrnn.LSTM`` with the same seed.
    """
    if cell is None:
        return
    H = module.hidden_size
    for layer in range(module.num_layers):
        layer_in = module.input_size if layer == 0 else H * module.num_directions
        for d in range(module.num_directions):
            for w in extra_weights(cell):
                shape = tuple(w.shape(layer_in, H))
                value = np.asarray(w.init(None, shape, H), dtype=dtype)
                setattr(module, w.name + module._suffix(layer, d), Parameter(value))


def variant_repr(module):
    """The options that set a variant or its gate initialisation apart, for ``extra_repr``."""
    s = "".join(f", {flag}=True" for flag in ("peephole", "layer_norm") if getattr(module, flag))
    return s + ("" if module.forget_bias is None else f", forget_bias={module.forget_bias}")


def variant_params(module, layer, direction):
    """The params dict of one layer-direction with the cell's single-layer names."""
    sfx = module._suffix(layer, direction)
    return {
        w.name: module._parameters[w.name + sfx].data
        for w in module.cell.weights
        if module.bias or not w.bias
    }


def variant_run(module, backward, *args):
    """One layer-direction through :class:`numrnn.nn.Recurrent`'s loop over ``module.cell``.

    ``backward=False``: ``args = (x, state, params, reverse, batch_sizes)``;
    ``backward=True``: ``args = (dout, dstate, cache, record)``.  The loop reads only
    ``module.cell`` and ``module.hidden_size``, which an LSTM variant has.

    Raises:
        TypeError: the module was moved to another backend than NumPy.
    """
    from .recurrent_generic import Recurrent

    if module._ops.name != "numpy":
        raise TypeError(
            f"LSTM({module.cell.name}): the variant runs the NumPy reference loop; the module "
            f"was moved to backend {module._ops.name!r}: move it back with .to(backend='numpy')"
        )
    if backward:
        return Recurrent._run_backward(module, *args)
    return Recurrent._run_forward(module, *args)
