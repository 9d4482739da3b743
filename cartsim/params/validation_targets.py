"""Held-out validation targets: published facts to compare simulations with, as typed records.

The shipped file ``cartsim/data/validation_targets.toml`` lists long-horizon
facts (survival on conventional therapy at 5-20 years, annual costs before and
after CAR-T, durability of drug-free remission, short-term safety) with their
source, status and the priors that already use that source
(``used_by_priors``: base.toml parameter keys and case_series.toml addresses).
A fact whose list is empty is *held out*; ``cartsim validate`` compares a
simulation with held-out facts and refuses or flags the others, so that the
validation is not circular. The file's header explains every field.

Parsing reports every problem at once, each naming the record and field
(``target[3] (spierings2022.ssc.survival_10y).value``). That ``used_by_priors``
names exist is checked by the tests, so a scenario change cannot break loading.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from scipy.special import betaincinv  # Beta quantiles without scipy.stats' slow import

from cartsim.checks import Problems, integer, number, text, unknown_keys
from cartsim.errors import Problem, ScenarioError
from cartsim.params.evidence import STATUSES
from cartsim.vocabulary import COST_CATEGORIES

SHIPPED = "validation_targets.toml"
KINDS = ("survival", "annual_cost", "cost_ratio", "remission", "event_proportion")
PROPORTION_KINDS = ("survival", "remission", "event_proportion")
DISEASES = ("sle", "iim", "ssc", "all")
STRATEGIES = ("immunosuppression", "car_t")
REQUIRED = ("id", "kind", "disease", "strategy", "horizon_years", "value", "unit", "population",
            "comparability", "source", "status", "used_by_priors", "note")
OPTIONAL = ("lower", "upper", "events", "n", "currency", "price_year", *(
    "age_mean", "age_sd", "female", "origin", "conditional_on", "population_status",
    "not_comparable", "tolerance", "bound", "among", "follow_up_low", "excludes"))
BOUNDS = ("upper",)
AMONG = ("infused", "responders")
ORIGINS = ("diagnosis", "first_symptom", "entry", "randomisation")
"""A survival fact's time origin: from diagnosis (or first symptom), or from entry into an
established-disease cohort or trial (like the model's cohort, which enters years after
diagnosis)."""
FROM_ONSET = ("diagnosis", "first_symptom")
ID_PATTERN = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*")
MAX_TEXT = 2000


@dataclass(frozen=True)
class Target:
    """One published fact a simulation can be compared with."""

    id: str
    kind: str
    disease: str
    strategy: str
    horizon_years: float
    value: float
    unit: str
    population: str
    comparability: str
    source: str
    status: str
    used_by_priors: tuple[str, ...]
    note: str
    lower: float | None = None
    upper: float | None = None
    events: int | None = None
    n: int | None = None
    currency: str | None = None
    price_year: int | None = None
    age_mean: float | None = None
    """Mean age (years) of the source's cohort at its time origin (survival facts)."""
    age_sd: float | None = None
    female: float | None = None
    """Share of women in the source's cohort."""
    origin: str | None = None
    """The time origin of a survival figure (one of ORIGINS); None when not read."""
    conditional_on: float | None = None
    """For survival counted from diagnosis: the value is S(t0 + horizon) / S(t0) read from
    the source, t0 = this many years after the origin (arithmetic in ``note``, status E)."""
    population_status: str | None = None
    """Status code of the age and sex figures (they may come from another report of the
    same cohort)."""
    not_comparable: str | None = None
    """Why this fact cannot be compared like for like (shown, never compared)."""
    tolerance: float | None = None
    """Annual costs: the relative tolerance of the plausibility check (the sources give
    means without a standard error)."""
    bound: str | None = None
    """"upper": the source's cohort is less severe than the model's (not refractory, a
    milder subtype), so the model's figure should not EXCEED the value: consistent unless
    the value lies below the predictive interval. None: two-sided."""
    among: str = "infused"
    """Remission facts: the denominator, all infused patients or only the responders."""
    excludes: tuple[str, ...] = ()
    """Cost facts: the model's cost categories the source leaves out (e.g. drugs)."""
    follow_up_low: float | None = None
    """Remission facts: each patient's follow-up is uniform between this and
    ``horizon_years`` (sequential enrolment; the source gives the longest follow-up only).
    None: every patient is followed for ``horizon_years``."""

    @property
    def matched(self) -> bool:
        """Whether the fact describes its own population (age, sex, time origin), so that
        validate simulates that population rather than the scenario's cohort."""
        return None not in (self.age_mean, self.age_sd, self.female, self.origin)

    @property
    def held_out(self) -> bool:
        """True when no base-case prior cites this fact's source."""
        return not self.used_by_priors


@dataclass(frozen=True)
class ValidationTargets:
    """Every target of one file, in file order."""

    source: str
    targets: tuple[Target, ...]

    def __getitem__(self, target_id: str) -> Target:
        found = [t for t in self.targets if t.id == target_id]
        if not found:
            raise KeyError(f"no validation target {target_id!r} in {self.source}")
        return found[0]

    def held_out(self) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.held_out)


def interval(target: Target, level: float = 0.95) -> tuple[float, float] | None:
    """The target's own uncertainty: its reported CI, else a Jeffreys interval on the counts.

    The Jeffreys interval is the equal-tailed interval of Beta(x + 0.5, n - x + 0.5)
    with x = events, or x = value * n when only the cohort size n is given (then it
    is too narrow for a Kaplan-Meier estimate with censoring). None when the source
    gives neither an interval nor n: a point comparison only.
    """
    if target.lower is not None and target.upper is not None:
        return target.lower, target.upper
    if target.n is None or target.kind not in PROPORTION_KINDS:
        return None
    x = target.events if target.events is not None else target.value * target.n
    a, b, tail = x + 0.5, target.n - x + 0.5, (1.0 - level) / 2.0
    return float(betaincinv(a, b, tail)), float(betaincinv(a, b, 1.0 - tail))


def _text(spec: Mapping[str, Any], key: str, path: str, problems: Problems,
          choices: tuple[str, ...] | None = None) -> str | None:
    """A required text field; only `note` may be empty."""
    if key not in spec:
        problems.missing(f"{path}.{key}", "every target states it")
        return None
    value = text(spec[key], f"{path}.{key}", problems, choices=choices, max_len=MAX_TEXT)
    if value is not None and not value.strip() and key != "note":
        problems.add(f"{path}.{key}", "must not be empty", value)
        return None
    return value


def _target(spec: Any, index: int, seen: set[str], problems: Problems) -> Target | None:
    label = f"target[{index}]"
    if not isinstance(spec, dict):
        problems.add(label, "must be a table ([[target]])", spec)
        return None
    raw_id = spec.get("id")
    path = f"{label} ({raw_id})" if isinstance(raw_id, str) else label
    before = len(problems)
    unknown_keys(spec, (*REQUIRED, *OPTIONAL), path, problems)
    target_id = _text(spec, "id", path, problems)
    if target_id is not None:
        if not ID_PATTERN.fullmatch(target_id):
            problems.add(f"{path}.id", "must be lower-case letters, digits, _ and dots",
                         target_id, 'e.g. "spierings2022.ssc.survival_10y"')
        elif target_id in seen:
            problems.add(f"{path}.id", "is used by an earlier target", target_id)
        seen.add(target_id)
    kind = _text(spec, "kind", path, problems, choices=KINDS)
    fields: dict[str, Any] = {
        "id": target_id, "kind": kind,
        "disease": _text(spec, "disease", path, problems, choices=DISEASES),
        "strategy": _text(spec, "strategy", path, problems, choices=STRATEGIES),
        "status": _text(spec, "status", path, problems, choices=STATUSES),
        **{key: _text(spec, key, path, problems)
           for key in ("unit", "population", "comparability", "source", "note")},
    }
    high = 1.0 if kind in PROPORTION_KINDS else None
    for key, low, top in (("horizon_years", 0.0, 100.0), ("value", 0.0, high),
                          ("lower", 0.0, high), ("upper", 0.0, high)):
        if key in spec:
            fields[key] = number(spec[key], f"{path}.{key}", problems, low=low, high=top,
                                 low_open=key == "horizon_years")
        elif key in REQUIRED:
            problems.missing(f"{path}.{key}", "every target states it")
    if ("lower" in spec) != ("upper" in spec):
        problems.add(path, "needs both lower and upper (a 95% interval) or neither", None,
                     has_value=False)
    lo, val, up = fields.get("lower"), fields.get("value"), fields.get("upper")
    if lo is not None and val is not None and up is not None and not lo <= val <= up:
        problems.add(path, "needs lower <= value <= upper", [lo, val, up])
    _counts(spec, kind, path, fields, problems)
    _currency(spec, kind, path, fields, problems)
    _population(spec, kind, path, fields, problems)
    used = spec.get("used_by_priors")
    if used is None:
        problems.missing(f"{path}.used_by_priors", "a list; empty when the fact is held out")
    elif not isinstance(used, list) or not all(isinstance(u, str) and u for u in used):
        problems.add(f"{path}.used_by_priors", "must be a list of parameter keys or "
                     "evidence addresses (empty when held out)", used)
    else:
        fields["used_by_priors"] = tuple(used)
    if len(problems) > before or any(fields.get(k) is None for k in REQUIRED):
        return None
    return Target(**fields)


def _counts(spec: Mapping[str, Any], kind: str | None, path: str, fields: dict[str, Any],
            problems: Problems) -> None:
    if "n" in spec:
        fields["n"] = integer(spec["n"], f"{path}.n", problems, low=1)
    if "events" not in spec:
        return
    if kind is not None and kind not in PROPORTION_KINDS:
        problems.add(f"{path}.events", f"only a proportion ({', '.join(PROPORTION_KINDS)}) "
                     f"has events, not a {kind}", spec["events"])
    elif "n" not in spec:
        problems.add(f"{path}.events", "needs n (events of n patients)", spec["events"])
    else:
        fields["events"] = integer(spec["events"], f"{path}.events", problems, low=0,
                                   high=fields.get("n"))


def _currency(spec: Mapping[str, Any], kind: str | None, path: str, fields: dict[str, Any],
              problems: Problems) -> None:
    if kind == "annual_cost":
        currency = _text(spec, "currency", path, problems)
        if currency is not None and not re.fullmatch(r"[A-Z]{3}", currency):
            problems.add(f"{path}.currency", "must be a three-letter code", currency,
                         'e.g. "USD" or "EUR"')
            currency = None
        fields["currency"] = currency
        if "price_year" in spec:
            fields["price_year"] = integer(spec["price_year"], f"{path}.price_year", problems,
                                           low=1950, high=2100)
    else:
        for key in ("currency", "price_year"):
            if key in spec:
                problems.add(f"{path}.{key}", f"belongs to an annual_cost, not a {kind}",
                             spec[key])


def _population(spec: Mapping[str, Any], kind: str | None, path: str, fields: dict[str, Any],
                problems: Problems) -> None:
    """The source's population (survival facts), a not-comparable reason, a cost tolerance."""
    survival_only = ("age_mean", "age_sd", "female", "origin", "conditional_on",
                     "population_status")
    if kind != "survival":
        for key in (k for k in survival_only if k in spec):
            problems.add(f"{path}.{key}", f"describes a survival fact's population, not a "
                         f"{kind}'s", spec[key])
    for key, low, high in (("age_mean", 0.0, 100.0), ("age_sd", 0.0, 40.0),
                           ("female", 0.0, 1.0), ("conditional_on", 0.0, 50.0),
                           ("tolerance", 0.0, 10.0)):
        if key in spec:
            fields[key] = number(spec[key], f"{path}.{key}", problems, low=low, high=high,
                                 low_open=key in ("conditional_on", "tolerance"))
    for key in (k for k in ("tolerance", "excludes") if k in spec):
        if kind not in ("annual_cost", "cost_ratio"):
            problems.add(f"{path}.{key}", "belongs to a cost fact", spec[key])
    excludes = spec.get("excludes", [])
    if not isinstance(excludes, list) or not all(e in COST_CATEGORIES for e in excludes):
        problems.add(f"{path}.excludes", "must be a list of the model's cost categories",
                     excludes, ", ".join(COST_CATEGORIES))
    else:
        fields["excludes"] = tuple(excludes)
    for key, choices in (("origin", ORIGINS), ("population_status", STATUSES),
                         ("not_comparable", None), ("bound", BOUNDS), ("among", AMONG)):
        if key in spec:
            fields[key] = _text(spec, key, path, problems, choices=choices)
    for key in (k for k in ("among", "follow_up_low") if k in spec and kind != "remission"):
        problems.add(f"{path}.{key}", f"belongs to a remission fact, not a {kind}", spec[key])
    if "follow_up_low" in spec:
        fields["follow_up_low"] = number(spec["follow_up_low"], f"{path}.follow_up_low",
                                         problems, low=0.0, high=fields.get("horizon_years"))
    described = [k for k in ("age_mean", "age_sd", "female") if k in spec]
    if described and len(described) < 3:
        problems.add(path, "needs age_mean, age_sd and female together (the source's "
                     "population) or none of them", None, has_value=False)
    if described and "population_status" not in spec:
        problems.missing(f"{path}.population_status", "the status of the age and sex figures")
    if "conditional_on" in spec and spec.get("origin") not in FROM_ONSET:
        problems.add(f"{path}.conditional_on", "is for survival counted from diagnosis or "
                     "first symptom (origin)", spec["conditional_on"])


def parse_targets(raw: Mapping[str, Any], source: str) -> ValidationTargets:
    """Validate a targets file's content; ScenarioError listing every problem."""
    problems = Problems()
    unknown_keys(raw, ("schema", "target"), "", problems)
    if raw.get("schema") != 1:
        problems.add("schema", "must be 1 (the only validation-target format so far)",
                     raw.get("schema"))
    specs = raw.get("target")
    if not isinstance(specs, list) or not specs:
        problems.add("target", "must be one or more [[target]] tables", specs)
        specs = []
    seen: set[str] = set()
    targets = [_target(spec, i, seen, problems) for i, spec in enumerate(specs)]
    if problems:
        raise ScenarioError(source, problems)
    return ValidationTargets(source, tuple(t for t in targets if t is not None))


def load_targets(path: str | Path | None = None) -> ValidationTargets:
    """Read a validation-targets file (default: the one shipped with cartsim)."""
    if path is None:
        return _shipped()
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(str(path), [Problem("file", f"cannot read: {err}", str(path))]) \
            from err
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(str(path), [Problem("TOML syntax", str(err), None,
                                                has_value=False)]) from err
    return parse_targets(raw, str(path))


@lru_cache(maxsize=1)
def _shipped() -> ValidationTargets:
    content = resources.files("cartsim.data").joinpath(SHIPPED).read_text(encoding="utf-8")
    return parse_targets(tomllib.loads(content), f"cartsim/data/{SHIPPED}")
