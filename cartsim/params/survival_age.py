"""A transition hazard that depends on the patient's age: rates by whole year of age.

``AgeSpecificHazard`` describes, for instance, excess cancer incidence as
(SIR - 1) x the general population's incidence at each age. Its hazard at time
t after entering a state is ``multiplier x rates[sex][floor(age_at_entry + t)]``
(the last age's rate beyond the table), so a time needs the patient's age and
sex as well as a uniform: use :meth:`AgeSpecificHazard.time_from_uniform_at`.
Engines pass the age at state entry; the hazard runs on the state clock only.

Sampling inverts the cumulative hazard from the current age with one uniform:
E = -ln u, spent band by band. Consecutive ages with the same rate form one
band, so a table that is constant gives exactly the exponential time E / rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from cartsim.errors import ParameterError
from cartsim.params.survival import SurvivalModel, _u_to_h

SEXES = ("female", "male")


def rate_bands(rates: tuple[float, ...], multiplier: float) -> tuple[tuple[int, ...],
                                                                     tuple[float, ...]]:
    """(first age, hazard) of each run of equal rates, hazard = multiplier x rate.

    >>> rate_bands((0.1, 0.1, 0.2, 0.2, 0.2), 2.0)
    ((0, 2), (0.2, 0.4))
    """
    starts, base = _runs(rates)
    return starts, tuple(multiplier * rate for rate in base)


@lru_cache(maxsize=64)
def _runs(rates: tuple[float, ...]) -> tuple[tuple[int, ...], tuple[float, ...]]:
    # A PSA builds the same table's hazard once per draw with another multiplier:
    # the runs of equal rates are found once per table.
    starts = [0] + [k for k in range(1, len(rates)) if rates[k] != rates[k - 1]]
    return tuple(starts), tuple(rates[k] for k in starts)


def _clean(rates: Sequence[float]) -> tuple[float, ...] | None:
    """The rates as floats, or None unless non-empty, finite and >= 0."""
    try:
        return _clean_tuple(tuple(rates))
    except TypeError:  # unhashable values: checked without the cache
        return _clean_tuple.__wrapped__(tuple(rates))


@lru_cache(maxsize=64)
def _clean_tuple(rates: tuple[float, ...]) -> tuple[float, ...] | None:
    clean = tuple(float(x) for x in rates)
    if not clean or not all(math.isfinite(x) and x >= 0.0 for x in clean):
        return None
    return clean


@dataclass(frozen=True)
class AgeSpecificHazard(SurvivalModel):
    """Hazard ``multiplier x rates[sex][floor(age)]`` per year at each whole age.

    Parameters
    ----------
    rates : mapping
        ``"female"`` and ``"male"``: rate per year at ages 0, 1, ..., A (>= 0,
        finite); the last applies beyond A.
    multiplier : float
        >= 0. With 0, or with every rate 0, the event never happens and engines
        draw no number for it.
    """

    rates: Mapping[str, tuple[float, ...]] = field(hash=False)
    multiplier: float = 1.0
    _bands: Mapping[str, tuple[tuple[int, ...], tuple[float, ...]]] = field(
        init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        checked = {sex: _clean(self.rates.get(sex, ())) for sex in SEXES}
        m = float(self.multiplier)
        if set(self.rates) != set(SEXES) or any(v is None for v in checked.values()):
            msg = ("AgeSpecificHazard rates need 'female' and 'male', each a non-empty "
                   f"sequence of finite rates >= 0; got {self.rates!r}")
            raise ParameterError(msg)
        if not (math.isfinite(m) and m >= 0.0):
            raise ParameterError(f"AgeSpecificHazard multiplier must be finite and >= 0; "
                                 f"got {self.multiplier!r}")
        clean = {sex: v for sex, v in checked.items() if v is not None}
        object.__setattr__(self, "rates", clean)
        object.__setattr__(self, "multiplier", m)
        object.__setattr__(self, "_bands", {s: rate_bands(clean[s], m) for s in SEXES})

    @property
    def never(self) -> bool:
        """True when the hazard is 0 at every age and for both sexes."""
        return all(h == 0.0 for s in SEXES for h in self._bands[s][1])

    def bands(self, sex: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
        """(first age, hazard) of each run of equal hazards for ``sex``."""
        return self._bands[sex]

    def time_from_uniform_at(self, u: float, age: float, sex: str) -> float:
        """Time after entry at ``age`` at which the cumulative hazard reaches -ln u.

        >>> AgeSpecificHazard({"female": (0.5,), "male": (0.5,)}).time_from_uniform_at(
        ...     math.exp(-1.0), 40.0, "female")
        2.0
        """
        h = _u_to_h(u)
        starts, hazards = self._bands[sex]
        j = 0
        while j + 1 < len(starts) and starts[j + 1] <= age:
            j += 1
        at = age  # start of the band being spent (the entry age in the first)
        while True:
            rate = hazards[j]
            end = float(starts[j + 1]) if j + 1 < len(starts) else math.inf
            if rate > 0.0:
                room = rate * (end - at)
                if h <= room:
                    return (at - age) + h / rate
                h -= room
            if math.isinf(end):
                return math.inf
            at = end
            j += 1

    def cumulative_hazard_at(self, t: ArrayLike, age: float, sex: str) -> np.ndarray:
        """Cumulative hazard over [0, t] after entry at ``age`` (t >= 0)."""
        t = np.maximum(np.asarray(t, dtype=np.float64), 0.0)
        starts, hazards = self._bands[sex]
        edges = np.array([*starts[1:], math.inf], dtype=np.float64)
        lows = np.array(starts, dtype=np.float64)
        out = np.zeros_like(t)
        for low, high, rate in zip(lows, edges, hazards, strict=True):
            a = np.maximum(low, age)
            b = np.minimum(high, age + t)
            out += np.where(b > a, rate * (b - a), 0.0)
        return out

    def _needs_age(self) -> TypeError:
        return TypeError("AgeSpecificHazard needs the patient's age and sex: use "
                         "time_from_uniform_at or cumulative_hazard_at")

    def _cumulative_hazard(self, t: np.ndarray) -> np.ndarray:
        raise self._needs_age()

    def _inverse_cumulative_hazard(self, h: np.ndarray) -> np.ndarray:
        raise self._needs_age()

    def time_from_uniform(self, u: float) -> float:
        raise self._needs_age()

    def scaled(self, factor: float) -> AgeSpecificHazard:
        msg = "AgeSpecificHazard rates are per year of age; they cannot be rescaled in time"
        raise ParameterError(msg)
