"""Teacher–student order parameters: the overlaps that carry the whole population risk.

For x ~ N(0, I_d), a student with K neurons (a_i, w_i, b_i) and a teacher with M neurons
(a*_t, w*_t, b*_t), the pre-activations λ_i = ⟨w_i, x⟩ and ν_t = ⟨w*_t, x⟩ are jointly Gaussian,
centred, with covariance given by the overlaps

    Q = W Wᵀ (K × K),   R = W W*ᵀ (K × M),   T = W* W*ᵀ (M × M)     (no 1/d),

so every population quantity of :class:`~meanfield.MeanFieldModel` on
:class:`~meanfield.TeacherStudent` data is a function of (Q, R, T, a, b, a*, b*). With
f = (α/K) Σ_i a_i σ(λ_i + b_i), y = (1/M) Σ_t a*_t σ*(ν_t + b*_t) + noise and
G_XY(i, j) = E σ_X(·_i)σ_Y(·_j) (exact Gaussian pair integrals, :func:`meanfield.gaussian_pair`):

    R_N = noise² + (1/M²) a*ᵀ G_TT a* − (2α/(KM)) aᵀ G_ST a* + (α²/K²) aᵀ G_SS a

(the committee machine's generalisation error, any σ with an exact pair rule), and the gradient
of the potential lies in span{w_j, w*_t} (Price's theorem, ∇_w G = 2w ∂_A G + w' ∂_C G):

    ∇_{w_i}Ψ = Σ_j P_ij w_j + Σ_t S_it w*_t,
    P_ij = (α/K) a_i a_j ∂_C G_SS(i, j) + 2 δ_ij a_i [(α/K) Σ_k a_k ∂_A G_SS(i, k) − (1/M) Σ_t a*_t ∂_A G_ST(i, t)],
    S_it = −(1/M) a_i a*_t ∂_C G_ST(i, t),

with ∂_{a_i}Ψ and ∂_{b_i}Ψ the same sums of G and ∂_m G. :func:`init_from_overlaps` builds
weights with prescribed overlaps: W = R T⁻¹ W* + C Z, Z orthonormal rows orthogonal to the
teacher's, C Cᵀ = Q − R T⁻¹ Rᵀ.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import as_finite_array, check_instance, check_int, check_overlaps, check_positive
from .activations import Activation
from .data import TeacherStudent
from .gaussian_integrals import gaussian_pair
from .params import Params


@dataclass(frozen=True, eq=False)
class OrderParameters:
    """The overlaps of a student (K neurons) with a teacher (M neurons), and their output weights and biases.

    Attributes
    ----------
    Q : ndarray, shape (K, K)
        Q = W Wᵀ, the student–student overlaps (no 1/d).
    R : ndarray, shape (K, M)
        R = W W*ᵀ, the student–teacher overlaps.
    T : ndarray, shape (M, M)
        T = W* W*ᵀ, the teacher–teacher overlaps.
    a, b : ndarray, shape (K,)
        The student's output weights and biases.
    a_teacher, b_teacher : ndarray, shape (M,)
        The teacher's.

    Raises
    ------
    ValueError
        If an array is not finite, the shapes disagree, Q or T is not symmetric, or the joint Gram
        matrix [[Q, R], [Rᵀ, T]] is not positive semidefinite.

    Examples
    --------
    >>> op = OrderParameters(Q=[[1.0]], R=[[0.5]], T=[[1.0]], a=[1.0], b=[0.0], a_teacher=[1.0], b_teacher=[0.0])
    >>> op.K, op.M, float(op.R[0, 0])
    (1, 1, 0.5)
    """

    Q: np.ndarray
    R: np.ndarray
    T: np.ndarray
    a: np.ndarray
    b: np.ndarray
    a_teacher: np.ndarray
    b_teacher: np.ndarray

    def __post_init__(self):
        T = as_finite_array(self.T, "T", ndim=2, nonempty=True)
        if T.shape[0] != T.shape[1]:
            raise ValueError(f"T: expected a square (M, M) matrix, got shape {T.shape}")
        T, _ = check_overlaps(T, np.zeros((T.shape[0], 0)), np.zeros((0, 0)), names=("T", "R"))
        Q, R = check_overlaps(self.Q, self.R, T)
        fields = {"Q": Q, "R": R, "T": T}
        for name, size in (("a", Q.shape[0]), ("b", Q.shape[0]), ("a_teacher", T.shape[0]),
                           ("b_teacher", T.shape[0])):
            v = as_finite_array(getattr(self, name), name, ndim=1)
            if v.shape != (size,):
                raise ValueError(f"{name}: expected shape ({size},), got {v.shape}")
            fields[name] = v
        for name, v in fields.items():
            v = np.array(v, dtype=float)
            v.setflags(write=False)
            object.__setattr__(self, name, v)

    @property
    def K(self):
        """Number of student neurons."""
        return self.Q.shape[0]

    @property
    def M(self):
        """Number of teacher neurons."""
        return self.T.shape[0]


def _teacher_law(teacher):
    """The :class:`TeacherStudent` law of ``teacher`` (a law, or a model whose data is one)."""
    law = getattr(teacher, "data", teacher)
    if not isinstance(law, TeacherStudent):
        raise ValueError(f"teacher: expected a TeacherStudent data law or a model of one, got {type(teacher).__name__}")
    return law


def order_parameters(params, teacher):
    """The order parameters Q = W Wᵀ, R = W W*ᵀ, T = W* W*ᵀ of a student and a teacher.

    Parameters
    ----------
    params : Params
        The student (a, W, b), W of shape (K, d).
    teacher : TeacherStudent or MeanFieldModel
        The teacher law (W* of shape (M, d), a*, b*), or a model on it.

    Returns
    -------
    OrderParameters

    Raises
    ------
    ValueError
        If ``params`` is not :class:`Params`, ``teacher`` has no :class:`TeacherStudent` law, or the
        input dimensions differ.

    Examples
    --------
    >>> from meanfield import Params, TeacherStudent, erf
    >>> law = TeacherStudent(W=[[1.0, 0.0]], activation=erf())
    >>> op = order_parameters(Params(a=[1.0], W=[[0.6, 0.8]], b=[0.0]), law)
    >>> op.Q.tolist(), op.R.tolist(), op.T.tolist()
    ([[1.0]], [[0.6]], [[1.0]])
    """
    params = check_instance(params, Params, "params")
    law = _teacher_law(teacher)
    if params.d != law.d:
        raise ValueError(f"params: expected d = {law.d} input weights per neuron (as the teacher), got {params.d}")
    W, Ws = params.W, law.W
    Q = W @ W.T
    return OrderParameters(Q=0.5 * (Q + Q.T), R=W @ Ws.T, T=Ws @ Ws.T, a=params.a, b=params.b, a_teacher=law.a,
                           b_teacher=law.b)


def init_from_overlaps(teacher, Q0, R0, a0=None, b0=None, seed=0):
    """Student weights W (K × d) with exactly W Wᵀ = Q0 and W W*ᵀ = R0.

    W = R0 T⁻¹ W* + C Z, where the K rows of Z are orthonormal, orthogonal to the teacher's rows and
    random (a Gaussian K × d draw from ``seed``, projected and orthonormalised), and C Cᵀ is the
    Schur complement Q0 − R0 T⁻¹ R0ᵀ (from its eigendecomposition, so semidefinite Q0 is allowed).

    Parameters
    ----------
    teacher : TeacherStudent or MeanFieldModel
        The teacher law (or a model on it); its rows W* must be linearly independent.
    Q0 : array_like, shape (K, K)
        The student overlaps, symmetric.
    R0 : array_like, shape (K, M)
        The student–teacher overlaps.
    a0, b0 : array_like, shape (K,), optional
        The student's output weights (default 1) and biases (default 0).
    seed : int
        Non-negative seed of the random directions Z.

    Returns
    -------
    Params

    Raises
    ------
    ValueError
        If the joint Gram matrix [[Q0, R0], [R0ᵀ, T]] is not positive semidefinite (the message names
        its smallest eigenvalue), d < K + M, the teacher's rows are linearly dependent, or a shape is wrong.

    Examples
    --------
    >>> import numpy as np
    >>> from meanfield import TeacherStudent, erf
    >>> law = TeacherStudent(W=np.eye(2, 6), activation=erf())
    >>> theta = init_from_overlaps(law, Q0=[[0.5, 0.1], [0.1, 0.5]], R0=[[0.01, 0.0], [0.0, 0.01]])
    >>> np.round(theta.W @ theta.W.T, 12).tolist(), np.round(theta.W @ law.W.T, 12).tolist()[0]
    ([[0.5, 0.1], [0.1, 0.5]], [0.01, 0.0])
    """
    law = _teacher_law(teacher)
    seed = check_int(seed, "seed", minimum=0)
    Ws = law.W
    m, d = Ws.shape
    T = Ws @ Ws.T
    Q0, R0 = check_overlaps(Q0, R0, T, names=("Q0", "R0"))
    k = Q0.shape[0]
    if d < k + m:
        raise ValueError(f"Q0: K + M = {k + m} neurons need d >= K + M input dimensions, the teacher has d = {d}")
    eig_t = np.linalg.eigvalsh(T)
    if eig_t[0] <= 1e-12 * eig_t[-1]:
        raise ValueError(f"teacher: the teacher's rows W* must be linearly independent (T = W* W*ᵀ has the "
                         f"eigenvalue {float(eig_t[0])!r})")
    a0 = np.ones(k) if a0 is None else as_finite_array(a0, "a0", ndim=1)
    b0 = np.zeros(k) if b0 is None else as_finite_array(b0, "b0", ndim=1)
    for name, v in (("a0", a0), ("b0", b0)):
        if v.shape != (k,):
            raise ValueError(f"{name}: expected shape ({k},) (one per row of Q0), got {v.shape}")
    coef = np.linalg.solve(T, R0.T).T                   # R0 T⁻¹
    schur = Q0 - coef @ R0.T
    vals, vecs = np.linalg.eigh(0.5 * (schur + schur.T))
    C = vecs * np.sqrt(np.clip(vals, 0.0, None))
    basis, _ = np.linalg.qr(Ws.T)                       # d × M, orthonormal columns spanning the teacher's rows
    G = np.random.default_rng(seed).standard_normal((d, k))
    G -= basis @ (basis.T @ G)
    G -= basis @ (basis.T @ G)                          # twice: orthogonal to rounding
    Z, _ = np.linalg.qr(G)
    return Params(a0, coef @ Ws + C @ Z.T, b0)


# ------------------------------------------------------------------ Gaussian pair tables
def _scales(diag):
    return np.sqrt(np.clip(diag, 0.0, None))


def _pair_table(act1, s1, m1, act2, s2, m2, cov, same):
    """The six arrays of :func:`gaussian_pair` for every pair (i, j), with corr = cov/(s1_i s2_j)
    (0 where a scale is 0) and exactly 1 on the diagonal when ``same``."""
    scale = np.outer(s1, s2)
    c = np.divide(cov, scale, out=np.zeros_like(scale), where=scale > 0)
    c = np.clip(c, -1.0, 1.0)
    if same:
        np.fill_diagonal(c, 1.0)
    return gaussian_pair(act1, s1[:, None], m1[:, None], s2[None, :], m2[None, :], c, activation2=act2)


def _check_pair(activation, teacher_activation):
    check_instance(activation, Activation, "activation")
    check_instance(teacher_activation, Activation, "teacher_activation")


def _tables(op, activation, teacher_activation):
    """(G_SS tuple, G_ST tuple): the Gaussian pair integrals of the student with itself and with the teacher."""
    s, st = _scales(np.diag(op.Q)), _scales(np.diag(op.T))
    ss = _pair_table(activation, s, op.b, activation, s, op.b, op.Q, True)
    sx = _pair_table(activation, s, op.b, teacher_activation, st, op.b_teacher, op.R, False)
    return ss, sx


def risk_from_overlaps(op, activation, teacher_activation, noise=0.0, scale=1.0):
    """The exact population risk R_N = E (y − f(x))² from the order parameters alone.

    R_N = noise² + (1/M²) a*ᵀ G_TT a* − (2α/(KM)) aᵀ G_ST a* + (α²/K²) aᵀ G_SS a with
    G_XY(i, j) = E σ_X(λ_i + b_i) σ_Y(λ_j + b_j) over centred Gaussians of covariance Q, R, T
    (the committee machine's 2ε_g + noise², for every σ with an exact pair rule).

    Parameters
    ----------
    op : OrderParameters
    activation : Activation
        The student's σ.
    teacher_activation : Activation
        The teacher's σ*.
    noise : float
        Label noise standard deviation, ≥ 0.
    scale : float
        The student's output scale α (``network.scale``), > 0.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        On a wrong type, a negative noise or scale, or a piecewise-linear σ paired with a smooth one.

    Examples
    --------
    >>> from meanfield import erf
    >>> op = OrderParameters(Q=[[1.0]], R=[[1.0]], T=[[1.0]], a=[1.0], b=[0.0], a_teacher=[1.0], b_teacher=[0.0])
    >>> abs(risk_from_overlaps(op, erf(), erf())) < 1e-15    # the student is the teacher
    True
    """
    op = check_instance(op, OrderParameters, "op")
    _check_pair(activation, teacher_activation)
    noise, alpha = check_positive(noise, "noise", strict=False), check_positive(scale, "scale")
    (g_ss, *_), (g_st, *_) = _tables(op, activation, teacher_activation)
    st = _scales(np.diag(op.T))
    g_tt = _pair_table(teacher_activation, st, op.b_teacher, teacher_activation, st, op.b_teacher, op.T, True)[0]
    k, m = op.K, op.M
    risk = (noise**2 + op.a_teacher @ g_tt @ op.a_teacher / m**2 - 2.0 * alpha * (op.a @ g_st @ op.a_teacher) / (k * m)
            + alpha**2 * (op.a @ g_ss @ op.a) / k**2)
    return float(risk)


@dataclass(frozen=True)
class OverlapGradient:
    """∇Ψ at every student neuron in overlap coordinates: ∇_{w_i}Ψ = Σ_j P_ij w_j + Σ_t S_it w*_t,
    and ∂_{a_i}Ψ = ``grad_a[i]``, ∂_{b_i}Ψ = ``grad_b[i]`` (see the module docstring).

    Parameters
    ----------
    P : ndarray, shape (K, K)
        Coefficients on the student's rows w_j.
    S : ndarray, shape (K, M)
        Coefficients on the teacher's rows w*_t.
    grad_a, grad_b : ndarray, shape (K,)
        ∂Ψ/∂a_i and ∂Ψ/∂b_i.

    Examples
    --------
    >>> import numpy as np
    >>> g = OverlapGradient(P=np.eye(1), S=np.zeros((1, 1)), grad_a=np.zeros(1), grad_b=np.zeros(1))
    >>> g.P.shape
    (1, 1)
    """

    P: np.ndarray
    S: np.ndarray
    grad_a: np.ndarray
    grad_b: np.ndarray


def overlap_gradient(op, activation, teacher_activation, scale=1.0):
    """The coefficients of the potential's gradient ∇Ψ(θ_i; ρ̂) in the span of the student and teacher weights.

    ∇_{w_i}Ψ = Σ_j P_ij w_j + Σ_t S_it w*_t with P, S of the module docstring,
    ∂_{a_i}Ψ = (α/K) Σ_j a_j G_SS(i, j) − (1/M) Σ_t a*_t G_ST(i, t),
    ∂_{b_i}Ψ = a_i [(α/K) Σ_j a_j ∂_m G_SS(i, j) − (1/M) Σ_t a*_t ∂_m G_ST(i, t)];
    all depend on the order parameters only.

    Parameters
    ----------
    op : OrderParameters
    activation, teacher_activation : Activation
        The student's σ and the teacher's σ*.
    scale : float
        The output scale α > 0.

    Returns
    -------
    OverlapGradient
        P (K, K), S (K, M), grad_a (K,), grad_b (K,).

    Raises
    ------
    ValueError
        As :func:`risk_from_overlaps`.

    Examples
    --------
    >>> from meanfield import erf
    >>> op = OrderParameters(Q=[[1.0]], R=[[1.0]], T=[[1.0]], a=[1.0], b=[0.0], a_teacher=[1.0], b_teacher=[0.0])
    >>> g = overlap_gradient(op, erf(), erf())    # at the teacher: ∇Ψ = P w + S w* = 0 since w = w*
    >>> abs(float(g.P[0, 0] + g.S[0, 0])) < 1e-15
    True
    """
    op = check_instance(op, OrderParameters, "op")
    _check_pair(activation, teacher_activation)
    alpha = check_positive(scale, "scale")
    (g_ss, dm_ss, _, da_ss, _, dc_ss), (g_st, dm_st, _, da_st, _, dc_st) = _tables(op, activation, teacher_activation)
    a, at, k, m = op.a, op.a_teacher, op.K, op.M
    P = (alpha / k) * np.outer(a, a) * dc_ss
    P[np.diag_indices(k)] += 2.0 * a * ((alpha / k) * (da_ss @ a) - (da_st @ at) / m)
    S = -np.outer(a, at) * dc_st / m
    grad_a = (alpha / k) * (g_ss @ a) - (g_st @ at) / m
    grad_b = a * ((alpha / k) * (dm_ss @ a) - (dm_st @ at) / m)
    return OverlapGradient(P, S, grad_a, grad_b)


__all__ = ["OrderParameters", "OverlapGradient", "order_parameters", "init_from_overlaps", "risk_from_overlaps",
           "overlap_gradient"]
