"""The simulated patients: disease group, age and sex, as arrays.

Patients are sampled from the scenario's cohort description, or read from a
CSV of patient characteristics. Sampling uses the patient's own uniforms
(purposes ``cohort.group``, ``cohort.age``, ``cohort.sex``, draw 0), so patient
``i`` is the same person in every strategy, every PSA draw and every run size.
Rows read from a file are ordered by ``patient_id``, so permuting the file's
rows changes nothing.

A cohort file is read by :func:`read_cohort` only, which ``check`` and ``run``
both reach through :func:`cartsim.study.prepare.prepare`: what one refuses, so does the
other. :func:`check_ages` refuses patients older than the life table covers.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cartsim.checks import Problems, did_you_mean, read_text_file
from cartsim.deferred import special
from cartsim.errors import ScenarioError
from cartsim.limits import MAX_PATIENTS
from cartsim.rng import Streams
from cartsim.scenario.clinical_schema import disease_hint
from cartsim.scenario.model import AgeSpec, CohortSpec
from cartsim.scenario.param_def import DISEASES

SEX_CODES = {"female": True, "f": True, "woman": True, "male": False, "m": False, "man": False}
ALL = "all"
"""The one group of a custom model's patients."""
MAX_COHORT_BYTES = 512 * 2**20
MAX_AGE = 120.0
MAX_LISTED = 20
"""Problems listed per file; the rest are counted (a broken column fails every row)."""


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


def oldest_age(spec: AgeSpec) -> float:
    """The highest age ``spec`` can give a patient."""
    return spec.mean if spec.dist == "fixed" else spec.high


def sample_cohort(spec: CohortSpec, n: int, *, streams: Streams) -> Cohort:
    """Sample ``n`` patients from ``spec`` (groups weighted by their mix), or read its file."""
    if spec.file is not None:
        return read_cohort(spec.file, spec.file_groups)
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


def read_cohort(path: Path, groups: tuple[str, ...] | None, *, source: str | None = None
                ) -> Cohort:
    """Patients from a CSV: ``patient_id, age, sex`` and, for the clinical model
    (``groups`` given), ``disease`` naming one of ``groups``. A custom model
    (``groups`` None) puts everyone in one group and ignores a ``disease`` column.

    Lines starting with ``#`` and blank lines are skipped; other columns are
    ignored; column names are case-insensitive. Every problem is reported by
    the file's line number (the first :data:`MAX_LISTED`, then a count). A file
    is parsed once per content: a PSA asks for it at every draw.
    """
    path = Path(path)
    source = source or f"{path} (cohort.file)"
    text = read_text_file(path, source=source, key="cohort.file", max_bytes=MAX_COHORT_BYTES)
    key = (hashlib.sha256(text.encode("utf-8")).hexdigest(), groups)
    found = _READ.get(key)
    if found is None:
        found = _parse(text, groups, source)
        while len(_READ) >= 4:
            del _READ[next(iter(_READ))]
        _READ[key] = found
    return found


_READ: dict[tuple[str, tuple[str, ...] | None], Cohort] = {}
"""Patients by (SHA-256 of the file's text, groups): the last few files parsed."""


def _parse(text: str, groups: tuple[str, ...] | None, source: str) -> Cohort:
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), start=1)
                if line.strip() and not line.lstrip().startswith("#")]
    problems = Problems()
    if not numbered:
        problems.add("rows", "the file is empty: it needs a header line "
                     f"({_columns_text(groups)}) and one line per patient", None,
                     has_value=False)
        raise ScenarioError(source, problems)
    try:
        lines = _csv_records(numbered)
    except csv.Error as err:
        problems.add("rows", f"is not a readable CSV file ({err})", None, has_value=False)
        raise ScenarioError(source, problems) from err
    header = [h.strip().lower() for h in lines[0][1]]
    _check_header(header, lines[0][0], groups, problems)
    if not problems and len(lines) == 1:
        problems.add("rows", "the file has a header but no patients", None, has_value=False)
    if len(lines) - 1 > MAX_PATIENTS:
        problems.add("rows", f"has {len(lines) - 1:,} patients; the cap is {MAX_PATIENTS:,}",
                     None, has_value=False)
    if problems:
        raise ScenarioError(source, problems)
    column: dict[str, int] = {name: header.index(name)
                              for name in ("patient_id", "age", "sex", "disease") if name in header}
    records: list[tuple[str, str, float, bool]] = []
    seen: dict[str, int] = {}
    hidden = 0
    for line_no, fields in lines[1:]:
        found = Problems()
        record = _record(fields, line_no, len(header), column, groups, seen, found)
        room = max(MAX_LISTED - len(problems), 0)
        problems += found[:room]
        hidden += len(found[room:])
        if record is not None:
            records.append(record)
    if hidden:
        problems.add("rows", f"... and {hidden:,} more problems in later lines", None,
                     has_value=False)
    if problems:
        raise ScenarioError(source, problems)

    def order(record: tuple[str, str, float, bool]) -> tuple[int, int | str]:
        pid = record[0]
        return (0, int(pid)) if pid.isdigit() else (1, pid)

    records.sort(key=order)
    cohort = Cohort(
        patient_id=tuple(r[0] for r in records), group=tuple(r[1] for r in records),
        age=np.array([r[2] for r in records], dtype=float),
        female=np.array([r[3] for r in records], dtype=bool),
    )
    # Shared by every reader of the same text: nobody may change it.
    cohort.age.flags.writeable = False
    cohort.female.flags.writeable = False
    return cohort


def _csv_records(numbered: list[tuple[int, str]]) -> list[tuple[int, list[str]]]:
    """(line number where it starts, fields) of each CSV record (a quoted field may
    span lines, so records and lines need not pair one to one)."""
    reader = csv.reader(line for _, line in numbered)
    out, consumed = [], 0
    for fields in reader:
        out.append((numbered[consumed][0], fields))
        consumed = reader.line_num
    return out


def _columns_text(groups: tuple[str, ...] | None) -> str:
    return "patient_id,disease,age,sex" if groups is not None else "patient_id,age,sex"


def _check_header(header: list[str], line_no: int, groups: tuple[str, ...] | None,
                  problems: Problems) -> None:
    needed = ["patient_id", "age", "sex"] + (["disease"] if groups is not None else [])
    for name in sorted({h for h in header if header.count(h) > 1}):
        problems.add(f"line {line_no}", f"the column {name!r} appears twice", name)
    missing = [n for n in needed if n not in header]
    if missing:
        others = [h for h in header if h not in needed]
        hints = [f"{h!r}: {did_you_mean(h, missing)}" for h in others if did_you_mean(h, missing)]
        why = " (the clinical model needs each patient's disease group: " \
              f"{', '.join(groups)})" if groups is not None and "disease" in missing else ""
        problems.add(f"line {line_no}", f"missing column(s) {', '.join(missing)}{why}", header,
                     "; ".join(hints) or f"the header line should read {_columns_text(groups)}")


def _record(fields: list[str], line_no: int, width: int, column: dict[str, int],
            groups: tuple[str, ...] | None, seen: dict[str, int], problems: Problems
            ) -> tuple[str, str, float, bool] | None:
    where = f"line {line_no}"
    if len(fields) != width:
        problems.add(where, f"has {len(fields)} fields; the header has {width}", fields[:8],
                     "every line needs one value per column (a stray or missing comma?)")
        return None
    pid = fields[column["patient_id"]].strip()
    ok = True
    if not pid:
        problems.add(f"{where}.patient_id", "is empty; every patient needs an id", pid)
        ok = False
    elif pid in seen:
        problems.add(f"{where}.patient_id", f"repeats the id of line {seen[pid]}", pid)
        ok = False
    else:
        seen[pid] = line_no
    age_text = fields[column["age"]].strip()
    try:
        age = float(age_text)
    except ValueError:
        age = math.nan
    if not 0.0 <= age <= MAX_AGE:  # also refuses nan and inf
        problems.add(f"{where}.age", f"must be an age in years from 0 to {MAX_AGE:g}",
                     age_text, "ages are in years (not months), written as plain numbers")
        ok = False
    sex = SEX_CODES.get(fields[column["sex"]].strip().lower())
    if sex is None:
        problems.add(f"{where}.sex", "must be female or male (or f, m)", fields[column["sex"]])
        ok = False
    group = ALL
    if groups is not None:
        disease = fields[column["disease"]].strip().lower()
        if disease not in groups:
            # A clinical group left out of ``groups`` is one a compared strategy refuses.
            hint = (f"the strategies in run.strategies are valid together for "
                    f"{', '.join(groups)} only (one of them is not for {disease}): drop that "
                    "strategy or these patients") if disease in DISEASES else \
                disease_hint(disease, groups)
            problems.add(f"{where}.disease", f"must be one of {', '.join(groups)}",
                         fields[column["disease"]], hint)
            ok = False
        group = disease
    return (pid, group, age, bool(sex)) if ok else None


def check_ages(spec: CohortSpec, cohort: Cohort | None, max_age: float, table: str,
               source: str) -> None:
    """Refuse patients older than the life table's end: past it nobody survives, so the
    engines would let them die at once, which is no model of their remaining life."""
    problems = Problems()
    end = f"the life table {table} ends at age {max_age:g} (nobody survives past it)"
    hint = f"use a life table that reaches these ages, or keep ages at most {max_age:g}"
    if cohort is not None:
        old = np.flatnonzero(cohort.age > max_age)
        for i in old[:MAX_LISTED]:
            problems.add(f"patient_id {cohort.patient_id[i]}.age", f"is older than {end}",
                         float(cohort.age[i]), hint)
        if old.size > MAX_LISTED:
            problems.add("rows", f"... and {old.size - MAX_LISTED:,} more patients older than "
                         f"{max_age:g}", None, has_value=False)
    else:
        for g in spec.groups:
            path = "cohort.age" if g.name == ALL else f"cohort.{g.name}.age"
            if oldest_age(g.age) > max_age:
                key = "max" if g.age.dist != "fixed" else "value"
                problems.add(f"{path}.{key}", f"lets patients be older than {end}",
                             oldest_age(g.age), hint)
    if problems:
        raise ScenarioError(source, problems)


@dataclass(frozen=True)
class GroupSummary:
    """Who is in one group of a cohort (``group`` "all" for everyone)."""

    group: str
    patients: int
    share: float
    age_mean: float | None
    age_sd: float | None
    """Sample standard deviation (n - 1); None for fewer than 2 patients."""
    age_min: float | None
    age_max: float | None
    female_share: float | None


def _summary(name: str, age: np.ndarray, female: np.ndarray, total: int) -> GroupSummary:
    n = int(age.size)
    if n == 0:
        return GroupSummary(name, 0, 0.0, None, None, None, None, None)
    return GroupSummary(name, n, n / total, float(age.mean()),
                        float(age.std(ddof=1)) if n > 1 else None,
                        float(age.min()), float(age.max()), float(female.mean()))


def summarise_cohort(cohort: Cohort) -> tuple[GroupSummary, ...]:
    """Each group's size, share, age (mean, sd, min, max) and share female, then all
    patients together: the cohort a run actually simulated."""
    groups = np.array(cohort.group)
    age, female = np.asarray(cohort.age, dtype=float), np.asarray(cohort.female, dtype=bool)
    out = [_summary(g, age[groups == g], female[groups == g], cohort.n)
           for g in cohort.groups() if g != ALL]
    return (*out, _summary(ALL, age, female, max(cohort.n, 1)))


def describe_age(spec: AgeSpec) -> str:
    """An age distribution in words, as a cohort table shows it."""
    if spec.dist == "fixed":
        return f"{spec.mean:g} (fixed)"
    if spec.dist == "uniform":
        return f"uniform from {spec.low:g} to {spec.high:g}"
    return f"normal(mean {spec.mean:g}, sd {spec.sd:g}) truncated to [{spec.low:g}, {spec.high:g}]"
