"""Per-patient tables of a run (``--trace``): patients and every sojourn and event.

``patients.csv`` has one row per patient and strategy; ``trace.csv`` one row per
sojourn, event and recurring-event count with the amounts it accrued, so that
anyone can recompute every total by hand. They read the run's event logs, so only
a run that kept them (``--trace``) has them.
"""

from __future__ import annotations

import numpy as np

from cartsim.engine.events import ALIVE, EventLog
from cartsim.outcomes.age_norm import adjusted_sojourns
from cartsim.outcomes.discounting import (
    discount_factor,
    discounted_duration,
    mean_discount_factor,
)
from cartsim.study.result import RunResult
from cartsim.table import Table
from cartsim.vocabulary import DEAD, cost_categories


def patients_table(result: RunResult) -> Table:
    first = next(iter(result.outcomes.values()))
    cats = cost_categories(first.columns)
    value_cols = ["cost", "cost_undisc", *[f"cost_{c}" for c in cats],
                  *[f"cost_{c}_undisc" for c in cats], "qaly", "qaly_undisc", "ly",
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
            items.append((p, a, 2 + int(log.sojourn_seq[j]), (
                "sojourn", a, b, state, state, "", None, rate, u, None, None,
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
            items.append((p, a, 2 + int(log.sojourn_seq[k]), (
                "recurring", a, b, state, state, label, n, None, None, cost,
                loss, n * cost * mc, n * cost, -n * loss * mo, -n * loss, 0.0, 0.0)))
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
                items.append((p, t, 1 << 40, (
                    "censored", t, t, "", "", "censored", None, None, None,
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
