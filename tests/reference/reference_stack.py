"""A whole multi-layer, bidirectional, variable-length recurrent module built from the reference.

Written for the tests only, as plainly as possible: every batch row with its own
length runs alone on its ``lengths[b]`` valid steps (so no packing logic is
shared with the code under test), layer by layer, the reverse direction on the
time-reversed input, and the backward retraces the same path.
"""

import numpy as np

import numrnn.reference as R

STATES = {"rnn": 1, "lstm": 2, "gru": 1}


def _pair(kind, nonlinearity="tanh", reset_after=True):
    if kind == "rnn":
        return (
            lambda x, s, p: R.rnn_forward(x, s[0], p, nonlinearity),
            lambda d, ds, c: R.rnn_backward(d, ds[0], c),
        )
    if kind == "gru":
        return (
            lambda x, s, p: R.gru_forward(x, s[0], p, reset_after),
            lambda d, ds, c: R.gru_backward(d, ds[0], c),
        )
    return (lambda x, s, p: R.lstm_forward(x, s, p), lambda d, ds, c: R.lstm_backward(d, ds, c))


def _as_list(kind, state):
    return list(state) if kind == "lstm" else [state]


def _layer_params(sd, layer, d):
    sfx = f"_l{layer}" + ("_reverse" if d else "")
    return {k[: -len(sfx)]: v for k, v in sd.items() if k.endswith(sfx) and "_l" in k}


def run_stack(kind, sd, x, hx, dout, dhn, *, num_layers, bidirectional, lengths=None, **opts):
    """Forward and backward of the stack on time-major ``x`` (T, B, D).

    ``hx``/``dhn``: lists of ``(L*dirs, B, ·)`` arrays (one per state) or None.
    Returns ``out, hn (list), dx, dh0 (list), grads (full parameter names)``.
    """
    fwd, bwd = _pair(kind, **opts)
    T, B, _ = x.shape
    nd = 2 if bidirectional else 1
    lengths = [T] * B if lengths is None else list(lengths)
    groups = [list(range(B))] if len(set(lengths)) == 1 else [[b] for b in range(B)]
    out = np.zeros(dout.shape, x.dtype)
    dx = np.zeros_like(x)
    ns = STATES[kind]
    hn = [np.zeros(h.shape, x.dtype) for h in dhn]
    dh0 = [np.zeros(h.shape, x.dtype) for h in dhn]
    grads = {k: np.zeros_like(v) for k, v in sd.items()}
    for rows in groups:
        Tb = lengths[rows[0]]
        inp = x[:Tb, rows]
        caches = []
        for layer in range(num_layers):
            outs = []
            for d in range(nd):
                j = layer * nd + d
                s0 = [None] * ns if hx is None else [h[j][rows] for h in hx]
                xin = inp[::-1] if d else inp
                o, s, cache = fwd(xin, s0, _layer_params(sd, layer, d))
                for k, st in enumerate(_as_list(kind, s)):
                    hn[k][j][rows] = st
                outs.append(o[::-1] if d else o)
                caches.append(cache)
            inp = np.concatenate(outs, axis=-1)
        out[:Tb, rows] = inp
        dinp = dout[:Tb, rows]
        for layer in reversed(range(num_layers)):
            dnext = 0
            P = dinp.shape[-1] // nd
            for d in range(nd):
                j = layer * nd + d
                dd = dinp[..., d * P : (d + 1) * P]
                ds = [h[j][rows] for h in dhn]
                dxin, ds0, g = bwd(dd[::-1] if d else dd, ds, caches[j])
                for k, st in enumerate(_as_list(kind, ds0)):
                    dh0[k][j][rows] = st
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                for name, v in g.items():
                    grads[name + sfx] += v
                dnext = dnext + (dxin[::-1] if d else dxin)
            dinp = dnext
        dx[:Tb, rows] = dinp
    return out, hn, dx, dh0, grads
