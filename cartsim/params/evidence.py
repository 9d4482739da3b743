"""Case-series evidence as data: typed records with a source and a status, and priors from counts.

The shipped file ``cartsim/data/case_series.toml`` records what the CD19 CAR-T
case series report per disease group (patients, responses, CRS by grade, ICANS,
infection admissions, follow-up, B-cell return). A record's address is
``report.group.item``, e.g. ``muller2024.sle.response``. A scenario parameter
takes its PSA distribution from the data with::

    [car_t.response.sle]
    value = 0.94
    dist = "beta"
    evidence = "muller2024.sle.response"

so that changing a count in the data changes the prior. For ``x`` of ``n``
patients the prior is the Jeffreys posterior Beta(x + 0.5, n - x + 0.5); for
``e`` events over ``E`` patient-years it is Gamma(e + 0.5, scale 1/E). A list
of addresses pools the counts, unless two reports describe the same patients
(their ``same_patients``), which is refused.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from cartsim.checks import (
    Problems,
    did_you_mean,
    integer,
    join,
    name,
    number,
    text,
    unknown_keys,
)
from cartsim.errors import Problem, ScenarioError
from cartsim.params.distributions import Beta, Distribution, Gamma

SHIPPED = "case_series.toml"
STATUSES = ("R", "S", "U", "E", "R/S", "R/E", "S/E")
COMMON_KEYS = ("kind", "description", "source", "status", "note")
KIND_KEYS = {
    "count": ("count",),
    "proportion": ("events", "n"),
    "rate": ("events", "exposure_years"),
    "summary": ("unit", "mean", "sd", "median", "low", "high", "spread", "n"),
    "finding": ("text",),
}


@dataclass(frozen=True)
class Report:
    """One publication; ``same_patients`` names reports that describe (some of) its patients."""

    key: str
    citation: str
    product: str
    same_patients: frozenset[str]
    note: str


@dataclass(frozen=True)
class Record:
    """What one report says about one disease group; every record has a source and a status."""

    address: str
    description: str
    source: str
    status: str

    @property
    def report(self) -> str:
        return self.address.split(".")[0]

    @property
    def group(self) -> str:
        return self.address.split(".")[1]


@dataclass(frozen=True)
class Count(Record):
    count: int


@dataclass(frozen=True)
class Proportion(Record):
    events: int
    n: int

    def describe(self) -> str:
        return f"{self.events} of {self.n}"


@dataclass(frozen=True)
class Rate(Record):
    events: int
    exposure_years: float

    def describe(self) -> str:
        return f"{self.events} events in {self.exposure_years:g} patient-years"


@dataclass(frozen=True)
class Summary(Record):
    unit: str
    n: int | None = None
    mean: float | None = None
    sd: float | None = None
    median: float | None = None
    low: float | None = None
    high: float | None = None
    spread: str = ""


@dataclass(frozen=True)
class Finding(Record):
    text: str


@dataclass(frozen=True)
class Evidence:
    """Every report and record of one evidence file."""

    source: str
    reports: Mapping[str, Report]
    records: Mapping[str, Record]

    def record(self, address: str) -> Record:
        """The record at ``address``; KeyError (with a did-you-mean) if there is none."""
        if address not in self.records:
            msg = f"no evidence record {address!r}"
            hint = did_you_mean(address, self.records)
            raise KeyError(f"{msg}; {hint}" if hint else msg)
        return self.records[address]

    def share_patients(self, a: str, b: str) -> bool:
        """Whether reports ``a`` and ``b`` describe (some of) the same patients."""
        return a == b or b in self.reports[a].same_patients or a in self.reports[b].same_patients


def _optional_number(spec: Mapping[str, Any], key: str, path: str, problems: Problems,
                     low: float | None = None) -> float | None:
    return number(spec[key], join(path, key), problems, low=low) if key in spec else None


def _record(spec: Any, address: str, path: str, problems: Problems) -> Record | None:
    if not isinstance(spec, dict):
        problems.add(path, "must be a table with kind, source and status", spec)
        return None
    kind = text(spec.get("kind"), join(path, "kind"), problems, choices=KIND_KEYS)
    if kind is None:
        return None
    unknown_keys(spec, (*COMMON_KEYS, *KIND_KEYS[kind]), path, problems)
    for key in ("source", "status"):
        if not spec.get(key):
            problems.missing(join(path, key), "every record names its source and status")
    common = {"address": address,
              "description": text(spec.get("description", ""), join(path, "description"),
                                  problems),
              "source": text(spec.get("source", ""), join(path, "source"), problems,
                             max_len=2000),
              "status": text(spec.get("status", ""), join(path, "status"), problems,
                             choices=STATUSES) if spec.get("status") else ""}
    if kind == "count":
        fields: dict[str, Any] = {"count": integer(spec.get("count"), join(path, "count"),
                                                   problems, low=0)}
    elif kind == "proportion":
        n = integer(spec.get("n"), join(path, "n"), problems, low=1)
        events = integer(spec.get("events"), join(path, "events"), problems, low=0, high=n)
        fields = {"events": events, "n": n}
    elif kind == "rate":
        fields = {"events": integer(spec.get("events"), join(path, "events"), problems, low=0),
                  "exposure_years": number(spec.get("exposure_years"),
                                           join(path, "exposure_years"), problems, low=0.0,
                                           low_open=True, what="patient-years > 0")}
    elif kind == "summary":
        fields = {key: _optional_number(spec, key, path, problems)
                  for key in ("mean", "median", "low", "high")}
        fields["sd"] = _optional_number(spec, "sd", path, problems, low=0.0)
        fields["n"] = integer(spec["n"], join(path, "n"), problems, low=1) if "n" in spec \
            else None
        fields["unit"] = text(spec.get("unit"), join(path, "unit"), problems)
        fields["spread"] = text(spec.get("spread", ""), join(path, "spread"), problems)
        ordered = [fields[k] for k in ("low", "median", "high") if fields[k] is not None]
        if ordered != sorted(ordered):
            problems.add(path, "needs low <= median <= high", ordered)
    else:
        fields = {"text": text(spec.get("text"), join(path, "text"), problems, max_len=2000)}
    if any(v is None for k, v in {**common, **fields}.items()
           if kind != "summary" or k in ("unit", *common)):
        return None
    record_type = {"count": Count, "proportion": Proportion, "rate": Rate, "summary": Summary,
                   "finding": Finding}[kind]
    return record_type(**common, **fields)


def _report(key: str, spec: Any, path: str, problems: Problems) -> Report | None:
    if not isinstance(spec, dict):
        problems.add(path, "must be a table with a citation", spec)
        return None
    unknown_keys(spec, ("citation", "product", "same_patients", "note"), path, problems)
    same = spec.get("same_patients", [])
    if not isinstance(same, list) or not all(isinstance(s, str) for s in same):
        problems.add(join(path, "same_patients"), "must be a list of report names", same)
        same = []
    citation = text(spec.get("citation"), join(path, "citation"), problems, max_len=2000)
    if citation is None:
        return None
    return Report(key, citation, str(spec.get("product", "")), frozenset(same),
                  str(spec.get("note", "")))


def parse_evidence(raw: Mapping[str, Any], source: str) -> Evidence:
    """Validate an evidence file's content; ScenarioError listing every problem."""
    problems = Problems()
    unknown_keys(raw, ("schema", "reports", "facts"), "", problems)
    if raw.get("schema") != 1:
        problems.add("schema", "must be 1 (the only evidence format so far)", raw.get("schema"))
    reports: dict[str, Report] = {}
    for key, spec in (raw.get("reports") or {}).items():
        if name(key, join("reports", key), problems) is not None:
            report = _report(key, spec, join("reports", key), problems)
            if report is not None:
                reports[key] = report
    for report in reports.values():
        for other in sorted(report.same_patients - set(reports)):
            problems.add(f"reports.{report.key}.same_patients", "names no report", other,
                         did_you_mean(other, reports))
    records: dict[str, Record] = {}
    for report_key, groups in (raw.get("facts") or {}).items():
        if report_key not in reports:
            problems.add(f"facts.{report_key}", "no such report in [reports]", report_key,
                         did_you_mean(report_key, reports))
            continue
        for group, items in groups.items() if isinstance(groups, dict) else ():
            for item, spec in items.items() if isinstance(items, dict) else ():
                address = f"{report_key}.{group}.{item}"
                path = f"facts.{address}"
                if name(group, path, problems) and name(item, path, problems):
                    record = _record(spec, address, path, problems)
                    if record is not None:
                        records[address] = record
    if problems:
        raise ScenarioError(source, problems)
    return Evidence(source, reports, records)


def load_evidence(path: str | Path | None = None) -> Evidence:
    """Read an evidence file (default: the one shipped with cartsim)."""
    if path is None:
        return _shipped()
    path = Path(path)
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(str(path), [Problem("file", f"cannot read: {err}", str(path))]) \
            from err
    try:
        raw = tomllib.loads(content)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(str(path), [Problem("TOML syntax", str(err), None,
                                                has_value=False)]) from err
    return parse_evidence(raw, str(path))


@lru_cache(maxsize=1)
def _shipped() -> Evidence:
    content = resources.files("cartsim.data").joinpath(SHIPPED).read_text(encoding="utf-8")
    return parse_evidence(tomllib.loads(content), f"cartsim/data/{SHIPPED}")


_ACTIVE: contextvars.ContextVar[Evidence | None] = contextvars.ContextVar("evidence",
                                                                          default=None)


def current_evidence() -> Evidence:
    """The evidence scenarios are read against: the shipped file unless :func:`use_evidence`."""
    active = _ACTIVE.get()
    return active if active is not None else _shipped()


@contextlib.contextmanager
def use_evidence(evidence: Evidence) -> Iterator[Evidence]:
    """Read scenarios (and validate) against other evidence inside a ``with`` block."""
    token = _ACTIVE.set(evidence)
    try:
        yield evidence
    finally:
        _ACTIVE.reset(token)


def pool(records: list[Record], evidence: Evidence) -> Proportion | Rate:
    """Add the counts of records from reports about different patients.

    Raises ValueError if the records are not all proportions or all rates, or
    if two of them come from reports that describe the same patients.
    """
    kinds = {type(r) for r in records}
    if len(kinds) != 1 or not kinds <= {Proportion, Rate}:
        msg = "can pool only proportions (x of n) or only rates (events over exposure)"
        raise ValueError(msg)
    for i, a in enumerate(records):
        for b in records[i + 1:]:
            if evidence.share_patients(a.report, b.report):
                msg = (f"{a.address} and {b.address} describe the same patients "
                       f"({a.report} / {b.report}); counting them twice would overstate "
                       "the evidence")
                raise ValueError(msg)
    statuses = {r.status for r in records}
    common = {"address": " + ".join(r.address for r in records),
              "description": "; ".join(r.description for r in records),
              "source": "; ".join(r.source for r in records),
              # Pooling is arithmetic on the sources: E unless they agree.
              "status": statuses.pop() if len(statuses) == 1 else "E"}
    proportions = [r for r in records if isinstance(r, Proportion)]
    if proportions:
        return Proportion(**common, events=sum(r.events for r in proportions),
                          n=sum(r.n for r in proportions))
    rates = [r for r in records if isinstance(r, Rate)]
    return Rate(**common, events=sum(r.events for r in rates),
                exposure_years=math.fsum(r.exposure_years for r in rates))


def jeffreys_prior(record: Proportion | Rate, periods_per_year: float = 1.0) -> Distribution:
    """Beta(x + 0.5, n - x + 0.5) for x of n; Gamma(e + 0.5, 1/exposure) for a rate.

    ``periods_per_year`` expresses a rate per month (12), week, day instead of per year.

    >>> jeffreys_prior(Proportion("a.b.c", "", "s", "R", events=8, n=8))
    Beta(alpha=8.5, beta=0.5)
    """
    if isinstance(record, Proportion):
        return Beta.from_counts(record.events, record.n)
    return Gamma.from_counts(record.events, record.exposure_years * periods_per_year)


def evidence_prior(spec: Mapping[str, Any], path: str, kind: str, periods_per_year: float,
                   problems: Problems) -> tuple[Distribution, str, str] | None:
    """The distribution a parameter's ``evidence`` key names, a note for its source, a status.

    ``spec`` is the parameter's table; ``kind`` its kind (probability or rate).
    Problems (unknown address, wrong family, reports about the same patients,
    other distribution arguments beside ``evidence``) are added to ``problems``.
    """
    where = join(path, "evidence")
    family = {"probability": "beta", "rate": "gamma"}.get(kind)
    if family is None:
        problems.add(where, f"a {kind} cannot take its distribution from case counts", None,
                     "evidence gives priors for probabilities (x of n) and rates (events "
                     "over patient-years)", has_value=False)
        return None
    if spec.get("dist") != family:
        problems.add(join(path, "dist"), f'must be "{family}" with evidence for a {kind}',
                     spec.get("dist"))
        return None
    extra = sorted(set(spec) & {"alpha", "beta", "shape", "scale", "mean", "se", "sd",
                                "events", "n", "exposure", "meanlog", "sdlog", "mode"})
    if extra:
        problems.add(where, f"replaces the distribution's arguments; remove {', '.join(extra)}",
                     spec["evidence"])
        return None
    raw = spec["evidence"]
    addresses = [raw] if isinstance(raw, str) else raw
    if not isinstance(addresses, list) or not addresses or \
            not all(isinstance(a, str) for a in addresses):
        problems.add(where, "must be a record address or a list of them", raw,
                     'e.g. "muller2024.sle.response"')
        return None
    evidence = current_evidence()
    try:
        records = [evidence.record(a) for a in addresses]
        record = records[0] if len(records) == 1 else pool(records, evidence)
    except (KeyError, ValueError) as err:
        problems.add(where, str(err).strip('"'), raw, f"records are in {evidence.source}")
        return None
    wanted = Proportion if kind == "probability" else Rate
    if not isinstance(record, wanted):
        problems.add(where, f"is a {type(record).__name__.lower()}, not the "
                     f"{wanted.__name__.lower()} a {kind} needs", raw)
        return None
    dist = jeffreys_prior(record, periods_per_year)
    note = (f"prior: Jeffreys {dist.describe()} from {record.describe()} "
            f"(evidence {record.address}: {record.description}; {record.source}; "
            f"status {record.status})")
    return dist, note, record.status

