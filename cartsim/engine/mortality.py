"""Death-time arithmetic for one patient (age at entry and sex fixed) on the life table.

The reference engine (simpy) uses these functions; the compiled kernel has its
own implementation of the same formulas (double programming).

A state's hazard is ratio(t) x table(age0 + t, sex) + excess, with ratio(t) the
``Mortality``'s ratio in force at model time t (a constant unless it has a
``ratio_schedule``). The table's hazard is piecewise constant by single year of
age, so the cumulative hazard is piecewise linear between whole ages and ratio
breaks, and integrating or inverting it is exact.

The engine's view of mortality; which hazard applies in which state of a clinical
pathway is :mod:`cartsim.pathway.mortality`.
"""

from __future__ import annotations

import bisect
import math

from cartsim.params.life_table import LifeTable
from cartsim.pathway.model import Mortality


class PatientMortality:
    """Death-time arithmetic for one patient (age and sex fixed), on the life table."""

    __slots__ = ("age0", "haz", "max_age", "sex", "table")

    def __init__(self, table: LifeTable | None, age0: float, sex: str) -> None:
        self.table = table
        self.age0 = age0
        self.sex = sex
        if table is not None:
            self.haz = table.hazard[sex]
            self.max_age = table.max_age
        else:
            self.haz, self.max_age = (), math.inf

    def _table_part(self, ratio: float, t0: float, t1: float) -> float:
        lt = self.table
        if not ratio or lt is None:
            return 0.0
        a0, sex = self.age0, self.sex
        return ratio * (lt.cumulative_hazard(sex, a0 + t1) - lt.cumulative_hazard(sex, a0 + t0))

    def integral(self, m: Mortality, t0: float, t1: float) -> float:
        """Integrated hazard of state mortality ``m`` over [t0, t1]."""
        h = m.excess_rate * (t1 - t0)
        if not m.ratio_schedule:
            if m.life_table_ratio and self.table is not None:
                h += self._table_part(m.life_table_ratio, t0, t1)
            return h
        for a, b, ratio in _pieces(m, t0, t1):
            if ratio and self.table is not None:
                h += self._table_part(ratio, a, b)
        return h

    def time_of_death(self, m: Mortality, t: float, budget: float) -> float:
        """Time at which the hazard integrated from ``t`` reaches ``budget``."""
        if not m.ratio_schedule:
            return self._time_of_death(m.life_table_ratio, m.excess_rate, t, budget)
        # Spend the budget piece by piece between ratio breaks; the piece where it
        # runs out is inverted exactly like a constant ratio.
        excess = m.excess_rate
        at, left = t, budget
        for a, b, ratio in _pieces(m, t, math.inf):
            if math.isinf(b):
                return self._time_of_death(ratio, excess, a, left)
            spent = excess * (b - a) + self._table_part(ratio, a, b)
            if left <= spent:
                return min(self._time_of_death(ratio, excess, a, left), b)
            left -= spent
            at = b
        return at  # not reached: the last piece is open-ended

    def _time_of_death(self, ratio: float, excess: float, t: float, budget: float) -> float:
        lt = self.table
        if not ratio or lt is None:
            return t + budget / excess if excess > 0 else math.inf
        age = self.age0 + t
        if age >= self.max_age:
            return t
        if excess == 0:
            target = lt.cumulative_hazard(self.sex, age) + budget / ratio
            return lt.age_at_cumulative(self.sex, target) - self.age0
        # A constant excess on top of the table: the combined cumulative hazard is
        # piecewise linear between whole ages, so invert it where the target falls.
        combined = lt.combined_cumulative(self.sex, ratio, excess)
        target = (ratio * lt.cumulative_hazard(self.sex, age) + excess * age) + budget
        if target >= combined[-1]:
            return self.max_age - self.age0
        k = max(bisect.bisect_right(combined, target) - 1, int(age))
        found = k + (target - combined[k]) / (ratio * self.haz[k] + excess)
        return (max(age, found)) - self.age0

    def cause(self, m: Mortality, t: float, u: float) -> str:
        """Cause of a death at ``t``: pick a hazard component with probability ∝ size."""
        ratio = m.ratio_at(t) if m.ratio_schedule else m.life_table_ratio
        if self.table is None or not ratio:
            return m.excess_cause
        age = self.age0 + t
        if age >= self.max_age:
            return "background"
        mu = self.table.hazard_at(self.sex, age)
        parts = (
            ("background", min(ratio, 1.0) * mu),
            ("disease", max(ratio - 1.0, 0.0) * mu),
            (m.excess_cause, m.excess_rate),
        )
        # Summed left to right (not sum(), which Python 3.12 compensates), as every
        # engine does.
        total = (parts[0][1] + parts[1][1]) + parts[2][1]
        pick = (1.0 - u) * total
        acc = 0.0
        for name, p in parts:
            acc += p
            if pick < acc:
                return name
        return parts[0][0]


def _pieces(m: Mortality, t0: float, t1: float) -> list[tuple[float, float, float]]:
    """[a, b) pieces of [t0, t1) between the schedule's breaks, with their ratios."""
    out = []
    at, ratio = t0, m.life_table_ratio
    for start, value in m.ratio_schedule:
        if start <= at:
            ratio = value
            continue
        if start >= t1:
            break
        out.append((at, start, ratio))
        at, ratio = start, value
    out.append((at, t1, ratio))
    return out
