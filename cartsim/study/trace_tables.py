"""Per-patient tables of a run (``--trace``): patients and every sojourn and event.

``patients.csv`` has one row per patient and strategy; ``trace.csv`` one row per
sojourn, event and recurring-event count with the amounts it accrued, so that
anyone can recompute every total by hand. They read the run's event logs, so only
a run that kept them (``--trace``) has them.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from cartsim.engine.events import ALIVE, EventLog
from cartsim.outcomes.age_norm import adjusted_sojourns
from cartsim.outcomes.discounting import (
    discount_factor,
    discounted_duration,
    mean_discount_factor,
)
from cartsim.study.result import RunResult
from cartsim.table import BlockTable, ColumnTable
from cartsim.vocabulary import DEAD, cost_categories

TRACE_COLUMNS = ("patient_id", "strategy", "row", "kind", "time", "end", "state_from",
                 "state_to", "event", "count", "cost_rate", "utility", "unit_cost",
                 "unit_qaly_loss", "cost", "cost_undisc", "qaly", "qaly_undisc", "ly",
                 "ly_undisc")
TRACE_NOTES = ("kind=sojourn: a stay in state_from over [time, end]; kind=event: a one-off "
               "event at time (state_to 'dead' for deaths); kind=recurring: count events "
               "during the sojourn [time, end], discounted at the sojourn's mean discount "
               "factor; kind=censored: alive at the horizon.",)
KINDS = np.array(["sojourn", "recurring", "event", "censored"], dtype=object)
LAST = 1 << 40
"""The sequence number of a censoring row: after every other row of its patient."""


def patients_table(result: RunResult) -> ColumnTable:
    """One row per patient and strategy: the per-patient outcome columns, by column."""
    first = next(iter(result.outcomes.values()))
    cats = cost_categories(first.columns)
    value_cols = ["cost", "cost_undisc", *[f"cost_{c}" for c in cats],
                  *[f"cost_{c}_undisc" for c in cats], "qaly", "qaly_undisc", "ly",
                  "ly_undisc", "remission_years", "remission_years_disc", "end_time", "died"]
    labels = sorted({e for o in result.outcomes.values() for e in o.event_names} - {"start"})
    columns = ("patient_id", "strategy", "group", "age", "sex", *value_cols, "cause",
               *[f"n_{e}" for e in labels])
    cohort, n = result.cohort, first.n
    parts: dict[str, list[np.ndarray]] = {c: [] for c in columns}
    for s, o in result.outcomes.items():
        cols = o.columns
        causes = np.array(["alive", *o.cause_names], dtype=object)
        code = np.asarray(cols["cause"][:n], dtype=np.int64)
        found = {"patient_id": np.array(cohort.patient_id[:n], dtype=object),
                 "strategy": np.full(n, s, dtype=object),
                 "group": np.array(cohort.group[:n], dtype=object),
                 "age": np.asarray(cohort.age[:n], dtype=float),
                 "sex": np.where(np.asarray(cohort.female[:n]), "female", "male").astype(object),
                 "cause": causes[np.where(code == ALIVE, 0, code + 1)]}
        found |= {k: np.asarray(cols[k][:n], dtype=np.int64 if k == "died" else float)
                  for k in value_cols}
        found |= {f"n_{e}": np.asarray(cols[f"n_{e}"][:n], dtype=np.int64)
                  if f"n_{e}" in cols else np.zeros(n, dtype=np.int64) for e in labels}
        for c in columns:
            parts[c].append(found[c])
    data = {c: np.concatenate(v) if v else np.zeros(0) for c, v in parts.items()}
    return ColumnTable("patients", "Per-patient results", columns, (), markdown=False,
                       data=data)


def _group_tables(result: RunResult, s: str, log: EventLog) -> tuple[np.ndarray, ...]:
    """Per patient group (rows) and state or event (columns): the state's cost rate and
    utility, the event's unit cost and QALY loss; and each patient's group index."""
    vals = result.models[s].valuations
    factor = result.scenario.run.cost_factor
    groups = sorted(vals)
    index = {g: i for i, g in enumerate(groups)}
    of_patient = np.array([index[g] for g in result.cohort.group[:log.n_patients]],
                          dtype=np.int64)
    rate = np.array([[sum(vals[g].state_costs.get(x, {}).values()) * factor
                      for x in log.state_names] for g in groups]).reshape(len(groups), -1)
    util = np.array([[vals[g].state_utility.get(x, 0.0) for x in log.state_names]
                     for g in groups]).reshape(len(groups), -1)
    cost = np.array([[sum(vals[g].event_costs.get(e, {}).values()) * factor
                      for e in log.event_names] for g in groups]).reshape(len(groups), -1)
    loss = np.array([[vals[g].event_qaly_loss.get(e, 0.0) for e in log.event_names]
                     for g in groups]).reshape(len(groups), -1)
    return of_patient, rate, util, cost, loss


TRACE_BLOCK_ROWS = 8_192
"""Rows of trace.csv built at a time (whole patients, so a block may hold a few more):
bounds the memory of --trace whatever the number of patients."""


def trace_table(result: RunResult, block_rows: int = TRACE_BLOCK_ROWS) -> BlockTable:
    """Sojourns, events and recurring-event counts with the amounts each accrued: built
    when written, strategy after strategy and block of patients after block (about
    ``block_rows`` rows each), so only one block is ever held; the rows and their order
    do not depend on ``block_rows``."""
    indexes = {s: _LogIndex(log) for s, log in result.logs.items()}
    patient_ids = np.array(result.cohort.patient_id, dtype=object)

    def blocks() -> Iterator[ColumnTable]:
        for s, log in result.logs.items():
            tabs = _group_tables(result, s, log)
            for rows in indexes[s].blocks(block_rows):
                data = _block_trace(result, s, log, tabs, rows, patient_ids)
                yield ColumnTable("trace", "Per-patient event trace", TRACE_COLUMNS, (),
                                  markdown=False, data=data)

    return BlockTable("trace", "Per-patient event trace", TRACE_COLUMNS, (), TRACE_NOTES,
                      markdown=False, size=sum(i.size for i in indexes.values()),
                      blocks=blocks)


class _LogIndex:
    """Where each patient's rows of one event log are: its sojourns, recurring counts and
    events grouped by patient (in the log's order within a patient), and whether it is
    censored; so that the trace can be built for a block of patients at a time."""

    def __init__(self, log: EventLog) -> None:
        n = log.n_patients
        sp = np.asarray(log.sojourn_patient, dtype=np.int64)
        rp = sp[np.asarray(log.recurring_sojourn, dtype=np.int64)]
        ep = np.asarray(log.event_patient, dtype=np.int64)
        self.censored = np.asarray(log.cause) == ALIVE
        self.orders, self.bounds = [], []
        for patient in (sp, rp, ep):
            order = np.argsort(patient, kind="stable")  # stable: the log's order kept
            self.orders.append(order)
            self.bounds.append(np.searchsorted(patient[order], np.arange(n + 1)))
        per_patient = sum(np.diff(b) for b in self.bounds) + self.censored
        self.ends = np.cumsum(per_patient)  # rows up to and including each patient
        self.size = int(self.ends[-1]) if n else 0

    def blocks(self, block_rows: int) -> Iterator[tuple[np.ndarray, ...]]:
        """Per block of whole patients with about ``block_rows`` rows: the indices of its
        sojourns, recurring counts and events in the log, and its censored patients."""
        n = self.ends.size
        cuts = np.searchsorted(self.ends, np.arange(block_rows, self.size, block_rows))
        edges = np.unique(np.r_[0, cuts + 1, n].clip(0, n))
        for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
            picked = tuple(order[b[lo]:b[hi]]
                           for order, b in zip(self.orders, self.bounds, strict=True))
            yield (*picked, lo + np.flatnonzero(self.censored[lo:hi]))


def _block_trace(result: RunResult, s: str, log: EventLog,
                 tabs: tuple[np.ndarray, ...], rows: tuple[np.ndarray, ...],
                 patient_ids: np.ndarray) -> dict[str, np.ndarray]:
    """The trace columns of one strategy's block of patients (``rows``: see
    :meth:`_LogIndex.blocks`), rows in each patient's order (the engine's sequence
    numbers; a recurring-count row after its sojourn; censoring last)."""
    rc, ro = result.rates.costs, result.rates.outcomes
    of_patient, rate_tab, util_tab, cost_tab, loss_tab = tabs
    groups = sorted(result.models[s].valuations)
    s_rows, r_rows, e_rows, cp = rows
    # Only the block's rows are read (and converted): never a copy of a whole log.
    k = _take(log.recurring_sojourn, r_rows, np.int64)  # the recurring counts' sojourns
    sp, st, sseq = (_take(x, s_rows, np.int64)
                    for x in (log.sojourn_patient, log.sojourn_state, log.sojourn_seq))
    rp, rst, rseq = (_take(x, k, np.int64)
                     for x in (log.sojourn_patient, log.sojourn_state, log.sojourn_seq))
    a, b = _take(log.sojourn_start, s_rows, float), _take(log.sojourn_end, s_rows, float)
    g = of_patient[sp]
    rate, u = rate_tab[g, st], util_tab[g, st]
    dc, do = discounted_duration(a, b, rc), discounted_duration(a, b, ro)
    q, q_undisc = u * do, u * (b - a)
    for i, name in enumerate(groups):
        norm = result.models[s].valuations[name].utility_age_norm
        at = np.flatnonzero(g == i)
        if norm is not None and at.size:  # utility steps at birthdays
            age = np.asarray(result.cohort.age, float)[sp[at]]
            female = np.asarray(result.cohort.female, bool)[sp[at]]
            q[at], q_undisc[at] = adjusted_sojourns(norm, age, female, a[at], b[at], u[at], ro)
    # recurring counts, valued at their sojourn's mean discount factor
    re_, n = _take(log.recurring_event, r_rows, np.int64), _take(log.recurring_count, r_rows,
                                                                 np.int64)
    ra, rb = _take(log.sojourn_start, k, float), _take(log.sojourn_end, k, float)
    rcost, rloss = cost_tab[of_patient[rp], re_], loss_tab[of_patient[rp], re_]
    mc, mo = mean_discount_factor(ra, rb, rc), mean_discount_factor(ra, rb, ro)
    # one-off events, with the state before and after each
    ep, ec, eseq = (_take(x, e_rows, np.int64)
                    for x in (log.event_patient, log.event_code, log.event_seq))
    et = _take(log.event_time, e_rows, float)
    ecost, eloss = cost_tab[of_patient[ep], ec], loss_tab[of_patient[ep], ec]
    before, after = _event_states(log, sp, sseq, st, ep, eseq)
    # censored at the horizon
    ct = np.asarray(log.end_time, float)[cp]
    states = np.array([*log.state_names, "", DEAD], dtype=object)
    events = np.array([*log.event_names, "", "censored"], dtype=object)
    none_s, none_r, none_e, none_c = (np.full(x.size, np.nan) for x in (a, ra, et, ct))
    zero_e, zero_c = np.zeros(et.size), np.zeros(ct.size)
    blank_s = np.full(a.size, len(log.event_names))
    blank_c = np.full(ct.size, len(log.event_names) + 1)
    nothing = np.full(ct.size, len(log.state_names))
    parts = {
        "patient": (sp, rp, ep, cp),
        "seq": (2 + sseq, 2 + rseq, 2 + eseq, np.full(cp.size, LAST)),
        "recurring": (np.zeros(a.size, bool), np.ones(k.size, bool), np.zeros(et.size, bool),
                      np.zeros(cp.size, bool)),
        "kind": (np.zeros(a.size, int), np.ones(k.size, int), np.full(et.size, 2),
                 np.full(cp.size, 3)),
        "time": (a, ra, et, ct), "end": (b, rb, et, ct),
        "state_from": (st, rst, before, nothing), "state_to": (st, rst, after, nothing),
        "event": (blank_s, re_, ec, blank_c),
        "count": (none_s, n.astype(float), np.ones(et.size), none_c),
        "cost_rate": (rate, none_r, none_e, none_c), "utility": (u, none_r, none_e, none_c),
        "unit_cost": (none_s, rcost, ecost, none_c),
        "unit_qaly_loss": (none_s, rloss, eloss, none_c),
        "cost": (rate * dc, n * rcost * mc, ecost * discount_factor(et, rc), zero_c),
        "cost_undisc": (rate * (b - a), n * rcost, ecost, zero_c),
        "qaly": (q, -n * rloss * mo, -eloss * discount_factor(et, ro), zero_c),
        "qaly_undisc": (q_undisc, -n * rloss, -eloss, zero_c),
        "ly": (do, np.zeros(k.size), zero_e, zero_c),
        "ly_undisc": (b - a, np.zeros(k.size), zero_e, zero_c),
    }
    cols = {name: np.concatenate(p) for name, p in parts.items()}
    del parts
    # A stable sort by (patient, sequence, recurring after its sojourn): the order above
    # breaks any remaining tie, as the rows were once appended.
    order = np.lexsort((cols["recurring"], cols["seq"], cols["patient"]))
    cols = {name: col[order] for name, col in cols.items()}
    patient = cols["patient"]
    starts = np.flatnonzero(np.r_[True, patient[1:] != patient[:-1]]) if patient.size else \
        np.zeros(0, dtype=np.int64)
    row = np.arange(patient.size) - np.repeat(starts, np.diff(np.r_[starts, patient.size]))
    count = np.ma.masked_invalid(cols["count"])
    return {
        "patient_id": patient_ids[patient],
        "strategy": np.full(patient.size, s, dtype=object), "row": row,
        "kind": KINDS[cols["kind"]], "time": cols["time"], "end": cols["end"],
        "state_from": states[cols["state_from"]], "state_to": states[cols["state_to"]],
        "event": events[cols["event"]],
        "count": np.ma.MaskedArray(np.nan_to_num(count.data).astype(np.int64),
                                   mask=np.ma.getmaskarray(count)),
        **{c: cols[c] for c in TRACE_COLUMNS[10:]}}


def _take(column: np.ndarray, rows: np.ndarray, dtype: type) -> np.ndarray:
    """``column[rows]`` as ``dtype`` (converted after indexing, so only those rows)."""
    return np.asarray(column)[rows].astype(dtype, copy=False)


def _event_states(log: EventLog, sp: np.ndarray, sseq: np.ndarray, sstate: np.ndarray,
                  ep: np.ndarray, eseq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each event (patients ``ep``, sequence numbers ``eseq``): the codes of the
    state before and after it among the sojourns (``sp``, ``sseq``, ``sstate``; all
    those of the events' patients): len(state_names) for none, len(state_names) + 1 for
    "dead" (after a death)."""
    none = len(log.state_names)
    key = (sp << 32) | sseq
    order = np.argsort(key, kind="stable")
    key, state = key[order], sstate[order]
    at = np.searchsorted(key, (ep << 32) | eseq)
    prev = np.clip(at - 1, 0, max(key.size - 1, 0))
    has_before = (at > 0) & (key[prev] >> 32 == ep) if key.size else np.zeros(ep.size, bool)
    nxt = np.clip(at, 0, max(key.size - 1, 0))
    has_after = (at < key.size) & (key[nxt] >> 32 == ep) if key.size else np.zeros(ep.size,
                                                                                    bool)
    before = np.where(has_before, state[prev] if key.size else none, none)
    dead = np.asarray(log.cause)[ep] != ALIVE
    after = np.where(has_after, state[nxt] if key.size else none,
                     np.where(dead, none + 1, none))
    return before, after
