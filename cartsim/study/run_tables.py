"""The tables of a `cartsim run`, built from a RunResult.

Every table has a fixed column order, shares the key columns ``strategy``
(and ``group`` where relevant), and is written as CSV (exact numbers) and
Markdown (formatted for a report). Column meanings are listed in the README.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from cartsim.analysis.benefit_risk import benefit_risk
from cartsim.analysis.cea import break_even_time, estimate_mean, incremental_analysis
from cartsim.analysis.deterministic import (
    SUMMARY_MEASURES,
    Increment,
    increment,
    means,
    proportion,
)
from cartsim.engine.events import ALIVE
from cartsim.outcomes.cost_composition import cost_composition
from cartsim.outcomes.curves import CurveSums, used_points
from cartsim.outcomes.occupancy import Occupancy, occupancy_from_counts, remission_states
from cartsim.pathway.model import same_events
from cartsim.scenario.settings import horizon_label
from cartsim.study.evlyg_tables import (
    EVLYG_COLUMNS,
    EVLYG_NOTE,
    equal_value,
    evlyg_cells,
    nhb_cells,
    nhb_columns,
)
from cartsim.study.result import RunResult
from cartsim.table import Table, wtp_key
from cartsim.vocabulary import ALIVE_ROW, DEAD_ROW, REMISSION_ROW, cost_categories

ICER_NOTE = ("ICER status: 'more costly, more effective' (ICER = extra cost per QALY gained); "
             "'less costly, less effective' (ICER = saving per QALY lost); 'dominant' (no more "
             "costly and more effective: no ICER); 'dominated' (no less costly and less "
             "effective); "
             "'undefined' (no QALY difference). NA = not applicable or not estimable.")
MCSE_NOTE = ("*_mcse: Monte Carlo standard error of the mean (sd/sqrt(n)); for incremental "
             "values, of the paired per-patient differences (common random numbers).")


def increments(result: RunResult, mask: np.ndarray | None = None) -> dict[str, Increment]:
    run = result.scenario.run
    ref = result.outcomes[run.comparator].columns
    cats = cost_categories(ref)
    measures = (*SUMMARY_MEASURES, *[f"cost_{c}" for c in cats],
                *[f"cost_{c}_undisc" for c in cats])
    return {s: increment(o.columns, ref, s, run.comparator, measures, run.wtp, mask)
            for s, o in result.outcomes.items() if s != run.comparator}


def curves_of(result: RunResult) -> Mapping[str, CurveSums]:
    """The run's curves over time; ValueError if it was made without them."""
    if result.curves is None:
        msg = "this run was made without curves (run_scenario(curves=False))"
        raise ValueError(msg)
    return result.curves


def shown_grid(result: RunResult) -> np.ndarray:
    """The times of the run's curves that tables show (to the last death or the horizon)."""
    grid = next(iter(curves_of(result).values())).grid
    ends = np.concatenate([o.columns["end_time"] for o in result.outcomes.values()])
    return grid[:used_points(grid, result.scenario.run.horizon, ends)]


def break_even(result: RunResult
               ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, float | None]]:
    """Cumulative mean discounted cost curves and each strategy's cost-offset time."""
    run = result.scenario.run
    grid = shown_grid(result)
    n = max(result.cohort.n, 1)
    curves = {s: curves_of(result)[s].cost[:grid.size] / n for s in result.strategies}
    times = {s: (break_even_time(grid, curves[s], curves[run.comparator]) if len(grid) > 1
                 else None)
             for s in result.strategies if s != run.comparator}
    return grid, curves, times


def summary_table(result: RunResult, incs: Mapping[str, Increment],
                  offsets: Mapping[str, float | None]) -> Table:
    run = result.scenario.run
    wtp_cols = [c for lam in run.wtp for c in (f"inmb_{wtp_key(lam)}", f"inmb_{wtp_key(lam)}_mcse")]
    columns = ("strategy", "label", "patients", "cost", "cost_mcse", "cost_undisc", "qaly",
               "qaly_mcse", "qaly_undisc", "ly", "ly_mcse", "ly_undisc", "remission_years",
               "comparator", "inc_cost", "inc_cost_mcse", "inc_qaly", "inc_qaly_mcse", "inc_ly",
               "inc_ly_mcse", "icer", "icer_status", *wtp_cols, "break_even_years",
               *EVLYG_COLUMNS, *nhb_columns(run.wtp))
    evly = equal_value(result)
    rows = []
    for s in result.strategies:
        m = means(result.outcomes[s].columns, SUMMARY_MEASURES)
        row: list[object] = [s, result.models[s].label, m["cost"].n, m["cost"].mean, m["cost"].se,
                             m["cost_undisc"].mean, m["qaly"].mean, m["qaly"].se,
                             m["qaly_undisc"].mean, m["ly"].mean, m["ly"].se, m["ly_undisc"].mean,
                             m["remission_years"].mean]
        if s == run.comparator:
            row += [None] * 8 + ["comparator"] + [None] * len(wtp_cols) + [None]
            row += [evly.get(s), None, None, *[None] * 2 * len(run.wtp)]
        else:
            inc = incs[s].measures
            row += [run.comparator, inc["cost"].mean, inc["cost"].se, inc["qaly"].mean,
                    inc["qaly"].se, inc["ly"].mean, inc["ly"].se, incs[s].icer.value,
                    incs[s].icer.status]
            for lam in run.wtp:
                row += [incs[s].inmb[lam].mean, incs[s].inmb[lam].se]
            row.append(offsets.get(s))
            row += evlyg_cells(evly, s, run.comparator, inc["cost"].mean)
            row += nhb_cells(incs[s], run.wtp)
        rows.append(tuple(row))
    formats = {c: "money" for c in columns if c.startswith(("cost", "inc_cost", "inmb", "icer"))}
    formats.update({c: "qaly" for c in columns if "qaly" in c or c.startswith(("ly", "inc_ly"))})
    formats.update({"icer_status": "text", "remission_years": "qaly", "break_even_years": "float",
                    "patients": "int", "evly": "qaly", "inc_evlyg": "qaly",
                    "icer_evlyg": "money"})
    formats.update(dict.fromkeys(nhb_columns(run.wtp), "qaly"))
    notes = ("Discounted: cost, qaly, ly, evly and every inc_*, icer*, inmb_* and nhb_* column; "
             "undiscounted: the *_undisc columns and remission_years (mean years in drug-free "
             "remission).",
             f"Discounted values at {run.discount_costs:g} (costs) and {run.discount_outcomes:g} "
             f"(outcomes) per year, {run.convention} convention; horizon "
             f"{horizon_label(run.horizon)}; {run.reported_currency} {run.reported_price_year}; "
             f"perspective: {run.perspective}.",
             ICER_NOTE, MCSE_NOTE,
             "inmb_<wtp>: incremental net monetary benefit = wtp x inc_qaly - inc_cost. "
             "break_even_years: first time from which the strategy's cumulative discounted cost "
             "stays at or below the comparator's (NA: never within the horizon).",
             EVLYG_NOTE)
    return Table("summary", "Summary: costs, QALYs and life-years per patient", columns,
                 tuple(rows), notes, formats)


def costs_table(result: RunResult, incs: Mapping[str, Increment]) -> Table:
    run = result.scenario.run
    columns = ("strategy", "category", "cost", "cost_mcse", "cost_undisc", "inc_cost",
               "inc_cost_mcse")
    rows = []
    for s in result.strategies:
        cols = result.outcomes[s].columns
        for cat in (*cost_categories(cols), "total"):
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
    rows: list[tuple[object, ...]] = []
    pairs: dict[str, str] = {}
    for s, o in result.outcomes.items():
        # One happening under two labels (same count for every patient): shown once.
        twins = {b: a for b, a in same_events(result.models[s].pathways.values()).items()
                 if np.array_equal(o.columns[f"n_{a}"], o.columns[f"n_{b}"])}
        pairs |= twins
        for label in o.event_names:
            if label == "start" or label in twins:
                continue
            counts = o.columns[f"n_{label}"]
            per = estimate_mean(counts.astype(float))
            prop = proportion(counts > 0)
            rows.append((s, label, int(counts.sum()), per.mean, per.se,
                         int(np.count_nonzero(counts)), prop.mean, prop.se))
    notes = [f"{a}: each is also recorded as {b}, which follows it at once with certainty: "
             f"one event, counted once here (patients.csv and trace.csv keep both labels)."
             for b, a in pairs.items()]
    return Table("events", "Events and harms", columns, tuple(rows),
                 ("Recurring events (flares, serious infections) are counted per sojourn from a "
                  "Poisson draw; proportion_se is the binomial standard error.", *notes),
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


def benefit_risk_table(result: RunResult) -> Table:
    """The rows of :func:`cartsim.analysis.benefit_risk.benefit_risk` for every strategy."""
    run = result.scenario.run
    columns = ("strategy", "comparator", "section", "outcome", "unit", "comparator_value",
               "strategy_value", "difference", "difference_se", "direction", "favours",
               "number_needed", "number_needed_type")
    ref = result.outcomes[run.comparator]
    rows = []
    for s, o in result.outcomes.items():
        if s == run.comparator:
            continue
        for r in benefit_risk(o.columns, ref.columns, o.event_names, ref.event_names,
                              run.horizon):
            rows.append((s, run.comparator, r.section, r.outcome, r.unit, r.comparator,
                         r.strategy, r.difference, r.difference_se, r.direction, r.favours,
                         r.number_needed, r.number_needed_type))
    notes = ("Differences are strategy minus comparator on the same patients, with their Monte "
             "Carlo standard error (difference_se). all-cause death counts every cause, "
             "treatment-related deaths included. added harms are events only the strategy "
             "can cause. Transitions only one arm can make (response, relapse, low disease "
             "activity) are not outcomes.",
             "direction: whether the strategy has more or fewer; favours: which arm that "
             "difference is good for. number_needed (patients-with-an-outcome rows only): NNT "
             "when the difference favours the strategy (patients treated for one more benefit "
             "or one harm avoided), NNH when it favours the comparator. NA: none.")
    return Table("benefit_risk", "Benefit-risk against the comparator", columns, tuple(rows),
                 notes, {"comparator_value": "float", "strategy_value": "float",
                         "difference": "float", "difference_se": "float",
                         "number_needed": "float", "unit": "text", "direction": "text",
                         "favours": "text"})


def cost_composition_table(result: RunResult) -> Table:
    """Yearly cost of every state, by category and origin (state rate vs expected events)."""
    run = result.scenario.run
    models = {s: (m.pathways, m.valuations) for s, m in result.models.items()}
    rows = tuple((r.strategy, r.group, r.state, r.category, r.origin, r.annual_cost)
                 for r in cost_composition(models, run.cost_factor))
    notes = ("annual_cost: cost of one year in the state (undiscounted). origin state: the "
             "state's own yearly costs; events: the expected cost of the events that recur in "
             "it (rate x cost of one event). The total row of each state is the sum of its "
             "other rows.",
             "A state cost that already includes flares or serious infections (an all-cause "
             "claims figure) is charged net of their expected cost, so state + events equals "
             "the sourced figure (README, 'Costs that add up'). One-off costs (infusion, "
             "adverse events, a cancer's first year) are in the costs table.")
    return Table("cost_composition",
                 f"Yearly cost of each state by category and origin ({run.reported_currency} "
                 f"{run.reported_price_year})",
                 ("strategy", "group", "state", "category", "origin", "annual_cost"), rows,
                 notes, {"annual_cost": "money", "origin": "text"})


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


# --- state occupancy -----------------------------------------------------------------
# One row per strategy, state and time: the share of patients in each state of the
# strategy's pathway and dead (these rows partition the cohort, so they sum to 1 at every
# time), then two summary rows per time, alive and drug_free_remission (aggregate = true:
# sums of state rows). The data of the state-occupancy, survival and remission plots.

OCCUPANCY_NOTES = (
    "share: proportion of the strategy's patients in that state at that time (years from the "
    "start); share_se: its binomial standard error sqrt(p(1-p)/n).",
    f"Rows with aggregate = false (each state and '{DEAD_ROW}') sum to 1 at every time. "
    f"'{ALIVE_ROW}' (survival) and '{REMISSION_ROW}' (in a drug-free remission state) are "
    "sums of state rows and have aggregate = true.",
    "A patient alive at the horizon is counted in their last state at the horizon.",
    "This Markdown shows yearly time points to year 10, then every 5 years, and the last; "
    "state_occupancy.csv has the full grid (quarterly for two years, then yearly).",
)


def occupancies(result: RunResult) -> dict[str, Occupancy]:
    """Each strategy's occupancy on one shared grid (quarterly, then yearly)."""
    grid = shown_grid(result)
    return {s: occupancy_from_counts(s, grid, c.states, c.occupancy[:grid.size],
                                     c.dead[:grid.size], result.cohort.n,
                                     remission_states(result.models[s].pathways))
            for s, c in curves_of(result).items()}


def occupancy_rows(occ: Occupancy) -> list[tuple[object, ...]]:
    """Rows of one strategy: states and dead per time, then alive and remission."""
    columns = [(name, occ.state_share[:, s], False) for s, name in enumerate(occ.states)]
    columns += [(DEAD_ROW, occ.dead, False), (ALIVE_ROW, occ.alive, True),
                (REMISSION_ROW, occ.remission, True)]
    rows: list[tuple[object, ...]] = []
    for name, share, aggregate in columns:
        se = occ.standard_error(share)
        rows += [(occ.strategy, name, float(t), float(p), float(e), aggregate)
                 for t, p, e in zip(occ.time, share, se, strict=True)]
    return rows


def state_occupancy_table(result: RunResult) -> Table:
    """The ``state_occupancy`` table (long format, keys strategy, state, time)."""
    occs = occupancies(result)
    rows = [row for occ in occs.values() for row in occupancy_rows(occ)]
    last = max((float(occ.time[-1]) for occ in occs.values() if occ.time.size), default=0.0)
    shown = tuple(i for i, r in enumerate(rows)
                  if isinstance(r[2], float) and yearly_point(r[2], last))
    return Table("state_occupancy", "State occupancy, survival and drug-free remission over time",
                 ("strategy", "state", "time", "share", "share_se", "aggregate"), tuple(rows),
                 OCCUPANCY_NOTES,
                 {"time": "float", "share": "prob", "share_se": "prob", "aggregate": "text"},
                 markdown_rows=shown)


def yearly_point(t: float, last: float) -> bool:
    """A time the occupancy Markdown shows: whole years to 10, then every 5, and the last."""
    return t == last or (t.is_integer() and (t <= 10.0 or t % 5.0 == 0.0))
