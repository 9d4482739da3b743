"""Time-to-event shapes the pathway needs beyond the standard families.

Piecewise-constant hazards, a mixture cure model, protection that wanes on a
linear ramp, and an event confined to a window after its clock's origin (the
CAR-T-associated malignancy). Each is one uniform in, one time out, like the
families in :mod:`cartsim.params.survival`, and ``make_survival`` builds any
model from its scenario-file name.
"""

from __future__ import annotations

import bisect
import dataclasses
import difflib
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import numpy as np
from numpy.typing import ArrayLike

from cartsim.errors import ParameterError
from cartsim.params.distributions import _check_reals
from cartsim.params.survival import (
    _INF,
    _NONNEG,
    _PROB,
    Exponential,
    Fixed,
    Gompertz,
    LogLogistic,
    LogNormal,
    Never,
    SurvivalModel,
    Weibull,
    _check_u,
    _infs,
    _u_to_h,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


@dataclass(frozen=True)
class PiecewiseExponential(SurvivalModel):
    """Piecewise-constant hazard.

    Parameters
    ----------
    breaks : sequence of float
        Strictly increasing cut points in years, starting at 0.
    rates : sequence of float
        Hazards >= 0, one per break: ``rates[k]`` applies on ``[breaks[k],
        breaks[k+1])`` and the last one from the last break on.
    """

    breaks: tuple[float, ...]
    rates: tuple[float, ...]
    _cum: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _args = (("breaks", _NONNEG, 1), ("rates", _NONNEG, -1))

    def __post_init__(self) -> None:
        who = "PiecewiseExponential"
        breaks = _check_reals(who, "breaks", self.breaks, low=0.0)
        rates = _check_reals(who, "rates", self.rates, low=0.0)
        if len(rates) != len(breaks) or breaks[0] != 0.0:
            raise ParameterError(f"{who} needs len(breaks) == len(rates) and breaks[0] == 0; "
                                 f"got breaks={breaks}, rates={rates}")
        if any(b >= c for b, c in itertools.pairwise(breaks)):
            raise ParameterError(f"{who} breaks must be strictly increasing; got {breaks}")
        cum = [0.0]  # H at each break, shared by the scalar and vector paths
        for k in range(len(rates) - 1):
            cum.append(cum[-1] + rates[k] * (breaks[k + 1] - breaks[k]))
        for name, value in (("breaks", breaks), ("rates", rates), ("_cum", tuple(cum))):
            object.__setattr__(self, name, value)

    def _cumulative_hazard(self, t: np.ndarray) -> np.ndarray:
        k = np.searchsorted(self.breaks, t, side="right") - 1
        r = np.asarray(self.rates)[k]
        extra = np.where(r == 0.0, 0.0, r * (t - np.asarray(self.breaks)[k]))  # not 0 * inf
        return np.asarray(self._cum)[k] + extra

    def _inverse_cumulative_hazard(self, h: np.ndarray) -> np.ndarray:
        # Last segment whose H starts below h (at or below it for h = 0: module doc).
        k = np.where(h > 0.0, np.searchsorted(self._cum, h, side="left"),
                     np.searchsorted(self._cum, h, side="right")) - 1
        r = np.asarray(self.rates)[k]
        t = np.asarray(self.breaks)[k] + (h - np.asarray(self._cum)[k]) / r
        return np.where(r == 0.0, _INF, t)  # only a flat last segment lands here

    def time_from_uniform(self, u: float) -> float:
        h = _u_to_h(u)
        k = (bisect.bisect_left if h > 0.0 else bisect.bisect_right)(self._cum, h) - 1
        r = self.rates[k]
        return _INF if r == 0.0 else self.breaks[k] + (h - self._cum[k]) / r

    def mean(self) -> float:
        widths = [c - b for b, c in itertools.pairwise(self.breaks)]
        parts = [math.exp(-h0) * (-math.expm1(-r * w) / r if r > 0.0 else w)
                 for h0, r, w in zip(self._cum, self.rates, widths, strict=False)]
        last = self.rates[-1]
        return math.fsum(parts) + (math.exp(-self._cum[-1]) / last if last > 0.0 else _INF)


@dataclass(frozen=True)
class CureMixture(SurvivalModel):
    """Mixture cure model ``S(t) = pi + (1 - pi) S_base(t)``.

    Parameters
    ----------
    cure_fraction : float
        ``pi`` in [0, 1], the probability that the event never happens.
    base : SurvivalModel
        Event-time model of the non-cured.

    Notes
    -----
    One uniform decides both: ``u <= pi`` is cured (``T = inf``); otherwise ``T`` is
    the base time of ``u' = (u - pi) / (1 - pi)``, which makes ``S(T) = u``.
    """

    cure_fraction: float
    base: SurvivalModel
    _args = (("cure_fraction", _PROB, 0),)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.base, SurvivalModel):
            raise ParameterError(f"CureMixture base must be a SurvivalModel; got {self.base!r}")

    def _cumulative_hazard(self, t: np.ndarray) -> np.ndarray:
        pi, hb = self.cure_fraction, np.asarray(self.base.cumulative_hazard(t), dtype=np.float64)
        log_pi = math.log(pi) if pi > 0.0 else -_INF
        log_rest = math.log1p(-pi) if pi < 1.0 else -_INF
        near = 0.0 - np.log1p((1.0 - pi) * np.expm1(-hb))  # each form is exact on its
        far = 0.0 - np.logaddexp(log_pi, log_rest - hb)  # own side of ln 2
        return np.where(hb < math.log(2.0), near, far)

    def _inverse_cumulative_hazard(self, h: np.ndarray) -> np.ndarray:
        pi = self.cure_fraction
        if pi == 0.0:
            return self.base.inverse_cumulative_hazard(h)
        if pi == 1.0:
            return _infs(h)
        cured = h >= -math.log(pi)
        # Base hazard for S_base = (e^-h - pi) / (1 - pi), in two forms as above.
        near = 0.0 - np.log1p(np.expm1(-h) / (1.0 - pi))
        far = h - np.log1p(-pi * np.exp(h)) + math.log1p(-pi)
        hb = np.where(cured | np.isnan(far), _INF, np.where(h < 1.0, near, far))
        return np.where(cured, _INF, self.base.inverse_cumulative_hazard(hb))

    def _times_from_uniforms(self, u: np.ndarray) -> np.ndarray:
        # The scalar path's arithmetic, so that both agree to the last bit.
        pi = self.cure_fraction
        cured = u <= pi
        base_u = np.where(cured, 1.0, (u - pi) / (1.0 - pi))
        return np.where(cured, _INF, self.base.times_from_uniforms(base_u))

    def time_from_uniform(self, u: float) -> float:
        _check_u(u)
        pi = self.cure_fraction
        return _INF if u <= pi else self.base.time_from_uniform((u - pi) / (1.0 - pi))

    def mean(self) -> float:
        return _INF if self.cure_fraction > 0.0 else self.base.mean()

    def scaled(self, factor: float) -> CureMixture:
        return CureMixture(self.cure_fraction, self.base.scaled(factor))


@dataclass(frozen=True)
class LinearRamp(SurvivalModel):
    """Waning protection: hazard ``rate * min(t / ramp, 1)``.

    The hazard grows linearly from 0 to `rate` (>= 0) over `ramp` years (>= 0; 0 is
    the exponential) and then stays at `rate`, so ``H = rate t^2 / (2 ramp)`` up to
    `ramp` and ``rate (t - ramp/2)`` after it.
    """

    rate: float
    ramp: float
    _args = (("rate", _NONNEG, -1), ("ramp", _NONNEG, 1))

    def _cumulative_hazard(self, t: np.ndarray) -> np.ndarray:
        if self.rate == 0.0 or self.ramp == 0.0:
            return Exponential(self.rate).cumulative_hazard(t)
        return np.where(t < self.ramp, self.rate * t * t / (2.0 * self.ramp),
                        self.rate * (t - self.ramp / 2.0))

    def _inverse_cumulative_hazard(self, h: np.ndarray) -> np.ndarray:
        if self.rate == 0.0:
            return _infs(h)
        return np.where(h <= self.rate * self.ramp / 2.0, np.sqrt(2.0 * self.ramp * h / self.rate),
                        h / self.rate + self.ramp / 2.0)

    def time_from_uniform(self, u: float) -> float:
        h = _u_to_h(u)
        if self.rate == 0.0:
            return _INF
        if h <= self.rate * self.ramp / 2.0:
            return math.sqrt(2.0 * self.ramp * h / self.rate)
        return h / self.rate + self.ramp / 2.0

    def hazard(self, t: ArrayLike) -> np.ndarray:
        t = np.maximum(np.asarray(t, dtype=np.float64), 0.0)
        return self.rate * (np.minimum(t / self.ramp, 1.0) if self.ramp > 0.0 else np.ones_like(t))

    def mean(self) -> float:
        if self.rate == 0.0 or self.ramp == 0.0:
            return Exponential(self.rate).mean()
        a = self.rate / (2.0 * self.ramp)  # S = exp(-a t^2) on the ramp
        on_ramp = math.sqrt(math.pi / a) / 2.0 * math.erf(math.sqrt(a) * self.ramp)
        return on_ramp + math.exp(-self.rate * self.ramp / 2.0) / self.rate


@dataclass(frozen=True)
class Window(SurvivalModel):
    """With `probability` p the event happens uniformly in ``[0, window]``; else never.

    ``S(t) = 1 - p min(t / window, 1)``.  ``window = 0`` puts the event at time 0 (so
    ``S(0) = 1 - p``).  From one uniform: ``T = window (1 - u) / p`` if ``1 - u <= p``,
    otherwise +inf.
    """

    probability: float
    window: float
    _args = (("probability", _PROB, 0), ("window", _NONNEG, 1))
    vector_equals_scalar = True

    def _cumulative_hazard(self, t: np.ndarray) -> np.ndarray:
        frac = np.minimum(t / self.window, 1.0) if self.window > 0.0 else np.ones_like(t)
        return 0.0 - np.log1p(-self.probability * frac)

    def _inverse_cumulative_hazard(self, h: np.ndarray) -> np.ndarray:
        p = self.probability
        if p == 0.0:
            return _infs(h)
        h_max = -math.log1p(-p) if p < 1.0 else _INF
        return np.where(h > h_max, _INF, self.window * np.minimum(-np.expm1(-h) / p, 1.0))

    def _times_from_uniforms(self, u: np.ndarray) -> np.ndarray:
        # Straight from u, with the scalar path's arithmetic.
        q, p = 1.0 - u, self.probability
        return _infs(q) if p == 0.0 else np.where(q <= p, self.window * q / p, _INF)

    def time_from_uniform(self, u: float) -> float:
        _check_u(u)
        q, p = 1.0 - u, self.probability
        return self.window * q / p if q <= p and p > 0.0 else _INF

    def mean(self) -> float:
        return self.window / 2.0 if self.probability == 1.0 else _INF


_FAMILIES: dict[str, type[SurvivalModel]] = {
    "exponential": Exponential, "weibull": Weibull, "gompertz": Gompertz,
    "loglogistic": LogLogistic, "lognormal": LogNormal,
    "piecewise_exponential": PiecewiseExponential, "fixed": Fixed, "never": Never,
    "linear_ramp": LinearRamp, "window": Window,
}


def make_survival(dist: str, **params: float | Sequence[float]) -> SurvivalModel:
    """Build a survival model from its family name and arguments.

    Parameters
    ----------
    dist : str
        ``exponential, weibull, gompertz, loglogistic, lognormal,
        piecewise_exponential, fixed, never, linear_ramp`` or ``window``.
    **params
        The class's arguments by name (sequences `breaks` and `rates` for
        ``piecewise_exponential``).

    Raises
    ------
    ParameterError
        Unknown name (with a did-you-mean), missing or unexpected arguments, or
        arguments out of range.
    """
    key = dist.strip().lower() if isinstance(dist, str) else ""
    if key not in _FAMILIES:
        close = difflib.get_close_matches(key, _FAMILIES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ParameterError(f"unknown survival distribution {dist!r}{hint} "
                             f"(known: {', '.join(_FAMILIES)})")
    # Every family is a dataclass; the registry is typed by their base class, which is not.
    family = cast("type[DataclassInstance]", _FAMILIES[key])
    names = [f.name for f in dataclasses.fields(family) if f.init]
    missing, extra = [n for n in names if n not in params], sorted(set(params) - set(names))
    if missing or extra:
        problems = [f"{what} {', '.join(ns)}" for what, ns in
                    (("missing", missing), ("unexpected", extra)) if ns]
        raise ParameterError(f"{key}: {'; '.join(problems)}; expected arguments: "
                             f"{', '.join(names) or '(none)'}")
    return _FAMILIES[key](**params)
