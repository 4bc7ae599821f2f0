"""The argument checks of both packages (``meanfield`` and ``solvers``): every failure is a
ValueError that names the argument and the accepted range (never a raw numpy/TypeError/
AttributeError message)."""
import math
import numbers
import re

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


#: Largest magnitude accepted for a value whose square or pairwise product is formed (labels,
#: inputs, weights, scales): (1e150)² = 1e300 stays below the float maximum ~1.8e308. The same
#: limit as the pre-activation scales of the exact Gaussian integrals (meanfield._kernels.pair_sums).
MAX_MAGNITUDE = 1e150


def check_magnitude(x, name, limit=MAX_MAGNITUDE, why="beyond, squares overflow the float range"):
    """``x`` (finite, already validated) if every |entry| ≤ ``limit``, else a ValueError naming
    ``name``, the accepted range and ``why``: beyond it the squares (or products) that risks and
    Gaussian integrals form overflow to inf (a silent wrong answer)."""
    arr = np.asarray(x, dtype=float)
    largest = float(np.max(np.abs(arr))) if arr.size else 0.0
    if not largest <= limit:
        what = "entries must" if arr.ndim else "must"
        raise ValueError(f"{name}: {what} lie in [-{limit:g}, {limit:g}] ({why}), got a magnitude of {largest:.3g}")
    return x


def check_overflow(x, name, inputs):
    """``x`` if it is finite, else a ValueError saying that ``name`` overflowed to inf/NaN from
    finite arguments and what to keep within range (``inputs``, e.g. "|a|, |W|, |b| and α")."""
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: overflowed to inf/NaN although every argument is finite (a product of huge "
                         f"values exceeds the float range ~1.8e308); keep {inputs} such that their products stay "
                         f"below ~1e300 (each at most {MAX_MAGNITUDE:g})")
    return x


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


def check_rtol(value, name="rtol", low=1e-13, high=0.1):
    """A relative tolerance in [low, high] (default [1e-13, 0.1]) as float."""
    v = check_real(value, name)
    if not low <= v <= high:
        raise ValueError(f"{name}: must lie in [{low:g}, {high:g}], got {value!r}")
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


# ------------------------------------------------------------------ solver arguments
RECORD_KEYS = ("radii", "risk", "weights", "params", "kernel", "output", "movement", "overlaps")
#: Record keys that need probe inputs.
PROBE_KEYS = ("kernel", "output")


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


def check_risk_recordable(model, record):
    """Refuse "risk" in ``record`` for a model without a risk rule (``risk_kind`` None), before a run starts.
    ``model`` has passed ``check_model(model, ParticleModel)`` (which lists ``risk_kind``)."""
    if "risk" in record and model.risk_kind is None:
        raise ValueError(f"record: {model!r} has no exact risk (risk_kind is None), so 'risk' cannot be "
                         "recorded; record e.g. ('radii',) or ('params',) and evaluate model.empirical_risk")


def check_overlaps_recordable(model, record, teacher_law):
    """Refuse "overlaps" in ``record`` unless the model's data law is a ``teacher_law`` (TeacherStudent)."""
    if "overlaps" in record and not isinstance(getattr(model, "data", None), teacher_law):
        raise ValueError(f"record: 'overlaps' (Q = W Wᵀ, R = W W*ᵀ) needs a model on {teacher_law.__name__} data, "
                         f"got {model!r}; record e.g. ('params',) instead")


def check_noise(beta, lam):
    """(β or None, λ): β > 0 when given (None means no noise), λ ≥ 0."""
    if beta is not None:
        beta = check_real(beta, "beta")
        if beta <= 0:
            raise ValueError(f"beta: must be positive (or None for no noise), got {beta!r}")
    lam = check_real(lam, "lam")
    if lam < 0:
        raise ValueError(f"lam: must be non-negative, got {lam!r}")
    return beta, lam


def xi_function(xi):
    """ξ(t) as a scalar callable: None → ξ ≡ 1, a positive number → constant, a callable as is."""
    if xi is None:
        return lambda t: 1.0
    if callable(xi):
        def checked(t):
            value = float(xi(t))
            if not (math.isfinite(value) and value >= 0):  # ξ < 0 would run the dynamics backwards
                raise ValueError(f"xi: must return finite non-negative values, got xi({t:g}) = {value!r}")
            return value
        return checked
    value = check_real(xi, "xi")
    if value <= 0:
        raise ValueError(f"xi: must be positive, got {xi!r}")
    return lambda t: value


def check_probes(model, record, probes, protocol):
    """The probe inputs (P, d) for the record keys that need them (None if none does); those keys
    need a model of ``protocol`` (:class:`meanfield.interface.OutputModel`, passed by the caller:
    this module sits below the protocols), checked by :func:`check_model`."""
    needed = [key for key in record if key in PROBE_KEYS]
    if not needed:
        return None
    if probes is None:
        raise ValueError(f"probes: record {needed} needs probe inputs, an array of shape (P, {model.d})")
    check_model(model, protocol)
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


def check_accuracy_tol(value):
    """``accuracy_tol`` of the fixed-step solvers: None (no check) or a tolerance in [1e-12, 1];
    returns it as a float or None."""
    if value is None or value is False:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"accuracy_tol: must be None (no check) or a number in [1e-12, 1], got {value!r}")
    value = float(value)
    if not 1e-12 <= value <= 1.0:
        raise ValueError(f"accuracy_tol: must be None (no check) or lie in [1e-12, 1], got {value!r}")
    return value


def as_generator(rng):
    """A numpy Generator from a Generator, a SeedSequence, an integer seed or None; else ValueError."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer, np.random.SeedSequence)):
        return np.random.default_rng(rng)
    raise ValueError(f"rng: expected a numpy Generator, a SeedSequence or an integer seed, got {type(rng).__name__}")


def normalised_weights(weights, n, name="weights"):
    """Masses of n atoms summing to 1: uniform for None, else non-negative, finite, of length n and
    a positive sum (then divided by it)."""
    if weights is None:
        return np.full(n, 1.0 / n)
    w = as_finite_array(weights, name, ndim=1, nonnegative=True)
    if w.size != n:
        raise ValueError(f"{name}: expected {n} weights, got {w.size}")
    total = w.sum()
    if total <= 0:
        raise ValueError(f"{name}: must have a positive sum")
    return w / total


#: The scheduler names of solvers.run_sweep (besides a Dask address, client or cluster).
SCHEDULER_NAMES = ("processes", "serial")
_DASK_ADDRESS = re.compile(r"^(?:(?:tcp|tls|inproc|ucx|ws|wss)://\S+|[\w.\-]+:\d+|\[[0-9a-fA-F:.]+\]:\d+)$")


def check_scheduler(scheduler):
    """(mode, target) of ``run_sweep``'s scheduler: ("processes" | "serial", None), or ("dask", an
    address string "tcp://host:port" / "host:port", a distributed.Client, or a cluster's address);
    anything else (a misspelt name such as "serail") raises ValueError listing the accepted values."""
    if scheduler is None or (isinstance(scheduler, str) and scheduler in SCHEDULER_NAMES):
        return scheduler or "processes", None
    if isinstance(scheduler, str) and _DASK_ADDRESS.match(scheduler):
        return "dask", scheduler
    if hasattr(scheduler, "submit") and hasattr(scheduler, "gather"):  # a distributed.Client
        return "dask", scheduler
    if isinstance(getattr(scheduler, "scheduler_address", None), str):  # LocalCluster, SLURMCluster, …
        return "dask", scheduler.scheduler_address
    raise ValueError(f"scheduler: expected None, {' or '.join(map(repr, SCHEDULER_NAMES))}, a Dask scheduler "
                     "address ('tcp://host:port' or 'host:port'), a distributed.Client or a Dask cluster object, "
                     f"got {_describe(scheduler)}")


# ------------------------------------------------------------------ teacher–student overlaps
#: Joint Gram matrices [[Q, R], [Rᵀ, T]] whose smallest eigenvalue is above −GRAM_TOL × (1 + the largest
#: |eigenvalue|) are accepted as positive semidefinite (rounding of a product W Wᵀ).
GRAM_TOL = 1e-12


def check_overlaps(Q, R, T, names=("Q", "R")):
    """(Q, R) as float arrays: Q finite, square (K, K) and symmetric, R finite (K, M) with M the
    size of the teacher overlap T (M, M), and the joint Gram matrix [[Q, R], [Rᵀ, T]] positive
    semidefinite (else a ValueError naming its smallest eigenvalue)."""
    qname, rname = names
    Q = as_finite_array(Q, qname, ndim=2, nonempty=True)
    R = as_finite_array(R, rname, ndim=2)
    k, m = Q.shape[0], T.shape[0]
    if Q.shape != (k, k):
        raise ValueError(f"{qname}: expected a square (K, K) matrix, got shape {Q.shape}")
    if R.shape != (k, m):
        raise ValueError(f"{rname}: expected shape ({k}, {m}) (K students × M teachers), got {R.shape}")
    if not np.allclose(Q, Q.T, rtol=0.0, atol=GRAM_TOL * (1.0 + np.abs(Q).max())):
        raise ValueError(f"{qname}: must be symmetric, got a largest |Q − Qᵀ| of {float(np.abs(Q - Q.T).max())!r}")
    gram = np.block([[Q, R], [R.T, T]])
    eig = np.linalg.eigvalsh(0.5 * (gram + gram.T))
    if eig[0] < -GRAM_TOL * (1.0 + np.abs(eig).max()):
        raise ValueError(f"{qname}, {rname}: the joint Gram matrix [[{qname}, {rname}], [{rname}ᵀ, T]] must be "
                         f"positive semidefinite (overlaps of real vectors), its smallest eigenvalue is "
                         f"{float(eig[0])!r}")
    return 0.5 * (Q + Q.T), R


def protocol_members(protocol):
    """The public names a structural protocol declares (attributes and methods, its protocol
    bases included), in declaration order."""
    names = []
    for base in reversed(protocol.__mro__):
        if not getattr(base, "_is_protocol", False) or base.__module__ == "typing":
            continue
        for key in list(getattr(base, "__annotations__", {})) + [k for k, v in vars(base).items() if callable(v)]:
            if not key.startswith("_") and key not in names:
                names.append(key)
    return names


def check_model(model, protocol, name="model"):
    """``model`` if it provides every member of ``protocol`` (a structural protocol of
    :mod:`meanfield.interface`), else a ValueError naming ``name``, the protocol, the model's type
    and the members it lacks. Solvers call it once at entry, then call only what the protocol lists."""
    missing = [key for key in protocol_members(protocol) if not hasattr(model, key)]
    if missing:
        what = re.sub(r":\w+:`~?([^`]*)`", r"\1", (protocol.__doc__ or "").strip().splitlines()[0].rstrip("."))
        article = "an" if protocol.__name__[0] in "AEIOU" else "a"
        raise ValueError(f"{name}: expected {article} {protocol.__name__} ({what}), got {type(model).__name__}, "
                         f"which lacks {', '.join(missing)}")
    return model
