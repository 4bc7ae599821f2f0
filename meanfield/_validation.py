"""Argument checks shared by the public functions (clear ValueErrors)."""
import numpy as np


def as_finite_array(x, name, ndim=None, nonnegative=False, dtype=float):
    """Return ``x`` as a float array, raising ValueError naming ``name`` if it
    has NaN/inf, the wrong number of dimensions, or (optionally) negative entries."""
    try:
        arr = np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: cannot convert to a numeric array ({exc})") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or inf")
    if nonnegative and np.any(arr < 0):
        raise ValueError(f"{name}: must be non-negative")
    return arr


def check_positive(value, name, allow_none=False, strict=True):
    """Validate a positive finite scalar (or None when allowed); return float."""
    if value is None:
        if allow_none:
            return None
        raise ValueError(f"{name}: must be given")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a number, got {value!r}") from None
    if not np.isfinite(v) or (v <= 0 if strict else v < 0):
        raise ValueError(f"{name}: must be {'positive' if strict else 'non-negative'} and finite, got {value!r}")
    return v
