"""Curves over time: cumulative discounted cost, state occupancy and yearly costs,
as sums over patients on a grid fixed before a run, so chunks of a cohort add up.

Used for the cost-offset (break-even) time and the cost-over-time, occupancy and
one-time-therapy tables. The
cumulative cost at time g counts state costs accrued before g, one-off costs
of events at or before g, and recurring-event costs in proportion to the share
of each sojourn's discounted time that lies before g (their times being
uniform on the sojourn given the count).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from cartsim.engine.events import EventLog
from cartsim.outcomes.accounting import Rates, _group_index
from cartsim.outcomes.annual import annual_costs
from cartsim.outcomes.discounting import discount_factor
from cartsim.outcomes.occupancy import occupancy_counts
from cartsim.pathway.model import Valuation
from cartsim.vocabulary import OFFSET_CATEGORIES

CURVE_YEARS = 150.0
"""Curves stop here (no patient of a life-table cohort lives this long in the model)."""


def curve_grid(horizon: float) -> np.ndarray:
    """The grid every run's curves are accumulated on, fixed before simulating:
    quarterly for two years, then yearly, to the horizon (or 150 years)."""
    last = min(horizon, CURVE_YEARS)
    grid = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    grid += [float(y) for y in range(2, math.ceil(last) + 1)]
    return np.array([g for g in grid if g <= last] + ([last] if last not in grid else []))


def curve_years(horizon: float) -> int:
    """Yearly bins of the annual-cost curves, fixed before simulating."""
    return max(1, math.ceil(min(horizon, CURVE_YEARS)))


@dataclass(frozen=True)
class CurveSums:
    """One strategy's curves over time as sums over its patients (so chunks of a
    cohort add up): cumulative discounted cost and state occupancy at each time
    of ``grid``; the cost of the offset categories (every category but the
    one-time therapy's) in each year, discounted and not, for ``years`` years."""

    grid: np.ndarray
    states: tuple[str, ...]
    cost: np.ndarray
    occupancy: np.ndarray
    dead: np.ndarray
    annual_disc: np.ndarray
    annual_undisc: np.ndarray
    ly: np.ndarray | None = None
    """Cumulative discounted life-years at each grid time (outcome rate); None if not made."""
    qaly_state: np.ndarray | None = None
    """Cumulative discounted QALYs of the state utilities (no age norm, no event losses) at
    each grid time: with ``ly``, the mean utility of the living in each interval (evLYG)."""

    def __add__(self, other: CurveSums) -> CurveSums:
        def plus(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
            return None if a is None or b is None else a + b

        return CurveSums(self.grid, self.states, self.cost + other.cost,
                         self.occupancy + other.occupancy, self.dead + other.dead,
                         self.annual_disc + other.annual_disc,
                         self.annual_undisc + other.annual_undisc,
                         plus(self.ly, other.ly), plus(self.qaly_state, other.qaly_state))


def curve_sums(log: EventLog, valuations: Mapping[str, Valuation],
               group_of_patient: Sequence[str], rates: Rates, grid: np.ndarray, years: int,
               cost_factor: float = 1.0) -> CurveSums:
    """Every curve of one strategy's log (patients numbered from 0) as sums."""
    occupancy, dead = occupancy_counts(log, grid)
    annual = annual_costs(log, valuations, group_of_patient, rates.costs, years, cost_factor,
                          mean=False, combine=OFFSET_CATEGORIES)
    ly, qaly_state = life_curves(log, valuations, group_of_patient, rates.outcomes, grid)
    return CurveSums(grid, log.state_names,
                     cumulative_cost(log, valuations, group_of_patient, rates, grid,
                                     cost_factor, mean=False),
                     occupancy, dead, annual.discounted[:, 0], annual.undiscounted[:, 0],
                     ly, qaly_state)


def life_curves(log: EventLog, valuations: Mapping[str, Valuation],
                group_of_patient: Sequence[str], rate: float, grid: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Sums over the log's patients of the discounted life-years and state-utility QALYs
    accrued by each grid time (event QALY losses and age norms are left out: the pair
    gives the mean utility of the living in each interval, which evLYG needs)."""
    groups = list(valuations)
    gi = _group_index(group_of_patient, groups)
    utility = np.array([[valuations[g].state_utility.get(name, 0.0) for name in log.state_names]
                        for g in groups]).reshape(len(groups), len(log.state_names))
    sp = log.sojourn_patient
    u = utility[gi[sp], log.sojourn_state] if sp.size else np.zeros(0)
    a, b = log.sojourn_start, log.sojourn_end
    return (_accrued_by(grid, a, b, np.ones(a.size), rate), _accrued_by(grid, a, b, u, rate))


def used_points(grid: np.ndarray, horizon: float, end_times: np.ndarray) -> int:
    """How many leading grid points a table shows: all of them for a finite
    horizon; up to the first whole year after the last death for a lifetime."""
    if math.isfinite(horizon):
        return grid.size
    last = math.ceil(float(np.max(end_times, initial=0.0)))
    return max(int(np.searchsorted(grid, last, side="right")), 1)


def cumulative_cost(log: EventLog, valuations: Mapping[str, Valuation],
                    group_of_patient: Sequence[str], rates: Rates, grid: np.ndarray,
                    cost_factor: float = 1.0, *, mean: bool = True) -> np.ndarray:
    """Cumulative discounted cost at each grid time: the mean per patient, or
    (``mean=False``) the sum over the log's patients, which adds up across chunks."""
    groups = list(valuations)
    gi = _group_index(group_of_patient, groups)
    n = max(log.n_patients, 1) if mean else 1
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
    # An event at time t counts at every grid time g >= t.
    at = np.searchsorted(grid, log.event_time, side="left")
    out += np.cumsum(np.bincount(at, weights=one_off, minlength=grid.size + 1))[:grid.size]
    return out / n


def _accrued_by(grid: np.ndarray, a: np.ndarray, b: np.ndarray, rate: np.ndarray,
                r: float) -> np.ndarray:
    """Σ_j rate_j ∫_{a_j}^{min(b_j, g)} e^{-rt} dt at each grid time g, in O(n log G).

    Splits the sum into stays begun before g, stays ended by g and stays open at
    g; each is a cumulative sum over grid bins, so nothing of size n is sorted.
    """
    keep = b > a
    a, b, rate = a[keep], b[keep], rate[keep]
    began = np.searchsorted(grid, a, side="right")   # a < g for grid index >= began
    ended = np.searchsorted(grid, b, side="left")    # b <= g for grid index >= ended

    def upto(values: np.ndarray, first: np.ndarray) -> np.ndarray:
        return np.cumsum(np.bincount(first, weights=values, minlength=grid.size + 1))[:grid.size]

    open_rate = upto(rate, began) - upto(rate, ended)
    if r == 0.0:
        return upto(rate * b, ended) - upto(rate * a, began) + grid * open_rate
    return (upto(rate * np.exp(-r * a), began) - upto(rate * np.exp(-r * b), ended)
            - np.exp(-r * grid) * open_rate) / r
