"""What a checkpoint holds besides the parameters, and the checks that it fits the objects.

:func:`numrnn.io.save` writes the random generators' states as JSON
(:func:`generator_state`) and :func:`numrnn.io.load` checks, before anything
changes, that the file fits the model (:func:`check_parameters`), its generators
(:func:`check_generators`), the optimiser (:func:`check_optimizer_layout`) and
the scheduler (:func:`check_scheduler`); every mismatch is a
:class:`~numrnn.checkpoint_format.CheckpointError` naming the file and the problem.
"""

from __future__ import annotations

import copy

import numpy as np

from .checkpoint_files import MODEL as _MODEL
from .checkpoint_files import OPTIM as _OPTIM
from .checkpoint_format import CheckpointError

__all__ = []


def optimizer_params(optimizer):
    """The optimiser's parameters in ``state_dict`` numbering: through the groups, each once."""
    ordered, seen = [], set()
    for group in optimizer.param_groups:
        for p in group["params"]:
            if id(p) not in seen:
                seen.add(id(p))
                ordered.append(p)
    return ordered


def rng_state_to_json(state):
    """A bit generator's ``state`` dict with its arrays turned into tagged lists."""
    if isinstance(state, dict):
        return {k: rng_state_to_json(v) for k, v in state.items()}
    if isinstance(state, np.ndarray):
        return {"__ndarray__": state.tolist(), "dtype": state.dtype.str}
    if isinstance(state, np.integer):
        return int(state)
    return state


def rng_state_from_json(state):
    if isinstance(state, dict):
        if set(state) == {"__ndarray__", "dtype"}:
            return np.array(state["__ndarray__"], dtype=np.dtype(state["dtype"]))
        return {k: rng_state_from_json(v) for k, v in state.items()}
    return state


def generator_state(gen):
    return rng_state_to_json(gen.bit_generator.state)


def model_generators(model):
    """``{"<module path>.<attribute>": Generator}`` for every NumPy Generator the model holds."""
    found = {}
    for mod_name, mod in model.named_modules():
        for attr, value in vars(mod).items():
            if isinstance(value, np.random.Generator):
                found[f"{mod_name}.{attr}" if mod_name else attr] = value
    return found


def fmt_shape(shape):
    shape = tuple(int(s) for s in shape)
    return str(shape)


def check_generator(where, label, gen, state):
    """Dry run: the saved ``state`` must fit ``gen``'s bit generator; returns the decoded state."""
    decoded = rng_state_from_json(state)
    want = type(gen.bit_generator).__name__
    got = decoded.get("bit_generator") if isinstance(decoded, dict) else None
    if got != want:
        raise CheckpointError(f"{where}: {label} was a {got} generator; this one is a {want}")
    try:
        type(gen.bit_generator)().state = decoded
    except (TypeError, ValueError, KeyError, OverflowError) as err:
        raise CheckpointError(f"{where}: the saved state of {label} is invalid ({err})") from None
    return decoded


def check_names(where, what, own, saved):
    """``saved`` must hold exactly the names of ``own``; else ``what``, and the differences."""
    missing = [n for n in own if n not in saved]
    unexpected = [n for n in saved if n not in own]
    if missing or unexpected:
        raise CheckpointError(f"{where}: {what}: missing {missing}, unexpected {unexpected}")


def check_parameters(ck, model):
    """The saved parameters must be the model's: same names, same shapes, float dtypes."""
    where, saved = ck.where, ck.header["model"]["parameters"]
    own = dict(model.named_parameters(remove_duplicate=False))  # every name save() wrote
    what = (
        f"the parameters do not match the model ({type(model).__name__}, the file's is "
        f"{ck.header['model']['class']})"
    )
    check_names(where, what, own, saved)
    for name, p in own.items():
        dtype, shape = ck.layouts[_MODEL + name]
        if shape != tuple(p.shape):
            raise CheckpointError(
                f"{where}: parameter {name!r} has shape {fmt_shape(shape)}, "
                f"the model expects {fmt_shape(p.shape)}"
            )
        if dtype.kind != "f":
            raise CheckpointError(f"{where}: parameter {name!r} has non-float dtype {dtype}")
    return own


def check_entry(where, kind, a_kind, entry, obj):
    """The file must hold a state of ``kind`` (``"optimiser"``, ...) saved from ``obj``'s class."""
    if entry is None:
        raise CheckpointError(f"{where}: holds no {kind} state, but {a_kind} was given")
    if entry["class"] != type(obj).__name__:
        raise CheckpointError(
            f"{where}: the {kind} state is {entry['class']}'s; the {kind} given is a "
            f"{type(obj).__name__}"
        )


def check_scheduler(where, entry, scheduler):
    """The saved scheduler state, after a dry run on a shallow copy of ``scheduler``."""
    check_entry(where, "scheduler", "a scheduler", entry, scheduler)
    try:
        copy.copy(scheduler).load_state_dict(entry["state"])
    except (ValueError, TypeError, KeyError, OverflowError) as err:
        raise CheckpointError(f"{where}: the scheduler state does not fit: {err}") from None
    return entry["state"]


def check_optimizer_layout(ck, model, optimizer):
    """The saved optimiser entry must cover ``optimizer``'s parameters, in order, with their shapes."""
    if optimizer is None:
        return None
    where, entry = ck.where, ck.header["optimizer"]
    check_entry(where, "optimiser", "an optimiser", entry, optimizer)
    names = {id(p): n for n, p in model.named_parameters()}
    ordered = optimizer_params(optimizer)
    saved_names = entry["param_names"]
    if len(saved_names) != len(ordered):
        raise CheckpointError(
            f"{where}: the optimiser state covers {len(saved_names)} parameter(s); the optimiser "
            f"given has {len(ordered)}"
        )
    for i, (p, saved_name, saved_shape) in enumerate(
        zip(ordered, saved_names, entry["param_shapes"])
    ):
        name = names.get(id(p))
        if name != saved_name:
            raise CheckpointError(
                f"{where}: the optimiser's parameter {i} is {name!r} here but {saved_name!r} in the "
                "checkpoint (build the optimiser over the parameters in the same order)"
            )
        if tuple(saved_shape) != tuple(p.data.shape):
            raise CheckpointError(
                f"{where}: the optimiser's parameter {i} ({name!r}) has shape {fmt_shape(p.data.shape)}; "
                f"the checkpoint's has {fmt_shape(saved_shape)}"
            )
    for idx, item in entry["state"].items():
        for key in item["arrays"]:
            shape = ck.layouts[f"{_OPTIM}{idx}/{key}"][1]
            if shape != tuple(ordered[int(idx)].data.shape):
                raise CheckpointError(
                    f"{where}: optimiser state {key!r} of parameter {idx} has shape "
                    f"{fmt_shape(shape)}; the parameter has {fmt_shape(ordered[int(idx)].data.shape)}"
                )
    return entry


def optimizer_state_dict(ck, entry):
    """Rebuild the optimiser's ``state_dict`` from the (checked) header entry, reading its arrays."""
    state = {}
    for idx, item in entry["state"].items():
        st = dict(item["numbers"])
        for key in item["arrays"]:
            st[key] = ck.read(f"{_OPTIM}{idx}/{key}")
        state[int(idx)] = st
    groups = []
    for g in entry["param_groups"]:
        g = dict(g)
        if isinstance(g.get("betas"), list):
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    return {"state": state, "param_groups": groups}


def check_generators(where, saved, gens):
    """The saved generator states must be the model's generators'; returns them decoded."""
    check_names(where, "the random generators do not match the model's", gens, saved)
    return {n: check_generator(where, f"generator {n!r}", g, saved[n]) for n, g in gens.items()}


def read_parameters(ck, own):
    """Read the (checked) parameters ``own`` from ``ck``: ``{name: array}``.

    A shared (tied) Parameter is saved under each of its names: the copies must agree.
    """
    params = {name: ck.read(_MODEL + name) for name in own}
    first = {}
    for name, p in own.items():
        other = first.setdefault(id(p), name)
        if other != name and not np.array_equal(params[name], params[other], equal_nan=True):
            raise CheckpointError(
                f"{ck.where}: {other!r} and {name!r} are one shared parameter in the model, but "
                "the file holds different values under the two names"
            )
    return params
