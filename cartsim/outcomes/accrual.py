"""Valuation as arrays for the compiled engine, and its sums back as outcomes.

The compiled engine sums, as it simulates, rates per state and amounts per
event that this module hands it (``kernel_types.Accrual``), one column per
valuation setting; it does not know what they are. The channels are the
columns ``value_log`` computes from an event log, with the same arithmetic:

* ``cost_<category>``: state cost per year and one-off event costs (times the
  currency factor), discounted at the cost rate;
* ``qaly``: the state's utility (age-adjusted when the valuation has a norm)
  and minus each event's QALY loss, discounted at the outcome rate;
* ``ly``: 1 per year alive; ``remission_years``: 1 per year in a state flagged
  as drug-free remission; both at the outcome rate.

Every channel comes back discounted and undiscounted, so ``patient_outcomes``
rebuilds exactly the columns of ``PatientOutcomes``. Curves over time use two
more channels: all costs (cumulative on the curve grid) and the costs of the
offset categories (by year), as ``curves.curve_sums`` values them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from cartsim.engine.compiled import CompiledRun, curve_sums
from cartsim.engine.events import ALIVE
from cartsim.engine.kernel_types import Accrual, Bins, Curves
from cartsim.outcomes.accounting import PatientOutcomes, Rates
from cartsim.outcomes.age_norm import norm_bands
from cartsim.outcomes.curves import CurveSums
from cartsim.pathway.model import Pathway, Valuation
from cartsim.vocabulary import COST_CATEGORIES, OFFSET_CATEGORIES

CHANNELS = (*(f"cost_{c}" for c in COST_CATEGORIES), "qaly", "ly", "remission_years")
QALY, LY, REMISSION = (CHANNELS.index(c) for c in ("qaly", "ly", "remission_years"))


def accrual_arrays(state_names: Sequence[str], event_names: Sequence[str],
                   valuations: Sequence[Sequence[Valuation]], pathways: Sequence[Pathway],
                   rates: Sequence[Rates], cost_factor: float = 1.0) -> Accrual:
    """``valuations[row][v]``: the valuation of each row of numbers (a patient group,
    or a PSA draw's group) under each column ``v`` discounted at ``rates[v]``."""
    n_rows, n_cols = len(valuations), len(rates)
    s_count, e_count, k_count = len(state_names), len(event_names), len(CHANNELS)
    state_rate = np.zeros((n_rows, n_cols, s_count, k_count))
    amount = np.zeros((n_rows, n_cols, e_count, k_count))
    remission = np.array([any(pw.states[n].remission for pw in pathways if n in pw.states)
                          for n in state_names], dtype=bool)
    norm_off = np.full((n_rows, n_cols), -1, dtype=np.int64)
    pool: list[float] = []
    pooled: dict[int, int] = {}
    for r, row in enumerate(valuations):
        for v, val in enumerate(row):
            _fill(state_rate[r, v], amount[r, v], val, state_names, event_names, cost_factor)
            state_rate[r, v, :, LY] = 1.0
            state_rate[r, v, remission, REMISSION] = 1.0
            norm = val.utility_age_norm
            if norm is not None:
                key = id(norm)
                if key not in pooled:
                    pooled[key] = len(pool)
                    for sex in ("female", "male"):
                        first, value = norm_bands(norm[sex])
                        pool += [float(first.size), *first.tolist(), *value.tolist()]
                norm_off[r, v] = pooled[key]
    channel_rates = np.array([[x.costs] * len(COST_CATEGORIES) + [x.outcomes] * 3
                              for x in rates], dtype=np.float64)
    scaled = np.zeros(k_count, dtype=np.bool_)
    scaled[QALY] = True
    return Accrual(state_rate, amount, channel_rates, scaled, norm_off,
                   np.array(pool or [0.0], dtype=np.float64))


_CATEGORY = {c: i for i, c in enumerate(COST_CATEGORIES)}


def _fill(state_rate: np.ndarray, amount: np.ndarray, val: Valuation,
          state_names: Sequence[str], event_names: Sequence[str], factor: float) -> None:
    # Only what the valuation names (the arrays start at zero): a PSA fills thousands.
    state, event = _index(state_names), _index(event_names)
    for name, costs in val.state_costs.items():
        if name in state:
            for cat, value in costs.items():
                if cat in _CATEGORY:  # value_log knows only these too
                    state_rate[state[name], _CATEGORY[cat]] = value * factor
    for name, utility in val.state_utility.items():
        if name in state:
            state_rate[state[name], QALY] = utility
    for name, costs in val.event_costs.items():
        if name in event:
            for cat, value in costs.items():
                if cat in _CATEGORY:
                    amount[event[name], _CATEGORY[cat]] = value * factor
    for name, loss in val.event_qaly_loss.items():
        if name in event:
            amount[event[name], QALY] = -loss


_INDEXES: dict[tuple[str, ...], dict[str, int]] = {}


def _index(names: Sequence[str]) -> dict[str, int]:
    key = tuple(names)
    found = _INDEXES.get(key)
    if found is None:
        found = _INDEXES[key] = {n: i for i, n in enumerate(key)}
    return found


def curve_arrays(state_names: Sequence[str], event_names: Sequence[str],
                 valuations: Sequence[Sequence[Valuation]], rates: Sequence[Rates],
                 grid: np.ndarray, years: int, cost_factor: float = 1.0) -> Curves:
    """The curve channels: all costs on the grid, offset-category costs by year."""
    n_rows, n_cols = len(valuations), len(rates)
    shape_s, shape_e = (n_rows, n_cols, len(state_names)), (n_rows, n_cols, len(event_names))
    grid_state, grid_amount = np.zeros(shape_s), np.zeros(shape_e)
    year_state, year_amount = np.zeros(shape_s), np.zeros(shape_e)
    life_state = np.zeros(shape_s)
    for r, row in enumerate(valuations):
        for v, val in enumerate(row):
            for s, name in enumerate(state_names):
                life_state[r, v, s] = val.state_utility.get(name, 0.0)
                costs = val.state_costs.get(name, {})
                grid_state[r, v, s] = sum(costs.values()) * cost_factor
                year_state[r, v, s] = sum(costs.get(c, 0.0) * cost_factor
                                          for c in OFFSET_CATEGORIES)
            for e, name in enumerate(event_names):
                costs = val.event_costs.get(name, {})
                grid_amount[r, v, e] = sum(costs.values()) * cost_factor
                year_amount[r, v, e] = sum(costs.get(c, 0.0) * cost_factor
                                           for c in OFFSET_CATEGORIES)
    cost_rates = np.array([x.costs for x in rates], dtype=np.float64)
    return Curves(True, np.asarray(grid, dtype=np.float64), grid_state, grid_amount, cost_rates,
                  int(years), year_state, year_amount, cost_rates.copy(), life_state,
                  np.array([x.outcomes for x in rates], dtype=np.float64))


def patient_outcomes(strategy: str, run: CompiledRun, event_names: Sequence[str],
                     column: int = 0) -> PatientOutcomes:
    """The kernel's sums for valuation ``column`` as the columns ``value_log`` makes
    (views of the kernel's arrays: each is one contiguous row of them)."""
    sums = run.sums[column]
    n = sums.shape[-1]
    cols: dict[str, np.ndarray] = {
        "ly": sums[LY, 0], "ly_undisc": sums[LY, 1],
        "qaly": sums[QALY, 0], "qaly_undisc": sums[QALY, 1],
        "remission_years": sums[REMISSION, 1], "remission_years_disc": sums[REMISSION, 0],
    }
    total, total_undisc = np.zeros(n), np.zeros(n)
    for c, cat in enumerate(COST_CATEGORIES):
        cols[f"cost_{cat}"] = sums[c, 0]
        cols[f"cost_{cat}_undisc"] = sums[c, 1]
        total = total + cols[f"cost_{cat}"]
        total_undisc = total_undisc + cols[f"cost_{cat}_undisc"]
    cols["cost"], cols["cost_undisc"] = total, total_undisc
    for e, label in enumerate(event_names):
        cols[f"n_{label}"] = run.counts[e]
    cols["end_time"] = run.end_time
    cols["died"] = (run.cause != ALIVE).astype(np.int64)
    cols["cause"] = run.cause
    return PatientOutcomes(strategy, cols, tuple(event_names), run.cause_names)


def curves_of(bins: Bins, curves: Curves, state_names: Sequence[str],
              column: int = 0) -> CurveSums:
    """The kernel's curve bins for valuation ``column`` as ``CurveSums``."""
    grid_sums, occupancy, dead, disc, undisc, life = curve_sums(bins, curves)
    return CurveSums(curves.grid, tuple(state_names), grid_sums[column], occupancy, dead,
                     disc[column], undisc[column], life[column, 0], life[column, 1])


def rows_of(groups: Sequence[str], mapping: Mapping[str, Valuation]) -> list[list[Valuation]]:
    """One valuation column per row, for rows that are the patient groups in order."""
    return [[mapping[g]] for g in groups]
