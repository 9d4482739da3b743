"""Death-time arithmetic of the simpy engine, for arrays of patients.

The same formulas as ``mortality.PatientMortality``, written so that each
patient gets bit-for-bit the same floating-point operations: the vectorised
engine is checked against the simpy engine patient by patient. A mortality with
a ratio schedule is rare enough to be computed patient by patient with
``PatientMortality`` itself.
"""

from __future__ import annotations

import math

import numpy as np

from cartsim.engine.mortality import PatientMortality
from cartsim.params.life_table import LifeTable
from cartsim.pathway.model import Mortality


class MortalityArrays:
    """Life-table lookups for a batch of patients (age at start and sex fixed)."""

    def __init__(self, table: LifeTable | None, age0: np.ndarray, female: np.ndarray) -> None:
        self.table = table
        self.age0 = age0
        self.female = female
        if table is None:
            return
        self.max_age = table.max_age
        # Row 0 female, row 1 male; each patient indexes its sex's row.
        self.sex = np.where(female, 0, 1)
        self.cum2 = np.array([table.cumulative["female"], table.cumulative["male"]])
        self.haz2 = np.array([table.hazard["female"], table.hazard["male"]])

    def _cumulative(self, rows: np.ndarray, age: np.ndarray) -> np.ndarray:
        out = np.empty(age.shape)
        over = age >= self.max_age
        inside = ~over
        k = np.floor(age[inside]).astype(np.int64)
        x = self.sex[rows[inside]]
        out[inside] = self.cum2[x, k] + self.haz2[x, k] * (age[inside] - k)
        out[over] = np.where(age[over] == self.max_age, self.cum2[self.sex[rows[over]], -1],
                             math.inf)
        return out

    def sex_names(self, rows: np.ndarray) -> list[str]:
        return ["female" if f else "male" for f in self.female[rows].tolist()]

    def _each(self, rows: np.ndarray) -> list[PatientMortality]:
        return [PatientMortality(self.table, a, s)
                for a, s in zip(self.age0[rows].tolist(), self.sex_names(rows), strict=True)]

    def integral(self, m: Mortality, rows: np.ndarray, t0: np.ndarray,
                 t1: np.ndarray) -> np.ndarray:
        """Integrated hazard of mortality ``m`` over [t0, t1] for patients ``rows``."""
        if m.ratio_schedule:
            return np.array([p.integral(m, a, b) for p, a, b in zip(
                self._each(rows), t0.tolist(), t1.tolist(), strict=True)], dtype=float)
        h = m.excess_rate * (t1 - t0)
        if m.life_table_ratio and self.table is not None:
            a0 = self.age0[rows]
            h = h + m.life_table_ratio * (self._cumulative(rows, a0 + t1)
                                          - self._cumulative(rows, a0 + t0))
        return h

    def time_of_death(self, m: Mortality, rows: np.ndarray, t: np.ndarray,
                      budget: np.ndarray) -> np.ndarray:
        """Time at which the hazard integrated from ``t`` reaches ``budget``."""
        if m.ratio_schedule:
            return np.array([p.time_of_death(m, a, b) for p, a, b in zip(
                self._each(rows), t.tolist(), budget.tolist(), strict=True)], dtype=float)
        ratio, excess = m.life_table_ratio, m.excess_rate
        if not ratio or self.table is None:
            if excess > 0:
                return t + budget / excess
            return np.full(t.shape, math.inf)
        a0 = self.age0[rows]
        age = a0 + t
        out = np.empty(t.shape)
        over = age >= self.max_age
        out[over] = t[over]
        todo = np.flatnonzero(~over)
        if excess == 0:
            x = self.sex[rows[todo]]
            target = self._cumulative(rows[todo], age[todo]) + budget[todo] / ratio
            beyond = target >= self.cum2[x, -1]
            res = np.empty(todo.size)
            res[beyond] = self.max_age - a0[todo][beyond]
            ok = ~beyond
            k = np.empty(int(ok.sum()), dtype=np.int64)
            xo = x[ok]
            for sex in (0, 1):  # bisect_right - 1 on that sex's cumulative hazards
                mine = xo == sex
                k[mine] = np.searchsorted(self.cum2[sex], target[ok][mine], side="right") - 1
            rate = self.haz2[xo, k]
            cum_k = self.cum2[xo, k]
            with np.errstate(divide="ignore", invalid="ignore"):
                found = np.where(rate > 0, k + (target[ok] - cum_k) / rate, (k + 1).astype(float))
            res[ok] = found - a0[todo][ok]
            out[todo] = res
            return out
        # A constant excess on top of the table: invert the combined cumulative
        # hazard (piecewise linear between whole ages), as simpy_engine does.
        sexes = self.sex[rows[todo]]
        combined = np.array([self.table.combined_cumulative(sex, ratio, excess)
                             for sex in ("female", "male")])
        now = age[todo]
        target = (ratio * self._cumulative(rows[todo], now) + excess * now) + budget[todo]
        res = np.empty(todo.size)
        beyond = target >= combined[sexes, -1]
        res[beyond] = self.max_age - a0[todo][beyond]
        ok = np.flatnonzero(~beyond)
        k = np.empty(ok.size, dtype=np.int64)
        for x in (0, 1):  # bisect_right - 1 on that sex's combined table
            mine = sexes[ok] == x
            k[mine] = np.searchsorted(combined[x], target[ok][mine], side="right") - 1
        k = np.maximum(k, np.floor(now[ok]).astype(np.int64))
        xo = sexes[ok]
        found = k + (target[ok] - combined[xo, k]) / (ratio * self.haz2[xo, k] + excess)
        res[ok] = np.where(found > now[ok], found, now[ok]) - a0[todo][ok]
        out[todo] = res
        return out

    def cause(self, m: Mortality, rows: np.ndarray, t: np.ndarray,
              u: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
        """Cause of each death: a hazard component drawn in proportion to its size.

        Returns an index per patient into the returned tuple of cause names.
        """
        names = ("background", "disease", m.excess_cause)
        if m.ratio_schedule:
            found = [p.cause(m, a, x) for p, a, x in zip(
                self._each(rows), t.tolist(), u.tolist(), strict=True)]
            return np.array([names.index(c) for c in found], dtype=np.int64), names
        if self.table is None or not m.life_table_ratio:
            return np.full(t.size, 2), names
        age = self.age0[rows] + t
        over = age >= self.max_age
        k = np.minimum(np.floor(age), self.haz2.shape[1] - 1).astype(np.int64)
        mu = self.haz2[self.sex[rows], k]
        parts = (np.minimum(m.life_table_ratio, 1.0) * mu,
                 max(m.life_table_ratio - 1.0, 0.0) * mu,
                 np.full(t.shape, m.excess_rate))
        total = (0.0 + parts[0]) + parts[1] + parts[2]
        pick = (1.0 - u) * total
        acc = np.zeros(t.shape)
        chosen = np.full(t.shape, -1)
        for j, p in enumerate(parts):
            acc = acc + p
            chosen = np.where((chosen < 0) & (pick < acc), j, chosen)
        chosen = np.where((chosen < 0) | over, 0, chosen)
        return chosen, names
