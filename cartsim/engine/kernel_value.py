"""Compiled pieces of the kernel: discounting, Poisson counts, age-scaled rates, grid bins.

The kernel sums numbers handed to it as plain arrays (a rate per state, an
amount per event, one column per valuation setting); it does not know what
they mean. These are the closed forms it sums with, the same conventions as
``cartsim.outcomes.discounting`` and ``cartsim.engine.recurring``:

* a rate z over [a, b] at continuous rate r: z e^{-ra} (1 - e^{-r(b-a)}) / r
  (z (b - a) at r = 0); an amount at t: e^{-rt};
* a recurring event's count is Poisson(rate x duration) by inverse CDF, and
  its expected discount factor is the sojourn's mean discount factor.
"""

from __future__ import annotations

import math

import numpy as np

from cartsim.engine.jit import checked, leaf
from cartsim.engine.recurring import poisson_large

SMALL_MEAN = 700.0
"""Up to this mean, counts walk the Poisson CDF up from 0 (e^{-mean} is still a
normal float); beyond it, from the mode (rare: rate x duration over 700)."""


@leaf
def discounted_duration(a: float, b: float, r: float) -> float:
    if r == 0.0:
        return b - a
    width = b - a
    if width > 0.0:
        return math.exp(-r * a) * -math.expm1(-r * width) / r
    return 0.0


@leaf
def discount_factor(t: float, r: float) -> float:
    return 1.0 if r == 0.0 else math.exp(-r * t)


@leaf
def mean_discount_factor(a: float, b: float, r: float) -> float:
    width = b - a
    if width > 0.0:
        return discounted_duration(a, b, r) / width
    return discount_factor(a, r)


@leaf
def poisson_count(u: float, mean: float) -> int:
    """Smallest k with Poisson(mean) CDF(k) > 1 - u (0 for mean <= 0)."""
    if not mean > 0.0:
        return 0
    q = 1.0 - u
    if mean <= SMALL_MEAN:
        term = math.exp(-mean)
        cdf = term
        k = 0
        while cdf <= q and term > 0.0:
            k += 1
            term = term * mean / k
            cdf = cdf + term
        return k
    return _poisson_large(q, mean)


# The same walk as the simpy engine's (one text, so the engines cannot drift apart):
# from the mode, the CDF summed downwards, then down or up to the quantile.
_poisson_large = leaf(poisson_large)


@leaf
def below(grid: np.ndarray, x: float) -> int:
    """How many grid values are < x (numpy searchsorted, side left)."""
    lo, hi = 0, grid.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if grid[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@leaf
def at_or_below(grid: np.ndarray, x: float) -> int:
    """How many grid values are <= x (numpy searchsorted, side right)."""
    lo, hi = 0, grid.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if grid[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@leaf
def age_scaled(pool: np.ndarray, off: int, female: bool, age0: float, a: float, b: float,
               rate: float, r: float) -> tuple[float, float]:
    """Discounted and undiscounted integrals over [a, b] of rate x norm(age0 + t) /
    norm(age0), the norm a step function of whole age (bands of equal values at
    ``off`` in ``pool``: n, first ages, values; women first, then men); the same
    pieces as ``cartsim.outcomes.age_norm``."""
    at = off
    if not female:
        at += 1 + 2 * int(pool[off])
    n = int(pool[at])
    first, value = at + 1, at + 1 + n
    base, lo, hi = -1, -1, -1
    for j in range(n):
        edge = pool[first + j] - age0
        if edge <= 0.0:
            base += 1
        if edge <= a:
            lo += 1
        if edge < b:
            hi += 1
    hi = max(hi, lo)
    disc = 0.0
    undisc = 0.0
    for j in range(lo, hi + 1):
        p = a if j == lo else pool[first + j] - age0
        q = b if j == hi else pool[first + j + 1] - age0
        per_year = rate * (pool[value + j] / pool[value + base])
        disc += per_year * discounted_duration(p, q, r)
        undisc += per_year * (q - p)
    return disc, undisc


@checked
def poisson_counts(u: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``poisson_count`` elementwise (for checking it against the reference engine's)."""
    out = np.empty(u.shape[0], dtype=np.int64)
    for i in range(u.shape[0]):
        out[i] = poisson_count(u[i], mean[i])
    return out
