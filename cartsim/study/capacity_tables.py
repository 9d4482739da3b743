"""The tables of the capacity study (:mod:`cartsim.study.capacity`).

Three arms on the same referred patients (common random numbers): conventional
immunosuppression, CAR-T with the capacity as given, and CAR-T with unlimited
capacity. Their difference is what waiting costs. Standard errors come from
the spread between replications (whole simulated programmes), because
patients of one programme share its queues.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from cartsim.analysis.capacity import (
    busy_fraction,
    clustered_mean,
    counts_per_year,
    max_in_queue,
    mean_in_queue,
    per_programme,
    summarise_waits,
    waiting_at,
)
from cartsim.engine.capacity import ENDS, FAILED, QUEUES, REASONS, TREATED
from cartsim.study.input_tables import parameters_table
from cartsim.table import Table, wtp_key
from cartsim.vocabulary import COST_CATEGORIES

if TYPE_CHECKING:
    from cartsim.study.capacity import CapacityResult

ARMS = ("immunosuppression", "car_t", "car_t_unconstrained")
DAYS = 365.25
SE_NOTE = ("*_mcse, *_se: Monte Carlo standard error from the spread between the simulated "
           "programmes (replications); NA with one replication.")
QUEUE_LABELS = {"slot": "manufacturing slot", "apheresis": "apheresis chair",
                "bed": "treatment-centre bed"}


def estimate(values: np.ndarray, result: CapacityResult) -> tuple[float, float | None]:
    e = clustered_mean(values, result.run.replication, result.run.capacity.replications)
    return e.mean, e.se


def before_treatment(result: CapacityResult, arm: str, reason: str) -> np.ndarray:
    """1 for each patient who left bridging untreated for ``reason`` (e.g. death)."""
    queue = result.run.constrained if arm == "car_t" else result.run.unconstrained
    left = (queue.end != TREATED) & (queue.end != FAILED)
    return (left & (result.run.leave_reason == REASONS.index(reason))).astype(float)


def outcomes_table(result: CapacityResult) -> Table:
    run = result.scenario.run
    wtp_cols = [c for lam in run.wtp for c in (f"inmb_{wtp_key(lam)}", f"inmb_{wtp_key(lam)}_mcse")]
    columns = ("arm", "label", "patients", "treated", "treated_mcse", "cost", "cost_mcse", "qaly",
               "qaly_mcse", "ly", "ly_mcse", "remission_years", "inc_cost", "inc_cost_mcse",
               "inc_qaly", "inc_qaly_mcse", *wtp_cols)
    ref = result.outcomes["immunosuppression"].columns
    rows = []
    for arm in ARMS:
        cols = result.outcomes[arm].columns
        treated = (None, None) if arm == "immunosuppression" else \
            estimate((cols["n_infusion"] > 0).astype(float), result)
        row: list[object] = [arm, result.labels[arm], result.run.cohort.n, *treated]
        for key in ("cost", "qaly", "ly"):
            row += estimate(cols[key], result)
        row.append(estimate(cols["remission_years"], result)[0])
        if arm == "immunosuppression":
            row += [None] * (4 + len(wtp_cols))
        else:
            row += [*estimate(cols["cost"] - ref["cost"], result),
                    *estimate(cols["qaly"] - ref["qaly"],
                                                                      result)]
            for lam in run.wtp:
                row += estimate(lam * (cols["qaly"] - ref["qaly"]) - (cols["cost"] - ref["cost"]),
                            result)
        rows.append(tuple(row))
    formats = {c: "money" for c in columns if c.startswith(("cost", "inc_cost", "inmb"))}
    formats.update({c: "qaly" for c in columns if "qaly" in c or c.startswith("ly")})
    formats.update({"treated": "prob", "treated_mcse": "prob", "remission_years": "qaly"})
    notes = ("Per referred patient. treated: share infused. inc_*: against conventional "
             "immunosuppression on the same patients; inmb_<wtp> = wtp x inc_qaly - inc_cost.",
             SE_NOTE)
    return Table("capacity_outcomes", "Costs, QALYs and life-years per referred patient",
                 columns, tuple(rows), notes, formats)


def lost_table(result: CapacityResult) -> Table:
    o, run = result.outcomes, result.run
    wtp = result.scenario.run.wtp
    measures: list[tuple[str, np.ndarray, np.ndarray]] = []
    for key in ("qaly", "qaly_undisc", "ly", "ly_undisc", "remission_years", "cost",
                "cost_undisc", *[f"cost_{c}" for c in COST_CATEGORIES], "n_infusion"):
        measures.append((key, o["car_t_unconstrained"][key].astype(float),
                         o["car_t"][key].astype(float)))
    for lam in wtp:
        nmb = {arm: lam * o[arm]["qaly"] - o[arm]["cost"] for arm in ("car_t",
                                                                       "car_t_unconstrained")}
        measures.append((f"nmb_{wtp_key(lam)}", nmb["car_t_unconstrained"], nmb["car_t"]))
    for reason in ("death", "cancer"):
        measures.append((f"{reason}_before_treatment",
                         before_treatment(result, "car_t_unconstrained", reason),
                         before_treatment(result, "car_t", reason)))
    columns = ("measure", "unconstrained", "constrained", "change", "change_mcse",
               "change_per_programme", "change_per_programme_mcse")
    rows, formats = [], {}
    reps = run.capacity.replications
    for key, free, capped in measures:
        diff = capped - free
        total = per_programme(diff, run.replication, reps)
        rows.append((key, estimate(free, result)[0], estimate(capped, result)[0],
                     *estimate(diff, result),
                     total.mean, total.se))
    for c in columns[1:]:
        formats[c] = "float"
    notes = ("change = capacity as given minus unlimited capacity, per referred patient, on the "
             "same patients with the same random numbers: negative QALYs are QALYs lost to "
             "waiting, positive costs extra costs of waiting. change_per_programme: the same "
             "summed over one programme's referrals.",
             "nmb_<wtp> = wtp x qaly - cost. *_before_treatment: share who died, or were "
             "diagnosed with cancer, on bridging therapy before infusion or manufacturing "
             "failure.", SE_NOTE)
    return Table("lost_to_waiting", "Outcomes lost to waiting (capacity as given minus "
                 "unlimited capacity)", columns, tuple(rows), notes, formats)


def waiting_table(result: CapacityResult) -> Table:
    run, q = result.run, result.run.constrained
    reps = run.capacity.replications
    columns = ("queue", "patients", "mean_days", "mean_days_mcse", "median_days", "p90_days",
               "p95_days", "max_days", "over_1_month", "over_3_months", "over_6_months")
    groups: list[tuple[str, np.ndarray, np.ndarray]] = []
    for k, name in enumerate(QUEUES):
        joined = np.isfinite(q.enter[k])
        groups.append((QUEUE_LABELS[name], q.wait[k][joined], run.replication[joined]))
    treated = q.end == TREATED
    groups.append(("all queues (treated patients)", q.wait.sum(axis=0)[treated],
                   run.replication[treated]))
    groups.append(("referral to infusion (treated patients)", q.bridging[treated],
                   run.replication[treated]))
    rows = []
    for label, waits, cluster in groups:
        s = summarise_waits(waits, cluster, reps)

        def days(x: float | None) -> float | None:
            return None if x is None else x * DAYS

        rows.append((label, s.n, days(s.mean.mean if s.mean else None),
                     days(s.mean.se if s.mean else None), *(days(x) for x in s.quantiles),
                     days(s.maximum), *s.share_over))
    formats = dict.fromkeys(columns[2:8], "float") | dict.fromkeys(columns[8:], "prob")
    notes = ("Time spent waiting, in days, by patients who joined each queue (a patient who "
             "left bridging while queueing counts the time until then; see queue_exits). "
             "over_*: share waiting longer than 1, 3 or 6 months (1 month = 1/12 year). "
             "referral to infusion includes the vein-to-vein time.", SE_NOTE)
    return Table("waiting_times", "Waiting times (capacity as given)", columns, tuple(rows),
                 notes, formats)


def throughput_table(result: CapacityResult) -> Table:
    run = result.run
    q, free, reps = run.constrained, run.unconstrained, run.capacity.replications
    last = np.nanmax(np.r_[q.infusion, free.infusion, run.arrival, 0.0])
    n_years = max(1, math.ceil(last + 1e-12))
    left_at = run.arrival + run.leave_by
    died = {arm: np.where(before_treatment(result, arm, "death") > 0, left_at, np.nan)
            for arm in ("car_t", "car_t_unconstrained")}
    failures = np.where(q.end == FAILED, run.arrival + q.bridging, np.nan)
    series = {
        "referrals": counts_per_year(run.arrival, run.replication, reps, n_years),
        "treated": counts_per_year(q.infusion, run.replication, reps, n_years),
        "treated_unconstrained": counts_per_year(free.infusion, run.replication, reps, n_years),
        "manufacturing_failures": counts_per_year(failures, run.replication, reps, n_years),
        "died_before_treatment": counts_per_year(died["car_t"], run.replication, reps, n_years),
        "died_before_treatment_unconstrained": counts_per_year(
            died["car_t_unconstrained"], run.replication, reps, n_years),
    }
    ends = [float(k + 1) for k in range(n_years)]
    queued = np.asarray(sum(waiting_at(ends, q.enter[k], q.wait[k], run.replication, reps)
                            for k in range(len(QUEUES))), dtype=float)
    columns = ("year", "referrals", "treated", "treated_se", "treated_unconstrained",
               "manufacturing_failures", "died_before_treatment",
               "died_before_treatment_unconstrained", "waiting_at_year_end")
    rows = []
    for k in range(n_years):
        treated_se = series["treated"][1]
        rows.append((k + 1, series["referrals"][0][k], series["treated"][0][k],
                     None if treated_se is None else float(treated_se[k]),
                     *(series[name][0][k] for name in columns[4:8]), float(queued[k])))
    notes = ("Per programme (mean over replications) in each calendar year from the start of "
             "referrals. treated = infusions; *_unconstrained: the same patients with unlimited "
             "capacity. waiting_at_year_end: patients in any queue at the end of the year.",
             SE_NOTE)
    return Table("throughput", "Patients referred, treated and lost per calendar year", columns,
                 tuple(rows), notes, dict.fromkeys(columns[1:], "float") | {"year": "int"})


def resources_table(result: CapacityResult) -> Table:
    run, spec = result.run, result.run.capacity
    q, reps, window = run.constrained, spec.replications, spec.arrivals.years
    per_month = spec.slots_per_month
    starts_lengths: dict[str, tuple[tuple[np.ndarray, np.ndarray] | None, float]] = {
        "slot": (None, per_month * 12.0),
        "apheresis": ((q.apheresis, run.apheresis_time), spec.apheresis_chairs),
        "bed": ((q.infusion, run.stay), spec.beds),
    }
    columns = ("resource", "capacity", "service_days", "offered_per_year", "used_per_year",
               "utilisation", "utilisation_se", "mean_waiting", "mean_waiting_se", "max_waiting")
    rows = []
    for k, name in enumerate(QUEUES):
        intervals, servers = starts_lengths[name]
        unlimited = math.isinf(servers)
        if name == "slot":
            capacity = "unlimited" if unlimited else f"{per_month:g} per month"
            service = None
            used = per_programme(np.isfinite(q.slot) & (q.slot < window), run.replication, reps)
            use = (used.mean / window, None if unlimited else used.mean / (window * servers),
                   None if unlimited or used.se is None else used.se / (window * servers))
            offered = None if unlimited else servers
        else:
            capacity = "unlimited" if unlimited else f"{servers:g}"
            mean_time = run.apheresis_time if name == "apheresis" else run.stay
            service = float(np.mean(mean_time)) * DAYS if mean_time.size else None
            assert intervals is not None  # a chair or a bed is held from a start for a time
            begin, length = intervals
            started = np.isfinite(begin) & (begin < window)
            count = per_programme(started, run.replication, reps).mean
            busy = None if unlimited else busy_fraction(begin, length, run.replication, reps,
                                                        servers, window)
            use = (count / window, busy.mean if busy else None, busy.se if busy else None)
            offered = None if unlimited or service is None else servers * DAYS / service
        waiting = mean_in_queue(q.enter[k], q.wait[k], run.replication, reps, window)
        rows.append((QUEUE_LABELS[name], capacity, service, offered, *use, waiting.mean,
                     waiting.se, max_in_queue(q.enter[k], q.wait[k], run.replication)))
    notes = (f"Over the referral period (the first {window:g} years), per programme. "
             "offered_per_year: slots released, or patients the chairs or beds could serve at "
             "the mean service time; utilisation: share of that capacity in use; mean_waiting: "
             "time-average number of patients in the queue; max_waiting: the most at once in "
             "any programme.", SE_NOTE)
    formats = dict.fromkeys(columns[2:5], "float") | {"utilisation": "prob",
                                                       "utilisation_se": "prob"}
    return Table("resources", "Use of the programme's resources", columns, tuple(rows), notes,
                 formats | dict.fromkeys(columns[7:9], "float") | {"capacity": "text"})


def exits_table(result: CapacityResult) -> Table:
    run, reps = result.run, result.run.capacity.replications
    rows = []
    cases = [(e, "") for e in (TREATED, FAILED)] + \
        [(e, reason) for e in range(FAILED + 1, len(ENDS)) for reason in REASONS]
    for end, reason in cases:
        counts = []
        for queue in (run.constrained, run.unconstrained):
            mask = queue.end == end
            if reason:
                mask &= run.leave_reason == REASONS.index(reason)
            counts.append(mask)
        rows.append((ENDS[end], reason or None, int(counts[0].sum()),
                     per_programme(counts[0], run.replication, reps).mean,
                     float(counts[0].mean()), int(counts[1].sum()), float(counts[1].mean())))
    columns = ("outcome", "reason", "patients", "per_programme", "share",
               "patients_unconstrained", "share_unconstrained")
    notes = ("How each referral's time on bridging therapy ended: infusion, manufacturing "
             "failure (back to conventional therapy), or leaving the programme at a stage - "
             "by death, a cancer diagnosis, or the end of the horizon. left_in_production "
             "happens with unlimited capacity too. Shares sum to 1.",)
    return Table("queue_exits", "How referrals left the programme", columns, tuple(rows), notes,
                 {"per_programme": "float", "share": "prob", "share_unconstrained": "prob"})


def inputs_table(result: CapacityResult) -> Table:
    spec = result.run.capacity
    rows: list[tuple[object, ...]] = []
    for p in spec.figures:
        unlimited = math.isinf(p.value)
        rows.append((p.name, "unlimited" if unlimited else p.value, p.unit,
                     "unlimited" if unlimited else p.given_value, p.given_unit, p.source,
                     p.status))
    if spec.arrivals.rate is None:
        rows.append(("capacity.arrivals.per_year", " ".join(map(str, spec.arrivals.per_year)),
                     "referrals per calendar year", None, "", "", ""))
    rows += [("capacity.replications", spec.replications, "programmes", None, "", spec.source, ""),
             ("capacity.apheresis.time_distribution", spec.apheresis_distribution, "", None, "",
              "", ""),
             ("capacity.treatment_centre.stay_distribution", spec.stay_distribution, "", None,
              "", "", "")]
    columns = ("name", "value", "unit", "given_value", "given_unit", "source", "status")
    notes = ("value in model units (years, per year); given_value as written in the scenario. "
             "A stage left out of [capacity] is unlimited.",)
    return Table("capacity_inputs", "Capacity inputs and their sources", columns, tuple(rows),
                 notes, {"value": "float", "given_value": "float"})


def capacity_tables(result: CapacityResult) -> list[Table]:
    return [outcomes_table(result), lost_table(result), waiting_table(result),
            throughput_table(result), resources_table(result), exits_table(result),
            inputs_table(result), parameters_table(result.scenario)]
