"""General-population mortality from a period life table.

The table gives q_x, the probability that a person of exact age x dies before
x + 1, by sex. cartsim turns it into a piecewise-constant hazard
mu_x = -ln(1 - q_x) on [x, x + 1): the exact continuous-time hazard that
reproduces q_x. Past the last age of the table nobody survives (the hazard is
infinite at ``max_age`` = last age + 1), so a lifetime horizon always ends.
A q_x of 1 (certain death) may stand only on the last row, where it says the
table ends one row earlier; anywhere else it is refused, naming the row.
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

from cartsim.checks import read_text_file
from cartsim.errors import Problem, ScenarioError

SEXES = ("female", "male")
COLUMNS = ("age", "qx_female", "qx_male")
DEFAULT_TABLE = "us_ssa_period_life_table_2025.csv"
MAX_TABLE_BYTES = 1_000_000


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
    # Certain death (q = 1, an infinite hazard) is allowed only on the last row, for
    # both sexes (see _check_certain_death): nobody then lives past that row's age,
    # which is exactly a table that ends one row earlier. Stored that way, no hazard
    # is ever infinite, so both engines handle it with the arithmetic they use at
    # every table's end.
    if all(qx[sex][-1] == 1.0 for sex in SEXES):
        ages = ages[:-1]
        qx = {sex: q[:-1] for sex, q in qx.items()}
    hazard: dict[str, tuple[float, ...]] = {}
    cumulative: dict[str, tuple[float, ...]] = {}
    for sex in SEXES:
        mu = [-math.log1p(-q) for q in qx[sex]]
        hazard[sex] = tuple(mu)
        cumulative[sex] = tuple(float(x) for x in np.concatenate([[0.0], np.cumsum(mu)]))
    return LifeTable(name=name, ages=tuple(ages), hazard=hazard, cumulative=cumulative,
                     max_age=float(ages[-1] + 1))


def read_life_table(path: Path | None = None, *, source: str | None = None,
                    key: str = "run.life_table") -> LifeTable:
    """Read a life table CSV (columns ``age,qx_female,qx_male``; ``#`` comments).

    With no path, the US SSA 2025 period table shipped with cartsim is used.
    Ages must be consecutive integers from 0; every q_x in [0, 1]; q_x = 1 only
    on the last row and for both sexes (see :func:`_check_certain_death`).
    ``source`` heads any error (default: the file's path); ``key`` names the
    scenario key that named the file.
    """
    if path is None:
        text = resources.files("cartsim.data").joinpath(DEFAULT_TABLE).read_text(
            encoding="utf-8")
        name, source = "us_ssa_2025", f"cartsim/data/{DEFAULT_TABLE}"
    else:
        source = source or str(path)
        text = read_text_file(Path(path), source=source, key=key, max_bytes=MAX_TABLE_BYTES)
        name = Path(path).stem
    return _parse(text, name, source)


@functools.lru_cache(maxsize=8)
def _parse(text: str, name: str, source: str) -> LifeTable:
    # Cached on the file's text: a PSA reads the same table once per draw.
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), start=1)
                if line.strip() and not line.lstrip().startswith("#")]
    problems: list[Problem] = []
    if not numbered:
        raise ScenarioError(source, [Problem("rows", "the table is empty: it needs the header "
                                             "age,qx_female,qx_male and one row per age",
                                             None, has_value=False)])
    try:
        rows = list(csv.reader(line for _, line in numbered))
    except csv.Error as err:
        raise ScenarioError(source, [Problem("rows", f"is not a readable CSV file ({err})",
                                             None, has_value=False)]) from err
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing or len(rows) != len(numbered):
        why = f"missing column(s) {', '.join(missing)}" if missing else \
            "a quoted field spans lines"
        raise ScenarioError(source, [Problem(f"line {numbered[0][0]}", why, rows[0][:8],
                                             "the header line should read "
                                             "age,qx_female,qx_male")])
    at = {c: header.index(c) for c in COLUMNS}
    ages: list[int] = []
    qx: dict[str, list[float]] = {s: [] for s in SEXES}
    lines: list[int] = []
    for (line_no, _), fields in zip(numbered[1:], rows[1:], strict=True):
        where = f"line {line_no}"
        if len(fields) != len(header):
            problems.append(Problem(where, f"has {len(fields)} fields; the header has "
                                    f"{len(header)}", fields[:8]))
            for sex in SEXES:  # keep counting ages past a ragged row
                qx[sex].append(0.0)
            ages.append(len(ages))
            lines.append(line_no)
            continue
        age = _whole(fields[at["age"]])
        if age is None or age != len(ages):
            problems.append(Problem(f"{where}.age", "ages must be whole numbers running 0, 1, "
                                    f"2, ...; expected {len(ages)}", fields[at["age"]]))
            break  # every later row would be off by the same amount
        for sex in SEXES:
            q = _number(fields[at[f"qx_{sex}"]])
            if q is None or not 0.0 <= q <= 1.0:
                problems.append(Problem(f"{where}.qx_{sex}", "must be a probability in [0, 1]",
                                        fields[at[f"qx_{sex}"]]))
                q = 0.0
            qx[sex].append(q)
        ages.append(len(ages))
        lines.append(line_no)
        if len(problems) > 40:
            break
    if not ages and not problems:
        problems.append(Problem("rows", "the table has a header but no rows", None,
                                has_value=False))
    if not problems:
        problems += _check_certain_death(qx, lines)
    if problems:
        raise ScenarioError(source, problems)
    return _build(name, ages, qx)


def _whole(text: str) -> int | None:
    x = _number(text)
    return int(x) if x is not None and x == math.floor(x) else None


def _number(text: str) -> float | None:
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _check_certain_death(qx: dict[str, list[float]], lines: list[int]) -> list[Problem]:
    """q = 1 is certain death within the year, an infinite hazard: every later row could
    never be reached, so it may stand only on the last row, and there for both sexes
    (the table has one last age). Anything else would silently give wrong survival."""
    out = []
    last = len(lines) - 1
    for sex in SEXES:
        for k, q in enumerate(qx[sex]):
            if q == 1.0 and k < last:
                out.append(Problem(
                    f"line {lines[k]}.qx_{sex}", f"is 1 (certain death at age {k}) but the "
                    f"table goes on to age {last}: the later rows could never be reached", q,
                    f"make age {k} the last row (q = 1 is allowed there: nobody lives past "
                    f"age {k}), or give q below 1"))
                break
    certain = [sex for sex in SEXES if qx[sex][-1] == 1.0]
    if out or not certain:
        return out
    if len(certain) == 1:
        out.append(Problem(
            f"line {lines[-1]}.qx_{certain[0]}", "is 1 on the last row for one sex only: the "
            "table has one last age for both sexes", 1.0,
            f"give q = 1 on the last row for both sexes, or a value just below 1 for "
            f"{certain[0]}"))
    elif last == 0:
        out.append(Problem(f"line {lines[-1]}", "gives certain death at age 0 to everyone: the "
                           "table needs a row with q below 1", 1.0))
    return out
