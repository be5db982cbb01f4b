"""Torch interop: the ``torch.nn`` module equal to a numrnn one, and back.

``to_torch(module)`` builds the ``torch.nn`` module with the same options and
weights (and dtype, and device for a module on the torch backend);
``from_torch(torch_module, dtype=None)`` builds the numrnn module from a
``torch.nn`` one.  Parameter names and layouts are PyTorch's on both sides,
so the weights are copied without any reordering.  With :mod:`numrnn.backend`,
this is the only module of numrnn that imports torch, and only inside these two
functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import import_torch
from .nn.cells import GRUCell, LSTMCell, RNNCell
from .nn.linear import Embedding, Linear
from .nn.module import Module, check_dtype
from .nn.recurrent import GRU, LSTM, RNN, RNNBase

__all__ = ["from_torch", "to_torch"]


def _torch():
    return import_torch("numrnn.interop.to_torch / from_torch")


_SUPPORTED = "RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell, Linear, Embedding"


def to_torch(module: Module) -> Any:
    """The ``torch.nn`` module equal to ``module``: same class, options, weights and dtype.

    Supported: ``RNN``, ``LSTM``, ``GRU`` (every constructor option: num_layers,
    nonlinearity, bias, batch_first, dropout, bidirectional, proj_size), the
    three cells, ``Linear`` and ``Embedding`` (with ``padding_idx``).  The
    result is in the same train/eval mode, on the module's device when the
    module uses the torch backend (on the CPU otherwise); its weights are
    copies, exact to the bit.  For a composed model, build the torch model and
    ``load_state_dict`` the numrnn model's ``state_dict()``: the names match.

    Raises:
        TypeError: ``module`` is not one of the supported numrnn modules.
        ValueError: a ``GRU`` or ``GRUCell`` with ``reset_after=False`` (torch.nn has none).
        ImportError: torch is not installed.
    """
    torch = _torch()
    if not isinstance(module, Module):
        raise TypeError(f"to_torch: module must be a numrnn.Module; got {type(module).__name__}")
    if not getattr(module, "reset_after", True):
        raise ValueError(
            f"to_torch: torch.nn has no GRU with the reset gate before the product; got "
            f"{type(module).__name__}(..., reset_after=False)"
        )
    dtype = getattr(torch, module.param_dtype.name)
    device = torch.device(module.device if module.backend == "torch" else "cpu")
    if isinstance(module, RNNBase):
        cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[module.mode]
        kw = dict(
            input_size=module.input_size,
            hidden_size=module.hidden_size,
            num_layers=module.num_layers,
            bias=module.bias,
            batch_first=module.batch_first,
            dropout=module.dropout,
            bidirectional=module.bidirectional,
        )
        if module.mode == "rnn":
            kw["nonlinearity"] = module.nonlinearity
        if module.mode == "lstm":
            kw["proj_size"] = module.proj_size
    elif isinstance(module, (RNNCell, LSTMCell, GRUCell)):
        cls = {RNNCell: torch.nn.RNNCell, LSTMCell: torch.nn.LSTMCell, GRUCell: torch.nn.GRUCell}[
            next(c for c in (RNNCell, LSTMCell, GRUCell) if isinstance(module, c))
        ]
        kw = dict(input_size=module.input_size, hidden_size=module.hidden_size, bias=module.bias)
        if isinstance(module, RNNCell):
            kw["nonlinearity"] = module.nonlinearity
    elif isinstance(module, Linear):
        cls = torch.nn.Linear
        kw = dict(
            in_features=module.in_features,
            out_features=module.out_features,
            bias=module.bias is not None,
        )
    elif isinstance(module, Embedding):
        cls = torch.nn.Embedding
        kw = dict(
            num_embeddings=module.num_embeddings,
            embedding_dim=module.embedding_dim,
            padding_idx=module.padding_idx,
        )
    else:
        raise TypeError(
            f"to_torch: no torch.nn counterpart for {type(module).__name__}; supported: {_SUPPORTED}. "
            "For a composed model, load its state_dict() into the torch model (the names match)"
        )
    out = cls(**kw, dtype=dtype, device=device)
    with torch.no_grad():
        out.load_state_dict(
            {k: torch.from_numpy(v) for k, v in module.state_dict().items()}, strict=True
        )
    out.train(module.training)
    return out


def from_torch(torch_module: Any, dtype: Any = None, **kwargs: Any) -> Module:
    """The numrnn module equal to a ``torch.nn`` one: same options and weights.

    Args:
        torch_module: a ``torch.nn.RNN``, ``LSTM``, ``GRU``, ``RNNCell``,
            ``LSTMCell``, ``GRUCell``, ``Linear`` or ``Embedding``.
        dtype: ``numpy.float32`` or ``numpy.float64``; None keeps the torch
            module's (which must then be float32 or float64).
        **kwargs: passed to the numrnn constructor (``backend=``, ``device=``).

    Returns:
        the numrnn module, in the torch module's train/eval mode, holding copies
        of its weights (exact when the dtype is kept).

    Raises:
        TypeError: an unsupported module, or a dtype other than float32/float64.
        ValueError: an ``Embedding`` with ``max_norm`` or ``scale_grad_by_freq``,
            which numrnn's Embedding does not implement.
        ImportError: torch is not installed.
    """
    torch = _torch()
    nn = torch.nn
    if not isinstance(torch_module, nn.Module):
        raise TypeError(
            f"from_torch: expected a torch.nn.Module; got {type(torch_module).__name__}"
        )
    dtype = _numpy_dtype(torch_module, dtype)
    out = _numrnn_module(torch_module, dict(dtype=dtype, seed=0, **kwargs))
    m = torch_module
    out.load_state_dict({k: v.detach().cpu().numpy() for k, v in m.state_dict().items()})
    out.train(m.training)
    return out


def _numpy_dtype(torch_module, dtype):
    """``dtype`` checked, or the torch module's dtype when None (float32/float64 only)."""
    if dtype is not None:
        return check_dtype(dtype)
    tparams = list(torch_module.parameters())
    if not tparams:  # pragma: no cover - every supported module has parameters
        raise TypeError("from_torch: the module has no parameters; pass dtype=")
    tdt = str(tparams[0].dtype).replace("torch.", "")
    try:
        return check_dtype(np.dtype(tdt))
    except TypeError:
        raise TypeError(
            f"from_torch: the torch module's dtype is {tdt}; numrnn computes in float32 or "
            "float64: pass dtype=numpy.float32 or numpy.float64"
        ) from None


def _numrnn_module(m, kw):
    """The numrnn module with ``m``'s options (weights not copied yet); ``kw``: dtype, seed, ..."""
    nn = _torch().nn
    if isinstance(m, (nn.LSTM, nn.GRU, nn.RNN)):  # LSTM and GRU before RNN: the same base
        layer = dict(
            bias=m.bias,
            batch_first=m.batch_first,
            dropout=float(m.dropout),
            bidirectional=m.bidirectional,
            **kw,
        )
        if isinstance(m, nn.LSTM):
            return LSTM(m.input_size, m.hidden_size, m.num_layers, proj_size=m.proj_size, **layer)
        if isinstance(m, nn.GRU):
            return GRU(m.input_size, m.hidden_size, m.num_layers, **layer)
        return RNN(m.input_size, m.hidden_size, m.num_layers, nonlinearity=m.nonlinearity, **layer)
    if isinstance(m, nn.RNNCell):
        return RNNCell(m.input_size, m.hidden_size, bias=m.bias, nonlinearity=m.nonlinearity, **kw)
    if isinstance(m, nn.LSTMCell):
        return LSTMCell(m.input_size, m.hidden_size, bias=m.bias, **kw)
    if isinstance(m, nn.GRUCell):
        return GRUCell(m.input_size, m.hidden_size, bias=m.bias, **kw)
    if isinstance(m, nn.Linear):
        return Linear(m.in_features, m.out_features, bias=m.bias is not None, **kw)
    if isinstance(m, nn.Embedding):
        if m.max_norm is not None or m.scale_grad_by_freq:
            raise ValueError(
                "from_torch: numrnn's Embedding has no max_norm or scale_grad_by_freq; got "
                f"max_norm={m.max_norm}, scale_grad_by_freq={m.scale_grad_by_freq}"
            )
        return Embedding(m.num_embeddings, m.embedding_dim, padding_idx=m.padding_idx, **kw)
    raise TypeError(
        f"from_torch: no numrnn counterpart for {type(m).__name__}; supported: {_SUPPORTED}"
    )
