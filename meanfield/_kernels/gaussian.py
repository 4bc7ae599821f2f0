"""Scalar Gaussian special functions shared by NumPy code and Numba kernels.

Everything here is ``numba.njit``-compiled and callable from Python as well:
the standard normal density and distribution, and the bivariate normal upper
orthant probability ``P(X > h, Y > k)`` for standard normals with correlation
``rho`` (Genz's 2004 algorithm, accurate to about 1e-15).
"""
import math

import numpy as np
from numba import njit

INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
TWO_PI = 2.0 * math.pi


@njit(cache=True)
def norm_pdf(x):
    """φ(x) = exp(-x²/2)/√(2π)."""
    return INV_SQRT_2PI * math.exp(-0.5 * x * x)


@njit(cache=True)
def norm_cdf(x):
    """Φ(x) = ½ erfc(-x/√2)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


# Gauss-Legendre nodes/weights on [-1, 1] (positive half) used by Genz's BVN.
_GL6_X = np.array([0.9324695142031522, 0.6612093864662647, 0.2386191860831970])
_GL6_W = np.array([0.1713244923791705, 0.3607615730481384, 0.4679139345726904])
_GL12_X = np.array([0.9815606342467191, 0.9041172563704750, 0.7699026741943050,
                    0.5873179542866171, 0.3678314989981802, 0.1252334085114692])
_GL12_W = np.array([0.04717533638651177, 0.1069393259953183, 0.1600783285433464,
                    0.2031674267230659, 0.2334925365383547, 0.2491470458134029])
_GL20_X = np.array([0.9931285991850949, 0.9639719272779138, 0.9122344282513259,
                    0.8391169718222188, 0.7463319064601508, 0.6360536807265150,
                    0.5108670019508271, 0.3737060887154196, 0.2277858511416451,
                    0.07652652113349733])
_GL20_W = np.array([0.01761400713915212, 0.04060142980038694, 0.06267204833410906,
                    0.08327674157670475, 0.1019301198172404, 0.1181945319615184,
                    0.1316886384491766, 0.1420961093183821, 0.1491729864726037,
                    0.1527533871307259])


@njit(cache=True)
def bvn_upper(h, k, rho):
    """P(X > h, Y > k) for standard normals X, Y with correlation ``rho``.

    Alan Genz's BVND (Drezner & Wesolowsky 1990 with Genz's refinements),
    absolute error below about 1e-15 for every rho in [-1, 1].
    """
    if rho >= 1.0:
        return norm_cdf(-max(h, k))
    if rho <= -1.0:
        # Y = -X: P(X > h, X < -k)
        return max(0.0, norm_cdf(-k) - norm_cdf(h))
    ar = abs(rho)
    if ar < 0.3:
        xs, ws = _GL6_X, _GL6_W
    elif ar < 0.75:
        xs, ws = _GL12_X, _GL12_W
    else:
        xs, ws = _GL20_X, _GL20_W
    hk = h * k
    bvn = 0.0
    if ar < 0.925:
        hs = (h * h + k * k) / 2.0
        asr = math.asin(rho)
        for i in range(xs.shape[0]):
            for sgn in (-1.0, 1.0):
                sn = math.sin(asr * (sgn * xs[i] + 1.0) / 2.0)
                bvn += ws[i] * math.exp((sn * hk - hs) / (1.0 - sn * sn))
        bvn = bvn * asr / (2.0 * TWO_PI) + norm_cdf(-h) * norm_cdf(-k)
        return bvn
    kk = k
    if rho < 0.0:
        kk = -k
        hk = -hk
    if ar < 1.0:
        as_ = (1.0 - rho) * (1.0 + rho)
        a = math.sqrt(as_)
        bs = (h - kk) ** 2
        c = (4.0 - hk) / 8.0
        d = (12.0 - hk) / 16.0
        asr = -(bs / as_ + hk) / 2.0
        if asr > -100.0:
            bvn = a * math.exp(asr) * (1.0 - c * (bs - as_) * (1.0 - d * bs / 5.0) / 3.0
                                       + c * d * as_ * as_ / 5.0)
        if hk > -160.0:
            b = math.sqrt(bs)
            bvn -= (math.exp(-hk / 2.0) * math.sqrt(TWO_PI) * norm_cdf(-b / a) * b
                    * (1.0 - c * bs * (1.0 - d * bs / 5.0) / 3.0))
        a = a / 2.0
        for i in range(xs.shape[0]):
            for sgn in (-1.0, 1.0):
                xs_ = (a * (sgn * xs[i] + 1.0)) ** 2
                rs = math.sqrt(1.0 - xs_)
                asr = -(bs / xs_ + hk) / 2.0
                if asr > -100.0:
                    bvn += a * ws[i] * math.exp(asr) * (
                        math.exp(-hk * xs_ / (2.0 * (1.0 + rs) ** 2)) / rs
                        - (1.0 + c * xs_ * (1.0 + d * xs_)))
        bvn = -bvn / TWO_PI
    if rho > 0.0:
        bvn += norm_cdf(-max(h, kk))
    else:
        bvn = -bvn
        if kk > h:
            if h < 0.0:
                bvn += norm_cdf(kk) - norm_cdf(h)
            else:
                bvn += norm_cdf(-h) - norm_cdf(-kk)
    return max(0.0, min(1.0, bvn))
