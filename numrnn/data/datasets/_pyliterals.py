"""Read the name tables of a ``faker`` provider module without importing faker.

faker's person providers are class bodies of assignments such as::

    last_names = ("Abbott", "Abernathy", ...)
    last_names = OrderedDict((("Smith", 0.0217), ("Johnson", 0.0169), ...))
    first_names = first_names_male + first_names_female
    last_romanized_names = tuple(map(itemgetter(2), last_name_pairs))

:func:`class_tables` evaluates exactly these forms with ``ast`` (literals,
``OrderedDict``/``dict``/``tuple``/``list``/``set`` of a literal, ``+`` of known
names, ``name.copy()`` and ``tuple(map(itemgetter(k), name))``) and skips
everything else.  No code from the file is executed.
"""

from __future__ import annotations

import ast

__all__ = ["class_tables"]

_CONTAINERS = {"OrderedDict": dict, "dict": dict, "tuple": tuple, "list": list, "set": set}


class _Skip(Exception):
    pass


def _eval(node, env):
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        raise _Skip
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        a, b = _eval(node.left, env), _eval(node.right, env)
        if isinstance(a, dict) and isinstance(b, dict):
            return {**a, **b}
        if isinstance(a, dict) or isinstance(b, dict):
            raise _Skip
        return tuple(a) + tuple(b)
    if isinstance(node, ast.Call) and not node.keywords:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "copy" and not node.args:
            v = _eval(func.value, env)
            return v.copy() if hasattr(v, "copy") else v
        if isinstance(func, ast.Name) and func.id in _CONTAINERS and len(node.args) == 1:
            arg = node.args[0]
            # tuple(map(itemgetter(k), source))
            if (
                isinstance(arg, ast.Call)
                and isinstance(arg.func, ast.Name)
                and arg.func.id == "map"
                and len(arg.args) == 2
                and isinstance(arg.args[0], ast.Call)
                and isinstance(arg.args[0].func, ast.Name)
                and arg.args[0].func.id == "itemgetter"
                and len(arg.args[0].args) == 1
            ):
                k = ast.literal_eval(arg.args[0].args[0])
                src = _eval(arg.args[1], env)
                return _CONTAINERS[func.id](item[k] for item in src)
            return _CONTAINERS[func.id](_eval(arg, env))
        raise _Skip
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise _Skip from None


def class_tables(source: str, class_name: str = "Provider") -> dict:
    """``{attribute: value}`` for the assignments in ``class_name``'s body that
    :func:`_eval` understands; mappings are returned as dicts (their keys are the
    names, the values weights)."""
    tree = ast.parse(source)
    env: dict = {}
    for top in tree.body:
        if isinstance(top, ast.ClassDef) and top.name == class_name:
            for stmt in top.body:
                if (
                    isinstance(stmt, ast.Assign)
                    and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Name)
                ):
                    target, value = stmt.targets[0].id, stmt.value
                elif (
                    isinstance(stmt, ast.AnnAssign)
                    and isinstance(stmt.target, ast.Name)
                    and stmt.value is not None
                ):
                    target, value = stmt.target.id, stmt.value
                else:
                    continue
                try:
                    env[target] = _eval(value, env)
                except _Skip:
                    env.pop(target, None)
    return env
