"""meanfield._kernels.ramps: the breakpoint sort of the piecewise rules equals np.sort."""
import numpy as np
from numba import njit

from meanfield._kernels.ramps import sort_breakpoints


@njit(cache=True)
def _numba_sort(a):
    return np.sort(a)


def test_sort_breakpoints_is_np_sort_bit_for_bit():
    """NaN last, ±0, ±inf and ties in the order Numba's np.sort gives (its insertion sort below 16
    elements), for sizes 0 … 15."""
    rng = np.random.default_rng(0)
    specials = np.array([np.nan, 0.0, -0.0, np.inf, -np.inf, 1.0, 1.0, -2.5])
    for size in range(16):
        for _ in range(30):
            a = np.where(rng.random(size) < 0.4, rng.choice(specials, size), rng.standard_normal(size))
            expected = _numba_sort(a.copy())
            got = sort_breakpoints(a.copy())
            np.testing.assert_array_equal(got, expected)
            np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))
