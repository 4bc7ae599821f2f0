"""What every data law gives the solvers: a NumPy sampler and the plain arrays the fused
SGD kernel draws from (:class:`DataSpec`)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Data-law kinds of :class:`DataSpec` (the SGD kernel dispatches on them; unknown kinds raise).
DATA_MIXTURE = 0
DATA_TEACHER = 1
DATA_ARRAYS = 2


@dataclass(frozen=True)
class DataSpec:
    """The arrays a Numba kernel needs to draw (x, y); their meaning depends on ``kind``.

    ============  ======================  =================  =====================  ==================
    kind          rows (m, d)             scales (m, d)      values (m,)            extra (m,)
    ============  ======================  =================  =====================  ==================
    DATA_MIXTURE  class means μ_k         class std devs     labels y_k             cumulative weights
    DATA_TEACHER  teacher weights w*_t    (0, d)             teacher a*_t           teacher b*_t
    DATA_ARRAYS   the inputs X            (0, d)             the labels y           (0,)
    ============  ======================  =================  =====================  ==================

    Parameters
    ----------
    kind : int
        ``DATA_MIXTURE``, ``DATA_TEACHER`` or ``DATA_ARRAYS``.
    rows, scales, values, extra : ndarray
        As in the table.
    params : ndarray
        DATA_TEACHER: [label noise std]; DATA_ARRAYS: [1 if epoch-wise else 0].
    act_kind : int
        The teacher's σ kind (DATA_TEACHER only).
    act_params : ndarray
        The teacher's σ parameters (DATA_TEACHER only).

    Examples
    --------
    >>> from meanfield import GaussianMixture
    >>> spec = GaussianMixture.isotropic(0.5, 3).kernel_spec()
    >>> spec.kind == DATA_MIXTURE, spec.rows.shape
    (True, (2, 3))
    """

    kind: int
    rows: np.ndarray
    scales: np.ndarray
    values: np.ndarray
    extra: np.ndarray
    params: np.ndarray
    act_kind: int = 0
    act_params: np.ndarray = field(default_factory=lambda: np.zeros(1))


class DataLaw:
    """Base class of data laws (x, y), x ∈ R^d.

    Subclasses define ``d``, :meth:`sample`, :meth:`kernel_spec`, ``r_sharp`` (E y², None if
    unknown) and :meth:`gaussian_classes` (None unless x is a Gaussian mixture given the label
    structure, which is what the exact population quantities need).

    Examples
    --------
    >>> from meanfield import GaussianMixture
    >>> isinstance(GaussianMixture.isotropic(0.8, 4), DataLaw)
    True
    """

    d: int
    r_sharp: float | None = None

    def sample(self, n, rng=None):  # pragma: no cover - abstract
        """n iid pairs (X (n, d), y (n,)).

        Parameters
        ----------
        n : int
            Number of pairs, ≥ 1.
        rng : int, Generator or None
            Seed or generator.

        Returns
        -------
        X : ndarray, shape (n, d)
        y : ndarray, shape (n,)

        Raises
        ------
        NotImplementedError
            In the base class.
        """
        raise NotImplementedError

    def kernel_spec(self) -> DataSpec:  # pragma: no cover - abstract
        """The arrays the SGD kernel draws from (a :class:`DataSpec`).

        Returns
        -------
        DataSpec

        Raises
        ------
        NotImplementedError
            In the base class.
        """
        raise NotImplementedError

    def gaussian_classes(self):
        """(weights π (K,), labels (K,) or None, means (K, d), std devs (K, d)), or None.

        Returns
        -------
        tuple or None
            None in the base class (no Gaussian structure known).
        """
        return None


def as_generator(rng):
    """numpy Generator from None, a seed or a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def check_count(n, name="n"):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name}: must be a positive integer, got {n!r}")
    return int(n)


def check_dimension(d):
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"d: must be an integer >= 1, got {d!r}")
    return int(d)
