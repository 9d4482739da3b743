"""Many PSA draws in one pass of the compiled engine: draw x patient slots, one row
of numbers per (draw, patient group).

Each draw's model (pathways and valuations at that draw's parameter values) is
built as usual and flattened into rows; the structure is shared, so a block of
draws is one plan and one kernel call per strategy (split so that a call holds
at most ``SLOTS`` slots). Patient i of draw k uses the random numbers of
(seed, k, purpose, use, i), as a run of draw k alone does, so results are the
same whatever the blocks, the order or the workers. Only what a PSA keeps per
draw is returned: each patient's discounted cost, QALYs and life-years.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from cartsim.cohort import Cohort
from cartsim.engine.compiled import make_slots, run_plan
from cartsim.engine.flatten import flatten
from cartsim.engine.plan import shared_names
from cartsim.errors import SimulationError
from cartsim.outcomes.accounting import Rates
from cartsim.outcomes.accrual import COST_CATEGORIES, LY, QALY, accrual_arrays
from cartsim.params.life_table import LifeTable
from cartsim.pathway.build import StrategyModel
from cartsim.rng import Streams

SLOTS = 1 << 16
"""At most this many draw x patient slots per kernel call (bounds memory)."""


@dataclass(frozen=True)
class DrawSums:
    """Per (draw, patient): discounted cost, QALYs and life-years of one strategy."""

    cost: np.ndarray
    qaly: np.ndarray
    ly: np.ndarray


def simulate_draws(models: Sequence[Mapping[str, StrategyModel]], draws: Sequence[int],
                   cohort: Cohort, codes: np.ndarray, *, life_table: LifeTable | None,
                   horizon: float, seed: int, rates: Rates, cost_factor: float = 1.0,
                   common_random_numbers: bool = True) -> dict[str, DrawSums]:
    """Every strategy of ``models[j]`` (draw ``draws[j]``'s model) on the cohort;
    ``codes``: each patient's group as its index in the strategy's groups."""
    out: dict[str, DrawSums] = {}
    n = cohort.n
    per_call = max(1, SLOTS // max(n, 1))
    for name, first in models[0].items():
        groups = list(first.pathways)
        streams = Streams(seed) if common_random_numbers else Streams(seed).unsynchronised(name)
        state_names, event_names = shared_names(first.pathways)
        sums = {what: np.empty((len(draws), n)) for what in ("cost", "qaly", "ly")}
        for lo in range(0, len(draws), per_call):
            block = range(lo, min(lo + per_call, len(draws)))
            pathways = [models[j][name].pathways[g] for j in block for g in groups]
            plan = flatten(pathways, state_names, event_names)  # one structure, or an error
            valuations = [[models[j][name].valuations[g]] for j in block for g in groups]
            accrual = accrual_arrays(state_names, event_names, valuations, pathways, [rates],
                                     cost_factor)
            k = len(block)
            slots = make_slots(np.tile(np.arange(n), k), np.repeat(np.asarray(draws)[block], n),
                               np.repeat(np.arange(k) * len(groups), n) + np.tile(codes, k),
                               np.tile(cohort.age, k), np.tile(cohort.female, k))
            try:
                run = run_plan(plan, accrual, slots, life_table=life_table, horizon=horizon,
                               streams=streams)
            except SimulationError as err:  # say which draw it was
                slot = int(getattr(err, "slot", 0))
                err.draw = int(draws[lo + slot // max(n, 1)])  # type: ignore[attr-defined]
                raise
            part = run.sums[0]
            sums["cost"][block] = _total_cost(part).reshape(k, n)
            sums["qaly"][block] = part[QALY, 0].reshape(k, n)
            sums["ly"][block] = part[LY, 0].reshape(k, n)
        out[name] = DrawSums(sums["cost"], sums["qaly"], sums["ly"])
    return out


def _total_cost(part: np.ndarray) -> np.ndarray:
    """Discounted cost over the categories, added in ``patient_outcomes``' order."""
    total = np.zeros(part.shape[-1])
    for c in range(len(COST_CATEGORIES)):
        total = total + part[c, 0]
    return total
