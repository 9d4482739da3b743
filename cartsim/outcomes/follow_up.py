"""What a patient's event log shows within a follow-up window after infusion: the
per-patient measures a case series reports (response, relapses, CRS and ICANS by
grade, infection admissions, deaths, drug-free remission at the last visit, time
to B-cell return), for comparing simulated series with observed ones.

Serious infections are counted per stay (recurring events); in the stay the
follow-up cut falls in, the count is thinned binomially to the share of the
stay inside follow-up, with one uniform per patient from its own stream.
"""

from __future__ import annotations

import numpy as np

from cartsim.engine.events import ALIVE, EventLog
from cartsim.rng import Streams

DRUG_FREE_STATES = ("aplasia", "aplasia_ivig", "remission", "remission_2")
EVENT_SETS = {
    "crs": ("crs_grade_1", "crs_grade_2", "crs_grade_3"),
    "crs_2plus": ("crs_grade_2", "crs_grade_3"),
    "crs_3plus": ("crs_grade_3",),
    "icans": ("icans_grade_1_2", "icans_grade_3_4"),
    "icans_3plus": ("icans_grade_3_4",),
    "malignancies": ("cancer", "second_cancer", "t_cell_malignancy"),
}

def first_event_time(log: EventLog, label: str, n: int) -> np.ndarray:
    """Each patient's first time of event ``label`` (inf if it never happened)."""
    t = np.full(n, np.inf)
    if label in log.event_names:
        hit = log.event_code == log.event_code_of(label)
        np.minimum.at(t, log.event_patient[hit], log.event_time[hit])
    return t


def patient_measures(log: EventLog, chosen: np.ndarray, follow_up: np.ndarray,
                     streams: Streams) -> dict[str, np.ndarray]:
    """Per-patient quantities of the chosen patients (flat), cut at infusion + follow-up."""
    n = log.n_patients
    who = chosen.ravel()
    pos = np.full(n, -1)
    pos[who] = np.arange(who.size)
    t0 = first_event_time(log, "infusion", n)[who]
    stop = t0 + follow_up.ravel()

    def events(labels: tuple[str, ...], window: bool = True) -> np.ndarray:
        codes = [log.event_code_of(x) for x in labels if x in log.event_names]
        p = pos[log.event_patient]
        keep = (p >= 0) & np.isin(log.event_code, codes)
        if window:
            keep &= (log.event_time >= t0[p]) & (log.event_time <= stop[p])
        return np.bincount(p[keep], minlength=who.size)

    def drug_free_at(when: np.ndarray) -> np.ndarray:
        codes = [log.state_code(s) for s in DRUG_FREE_STATES if s in log.state_names]
        p = pos[log.sojourn_patient]
        at = (p >= 0) & (log.sojourn_start <= when[p]) & (when[p] < log.sojourn_end)
        at &= np.isin(log.sojourn_state, codes)
        return np.bincount(p[at], minlength=who.size)

    cause = np.array([*log.cause_names, ""])[np.where(log.cause[who] == ALIVE, -1,
                                                       log.cause[who])]
    died = (cause != "") & (log.end_time[who] <= stop)
    out = {name: (events(labels) > 0).astype(float) for name, labels in EVENT_SETS.items()}
    out.update({
        "responded": (events(("response",), window=False) > 0).astype(float),
        "relapses": events(("relapse",)).astype(float),
        "drug_free_at_end": drug_free_at(stop).astype(float),
        "drug_free_6_months": drug_free_at(t0 + np.minimum(0.5, follow_up.ravel())).astype(float),
        "deaths": died.astype(float),
        "treatment_deaths": (died & (cause == "treatment_related_death")).astype(float),
        "infections": (events(("serious_infection",))
                       + _recurring_infections(log, pos, t0, stop, streams)).astype(float),
        "b_cell_days": (first_event_time(log, "b_cell_recovery", n)[who] - t0) * 365.25,
    })
    return out


def _recurring_infections(log: EventLog, pos: np.ndarray, t0: np.ndarray, stop: np.ndarray,
                          streams: Streams) -> np.ndarray:
    """Serious infections counted per stay, thinned to the part of the stay in follow-up."""
    out = np.zeros(t0.size)
    if "serious_infection" not in log.event_names or log.recurring_count.size == 0:
        return out
    rows = log.recurring_event == log.event_code_of("serious_infection")
    soj = log.recurring_sojourn[rows]
    p = pos[log.sojourn_patient[soj]]
    keep = p >= 0
    soj, p, count = soj[keep], p[keep], log.recurring_count[rows][keep]
    start, end = log.sojourn_start[soj], log.sojourn_end[soj]
    inside = np.clip(np.minimum(end, stop[p]) - np.maximum(start, t0[p]), 0.0, None)
    share = np.divide(inside, end - start, out=np.zeros(inside.size), where=end > start)
    # Only the stay the cut falls in is partial, so one uniform per patient suffices.
    u = streams.column("validation.infection_thinning", 0, 0, t0.size)[p]
    from scipy import stats  # slow to import; only validation needs it

    kept = np.where(share >= 1.0, count, stats.binom.ppf(u, count, np.clip(share, 0.0, 1.0)))
    np.add.at(out, p, np.maximum(kept, 0.0))
    return out
