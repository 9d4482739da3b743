"""Exact continuous-time discounting.

Convention (the README repeats it): a value accrued at rate z per year over
[a, b] is worth ∫ z e^{-rt} dt = z (e^{-ra} - e^{-rb}) / r today; a one-off
amount C at time t is worth C e^{-rt}. ``r`` is a continuous (instantaneous)
rate. A scenario gives an *annual* rate d with ``convention = "annual"`` (the
default), which cartsim converts to r = ln(1 + d), so that a cost one year
from now is worth exactly 1/(1 + d); with ``convention = "continuous"`` the
number given is r itself. Costs and outcomes have separate rates.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

CONVENTIONS = ("annual", "continuous")


def continuous_rate(rate: float, convention: str) -> float:
    """The instantaneous rate r for a discount ``rate`` stated in ``convention``.

    >>> round(continuous_rate(0.035, "annual"), 10)
    0.0344014267
    >>> continuous_rate(0.035, "continuous")
    0.035
    """
    if convention == "annual":
        return math.log1p(rate)
    if convention == "continuous":
        return float(rate)
    msg = f"discount convention must be one of {CONVENTIONS}; got {convention!r}"
    raise ValueError(msg)


def discount_factor(t: ArrayLike, r: float) -> np.ndarray:
    """e^{-rt}; exactly 1 where r = 0.

    >>> float(discount_factor(0.0, 0.05))
    1.0
    """
    t = np.asarray(t, dtype=float)
    if r == 0.0:
        return np.ones_like(t)
    return np.exp(-r * t)


def discounted_duration(start: ArrayLike, end: ArrayLike, r: float) -> np.ndarray:
    """∫_start^end e^{-rt} dt, exact; equals ``end - start`` when r = 0.

    Written as e^{-r a} (1 - e^{-r (b-a)}) / r with ``expm1`` so that short
    sojourns and small rates keep full precision.

    >>> float(discounted_duration(0.0, 10.0, 0.0))
    10.0
    >>> round(float(discounted_duration(0.0, math.inf, 0.05)), 12)
    20.0
    """
    a = np.asarray(start, dtype=float)
    b = np.asarray(end, dtype=float)
    if r == 0.0:
        return b - a
    with np.errstate(invalid="ignore", over="ignore"):
        width = b - a
        out = np.exp(-r * a) * -np.expm1(-r * width) / r
    return np.where(width > 0, out, 0.0)


def mean_discount_factor(start: ArrayLike, end: ArrayLike, r: float) -> np.ndarray:
    """Average of e^{-rt} over [start, end] (e^{-r start} for an empty interval).

    The expected discount factor of an event whose time is uniform on the
    interval: how recurring events are discounted given their count.
    """
    a = np.asarray(start, dtype=float)
    b = np.asarray(end, dtype=float)
    width = b - a
    dd = discounted_duration(a, b, r)
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(width > 0, dd / np.where(width > 0, width, 1.0), 0.0)
    return np.where(width > 0, avg, discount_factor(a, r))
