"""Tables of the inputs: parameters, the cohort, parameters drawn jointly.

The parameter table is the CHEERS 2022 item-22 table: every input the run
used, defaults included, with its value, unit, distribution, 95% range and
source. Every study writes it beside its results; ``cartsim params`` and
``cartsim check`` print these tables without running anything.
"""

from __future__ import annotations

import math

from cartsim.cohort import Cohort, describe_age, summarise_cohort
from cartsim.scenario.clinical_schema import PARAMETER_BY_NAME
from cartsim.scenario.model import Scenario
from cartsim.study.prepare import check_cohort
from cartsim.table import Table


def parameters_table(scenario: Scenario) -> Table:
    columns = ("name", "kind", "given_value", "given_unit", "price_year", "inflation", "value",
               "unit", "distribution", "dist_mean", "dist_median", "point_vs_mean",
               "dist_low_95", "dist_high_95", "dsa_low", "dsa_high", "includes", "source",
               "status", "default", "description")
    rows = []
    for name, p in scenario.parameters.items():
        dist = p.distribution
        lo = hi = mean = median = None
        if dist is not None and dist.name != "dirichlet":
            lo, hi = (float(x) for x in dist.interval(0.95))
            mean, median = float(dist.mean), float(dist.ppf(0.5))
        description = PARAMETER_BY_NAME[name].description if name in PARAMETER_BY_NAME else ""
        rows.append((name, p.kind, p.given_value, p.given_unit, p.price_year,
                     p.inflation if p.kind == "cost" else None, p.value, p.unit,
                     dist.describe() if dist is not None else "none (fixed)", mean, median,
                     p.point_status(), lo, hi, p.low, p.high, ", ".join(p.includes), p.source,
                     p.status, p.is_default, description))
    notes: tuple[str, ...]
    notes = ("value is in model units (per year, years, currency, at the run's price year); "
             "given_value and the distribution are in the unit and price year written in the "
             "scenario (given_unit, price_year).",
             "point_vs_mean: 'mean' when the point value (given_value) is the distribution's "
             "mean, so the deterministic base case and the PSA agree on this input; "
             "'differs: ...' gives the scenario's reason; 'DIFFERS: no reason given' flags a "
             "point value that is neither. dist_median beside dist_mean shows the skew.",
             "price_year and inflation: a cost written in price_year prices is multiplied by "
             "inflation (medical-care CPI-U, BLS CUUR0000SAM, shipped table) to reach the run's "
             "price year; value = given_value x inflation. includes: what the cost contains "
             "(a state cost that includes an event's component is charged net of that event).",
             "status: R read in source, S secondary, U unverified, E analyst estimate "
             "(see evidence/PARAMETERS.md); default = not in the scenario file.")
    if scenario.model == "cart_vs_is":
        notes += (f"relapse model: {scenario.relapse_model}",)
    return Table("parameters", "Model inputs and their sources", columns, tuple(rows), notes,
                 {"value": "float", "given_value": "float", "dist_mean": "float",
                  "dist_low_95": "float", "dist_high_95": "float", "dsa_low": "float",
                  "dsa_high": "float", "default": "text", "dist_median": "float",
                  "price_year": "int", "inflation": "float"})


COHORT_COLUMNS = ("group", "patients", "share", "age_mean", "age_sd", "age_min", "age_max",
                  "female_share")
COHORT_FORMATS = {"share": "prob", "female_share": "prob", "patients": "int",
                  # ages in years to 3 decimals (the "qaly" kind's fixed format)
                  **dict.fromkeys(("age_mean", "age_sd", "age_min", "age_max"), "qaly")}


def cohort_table(cohort: Cohort, title: str = "Cohort simulated") -> Table:
    """Each group's patients, share, age (mean, sd, min, max) and share female, then
    everyone ("all"): who was simulated, whatever the scenario meant to describe."""
    rows = tuple((g.group, g.patients, g.share, g.age_mean, g.age_sd, g.age_min, g.age_max,
                  g.female_share) for g in summarise_cohort(cohort))
    return Table("cohort", title, COHORT_COLUMNS, rows,
                 ("age_sd is the sample standard deviation (NA for fewer than 2 patients).",),
                 COHORT_FORMATS)


def cohort_spec_table(scenario: Scenario) -> Table:
    """The sampled cohort as the scenario specifies it: each group's share of patients
    (the mix weights normalised to sum to 1), age distribution and share female."""
    shares = scenario.cohort.shares()
    rows = tuple((g.name, shares[g.name], describe_age(g.age), g.female)
                 for g in scenario.cohort.groups)
    return Table("cohort", "Cohort as specified (sampled)",
                 ("group", "share", "age", "female_share"), rows,
                 ("share: the group's mix weight over the sum of the weights.",),
                 {"share": "prob", "female_share": "prob", "age": "text"})


def correlations_table(scenario: Scenario) -> Table:
    """Parameters drawn jointly in PSA: correlations (Gaussian copula) and Dirichlet sets."""
    joint = scenario.joint
    rows: list[tuple[object, ...]] = []
    for c in joint.correlations:
        spearman = 6.0 / math.pi * math.asin(c.rho / 2.0)
        rows.append(("correlation", f"{c.first} ~ {c.second}", c.rho, spearman,
                     "Gaussian copula", c.source or None))
    for d in joint.dirichlet:
        means = ", ".join(f"{m:.4g}" for m in d.distribution.mean[:len(d.names)])
        rest = " (last alpha: remainder category)" if d.remainder else ""
        rows.append(("dirichlet", ", ".join(d.names), None, None,
                     f"{d.distribution.describe()}{rest}; means {means}", d.source or None))
    notes: tuple[str, ...]
    notes = ("rho: correlation of the parameters' normal scores (Gaussian copula; each keeps "
             "its own distribution). spearman: the rank correlation it implies, (6/pi) "
             "asin(rho/2); the Pearson correlation of the drawn values differs slightly "
             "when a distribution is skewed.",
             "A Dirichlet set draws its parameters jointly (they sum to 1, or to 1 minus the "
             "remainder category) in place of their own distributions; point values stay as "
             "in the parameters table.")
    notes += joint.notes
    return Table("correlations", "Parameters drawn jointly", (
        "kind", "parameters", "rho", "spearman", "distribution", "source"), tuple(rows), notes,
        {"rho": "float", "spearman": "float", "distribution": "text"})


def specified_cohort(scenario: Scenario) -> Table:
    """The cohort as the scenario specifies it: the sampled groups (shares normalised),
    or a summary of the cohort file's patients (read and checked as a run reads them)."""
    patients = check_cohort(scenario, None)
    if patients is None:
        return cohort_spec_table(scenario)
    name = scenario.cohort.file.name if scenario.cohort.file else ""
    return cohort_table(patients, f"Cohort as specified: the {patients.n:,} patients of {name}")
