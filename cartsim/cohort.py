"""The simulated patients: disease group, age and sex, as arrays.

Patients are sampled from the scenario's cohort description, or read from a
CSV of patient characteristics. Sampling uses the patient's own uniforms
(purposes ``cohort.group``, ``cohort.age``, ``cohort.sex``, draw 0), so patient
``i`` is the same person in every strategy, every PSA draw and every run size.
Rows read from a file are ordered by ``patient_id``, so permuting the file's
rows changes nothing.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cartsim.checks import Problems
from cartsim.deferred import special
from cartsim.errors import ScenarioError
from cartsim.rng import Streams
from cartsim.scenario.model import AgeSpec, CohortSpec

SEX_CODES = {"female": True, "f": True, "woman": True, "male": False, "m": False, "man": False}


@dataclass(frozen=True)
class Cohort:
    """Patient attributes (struct of arrays), index = patient number."""

    patient_id: tuple[str, ...]
    group: tuple[str, ...]
    age: np.ndarray
    female: np.ndarray

    @property
    def n(self) -> int:
        return len(self.group)

    def groups(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.group)))


def _ages(spec: AgeSpec, u: np.ndarray) -> np.ndarray:
    if spec.dist == "fixed":
        return np.full(u.shape, spec.mean)
    if spec.dist == "uniform":
        return spec.low + (1.0 - u) * (spec.high - spec.low)
    # Normal truncated to [low, high], by inverse CDF so the age is monotone in u.
    # special.ndtr/ndtri are what scipy.stats.norm.cdf/ppf compute (same values),
    # without importing scipy.stats (half a second at every CLI start).
    a = special.ndtr((spec.low - spec.mean) / spec.sd)
    b = special.ndtr((spec.high - spec.mean) / spec.sd)
    q = a + (1.0 - u) * (b - a)
    return np.clip(spec.mean + spec.sd * special.ndtri(q), spec.low, spec.high)


def sample_cohort(spec: CohortSpec, n: int, *, streams: Streams) -> Cohort:
    """Sample ``n`` patients from ``spec`` (groups weighted by their mix)."""
    if spec.file is not None:
        return read_cohort(spec.file, None)
    cohort_streams = Streams(streams.seed, draw=0)
    u_group = cohort_streams.column("cohort.group", 0, 0, n)
    u_age = cohort_streams.column("cohort.age", 0, 0, n)
    u_sex = cohort_streams.column("cohort.sex", 0, 0, n)
    weights = np.array([g.weight for g in spec.groups], dtype=float)
    cum = np.cumsum(weights / weights.sum())
    cum[-1] = 1.0
    which = np.searchsorted(cum, 1.0 - u_group, side="right")
    age = np.empty(n)
    female = np.empty(n, dtype=bool)
    for k, g in enumerate(spec.groups):
        mask = which == k
        age[mask] = _ages(g.age, u_age[mask])
        female[mask] = (1.0 - u_sex[mask]) < g.female
    group = tuple(spec.groups[k].name for k in which)
    return Cohort(tuple(str(i) for i in range(n)), group, age, female)


def read_cohort(path: Path, groups: tuple[str, ...] | None) -> Cohort:
    """Patients from a CSV: ``patient_id, age, sex`` and, for the clinical model, ``disease``."""
    problems = Problems()
    with Path(path).open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    if not rows:
        raise ScenarioError(str(path), [*problems, *_one("rows", "the file has no patients")])
    needed = {"patient_id", "age", "sex"}
    missing = needed - set(rows[0])
    if missing:
        raise ScenarioError(str(path), _one("columns", f"missing {sorted(missing)}"))
    records = []
    seen: set[str] = set()
    for line_no, row in enumerate(rows, start=2):
        pid = (row.get("patient_id") or "").strip()
        where = f"row {line_no}"
        if not pid or pid in seen:
            problems.add(f"{where}.patient_id", "must be present and unique", pid)
        seen.add(pid)
        try:
            age = float(row["age"])
        except (TypeError, ValueError):
            age = math.nan
        if not (0.0 <= age <= 120.0):
            problems.add(f"{where}.age", "must be an age in years in [0, 120]", row.get("age"))
        sex = SEX_CODES.get((row.get("sex") or "").strip().lower())
        if sex is None:
            problems.add(f"{where}.sex", "must be female or male", row.get("sex"))
        disease = (row.get("disease") or "all").strip().lower()
        if groups is not None and disease not in groups:
            problems.add(f"{where}.disease", f"must be one of {', '.join(groups)}", disease)
        records.append((pid, disease if groups is not None else "all", age, bool(sex)))
    if problems:
        raise ScenarioError(str(path), problems)

    def order(pid: str) -> tuple[int, int | str]:
        return (0, int(pid)) if pid.isdigit() else (1, pid)

    records.sort(key=lambda r: order(r[0]))
    return Cohort(
        patient_id=tuple(r[0] for r in records), group=tuple(r[1] for r in records),
        age=np.array([r[2] for r in records]), female=np.array([r[3] for r in records]),
    )


def _one(path: str, message: str) -> Problems:
    problems = Problems()
    problems.add(path, message, None, has_value=False)
    return problems
