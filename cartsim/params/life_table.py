"""General-population mortality from a period life table.

The table gives q_x, the probability that a person of exact age x dies before
x + 1, by sex. cartsim turns it into a piecewise-constant hazard
mu_x = -ln(1 - q_x) on [x, x + 1): the exact continuous-time hazard that
reproduces q_x. Past the last age of the table nobody survives (the hazard is
infinite at ``max_age`` = last age + 1), so a lifetime horizon always ends.
"""

from __future__ import annotations

import bisect
import csv
import functools
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from cartsim.errors import Problem, ScenarioError

SEXES = ("female", "male")
DEFAULT_TABLE = "us_ssa_period_life_table_2025.csv"


@dataclass(frozen=True)
class LifeTable:
    """Background hazards by single year of age for each sex.

    ``cumulative[sex][k]`` is the cumulative hazard from age 0 to age k, for
    k = 0 .. max_age, so hazards integrate exactly between any two ages.
    """

    name: str
    ages: tuple[int, ...]
    hazard: dict[str, tuple[float, ...]]
    cumulative: dict[str, tuple[float, ...]]
    max_age: float
    """Last age of the table + 1: nobody lives past it. A field, not a property:
    the engine reads it at every state entry."""
    _combined: dict[tuple[str, float, float], tuple[float, ...]] = field(
        default_factory=dict, compare=False, repr=False)

    def combined_cumulative(self, sex: str, ratio: float, excess: float) -> tuple[float, ...]:
        """``ratio × cumulative[sex][k] + excess × k`` for k = 0 .. max_age: the
        cumulative hazard of a state's mortality (table times a ratio plus a
        constant excess) at whole ages, computed once per mortality and shared
        by both engines (so their death times agree to the last bit)."""
        key = (sex, ratio, excess)
        found = self._combined.get(key)
        if found is None:
            cum = np.asarray(self.cumulative[sex])
            found = tuple((ratio * cum + excess * np.arange(cum.size)).tolist())
            self._combined[key] = found
        return found

    def cumulative_hazard(self, sex: str, age: float) -> float:
        """Cumulative background hazard from birth to ``age`` (inf past max_age)."""
        if age >= self.max_age:
            return math.inf if age > self.max_age else self.cumulative[sex][-1]
        k = int(age)
        return self.cumulative[sex][k] + self.hazard[sex][k] * (age - k)

    def hazard_at(self, sex: str, age: float) -> float:
        """Background hazard per year at ``age`` (inf at and past max_age)."""
        if age >= self.max_age:
            return math.inf
        return self.hazard[sex][int(age)]

    def age_at_cumulative(self, sex: str, target: float) -> float:
        """Inverse of :meth:`cumulative_hazard`: the age where it reaches ``target``.

        Returns ``max_age`` when the target lies beyond the table's total.
        """
        cum = self.cumulative[sex]
        if target >= cum[-1]:
            return self.max_age
        k = bisect.bisect_right(cum, target) - 1
        rate = self.hazard[sex][k]
        return k + (target - cum[k]) / rate if rate > 0 else float(k + 1)


def _build(name: str, ages: list[int], qx: dict[str, list[float]]) -> LifeTable:
    hazard: dict[str, tuple[float, ...]] = {}
    cumulative: dict[str, tuple[float, ...]] = {}
    for sex in SEXES:
        mu = [-math.log1p(-q) if q < 1.0 else math.inf for q in qx[sex]]
        hazard[sex] = tuple(mu)
        cumulative[sex] = tuple(float(x) for x in np.concatenate([[0.0], np.cumsum(mu)]))
    return LifeTable(name=name, ages=tuple(ages), hazard=hazard, cumulative=cumulative,
                     max_age=float(ages[-1] + 1))


def read_life_table(path: Path | None = None) -> LifeTable:
    """Read a life table CSV (columns ``age,qx_female,qx_male``; ``#`` comments).

    With no path, the US SSA 2025 period table shipped with cartsim is used.
    Ages must be consecutive integers from 0; every q_x in [0, 1].
    """
    if path is None:
        text = resources.files("cartsim.data").joinpath(DEFAULT_TABLE).read_text()
        name, source = "us_ssa_2025", f"cartsim/data/{DEFAULT_TABLE}"
    else:
        text = Path(path).read_text(encoding="utf-8")
        name, source = Path(path).stem, str(path)
    return _parse(text, name, source)


@functools.lru_cache(maxsize=8)
def _parse(text: str, name: str, source: str) -> LifeTable:
    # Cached on the file's text: a PSA reads the same table once per draw.
    rows = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(rows)
    problems: list[Problem] = []
    missing = {"age", "qx_female", "qx_male"} - set(reader.fieldnames or ())
    if missing:
        raise ScenarioError(source, [Problem("columns", f"missing {sorted(missing)}", reader.fieldnames)])
    ages: list[int] = []
    qx: dict[str, list[float]] = {s: [] for s in SEXES}
    for line_no, row in enumerate(reader, start=2):
        try:
            age = int(row["age"])
            values = {s: float(row[f"qx_{s}"]) for s in SEXES}
        except (TypeError, ValueError):
            problems.append(Problem(f"row {line_no}", "age must be an integer and q_x numbers", row))
            continue
        if age != len(ages):
            problems.append(Problem(f"row {line_no}.age", f"ages must run 0, 1, 2, ...; expected {len(ages)}", age))
        for sex, q in values.items():
            if not (0.0 <= q <= 1.0) or math.isnan(q):
                problems.append(Problem(f"row {line_no}.qx_{sex}", "must be a probability in [0, 1]", q))
            qx[sex].append(q)
        ages.append(age)
    if not ages:
        problems.append(Problem("rows", "the table has no rows", None, has_value=False))
    if problems:
        raise ScenarioError(source, problems)
    return _build(name, ages, qx)
