"""Argument checks shared by the integrators (clear ValueErrors naming the argument)."""
from __future__ import annotations

import math

import numpy as np

RECORD_KEYS = ("radii", "risk", "weights", "params", "kernel", "output", "movement")
#: Record keys that need probe inputs.
PROBE_KEYS = ("kernel", "output")


def finite_float(value, name):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name}: must be finite, got {value!r}")
    return v


def check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype: must be 'float32' or 'float64', got {dtype!r}")
    return dt


def check_times(times):
    try:
        t = np.asarray(times, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"times: cannot convert to an array of numbers ({times!r})") from None
    if t.size == 0:
        raise ValueError("times: need at least one snapshot time")
    if not np.all(np.isfinite(t)):
        raise ValueError("times: contains NaN or inf")
    if np.any(t < 0):
        raise ValueError("times: must be non-negative")
    if np.any(np.diff(t) < 0):
        raise ValueError("times: must be sorted in increasing order")
    return t


def check_record(record):
    record = (record,) if isinstance(record, str) else tuple(record or ())
    unknown = [key for key in record if key not in RECORD_KEYS]
    if unknown:
        raise ValueError(f"record: unknown keys {unknown}; allowed {list(RECORD_KEYS)}")
    return record


def check_noise(beta, lam):
    """(β or None, λ): β > 0 when given (None means no noise), λ ≥ 0."""
    if beta is not None:
        beta = finite_float(beta, "beta")
        if beta <= 0:
            raise ValueError(f"beta: must be positive (or None for no noise), got {beta!r}")
    lam = finite_float(lam, "lam")
    if lam < 0:
        raise ValueError(f"lam: must be non-negative, got {lam!r}")
    return beta, lam


def xi_function(xi):
    """ξ(t) as a scalar callable: None → ξ ≡ 1, a positive number → constant, a callable as is."""
    if xi is None:
        return lambda t: 1.0
    if callable(xi):
        return lambda t: float(xi(t))
    value = finite_float(xi, "xi")
    if value <= 0:
        raise ValueError(f"xi: must be positive, got {xi!r}")
    return lambda t: value


def check_probes(model, record, probes):
    """The probe inputs (P, d) for the record keys that need them (None if none does)."""
    needed = [key for key in record if key in PROBE_KEYS]
    if not needed:
        return None
    if probes is None:
        raise ValueError(f"probes: record {needed} needs probe inputs, an array of shape (P, {model.d})")
    if not (hasattr(model, "tangent_kernel") and hasattr(model, "output")):
        raise ValueError(f"record: {needed} needs a MeanFieldModel, got {type(model).__name__}")
    try:
        X = np.array(probes, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("probes: cannot convert to a numeric array") from None
    if X.ndim != 2 or X.shape[1] != model.d or X.shape[0] < 1 or not np.all(np.isfinite(X)):
        raise ValueError(f"probes: expected a finite array of shape (P, {model.d}) with P >= 1, got {X.shape}")
    return X


def check_radial_model(model):
    """The radial solvers need d ≥ 2: at d = 1 the 'radius' |w| forgets the sign of w."""
    if model.d < 2:
        raise ValueError(
            f"model: the radial solvers need d >= 2, got d = {model.d}; at d = 1 the 'radius' |w| forgets "
            "the sign of w (the law of w ∈ R is not a law of |w|, and particles pass through w = 0 instead "
            "of stopping there), so the radial PDE does not describe the dynamics: use run_particle_flow or run_sgd")
