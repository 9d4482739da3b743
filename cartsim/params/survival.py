"""Parametric time-to-event models, sampled by inverting the cumulative hazard.

A model describes an event time ``T >= 0`` in years by its cumulative hazard ``H``,
``S(t) = P(T > t) = exp(-H(t))``.  One uniform ``u`` gives ``T = H^{-1}(-ln u)``, so
``S(T) = u``; reusing ``u`` across strategies gives common random numbers, and a
larger hazard can only bring the event forward.

Conventions: ``H^{-1}(h) = inf{t >= 0 : H(t) >= h}`` for ``h > 0``, +inf if there is no
such ``t`` (defective and cure models: the event never happens).  At ``h = 0``
(``u = 1``) it is the lower end of the support: 0 for continuous families, ``time``
for `Fixed`, +inf for an event that cannot happen.  ``u = 0`` (``Generator.random``
can return it) gives the limit ``u -> 0+``; ``H(t) = 0`` for ``t < 0``.
``time_from_uniform`` is the scalar fast path of the event loop and uses only `math`;
``times_from_uniforms`` is its vectorised twin.  Vectorised results follow IEEE
arithmetic (a time beyond the float range is +inf, "never"), so the public methods
silence numpy's floating-point warnings once, in the base class.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
from numpy.typing import ArrayLike

from cartsim.deferred import special

# One validator for both parameter modules, so every message reads the same way.
from cartsim.params.distributions import _check_real

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["Exponential", "Fixed", "Gompertz", "LogLogistic", "LogNormal", "Never",
           "SurvivalModel", "Weibull"]

_INF = math.inf
_NORMAL = NormalDist()
_REAL: dict[str, Any] = {}
_POS: dict[str, Any] = {"low": 0.0, "low_open": True}
_NONNEG: dict[str, Any] = {"low": 0.0}
_PROB: dict[str, Any] = {"low": 0.0, "high": 1.0}


def _check_u(u: float) -> None:
    if not 0.0 <= u <= 1.0:  # also rejects NaN
        raise ValueError(f"uniform must lie in [0, 1]; got {u!r}")


def _u_to_h(u: float) -> float:
    _check_u(u)
    # "0.0 -" turns -0.0 (u = 1) into +0.0, so u = 1 gives t = 0.0 rather than -0.0.
    return 0.0 - math.log(u) if u > 0.0 else _INF


def _uniforms(u: ArrayLike) -> np.ndarray:
    u = np.asarray(u, dtype=np.float64)
    if not np.all((u >= 0.0) & (u <= 1.0)):
        raise ValueError("uniforms must lie in [0, 1] (no NaN)")
    return u


def _hazards(h: ArrayLike) -> np.ndarray:
    h = np.asarray(h, dtype=np.float64)
    if not np.all(h >= 0.0):
        raise ValueError("cumulative hazards must be >= 0 (no NaN)")
    return h


def _infs(x: np.ndarray) -> np.ndarray:
    return np.full_like(x, _INF)


class SurvivalModel(ABC):
    """Distribution of a time to event, defined by its cumulative hazard."""

    # (argument, limits for _check_real, power of time in its unit): validated after
    # construction; `scaled` multiplies an argument by factor**power.
    _args: ClassVar[tuple[tuple[str, dict[str, Any], int], ...]] = ()
    # True where `times_from_uniforms` does exactly the scalar path's IEEE
    # operations (no transcendental functions whose numpy and libm versions
    # may differ in the last bit), so engines may use either interchangeably.
    vector_equals_scalar: ClassVar[bool] = False

    def __post_init__(self) -> None:
        for arg, limits, _ in self._args:
            value = _check_real(type(self).__name__, arg, getattr(self, arg), **limits)
            object.__setattr__(self, arg, value)

    @abstractmethod
    def _cumulative_hazard(self, t: np.ndarray) -> np.ndarray:
        """``H`` on times ``t >= 0`` (or NaN), warnings already silenced."""

    @abstractmethod
    def _inverse_cumulative_hazard(self, h: np.ndarray) -> np.ndarray:
        """``H^{-1}`` on validated hazards ``h >= 0``, warnings already silenced."""

    def _times_from_uniforms(self, u: np.ndarray) -> np.ndarray:
        return self._inverse_cumulative_hazard(0.0 - np.log(u))

    def cumulative_hazard(self, t: ArrayLike) -> np.ndarray:
        """Cumulative hazard ``H(t)`` (float64, shape of `t`; 0 for t < 0; may be +inf)."""
        t = np.asarray(t, dtype=np.float64)
        with np.errstate(all="ignore"):
            return np.where(t < 0.0, 0.0, self._cumulative_hazard(np.maximum(t, 0.0)))

    def inverse_cumulative_hazard(self, h: ArrayLike) -> np.ndarray:
        """Smallest ``t`` with ``H(t) >= h`` (`h` >= 0); +inf where `h` exceeds ``sup H``."""
        h = _hazards(h)
        with np.errstate(all="ignore"):
            return np.asarray(self._inverse_cumulative_hazard(h), dtype=np.float64)

    @abstractmethod
    def time_from_uniform(self, u: float) -> float:
        """Event time ``T`` with ``S(T) = u`` for one uniform (scalar fast path).

        Parameters
        ----------
        u : float
            In ``[0, 1]``; ``u = 1`` gives the earliest possible time.

        Returns
        -------
        float
            Years from the clock origin; ``math.inf`` if the event never happens.
        """

    def times_from_uniforms(self, u: ArrayLike) -> np.ndarray:
        """Vectorised `time_from_uniform`: ``H^{-1}(-ln u)`` elementwise."""
        u = _uniforms(u)
        with np.errstate(all="ignore"):
            return np.asarray(self._times_from_uniforms(u), dtype=np.float64)

    def survival(self, t: ArrayLike) -> np.ndarray:
        """Survival function ``S(t) = P(T > t) = exp(-H(t))``."""
        return np.exp(-self.cumulative_hazard(t))

    def hazard(self, t: ArrayLike) -> np.ndarray:
        """Hazard ``h(t) = H'(t)`` per year.

        A central difference of ``H`` (one-sided at 0, relative accuracy about 1e-6)
        unless the family overrides it with a closed form; undefined where ``H`` jumps.
        """
        t = np.maximum(np.asarray(t, dtype=np.float64), 0.0)
        lo, hi = np.maximum(t - 1e-6 * np.maximum(t, 1e-3), 0.0), t + 1e-6 * np.maximum(t, 1e-3)
        with np.errstate(all="ignore"):
            return (self.cumulative_hazard(hi) - self.cumulative_hazard(lo)) / (hi - lo)

    def mean(self) -> float:
        """Expected event time in years; +inf if the event may never happen."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form mean")

    def median(self) -> float:
        """Median event time ``H^{-1}(ln 2)``; +inf if ``S`` never falls to 1/2."""
        return float(self.inverse_cumulative_hazard(math.log(2.0)))

    def scaled(self, factor: float) -> SurvivalModel:
        """The same model on a stretched clock, ``T' = factor * T`` (`factor` > 0).

        For unit conversion: a Weibull whose scale was given in months becomes one in
        years with ``.scaled(1 / 12)``.
        """
        f = _check_real("scaled", "factor", factor, **_POS)
        new: dict[str, Any] = {}
        for arg, _, power in self._args:
            if power:  # divide by f rather than multiply by 1/f: exact when f = 1
                v = np.asarray(getattr(self, arg), dtype=np.float64)
                v = v * f if power > 0 else v / f
                new[arg] = tuple(v.tolist()) if v.ndim else float(v)
        # Every model is a frozen dataclass; the base class, typed for them, is not one.
        replaced = dataclasses.replace(cast("DataclassInstance", self), **new)
        return cast(SurvivalModel, replaced)


@dataclass(frozen=True)
class Exponential(SurvivalModel):
    """Constant hazard `rate` per year (>= 0; 0: the event never happens)."""

    rate: float
    _args = (("rate", _NONNEG, -1),)

    def _cumulative_hazard(self, t: np.ndarray) -> np.ndarray:
        return np.zeros_like(t) if self.rate == 0.0 else self.rate * t  # not 0 * inf

    def _inverse_cumulative_hazard(self, h: np.ndarray) -> np.ndarray:
        return _infs(h) if self.rate == 0.0 else h / self.rate

    def time_from_uniform(self, u: float) -> float:
        h = _u_to_h(u)
        return h / self.rate if self.rate > 0.0 else _INF

    def mean(self) -> float:
        return 1.0 / self.rate if self.rate > 0.0 else _INF


@dataclass(frozen=True)
class Weibull(SurvivalModel):
    """``S(t) = exp(-(t/scale)^shape)``, `shape` and `scale` > 0.

    ``Weibull(1, 1/mu)`` is ``Exponential(mu)``.
    """

    shape: float
    scale: float
    _args = (("shape", _POS, 0), ("scale", _POS, 1))

    def _cumulative_hazard(self, t: np.ndarray) -> np.ndarray:
        return (t / self.scale) ** self.shape

    def _inverse_cumulative_hazard(self, h: np.ndarray) -> np.ndarray:
        return self.scale * h ** (1.0 / self.shape)

    def time_from_uniform(self, u: float) -> float:
        h = _u_to_h(u)
        try:
            return self.scale * h ** (1.0 / self.shape)
        except OverflowError:  # float ** raises where numpy gives inf
            return _INF

    def mean(self) -> float:
        try:
            return self.scale * math.gamma(1.0 + 1.0 / self.shape)
        except OverflowError:
            return _INF


@dataclass(frozen=True)
class Gompertz(SurvivalModel):
    """Hazard ``rate * exp(shape * t)``, so ``H = rate/shape (exp(shape t) - 1)``.

    `rate` > 0.  `shape` < 0 is defective (the event never happens with probability
    ``exp(rate/shape)``); `shape` = 0 is the exponential.
    """

    shape: float
    rate: float
    _args = (("shape", _REAL, -1), ("rate", _POS, -1))

    def _cumulative_hazard(self, t: np.ndarray) -> np.ndarray:
        if self.shape == 0.0:
            return self.rate * t
        return self.rate * np.expm1(self.shape * t) / self.shape

    def _inverse_cumulative_hazard(self, h: np.ndarray) -> np.ndarray:
        if self.shape == 0.0:
            return h / self.rate
        x = self.shape * h / self.rate
        return np.where(x <= -1.0, _INF, np.log1p(x) / self.shape)

    def time_from_uniform(self, u: float) -> float:
        h = _u_to_h(u)
        if self.shape == 0.0:
            return h / self.rate
        x = self.shape * h / self.rate
        return _INF if x <= -1.0 else math.log1p(x) / self.shape

    def mean(self) -> float:
        if self.shape <= 0.0:
            return _INF if self.shape < 0.0 else 1.0 / self.rate
        b = self.rate / self.shape
        if b < 600.0:  # E[T] = e^b E1(b) / shape
            return math.exp(b) * float(special.exp1(b)) / self.shape
        # e^b would overflow; the asymptotic series of e^b E1(b) is exact to double here.
        return math.fsum((-1) ** k * math.factorial(k) / b**k for k in range(8)) / self.rate


@dataclass(frozen=True)
class LogLogistic(SurvivalModel):
    """``S(t) = 1 / (1 + (t/scale)^shape)``, `shape` and `scale` > 0."""

    shape: float
    scale: float
    _args = (("shape", _POS, 0), ("scale", _POS, 1))

    def _cumulative_hazard(self, t: np.ndarray) -> np.ndarray:
        # log(1 + e^x) with x = shape ln(t/scale), so (t/scale)^shape cannot overflow.
        return np.logaddexp(0.0, self.shape * np.log(t / self.scale))

    def _inverse_cumulative_hazard(self, h: np.ndarray) -> np.ndarray:
        # scale (e^h - 1)^(1/shape), factored so that e^h cannot overflow.
        return self.scale * np.exp(h / self.shape) * (-np.expm1(-h)) ** (1.0 / self.shape)

    def time_from_uniform(self, u: float) -> float:
        h = _u_to_h(u)
        try:
            return self.scale * math.exp(h / self.shape) * (-math.expm1(-h)) ** (1.0 / self.shape)
        except OverflowError:  # math.exp raises where numpy gives inf
            return _INF

    def mean(self) -> float:
        k = self.shape
        return self.scale * (math.pi / k) / math.sin(math.pi / k) if k > 1.0 else _INF


@dataclass(frozen=True)
class LogNormal(SurvivalModel):
    """``S(t) = 1 - Phi((ln t - meanlog) / sdlog)``, `sdlog` > 0."""

    meanlog: float
    sdlog: float
    _args = (("meanlog", _REAL, 0), ("sdlog", _POS, 0))

    def _cumulative_hazard(self, t: np.ndarray) -> np.ndarray:
        z = (np.log(t) - self.meanlog) / self.sdlog
        return 0.0 - special.log_ndtr(-z)  # log_ndtr stays exact in both tails

    def _inverse_cumulative_hazard(self, h: np.ndarray) -> np.ndarray:
        # ndtri_exp(-h) = Phi^{-1}(e^-h) without rounding e^-h to 1 for tiny h.
        return np.exp(self.meanlog - self.sdlog * special.ndtri_exp(-h))

    def _times_from_uniforms(self, u: np.ndarray) -> np.ndarray:
        # Straight from u (S(T) = u <=> z = -Phi^{-1}(u)), as the scalar path does.
        return np.exp(self.meanlog - self.sdlog * special.ndtri(u))

    def time_from_uniform(self, u: float) -> float:
        if 0.0 < u < 1.0:  # NormalDist.inv_cdf needs the open interval
            try:
                return math.exp(self.meanlog - self.sdlog * _NORMAL.inv_cdf(u))
            except OverflowError:  # math.exp raises where numpy gives inf
                return _INF
        _check_u(u)
        return 0.0 if u == 1.0 else _INF

    def mean(self) -> float:
        return math.exp(self.meanlog + self.sdlog**2 / 2.0)

    def scaled(self, factor: float) -> LogNormal:
        return LogNormal(self.meanlog + math.log(_check_real("scaled", "factor", factor, **_POS)),
                         self.sdlog)


@dataclass(frozen=True)
class Fixed(SurvivalModel):
    """The event happens exactly `time` years after the origin (>= 0; inf: never).

    ``S(t) = 1`` before `time` and 0 from it on, so ``Fixed(0)`` has ``S(0) = 0``.
    """

    time: float
    _args = (("time", {"low": 0.0, "allow_inf": True}, 1),)

    def _cumulative_hazard(self, t: np.ndarray) -> np.ndarray:
        return np.where(t >= self.time, _INF, 0.0)

    def _inverse_cumulative_hazard(self, h: np.ndarray) -> np.ndarray:
        return np.full_like(h, self.time)

    def time_from_uniform(self, u: float) -> float:
        _check_u(u)
        return self.time

    def mean(self) -> float:
        return self.time


@dataclass(frozen=True)
class Never(SurvivalModel):
    """The event never happens."""

    def _cumulative_hazard(self, t: np.ndarray) -> np.ndarray:
        return np.zeros_like(t)

    def _inverse_cumulative_hazard(self, h: np.ndarray) -> np.ndarray:
        return _infs(h)

    def time_from_uniform(self, u: float) -> float:
        _check_u(u)
        return _INF

    def mean(self) -> float:
        return _INF
