"""Model parameters: a point value, a unit, an optional distribution and a source.

In a scenario file a parameter is either a bare number or a table::

    rate = { value = 0.03, per = "year", dist = "gamma", shape = 0.5, scale = 0.0526,
             source = "Müller 2024: 0 relapses in ~19 patient-years", status = "E" }

Rates take ``per`` (year, month, week, day) and durations ``unit`` (years,
months, weeks, days); cartsim converts both to years before anything is
sampled, so the model always works in years. A distribution is given in the
same unit as the value. Without ``value`` the point value is the
distribution's mean. ``dist = "beta", evidence = "muller2024.sle.response"``
derives the distribution from case-series counts (see :mod:`cartsim.params.evidence`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cartsim.checks import Problems, did_you_mean, join, number, text
from cartsim.errors import ParameterError
from cartsim.params.distributions import Distribution, make_distribution
from cartsim.params.evidence import evidence_prior
from cartsim.params.reference_tables import inflation_factor

DAYS_PER_YEAR = 365.25
RATE_UNITS = {"year": 1.0, "month": 12.0, "week": DAYS_PER_YEAR / 7.0, "day": DAYS_PER_YEAR}
"""Periods per year: a rate per period times this is the rate per year."""
DURATION_UNITS = {"years": 1.0, "months": 1.0 / 12.0, "weeks": 7.0 / DAYS_PER_YEAR,
                  "days": 1.0 / DAYS_PER_YEAR}
STATUSES = ("R", "S", "U", "E", "R/S", "R/E", "S/E", "default", "assumption")

# kind -> (low, high, low_open, unit label, description of the range, hint)
KINDS: dict[str, tuple[float | None, float | None, bool, str, str]] = {
    "probability": (0.0, 1.0, False, "probability", "a probability in [0, 1]"),
    "rate": (0.0, None, False, "per year", "a rate >= 0"),
    "duration": (0.0, None, False, "years", "a duration >= 0"),
    "cost": (0.0, None, False, "currency", "a cost >= 0"),
    "utility": (-1.0, 1.0, False, "utility", "a utility in [-1, 1] (below 0: worse than death)"),
    "qaly_loss": (0.0, None, False, "QALYs", "a QALY loss >= 0"),
    "ratio": (0.0, None, False, "ratio", "a ratio >= 0"),
    "positive": (0.0, None, True, "", "a number > 0"),
    "real": (None, None, False, "", "a number"),
}

META_KEYS = ("value", "per", "unit", "source", "status", "note", "low", "high", "includes",
             "price_year", "point_note")
COST_COMPONENTS = (
    "drugs", "outpatient", "hospital", "flares", "serious_infections", "monitoring",
    "immunoglobulin", "cancer_care", "end_of_life", "product", "infusion_episode",
    "apheresis", "lymphodepletion", "lodging", "crs", "icans", "licats", "all_cause",
)
"""What a cost can say it ``includes``. A state cost that includes the component of an
event (``flares``, ``serious_infections``) is made net of that event's expected cost in
the pathway builders, so nothing is charged twice; ``all_cause`` marks a source that
measured every cost of the patients (it implies the other components it lists)."""
DIST_KEYS = ("dist", "mean", "se", "sd", "alpha", "beta", "shape", "scale", "meanlog", "sdlog",
             "low", "high", "mode", "events", "n", "exposure", "estimate", "lower", "upper",
             "alphas", "value", "evidence")


@dataclass(frozen=True)
class Parameter:
    """One input with everything a reader needs to trace it."""

    name: str
    kind: str
    value: float
    unit: str
    factor: float
    given_value: float
    given_unit: str
    distribution: Distribution | None
    low: float | None
    high: float | None
    source: str
    status: str
    note: str
    is_default: bool = False
    includes: tuple[str, ...] = ()
    """For a cost: what it contains (see COST_COMPONENTS); empty when not stated."""
    price_year: int | None = None
    """For a cost: the year of its prices; ``value`` is inflated from it to the run's
    price year (``factor`` carries the inflation, so PSA draws and DSA bounds get it too)."""
    point_note: str = ""
    """Why the point value is not the distribution's mean, when it is not."""

    def point_status(self, rel: float = 5e-4) -> str:
        """``"mean"`` when the point value is the distribution's mean to 0.05% (the deterministic
        base case then agrees with the PSA's expectation of this input), ``"fixed"``
        without a distribution, else ``"differs: <why>"`` (the scenario's ``point_note``)
        or ``"DIFFERS: no reason given"``."""
        dist = self.distribution
        if dist is None:
            return "fixed"
        mean: object = dist.mean  # a vector for a Dirichlet set
        if not isinstance(mean, float | int):
            return "mean" if not self.point_note else f"differs: {self.point_note}"
        if abs(float(mean) - self.given_value) <= rel * max(abs(float(mean)), 1e-12):
            return "mean"
        return f"differs: {self.point_note}" if self.point_note else "DIFFERS: no reason given"

    @property
    def inflation(self) -> float:
        """The price-year inflation folded into ``factor`` (1 when there is none)."""
        return self.factor if self.price_year is not None else 1.0

    def converted(self, given: float) -> float:
        """A value in the file's unit converted to the model's unit (years)."""
        return given * self.factor


def _hint(kind: str, x: float) -> str | None:
    if kind == "probability" and 1.0 < x <= 100.0:
        return f"probabilities are fractions, not percentages: did you mean {x / 100:g}?"
    if kind == "utility" and 1.0 < x <= 100.0:
        return "utilities are on the 0-1 scale (1 = full health)"
    if kind in ("rate", "cost", "duration", "qaly_loss", "ratio") and x < 0:
        return "give the magnitude; the direction is part of the parameter's meaning"
    return None


def _cost_meta(spec: dict[str, Any], path: str, kind: str, target_year: int | None,
               problems: Problems) -> tuple[tuple[str, ...], int | None, float] | None:
    """``includes``, ``price_year`` and the inflation factor of a cost (None if invalid)."""
    if kind != "cost":
        for key in ("includes", "price_year"):
            if key in spec:
                problems.add(join(path, key), f"only a cost has '{key}'", spec[key])
                return None
        return (), None, 1.0
    includes: list[str] = []
    raw_inc = spec.get("includes", [])
    if not isinstance(raw_inc, list):
        problems.add(join(path, "includes"), "must be a list of components", raw_inc,
                     f"choose from: {', '.join(COST_COMPONENTS)}")
        return None
    for i, item in enumerate(raw_inc):
        name = text(item, f"{join(path, 'includes')}.{i}", problems, choices=COST_COMPONENTS)
        if name is None:
            return None
        includes.append(name)
    if "price_year" not in spec:
        return tuple(includes), None, 1.0
    year = spec["price_year"]
    if isinstance(year, bool) or not isinstance(year, int):
        problems.add(join(path, "price_year"), "must be a year (a whole number)", year)
        return None
    if target_year is None or year == target_year:
        return tuple(includes), year, 1.0
    try:
        factor = inflation_factor(year, target_year)
    except ParameterError as err:
        problems.add(join(path, "price_year"), str(err), year,
                     "give a year the table covers, or drop price_year (the value is then "
                     "taken to be in the run's price year)")
        return None
    return tuple(includes), year, factor


def parse_parameter(raw: Any, path: str, kind: str, problems: Problems, *,
                    is_default: bool = False, target_year: int | None = None
                    ) -> Parameter | None:
    """Validate one parameter as written in a scenario; None (and problems) if invalid.

    ``target_year`` is the run's price year: a cost with a ``price_year`` is inflated
    to it with the medical-care CPI (:mod:`cartsim.params.reference_tables`)."""
    low, high, low_open, unit_label, what = KINDS[kind]
    spec: dict[str, Any] = raw if isinstance(raw, dict) else {"value": raw}
    allowed = set(META_KEYS) | set(DIST_KEYS)
    bad = [k for k in spec if k not in allowed]
    for key in bad:
        problems.add(join(path, key), "unknown key", spec[key],
                     did_you_mean(key, allowed) or "allowed: value, dist and its parameters, "
                     "per/unit, source, status, note, low, high")
    if bad:
        return None
    factor, given_unit = 1.0, unit_label
    if kind == "rate":
        per = text(spec.get("per", "year"), join(path, "per"), problems, choices=RATE_UNITS)
        if per is None:
            return None
        # A rate per month is 12 times larger per year.
        factor, given_unit = RATE_UNITS[per], f"per {per}"
    elif kind == "duration":
        unit = text(spec.get("unit", "years"), join(path, "unit"), problems, choices=DURATION_UNITS)
        if unit is None:
            return None
        factor, given_unit = DURATION_UNITS[unit], unit
    else:
        for key in ("per", "unit"):
            if key in spec:
                problems.add(join(path, key), f"a {kind} has no '{key}'", spec[key])
                return None
    meta = _cost_meta(spec, path, kind, target_year, problems)
    if meta is None:
        return None
    includes, price_year, inflation = meta
    factor *= inflation
    dist: Distribution | None = None
    evidence_note, evidence_status = "", ""
    if "evidence" in spec:
        derived = evidence_prior(spec, path, kind, factor, problems)
        if derived is None:
            return None
        dist, evidence_note, evidence_status = derived
    elif "dist" in spec:
        try:
            # low/high are the distribution's own bounds for uniform and triangular;
            # for every other family they are the one-way sensitivity range.
            own_bounds = spec.get("dist") in ("uniform", "triangular")
            skip = ("per", "unit", "source", "status", "note", "includes", "price_year",
                    "point_note") + \
                (() if own_bounds else ("low", "high"))
            dist = make_distribution({k: v for k, v in spec.items() if k not in skip})
        except ParameterError as err:
            problems.add(join(path, "dist"), str(err), spec.get("dist"))
            return None
        except (TypeError, ValueError) as err:
            problems.add(join(path, "dist"), f"invalid distribution: {err}", spec.get("dist"))
            return None
    if "value" in spec:
        given = number(spec["value"], join(path, "value") if isinstance(raw, dict) else path,
                       problems, what=what)
        if given is None:
            return None
    elif dist is not None:
        mean: object = dist.mean  # a vector for a Dirichlet set
        if not isinstance(mean, float | int):
            problems.add(path, "a vector distribution needs an explicit value", spec.get("dist"))
            return None
        given = float(mean)
    else:
        problems.add(join(path, "value"), "missing (give value or a dist)", None, has_value=False)
        return None
    where = join(path, "value") if isinstance(raw, dict) else path
    ok = number(given, where, problems, low=low, high=high, low_open=low_open, what=what,
                hint=_hint(kind, given))
    if ok is None:
        return None
    bounds: dict[str, float | None] = {}
    for key in ("low", "high"):
        bounds[key] = None
        if key in spec and not (dist is not None and dist.name in ("uniform", "triangular")):
            bounds[key] = number(spec[key], join(path, key), problems, low=low, high=high,
                                 what=what)
    if bounds["low"] is not None and bounds["high"] is not None and bounds["low"] > bounds["high"]:
        problems.add(join(path, "low"), "must not exceed high", bounds["low"])
    status = spec.get("status", evidence_status or ("default" if is_default else ""))
    if status and text(status, join(path, "status"), problems, choices=STATUSES) is None:
        return None
    source = spec.get("source", "cartsim default" if is_default else "")
    note = spec.get("note", "")
    point_note = spec.get("point_note", "")
    for key, val in (("source", source), ("note", note), ("point_note", point_note)):
        if text(val, join(path, key), problems, max_len=2000) is None:
            return None
    return Parameter(
        name=path, kind=kind, value=given * factor, unit=unit_label, factor=factor,
        given_value=given, given_unit=given_unit, distribution=dist,
        low=bounds["low"], high=bounds["high"], status=status, note=note,
        source=(f"{source} [{evidence_note}]" if source and evidence_note
                else source or evidence_note),
        is_default=is_default, includes=includes, price_year=price_year,
        point_note=point_note,
    )
