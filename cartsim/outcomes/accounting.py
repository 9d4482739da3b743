"""Valuation of an event log: costs, QALYs and life-years per patient.

Simulation and valuation are separate steps, so one simulated log can be valued
under any costs, utilities or discount rates. For each patient:

* state costs and utilities accrue over each sojourn, discounted exactly;
* one-off event costs and QALY losses are discounted at the event time;
* recurring events (counted per sojourn) are discounted at the sojourn's mean
  discount factor, their expected discount given the count;
* life-years are time alive in the model, discounted at the outcome rate;
* with a ``utility_age_norm``, a sojourn's utility steps at each birthday
  (``age_norm.py``), so valuing needs each patient's entry age and sex.

All sums use ``np.bincount`` over rows in the log's order, so a patient's totals
do not depend on how patients were chunked or which worker ran them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from cartsim.engine.events import ALIVE, EventLog
from cartsim.outcomes.age_norm import adjusted_sojourns
from cartsim.outcomes.discounting import (
    discount_factor,
    discounted_duration,
    mean_discount_factor,
)
from cartsim.outcomes.societal import societal_costs
from cartsim.pathway.model import Pathway, Valuation
from cartsim.vocabulary import COST_CATEGORIES, SOCIETAL_CATEGORIES


@dataclass(frozen=True)
class Rates:
    """Continuous discount rates for costs and for outcomes (QALYs, life-years)."""

    costs: float
    outcomes: float


@dataclass(frozen=True)
class PatientOutcomes:
    """Per-patient results of one strategy: named columns of equal length."""

    strategy: str
    columns: Mapping[str, np.ndarray]
    event_names: tuple[str, ...]
    cause_names: tuple[str, ...]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @property
    def n(self) -> int:
        return len(self.columns["qaly"])


def _group_index(group_of_patient: Sequence[str], groups: Sequence[str]) -> np.ndarray:
    lookup = {g: i for i, g in enumerate(groups)}
    return np.fromiter((lookup[g] for g in group_of_patient), dtype=np.int64,
                       count=len(group_of_patient))


def _remission_states(log: EventLog, pathways: Mapping[str, Pathway],
                      groups: Sequence[str]) -> np.ndarray:
    """Mask over the log's states: remission in the pathway of any group."""
    remission = np.zeros(len(log.state_names), dtype=bool)
    for group in groups:
        for s, state in enumerate(log.state_names):
            pw_state = pathways[group].states.get(state)
            remission[s] |= bool(pw_state is not None and pw_state.remission)
    return remission


def _event_costs(log: EventLog, valuations: Mapping[str, Valuation], groups: Sequence[str],
                 cost_factor: float) -> np.ndarray:
    """Cost per (group, event of the log, healthcare category), converted by ``cost_factor``."""
    event_cost = np.zeros((len(groups), len(log.event_names), len(COST_CATEGORIES)))
    for g, group in enumerate(groups):
        costs = valuations[group].event_costs
        for e, label in enumerate(log.event_names):
            for c, cat in enumerate(COST_CATEGORIES):
                event_cost[g, e, c] = costs.get(label, {}).get(cat, 0.0) * cost_factor
    return event_cost


def value_log(
    log: EventLog,
    pathways: Mapping[str, Pathway],
    valuations: Mapping[str, Valuation],
    group_of_patient: Sequence[str],
    rates: Rates,
    cost_factor: float = 1.0,
    *,
    age: np.ndarray | None = None,
    female: np.ndarray | None = None,
    event_times: bool = False,
) -> PatientOutcomes:
    """Value every patient of ``log``; ``cost_factor`` converts currency/price year.

    ``age`` and ``female`` (entry age and sex of the log's patients, numbered
    from 0) are needed only when a valuation adjusts utilities for age (or is
    societal); ``event_times`` adds the first-event times payment models read.
    """
    groups = list(valuations)
    gi = _group_index(group_of_patient, groups)
    n = log.n_patients
    n_states, n_events, n_cat = len(log.state_names), len(log.event_names), len(COST_CATEGORIES)
    state_cost = np.zeros((len(groups), n_states, n_cat))
    utility = np.zeros((len(groups), n_states))
    event_loss = np.zeros((len(groups), n_events))
    for g, group in enumerate(groups):
        val = valuations[group]
        for s, state in enumerate(log.state_names):
            utility[g, s] = val.state_utility.get(state, 0.0)
            for c, cat in enumerate(COST_CATEGORIES):
                state_cost[g, s, c] = val.state_costs.get(state, {}).get(cat, 0.0) * cost_factor
        for e, label in enumerate(log.event_names):
            event_loss[g, e] = val.event_qaly_loss.get(label, 0.0)
    remission = _remission_states(log, pathways, groups)
    event_cost = _event_costs(log, valuations, groups, cost_factor)

    cols: dict[str, np.ndarray] = {}

    def total(patients: np.ndarray, weights: np.ndarray) -> np.ndarray:
        # float even when there are no rows (bincount of nothing is int64)
        return np.bincount(patients, weights=weights, minlength=n)[:n].astype(np.float64)

    # Sojourns: rates times (discounted) durations.
    sp = log.sojourn_patient
    sg, ss = gi[sp] if sp.size else sp, log.sojourn_state
    dur = log.sojourn_end - log.sojourn_start
    dur_c = discounted_duration(log.sojourn_start, log.sojourn_end, rates.costs)
    dur_o = discounted_duration(log.sojourn_start, log.sojourn_end, rates.outcomes)
    cols["ly"] = total(sp, dur_o)
    cols["ly_undisc"] = total(sp, dur)
    soj_qaly, soj_qaly_undisc = utility[sg, ss] * dur_o, utility[sg, ss] * dur
    for g, group in enumerate(groups):
        norm = valuations[group].utility_age_norm
        if norm is None or not sp.size:
            continue
        if age is None or female is None:
            msg = (f"valuation of group '{group}' adjusts utilities for age: pass each "
                   "patient's age and sex to value_log")
            raise ValueError(msg)
        rows = np.flatnonzero(sg == g)
        p = sp[rows]
        soj_qaly[rows], soj_qaly_undisc[rows] = adjusted_sojourns(
            norm, np.asarray(age, dtype=float)[p], np.asarray(female, dtype=bool)[p],
            log.sojourn_start[rows], log.sojourn_end[rows], utility[g, ss[rows]], rates.outcomes)
    cols["qaly"] = total(sp, soj_qaly)
    cols["qaly_undisc"] = total(sp, soj_qaly_undisc)
    cols["remission_years"] = total(sp, np.where(remission[ss], dur, 0.0))
    cols["remission_years_disc"] = total(sp, np.where(remission[ss], dur_o, 0.0))

    ep, ec, et = log.event_patient, log.event_code, log.event_time
    eg = gi[ep] if ep.size else ep
    df_c, df_o = discount_factor(et, rates.costs), discount_factor(et, rates.outcomes)
    rs, re, rn = log.recurring_sojourn, log.recurring_event, log.recurring_count.astype(float)
    rp = sp[rs] if rs.size else rs
    rg = gi[rp] if rp.size else rp
    rdf_c = mean_discount_factor(log.sojourn_start[rs], log.sojourn_end[rs], rates.costs)
    rdf_o = mean_discount_factor(log.sojourn_start[rs], log.sojourn_end[rs], rates.outcomes)

    loss_event, loss_rec = event_loss[eg, ec], rn * event_loss[rg, re]
    cols["qaly"] = cols["qaly"] - total(ep, loss_event * df_o) - total(rp, loss_rec * rdf_o)
    cols["qaly_undisc"] = cols["qaly_undisc"] - total(ep, loss_event) - total(rp, loss_rec)

    cost_total = np.zeros(n)
    cost_total_undisc = np.zeros(n)
    for c, cat in enumerate(COST_CATEGORIES):
        disc, undisc = np.zeros(n), np.zeros(n)
        # Most categories accrue only by state or only by event; adding the
        # skipped all-zero totals would change nothing (x + 0.0 == x).
        if state_cost[..., c].any():
            rate = state_cost[sg, ss, c]
            disc, undisc = disc + total(sp, rate * dur_c), undisc + total(sp, rate * dur)
        if event_cost[:, :, c].any():
            one_off, rec = event_cost[eg, ec, c], rn * event_cost[rg, re, c]
            disc = disc + total(ep, one_off * df_c) + total(rp, rec * rdf_c)
            undisc = undisc + total(ep, one_off) + total(rp, rec)
        cols[f"cost_{cat}"] = disc
        cols[f"cost_{cat}_undisc"] = undisc
        cost_total = cost_total + disc
        cost_total_undisc = cost_total_undisc + undisc
    cols["cost"] = cost_total
    cols["cost_undisc"] = cost_total_undisc

    for e, label in enumerate(log.event_names):
        count = np.bincount(ep[ec == e], minlength=n)[:n]
        recurring = np.bincount(rp[re == e], weights=rn[re == e], minlength=n)[:n]
        count = count + recurring.astype(np.int64)
        cols[f"n_{label}"] = count.astype(np.int64)
    cols["end_time"] = log.end_time.copy()
    cols["died"] = (log.cause != ALIVE).astype(np.int64)
    cols["cause"] = log.cause.copy()
    valued = PatientOutcomes(
        strategy=log.strategy, columns=cols, event_names=log.event_names,
        cause_names=log.cause_names,
    )
    return with_log_columns(valued, log, pathways, valuations, group_of_patient, rates,
                            cost_factor, age=age, event_times=event_times)


def needs_log_columns(valuations: Mapping[str, Valuation], event_times: bool) -> bool:
    """Whether :func:`with_log_columns` adds anything: the compiled engine sums the
    rest as it simulates, and keeps a log only for these."""
    return event_times or any(v.societal is not None for v in valuations.values())


def with_log_columns(valued: PatientOutcomes, log: EventLog, pathways: Mapping[str, Pathway],
                     valuations: Mapping[str, Valuation], group_of_patient: Sequence[str],
                     rates: Rates, cost_factor: float = 1.0, *, age: np.ndarray | None = None,
                     event_times: bool = False) -> PatientOutcomes:
    """``valued`` with the columns read from the log itself: societal costs (added to
    the totals after the healthcare categories) and, if ``event_times``, the times of
    first events (payment models). One function for both engines, so they agree."""
    if not needs_log_columns(valuations, event_times):
        return valued
    groups = list(valuations)
    gi = _group_index(group_of_patient, groups)
    remission = _remission_states(log, pathways, groups)
    societal = societal_costs(log, valuations, gi, remission, age, rates.costs, cost_factor)
    extra_costs: dict[str, np.ndarray] = {}
    cost, cost_undisc = valued.columns["cost"], valued.columns["cost_undisc"]
    for cat in SOCIETAL_CATEGORIES if societal else ():
        extra_costs[f"cost_{cat}"] = societal[f"cost_{cat}"]
        extra_costs[f"cost_{cat}_undisc"] = societal[f"cost_{cat}_undisc"]
        cost = cost + societal[f"cost_{cat}"]
        cost_undisc = cost_undisc + societal[f"cost_{cat}_undisc"]
    times: dict[str, np.ndarray] = {}
    if event_times:
        ep = log.event_patient
        times = first_times(log, _event_costs(log, valuations, groups, cost_factor),
                            gi[ep] if ep.size else ep)
    # The columns in value_log's order: healthcare categories, societal ones, the
    # totals, counts, first-event times, then end time and cause.
    cols: dict[str, np.ndarray] = {}
    for name, values in valued.columns.items():
        if name == "cost":
            cols.update(extra_costs)
            cols["cost"], cols["cost_undisc"] = cost, cost_undisc
        elif name == "end_time":
            cols.update(times)
            cols["end_time"] = values
        elif name != "cost_undisc":
            cols[name] = values
    return replace(valued, columns=cols)


TIMED = {"t_product": "product", "t_retreatment": "retreatment_product"}
"""Per-patient time of the first charge of these cost categories (payment models)."""
RELAPSE_EVENT = "relapse"


def first_times(log: EventLog, event_cost: np.ndarray, eg: np.ndarray) -> dict[str, np.ndarray]:
    """Each patient's time of the first product charge (``t_product``), first
    re-treatment product charge (``t_retreatment``) and first relapse (``t_relapse``);
    0 if none: whether it happened is in the amounts (``cost_product_undisc`` > 0, ...)
    and counts (``n_relapse``), so every per-patient column stays finite and >= 0.
    Payment models (refunds, warranties) are valued from them."""
    n, ep, et, ec = log.n_patients, log.event_patient, log.event_time, log.event_code
    out = {}
    masks = {name: event_cost[eg, ec, COST_CATEGORIES.index(cat)] > 0.0 if ep.size
             else np.zeros(0, dtype=bool) for name, cat in TIMED.items()}
    relapse = log.event_names.index(RELAPSE_EVENT) if RELAPSE_EVENT in log.event_names else -1
    masks["t_relapse"] = ec == relapse
    for name, mask in masks.items():
        first = np.full(n, np.inf)
        np.minimum.at(first, ep[mask], et[mask])
        out[name] = np.where(np.isfinite(first), first, 0.0)
    return out


class OutcomesBuilder:
    """Per-patient outcomes of one strategy, filled chunk by chunk into arrays
    allocated once (joining chunk copies at the end would double the memory).

    A column that is zero in every chunk (a cost category or an event the strategy
    never has) is kept as a read-only broadcast zero, which takes no memory.
    Cause-of-death codes are renumbered at :meth:`build` to the sorted union of
    the chunks' cause names, as a single log would have numbered them.
    """

    def __init__(self, n_patients: int) -> None:
        self.n = n_patients
        self.columns: dict[str, np.ndarray | None] = {}
        self.dtypes: dict[str, np.dtype] = {}
        self.chunks: list[tuple[int, int, tuple[str, ...]]] = []
        self.first: PatientOutcomes | None = None

    def add(self, start: int, part: PatientOutcomes) -> None:
        if self.first is None:
            self.first = part
            if part.n == self.n:  # one chunk is the whole cohort: nothing to join
                self.chunks.append((start, part.n, part.cause_names))
                return
            self.columns = dict.fromkeys(part.columns)
            self.dtypes = {name: col.dtype for name, col in part.columns.items()}
        stop = start + part.n
        for name, col in part.columns.items():
            target = self.columns[name]
            if target is None:
                if name != "cause" and not col.any():
                    continue  # still zero everywhere
                target = self.columns[name] = np.zeros(self.n, dtype=self.dtypes[name])
            target[start:stop] = col
        self.chunks.append((start, stop, part.cause_names))

    def build(self) -> PatientOutcomes:
        if self.first is None:
            raise ValueError("no chunk was added")
        if len(self.chunks) == 1:
            return self.first
        columns = {name: col if col is not None
                   else np.broadcast_to(np.zeros(1, dtype=self.dtypes[name]), (self.n,))
                   for name, col in self.columns.items()}
        causes = tuple(sorted({c for *_, names in self.chunks for c in names}))
        code = columns["cause"]
        for start, stop, names in self.chunks:
            table = np.array([causes.index(c) for c in names] or [0], dtype=np.int64)
            part = code[start:stop]
            code[start:stop] = np.where(part == ALIVE, ALIVE, table[np.maximum(part, 0)])
        return PatientOutcomes(strategy=self.first.strategy, columns=columns,
                               event_names=self.first.event_names, cause_names=causes)
