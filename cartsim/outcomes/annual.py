"""Mean cost per patient in each year of the simulation, by cost category.

The one-time-therapy analysis needs the *time profile* of spending, not just its
lifetime total: ICER caps the cost offsets of a single or short-term therapy at
an amount per year. This module values an event log year by year, with the same
conventions as :mod:`cartsim.outcomes.accounting`, so that the years of a
category add up to that category's lifetime total:

* state costs accrue continuously over each sojourn and are split at year ends;
* a one-off event cost falls in the year of its time (year k is the interval
  ``(k, k + 1]``; year 0 also holds costs at time 0, such as an upfront cost);
* a recurring event's expected cost (count x cost, its times uniform on the
  sojourn given the count) accrues like a rate of ``count x cost / duration``.

Means are per patient who *started* the model (the dead contribute nothing),
the denominator of every other per-patient result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from cartsim.engine.events import EventLog
from cartsim.outcomes.discounting import discount_factor
from cartsim.pathway.model import Valuation
from cartsim.vocabulary import COST_CATEGORIES


@dataclass(frozen=True)
class AnnualCosts:
    """Mean cost per patient by year (rows) and category (columns, ``categories``).

    ``discounted`` is discounted to time 0 at the cost rate; ``undiscounted`` is not.
    """

    categories: tuple[str, ...]
    discounted: np.ndarray
    undiscounted: np.ndarray

    @property
    def years(self) -> int:
        return int(self.discounted.shape[0])


def years_needed(end_times: Sequence[np.ndarray]) -> int:
    """Whole years that cover every patient's follow-up (at least one).

    >>> years_needed([np.array([0.5, 12.0]), np.array([30.2])])
    31
    """
    last = max((float(np.max(t, initial=0.0)) for t in end_times), default=0.0)
    return max(1, math.ceil(last))


def annual_costs(log: EventLog, valuations: Mapping[str, Valuation],
                 group_of_patient: Sequence[str], cost_rate: float, years: int,
                 cost_factor: float = 1.0, *, mean: bool = True,
                 combine: Sequence[str] | None = None) -> AnnualCosts:
    """Mean discounted and undiscounted cost per patient in years ``0 .. years - 1``
    (``mean=False``: sums over the log's patients, which add up across chunks).

    Parameters
    ----------
    log : EventLog
        One strategy's simulation.
    valuations : Mapping[str, Valuation]
        Per patient group (disease), what states and events cost, by category.
    group_of_patient : sequence of str
        Each patient's group, in cohort order.
    cost_rate : float
        Continuous discount rate for costs (``Rates.costs``).
    years : int
        Number of yearly bins; costs after ``years`` are left out, so pass at
        least :func:`years_needed` of the log's end times to keep every cost.
    cost_factor : float
        Currency / price-year conversion applied to every cost, as in accounting.

    combine : sequence of str, optional
        Categories to value as one column (their sum) instead of one column per
        category: a fraction of the work when only a total is needed.

    Returns
    -------
    AnnualCosts
        Arrays of shape ``(years, len(COST_CATEGORIES))``, or ``(years, 1)``
        with ``combine``.
    """
    if years < 1:
        msg = f"years must be >= 1; got {years}"
        raise ValueError(msg)
    groups = list(valuations)
    lookup = {g: i for i, g in enumerate(groups)}
    gi = np.fromiter((lookup[g] for g in group_of_patient), dtype=np.int64,
                     count=len(group_of_patient))
    n_cat = len(COST_CATEGORIES)
    state_rate = np.zeros((len(groups), len(log.state_names), n_cat))
    event_cost = np.zeros((len(groups), len(log.event_names), n_cat))
    for g, group in enumerate(groups):
        val = valuations[group]
        for c, cat in enumerate(COST_CATEGORIES):
            for s, name in enumerate(log.state_names):
                state_rate[g, s, c] = val.state_costs.get(name, {}).get(cat, 0.0) * cost_factor
            for e, name in enumerate(log.event_names):
                event_cost[g, e, c] = val.event_costs.get(name, {}).get(cat, 0.0) * cost_factor

    categories: tuple[str, ...] = COST_CATEGORIES
    if combine is not None:
        idx = [COST_CATEGORIES.index(c) for c in combine]
        state_rate = state_rate[:, :, idx].sum(axis=2, keepdims=True)
        event_cost = event_cost[:, :, idx].sum(axis=2, keepdims=True)
        categories, n_cat = ("+".join(combine),), 1
    # Only categories that cost something anywhere are accumulated (the rest stay 0).
    used = np.flatnonzero(state_rate.any(axis=(0, 1)) | event_cost.any(axis=(0, 1)))
    state_rate, event_cost = state_rate[:, :, used], event_cost[:, :, used]
    sp, a, b = log.sojourn_patient, log.sojourn_start, log.sojourn_end
    rates = state_rate[gi[sp], log.sojourn_state] if sp.size else np.zeros((0, used.size))
    times, amounts = log.event_time, (event_cost[gi[log.event_patient], log.event_code]
                                      if log.event_patient.size else np.zeros((0, used.size)))
    rs = log.recurring_sojourn
    if rs.size:
        per_sojourn = log.recurring_count[:, None] * event_cost[gi[sp[rs]], log.recurring_event]
        width = (b - a)[rs]
        spread = width > 0
        for c in range(used.size):
            rates[:, c] += np.bincount(rs[spread], weights=per_sojourn[spread, c]
                                       / width[spread], minlength=sp.size)
        # A zero-length sojourn has no time for a recurring event; any count there is
        # charged at the sojourn's start, as accounting discounts it.
        times = np.concatenate([times, a[rs[~spread]]])
        amounts = np.concatenate([amounts, per_sojourn[~spread]])

    edges = np.arange(1, years + 1, dtype=float)
    stays, events = _Stays(a, b, edges), _Events(times, edges)
    n = max(log.n_patients, 1) if mean else 1
    out = []
    for r in (cost_rate, 0.0):
        by_edge = np.zeros((years, n_cat))
        by_edge[:, used] = stays.accrued(rates, r) + events.accrued(amounts, r)
        out.append(np.diff(np.vstack([np.zeros((1, n_cat)), by_edge]), axis=0) / n)
    return AnnualCosts(categories, out[0], out[1])


def _by_edge(values: np.ndarray, first: np.ndarray, edges: int) -> np.ndarray:
    """Row k: the sum of the rows of ``values`` whose ``first`` edge index is <= k
    (a cumulative sum over edge bins; nothing of the size of ``values`` is sorted)."""
    columns = values.shape[1]
    flat = (first[:, None] * columns + np.arange(columns)).ravel()
    bins = np.bincount(flat, weights=values.ravel(), minlength=(edges + 1) * columns)
    return np.cumsum(bins.reshape(edges + 1, columns), axis=0)[:edges]


class _Events:
    """One-off amounts at times <= each edge (binned once, valued at any rate)."""

    def __init__(self, times: np.ndarray, edges: np.ndarray) -> None:
        self.times, self.edges = times, edges
        self.first = np.searchsorted(edges, times, side="left")   # t <= edge k for k >= first

    def accrued(self, amounts: np.ndarray, r: float) -> np.ndarray:
        weighted = amounts * discount_factor(self.times, r)[:, None]
        return _by_edge(weighted, self.first, self.edges.size)


class _Stays:
    """Σ_j rates_j ∫_{a_j}^{min(b_j, g)} e^{-rt} dt at each edge g, per category.

    With F the antiderivative of the discount factor, a stay begun before g adds
    rate (F(min(b, g)) - F(a)); splitting the stays into those begun before g,
    those ended by g and those still open at g makes each part a cumulative sum
    over edge bins (O(n log G) for all edges at once; binned once for every rate).
    """

    def __init__(self, a: np.ndarray, b: np.ndarray, edges: np.ndarray) -> None:
        self.keep = b > a
        self.a, self.b, self.edges = a[self.keep], b[self.keep], edges
        self.began = np.searchsorted(edges, self.a, side="right")   # a < edge k for k >= began
        self.ended = np.searchsorted(edges, self.b, side="left")    # b <= edge k for k >= ended

    def accrued(self, rates: np.ndarray, r: float) -> np.ndarray:
        def antiderivative(t: np.ndarray) -> np.ndarray:
            return t if r == 0.0 else -np.expm1(-r * t) / r

        rates = rates[self.keep]
        g = self.edges.size
        open_rate = _by_edge(rates, self.began, g) - _by_edge(rates, self.ended, g)
        return (_by_edge(rates * antiderivative(self.b)[:, None], self.ended, g)
                - _by_edge(rates * antiderivative(self.a)[:, None], self.began, g)
                + antiderivative(self.edges)[:, None] * open_rate)


NOTHING = Valuation({}, {})


def annual_costs_by_group(log: EventLog, valuations: Mapping[str, Valuation],
                          group_of_patient: Sequence[str], years: int,
                          cost_factor: float = 1.0) -> dict[str, np.ndarray]:
    """Undiscounted cost summed over each group's patients, by year since the start (rows)
    and category (columns, ``COST_CATEGORIES``): the yearly cost curves of a budget impact
    analysis, one per patient group (disease)."""
    return {g: annual_costs(log, {h: v if h == g else NOTHING for h, v in valuations.items()},
                            group_of_patient, 0.0, years, cost_factor, mean=False).undiscounted
            for g in valuations}
