"""The tables of a `cartsim run`, built from a RunResult.

Every table has a fixed column order, shares the key columns ``strategy``
(and ``group`` where relevant), and is written as CSV (exact numbers) and
Markdown (formatted for a report). Column meanings are listed in the README.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from cartsim.analysis.cea import break_even_time, estimate_mean, incremental_analysis
from cartsim.analysis.deterministic import (
    SUMMARY_MEASURES,
    Increment,
    increment,
    means,
    proportion,
)
from cartsim.api import RunResult
from cartsim.engine.events import ALIVE
from cartsim.outcomes.curves import used_points
from cartsim.report.tables import Table
from cartsim.scenario.settings import horizon_label
from cartsim.vocabulary import COST_CATEGORIES

ICER_NOTE = ("ICER status: 'more costly, more effective' (ICER = extra cost per QALY gained); "
             "'less costly, less effective' (ICER = saving per QALY lost); 'dominant' (no more "
             "costly and more effective: no ICER); 'dominated' (no less costly and less effective); "
             "'undefined' (no QALY difference). NA = not applicable or not estimable.")
MCSE_NOTE = ("*_mcse: Monte Carlo standard error of the mean (sd/sqrt(n)); for incremental "
             "values, of the paired per-patient differences (common random numbers).")
BENEFITS = frozenset({"response", "response_retreatment", "to_low_activity"})
NEUTRAL = frozenset({"start", "apheresis", "infusion", "reinfusion", "b_cell_recovery",
                     "ig_replacement", "retreatment"})
"""Pathway milestones that are neither a benefit nor a harm (left out of benefit-risk)."""


def wtp_key(lam: float) -> str:
    """Column suffix for a willingness-to-pay value (100000; 2500.5 if fractional)."""
    return f"{lam:.0f}" if float(lam).is_integer() else f"{lam:g}"


def increments(result: RunResult, mask: np.ndarray | None = None) -> dict[str, Increment]:
    run = result.scenario.run
    ref = result.outcomes[run.comparator].columns
    measures = (*SUMMARY_MEASURES, *[f"cost_{c}" for c in COST_CATEGORIES],
                *[f"cost_{c}_undisc" for c in COST_CATEGORIES])
    return {s: increment(o.columns, ref, s, run.comparator, measures, run.wtp, mask)
            for s, o in result.outcomes.items() if s != run.comparator}


def shown_grid(result: RunResult) -> np.ndarray:
    """The times of the run's curves that tables show (to the last death or the horizon)."""
    if result.curves is None:
        msg = "this run was made without curves (run_scenario(curves=False))"
        raise ValueError(msg)
    grid = next(iter(result.curves.values())).grid
    ends = np.concatenate([o.columns["end_time"] for o in result.outcomes.values()])
    return grid[:used_points(grid, result.scenario.run.horizon, ends)]


def break_even(result: RunResult) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, float | None]]:
    """Cumulative mean discounted cost curves and each strategy's cost-offset time."""
    run = result.scenario.run
    grid = shown_grid(result)
    n = max(result.cohort.n, 1)
    curves = {s: result.curves[s].cost[:grid.size] / n for s in result.strategies}
    times = {s: (break_even_time(grid, curves[s], curves[run.comparator]) if len(grid) > 1 else None)
             for s in result.strategies if s != run.comparator}
    return grid, curves, times


def summary_table(result: RunResult, incs: Mapping[str, Increment],
                  offsets: Mapping[str, float | None]) -> Table:
    run = result.scenario.run
    wtp_cols = [c for lam in run.wtp for c in (f"inmb_{wtp_key(lam)}", f"inmb_{wtp_key(lam)}_mcse")]
    columns = ("strategy", "label", "patients", "cost", "cost_mcse", "cost_undisc", "qaly",
               "qaly_mcse", "qaly_undisc", "ly", "ly_mcse", "ly_undisc", "remission_years",
               "comparator", "inc_cost", "inc_cost_mcse", "inc_qaly", "inc_qaly_mcse", "inc_ly",
               "inc_ly_mcse", "icer", "icer_status", *wtp_cols, "break_even_years")
    rows = []
    for s in result.strategies:
        m = means(result.outcomes[s].columns, SUMMARY_MEASURES)
        row: list[object] = [s, result.models[s].label, m["cost"].n, m["cost"].mean, m["cost"].se,
                             m["cost_undisc"].mean, m["qaly"].mean, m["qaly"].se,
                             m["qaly_undisc"].mean, m["ly"].mean, m["ly"].se, m["ly_undisc"].mean,
                             m["remission_years"].mean]
        if s == run.comparator:
            row += [None] * 8 + ["comparator"] + [None] * len(wtp_cols) + [None]
        else:
            inc = incs[s].measures
            row += [run.comparator, inc["cost"].mean, inc["cost"].se, inc["qaly"].mean,
                    inc["qaly"].se, inc["ly"].mean, inc["ly"].se, incs[s].icer.value,
                    incs[s].icer.status]
            for lam in run.wtp:
                row += [incs[s].inmb[lam].mean, incs[s].inmb[lam].se]
            row.append(offsets.get(s))
        rows.append(tuple(row))
    formats = {c: "money" for c in columns if c.startswith(("cost", "inc_cost", "inmb", "icer"))}
    formats.update({c: "qaly" for c in columns if "qaly" in c or c.startswith(("ly", "inc_ly"))})
    formats.update({"icer_status": "text", "remission_years": "qaly", "break_even_years": "float",
                    "patients": "int"})
    notes = (f"Discounted values at {run.discount_costs:g} (costs) and {run.discount_outcomes:g} "
             f"(outcomes) per year, {run.convention} convention; horizon {horizon_label(run.horizon)}"
             f"; {run.reported_currency} {run.reported_price_year}; perspective: {run.perspective}.",
             ICER_NOTE, MCSE_NOTE,
             "inmb_<wtp>: incremental net monetary benefit = wtp x inc_qaly - inc_cost. "
             "break_even_years: first time from which the strategy's cumulative discounted cost "
             "stays at or below the comparator's (NA: never within the horizon).")
    return Table("summary", "Summary: costs, QALYs and life-years per patient", columns,
                 tuple(rows), notes, formats)


def costs_table(result: RunResult, incs: Mapping[str, Increment]) -> Table:
    run = result.scenario.run
    columns = ("strategy", "category", "cost", "cost_mcse", "cost_undisc", "inc_cost",
               "inc_cost_mcse")
    rows = []
    for s in result.strategies:
        cols = result.outcomes[s].columns
        for cat in (*COST_CATEGORIES, "total"):
            key = "cost" if cat == "total" else f"cost_{cat}"
            est, und = estimate_mean(cols[key]), estimate_mean(cols[f"{key}_undisc"])
            inc = incs[s].measures[key] if s in incs else None
            rows.append((s, cat, est.mean, est.se, und.mean, inc.mean if inc else None,
                         inc.se if inc else None))
    return Table("costs", f"Costs by category per patient ({run.reported_currency} "
                 f"{run.reported_price_year})", columns, tuple(rows),
                 ("Categories sum to 'total'. " + MCSE_NOTE,),
                 dict.fromkeys(columns[2:], "money"))


def frontier_table(result: RunResult) -> Table:
    """Full incremental analysis of every strategy (dampack's ``calculate_icers``):
    strong and extended dominance, sequential ICERs along the efficiency frontier."""
    run = result.scenario.run
    names = list(result.strategies)
    costs = [estimate_mean(result.outcomes[s].columns["cost"]).mean for s in names]
    qalys = [estimate_mean(result.outcomes[s].columns["qaly"]).mean for s in names]
    words = {"ND": "on the frontier", "D": "dominated", "ED": "extendedly dominated"}
    rows = tuple((r.strategy, r.cost, r.effect, r.status, words[r.status], r.inc_cost,
                  r.inc_effect, r.icer) for r in incremental_analysis(names, costs, qalys))
    columns = ("strategy", "cost", "qaly", "status", "status_text", "inc_cost", "inc_qaly",
               "icer")
    return Table("frontier", f"Efficiency frontier ({run.reported_currency} "
                 f"{run.reported_price_year}; discounted means per patient)", columns, rows,
                 ("Sorted by cost. status: ND on the efficiency frontier; D dominated (another "
                  "strategy costs no more and is at least as effective); ED extendedly "
                  "dominated (a mix of its neighbours on the frontier would do better). "
                  "inc_cost, inc_qaly and icer compare each ND strategy with the previous ND "
                  "one (NA for the first and for D/ED).",),
                 {"cost": "money", "inc_cost": "money", "icer": "money", "qaly": "qaly",
                  "inc_qaly": "qaly", "status": "text", "status_text": "text"})


def events_table(result: RunResult) -> Table:
    columns = ("strategy", "event", "events", "events_per_patient", "events_per_patient_mcse",
               "patients_with_event", "proportion", "proportion_se")
    rows = []
    for s, o in result.outcomes.items():
        for label in o.event_names:
            if label == "start":
                continue
            counts = o.columns[f"n_{label}"]
            per = estimate_mean(counts.astype(float))
            prop = proportion(counts > 0)
            rows.append((s, label, int(counts.sum()), per.mean, per.se,
                         int(np.count_nonzero(counts)), prop.mean, prop.se))
    return Table("events", "Events and harms", columns, tuple(rows),
                 ("Recurring events (flares, serious infections) are counted per sojourn from a "
                  "Poisson draw; proportion_se is the binomial standard error.",),
                 {"events": "int", "patients_with_event": "int", "events_per_patient": "rate",
                  "events_per_patient_mcse": "rate", "proportion": "prob",
                  "proportion_se": "prob"})


def deaths_table(result: RunResult) -> Table:
    columns = ("strategy", "cause", "patients", "proportion", "proportion_se", "mean_time")
    rows = []
    for s, o in result.outcomes.items():
        cause, end = o.columns["cause"], o.columns["end_time"]
        for code, name in [*enumerate(o.cause_names), (ALIVE, "alive_at_horizon")]:
            mask = cause == code
            if not mask.any() and code == ALIVE and math.isinf(result.scenario.run.horizon):
                continue
            prop = proportion(mask)
            rows.append((s, name, int(mask.sum()), prop.mean, prop.se,
                         float(end[mask].mean()) if mask.any() else None))
    return Table("deaths", "Deaths by cause", columns, tuple(rows),
                 ("mean_time: mean time of death (years from the start) among those patients; "
                  "for alive_at_horizon, the horizon.",),
                 {"patients": "int", "proportion": "prob", "proportion_se": "prob",
                  "mean_time": "float"})


def _death_by(o_cols: Mapping[str, np.ndarray], years: float) -> np.ndarray:
    return (o_cols["died"] == 1) & (o_cols["end_time"] <= years)


def benefit_risk_table(result: RunResult) -> Table:
    run = result.scenario.run
    columns = ("strategy", "comparator", "outcome", "kind", "per_1000_comparator",
               "per_1000_strategy", "difference_per_1000", "difference_se_per_1000",
               "number_needed", "number_needed_type")
    rows = []
    ref = result.outcomes[run.comparator]
    for s, o in result.outcomes.items():
        if s == run.comparator:
            continue
        outcomes: list[tuple[str, str, np.ndarray, np.ndarray]] = []
        for label in o.event_names:
            if label in NEUTRAL:
                continue
            kind = "benefit" if label in BENEFITS else "harm"
            ref_flags = ref.columns.get(f"n_{label}", np.zeros(ref.n, dtype=np.int64)) > 0
            outcomes.append((f"patients with {label}", kind, o.columns[f"n_{label}"] > 0, ref_flags))
        for years in (5.0, 10.0):
            outcomes.append((f"death within {years:g} years", "harm", _death_by(o.columns, years),
                             _death_by(ref.columns, years)))
        for name, kind, new, old in outcomes:
            p_new, p_ref = proportion(new).mean, proportion(old).mean
            diff = p_new - p_ref
            d = (new.astype(float) - old.astype(float))
            se = estimate_mean(d).se
            nn_type, nn = None, None
            if diff != 0:
                more_is_good = kind == "benefit"
                nn_type = "NNT" if (diff > 0) == more_is_good else "NNH"
                nn = 1.0 / abs(diff)
            rows.append((s, run.comparator, name, kind, 1000 * p_ref, 1000 * p_new, 1000 * diff,
                         None if se is None else 1000 * se, nn, nn_type))
    return Table("benefit_risk", "Benefit-risk: patients per 1,000 treated", columns, tuple(rows),
                 ("NNT: patients treated with the strategy instead of the comparator for one more "
                  "benefit (or one harm avoided); NNH: for one more harm. NA: no difference.",),
                 {"per_1000_comparator": "float", "per_1000_strategy": "float",
                  "difference_per_1000": "float", "difference_se_per_1000": "float",
                  "number_needed": "float"})


def subgroups_table(result: RunResult) -> Table:
    run = result.scenario.run
    groups = result.cohort.groups()
    group_arr = np.array(result.cohort.group)
    wtp_cols = [f"inmb_{wtp_key(lam)}" for lam in run.wtp]
    columns = ("group", "strategy", "patients", "cost", "cost_mcse", "qaly", "qaly_mcse", "ly",
               "inc_cost", "inc_cost_mcse", "inc_qaly", "inc_qaly_mcse", "icer", "icer_status",
               *wtp_cols)
    rows = []
    for g in groups:
        mask = group_arr == g
        incs = increments(result, mask)
        for s, o in result.outcomes.items():
            m = means(o.columns, ("cost", "qaly", "ly"), mask)
            row: list[object] = [g, s, m["cost"].n, m["cost"].mean, m["cost"].se, m["qaly"].mean,
                                 m["qaly"].se, m["ly"].mean]
            if s in incs:
                inc = incs[s]
                row += [inc.measures["cost"].mean, inc.measures["cost"].se,
                        inc.measures["qaly"].mean, inc.measures["qaly"].se, inc.icer.value,
                        inc.icer.status, *[inc.inmb[lam].mean for lam in run.wtp]]
            else:
                row += [None] * 5 + ["comparator"] + [None] * len(wtp_cols)
            rows.append(tuple(row))
    formats = {c: "money" for c in columns if c.startswith(("cost", "inc_cost", "icer", "inmb"))}
    formats.update(dict.fromkeys(("qaly", "qaly_mcse", "ly", "inc_qaly", "inc_qaly_mcse"), "qaly"))
    formats.update({"icer_status": "text", "patients": "int"})
    return Table("subgroups", "Results by patient group (disease)", columns, tuple(rows),
                 (ICER_NOTE,), formats)


def cost_over_time_table(result: RunResult, grid: np.ndarray,
                         curves: Mapping[str, np.ndarray]) -> Table:
    columns = ("time", *[f"cumulative_cost_{s}" for s in result.strategies])
    rows = tuple((float(t), *[float(curves[s][k]) for s in result.strategies])
                 for k, t in enumerate(grid))
    return Table("cost_over_time", "Cumulative discounted cost per patient over time", columns,
                 rows, ("time in years from the start; costs discounted to the start.",),
                 dict.fromkeys(columns[1:], "money") | {"time": "float"})
