"""The two-layer network σ*(x; θ) = a σ(⟨w, x⟩ + b) and which of (a, w, b) are trained."""
from __future__ import annotations

import math

from ._validation import check_magnitude
from .activations import Activation

TRAINABLE = ("a", "w", "b")


class TwoLayerNetwork:
    """ŷ(x; θ) = (α/N) Σ_i a_i σ(⟨w_i, x⟩ + b_i) with the coordinates in ``train`` trained.

    Parameters
    ----------
    activation : Activation
        σ (right derivative σ'(t+) at kinks).
    train : tuple of str or str
        Trained coordinates, a non-empty subset of ("a", "w", "b") without repeats; the
        others stay at their initial values. ``("w",)`` with a ≡ 1, b ≡ 0 is the network of
        the isotropic Gaussians example.
    scale : float
        The output scale α > 0, finite: α = O(1) is the mean-field regime, α = O(√N) the
        lazy (NTK) one. Time follows the convention dθ_i/dt = (2ξ/α) E[(y − ŷ(x)) ∇_θσ*(x; θ_i)] (SGD:
        θ_i += (2s/α)(y − ŷ)∇_θσ*), under which the output moves by
        ∂_t ŷ(x) = 2ξ E_x'[K(x, x')(y' − ŷ(x'))], K = (1/N) Σ_i ⟨∇_θσ*(x; θ_i), ∇_θσ*(x'; θ_i)⟩,
        whatever α: runs at different α share one time axis. α = 1 is the plain network.

    Gradients (SGD and the flow): ∇_a σ* = σ(⟨w,x⟩+b), ∇_w σ* = a σ'(⟨w,x⟩+b) x,
    ∇_b σ* = a σ'(⟨w,x⟩+b).

    Raises
    ------
    ValueError
        On an unknown or repeated trained coordinate, an empty ``train``, a non-Activation, or
        a scale that is not a positive number ≤ 1e150 (α² is formed).

    Examples
    --------
    >>> from meanfield import relu
    >>> TwoLayerNetwork(relu(), train=("a", "w", "b")).train
    ('a', 'w', 'b')
    """

    def __init__(self, activation, train=("w",), scale=1.0):
        if not isinstance(activation, Activation):
            raise ValueError(f"activation: expected an Activation, got {type(activation).__name__}")
        train = (train,) if isinstance(train, str) else tuple(train)
        unknown = [t for t in train if t not in TRAINABLE]
        if unknown or not train or len(set(train)) != len(train):
            raise ValueError(f"train: a non-empty subset of {TRAINABLE} without repeats, got {train!r}")
        try:
            scale = float(scale)
        except (TypeError, ValueError):
            raise ValueError(f"scale: must be a positive number, got {scale!r}") from None
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"scale: must be positive and finite, got {scale!r}")
        check_magnitude(scale, "scale")  # α² is formed by the risk
        self.activation = activation
        self.train = tuple(t for t in TRAINABLE if t in train)
        self.scale = scale

    def __repr__(self):
        extra = "" if self.scale == 1.0 else f", scale={self.scale!r}"
        return f"TwoLayerNetwork({self.activation!r}, train={self.train!r}{extra})"

    def output(self, params, X):
        """f(x_m) = (α/N) Σ_i a_i σ(⟨w_i, x_m⟩ + b_i) for the rows x_m of X.

        Parameters
        ----------
        params : Params
        X : ndarray, shape (n, d)

        Returns
        -------
        ndarray, shape (n,)

        Examples
        --------
        >>> from meanfield import Params, relu
        >>> net = TwoLayerNetwork(relu(), scale=2.0)
        >>> theta = Params(a=[1.0, -1.0], W=[[1.0, 0.0], [0.0, 1.0]], b=[0.0, 0.0])
        >>> net.output(theta, [[3.0, 1.0]]).tolist()            # (α/N)(relu(3) − relu(1))
        [2.0]
        """
        Z = X @ params.W.T + params.b
        return self.scale * (self.activation(Z) @ params.a) / params.n
