"""``Optimizer``: parameter groups, per-parameter state, ``state_dict`` in PyTorch's shape.

Every optimiser in :mod:`numrnn.optim` derives from :class:`Optimizer`, hands
its hyperparameters to it as ``defaults`` and implements ``_update(group,
params)`` (the update rule for the parameters of one group).  The base class
keeps everything else: checking each hyperparameter by its row of
:data:`~numrnn.optim.hyperparameters.HYPERPARAMETER_CHECKS` (on the defaults,
on every group added and on every group loaded), building the groups, the
state of each parameter, ``zero_grad``, ``step`` and moving the state in and
out.  An optimiser whose hyperparameters also constrain one another (SGD's
``nesterov``) adds that rule in ``_check_group``.

Updates are written against ``numrnn.backend.ops(p.data)`` and operator syntax
and write into ``p.data`` in place, so they run unchanged when ``.data`` and
``.grad`` are torch tensors.  The order of floating-point operations follows
``torch.optim``'s single-tensor code path, so parameters agree with PyTorch to
a few units in the last place after any number of steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..backend import ops
from ..nn.module import Parameter, cast_checked, real_array
from .hyperparameters import HYPERPARAMETER_CHECKS, check_real
from .state_checks import (
    NONNEGATIVE_STATE,
    _is_array,
    _is_finite,
    _is_number,
    check_hyperparameter,
    loaded_step,
    short,
)

__all__ = ["Optimizer", "check_real", "effective_grad", "lerp_"]

#: what an optimiser takes: Parameters, or parameter groups (dicts with "params")
Params = Iterable[Parameter] | Iterable[dict]


def effective_grad(p, weight_decay, maximize):
    r"""The gradient the update rules use: :math:`g = \pm\nabla + \lambda\,\theta`.

    Returns ``p.grad`` itself when there is neither weight decay nor
    ``maximize`` (callers must then not write into it), otherwise a new array
    ``(-grad if maximize else grad) + weight_decay * p.data``, computed with
    one allocation.
    """
    g = p.grad
    if weight_decay != 0:
        out = p.data * weight_decay  # the sum is commutative: same bits as grad + wd * param
        if maximize:
            out -= g
        else:
            out += g
        return out
    if maximize:
        return -g
    return g


def lerp_(a, b, weight, work=None):
    r"""In place ``a <- a + weight (b - a)``, rounded as ``torch.lerp`` rounds it.

    PyTorch evaluates :math:`a + w(b - a)` when :math:`|w| < 0.5` and
    :math:`b - (b - a)(1 - w)` otherwise; both branches are reproduced here so
    that moving averages agree bit for bit (up to fused multiply-adds).
    ``work``, an array like ``a``, is used as scratch space instead of
    allocating one; it is overwritten.
    """
    xp = ops(a)
    if work is None:
        d = b - a
    else:
        d = xp.multiply(a, -1, out=work)
        d += b  # -a + b  ==  b - a exactly
    if abs(weight) < 0.5:
        d *= weight
        a += d
    else:
        d *= 1 - weight
        d -= b  # (b - a)(1 - w) - b  ==  -(b - (b - a)(1 - w)) exactly
        xp.multiply(d, -1, out=a)
    return a


class Optimizer:
    """Base class of the optimisers.

    Args:
        params: an iterable of :class:`numrnn.nn.module.Parameter`, or an
            iterable of dicts (parameter groups), each with a ``"params"`` entry
            and optionally its own hyperparameters overriding ``defaults``.
        defaults: the hyperparameters of groups that do not set their own, by
            name, each checked by its row of ``HYPERPARAMETER_CHECKS``.

    Attributes:
        param_groups: list of dicts, each with ``"params"`` (a list of
            Parameters) and every hyperparameter (``"lr"``, ...); schedulers
            change ``"lr"`` here and record ``"initial_lr"``.
        state: dict mapping each Parameter that has been stepped to a dict of
            its state (arrays of the parameter's backend and dtype, and numbers).

    Raises:
        TypeError: ``params`` is a single Parameter, or holds something that is
            not a Parameter.
        ValueError: ``params`` is empty, a parameter is in two groups, or a
            hyperparameter is out of range.
    """

    #: names of the state entries that are arrays shaped like the parameter
    _state_arrays: tuple = ()

    def __init__(self, params: Params, defaults: dict) -> None:
        self.defaults = dict(defaults)
        self._check_group(self.defaults)
        self.state = {}
        self.param_groups = []
        if isinstance(params, (Parameter, dict)) or _is_array(params):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Parameters or of dicts "
                f"(parameter groups); got a single {type(params).__name__}"
            )
        try:
            groups = list(params)
        except TypeError as err:
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Parameters or of dicts; "
                f"got {type(params).__name__}"
            ) from err
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # -- groups -------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group (a dict with ``"params"`` and optional hyperparameters).

        Missing hyperparameters are taken from the optimiser's defaults.

        Raises:
            TypeError: ``param_group`` is not a dict, or its params are not Parameters.
            ValueError: no ``"params"`` key, an empty group, a parameter already
                in another group, or a hyperparameter out of range.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{name}: a parameter group must be a dict; got {type(param_group).__name__}"
            )
        if "params" not in param_group:
            raise ValueError(
                f"{name}: a parameter group needs a 'params' entry; got keys {sorted(param_group)}"
            )
        params = param_group["params"]
        if isinstance(params, Parameter):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: a group's params must be an ordered sequence, not a set")
        params = list(params)
        if not params:
            raise ValueError(f"{name}: parameter group {len(self.param_groups)} has no parameters")
        for i, p in enumerate(params):
            if not isinstance(p, Parameter):
                raise TypeError(
                    f"{name}: params must be numrnn Parameters; item {i} of group "
                    f"{len(self.param_groups)} is a {type(p).__name__}"
                )
        # A Parameter listed twice in one group (tied weights listed by hand) is kept once,
        # so that it is updated once per step; one shared by two groups is an error, as in torch.
        params = list({id(p): p for p in params}.values())  # first occurrence, in order
        seen = set()
        for g in self.param_groups:
            seen.update(id(p) for p in g["params"])
        if seen.intersection(id(p) for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        group = dict(self.defaults)
        group.update({k: v for k, v in param_group.items() if k != "params"})
        self._check_group(group)
        group["params"] = params
        self.param_groups.append(group)

    def _check_group(self, group):
        """Check ``group``'s value of each of the optimiser's hyperparameters, in order.

        Runs the row of ``HYPERPARAMETER_CHECKS`` of every hyperparameter in
        ``defaults`` and keeps the value it returns (``betas`` becomes a tuple).
        Keys the optimiser does not have are left as they are.

        Raises:
            ValueError: at the first hyperparameter out of range, naming the
                optimiser, the hyperparameter, the allowed range and the value.
        """
        owner = type(self).__name__
        for name in self.defaults:
            group[name] = HYPERPARAMETER_CHECKS[name](owner, name, group[name])

    # -- the training loop ---------------------------------------------------------
    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero, in place (the arrays are kept)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.zero_grad()

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Update every parameter that has a gradient, once.

        Args:
            closure: optional callable that recomputes the loss (and the
                gradients) and returns the loss; it is called first.

        Returns:
            the closure's loss, or ``None`` without a closure.

        Raises:
            ValueError: a gradient's shape differs from its parameter's
                (checked for every parameter before any is changed).
        """
        loss = closure() if closure is not None else None
        name = type(self).__name__
        for gi, group in enumerate(self.param_groups):
            for pi, p in enumerate(group["params"]):
                if p.grad is not None and tuple(p.grad.shape) != tuple(p.data.shape):
                    raise ValueError(
                        f"{name}.step: parameter {pi} of group {gi} has shape {tuple(p.data.shape)} "
                        f"but its grad has shape {tuple(p.grad.shape)}"
                    )
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                self._follow_parameter(p)
            if params:
                self._update(group, params)
        return loss

    def _follow_parameter(self, p):
        """Move ``p``'s state arrays to ``p``'s backend and device if the module was moved.

        After ``module.to(backend=..., device=...)`` the Parameters hold arrays of
        the new kind; their optimiser state follows on the next step (or at once
        with :meth:`to`), so training continues exactly where it was.
        """
        st = self.state.get(p)
        if not st:
            return
        xp = ops(p.data)
        for key, value in st.items():
            if _is_array(value) and (ops(value) != xp or type(value) is not type(p.data)):
                st[key] = xp.asarray(value)

    def to(self):
        """Move every state array to where its parameter now lives (see :meth:`_follow_parameter`).

        An optimiser has no backend of its own: it follows its parameters.
        """
        for group in self.param_groups:
            for p in group["params"]:
                self._follow_parameter(p)
        return self

    def _update(self, group, params):  # pragma: no cover - abstract
        raise NotImplementedError

    def _state(self, p):
        """The state dict of ``p`` (created empty on first use)."""
        st = self.state.get(p)
        if st is None:
            st = self.state[p] = {}
        return st

    def _zeroed_state(self, p, group):
        """The state dict of ``p``; on first use ``step = 0`` and a zero array like ``p``
        for every other entry of ``_required_state(group)``."""
        st = self._state(p)
        if not st:
            st["step"] = 0
            for name in self._required_state(group):
                if name != "step":
                    st[name] = ops(p.data).zeros_like(p.data)
        return st

    # -- state in and out ------------------------------------------------------------
    def state_dict(self) -> dict:
        """A copy of the optimiser's state, in ``torch.optim``'s layout.

        Returns:
            ``{"state": {index: {name: array or number}}, "param_groups":
            [{hyperparameters..., "params": [index, ...]}]}`` where parameters
            are numbered in order through the groups.  Arrays are copies in the
            parameter's backend; mutating the result never changes the optimiser.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state.get(p)
                if st:
                    state[index[id(p)]] = {
                        k: (ops(v).copy(v) if _is_array(v) else v) for k, v in st.items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Replace hyperparameters and state with those of ``state_dict``.

        Accepts what :meth:`state_dict` returns (also the layout of a
        ``torch.optim`` state dict, with tensors).  Arrays are copied into the
        backend and dtype of the parameter they belong to; a saved ``step``
        becomes an int.  Everything is checked before anything changes.

        A saved hyperparameter must be of the kind the optimiser's own is (a
        bool stays a bool, a number a finite number, ``betas`` a pair of
        numbers); ``step`` is a whole number in ``[0, 2**53]`` (beyond that a
        float64 cannot count); a state array holds real numbers (float or
        integer, never complex: nothing is cast silently) that fit the
        parameter's dtype, and sums of squares (``exp_avg_sq``,
        ``max_exp_avg_sq``, ``square_avg``, ``sum``) are not negative.

        Raises:
            ValueError: the layout is wrong, the number of groups or of
                parameters in a group differs, a state index is unknown, a
                state array's shape differs from its parameter's, a required
                state entry is missing, a hyperparameter or ``step`` is invalid
                or out of range; the message names the group or the parameter
                index and the key.
            TypeError: a state array that is not real numbers (complex, bool,
                strings, objects, a bfloat16 or meta tensor, ``None`` where an
                array belongs), naming the parameter index and the key.
        """
        name = f"{type(self).__name__}.load_state_dict"
        if (
            not isinstance(state_dict, dict)
            or "state" not in state_dict
            or "param_groups" not in state_dict
        ):
            raise ValueError(f"{name}: expected a dict with 'state' and 'param_groups'")
        saved_groups = state_dict["param_groups"]
        saved_state = state_dict["state"]
        if not isinstance(saved_state, dict):
            raise ValueError(f"{name}: 'state' must be a dict; got {type(saved_state).__name__}")
        if not isinstance(saved_groups, (list, tuple)) or len(saved_groups) != len(
            self.param_groups
        ):
            got = len(saved_groups) if isinstance(saved_groups, (list, tuple)) else saved_groups
            raise ValueError(
                f"{name}: the saved state has {got!r} parameter group(s); "
                f"this optimiser has {len(self.param_groups)}"
            )
        by_index = {}
        new_groups = []
        for gi, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            new_groups.append(self._loaded_group(name, gi, group, saved, by_index))
        group_of = {id(p): g for g in new_groups for p in g["params"]}
        new_state = {}
        for idx, entries in saved_state.items():
            if isinstance(idx, bool) or idx not in by_index:
                raise ValueError(f"{name}: state for parameter index {idx!r}, which no group lists")
            if not isinstance(entries, dict):
                raise ValueError(f"{name}: state of parameter {idx} must be a dict")
            p = by_index[idx]
            st = {}
            for key, value in entries.items():
                if value is None:
                    continue  # torch's SGD stores an unset momentum buffer as None
                st[key] = self._loaded_value(name, idx, key, value, p)
            missing = [k for k in self._required_state(group_of[id(p)]) if k not in st]
            if st and missing:
                raise ValueError(f"{name}: state of parameter {idx} lacks {missing}")
            new_state[p] = st
        self.param_groups = new_groups
        self.state = new_state

    def _loaded_group(self, name, gi, group, saved, by_index):
        """The group ``gi`` merged with its saved hyperparameters, checked; fills ``by_index``."""
        if not isinstance(saved, dict) or not isinstance(saved.get("params"), (list, tuple)):
            raise ValueError(f"{name}: saved group {gi} must be a dict with a 'params' list")
        if len(saved["params"]) != len(group["params"]):
            raise ValueError(
                f"{name}: saved group {gi} has {len(saved['params'])} parameter(s); "
                f"this optimiser's group {gi} has {len(group['params'])}"
            )
        for idx, p in zip(saved["params"], group["params"]):
            if isinstance(idx, bool) or not isinstance(idx, int) or idx in by_index:
                raise ValueError(
                    f"{name}: saved group {gi} lists the parameter index {idx!r}, which is not an "
                    "int or is listed twice"
                )
            by_index[idx] = p
        for key, value in saved.items():
            if key != "params":
                check_hyperparameter(f"{name}: saved group {gi}", key, value, group.get(key))
        merged = dict(group)
        merged.update({k: v for k, v in saved.items() if k != "params"})
        merged["params"] = group["params"]
        try:
            self._check_group(merged)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{name}: saved group {gi}: {err}") from None
        return merged

    def _loaded_value(self, name, idx, key, value, p):
        """One saved state entry of parameter ``idx``, checked, as the optimiser will hold it."""
        what = f"{name}: state {key!r} of parameter {idx}"
        if key == "step":
            return loaded_step(what, value)
        if key in self._state_arrays and _is_array(value):
            arr = real_array(value, what, kinds="fiu")
            if tuple(arr.shape) != tuple(p.data.shape):
                raise ValueError(
                    f"{what} has shape {tuple(arr.shape)}; the parameter has shape "
                    f"{tuple(p.data.shape)}"
                )
            xp = ops(p.data)
            arr = cast_checked(arr, xp.numpy_dtype(p.data), what)
            if key in NONNEGATIVE_STATE and bool((arr < 0).any()):
                raise ValueError(f"{what} is a sum of squares but holds negative values")
            return xp.asarray(arr)  # cast_checked made a copy: nothing shared with the caller
        if _is_number(value) and _is_finite(value):
            return value
        raise ValueError(
            f"{what} must be one of {list(self._state_arrays) + ['step']} or a finite number; "
            f"got {short(value)}"
        )

    def _required_state(self, group):
        """State entries a stepped parameter must have under ``group``'s settings."""
        return ()

    # -- display -------------------------------------------------------------------
    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)
