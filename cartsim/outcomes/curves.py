"""Cohort-average curves over time: cumulative discounted cost and state occupancy.

Used for the cost-offset (break-even) time and the cost-over-time table. The
cumulative cost at time g counts state costs accrued before g, one-off costs
of events before g, and recurring-event costs in proportion to the share of
each sojourn's discounted time that lies before g (their times being uniform
on the sojourn given the count).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from cartsim.engine.events import EventLog
from cartsim.outcomes.accounting import Rates, _group_index
from cartsim.outcomes.discounting import discount_factor, discounted_duration
from cartsim.pathway.model import Valuation


def time_grid(horizon: float, end_times: np.ndarray) -> np.ndarray:
    """Quarterly for two years, then yearly, up to the horizon or the last death."""
    last = horizon if math.isfinite(horizon) else float(np.max(end_times, initial=0.0))
    last = min(last, 150.0)
    grid = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    grid += [float(y) for y in range(2, math.ceil(last) + 1)]
    return np.array([g for g in grid if g <= max(last, 0.0)] + ([last] if last not in grid else []))


def cumulative_cost(log: EventLog, valuations: Mapping[str, Valuation],
                    group_of_patient: Sequence[str], rates: Rates, grid: np.ndarray,
                    cost_factor: float = 1.0) -> np.ndarray:
    """Mean cumulative discounted cost per patient at each grid time."""
    groups = list(valuations)
    gi = _group_index(group_of_patient, groups)
    n = max(log.n_patients, 1)
    state_rate = np.zeros((len(groups), len(log.state_names)))
    event_cost = np.zeros((len(groups), len(log.event_names)))
    for g, group in enumerate(groups):
        val = valuations[group]
        for s, name in enumerate(log.state_names):
            state_rate[g, s] = sum(val.state_costs.get(name, {}).values()) * cost_factor
        for e, name in enumerate(log.event_names):
            event_cost[g, e] = sum(val.event_costs.get(name, {}).values()) * cost_factor
    sp = log.sojourn_patient
    rate = state_rate[gi[sp], log.sojourn_state] if sp.size else np.zeros(0)
    ep = log.event_patient
    one_off = event_cost[gi[ep], log.event_code] * discount_factor(log.event_time, rates.costs) \
        if ep.size else np.zeros(0)
    rs = log.recurring_sojourn
    rec_total = (log.recurring_count * event_cost[gi[sp[rs]], log.recurring_event]
                 if rs.size else np.zeros(0))
    start, end = log.sojourn_start, log.sojourn_end
    full = discounted_duration(start, end, rates.costs)
    out = np.zeros(len(grid))
    for k, g in enumerate(grid):
        upto = discounted_duration(start, np.minimum(end, g), rates.costs)
        upto = np.where(start < g, upto, 0.0)
        total = float(np.sum(rate * upto))
        total += float(np.sum(one_off[log.event_time <= g]))
        if rs.size:
            with np.errstate(invalid="ignore", divide="ignore"):
                share = np.where(full[rs] > 0, upto[rs] / np.where(full[rs] > 0, full[rs], 1.0),
                                 (start[rs] <= g).astype(float))
            rec_disc = rec_total * (full[rs] / np.maximum(end[rs] - start[rs], 1e-300))
            rec_disc = np.where(end[rs] > start[rs], rec_disc,
                                rec_total * discount_factor(start[rs], rates.costs))
            total += float(np.sum(rec_disc * share))
        out[k] = total / n
    return out
