r"""Helpers for studying backpropagation through time: where does the gradient go?

A recurrent module's ``backward(dout, dhx, record=True)`` keeps in
``module.grad_flow`` the norm (over batch and features) of the whole gradient
reaching every hidden state, :math:`\lVert \partial L/\partial h_t \rVert`, and
for the LSTM every cell state, :math:`\lVert \partial L/\partial c_t \rVert`:
a dict ``{"h": (num_layers, num_directions, T), "c": ...}`` with time in the
input's order.  The functions here turn it into a picture and a short table.

Both measure time as the *distance from the loss*: the number of steps between
``h_t`` and the step where BPTT starts for that direction, ``T - 1 - t`` for a
forward direction and ``t`` for the reverse one.  With a loss at every step the
norm at distance ``k`` mixes gradients from all the steps after it; with a loss
on the last state only it is the gradient carried back ``k`` steps, which for
a tanh RNN with small recurrent weights shrinks roughly geometrically (the
vanishing gradient) and stays larger along the LSTM's cell state.

matplotlib is needed for :func:`plot_grad_flow` only and is imported when it is
called; :func:`grad_flow_table` needs NumPy only.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["grad_flow_series", "grad_flow_table", "plot_grad_flow"]

_STATE_NAMES = {"h": "h_t", "c": "c_t"}


def _grad_flow_of(obj):
    """The ``grad_flow`` dict of a module, or ``obj`` itself when it is such a dict."""
    if isinstance(obj, dict):
        gf = obj
    elif hasattr(obj, "grad_flow"):
        gf = obj.grad_flow
        if gf is None:
            raise ValueError(
                f"{type(obj).__name__} has no recorded gradient flow: call "
                f"module.backward(dout, record=True) after a forward first"
            )
    else:
        raise TypeError(
            "expected a grad_flow dict {'h': array, 'c': array} or a recurrent module "
            f"with a .grad_flow attribute; got {type(obj).__name__}"
        )
    if not gf:
        raise ValueError("the grad_flow dict is empty; expected keys 'h' (and 'c' for an LSTM)")
    out = {}
    for key, value in gf.items():
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, None]  # one forward direction of one layer, as the functional record
        if arr.ndim != 3 or arr.shape[-1] < 1:
            raise ValueError(
                f"grad_flow[{key!r}] must have shape (num_layers, num_directions, T) "
                f"or (T,); got {arr.shape}"
            )
        if not 1 <= arr.shape[1] <= 2:
            raise ValueError(
                f"grad_flow[{key!r}] must have 1 or 2 directions in axis 1; got {arr.shape}"
            )
        out[key] = arr
    return out


def grad_flow_series(grad_flow_or_module):
    r"""The recorded norms as series ordered by distance from the loss.

    Returns:
        A list of dicts, one per state (``"h"``, then ``"c"``), layer and direction,
        with ``state``, ``layer``, ``direction`` (0 forward, 1 reverse),
        ``distance`` (``0 .. T-1``) and ``norm`` (the norm at each distance, a
        ``(T,)`` array: ``norm[k]`` is :math:`\lVert \partial L/\partial h_t \rVert`
        at ``t = T-1-k`` forward, ``t = k`` reverse).

    Raises:
        TypeError / ValueError: not a grad_flow dict or module, or a module
            whose backward did not record.
    """
    gf = _grad_flow_of(grad_flow_or_module)
    series = []
    for key in sorted(gf, key=lambda k: (k != "h", k)):
        arr = gf[key]
        L, D, T = arr.shape
        for layer in range(L):
            for d in range(D):
                norms = arr[layer, d]
                series.append(
                    {
                        "state": key,
                        "layer": layer,
                        "direction": d,
                        "distance": np.arange(T),
                        "norm": norms[::-1].copy() if d == 0 else norms.copy(),
                    }
                )
    return series


def _series_label(s, many_layers, many_dirs, label):
    name = _STATE_NAMES.get(s["state"], s["state"])
    parts = [f"|dL/d{name}|"]
    if many_layers:
        parts.append(f"layer {s['layer']}")
    if many_dirs:
        parts.append("reverse" if s["direction"] else "forward")
    text = " ".join(parts)
    return f"{label}: {text}" if label else text


def plot_grad_flow(grad_flow_or_module, ax=None, title=None, label=None):
    r"""Plot :math:`\lVert \partial L/\partial h_t \rVert` against the distance from the loss.

    One line per layer, direction and state (``h`` solid, ``c`` dashed), on a
    log-scale y axis, so geometric decay is a straight line.  Norms that are
    exactly zero cannot be drawn on a log axis and are left out.

    Args:
        grad_flow_or_module: a module whose ``backward(..., record=True)`` has run,
            or its ``grad_flow`` dict (arrays ``(num_layers, num_directions, T)``
            or ``(T,)``).
        ax: a matplotlib ``Axes`` to draw into; None makes a new figure.
        title: the axes title (default: a short description).
        label: a prefix for the legend entries, to compare several models on one ``ax``.

    Returns:
        The matplotlib ``Axes``.

    Raises:
        ImportError: matplotlib is not installed (``pip install matplotlib``).
        TypeError / ValueError: as :func:`grad_flow_series`.
    """
    series = grad_flow_series(grad_flow_or_module)
    if ax is None:
        try:
            import matplotlib.pyplot as plt
        except ImportError as err:
            raise ImportError(
                "numrnn.study.plot_grad_flow needs matplotlib: pip install matplotlib"
            ) from err
        _, ax = plt.subplots(figsize=(6.4, 4.0))
    many_layers = len({s["layer"] for s in series}) > 1
    many_dirs = len({s["direction"] for s in series}) > 1
    for s in series:
        y = np.where(s["norm"] > 0, s["norm"], np.nan)  # log axis: zeros are not drawn
        ax.plot(
            s["distance"],
            y,
            linestyle="-" if s["state"] == "h" else "--",
            marker="o" if len(y) <= 30 else None,
            markersize=3,
            label=_series_label(s, many_layers, many_dirs, label),
        )
    ax.set_yscale("log")
    ax.set_xlabel("distance from the loss (steps back from where BPTT starts)")
    ax.set_ylabel("gradient norm")
    ax.set_title(title if title is not None else "Gradient flow through time")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def _rate(first, last, steps):
    """Geometric mean factor per step from ``first`` to ``last`` over ``steps`` steps."""
    if steps < 1 or not (first > 0) or not math.isfinite(first) or not math.isfinite(last):
        return None
    if last <= 0:
        return 0.0
    return (last / first) ** (1.0 / steps)


def grad_flow_table(grad_flow):
    r"""A short text summary of the recorded gradient norms.

    For every state, layer and direction: the norm at distance 0 (where BPTT
    starts), at distance ``T // 2`` and at ``T - 1`` (the first step read by that
    direction), and the geometric decay rate per step,
    :math:`(\lVert g_{T-1} \rVert / \lVert g_0 \rVert)^{1/(T-1)}` where
    :math:`g_k` is the gradient at distance ``k``: below 1 the gradient vanishes
    going back in time, above 1 it explodes.  ``-`` where the rate is undefined
    (``T = 1`` or a zero norm at distance 0).

    Args:
        grad_flow: a ``grad_flow`` dict, or a module whose backward recorded one.

    Returns:
        The table as a string (norms in ``%.4e``, rates in ``%.4f``).
    """
    series = grad_flow_series(grad_flow)
    T = len(series[0]["norm"])
    mid = T // 2
    head = ["state", "layer", "direction", "d=0", f"d={mid}", f"d={T - 1}", "rate/step"]
    rows = []
    for s in series:
        n = s["norm"]
        rate = _rate(float(n[0]), float(n[-1]), T - 1)
        rows.append(
            [
                _STATE_NAMES.get(s["state"], s["state"]),
                str(s["layer"]),
                "reverse" if s["direction"] else "forward",
                f"{n[0]:.4e}",
                f"{n[mid]:.4e}",
                f"{n[-1]:.4e}",
                "-" if rate is None else f"{rate:.4f}",
            ]
        )
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    lines = [
        f"gradient norm by distance from the loss (T = {T})",
        "  ".join(
            h.rjust(w) if i > 2 else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths))
        ),
    ]
    lines.append("-" * len(lines[-1]))
    for r in rows:
        lines.append(
            "  ".join(
                c.rjust(w) if i > 2 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))
            )
        )
    return "\n".join(lines)
