"""Shared test helpers: error measures and torch references (torch imported by callers)."""

import itertools
import math
import os
import subprocess
import sys

import numpy as np


def rel_err(a, b):
    """Normwise relative error ``max|a - b| / max|b|`` (``b`` the reference).

    Dividing by the largest reference entry (not entrywise) keeps entries that are
    near zero by cancellation from dominating: in float64 an algorithm that is
    correct agrees with torch to a few ulps of the largest magnitudes, ~1e-15.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shape {a.shape} != reference shape {b.shape}"
    scale = np.max(np.abs(b)) if b.size else 0.0
    return float(np.max(np.abs(a - b)) / max(scale, 1e-300)) if a.size else 0.0


def assert_errors_within(errs, tol):
    """Every error of ``errs`` ({quantity: relative error}) is at most ``tol``.

    A NaN error fails too (``not v <= tol``); the message names every quantity over.
    """
    bad = {k: v for k, v in errs.items() if not v <= tol}
    assert not bad, f"relative errors above {tol}: {bad}"


def recurrent_option_grid(kinds, layer_counts):
    """``(kind, options)`` for every kind, layer count and on/off of the three switches.

    ``options`` holds ``num_layers``, ``bidirectional``, ``batch_first`` and ``bias``:
    the grid over which a recurrent module is compared with a reference.
    Parametrise with ``ids=options_id``.
    """
    return [
        (kind, dict(num_layers=L, bidirectional=bi, batch_first=bf, bias=b))
        for kind, L, bi, bf, b in itertools.product(
            kinds, layer_counts, [False, True], [False, True], [True, False]
        )
    ]


def options_id(value):
    """A test id's part: a dict of options as its values joined by ``-``; else pytest's own."""
    return "-".join(map(str, value.values())) if isinstance(value, dict) else None


def torch_peephole_lstm_step(x, h, c, p):
    r"""One peephole LSTM step in torch ops: the oracle for numrnn's and a user's peephole cell.

    .. math::
        a = x W_{ih}^\top + b_{ih} + h W_{hh}^\top + b_{hh}, \quad
        i = \sigma(a_i + w_{ci} \odot c), \quad f = \sigma(a_f + w_{cf} \odot c),

        c' = f \odot c + i \odot \tanh(a_g), \quad
        o = \sigma(a_o + w_{co} \odot c'), \quad h' = o \odot \tanh(c')

    ``x (B, D)``, ``h, c (B, H)``; ``p`` maps ``weight_ih``, ``weight_hh``, ``weight_ci``,
    ``weight_cf``, ``weight_co`` and, if present, ``bias_ih``, ``bias_hh`` to tensors.
    Returns ``(h', c')``.
    """
    import torch

    a = x @ p["weight_ih"].T + p.get("bias_ih", 0) + h @ p["weight_hh"].T + p.get("bias_hh", 0)
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    i = torch.sigmoid(a_i + p["weight_ci"] * c)
    f = torch.sigmoid(a_f + p["weight_cf"] * c)
    c = f * c + i * torch.tanh(a_g)
    o = torch.sigmoid(a_o + p["weight_co"] * c)
    return o * torch.tanh(c), c


def torch_attention(torch, kind, params, q, k, v, mask):
    r"""Attention written directly in torch ops (autograd differentiates it): the oracle.

    Scores ``e (B, Tq, S)`` by ``kind``: ``additive`` / ``additive_bias``
    :math:`\tanh(q W_q^\top + k W_k^\top + b_k)\, v`; ``dot`` :math:`q k^\top`;
    ``general`` :math:`q W k^\top`; ``scaled`` :math:`q k^\top / \sqrt{d}`.  Masked-out
    keys (``mask`` False, ``(B, S)`` or ``(B, Tq, S)``) get :math:`-\infty`; then
    ``weights = softmax(e)`` over the keys and ``context = weights @ v``.
    ``params`` holds the module's state_dict names (``weight_q``, ``weight_k``,
    ``bias_k`` if present, ``v``, ``weight``) as tensors; ``q (B, dq)`` or
    ``(B, Tq, dq)``, ``k (B, S, dk)``, ``v (B, S, dv)``.  Returns ``(context, weights)``
    without the ``Tq`` axis when ``q`` had none.
    """
    q3 = q if q.dim() == 3 else q.unsqueeze(1)
    if kind.startswith("additive"):
        kp = k @ params["weight_k"].T
        if "bias_k" in params:
            kp = kp + params["bias_k"]
        e = torch.tanh((q3 @ params["weight_q"].T).unsqueeze(2) + kp.unsqueeze(1)) @ params["v"]
    elif kind == "general":
        e = q3 @ params["weight"] @ k.transpose(1, 2)
    elif kind == "dot":
        e = q3 @ k.transpose(1, 2)
    else:
        e = q3 @ k.transpose(1, 2) / math.sqrt(q.shape[-1])
    if mask is not None:
        m = torch.from_numpy(mask)
        e = e.masked_fill(~(m if m.dim() == 3 else m.unsqueeze(1)), float("-inf"))
    w = torch.softmax(e, -1)
    c = w @ v
    return (c.squeeze(1), w.squeeze(1)) if q.dim() == 2 else (c, w)


def run_python(*args, timeout=120):
    """``python *args`` in a child process importing this checkout's numrnn.

    The repository root goes first on ``PYTHONPATH``; returns the finished
    process, its output as text.
    """
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=timeout
    )


GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def layer_weights(kind, D, H, rng, *, bound, bias=True, proj=0):
    """Random weights of one layer-direction of a ``kind`` layer, uniform in ``(-bound, bound)``.

    With ``G`` gates (``GATES``: 1, 4, 3 for rnn, lstm, gru) and ``P = proj or H``:
    ``weight_ih (G H, D)``, ``weight_hh (G H, P)``, with ``bias`` also ``bias_ih`` and
    ``bias_hh (G H,)``, with ``proj`` also ``weight_hr (proj, H)``; drawn in that order.
    """
    G = GATES[kind]
    p = {
        "weight_ih": rng.uniform(-bound, bound, (G * H, D)),
        "weight_hh": rng.uniform(-bound, bound, (G * H, proj or H)),
    }
    if bias:
        p["bias_ih"] = rng.uniform(-bound, bound, G * H)
        p["bias_hh"] = rng.uniform(-bound, bound, G * H)
    if proj:
        p["weight_hr"] = rng.uniform(-bound, bound, (proj, H))
    return p


def tensor(x, grad=False):
    import torch

    t = torch.tensor(np.asarray(x))
    t.requires_grad_(grad)
    return t
