"""Compiled death-time arithmetic: the formulas of ``mortality.PatientMortality``
written again for the kernel (the tests compare the engines patient by patient).

The life table is ``haz[x, k]`` (hazard at whole age k) and ``cum[x, k]`` (its
integral from age 0 to k), row x = 0 for women and 1 for men; nobody lives past
``max_age``. A state's mortality is a block of row numbers at ``mo``:
[ratio, excess rate, excess cause, n breaks, break times..., ratios...].
"""

from __future__ import annotations

import math

import numpy as np

from cartsim.engine.flatten import BACKGROUND, DISEASE
from cartsim.engine.jit import leaf

INF = math.inf


@leaf
def cumulative(cum: np.ndarray, haz: np.ndarray, x: int, max_age: float, age: float) -> float:
    """Cumulative background hazard from birth to ``age`` (inf past max_age)."""
    if age >= max_age:
        return INF if age > max_age else cum[x, cum.shape[1] - 1]
    k = int(age)
    return cum[x, k] + haz[x, k] * (age - k)


@leaf
def _table_part(cum, haz, x, max_age, age0, ratio, t0, t1):
    if ratio == 0.0 or max_age == INF:
        return 0.0
    return ratio * (cumulative(cum, haz, x, max_age, age0 + t1)
                    - cumulative(cum, haz, x, max_age, age0 + t0))


@leaf
def integral(num, row, mo, cum, haz, x, max_age, age0, t0, t1):
    """Integrated hazard of the mortality at ``mo`` over [t0, t1]."""
    h = num[row, mo + 1] * (t1 - t0)
    n = int(num[row, mo + 3])
    if n == 0:
        if num[row, mo] != 0.0 and max_age != INF:
            h += _table_part(cum, haz, x, max_age, age0, num[row, mo], t0, t1)
        return h
    at, ratio = t0, num[row, mo]
    for j in range(n):
        start, value = num[row, mo + 4 + j], num[row, mo + 4 + n + j]
        if start <= at:
            ratio = value
            continue
        if start >= t1:
            break
        if ratio != 0.0 and max_age != INF:
            h += _table_part(cum, haz, x, max_age, age0, ratio, at, start)
        at, ratio = start, value
    if ratio != 0.0 and max_age != INF:
        h += _table_part(cum, haz, x, max_age, age0, ratio, at, t1)
    return h


@leaf
def _death_constant(cum, haz, x, max_age, age0, ratio, excess, t, budget):
    # A constant ratio: the combined cumulative hazard ratio x table + excess x age
    # is piecewise linear between whole ages; invert it where the target falls.
    if ratio == 0.0 or max_age == INF:
        return t + budget / excess if excess > 0 else INF
    age = age0 + t
    if age >= max_age:
        return t
    last = cum.shape[1] - 1
    if excess == 0:
        target = cumulative(cum, haz, x, max_age, age) + budget / ratio
        if target >= cum[x, last]:
            return max_age - age0
        # bisect_right(cum[x], target) - 1, searched from the current age (the target
        # is at least the cumulative hazard there)
        lo, hi = min(int(age), last), last + 1
        while lo < hi:
            mid = (lo + hi) // 2
            if target < cum[x, mid]:
                hi = mid
            else:
                lo = mid + 1
        k = lo - 1
        rate = haz[x, k]
        found = k + (target - cum[x, k]) / rate if rate > 0 else float(k + 1)
        return found - age0
    target = (ratio * cumulative(cum, haz, x, max_age, age) + excess * age) + budget
    if target >= ratio * cum[x, last] + excess * last:
        return max_age - age0
    lo, hi = min(int(age), last), last + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if target < ratio * cum[x, mid] + excess * mid:
            hi = mid
        else:
            lo = mid + 1
    k = max(lo - 1, int(age))
    found = k + (target - (ratio * cum[x, k] + excess * k)) / (ratio * haz[x, k] + excess)
    return max(age, found) - age0


@leaf
def time_of_death(num, row, mo, cum, haz, x, max_age, age0, t, budget):
    """Time at which the hazard integrated from ``t`` reaches ``budget``."""
    excess, n = num[row, mo + 1], int(num[row, mo + 3])
    if n == 0:
        return _death_constant(cum, haz, x, max_age, age0, num[row, mo], excess, t, budget)
    # Spend the budget piece by piece between the ratio breaks.
    at, ratio, left = t, num[row, mo], budget
    for j in range(n):
        start, value = num[row, mo + 4 + j], num[row, mo + 4 + n + j]
        if start <= at:
            ratio = value
            continue
        spent = excess * (start - at) + _table_part(cum, haz, x, max_age, age0, ratio, at,
                                                    start)
        if left <= spent:
            return min(_death_constant(cum, haz, x, max_age, age0, ratio, excess, at, left),
                       start)
        left -= spent
        at, ratio = start, value
    return _death_constant(cum, haz, x, max_age, age0, ratio, excess, at, left)


@leaf
def death_cause(num, row, mo, haz, x, max_age, age0, t, u):
    """Cause code of a death at ``t``: a hazard component drawn in proportion to its size."""
    ratio, n = num[row, mo], int(num[row, mo + 3])
    for j in range(n):
        if t < num[row, mo + 4 + j]:
            break
        ratio = num[row, mo + 4 + n + j]
    if max_age == INF or ratio == 0.0:
        return int(num[row, mo + 2])
    age = age0 + t
    if age >= max_age:
        return BACKGROUND
    mu = haz[x, int(age)]
    p0 = min(ratio, 1.0) * mu
    p1 = max(ratio - 1.0, 0.0) * mu
    p2 = num[row, mo + 1]
    pick = (1.0 - u) * ((p0 + p1) + p2)
    if pick < p0:
        return BACKGROUND
    if pick < p0 + p1:
        return DISEASE
    if pick < (p0 + p1) + p2:
        return int(num[row, mo + 2])
    return BACKGROUND


@leaf
def same_mortality(num, row, a, b):
    """Whether two mortality blocks (offsets a, b; a < 0: none yet) are equal."""
    if a < 0:
        return False
    if a == b:
        return True
    n = int(num[row, a + 3])
    if int(num[row, b + 3]) != n:
        return False
    for j in range(4 + 2 * n):  # noqa: SIM110 (numba compiles loops, not generators)
        if num[row, a + j] != num[row, b + j]:
            return False
    return True
