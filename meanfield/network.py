"""The two-layer network σ*(x; θ) = a σ(⟨w, x⟩ + b) and which of (a, w, b) are trained."""
from __future__ import annotations

from .activations import Activation

TRAINABLE = ("a", "w", "b")


class TwoLayerNetwork:
    """ŷ(x; θ) = (1/N) Σ_i a_i σ(⟨w_i, x⟩ + b_i) with the coordinates in ``train`` trained.

    Parameters
    ----------
    activation : Activation
        σ (right derivative σ'(t+) at kinks).
    train : tuple of str, subset of ("a", "w", "b")
        Trained coordinates; the others stay at their initial values. ``("w",)`` with
        a ≡ 1, b ≡ 0 is the network of the isotropic Gaussians example.

    Gradients (SGD and the flow): ∇_a σ* = σ(⟨w,x⟩+b), ∇_w σ* = a σ'(⟨w,x⟩+b) x,
    ∇_b σ* = a σ'(⟨w,x⟩+b).

    Examples
    --------
    >>> from meanfield import relu
    >>> TwoLayerNetwork(relu(), train=("a", "w", "b")).train
    ('a', 'w', 'b')
    """

    def __init__(self, activation, train=("w",)):
        if not isinstance(activation, Activation):
            raise ValueError(f"activation: expected an Activation, got {type(activation).__name__}")
        train = (train,) if isinstance(train, str) else tuple(train)
        unknown = [t for t in train if t not in TRAINABLE]
        if unknown or not train or len(set(train)) != len(train):
            raise ValueError(f"train: a non-empty subset of {TRAINABLE} without repeats, got {train!r}")
        self.activation = activation
        self.train = tuple(t for t in TRAINABLE if t in train)

    def __repr__(self):
        return f"TwoLayerNetwork({self.activation!r}, train={self.train!r})"

    def output(self, params, X):
        """ŷ(x_m) = (1/N) Σ_i a_i σ(⟨w_i, x_m⟩ + b_i) for the rows x_m of X (n, d)."""
        Z = X @ params.W.T + params.b
        return self.activation(Z) @ params.a / params.n
