"""The keyword options every module constructor takes, said once: :class:`ModuleOptions`.

A layer or model is built as ``Layer(<its own arguments>, **options)``; the options are
the same five for every module, so each constructor writes ``**options:
Unpack[ModuleOptions]`` instead of repeating them, and starts with::

    super().__init__()
    opts = module_options("Linear", options)  # checked, defaults filled in
    ...                                       # check its own arguments
    weight = uniform_parameter(opts.rng, fan_in, shape, opts.dtype)
    ...
    self._init_backend(opts)                  # last: move the parameters to the backend

:func:`module_options` checks every option before the constructor draws a random number
or creates a parameter, so a refused option leaves the caller's ``rng`` untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
from numpy.typing import DTypeLike

from ..backend import get_backend
from ..rng import make_rng
from .module import check_dtype

__all__ = ["CheckedOptions", "ModuleOptions", "module_options"]


class ModuleOptions(TypedDict, total=False):
    """The keywords every module's constructor accepts after its own arguments (``**options``).

    Each may be left out; its default is in its comment.
    """

    # numpy.float32 (default) or numpy.float64: the parameters' dtype, which every input
    # must then have (nothing is cast)
    dtype: DTypeLike
    # an int seed for the initial weights; default None: fresh entropy (not with rng)
    seed: int | None
    # a numpy.random.Generator to draw the initial weights from, sharing its stream with
    # the caller, or an int seed; default None (not with seed)
    rng: np.random.Generator | int | None
    # "numpy" (default) or "torch": the array namespace forward and backward run on
    backend: str
    # the torch device ("cpu", "cuda", "cuda:1"); default None: the CPU
    device: str | None


@dataclass(frozen=True)
class CheckedOptions:
    """:class:`ModuleOptions` after :func:`module_options`: checked, every default filled in."""

    dtype: np.dtype  # float32 or float64
    rng: np.random.Generator  # where the initial weights come from
    backend: str  # "numpy" or "torch"
    device: str | None


def module_options(
    owner: str, options: Mapping[str, Any], accepted: type = ModuleOptions
) -> CheckedOptions:
    """Check a constructor's ``**options`` and fill in the defaults of :class:`ModuleOptions`.

    Args:
        owner: the class name the messages start with.
        options: the keyword arguments the constructor received beyond its own.
        accepted: the TypedDict that lists the keywords the class takes, named in the
            message for an unknown one: :class:`ModuleOptions`, or a subclass of it for a
            class with a keyword of its own (``RecurrentOptions`` adds ``fused``), which
            that class has taken out of ``options`` before the call.

    Raises:
        TypeError: a keyword is not an option (the message names it and lists those
            accepted, as Python does for an unexpected keyword argument), ``dtype`` is not
            float32 or float64, or ``seed`` / ``rng`` is of the wrong type.
        ValueError: both ``seed`` and ``rng``; a ``backend`` other than "numpy" and
            "torch", or ``backend="numpy"`` on a ``device`` other than the CPU.
        ImportError: ``backend="torch"`` without PyTorch installed.
    """
    for key in options:
        if key not in ModuleOptions.__annotations__:
            raise TypeError(
                f"{owner}() got an unexpected keyword argument {key!r}; besides its own "
                f"arguments it takes {', '.join(accepted.__annotations__)}"
            )
    dtype = check_dtype(options.get("dtype", np.float32))
    rng = make_rng(options.get("seed"), options.get("rng"))
    backend, device = options.get("backend", "numpy"), options.get("device")
    get_backend(backend, device)  # checks the names (and imports torch for "torch")
    return CheckedOptions(dtype, rng, backend, device)
