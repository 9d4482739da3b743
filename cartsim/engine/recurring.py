"""Counts of recurring in-state events (flares, serious infections).

Recurring events do not change the state, so they need no scheduler: given a
sojourn of length L in a state where an event recurs at rate λ per year, the
number of events is Poisson(λL), drawn by inverse CDF from the patient's next
uniform for that event's purpose. Given the count, the event times are
uniform on the sojourn, which is what the outcomes layer uses to discount them
(their expected discount factor is the sojourn's mean discount factor).

Both engines produce the same sojourns, so sharing this pass keeps them equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

from cartsim.engine.events import EventLog
from cartsim.pathway.model import Pathway
from cartsim.rng import Streams, purpose_width

SMALL_MEAN = 50.0


def poisson_from_uniform(u: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Inverse-CDF Poisson draws; ``u`` in (0, 1]. Non-decreasing in ``mean``.

    The count is the smallest k with CDF(k) > 1 - u. Small means walk the CDF
    in vectorised steps (much faster than scipy's general quantile); large means
    use ``scipy.stats.poisson.ppf``.
    """
    q = 1.0 - np.asarray(u, dtype=float)
    mean = np.asarray(mean, dtype=float)
    counts = np.zeros(q.shape, dtype=np.int64)
    small = (mean > 0) & (mean <= SMALL_MEAN)
    if small.any():
        qs, ms = q[small], mean[small]
        term = np.exp(-ms)
        cdf = term.copy()
        k = np.zeros(qs.shape, dtype=np.int64)
        active = cdf <= qs
        step = 0
        while active.any():
            step += 1
            term = np.where(active, term * ms / step, term)
            cdf = np.where(active, cdf + term, cdf)
            k = np.where(active, step, k)
            # Rounding can leave the CDF a hair below 1; stop where it no longer grows.
            active = active & (cdf <= qs) & (term > 0)
        counts[small] = k
    large = mean > SMALL_MEAN
    if large.any():
        counts[large] = np.maximum(stats.poisson.ppf(q[large], mean[large]), 0).astype(np.int64)
    return counts


def count_recurring(
    log: EventLog,
    pathways: Mapping[str, Pathway],
    group_of_patient: Sequence[str],
    streams: Streams,
    first_patient: int,
) -> None:
    """Fill ``log.recurring_*`` for the patients ``first_patient ..`` of the log."""
    if len(log.sojourn_patient) == 0:
        return
    groups = np.array([group_of_patient[p] for p in log.sojourn_patient])
    durations = log.sojourn_end - log.sojourn_start
    rec_soj: list[np.ndarray] = []
    rec_ev: list[np.ndarray] = []
    rec_n: list[np.ndarray] = []
    labels = [e for e in log.event_names if _is_recurring(e, pathways)]
    for label in labels:
        rate = np.zeros(len(durations))
        for group, pathway in pathways.items():
            for state in pathway.states.values():
                for rec in state.recurring:
                    if rec.event == label and rec.rate > 0:
                        mask = (groups == group) & (log.sojourn_state == log.state_code(state.name))
                        rate[mask] = rec.rate
        idx = np.flatnonzero(rate > 0)
        if idx.size == 0:
            continue
        patients = log.sojourn_patient[idx]
        # k-th sojourn of this patient in which the event can happen -> column k.
        first_of_patient = np.r_[True, patients[1:] != patients[:-1]]
        starts = np.maximum.accumulate(np.where(first_of_patient, np.arange(idx.size), 0))
        column = np.arange(idx.size) - starts
        block = streams.block(label, first_patient, first_patient + log.n_patients)
        width = purpose_width(label)
        u = np.empty(idx.size)
        inside = column < width
        u[inside] = block[patients[inside] - first_patient, column[inside]]
        for j in np.flatnonzero(~inside):
            u[j] = streams.overflow(label, int(patients[j]), int(column[j]))
        counts = poisson_from_uniform(u, rate[idx] * durations[idx])
        rec_soj.append(idx)
        rec_ev.append(np.full(idx.size, log.event_code_of(label)))
        rec_n.append(counts)
    if rec_soj:
        log.recurring_sojourn = np.concatenate(rec_soj).astype(np.int64)
        log.recurring_event = np.concatenate(rec_ev).astype(np.int64)
        log.recurring_count = np.concatenate(rec_n).astype(np.int64)


def _is_recurring(label: str, pathways: Mapping[str, Pathway]) -> bool:
    return any(
        rec.event == label
        for pw in pathways.values()
        for state in pw.states.values()
        for rec in state.recurring
    )
