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

import math
from collections.abc import Mapping, Sequence

import numpy as np

from cartsim.engine.events import EventLog
from cartsim.pathway.model import Pathway
from cartsim.rng import Streams

SMALL_MEAN = 700.0
"""Up to this mean, counts walk the Poisson CDF up from 0 (e^{-mean} is still a
normal float); beyond it, from the mode (rare: rate x duration over 700)."""


def poisson_from_uniform(u: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Inverse-CDF Poisson draws; ``u`` in (0, 1]. Non-decreasing in ``mean``.

    The count is the smallest k with CDF(k) > 1 - u. Small means walk the CDF
    in vectorised steps; larger means (over 700) use ``poisson_large``.
    """
    q = 1.0 - np.asarray(u, dtype=float)
    mean = np.asarray(mean, dtype=float)
    counts = np.zeros(q.shape, dtype=np.int64)
    small = np.flatnonzero((mean > 0) & (mean <= SMALL_MEAN))
    if small.size:
        # Walk the CDF term by term. Finished draws stay in the arrays (their
        # extra terms are ignored) until half are finished, so the arrays are
        # compacted a few times rather than at every step; each draw still sees
        # exactly the same floating-point operations.
        idx = small
        qs, ms = q[idx], mean[idx]
        term = np.exp(-ms)
        cdf = term.copy()
        going = cdf <= qs
        idx, qs, ms, term, cdf = idx[going], qs[going], ms[going], term[going], cdf[going]
        going = np.ones(idx.size, dtype=bool)
        found = np.zeros(idx.size, dtype=np.int64)
        step = 0
        while idx.size:
            step += 1
            term = term * ms / step
            cdf = cdf + term
            found[going] = step
            # Rounding can leave the CDF a hair below 1; stop where it no longer grows.
            going &= (cdf <= qs) & (term > 0)
            active = np.count_nonzero(going)
            if 2 * active < idx.size:
                counts[idx] = found
                idx, qs, ms, term, cdf = (idx[going], qs[going], ms[going], term[going],
                                          cdf[going])
                found, going = found[going], np.ones(active, dtype=bool)
    for i in np.flatnonzero(mean > SMALL_MEAN).tolist():  # rare: a loop will do
        counts[i] = poisson_large(float(q[i]), float(mean[i]))
    return counts


def poisson_large(q: float, mean: float) -> int:
    """Smallest k with Poisson(mean) CDF(k) > q, for a large mean: the mode's
    probability in log space, the CDF there summed downwards until its terms no
    longer count, then a walk down or up to the quantile (the compiled kernel
    does the same arithmetic)."""
    # log p(k) at the mode k = floor(mean) = mean - f, without the cancellation of
    # -mean + k log(mean) - lgamma(k + 1): k log1p(f/k) - f - log(2 pi k)/2 minus
    # Stirling's series of log k! (k >= 700: three terms are exact to double)
    k = float(math.floor(mean))
    f = mean - k
    pk = math.exp(k * math.log1p(f / k) - f - 0.5 * math.log(2.0 * math.pi * k)
                  - (1.0 / (12.0 * k) - 1.0 / (360.0 * k**3) + 1.0 / (1260.0 * k**5)))
    cdf, term, j = pk, pk, k
    while j > 0.0:
        term = term * j / mean
        j -= 1.0
        cdf = cdf + term
        if term < cdf * 1e-17:
            break
    p = pk
    if cdf > q:
        while k > 0.0:
            below = cdf - p
            if below <= q:
                return int(k)
            p = p * k / mean
            cdf = below
            k -= 1.0
        return 0
    while True:  # until the quantile, or until rounding stops the CDF growing
        k += 1.0
        p = p * mean / k
        grown = cdf + p
        if grown > q or grown == cdf:
            return int(k)
        cdf = grown


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
    group_names = sorted(set(group_of_patient) | set(pathways))
    code = {g: i for i, g in enumerate(group_names)}
    chunk = group_of_patient[first_patient:first_patient + log.n_patients]
    patient_group = np.fromiter((code[g] for g in chunk), dtype=np.int64, count=len(chunk))
    groups = patient_group[log.sojourn_patient - first_patient]
    durations = log.sojourn_end - log.sojourn_start
    rec_soj: list[np.ndarray] = []
    rec_ev: list[np.ndarray] = []
    rec_n: list[np.ndarray] = []
    labels = [e for e in log.event_names if _is_recurring(e, pathways)]
    for label in labels:
        # rate[group, state] of this event, then one gather for every sojourn.
        table = np.zeros((len(group_names), len(log.state_names)))
        for group, pathway in pathways.items():
            for state in pathway.states.values():
                for rec in state.recurring:
                    if rec.event == label and rec.rate > 0:
                        table[code[group], log.state_code(state.name)] = rec.rate
        rate = table[groups, log.sojourn_state]
        idx = np.flatnonzero(rate > 0)
        if idx.size == 0:
            continue
        patients = log.sojourn_patient[idx]
        # k-th sojourn of this patient in which the event can happen -> column k.
        first_of_patient = np.r_[True, patients[1:] != patients[:-1]]
        starts = np.maximum.accumulate(np.where(first_of_patient, np.arange(idx.size), 0))
        column = np.arange(idx.size) - starts
        u = np.empty(idx.size)
        # Uses are few (a patient's stays in states where the event recurs), so
        # one pass per use beats sorting all rows by use.
        for use in range(int(column.max()) + 1):
            at = np.flatnonzero(column == use)
            u[at] = streams.column(label, use, first_patient, first_patient
                                   + log.n_patients)[patients[at] - first_patient]
        counts = poisson_from_uniform(u, rate[idx] * durations[idx])
        rec_soj.append(idx)
        rec_ev.append(np.full(idx.size, log.event_code_of(label)))
        rec_n.append(counts)
    if rec_soj:
        soj = np.concatenate(rec_soj).astype(np.int64)
        ev = np.concatenate(rec_ev).astype(np.int64)
        # Canonical row order (by sojourn, then event) whatever the chunking, so
        # totals are summed in the same order by every engine and worker count.
        order = np.lexsort((ev, soj))
        log.recurring_sojourn = soj[order]
        log.recurring_event = ev[order]
        log.recurring_count = np.concatenate(rec_n).astype(np.int64)[order]


def _is_recurring(label: str, pathways: Mapping[str, Pathway]) -> bool:
    return any(
        rec.event == label
        for pw in pathways.values()
        for state in pw.states.values()
        for rec in state.recurring
    )
