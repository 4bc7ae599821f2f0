"""Numba's on-disk cache, made stale by any change to the package sources.

Numba checks a cached kernel against the source of the file that defines it
only; a kernel that inlines a function from another file (``act_value`` of
activations.py inside solvers/_sgd_kernels.py, say) would survive an edit or
an upgrade of that other file and run the old code. For the files of
``meanfield`` and ``solvers`` this locator stamps every cache entry with a
digest of all their sources instead, so any change recompiles everything once.
Caches stay in each package's ``__pycache__``; NUMBA_CACHE_DIR, when set, still
takes precedence (numba's own rules then apply).
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

PACKAGE_ROOTS = tuple(Path(__file__).resolve().parent.parent / name for name in ("meanfield", "solvers"))


def source_digest(roots):
    """SHA-256 over the relative paths and bytes of every .py file below ``roots``."""
    digest = hashlib.sha256()
    for root in roots:
        root = Path(root)
        for path in sorted(root.rglob("*.py")):
            digest.update(f"{root.name}/{path.relative_to(root).as_posix()}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def package_digest():
    return source_digest(root for root in PACKAGE_ROOTS if root.is_dir())


def _owns(py_file):
    try:
        path = Path(py_file).resolve()
    except (OSError, TypeError):
        return False
    return any(root == path.parent or root in path.parents for root in PACKAGE_ROOTS)


def register():
    """Put the package-digest locator right after numba's NUMBA_CACHE_DIR locator.
    Returns the locator class, or None where numba's caching internals differ
    (numba's default locators then apply unchanged)."""
    try:
        from numba.core import caching

        locators = caching.CacheImpl._locator_classes
        base = caching.InTreeCacheLocator
    except (ImportError, AttributeError):
        return None
    for cls in locators:
        if getattr(cls, "__name__", "") == "PackageDigestCacheLocator":
            return cls

    class PackageDigestCacheLocator(base):
        """In-tree cache of meanfield/solvers kernels, stamped with :func:`package_digest`."""

        @classmethod
        def from_function(cls, py_func, py_file):
            if not _owns(py_file):
                return None
            return super().from_function(py_func, py_file)

        def get_source_stamp(self):
            return package_digest()

    locators.insert(1, PackageDigestCacheLocator)
    return PackageDigestCacheLocator


LOCATOR = register()
