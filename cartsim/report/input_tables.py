"""Tables of inputs and per-patient results: the parameter table, patients, trace.

The parameter table is the CHEERS 2022 item-22 table: every input the run
used, defaults included, with its value, unit, distribution, 95% range and
source. ``patients.csv`` has one row per patient and strategy; ``trace.csv``
(with ``--trace``) one row per sojourn and event, with the amounts accrued, so
that anyone can recompute every total by hand.
"""

from __future__ import annotations

import math

import numpy as np

from cartsim.api import RunResult
from cartsim.cohort import Cohort, describe_age, summarise_cohort
from cartsim.engine.events import ALIVE, EventLog
from cartsim.outcomes.age_norm import adjusted_sojourns
from cartsim.outcomes.discounting import (
    discount_factor,
    discounted_duration,
    mean_discount_factor,
)
from cartsim.report.tables import Table
from cartsim.scenario.clinical_schema import PARAMETER_BY_NAME
from cartsim.scenario.model import Scenario
from cartsim.vocabulary import COST_CATEGORIES, DEAD


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


def patients_table(result: RunResult) -> Table:
    first = next(iter(result.outcomes.values()))
    value_cols = ["cost", "cost_undisc", *[f"cost_{c}" for c in COST_CATEGORIES],
                  *[f"cost_{c}_undisc" for c in COST_CATEGORIES], "qaly", "qaly_undisc", "ly",
                  "ly_undisc", "remission_years", "remission_years_disc", "end_time", "died"]
    labels = sorted({e for o in result.outcomes.values() for e in o.event_names} - {"start"})
    columns = ("patient_id", "strategy", "group", "age", "sex", *value_cols, "cause",
               *[f"n_{e}" for e in labels])
    cohort = result.cohort
    rows = []
    for s, o in result.outcomes.items():
        cols = o.columns
        cause_names = [*o.cause_names]
        for i in range(first.n):
            c = int(cols["cause"][i])
            rows.append((cohort.patient_id[i], s, cohort.group[i], float(cohort.age[i]),
                         "female" if cohort.female[i] else "male",
                         *[float(cols[k][i]) if k != "died" else int(cols[k][i])
                           for k in value_cols],
                         "alive" if c == ALIVE else cause_names[c],
                         *[int(cols[f"n_{e}"][i]) if f"n_{e}" in cols else 0 for e in labels]))
    return Table("patients", "Per-patient results", columns, tuple(rows), markdown=False)


def trace_table(result: RunResult) -> Table:
    """Sojourns, events and recurring-event counts with the amounts each accrued."""
    columns = ("patient_id", "strategy", "row", "kind", "time", "end", "state_from", "state_to",
               "event", "count", "cost_rate", "utility", "unit_cost", "unit_qaly_loss", "cost",
               "cost_undisc", "qaly", "qaly_undisc", "ly", "ly_undisc")
    rc, ro = result.rates.costs, result.rates.outcomes
    factor = result.scenario.run.cost_factor
    rows: list[tuple[object, ...]] = []
    for s, log in result.logs.items():
        vals = result.models[s].valuations
        items: list[tuple[int, float, int, tuple[object, ...]]] = []
        # Each patient's rows in the order they happened (the engine's sequence
        # numbers); a recurring-count row follows its sojourn.
        for j in range(len(log.sojourn_patient)):
            p = int(log.sojourn_patient[j])
            val = vals[result.cohort.group[p]]
            state = log.state_names[log.sojourn_state[j]]
            a, b = float(log.sojourn_start[j]), float(log.sojourn_end[j])
            rate = sum(val.state_costs.get(state, {}).values()) * factor
            u = val.state_utility.get(state, 0.0)
            dc, do = float(discounted_duration(a, b, rc)), float(discounted_duration(a, b, ro))
            q, q_undisc = u * do, u * (b - a)
            if val.utility_age_norm is not None:  # utility steps at birthdays
                qs = adjusted_sojourns(val.utility_age_norm, result.cohort.age[p:p + 1],
                                       result.cohort.female[p:p + 1], np.array([a]),
                                       np.array([b]), np.array([u]), ro)
                q, q_undisc = float(qs[0][0]), float(qs[1][0])
            items.append((p, a, 2 + int(log.sojourn_seq[j]), ("sojourn", a, b, state, state, "", None, rate, u, None, None,
                                    rate * dc, rate * (b - a), q, q_undisc, do, b - a)))
        for j in range(len(log.recurring_sojourn)):
            k = int(log.recurring_sojourn[j])
            p = int(log.sojourn_patient[k])
            val = vals[result.cohort.group[p]]
            label = log.event_names[log.recurring_event[j]]
            n = int(log.recurring_count[j])
            a, b = float(log.sojourn_start[k]), float(log.sojourn_end[k])
            state = log.state_names[log.sojourn_state[k]]
            cost = sum(val.event_costs.get(label, {}).values()) * factor
            loss = val.event_qaly_loss.get(label, 0.0)
            mc, mo = float(mean_discount_factor(a, b, rc)), float(mean_discount_factor(a, b, ro))
            items.append((p, a, 2 + int(log.sojourn_seq[k]), ("recurring", a, b, state, state, label, n, None, None, cost,
                                    loss, n * cost * mc, n * cost, -n * loss * mo, -n * loss,
                                    0.0, 0.0)))
        states = _event_states(log)
        for j in range(len(log.event_patient)):
            p = int(log.event_patient[j])
            val = vals[result.cohort.group[p]]
            label = log.event_names[log.event_code[j]]
            t = float(log.event_time[j])
            cost = sum(val.event_costs.get(label, {}).values()) * factor
            loss = val.event_qaly_loss.get(label, 0.0)
            before, after = states[j]
            items.append((p, t, 2 + int(log.event_seq[j]), (
                "event", t, t, before, after, label, 1, None, None, cost, loss,
                cost * float(discount_factor(t, rc)), cost,
                -loss * float(discount_factor(t, ro)), -loss, 0.0, 0.0)))
        for p in range(log.n_patients):
            if log.cause[p] == ALIVE:
                t = float(log.end_time[p])
                items.append((p, t, 1 << 40, ("censored", t, t, "", "", "censored", None, None, None,
                                        None, None, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)))
        items.sort(key=lambda it: (it[0], it[2], it[3][0] == "recurring"))
        row_no: dict[int, int] = {}
        for p, _, _, data in items:
            k = row_no.get(p, 0)
            row_no[p] = k + 1
            rows.append((result.cohort.patient_id[p], s, k, *data))
    return Table("trace", "Per-patient event trace", columns, tuple(rows),
                 ("kind=sojourn: a stay in state_from over [time, end]; kind=event: a one-off "
                  "event at time (state_to 'dead' for deaths); kind=recurring: count events "
                  "during the sojourn [time, end], discounted at the sojourn's mean discount "
                  "factor; kind=censored: alive at the horizon.",), markdown=False)


def _event_states(log: EventLog) -> list[tuple[str, str]]:
    """For each event row: the state before and after it ("dead" after a death)."""
    order: dict[int, list[tuple[int, str]]] = {}
    for j in range(len(log.sojourn_patient)):
        order.setdefault(int(log.sojourn_patient[j]), []).append(
            (int(log.sojourn_seq[j]), log.state_names[log.sojourn_state[j]]))
    out: list[tuple[str, str]] = []
    for j in range(len(log.event_patient)):
        p, seq = int(log.event_patient[j]), int(log.event_seq[j])
        stays = order.get(p, [])
        before = [name for k, name in stays if k < seq]
        after = [name for k, name in stays if k > seq]
        nxt = after[0] if after else DEAD if log.cause[p] != ALIVE else ""
        out.append((before[-1] if before else "", nxt))
    return out
