"""Models and activations as plain data, built inside the worker that runs a task.

A spec is a dict with a ``"kind"`` string and the keyword arguments of that kind, e.g.::

    {"kind": "isotropic_gaussians", "delta": 0.8, "d": 40,
     "activation": {"kind": "piecewise_linear", "knots": [0.5, 1.5], "values": [-2.5, 7.5]}}

:func:`model_from_spec` dispatches on the kind (``MODEL_KINDS``, ``ACTIVATION_KINDS``): an
unknown kind, a missing or an unknown key raises ValueError naming it; the model's own
checks validate the values.
"""
from __future__ import annotations

from collections.abc import Mapping

from meanfield import Erf, GaussianMixture, IsotropicGaussians, MeanFieldModel, PiecewiseLinear, Tanh, TwoLayerNetwork

__all__ = ["model_from_spec", "activation_from_spec", "ACTIVATION_KINDS", "MODEL_KINDS"]


def _spec_fields(spec, name, required, optional=()):
    """The keyword arguments of a spec (without "kind"); ValueError on missing or unknown keys."""
    keys = set(spec) - {"kind"}
    missing = [k for k in required if k not in spec]
    unknown = sorted(keys - set(required) - set(optional))
    if missing or unknown:
        raise ValueError(f"{name}: kind {spec['kind']!r} needs keys {list(required)}"
                         + (f" (optional {list(optional)})" if optional else "")
                         + (f"; missing {missing}" if missing else "") + (f"; unknown {unknown}" if unknown else ""))
    return {k: spec[k] for k in keys}


def _kind(spec, name, kinds):
    if not isinstance(spec, Mapping) or not isinstance(spec.get("kind"), str):
        raise ValueError(f"{name}: expected a dict with a 'kind' string, got {spec!r}")
    if spec["kind"] not in kinds:
        raise ValueError(f"{name}: unknown kind {spec['kind']!r}; known kinds: {sorted(kinds)}")
    return kinds[spec["kind"]]


def _piecewise_linear(spec):
    return PiecewiseLinear(**_spec_fields(spec, "activation", ("knots", "values")))


def _tanh(spec):
    return Tanh(**_spec_fields(spec, "activation", (), ("amplitude", "slope", "center", "shift", "panels")))


def _isotropic_gaussians(spec):
    kw = _spec_fields(spec, "model", ("delta", "d", "activation"), ("large_d_limit", "tol"))
    kw["activation"] = activation_from_spec(kw["activation"])
    return IsotropicGaussians(**kw)


def _piecewise_linear_tails(spec):
    return PiecewiseLinear(**_spec_fields(spec, "activation", ("knots", "values"), ("left_slope", "right_slope")))


def _erf(spec):
    return Erf(**_spec_fields(spec, "activation", (), ("amplitude", "slope", "center", "shift", "panels")))


def _data_law(spec):
    """{"kind": "isotropic", "delta", "d"}, {"kind": "anisotropic", "delta", "d", "s0"} or
    {"kind": "gaussian_mixture", "weights", "labels", "means", "stds"}."""
    kinds = {"isotropic": lambda kw: GaussianMixture.isotropic(**kw),
             "anisotropic": lambda kw: GaussianMixture.anisotropic(**kw),
             "gaussian_mixture": lambda kw: GaussianMixture(**kw)}
    fields = {"isotropic": (("delta", "d"), ()), "anisotropic": (("delta", "d", "s0"), ()),
              "gaussian_mixture": (("weights", "labels", "means", "stds"), ())}
    build = _kind(spec, "data", kinds)
    return build(_spec_fields(spec, "data", *fields[spec["kind"]]))


def _mean_field_model(spec):
    kw = _spec_fields(spec, "model", ("data", "activation"), ("train", "scale"))
    network = TwoLayerNetwork(activation_from_spec(kw["activation"]), train=tuple(kw.get("train", ("w",))),
                              scale=kw.get("scale", 1.0))
    return MeanFieldModel(_data_law(kw["data"]), network)


#: activation kind → builder(spec); add an entry to support a new activation.
ACTIVATION_KINDS = {"piecewise_linear": _piecewise_linear, "piecewise_linear_tails": _piecewise_linear_tails,
                    "tanh": _tanh, "erf": _erf}
#: model kind → builder(spec); add an entry to support a new model.
MODEL_KINDS = {"isotropic_gaussians": _isotropic_gaussians, "mean_field_model": _mean_field_model}


def activation_from_spec(spec):
    """The activation described by plain data.

    Parameters
    ----------
    spec : dict
        {"kind": "piecewise_linear", "knots", "values"}, {"kind": "piecewise_linear_tails",
        "knots", "values", optional "left_slope", "right_slope"}, or {"kind": "tanh" or "erf",
        optional "amplitude", "slope", "center", "shift", "panels"}.

    Returns
    -------
    Activation
        The activation.

    Raises
    ------
    ValueError
        On an unknown kind or a missing or unknown key (the activation checks the values).

    Examples
    --------
    >>> act = activation_from_spec({"kind": "piecewise_linear_tails", "knots": [0], "values": [0], "right_slope": 1})
    >>> act([-1.0, 2.0]).tolist()                    # relu
    [0.0, 2.0]
    """
    return _kind(spec, "activation", ACTIVATION_KINDS)(spec)


def model_from_spec(spec):
    """The model described by plain data (JSON-ready dicts), built inside a worker.

    ``{"kind": "isotropic_gaussians", "delta": 0.8, "d": 40, "activation": {...}}`` (optional
    "large_d_limit", "tol"), or ``{"kind": "mean_field_model", "data": {"kind": "anisotropic",
    "delta": 0.5, "d": 40, "s0": 10}, "activation": {"kind": "piecewise_linear_tails", "knots": [0],
    "values": [0], "right_slope": 1}, "train": ["a", "w", "b"]}`` (optional "scale"; "train"
    defaults to ["w"]). Data kinds: "isotropic", "anisotropic", "gaussian_mixture"; activation
    kinds: "piecewise_linear", "piecewise_linear_tails", "tanh", "erf".

    Parameters
    ----------
    spec : dict
        The model spec, with a "kind" string (a key of ``MODEL_KINDS``).

    Returns
    -------
    IsotropicGaussians or MeanFieldModel
        The model.

    Raises
    ------
    ValueError
        On an unknown kind or a missing or unknown key; the model's own checks validate the values.

    Examples
    --------
    >>> model = model_from_spec({"kind": "isotropic_gaussians", "delta": 0.8, "d": 10,
    ...         "activation": {"kind": "piecewise_linear", "knots": [0.5, 1.5], "values": [-2.5, 7.5]}})
    >>> type(model).__name__, model.d
    ('IsotropicGaussians', 10)
    """
    return _kind(spec, "model", MODEL_KINDS)(spec)
