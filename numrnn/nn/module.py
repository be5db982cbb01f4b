"""``Module`` and ``Parameter``: the containers every layer is built from.

A :class:`Parameter` holds ``.data`` and ``.grad`` (same shape and dtype); the
hand-written backward passes *accumulate* into ``.grad`` until ``zero_grad()``.
A :class:`Module` registers parameters and submodules assigned as attributes,
names them the way PyTorch does (``rnn.weight_ih_l0``), moves state in and out
with ``state_dict()`` / ``load_state_dict()``, and keeps the forward caches that
its ``backward`` consumes, last in, first out.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ..backend import Array, get_backend, is_torch_tensor, to_numpy
from ..rng import make_rng

__all__ = [
    "Module",
    "Parameter",
    "backend_pass",
    "check_dtype",
    "eval_mode",
    "is_grad_enabled",
    "make_rng",
    "no_grad",
]

_GRAD_ENABLED = [True]


class no_grad:
    """Context manager: forwards inside it keep no cache (inference, sampling).

    ``with numrnn.no_grad(): logits = model(x)`` runs the forward without storing
    what a backward would need, so nothing accumulates in long generation loops.
    """

    def __enter__(self):
        self._prev = _GRAD_ENABLED[0]
        _GRAD_ENABLED[0] = False
        return self

    def __exit__(self, *exc):
        _GRAD_ENABLED[0] = self._prev
        return False


@contextlib.contextmanager
def eval_mode(module: Module) -> Iterator[Module]:
    """Context manager: ``module`` and every submodule in eval mode, each restored after.

    ``with eval_mode(model), no_grad(): ...`` is how evaluation and decoding run:
    dropout is off inside, and on leaving (normally or by an exception) every
    submodule gets back its own ``training`` flag, even where they differed.
    ``module`` is a :class:`Module` or any object with ``training``, ``eval()``
    and ``train(mode)``.  Yields the module.
    """
    modules = list(module.modules()) if isinstance(module, Module) else [module]
    saved = [m.training for m in modules]
    module.eval()
    try:
        yield module
    finally:
        # parents come before their children, so each ends with its own flag
        for m, mode in zip(modules, saved):
            m.train(mode)


def is_grad_enabled():
    """False inside ``numrnn.no_grad()``."""
    return _GRAD_ENABLED[0]


_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype):
    """Return ``dtype`` as a NumPy float dtype, or raise ``TypeError``."""
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64; got {dtype!r}") from err
    if dt not in _FLOAT_DTYPES:
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64; got {dt}")
    return dt


def real_array(value, what, kinds="fiu"):
    """``value`` (NumPy array, torch tensor, number or nested list) as a real NumPy array.

    ``kinds`` lists the accepted NumPy dtype kinds (``f`` float, ``i``/``u``
    integers, ``b`` bool).  ``what`` names the value in the messages.

    Raises:
        TypeError: ``None``, a string, an object or complex array, a bfloat16
            or meta tensor, or anything NumPy cannot turn into a numeric array.
    """
    if value is None:
        raise TypeError(f"{what} is None; expected an array of numbers")
    if is_torch_tensor(value):
        if value.is_meta:
            raise TypeError(f"{what} is a torch meta tensor, which holds no values")
        if str(value.dtype) == "torch.bfloat16":
            raise TypeError(
                f"{what} is a torch bfloat16 tensor, which NumPy cannot hold; convert it "
                "first (tensor.float())"
            )
        if value.is_complex():
            raise TypeError(f"{what} is complex ({value.dtype}); expected real numbers")
    try:
        arr = to_numpy(value)
    except (TypeError, ValueError, RuntimeError, NotImplementedError) as err:
        raise TypeError(
            f"{what} cannot be read as an array of numbers ({type(value).__name__}: {err})"
        ) from None
    if arr.dtype.kind not in kinds:
        raise TypeError(f"{what} must hold numbers (real ones); got dtype {arr.dtype}")
    return arr


def cast_checked(arr, dtype, what):
    """A copy of ``arr`` in ``dtype``; ``ValueError`` if a finite value overflows it."""
    with np.errstate(over="raise", invalid="raise"):
        try:
            return np.array(arr, dtype=dtype, copy=True)
        except FloatingPointError:
            raise ValueError(
                f"{what} holds values beyond the range of {np.dtype(dtype)} "
                f"(largest {np.finfo(dtype).max:.3g})"
            ) from None


class Parameter:
    """A trainable array and the gradient accumulated for it.

    Attributes:
        data: the values, a NumPy array (or a torch tensor on the torch backend).
        grad: same shape and dtype as ``data``; backward passes add into it.
    """

    __slots__ = ("data", "grad")

    def __init__(self, data: Array, grad: Array | None = None) -> None:
        self.data = data
        self.grad = grad if grad is not None else _zeros_like(data)

    @property
    def shape(self):
        return tuple(self.data.shape)

    @property
    def dtype(self):
        return self.data.dtype

    def zero_grad(self):
        self.grad[...] = 0

    def __repr__(self):
        return f"Parameter(shape={self.shape}, dtype={self.dtype})"


def uniform_parameter(rng, fan_in, shape, dtype):
    r"""A :class:`Parameter` drawn from :math:`U(-k, k)`, :math:`k = 1/\sqrt{\text{fan\_in}}`.

    PyTorch's initialisation of ``nn.Linear`` and of the recurrent layers (whose
    ``fan_in`` is ``hidden_size``); one ``rng.uniform`` call of ``shape``, cast to ``dtype``.
    """
    k = 1.0 / math.sqrt(fan_in)
    return Parameter(rng.uniform(-k, k, shape).astype(dtype))


def _zeros_like(x):
    if is_torch_tensor(x):
        return get_backend("torch", str(x.device)).zeros_like(x)
    return np.zeros_like(x)


def backend_pass(method: Callable) -> Callable:
    """Decorate a module's ``forward`` or ``backward`` to run in its backend's context.

    On the NumPy backend this is a plain call.  On the torch backend the
    hand-written pass runs under ``torch.no_grad()``, so no graph is built even
    when a caller hands in a tensor that requires grad; and a module whose
    ``fused`` attribute is True runs its pointwise kernels compiled by
    ``torch.compile`` (see :meth:`numrnn.backend.TorchOps.fused`).  Every layer
    that computes on its arrays writes ``@backend_pass`` above both passes; a
    module that only calls its submodules needs nothing.
    """

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        if self._ops.name == "numpy":
            return method(self, *args, **kwargs)
        with self._ops.running(fused=self.__dict__.get("fused", False)):
            return method(self, *args, **kwargs)

    return run


class Module:
    """Base class of every layer and model.

    Subclasses create their parameters in ``__init__`` by attribute assignment
    (``self.weight = Parameter(...)``), likewise submodules, and implement
    ``forward`` and ``backward``.  Calling the module calls ``forward``.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_caches", [])
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_ops", get_backend("numpy"))

    # -- registration -----------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}.__init__ must call super().__init__() before assigning {name!r}"
            )
        params, modules = self.__dict__["_parameters"], self.__dict__["_modules"]
        # a name assigned again keeps its place (tying ``out.weight = emb.weight`` keeps
        # PyTorch's parameter order)
        if isinstance(value, Parameter):
            modules.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            modules[name] = value
        else:
            params.pop(name, None)
            modules.pop(name, None)
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__
        if "_parameters" in d and name in d["_parameters"]:
            return d["_parameters"][name]
        if "_modules" in d and name in d["_modules"]:
            return d["_modules"][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    # -- traversal ----------------------------------------------------------------
    def named_modules(self, prefix=""):
        """Yield ``(name, module)`` for this module and every submodule, depth first."""
        yield prefix, self
        for name, mod in self._modules.items():
            yield from mod.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def children(self):
        return iter(self._modules.values())

    def named_parameters(
        self, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Yield ``(name, Parameter)`` in PyTorch's order: own first, then submodules'.

        A Parameter shared by several modules (tied weights, say an embedding
        and an output layer holding the same ``weight``) is yielded once, under
        the first name met, as in PyTorch; ``remove_duplicate=False`` yields
        it under every name (what :meth:`state_dict` lists).
        """
        seen = set()
        for mod_name, mod in self.named_modules(prefix):
            for name, p in mod._parameters.items():
                if remove_duplicate:
                    if id(p) in seen:
                        continue
                    seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> list[Parameter]:
        """Every Parameter once, in :meth:`named_parameters` order (shared ones once)."""
        return [p for _, p in self.named_parameters()]

    # -- state ------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """``OrderedDict`` of parameter name -> a NumPy copy of its values.

        As in PyTorch, a shared Parameter appears under each of its names.
        """
        return OrderedDict(
            (n, to_numpy(p.data).copy()) for n, p in self.named_parameters(remove_duplicate=False)
        )

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> None:
        """Copy values from ``state_dict`` (NumPy arrays or torch tensors) into the parameters.

        Every entry is checked, and converted to the parameter's dtype, before
        any parameter changes: when an error is raised the module is as it was.
        A value must be real numbers (float, int or bool; NumPy arrays, torch
        tensors on any device but ``meta``, or nested lists) whose values fit
        the parameter's dtype (a float64 ``1e300`` does not fit float32).

        Raises:
            TypeError: ``state_dict`` is not a mapping, or a value is ``None``,
                a string, an object array, complex, a bfloat16 or meta tensor
                (the message names the key and what was given).
            ValueError: a key is missing or unexpected (with ``strict``), a
                shape differs (the message names the key, the expected and the
                given shape), or a value overflows the parameter's dtype.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict: state_dict must be a mapping of name -> array; "
                f"got {type(state_dict).__name__}"
            )
        own = OrderedDict(self.named_parameters(remove_duplicate=False))
        if strict:
            missing = [k for k in own if k not in state_dict]
            unexpected = [k for k in state_dict if k not in own]
            if missing or unexpected:
                raise ValueError(
                    f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}"
                )
        staged = []
        for name, p in own.items():
            if name not in state_dict:
                continue
            what = f"load_state_dict: {name!r}"
            value = real_array(state_dict[name], what, kinds="fiub")
            if tuple(value.shape) != p.shape:
                raise ValueError(f"{what} expected shape {p.shape}, got {tuple(value.shape)}")
            staged.append((p, cast_checked(value, self._ops.numpy_dtype(p.data), what)))
        for p, value in staged:
            p.data[...] = self._ops.asarray(value)

    @property
    def param_dtype(self):
        """The NumPy dtype of this module's parameters (float32 when it has none)."""
        for _, p in self.named_parameters():
            return self._ops.numpy_dtype(p.data)
        return np.dtype(np.float32)

    # -- training utilities ---------------------------------------------------
    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    # -- backends ---------------------------------------------------------------
    @property
    def backend(self):
        return self._ops.name

    @property
    def device(self):
        return str(self._ops.device)

    def to(self, backend: str | None = None, device: str | None = None) -> Module:
        """Move parameters and gradients to ``backend`` ("numpy" or "torch") on ``device``.

        Pending forward caches are dropped: they belong to the old arrays.
        """
        if backend is None:
            backend = "torch" if device not in (None, "cpu") else self.backend
        new = get_backend(backend, device)
        for m in self.modules():
            for p in m._parameters.values():
                p.data = new.asarray(p.data)
                p.grad = new.asarray(p.grad)
            object.__setattr__(m, "_ops", new)
            m._caches.clear()
        return self

    def _init_backend(self, opts):
        """Called by constructors last, after creating parameters as NumPy arrays.

        Moves them to the backend and device of ``opts``, the constructor's options
        checked by :func:`numrnn.nn.options.module_options`.
        """
        if opts.backend != "numpy":
            self.to(backend=opts.backend, device=opts.device)

    # -- forward caches -----------------------------------------------------------
    def _push_cache(self, cache):
        if _GRAD_ENABLED[0]:
            self._caches.append(cache)

    def _pop_cache(self):
        if not self._caches:
            raise RuntimeError(
                f"{type(self).__name__}.backward called with no pending forward: "
                "call the module (forward) first; each forward allows one backward"
            )
        return self._caches.pop()

    def clear_caches(self):
        """Forget every pending forward of this module and its submodules."""
        for m in self.modules():
            m._caches.clear()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        """Back-propagate through the newest pending forward, the contract of every module.

        ``backward`` takes the gradient of the loss with respect to what that forward
        returned (same shapes), consumes its cache (last in, first out), adds the
        parameter gradients into ``.grad`` and returns the gradients of the inputs.  A
        gradient it refuses changes nothing: nothing is cast, no ``.grad`` is touched and
        the forward stays pending.  Each module's ``backward`` names its arguments and
        shapes and refers here for these errors.

        Raises:
            RuntimeError: no forward is pending.
            TypeError: an upstream gradient is not an array of the module's backend and dtype.
            ValueError: an upstream gradient does not have the shape of the forward's result.
        """
        raise NotImplementedError

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, mod in self._modules.items():
            sub = repr(mod).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        if len(lines) == 1:
            return lines[0] + ")"
        return "\n".join(lines) + "\n)"
