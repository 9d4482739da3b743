"""Simulate and value in one pass with the compiled engine: one strategy, a span of
the cohort, its valuation, to per-patient outcomes, curve sums and (on request)
the event log, with the same results as simulating with the simpy engine and
valuing its log (``accounting.value_log``, ``curves.curve_sums``).

Rows of numbers are the strategy's patient groups. Groups whose pathways share
one structure share one plan (the clinical model's diseases do); a group with
another structure gets its own plan, and the results are put back in patient
order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from cartsim.cohort import Cohort
from cartsim.engine.compiled import CompiledRun, make_slots, run_plan
from cartsim.engine.events import EventLog, concatenate_logs
from cartsim.engine.flatten import flatten, structure_key
from cartsim.engine.plan import shared_names
from cartsim.outcomes.accounting import PatientOutcomes, Rates
from cartsim.outcomes.accrual import (
    accrual_arrays,
    curve_arrays,
    curves_of,
    patient_outcomes,
)
from cartsim.outcomes.curves import CurveSums
from cartsim.params.life_table import LifeTable
from cartsim.pathway.model import Pathway, Valuation
from cartsim.rng import Streams


@dataclass(frozen=True)
class ValuedRun:
    """One strategy on a span of patients: outcomes, curves (or None), log (or None)."""

    outcomes: PatientOutcomes
    curves: CurveSums | None
    log: EventLog | None


@dataclass(frozen=True)
class ValuedSets:
    """One strategy on a span of patients valued under several valuation sets: per set
    the outcomes and the curves (None without a grid), and the log (or None)."""

    outcomes: tuple[PatientOutcomes, ...]
    curves: tuple[CurveSums, ...] | None
    log: EventLog | None


def group_codes(cohort: Cohort, groups: Sequence[str], span: range | None = None
                ) -> np.ndarray:
    """Each patient's group (of ``span``, default all) as its index in ``groups``."""
    index = {g: i for i, g in enumerate(groups)}
    chosen = cohort.group if span is None else cohort.group[span.start:span.stop]
    return np.fromiter(map(index.__getitem__, chosen), dtype=np.int64, count=len(chosen))


def simulate_valued(pathways: Mapping[str, Pathway], valuations: Mapping[str, Valuation],
                    cohort: Cohort, span: range, *, life_table: LifeTable | None,
                    horizon: float, streams: Streams, rates: Rates, cost_factor: float = 1.0,
                    grid: np.ndarray | None = None, years: int = 1, log: bool = False,
                    codes: np.ndarray | None = None) -> ValuedRun:
    """Patients ``span`` of ``cohort`` under one strategy (one pathway and valuation per
    group); curves on ``grid`` (and ``years`` yearly bins) unless it is None. ``codes``
    (``group_codes(cohort, list(pathways))``) saves mapping groups at every call."""
    run = simulate_valued_sets(pathways, (valuations,), cohort, span, life_table=life_table,
                               horizon=horizon, streams=streams, rates=rates,
                               cost_factor=cost_factor, grid=grid, years=years, log=log,
                               codes=codes)
    return ValuedRun(run.outcomes[0], None if run.curves is None else run.curves[0], run.log)


def simulate_valued_sets(pathways: Mapping[str, Pathway],
                         valuation_sets: Sequence[Mapping[str, Valuation]], cohort: Cohort,
                         span: range, *, life_table: LifeTable | None, horizon: float,
                         streams: Streams, rates: Rates, cost_factor: float = 1.0,
                         grid: np.ndarray | None = None, years: int = 1, log: bool = False,
                         codes: np.ndarray | None = None) -> ValuedSets:
    """As :func:`simulate_valued`, valuing one simulation under every set of
    ``valuation_sets`` at once (one valuation column of the kernel each)."""
    strategy = next(iter(pathways.values())).strategy
    state_names, event_names = shared_names(pathways)
    ids = np.arange(span.start, span.stop)
    names_in_order = list(pathways)
    by_structure: dict[object, list[str]] = {}
    for name, pw in pathways.items():
        by_structure.setdefault(structure_key(pw), []).append(name)
    # Each patient's group as (plan, row in it).
    plan_of_group = np.zeros(len(names_in_order), dtype=np.int64)
    row_of_group = np.zeros(len(names_in_order), dtype=np.int64)
    for p, names in enumerate(by_structure.values()):
        for r, g in enumerate(names):
            plan_of_group[names_in_order.index(g)], row_of_group[names_in_order.index(g)] = p, r
    code = (codes[span.start:span.stop] if codes is not None
            else group_codes(cohort, names_in_order, span))
    plan_of, row_of = plan_of_group[code], row_of_group[code]
    n_sets = len(valuation_sets)
    parts: list[tuple[np.ndarray, CompiledRun]] = []
    curve_parts: list[tuple[CurveSums, ...]] = []
    for p, names in enumerate(by_structure.values()):
        chosen = np.flatnonzero(plan_of == p) if len(by_structure) > 1 else ids - span.start
        if chosen.size == 0 and len(by_structure) > 1:
            continue
        plan = flatten([pathways[g] for g in names], state_names, event_names,
                       grouped=True)  # by structure_key above
        vals = [[v[g] for v in valuation_sets] for g in names]
        accrual = accrual_arrays(state_names, event_names, vals, list(pathways.values()),
                                 [rates] * n_sets, cost_factor)
        curves = (curve_arrays(state_names, event_names, vals, [rates] * n_sets, grid, years,
                               cost_factor) if grid is not None else None)
        who = ids[chosen]
        slots = make_slots(who, streams.draw, row_of[chosen], cohort.age[who],
                           cohort.female[who])
        run = run_plan(plan, accrual, slots, life_table=life_table, horizon=horizon,
                       streams=streams, curves=curves, log=log)
        parts.append((chosen, run))
        if curves is not None and run.bins is not None:
            curve_parts.append(tuple(curves_of(run.bins, curves, state_names, c)
                                     for c in range(n_sets)))
    n = span.stop - span.start
    outcomes = tuple(_merge_outcomes(strategy, parts, event_names, n, c)
                     for c in range(n_sets))
    curve_sums = None
    if grid is not None and curve_parts:
        curve_sums = curve_parts[0]
        for extra in curve_parts[1:]:
            curve_sums = tuple(a + b for a, b in zip(curve_sums, extra, strict=True))
    event_log = _merge_logs(parts, n) if log else None
    return ValuedSets(outcomes, curve_sums, event_log)


def _merge_outcomes(strategy: str, parts: list[tuple[np.ndarray, CompiledRun]],
                    event_names: tuple[str, ...], n: int, column: int = 0) -> PatientOutcomes:
    if len(parts) == 1 and parts[0][0].size == n:
        return patient_outcomes(strategy, parts[0][1], event_names, column)
    causes = tuple(sorted({c for _, run in parts for c in run.cause_names}))
    columns: dict[str, np.ndarray] = {}
    for chosen, run in parts:
        part = patient_outcomes(strategy, run, event_names, column)
        recode = np.array([causes.index(c) for c in part.cause_names] or [0])
        for name, col in part.columns.items():
            if name not in columns:
                columns[name] = np.zeros(n, dtype=col.dtype)
            if name == "cause":
                col = np.where(col < 0, col, recode[np.maximum(col, 0)])
            columns[name][chosen] = col
    return PatientOutcomes(strategy, columns, event_names, causes)


def _merge_logs(parts: list[tuple[np.ndarray, CompiledRun]], n: int) -> EventLog:
    logs = [run.log for _, run in parts if run.log is not None]
    if len(logs) == 1:
        return logs[0]
    # Several plans: put every patient's rows back in patient order.
    joined = concatenate_logs(logs)
    at = np.concatenate([chosen for chosen, _ in parts])
    end, cause = np.empty(n), np.empty(n, dtype=np.int64)
    end[at], cause[at] = joined.end_time, joined.cause
    soj = np.lexsort((joined.sojourn_seq, joined.sojourn_patient))
    ev = np.lexsort((joined.event_seq, joined.event_patient))
    where = np.empty(soj.size, dtype=np.int64)
    where[soj] = np.arange(soj.size)
    rec = np.lexsort((joined.recurring_event, where[joined.recurring_sojourn]))
    return EventLog(joined.strategy, n, joined.state_names, joined.event_names,
                    joined.cause_names, joined.sojourn_patient[soj], joined.sojourn_state[soj],
                    joined.sojourn_start[soj], joined.sojourn_end[soj],
                    joined.event_patient[ev], joined.event_code[ev], joined.event_time[ev],
                    end, cause, joined.sojourn_seq[soj], joined.event_seq[ev],
                    where[joined.recurring_sojourn][rec], joined.recurring_event[rec],
                    joined.recurring_count[rec])
