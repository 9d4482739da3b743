"""The compiled engine's entry point: simulate slots of a plan, summing as it goes.

``run_plan(plan, accrual, slots, ...)`` simulates patients (``slots``: who, in
which PSA draw, with which row of numbers) over a flattened plan
(``flatten.flatten``) with the compiled kernel, and returns per-slot totals of
the channels the caller handed in (``kernel_types.Accrual``: a rate per state
and an amount per event, per valuation column; the engine does not know they
are costs or QALYs), event counts, end times and causes of death; curve sums on
a grid when ``curves`` is given; and the event log only when ``log`` is true
(then the kernel runs twice: once to count the log's rows, once to write them).

Without a log, the slots are simulated in parts of ``PART`` on as many threads as
numba may use (the kernel releases the GIL); parts depend only on the number of
slots and curve bins are added in part order, so results are identical for any
number of threads (on one worker process of many, one thread: :func:`threads`).

The kernel is compiled by numba on first use and cached on disk next to this
package (or, where that is read-only, in numba's user cache directory, or
``NUMBA_CACHE_DIR``), so only the first process after installation compiles.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from cartsim.cohort import Cohort
from cartsim.engine.events import ALIVE, EventLog, check_span
from cartsim.engine.flatten import Plan, flatten, structure_key
from cartsim.engine.kernel_types import (
    Accrual,
    Bins,
    Curves,
    Discounts,
    Keys,
    LifeTable,
    LogRows,
    Scratch,
    Slots,
    Structure,
    Totals,
)
from cartsim.engine.plan import shared_names
from cartsim.errors import SimulationError
from cartsim.params.life_table import SEXES
from cartsim.params.life_table import LifeTable as Table
from cartsim.pathway.model import Pathway, State
from cartsim.rng import Streams

PART = 4096
"""Slots per part of a run (a thread's unit of work). Fixed, so that curve bins are
added in the same order whatever the number of threads."""
NO_CURVES = Curves(False, np.zeros(1), np.zeros((1, 1, 1)), np.zeros((1, 1, 1)), np.zeros(1), 1,
                   np.zeros((1, 1, 1)), np.zeros((1, 1, 1)), np.zeros(1), np.zeros((1, 1, 1)),
                   np.zeros(1))


@dataclass(frozen=True)
class CompiledRun:
    """What the kernel summed for each slot (``kernel_types.Totals``: ``sums[V, K, 2,
    slot]``, ``counts[E, slot]``), the curve bins and the event log if asked."""

    sums: np.ndarray
    counts: np.ndarray
    end_time: np.ndarray
    cause: np.ndarray
    cause_names: tuple[str, ...]
    bins: Bins | None
    log: EventLog | None


def make_slots(patient: np.ndarray, draw: np.ndarray | int, row: np.ndarray, age: np.ndarray,
               female: np.ndarray) -> Slots:
    """Slots from per-slot arrays (``draw`` may be one number for all)."""
    n = np.asarray(row).size
    return Slots(np.asarray(patient, dtype=np.uint64),
                 np.broadcast_to(np.asarray(draw, dtype=np.uint64), (n,)).copy(),
                 np.asarray(row, dtype=np.int64), np.asarray(age, dtype=np.float64),
                 np.asarray(female, dtype=np.bool_))


def table_arrays(table: Table | None) -> LifeTable:
    if table is None:
        return LifeTable(np.zeros((2, 1)), np.zeros((2, 1)), np.inf)
    return LifeTable(np.array([table.cumulative[s] for s in SEXES], dtype=np.float64),
                     np.array([table.hazard[s] for s in SEXES], dtype=np.float64),
                     float(table.max_age))


def _structure(plan: Plan) -> Structure:
    i = plan.ints
    start, ev_start, ev_death, cause_death = (int(x) for x in i["misc"])
    return Structure(i["states"], i["transitions"], i["chances"], i["outcomes"], i["recurring"],
                     i["origin_timers"], i["origin_range"], start, ev_start, ev_death,
                     cause_death, plan.n_timers, plan.n_origins)


def _keys(names: Sequence[str], streams: Streams) -> np.ndarray:
    return np.array([streams.key(n) for n in names], dtype=np.uint64).reshape(-1, 2)


def discounts(accrual: Accrual, curves: Curves) -> Discounts:
    """Each column's distinct discount rates (channels' and curves'), and indices to them."""
    n_cols, n_channels = accrual.rates.shape
    tables: list[list[float]] = []
    channel = np.zeros((n_cols, n_channels), np.int64)
    grid, year = np.zeros(n_cols, np.int64), np.zeros(n_cols, np.int64)
    for v in range(n_cols):
        wanted = [*accrual.rates[v].tolist(), float(curves.grid_rate[min(v, curves.grid_rate.size
                                                                       - 1)]),
                  float(curves.year_rate[min(v, curves.year_rate.size - 1)])]
        distinct = list(dict.fromkeys(wanted))
        tables.append(distinct)
        channel[v] = [distinct.index(r) for r in wanted[:n_channels]]
        grid[v], year[v] = distinct.index(wanted[-2]), distinct.index(wanted[-1])
    width = max(len(t) for t in tables)
    table = np.array([t + [t[0]] * (width - len(t)) for t in tables], dtype=np.float64)
    return Discounts(table, channel, grid, year, _nonzero(accrual.state_rate),
                     _nonzero(accrual.amount))


def _nonzero(values: np.ndarray) -> np.ndarray:
    """[count, k...] of the non-zero channels along the last axis."""
    mask = values != 0.0
    out = np.zeros((*values.shape[:-1], values.shape[-1] + 1), dtype=np.int64)
    out[..., 0] = mask.sum(axis=-1)
    order = np.argsort(~mask, axis=-1, kind="stable")  # non-zero channels first, in order
    out[..., 1:] = order
    return out


def _scratch(plan: Plan, accrual: Accrual, disc: Discounts) -> Scratch:
    v, k = accrual.rates.shape
    j = disc.table.shape[1]
    return Scratch(np.zeros(len(plan.purposes), np.int64),
                   np.zeros(max(len(plan.recurring_purposes), 1), np.int64),
                   np.zeros(max(plan.n_timers, 1)), np.zeros(max(plan.n_origins, 1)),
                   np.zeros((3, v, k, 2)), np.zeros((v, j)), np.zeros((v, j)), np.zeros((v, j)),
                   np.zeros((v, j)), np.zeros(max(len(plan.ints["recurring"]), 1)),
                   np.zeros(1, np.int64), np.zeros(3, np.int64),
                   np.zeros(len(plan.ints["chances"]) + 4, np.int64),
                   np.zeros(len(plan.ints["chances"]) + 4), np.zeros(v), np.zeros(v),
                   np.zeros(v))


def _bins(curves: Curves, accrual: Accrual, n_states: int) -> Bins:
    v = accrual.rates.shape[0]
    g, y = curves.grid.size, int(curves.years)
    return Bins(np.zeros((v, 7, g + 1)), np.zeros((g + 1, n_states), np.int64),
                np.zeros(g + 1, np.int64), np.zeros((v, 2, 3, y + 1)))


def _log_rows(counts: np.ndarray) -> LogRows:
    ns, ne, nr = (int(c) for c in counts)
    return LogRows(np.zeros(ns, np.int64), np.zeros(ns, np.int64), np.zeros(ns), np.zeros(ns),
                   np.zeros(ns, np.int64), np.zeros(ne, np.int64), np.zeros(ne, np.int64),
                   np.zeros(ne), np.zeros(ne, np.int64), np.zeros(nr, np.int64),
                   np.zeros(nr, np.int64), np.zeros(nr, np.int64))


def run_plan(plan: Plan, accrual: Accrual, slots: Slots, *, life_table: Table | None,
             horizon: float, streams: Streams, curves: Curves | None = None,
             log: bool = False) -> CompiledRun:
    """Simulate ``slots`` over ``plan``; ``streams`` gives the seed and CRN salt (each
    slot carries its own draw). Raises SimulationError for a patient stuck forever."""
    from cartsim.engine.kernel import run_slots  # numba: imported only to run

    n = slots.row.size
    structure = _structure(plan)
    keys = Keys(_keys(plan.purposes, streams), _keys(plan.recurring_purposes or ("-",), streams))
    table = table_arrays(life_table)
    cur = curves if curves is not None else NO_CURVES
    disc = discounts(accrual, cur)
    if not log:
        totals = _totals(plan, accrual, n)
        bins = _run_parts(plan, structure, keys, table, slots, accrual, disc, cur, totals,
                          float(horizon))
    counted = np.zeros(3, np.int64)  # the log's rows, known after the counting pass
    for mode in (1, 2) if log else ():  # the log's rows are numbered in slot order: serial
        totals = _totals(plan, accrual, n)
        bins = _bins(cur, accrual, len(plan.state_names))
        rows = _log_rows(counted) if mode == 2 else _log_rows(np.zeros(3))
        sc = _scratch(plan, accrual, disc)
        _check(plan, structure, slots, totals, run_slots(  # type: ignore[no-untyped-call]
            structure, plan.numbers, keys, table, slots, accrual, disc, cur, totals, bins, rows,
            sc, mode, float(horizon), 0, n))
        counted = sc.n_log.copy()
    names, codes = _renumber_causes(totals.cause, plan.cause_names)
    event_log = _event_log(plan, slots, totals, rows, names, codes) if log else None
    return CompiledRun(totals.sums, totals.counts, totals.end_time, codes, names,
                       bins if curves is not None else None, event_log)


def _totals(plan: Plan, accrual: Accrual, n: int) -> Totals:
    v, k = accrual.rates.shape
    return Totals(np.zeros((v, k, 2, n)), np.zeros((len(plan.event_names), n), np.int32),
                  np.zeros(n), np.full(n, -1, np.int64))


def threads() -> int:
    """Threads a run's kernel uses: numba's thread count (``NUMBA_NUM_THREADS``, by
    default the machine's CPUs), but one in a worker process (``--workers``, Dask),
    whose siblings use the other cores."""
    from numba import config

    if multiprocessing.parent_process() is not None:
        return 1
    cpus = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1)
    wanted = int(config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    return max(1, min(wanted, cpus))


def _run_parts(plan: Plan, structure: Structure, keys: Keys, table: LifeTable, slots: Slots,
               accrual: Accrual, disc: Discounts, cur: Curves, totals: Totals, horizon: float
               ) -> Bins:
    """Run the kernel over parts of ``PART`` slots, on :func:`threads` threads, each
    part with its own scratch and curve bins; the bins are added
    in part order. Parts depend only on the number of slots, and each slot writes only
    its own totals, so the results are identical for any number of threads."""
    from cartsim.engine.kernel import run_slots  # numba: imported only to run

    n = slots.row.size
    parts = [(lo, min(lo + PART, n)) for lo in range(0, max(n, 1), PART)]
    n_states = len(plan.state_names)

    def run(part: tuple[int, int]) -> tuple[Bins, tuple[int, int]]:
        bins = _bins(cur, accrual, n_states)
        status = run_slots(  # type: ignore[no-untyped-call]
            structure, plan.numbers, keys, table, slots, accrual, disc, cur, totals, bins,
            _log_rows(np.zeros(3)), _scratch(plan, accrual, disc), 0, horizon, part[0], part[1])
        return bins, (int(status[0]), int(status[1]))

    count = min(threads(), len(parts))
    if count > 1:
        with ThreadPoolExecutor(count) as pool:
            done = list(pool.map(run, parts))
    else:
        done = [run(p) for p in parts]
    for _, status in done:  # the first stuck slot, in slot order
        _check(plan, structure, slots, totals, status)
    total = done[0][0]
    for bins, _ in done[1:]:
        for mine, theirs in zip(total, bins, strict=True):
            mine += theirs
    return total


def _check(plan: Plan, structure: Structure, slots: Slots, totals: Totals,
           status: tuple[int, int]) -> None:
    """SimulationError for a slot the kernel found stuck forever in a state."""
    from cartsim.engine.kernel import STUCK

    code, at = (int(x) for x in status)
    if code == STUCK:
        state = plan.state_names[int(structure.states[int(totals.cause[at]), 6])]
        msg = (f"patient {int(slots.patient[at])} in strategy '{plan.strategy}' would stay "
               f"in state '{state}' forever: give it a mortality or set a finite horizon")
        error = SimulationError(msg)
        error.slot = at  # type: ignore[attr-defined]  # which slot (PSA: which draw)
        raise error


def _renumber_causes(cause: np.ndarray, names: Sequence[str]) -> tuple[tuple[str, ...],
                                                                    np.ndarray]:
    """Causes that occurred, sorted by name (as the simpy engine's log numbers them)."""
    used = sorted({names[c] for c in np.unique(cause[cause >= 0]).tolist()})
    table = np.array([used.index(x) if x in used else ALIVE for x in names] or [0],
                     dtype=np.int64)
    return tuple(used), np.where(cause < 0, ALIVE, table[np.maximum(cause, 0)])


def _event_log(plan: Plan, slots: Slots, totals: Totals, rows: LogRows,
               names: tuple[str, ...], codes: np.ndarray) -> EventLog:
    return EventLog(
        strategy=plan.strategy, n_patients=slots.row.size, state_names=plan.state_names,
        event_names=plan.event_names, cause_names=names,
        sojourn_patient=rows.soj_patient, sojourn_state=rows.soj_state,
        sojourn_start=rows.soj_start, sojourn_end=rows.soj_end,
        event_patient=rows.ev_patient, event_code=rows.ev_code, event_time=rows.ev_time,
        end_time=totals.end_time.copy(), cause=codes, sojourn_seq=rows.soj_seq,
        event_seq=rows.ev_seq, recurring_sojourn=rows.rec_sojourn,
        recurring_event=rows.rec_event, recurring_count=rows.rec_count)


def curve_sums(bins: Bins, curves: Curves) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                    np.ndarray, np.ndarray, np.ndarray]:
    """Cumulate the bins: (grid channel's cumulative discounted sum [V, G], occupancy
    counts [G, S], dead counts [G], yearly channel per year discounted and not [V, Y],
    life channel's cumulative discounted life-years and state-utility QALYs [V, 2, G])."""
    g = curves.grid.size

    def accrued(v: int, j: int, r: float) -> np.ndarray:
        terms, open_rate = (np.cumsum(bins.grid[v, k])[:g] for k in (j, j + 1))
        if r == 0.0:
            return np.asarray(terms + curves.grid * open_rate)
        return np.asarray((terms - np.exp(-r * curves.grid) * open_rate) / r)

    grid_sums = np.empty((bins.grid.shape[0], g))
    life = np.empty((bins.grid.shape[0], 2, g))
    for v, r in enumerate(curves.grid_rate.tolist()):
        grid_sums[v] = accrued(v, 0, r) + np.cumsum(bins.grid[v, 2])[:g]
        r_life = float(curves.life_rate[v])
        life[v, 0], life[v, 1] = accrued(v, 3, r_life), accrued(v, 5, r_life)
    occupancy = np.cumsum(bins.occupancy, axis=0)[:g].astype(np.float64)
    dead = np.cumsum(bins.dead)[:g].astype(np.float64)
    y = int(curves.years)
    edges = np.arange(1, y + 1, dtype=np.float64)
    yearly = np.empty((bins.years.shape[0], 2, y))
    for v, r in enumerate(curves.year_rate.tolist()):
        for w in range(2):
            rate = r if w == 0 else 0.0
            f = edges if rate == 0.0 else -np.expm1(-rate * edges) / rate
            terms, open_rate, events = (np.cumsum(bins.years[v, w, j])[:y] for j in range(3))
            by_edge = terms + f * open_rate + events
            yearly[v, w] = np.diff(np.concatenate([[0.0], by_edge]))
    return grid_sums, occupancy, dead, yearly[:, 0], yearly[:, 1], life


def warm_up() -> None:
    """Compile the kernel, or load it from numba's cache, now (say before forking
    workers, so that they inherit it instead of each compiling it)."""
    plan = flatten([Pathway("warm_up", "alive", {"alive": State("alive")})], ("alive",),
                   ("start", "death"))
    accrual = Accrual(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 2, 1)), np.zeros((1, 1)),
                      np.zeros(1, np.bool_), np.full((1, 1), -1, np.int64), np.zeros(1))
    slots = make_slots(np.zeros(0), 0, np.zeros(0), np.zeros(0), np.zeros(0))
    run_plan(plan, accrual, slots, life_table=None, horizon=1.0, streams=Streams(0))


def simulate_compiled(pathways: Mapping[str, Pathway], patients: Cohort, *,
                      life_table: Table | None, horizon: float, streams: Streams,
                      span: range | None = None) -> EventLog:
    """The event log of one strategy, as ``simulate_simpy`` returns it (same contract),
    from the compiled engine summing nothing: for analyses that read logs."""
    span = check_span(span, patients.n)
    state_names, event_names = shared_names(pathways)
    groups = list(pathways)
    index = {g: i for i, g in enumerate(groups)}
    by_structure: dict[object, list[str]] = {}
    for name, pw in pathways.items():
        by_structure.setdefault(structure_key(pw), []).append(name)
    if len(by_structure) > 1:
        msg = ("the compiled engine needs one pathway structure per strategy here; use "
               "--engine simpy")
        raise SimulationError(msg)
    plan = flatten([pathways[g] for g in groups], state_names, event_names)
    rows = np.fromiter((index[g] for g in patients.group[span.start:span.stop]),
                       dtype=np.int64, count=len(span))
    nothing = Accrual(np.zeros((len(groups), 1, len(state_names), 1)),
                      np.zeros((len(groups), 1, len(event_names), 1)), np.zeros((1, 1)),
                      np.zeros(1, np.bool_), np.full((len(groups), 1), -1, np.int64),
                      np.zeros(1))
    ids = np.arange(span.start, span.stop)
    slots = make_slots(ids, streams.draw, rows, patients.age[ids], patients.female[ids])
    run = run_plan(plan, nothing, slots, life_table=life_table, horizon=horizon,
                   streams=streams, log=True)
    assert run.log is not None
    return run.log
