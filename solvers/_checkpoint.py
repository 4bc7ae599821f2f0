"""Checkpoints of an SGD run: its state after a kernel block, resumed only by the same problem.

A checkpoint (an .npz file, replaced atomically) holds the state — W, a, b, the data order, the
data stream, its normal stream and the noise streams, the step counter — the snapshots taken so
far, and the identity of the run it belongs to:

* ``key`` = (seed, ε, N, d, dtype size, batch, β, λ);
* ``digest`` = SHA-256 of θ₀, the model (its repr), the kernel spec (activation, trained set,
  data arrays, the centring offset θ⁰ of ``model.centered``), the probe inputs of "kernel" /
  "output", and, when "risk" is recorded, the recorded risk of θ₀ (a fingerprint of the risk
  rule: the held-out rows of ``ArrayData``);
* ξ at a sample of the run's steps (every snapshot step, 1025 equally spaced steps and the
  steps ⌊1.25^j⌋ up to the last one): on resume the current ξ is evaluated there and must give
  the same values bitwise. Two schedules that agree on all these steps are taken as the same.

Resuming with anything else, or from a file that is not a readable, finite checkpoint, raises
``ValueError("checkpoint: …")``.
"""
from __future__ import annotations

import hashlib
import os
import zipfile
import zlib

import numpy as np

from meanfield._validation import RECORD_KEYS

from ._recorders import PARTS

#: The state arrays of a checkpoint, in the order :func:`load_checkpoint` returns them.
STATE_FIELDS = ("W", "a", "b", "order", "rng_state", "data_normals", "noise_states")


def run_key(seed, eps, W, batch, beta, lam):
    """The run parameters a checkpoint must match to be resumed."""
    return np.array([seed, eps, W.shape[0], W.shape[1], np.dtype(W.dtype).itemsize, batch,
                     -1.0 if beta is None else beta, lam], dtype=float)


def problem_digest(model, params, spec, probes, record):
    """SHA-256 of what else defines the run (see the module docstring), as uint8."""
    digest = hashlib.sha256(repr(model).encode())
    offset = () if spec.offset is None else (spec.offset.a, spec.offset.W, spec.offset.b)
    arrays = (params.a, params.W, params.b, spec.act_params, spec.data.rows, spec.data.scales, spec.data.values,
              spec.data.extra, spec.data.params, spec.data.act_params, np.array([len(offset)]), *offset,
              np.zeros(0) if probes is None else probes,
              np.atleast_1d(model.risk(params)) if "risk" in record else np.zeros(0))
    for arr in arrays:
        arr = np.ascontiguousarray(arr, dtype=float)
        digest.update(repr(arr.shape).encode())
        digest.update(arr.tobytes())
    digest.update(repr((spec.act_kind, spec.train_a, spec.train_w, spec.train_b, spec.data.kind)).encode())
    return np.frombuffer(digest.digest(), dtype=np.uint8)


def xi_sample_steps(target_steps):
    """The steps at which a checkpoint stores ξ: the snapshot steps, 1025 equally spaced ones and
    ⌊1.25^j⌋, all up to the last snapshot step."""
    last = int(target_steps[-1])
    geometric = np.floor(1.25 ** np.arange(0, np.log(max(last, 1)) / np.log(1.25) + 1)).astype(np.int64)
    steps = np.concatenate([target_steps, np.rint(np.linspace(0, last, 1025)).astype(np.int64), geometric])
    return np.unique(steps[steps <= last])


def save_checkpoint(path, key, digest, xi_steps, xi_values, state, step, snap_steps, snapshots):
    """Write the checkpoint atomically; ``state`` = the arrays of STATE_FIELDS, ``snapshots`` the
    snapshot dicts taken at ``snap_steps``."""
    arrays = dict(zip(STATE_FIELDS, state), key=key, digest=digest, xi_steps=xi_steps, xi_values=xi_values,
                  step=np.int64(step), snap_steps=np.asarray(snap_steps, dtype=np.int64))
    for name in RECORD_KEYS:
        if snapshots and name in snapshots[0]:
            if name in PARTS:
                for part in PARTS[name][1]:
                    arrays[f"snap_{name}_{part}"] = np.stack([getattr(snap[name], part) for snap in snapshots])
            else:
                arrays["snap_" + name] = np.stack([snap[name] for snap in snapshots])
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    os.replace(tmp, path)


def load_checkpoint(path, key, digest, xi_values_at, record, target_steps):
    """(state arrays, step, snapshot dicts) of the checkpoint at ``path``, after checking that it
    belongs to this run; ``xi_values_at(steps)`` gives the current ξ at those steps.

    Raises ValueError("checkpoint: …") if the file is unreadable or corrupt, or belongs to another
    run or problem, or does not fit the requested snapshot steps or ``record``.
    """
    try:
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:  # truncated, corrupt, foreign
        raise ValueError(f"checkpoint: {path} cannot be read as a checkpoint, it is corrupt or not an .npz file "
                         f"({type(exc).__name__}: {exc}); delete it or pass another path") from None
    missing = [name for name in ("key", "rng_state", "W", "step", "snap_steps") if name not in arrays]
    if missing:
        raise ValueError(f"checkpoint: {path} is not an SGD checkpoint (no {missing})")
    if arrays["key"].shape != key.shape or not np.array_equal(arrays["key"], key):
        raise ValueError(f"checkpoint: {path} belongs to a different run "
                         "(seed, eps, N, d, dtype, batch, beta or lam differ); delete it or pass another path")
    if arrays["rng_state"].shape != (2, 4) or "noise_states" not in arrays or "data_normals" not in arrays:
        raise ValueError(f"checkpoint: {path} holds a random state of shape {arrays['rng_state'].shape}, "
                         "not (2, 4), data normal and noise streams (written by an older version); "
                         "delete it to start afresh")
    if "digest" not in arrays or not np.array_equal(arrays["digest"], digest) or "xi_steps" not in arrays:
        raise ValueError(f"checkpoint: {path} belongs to a different problem (initial parameters, model, "
                         "activation, data law, held-out rows, centring, probes differ, or it was written by an "
                         "older version); delete it or pass another path")
    xi_steps, xi_stored = arrays["xi_steps"], arrays["xi_values"]
    xi_now = xi_values_at(xi_steps)
    if not np.array_equal(xi_now, xi_stored):
        k = int(xi_steps[np.flatnonzero(xi_now != xi_stored)[0]])
        raise ValueError(f"checkpoint: {path} was written with another xi (at step {k} it was "
                         f"{xi_stored[xi_steps == k][0]!r}, now {xi_now[xi_steps == k][0]!r}); "
                         "delete it or pass another path")
    snap_steps, step = arrays["snap_steps"], int(arrays["step"])
    if step > target_steps[-1] or not np.array_equal(snap_steps, target_steps[:snap_steps.size]) or (
            snap_steps.size and step < snap_steps[-1]):
        raise ValueError(f"checkpoint: {path} is at step {step} with snapshots at steps {snap_steps.tolist()}, "
                         f"which do not fit the requested steps {target_steps.tolist()}")
    state = tuple(arrays[name].copy() for name in STATE_FIELDS)
    floats = [arrays[name] for name in arrays if name.startswith("snap_") and arrays[name].dtype.kind == "f"]
    if not all(np.all(np.isfinite(arr)) for arr in (*state[:3], *floats)):
        raise ValueError(f"checkpoint: {path} is corrupt (non-finite parameters or snapshots, which a run never "
                         "saves); delete it or pass another path")
    snapshots = [{} for _ in snap_steps]
    for name in record:
        kind, fields = PARTS.get(name, (None, ()))
        parts = {field: f"snap_{name}_{field}" for field in fields} if kind else {name: "snap_" + name}
        if any(part not in arrays for part in parts.values()):
            raise ValueError(f"checkpoint: {path} did not record {name!r}; use the same record")
        for idx, snap in enumerate(snapshots):
            values = {field: arrays[part][idx] for field, part in parts.items()}
            snap[name] = kind(**values) if kind else values[name]
    return state, step, snapshots
