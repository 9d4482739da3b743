"""Observed facts against simulated replicates: predictive intervals and a consistency flag.

Pure functions over arrays. A *predictive check* takes one observed number
(e.g. 11 patients with CRS) and the same quantity in many simulated
replicates of the study; the observation is *consistent* with the model when it
lies inside the equal-tailed predictive interval (95% by default). For counts
the interval uses the inverted empirical CDF, so its ends are values the
simulation produced and it holds at least the stated probability. The two tail
probabilities P(sim <= obs) and P(sim >= obs) say how surprising the
observation is (Gelman, Meng & Stern 1996, posterior predictive p-values).

A *mean check* compares a model quantity with an observed mean that has its own
sampling error (e.g. B-cell return 110 +- 32 days in 5 patients): consistent
when the simulated value lies in the observed mean's t confidence interval.

A study's follow-up reported as a median and range is reproduced by the
triangular distribution on that range with that median
(:func:`triangular_with_median`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from cartsim.params.distributions import Triangular


@dataclass(frozen=True)
class PredictiveCheck:
    """One observed value against its simulated predictive distribution."""

    observed: float
    mean: float
    low: float
    high: float
    p_at_most: float
    p_at_least: float
    level: float
    replicates: int

    @property
    def consistent(self) -> bool:
        return self.low <= self.observed <= self.high

    @property
    def tail_probability(self) -> float:
        """Two-sided predictive p-value: twice the smaller tail, capped at 1."""
        return min(1.0, 2.0 * min(self.p_at_most, self.p_at_least))


@dataclass(frozen=True)
class MeanCheck:
    """A simulated value against an observed mean's confidence interval."""

    observed: float
    simulated: float
    ci_low: float
    ci_high: float
    level: float

    @property
    def consistent(self) -> bool:
        return self.ci_low <= self.simulated <= self.ci_high


def _level(level: float) -> float:
    if not 0.0 < level < 1.0:
        msg = f"level must be in (0, 1); got {level!r}"
        raise ValueError(msg)
    return level


def predictive_interval(simulated: ArrayLike, level: float = 0.95) -> tuple[float, float]:
    """Equal-tailed interval of simulated values (inverted empirical CDF).

    The low end is the smallest value whose empirical CDF reaches
    ``(1 - level)/2``; the high end the smallest whose CDF reaches ``(1 + level)/2``.

    >>> predictive_interval(np.arange(1, 101), 0.9)
    (5.0, 95.0)
    """
    x = np.asarray(simulated, dtype=float)
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        msg = "simulated values must be a non-empty 1-D array of finite numbers"
        raise ValueError(msg)
    tail = (1.0 - _level(level)) / 2.0
    low, high = np.quantile(x, [tail, 1.0 - tail], method="inverted_cdf")
    return float(low), float(high)


def check_prediction(observed: float, simulated: ArrayLike,
                     level: float = 0.95) -> PredictiveCheck:
    """Compare one observed value with replicates of the same quantity.

    Parameters
    ----------
    observed : float
        The reported value (a count, a number of patients).
    simulated : array_like
        The quantity in each simulated replicate of the study.
    level : float
        Probability the predictive interval holds (default 0.95).

    Examples
    --------
    >>> c = check_prediction(0, np.array([0, 0, 0, 1]))
    >>> c.consistent, c.p_at_least
    (True, 1.0)
    """
    x = np.asarray(simulated, dtype=float)
    low, high = predictive_interval(x, level)
    obs = float(observed)
    return PredictiveCheck(
        observed=obs, mean=float(x.mean()), low=low, high=high,
        p_at_most=float(np.mean(x <= obs)), p_at_least=float(np.mean(x >= obs)),
        level=level, replicates=int(x.size))


def mean_interval(mean: float, sd: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """t confidence interval of a mean from its sample SD and size (n >= 2).

    >>> [round(v, 1) for v in mean_interval(110, 32, 5)]
    [70.3, 149.7]
    """
    if n < 2 or not math.isfinite(sd) or sd < 0:
        msg = f"a mean's interval needs n >= 2 and a finite sd >= 0; got n={n}, sd={sd}"
        raise ValueError(msg)
    from scipy import stats  # slow to import; only validation needs it

    half = float(stats.t.ppf((1.0 + _level(level)) / 2.0, n - 1)) * sd / math.sqrt(n)
    return mean - half, mean + half


def check_mean(observed_mean: float, observed_sd: float, n: int, simulated: float,
               level: float = 0.95) -> MeanCheck:
    """Whether a simulated value lies in the observed mean's t interval."""
    low, high = mean_interval(observed_mean, observed_sd, n, level)
    return MeanCheck(observed=observed_mean, simulated=float(simulated), ci_low=low,
                     ci_high=high, level=level)


def triangular_with_median(low: float, median: float, high: float) -> Triangular:
    """The triangular distribution on [low, high] whose median is ``median``.

    If the median is left of the midpoint the mode c solves
    ``high - sqrt((high - low)(high - c)/2) = median``, i.e.
    ``c = high - 2 (high - median)^2 / (high - low)`` (mirrored on the right).
    A solution exists when the median lies within ``(1 - 1/sqrt 2)`` of the
    width from either end.

    >>> round(triangular_with_median(4, 15, 29).mode, 4)
    13.32
    """
    width = high - low
    if not low < median < high:
        msg = f"median {median:g} must lie strictly between low {low:g} and high {high:g}"
        raise ValueError(msg)
    if median <= (low + high) / 2.0:
        mode = high - 2.0 * (high - median) ** 2 / width
    else:
        mode = low + 2.0 * (median - low) ** 2 / width
    if not low <= mode <= high:
        msg = (f"no triangular distribution on [{low:g}, {high:g}] has median {median:g} "
               "(too close to an end)")
        raise ValueError(msg)
    return Triangular(low, mode, high)
