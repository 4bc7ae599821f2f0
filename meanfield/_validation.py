"""Argument checks shared by the public functions: every failure is a ValueError that names
the argument and the accepted range (never a raw numpy/TypeError/AttributeError message)."""
import math
import numbers

import numpy as np


def _describe(x):
    """A short description of a rejected value for error messages."""
    text = repr(x)
    return text if len(text) <= 60 else f"{type(x).__name__} {text[:50]}…"


def as_finite_array(x, name, ndim=None, nonnegative=False, dtype=float, nonempty=False, finite=True):
    """Return ``x`` as a real float array, raising ValueError naming ``name`` if it is not
    numeric (strings, None, objects), complex (numpy would drop the imaginary part), has
    NaN/inf, the wrong number of dimensions, no entries (``nonempty``) or (optionally)
    negative entries; ``finite=False`` skips the NaN/inf check (a real array is still required)."""
    if x is None:
        raise ValueError(f"{name}: expected a real numeric array, got None")
    if isinstance(x, (complex, np.complexfloating)) or np.iscomplexobj(x):
        raise ValueError(f"{name}: must be real, got a complex {'array' if np.ndim(x) else 'number'}")
    try:
        arr = np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a real numeric array, got {_describe(x)} ({exc})") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {arr.shape}")
    if nonempty and arr.size == 0:
        raise ValueError(f"{name}: must not be empty")
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or inf (entries must be finite)")
    if nonnegative and np.any(arr < 0):
        raise ValueError(f"{name}: must be non-negative, got a minimum of {float(arr.min())!r}")
    return arr


def check_positive(value, name, allow_none=False, strict=True):
    """Validate a positive finite scalar (or None when allowed); return float."""
    if value is None:
        if allow_none:
            return None
        raise ValueError(f"{name}: must be given")
    v = check_real(value, name)
    if v <= 0 if strict else v < 0:
        raise ValueError(f"{name}: must be {'positive' if strict else 'non-negative'} and finite, got {value!r}")
    return v


def check_real(value, name):
    """A finite real scalar as float (bool, complex, strings, None and NaN/inf are rejected)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.ndarray)):
        raise ValueError(f"{name}: must be a real number, got {_describe(value)}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a real number, got {_describe(value)}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name}: must be finite, got {value!r}")
    return v


def check_int(value, name, minimum=None, maximum=None):
    """An integer scalar (int, numpy integer, or a float with an integral value) in
    [minimum, maximum] (either bound may be None); bool and non-integral values are rejected."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: must be an integer, got {value!r}")
    if isinstance(value, numbers.Integral):
        v = int(value)
    elif isinstance(value, numbers.Real) and math.isfinite(float(value)) and float(value) == int(value):
        v = int(value)
    else:
        raise ValueError(f"{name}: must be an integer, got {_describe(value)}")
    if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
        lo = "-inf" if minimum is None else minimum
        hi = "inf" if maximum is None else maximum
        raise ValueError(f"{name}: must be an integer in [{lo}, {hi}], got {value!r}")
    return v


def check_instance(value, cls, name):
    """``value`` if it is an instance of ``cls``, else a ValueError naming ``name`` and the type."""
    if not isinstance(value, cls):
        raise ValueError(f"{name}: expected {getattr(cls, '__name__', cls)}, got {type(value).__name__}")
    return value
