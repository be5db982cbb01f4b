"""A progress bar for the training loops and the examples (tqdm when installed)."""

from __future__ import annotations

__all__ = ["progress"]


def progress(iterable=None, *, total=None, desc=None, disable=False, **kwargs):
    """A tqdm progress bar when tqdm is installed, otherwise the iterable itself.

    The returned object always has ``set_postfix`` and ``update`` (no-ops without tqdm).
    """
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - depends on the environment
        return _Silent(iterable)
    kwargs.setdefault("mininterval", 0.5)
    return tqdm(iterable, total=total, desc=desc, disable=disable, dynamic_ncols=True, **kwargs)


class _Silent:
    def __init__(self, iterable):
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable if self.iterable is not None else ())

    def set_postfix(self, *args, **kwargs):
        pass

    def update(self, n=1):
        pass

    def close(self):
        pass
