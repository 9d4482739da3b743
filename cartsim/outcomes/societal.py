"""Productivity and caregiver costs of an event log (the societal perspective).

Per patient, with the valuation's ``societal`` inputs (``scenario/societal.py``):

* **productivity**: while alive before the retirement age, a sojourn loses
  ``earnings x employment x work_loss`` a year, the work loss of a drug-free remission
  state or of active disease; after a death before the retirement age (and within the
  horizon) all of ``earnings x employment`` is lost (human-capital method), so a
  strategy does not look cheaper because its patients die sooner;
* **caregiver**: ``hours x wage`` a year while alive, by the same two kinds of state.

Amounts accrue continuously and are discounted at the cost rate, as state costs are.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cartsim.engine.events import ALIVE, EventLog
from cartsim.outcomes.discounting import discounted_duration
from cartsim.pathway.model import Valuation


def societal_costs(log: EventLog, valuations: Mapping[str, Valuation], gi: np.ndarray,
                   remission: np.ndarray, age: np.ndarray | None, rate: float,
                   cost_factor: float = 1.0) -> dict[str, np.ndarray]:
    """``cost_productivity``, ``cost_caregiver`` and their ``_undisc`` per patient ({} when
    no valuation is societal). ``gi``: each patient's index into ``valuations``;
    ``remission[s]``: whether state s is a drug-free remission; ``age``: entry ages."""
    groups = list(valuations)
    inputs = [valuations[g].societal for g in groups]
    if all(x is None for x in inputs):
        return {}
    if age is None:
        msg = "the societal perspective needs each patient's age (pass age to value_log)"
        raise ValueError(msg)
    n = log.n_patients

    def per_group(key: str) -> np.ndarray:
        return np.array([x[key] if x is not None else 0.0 for x in inputs])

    earn = per_group("earnings") * per_group("employment") * cost_factor
    wage = per_group("caregiver_wage") * cost_factor
    retire_at = per_group("retirement_age")
    horizon = per_group("horizon")
    sp, ss = log.sojourn_patient, log.sojourn_state
    g = gi[sp] if sp.size else sp
    a, b = log.sojourn_start, log.sojourn_end
    in_rem = remission[ss] if ss.size else np.zeros(0, dtype=bool)
    loss = np.where(in_rem, per_group("work_loss_remission")[g], per_group("work_loss_active")[g])
    hours = np.where(in_rem, per_group("caregiver_hours_remission")[g],
                     per_group("caregiver_hours_active")[g])
    retire = np.maximum(retire_at[gi] - np.asarray(age, dtype=float), 0.0)  # model years
    work_end = np.minimum(b, retire[sp]) if sp.size else b
    work_end = np.maximum(work_end, a)

    def total(weights: np.ndarray, who: np.ndarray = sp) -> np.ndarray:
        return np.bincount(who, weights=weights, minlength=n)[:n].astype(np.float64)

    rate_work = earn[g] * loss
    prod = total(rate_work * discounted_duration(a, work_end, rate))
    prod_u = total(rate_work * (work_end - a))
    # After a death before retirement: every year of paid work is lost, to the horizon.
    dead = log.cause != ALIVE
    start = log.end_time
    stop = np.minimum(retire, horizon[gi])
    lost = dead & (stop > start)
    s0, s1 = np.where(lost, start, 0.0), np.where(lost, stop, 0.0)
    prod = prod + earn[gi] * discounted_duration(s0, s1, rate)
    prod_u = prod_u + earn[gi] * (s1 - s0)
    care = wage[g] * hours
    return {"cost_productivity": prod, "cost_productivity_undisc": prod_u,
            "cost_caregiver": total(care * discounted_duration(a, b, rate)),
            "cost_caregiver_undisc": total(care * (b - a))}
