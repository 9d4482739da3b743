"""Compiled pieces of the kernel: counter-based uniforms and event times by family.

``uniform`` is Philox4x32-10 exactly as ``cartsim.rng`` computes it (a test
checks bit equality). ``sample_time`` inverts a time model encoded by
``flatten.encode_time`` ([family, parameters...]) with the arithmetic of the
families' ``time_from_uniform`` in ``cartsim.params`` (written again here, not
shared: the simpy engine is the reference, and tests compare the two).
"""

from __future__ import annotations

import math

import numpy as np

from cartsim.engine.flatten import (
    AGE,
    CURE,
    EXPONENTIAL,
    FIXED,
    GOMPERTZ,
    LOGLOGISTIC,
    LOGNORMAL,
    NEVER,
    PIECEWISE,
    RAMP,
    WEIBULL,
    WINDOW,
)
from cartsim.engine.jit import checked, leaf
from cartsim.rng import PHILOX_M0, PHILOX_M1, PHILOX_W0, PHILOX_W1

_M0, _M1 = np.uint64(PHILOX_M0), np.uint64(PHILOX_M1)
_W0, _W1 = np.uint64(PHILOX_W0), np.uint64(PHILOX_W1)
_MASK = np.uint64(0xFFFFFFFF)
_S32, _S11 = np.uint64(32), np.uint64(11)
INF = math.inf


@leaf
def uniform(k0: np.uint64, k1: np.uint64, patient: np.uint64, use: np.uint64,
            draw: np.uint64) -> float:
    """The uniform of counter (patient, use, draw) under key (k0, k1), in (0, 1]."""
    c0, c1, c2, c3 = patient & _MASK, patient >> _S32, use, draw
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        c0, c1, c2, c3 = (p1 >> _S32) ^ c1 ^ k0, p1 & _MASK, (p0 >> _S32) ^ c3 ^ k1, p0 & _MASK
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    return 1.0 - float((c0 | (c1 << _S32)) >> _S11) * 2.0**-53


@leaf
def normal_quantile(p: float) -> float:
    """Wichura's AS241 (Applied Statistics 37:477-484, 1988), as Python's
    ``statistics.NormalDist().inv_cdf`` computes it, for 0 < p < 1."""
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = (((((((2.5090809287301226727e+3 * r + 3.3430575583588128105e+4) * r
                    + 6.7265770927008700853e+4) * r + 4.5921953931549871457e+4) * r
                  + 1.3731693765509461125e+4) * r + 1.9715909503065514427e+3) * r
                + 1.3314166789178437745e+2) * r + 3.3871328727963666080e+0) * q
        den = (((((((5.2264952788528545610e+3 * r + 2.8729085735721942674e+4) * r
                    + 3.9307895800092710610e+4) * r + 2.1213794301586595867e+4) * r
                  + 5.3941960214247511077e+3) * r + 6.8718700749205790830e+2) * r
                + 4.2313330701600911252e+1) * r + 1.0)
        return 0.0 + (num / den) * 1.0
    r = p if q <= 0.0 else 1.0 - p
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r = r - 1.6
        num = (((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r
                    + 2.41780725177450611770e-1) * r + 1.27045825245236838258e+0) * r
                  + 3.64784832476320460504e+0) * r + 5.76949722146069140550e+0) * r
                + 4.63033784615654529590e+0) * r + 1.42343711074968357734e+0)
        den = (((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r
                    + 1.51986665636164571966e-2) * r + 1.48103976427480074590e-1) * r
                  + 6.89767334985100004550e-1) * r + 1.67638483018380384940e+0) * r
                + 2.05319162663775882187e+0) * r + 1.0)
    else:
        r = r - 5.0
        num = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
                    + 1.24266094738807843860e-3) * r + 2.65321895265761230930e-2) * r
                  + 2.96560571828504891230e-1) * r + 1.78482653991729133580e+0) * r
                + 5.46378491116411436990e+0) * r + 6.65790464350110377720e+0)
        den = (((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r
                    + 1.84631831751005468180e-5) * r + 7.86869131145613259100e-4) * r
                  + 1.48753612908506148525e-2) * r + 1.36929880922735805310e-1) * r
                + 5.99832206555887937690e-1) * r + 1.0)
    x = num / den
    if q < 0.0:
        x = -x
    return 0.0 + x * 1.0


@leaf
def draws_number(num: np.ndarray, row: int, off: int) -> bool:
    """Whether a state-clock time needs a uniform: not for a zero exponential rate,
    a fixed time, never, or an age-specific hazard that is zero everywhere."""
    family = int(num[row, off])
    if family == EXPONENTIAL:
        return num[row, off + 1] != 0.0
    if family == FIXED or family == NEVER:  # noqa: SIM109 (kept simple for numba)
        return False
    if family == AGE:
        return num[row, off + 1] == 0.0
    return True


@leaf
def fixed_time(num: np.ndarray, row: int, off: int) -> float:
    """The time of a model that draws no number (fixed time; otherwise never)."""
    if int(num[row, off]) == FIXED:
        return num[row, off + 1]
    return INF


@leaf
def _age_time(num: np.ndarray, row: int, off: int, h: float, age: float,
              female: bool) -> float:
    # Bands of equal hazard from the entry age; spend h band by band.
    at = off + 2
    if not female:
        at += 1 + 2 * int(num[row, at])
    n = int(num[row, at])
    starts, hazards = at + 1, at + 1 + n
    j = 0
    while j + 1 < n and num[row, starts + j + 1] <= age:
        j += 1
    start = age
    while True:
        rate = num[row, hazards + j]
        end = num[row, starts + j + 1] if j + 1 < n else INF
        if rate > 0.0:
            room = rate * (end - start)
            if h <= room:
                return (start - age) + h / rate
            h -= room
        if end == INF:
            return INF
        start = end
        j += 1


@leaf
def sample_time(num: np.ndarray, row: int, off: int, u: float, age: float,
                female: bool) -> float:
    """Time from the clock's origin to the event for uniform ``u`` (``age`` and sex
    are the patient's at the clock's origin, for an age-specific hazard)."""
    family = int(num[row, off])
    while family == CURE:  # the uniform decides cure, then drives the base model
        pi = num[row, off + 1]
        if u <= pi:
            return INF
        u = (u - pi) / (1.0 - pi)
        off += 2
        family = int(num[row, off])
    # The common families first.
    if family == EXPONENTIAL:
        rate = num[row, off + 1]
        return (0.0 - math.log(u)) / rate if rate > 0.0 else INF
    if family == WEIBULL:
        return num[row, off + 2] * (0.0 - math.log(u)) ** (1.0 / num[row, off + 1])
    if family == FIXED:
        return num[row, off + 1]
    if family == NEVER:
        return INF
    if family == WINDOW:
        q, p = 1.0 - u, num[row, off + 1]
        return num[row, off + 2] * q / p if q <= p and p > 0.0 else INF
    if family == LOGNORMAL:
        if u == 1.0:
            return 0.0
        return math.exp(num[row, off + 1] - num[row, off + 2] * normal_quantile(u))
    h = 0.0 - math.log(u)
    if family == GOMPERTZ:
        shape, rate = num[row, off + 1], num[row, off + 2]
        if shape == 0.0:
            return h / rate
        x = shape * h / rate
        return INF if x <= -1.0 else math.log1p(x) / shape
    if family == LOGLOGISTIC:
        shape, scale = num[row, off + 1], num[row, off + 2]
        return scale * math.exp(h / shape) * (-math.expm1(-h)) ** (1.0 / shape)
    if family == RAMP:
        rate, ramp = num[row, off + 1], num[row, off + 2]
        if rate == 0.0:
            return INF
        if h <= rate * ramp / 2.0:
            return math.sqrt(2.0 * ramp * h / rate)
        return h / rate + ramp / 2.0
    if family == PIECEWISE:
        n = int(num[row, off + 1])
        breaks, rates, cum = off + 2, off + 2 + n, off + 2 + 2 * n
        # bisect_left (h > 0) or bisect_right (h = 0) on the cumulative hazards, minus 1
        k = 0
        while k < n and (num[row, cum + k] < h or (h == 0.0 and num[row, cum + k] == h)):
            k += 1
        k -= 1
        rate = num[row, rates + k]
        return INF if rate == 0.0 else num[row, breaks + k] + (h - num[row, cum + k]) / rate
    if family == AGE:
        return _age_time(num, row, off, h, age, female)
    return INF


@checked
def uniform_column(k0: np.uint64, k1: np.uint64, patients: np.ndarray, use: int,
                   draw: int) -> np.ndarray:
    """``uniform`` for many patients (for checking it against ``cartsim.rng``)."""
    out = np.empty(patients.shape[0])
    for i in range(patients.shape[0]):
        out[i] = uniform(k0, k1, np.uint64(patients[i]), np.uint64(use), np.uint64(draw))
    return out
