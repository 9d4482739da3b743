"""Many PSA draws in one pass of the compiled engine: draw x patient slots, one row
of numbers per (draw, patient group).

Each draw's pathways and valuations (built at that draw's parameter values) are
flattened into rows of one plan; the kernel runs every (draw, patient) slot of a
batch in one call per strategy. Patient i of draw k uses the random numbers of
(seed, k, purpose, use, i), as a run of draw k alone does, so each draw's results
are the same whatever the batch, the order or the workers.

Draws whose pathways differ in structure (structural uncertainty: a draw may
choose another time-to-event family, or a model with other states) are handled
two ways. A transition's *family* is a number of the row (the plan stores a
family code and parameters per row), so draws that differ only in families share
one plan and one kernel call. Draws whose states, transitions or chance nodes
differ are grouped by that structure signature (``flatten.structure_key`` of each
group's pathway, and the strategy's state and event names) and each group of
draws is one plan and one call. A draw whose patient groups themselves have
different structures runs on its own (one plan per structure, as a run does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from cartsim.cohort import Cohort
from cartsim.engine.compiled import CompiledRun, make_slots, run_plan
from cartsim.engine.events import ALIVE
from cartsim.engine.flatten import flatten, structure_key
from cartsim.engine.plan import shared_names
from cartsim.outcomes.accounting import PatientOutcomes, Rates
from cartsim.outcomes.accrual import accrual_arrays, patient_outcomes
from cartsim.outcomes.valued_run import group_codes, simulate_valued_sets
from cartsim.params.life_table import LifeTable
from cartsim.pathway.model import Pathway, Valuation
from cartsim.rng import Streams


@dataclass(frozen=True)
class BatchDraw:
    """One draw of a batch: its id, its pathways by group and its valuation sets."""

    draw: int
    pathways: Mapping[str, Pathway]
    valuations: Sequence[Mapping[str, Valuation]]


def structure_signature(pathways: Mapping[str, Pathway]) -> tuple[object, ...]:
    """What draws must share to be rows of one plan (families and numbers may differ)."""
    return (tuple(pathways), tuple(structure_key(pw) for pw in pathways.values()),
            shared_names(pathways))


def simulate_draw_batch(draws: Sequence[BatchDraw], cohort: Cohort, span: range, *,
                        life_table: LifeTable | None, horizon: float, streams: Streams,
                        rates: Rates, cost_factor: float = 1.0
                        ) -> list[tuple[PatientOutcomes, ...]]:
    """Patients ``span`` of ``cohort`` under one strategy in every draw of ``draws``:
    per draw, its outcomes under each of its valuation sets. ``streams`` gives the seed
    and the CRN salt; each draw's slots carry its own draw number."""
    out: list[tuple[PatientOutcomes, ...] | None] = [None] * len(draws)
    by_signature: dict[object, list[int]] = {}
    for j, d in enumerate(draws):
        by_signature.setdefault((structure_signature(d.pathways), len(d.valuations)),
                                []).append(j)
    for members in by_signature.values():
        first = draws[members[0]].pathways
        if len({structure_key(pw) for pw in first.values()}) > 1:
            for j in members:  # groups of other structures within a draw: draw by draw
                d = draws[j]
                own = Streams(streams.seed, d.draw, streams.salt)
                out[j] = simulate_valued_sets(
                    d.pathways, d.valuations, cohort, span, life_table=life_table,
                    horizon=horizon, streams=own, rates=rates,
                    cost_factor=cost_factor).outcomes
            continue
        batch = [draws[j] for j in members]
        for j, outcomes in zip(members, _one_plan(batch, cohort, span, life_table, horizon,
                                                  streams, rates, cost_factor), strict=True):
            out[j] = outcomes
    return [o for o in out if o is not None]


def _one_plan(batch: Sequence[BatchDraw], cohort: Cohort, span: range,
              life_table: LifeTable | None, horizon: float, streams: Streams, rates: Rates,
              cost_factor: float) -> list[tuple[PatientOutcomes, ...]]:
    """Draws of one structure: one plan with a row per (draw, group), one kernel call."""
    groups = list(batch[0].pathways)
    strategy = batch[0].pathways[groups[0]].strategy
    state_names, event_names = shared_names(batch[0].pathways)
    n, k, n_sets = len(span), len(batch), len(batch[0].valuations)
    ids = np.arange(span.start, span.stop)
    code = group_codes(cohort, groups, span)
    pathways = [d.pathways[g] for d in batch for g in groups]
    plan = flatten(pathways, state_names, event_names, grouped=True)  # by signature
    valuations = [[v[g] for v in d.valuations] for d in batch for g in groups]
    accrual = accrual_arrays(state_names, event_names, valuations, pathways,
                             [rates] * n_sets, cost_factor)
    slots = make_slots(np.tile(ids, k), np.repeat(np.array([d.draw for d in batch]), n),
                       np.repeat(np.arange(k) * len(groups), n) + np.tile(code, k),
                       np.tile(cohort.age[ids], k), np.tile(cohort.female[ids], k))
    run = run_plan(plan, accrual, slots, life_table=life_table, horizon=horizon,
                   streams=streams)
    out = []
    for j in range(k):
        part = _slice(run, slice(j * n, (j + 1) * n))
        out.append(tuple(patient_outcomes(strategy, part, event_names, c)
                         for c in range(n_sets)))
    return out


def _slice(run: CompiledRun, at: slice) -> CompiledRun:
    """One draw's slots of a batched run, its causes numbered as a run of it alone
    numbers them (the causes that occurred, sorted by name)."""
    cause = run.cause[at]
    used = sorted({run.cause_names[c] for c in np.unique(cause[cause >= 0]).tolist()})
    table = np.array([used.index(x) if x in used else ALIVE for x in run.cause_names] or [0],
                     dtype=np.int64)
    return CompiledRun(np.ascontiguousarray(run.sums[..., at]),
                       np.ascontiguousarray(run.counts[:, at]), run.end_time[at].copy(),
                       np.where(cause < 0, ALIVE, table[np.maximum(cause, 0)]), tuple(used),
                       None, None)
