"""The optional ``[capacity]`` table: referrals, manufacturing slots, apheresis, beds.

A scenario with ``[capacity]`` can be run by ``cartsim capacity``: patients are
referred over calendar time and queue for the CAR-T programme's limited
resources, staying on bridging therapy while they wait. Without the table a
scenario is exactly what it was (nothing here is read, and its hash is
unchanged)::

    [capacity]
    replications = 20                      # independent programmes (for the MCSE)
    [capacity.arrivals]                    # Poisson referrals at `rate` for `years` ...
    rate = { value = 30, per = "year", source = "...", status = "E" }
    years = { value = 5, unit = "years" }
    # per_year = [12, 24, 36]              # ... or this many per calendar year, evenly spaced
    [capacity.manufacturing]
    slots_per_month = { value = 2, source = "...", status = "E" }
    [capacity.apheresis]
    chairs = 1
    time = { value = 1, unit = "days" }    # a collection occupies a chair this long
    [capacity.treatment_centre]
    beds = 2
    stay = { value = 14, unit = "days" }   # a bed is held this long from infusion

Every figure may be a bare number or a table with ``value``, ``per``/``unit``,
``source``, ``status`` and ``note`` (as for any parameter). Counts are whole
numbers or ``"unlimited"``; a stage whose table is left out is unlimited.
Capacity figures are fixed: they take no distribution.

Layer views of capacity: this is the scenario's; the queues are simulated by
:mod:`cartsim.engine.capacity`, summarised by :mod:`cartsim.analysis.capacity` and run
by the study :mod:`cartsim.study.capacity` (command: :mod:`cartsim.cli.capacity`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cartsim.checks import Problems, integer, join, table, text, unknown_keys
from cartsim.limits import MAX_REPLICATIONS
from cartsim.params.parameter import Parameter, parse_parameter

UNLIMITED = "unlimited"
SERVICE_DISTRIBUTIONS = ("fixed", "exponential")
MAX_REFERRALS = 1_000_000
"""Cap on expected referrals over all replications (each is a simulated patient)."""
MAX_COUNT = 1_000_000
MAX_YEARS = 100.0
FIGURE_KEYS = ("value", "per", "unit", "source", "status", "note")
STAGES = ("arrivals", "manufacturing", "apheresis", "treatment_centre")
CAPACITY_KEYS = ("replications", "source", *STAGES)
STAGE_KEYS = {
    "arrivals": ("rate", "years", "per_year", "source"),
    "manufacturing": ("slots_per_month", "source"),
    "apheresis": ("chairs", "time", "time_distribution", "source"),
    "treatment_centre": ("beds", "stay", "stay_distribution", "source"),
}
DEFAULT_APHERESIS_DAYS = 1.0
DEFAULT_STAY_DAYS = 14.0


@dataclass(frozen=True)
class Arrivals:
    """Referrals: Poisson at ``rate`` per year during [0, ``years``), or a schedule.

    ``per_year[k]`` referrals arrive in calendar year k, evenly spaced at
    ``k + (j + 0.5) / per_year[k]``.
    """

    rate: float | None
    years: float
    per_year: tuple[int, ...] = ()

    @property
    def expected(self) -> float:
        """Expected referrals in one programme."""
        return float(sum(self.per_year)) if self.rate is None else self.rate * self.years


@dataclass(frozen=True)
class CapacitySpec:
    """A validated ``[capacity]`` table; counts are ``math.inf`` when unlimited.

    Times are in years. ``apheresis_time`` is how long a collection occupies a
    chair and ``stay`` how long a treated patient occupies a bed; each is fixed
    or exponential with that mean (``*_distribution``).
    """

    arrivals: Arrivals
    slots_per_month: float = math.inf
    apheresis_chairs: float = math.inf
    apheresis_time: float = DEFAULT_APHERESIS_DAYS / 365.25
    apheresis_distribution: str = "fixed"
    beds: float = math.inf
    stay: float = DEFAULT_STAY_DAYS / 365.25
    stay_distribution: str = "fixed"
    replications: int = 1
    figures: tuple[Parameter, ...] = ()
    source: str = ""

    def unlimited(self) -> CapacitySpec:
        """The same programme with every resource unlimited (nobody queues)."""
        return dataclasses.replace(self, slots_per_month=math.inf,
                                   apheresis_chairs=math.inf, beds=math.inf)

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the table in the scenario hash."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                  if f.name not in ("figures", "source")}
        return {k: repr(v) for k, v in fields.items()}


def _figure(raw: Any, path: str, kind: str, problems: Problems) -> Parameter | None:
    """One capacity figure, with unit and source; no distribution."""
    if isinstance(raw, dict):
        bad = [k for k in raw if k not in FIGURE_KEYS]
        for key in bad:
            hint = ("capacity figures are fixed (no distribution or range): give value, "
                    "per/unit, source, status, note")
            problems.add(join(path, key), "unknown key", raw[key], hint)
        if bad:
            return None
    return parse_parameter(raw, path, kind, problems)


def _positive(raw: Any, path: str, kind: str, problems: Problems,
              high: float | None = None) -> Parameter | None:
    p = _figure(raw, path, kind, problems)
    where = join(path, "value") if isinstance(raw, dict) else path
    if p is not None and p.value <= 0:
        problems.add(where, "must be > 0", p.given_value)
        return None
    if p is not None and high is not None and p.value > high:
        problems.add(where, f"must be <= {high:g} {p.unit}", p.given_value)
        return None
    return p


def _count(raw: Any, path: str, what: str, problems: Problems) -> tuple[float, Parameter | None]:
    """A whole number >= 1 or "unlimited" (as a bare value or a table's value)."""
    value = raw.get("value") if isinstance(raw, dict) else raw
    if value == UNLIMITED:
        p = _figure({**raw, "value": 1} if isinstance(raw, dict) else 1, path, "positive",
                    problems)
        if p is None:
            return math.inf, None
        return math.inf, dataclasses.replace(p, value=math.inf, given_value=math.inf,
                                             unit=what, given_unit=what)
    if isinstance(value, str):
        problems.add(join(path, "value") if isinstance(raw, dict) else path,
                     f'must be a whole number of {what} or "{UNLIMITED}"', value)
        return math.inf, None
    p = _figure(raw, path, "positive", problems)
    if p is None:
        return math.inf, None
    where = join(path, "value") if isinstance(raw, dict) else path
    if p.value != math.floor(p.value) or not 1 <= p.value <= MAX_COUNT:
        problems.add(where, f'must be a whole number of {what} from 1 to {MAX_COUNT:,}, '
                     f'or "{UNLIMITED}"', p.given_value)
        return math.inf, None
    return p.value, dataclasses.replace(p, unit=what, given_unit=what)


def _arrivals(raw: Any, problems: Problems, figures: list[Parameter]) -> Arrivals | None:
    path = "capacity.arrivals"
    if raw is None:
        problems.missing(path, "a table with rate and years, or per_year")
        return None
    spec = table(raw, path, problems)
    if spec is None:
        return None
    unknown_keys(spec, STAGE_KEYS["arrivals"], path, problems)
    text(spec.get("source", ""), join(path, "source"), problems)
    if "per_year" in spec:
        for key in ("rate", "years"):
            if key in spec:
                problems.add(join(path, key), "cannot be combined with per_year", spec[key],
                             "give either rate and years (Poisson referrals) or per_year "
                             "(referrals in each calendar year)")
        counts_raw = spec["per_year"]
        if not isinstance(counts_raw, list) or not counts_raw:
            problems.add(join(path, "per_year"), "must be a list of referral counts, one per "
                         "calendar year", counts_raw)
            return None
        counts = [integer(c, f"{path}.per_year.{k}", problems, low=0, high=MAX_COUNT)
                  for k, c in enumerate(counts_raw)]
        if any(c is None for c in counts):
            return None
        if len(counts) > MAX_YEARS:
            problems.add(join(path, "per_year"), f"must cover at most {MAX_YEARS:g} years",
                         len(counts))
            return None
        if sum(counts) == 0:  # type: ignore[arg-type]
            problems.add(join(path, "per_year"), "must refer at least one patient", counts_raw)
            return None
        return Arrivals(None, float(len(counts)), tuple(counts))  # type: ignore[arg-type]
    if "rate" not in spec:
        problems.missing(join(path, "rate"), "referrals per year, or give per_year")
        return None
    if "years" not in spec:
        problems.missing(join(path, "years"), "how long referrals arrive at this rate")
        return None
    rate = _positive(spec["rate"], join(path, "rate"), "rate", problems)
    years = _positive(spec["years"], join(path, "years"), "duration", problems, high=MAX_YEARS)
    if rate is None or years is None:
        return None
    figures += [rate, years]
    return Arrivals(rate.value, years.value)


def _stage(raw: Mapping[str, Any], name: str, problems: Problems
           ) -> dict[str, Any] | None:
    if name not in raw:
        return None
    path = f"capacity.{name}"
    spec = table(raw[name], path, problems)
    if spec is None:
        return None
    unknown_keys(spec, STAGE_KEYS[name], path, problems)
    text(spec.get("source", ""), join(path, "source"), problems)
    return spec


def _service(spec: Mapping[str, Any], path: str, count_key: str, what: str, time_key: str,
             default_days: float, problems: Problems, figures: list[Parameter]
             ) -> tuple[float, float, str]:
    """(count, mean service time in years, distribution) of one stage."""
    count = math.inf
    if count_key not in spec:
        problems.missing(join(path, count_key), f'a whole number of {what} or "{UNLIMITED}"')
    else:
        count, p = _count(spec[count_key], join(path, count_key), what, problems)
        figures += [p] if p is not None else []
    time = default_days / 365.25
    if time_key in spec:
        t = _positive(spec[time_key], join(path, time_key), "duration", problems,
                      high=MAX_YEARS)
        if t is not None:
            time = t.value
            figures.append(t)
    dist = text(spec.get(f"{time_key}_distribution", "fixed"),
                join(path, f"{time_key}_distribution"), problems,
                choices=SERVICE_DISTRIBUTIONS) or "fixed"
    return count, time, dist


def parse_capacity(raw: Mapping[str, Any], model: str, problems: Problems
                   ) -> CapacitySpec | None:
    """The scenario's ``[capacity]`` table, validated; None when there is none.

    ``raw`` is the whole (merged) scenario, so that the table's fit with the
    rest of the scenario (clinical model, sampled cohort) can be checked too.
    """
    if "capacity" not in raw:
        return None
    cap = table(raw["capacity"], "capacity", problems)
    if cap is None:
        return None
    unknown_keys(cap, CAPACITY_KEYS, "capacity", problems)
    if model != "cart_vs_is":
        problems.add("capacity", 'needs the clinical model (model = "cart_vs_is")', model,
                     "the queue feeds the CAR-T pathway's bridging state (manufacturing)")
    cohort = raw.get("cohort")
    if isinstance(cohort, dict) and "file" in cohort:
        problems.add("cohort.file", "cannot be used with [capacity]", cohort["file"],
                     "a capacity run samples each patient as they are referred: describe the "
                     "cohort with mix and age tables instead")
    figures: list[Parameter] = []
    replications = integer(cap.get("replications", 1), "capacity.replications", problems,
                           low=1, high=MAX_REPLICATIONS)
    source = text(cap.get("source", ""), "capacity.source", problems, max_len=2000)
    arrivals = _arrivals(cap.get("arrivals"), problems, figures)
    slots = math.inf
    manufacturing = _stage(cap, "manufacturing", problems)
    if manufacturing is not None:
        if "slots_per_month" not in manufacturing:
            problems.missing("capacity.manufacturing.slots_per_month",
                             f'a whole number of slots or "{UNLIMITED}"')
        else:
            slots, p = _count(manufacturing["slots_per_month"],
                              "capacity.manufacturing.slots_per_month", "slots per month", problems)
            figures += [p] if p is not None else []
    chairs, apheresis_time, apheresis_dist = math.inf, DEFAULT_APHERESIS_DAYS / 365.25, "fixed"
    apheresis = _stage(cap, "apheresis", problems)
    if apheresis is not None:
        chairs, apheresis_time, apheresis_dist = _service(
            apheresis, "capacity.apheresis", "chairs", "chairs", "time",
            DEFAULT_APHERESIS_DAYS, problems, figures)
    beds, stay, stay_dist = math.inf, DEFAULT_STAY_DAYS / 365.25, "fixed"
    centre = _stage(cap, "treatment_centre", problems)
    if centre is not None:
        beds, stay, stay_dist = _service(centre, "capacity.treatment_centre", "beds", "beds",
                                         "stay", DEFAULT_STAY_DAYS, problems, figures)
    if arrivals is None or replications is None:
        return None
    total = arrivals.expected * replications
    if total > MAX_REFERRALS:
        problems.add("capacity.replications", f"would simulate about {total:,.0f} referred "
                     f"patients; the cap is {MAX_REFERRALS:,}", replications,
                     "lower replications, the referral rate or the referral period")
    return CapacitySpec(
        arrivals=arrivals, slots_per_month=slots, apheresis_chairs=chairs,
        apheresis_time=apheresis_time, apheresis_distribution=apheresis_dist, beds=beds,
        stay=stay, stay_distribution=stay_dist, replications=replications,
        figures=tuple(figures), source=source or "",
    )
