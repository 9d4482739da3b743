"""Cohort-average curves over time: cumulative discounted cost and state occupancy.

Used for the cost-offset (break-even) time and the cost-over-time table. The
cumulative cost at time g counts state costs accrued before g, one-off costs
of events at or before g, and recurring-event costs in proportion to the share
of each sojourn's discounted time that lies before g (their times being
uniform on the sojourn given the count).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from cartsim.engine.events import EventLog
from cartsim.outcomes.accounting import Rates, _group_index
from cartsim.outcomes.discounting import discount_factor
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
    a, b = log.sojourn_start, log.sojourn_end
    rate = state_rate[gi[sp], log.sojourn_state] if sp.size else np.zeros(0)
    rs = log.recurring_sojourn
    if rs.size:
        # A recurring event's expected discounted cost accrues like a cost rate of
        # count x cost / duration over its sojourn (its times are uniform there).
        width = b[rs] - a[rs]
        per_year = np.where(width > 0, log.recurring_count * event_cost[gi[sp[rs]],
                                                                      log.recurring_event]
                            / np.where(width > 0, width, 1.0), 0.0)
        rate = rate + np.bincount(rs, weights=per_year, minlength=len(sp))
    ep = log.event_patient
    one_off = event_cost[gi[ep], log.event_code] * discount_factor(log.event_time, rates.costs) \
        if ep.size else np.zeros(0)
    out = _accrued_by(grid, a, b, rate, rates.costs)
    order = np.argsort(log.event_time, kind="stable")
    upto = np.searchsorted(log.event_time[order], grid, side="right")
    out += np.r_[0.0, np.cumsum(one_off[order])][upto]
    return out / n


def _accrued_by(grid: np.ndarray, a: np.ndarray, b: np.ndarray, rate: np.ndarray,
                r: float) -> np.ndarray:
    """Σ_j rate_j ∫_{a_j}^{min(b_j, g)} e^{-rt} dt at each grid time g, in O(n log n).

    Splits the sum into stays begun before g, stays ended by g and stays open at
    g, each a cumulative sum over stays sorted by start or by end.
    """
    keep = b > a
    a, b, rate = a[keep], b[keep], rate[keep]
    by_a, by_b = np.argsort(a, kind="stable"), np.argsort(b, kind="stable")
    began = np.searchsorted(a[by_a], grid, side="left")      # a < g
    ended = np.searchsorted(b[by_b], grid, side="right")     # b <= g

    def csum(values: np.ndarray, order: np.ndarray, count: np.ndarray) -> np.ndarray:
        return np.r_[0.0, np.cumsum(values[order])][count]

    open_rate = csum(rate, by_a, began) - csum(rate, by_b, ended)
    if r == 0.0:
        return (csum(rate * b, by_b, ended) - csum(rate * a, by_a, began)
                + grid * open_rate)
    return (csum(rate * np.exp(-r * a), by_a, began) - csum(rate * np.exp(-r * b), by_b, ended)
            - np.exp(-r * grid) * open_rate) / r
