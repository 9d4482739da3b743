"""The runner's one call into an engine, and the valuation of what it simulated.

:func:`engine_pass` simulates one strategy for one chunk of patients in each of a
batch of draws and values it under each of that draw's valuation sets; every study
that simulates goes through it (the runner, and the case-series validation for its
logs). It is the one place an engine is chosen and called:

* ``compiled`` (the default) values as it simulates: the valuation sets are handed
  to the kernel as columns of rates and amounts, curves are binned as it goes, and
  an event log is written only when asked (``keep_log``, e.g. ``--trace`` or a
  simulation the runner values again). A batch of PSA draws without curves or logs
  is one batched kernel call over draw x patient slots
  (:func:`cartsim.outcomes.valued_batch.simulate_draw_batch`), correct when the
  draws differ in structure: families are per-row codes, other structures are
  grouped by signature;
* ``simpy`` (the reference) simulates each draw into an event log, valued by
  :func:`value_chunk` (``accounting.value_log``, ``curves.curve_sums``).

Both give the same per-patient results (to 1e-12 relative; counts exactly).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cartsim.cohort import Cohort
from cartsim.engine.events import EventLog
from cartsim.outcomes.accounting import (
    PatientOutcomes,
    Rates,
    needs_log_columns,
    value_log,
    with_log_columns,
)
from cartsim.outcomes.curves import CurveSums, curve_grid, curve_sums, curve_years
from cartsim.outcomes.valued_batch import BatchDraw, simulate_draw_batch
from cartsim.outcomes.valued_run import simulate_valued_sets
from cartsim.params.life_table import LifeTable
from cartsim.pathway.model import Pathway, Valuation
from cartsim.rng import Streams


@dataclass(frozen=True)
class Context:
    """What every engine pass of one runner shares (read by forked workers, never
    pickled): the cohort, the life table, the horizon and the engine's settings."""

    cohort: Cohort
    life_table: LifeTable | None
    horizon: float
    engine: str
    seed: int
    common_random_numbers: bool
    rates: Rates
    cost_factor: float
    event_times: bool = False
    """Per-patient first-event times (payment models read them)."""


@dataclass(frozen=True)
class DrawPass:
    """One draw of an engine pass: its pathways and the valuation sets to apply."""

    draw: int
    pathways: Mapping[str, Pathway]
    valuations: tuple[Mapping[str, Valuation], ...]


@dataclass(frozen=True)
class PassResult:
    """Per draw: outcomes and curve sums per valuation set, and the log if asked."""

    outcomes: tuple[tuple[PatientOutcomes, ...], ...]
    curves: tuple[tuple[CurveSums, ...], ...] | None
    logs: tuple[EventLog, ...] | None


def engine_pass(ctx: Context, strategy: str, span: range, draws: Sequence[DrawPass], *,
                curves: bool = False, keep_log: bool = False) -> PassResult:
    """THE engine call: simulate ``strategy`` for the patients of ``span`` in each
    draw and value it under each of that draw's valuation sets."""
    if ctx.engine == "compiled":
        return _compiled_pass(ctx, strategy, span, draws, curves=curves, keep_log=keep_log)
    from cartsim.engine.simpy_engine import simulate_simpy  # the reference, when asked

    cohort = ctx.cohort
    outcomes, sums, logs = [], [], []
    for d in draws:
        log = simulate_simpy(d.pathways, cohort, life_table=ctx.life_table,
                             horizon=ctx.horizon, streams=_streams(ctx, strategy, d.draw),
                             span=span)
        valued = value_chunk(ctx, log, span, d.pathways, d.valuations, curves=curves)
        outcomes.append(valued[0])
        sums.append(valued[1])
        logs.append(log)
    return PassResult(tuple(outcomes), tuple(s for s in sums if s is not None) if curves
                      else None, tuple(logs) if keep_log else None)


def _streams(ctx: Context, strategy: str, draw: int) -> Streams:
    streams = Streams(ctx.seed, draw)
    return streams if ctx.common_random_numbers else streams.unsynchronised(strategy)


def _compiled_pass(ctx: Context, strategy: str, span: range, draws: Sequence[DrawPass], *,
                   curves: bool, keep_log: bool) -> PassResult:
    from_log = any(needs_log_columns(v, ctx.event_times) for d in draws for v in d.valuations)
    if len(draws) > 1 and not curves and not keep_log and not from_log \
            and all(d.valuations for d in draws):
        batched = simulate_draw_batch(
            [BatchDraw(d.draw, d.pathways, d.valuations) for d in draws], ctx.cohort, span,
            life_table=ctx.life_table, horizon=ctx.horizon,
            streams=_streams(ctx, strategy, 0), rates=ctx.rates, cost_factor=ctx.cost_factor)
        return PassResult(tuple(batched), None, None)
    grid, years = curve_grid(ctx.horizon), curve_years(ctx.horizon)
    outcomes: list[tuple[PatientOutcomes, ...]] = []
    sums: list[tuple[CurveSums, ...]] = []
    logs: list[EventLog] = []
    for d in draws:
        streams = _streams(ctx, strategy, d.draw)
        if not d.valuations:  # only the log is wanted (the case-series validation)
            from cartsim.engine.compiled import simulate_compiled

            logs.append(simulate_compiled(d.pathways, ctx.cohort, life_table=ctx.life_table,
                                          horizon=ctx.horizon, streams=streams, span=span))
            outcomes.append(())
            continue
        run = simulate_valued_sets(d.pathways, d.valuations, ctx.cohort, span,
                                   life_table=ctx.life_table, horizon=ctx.horizon,
                                   streams=streams, rates=ctx.rates,
                                   cost_factor=ctx.cost_factor, grid=grid if curves else None,
                                   years=years, log=keep_log or from_log)
        valued = run.outcomes
        if from_log:  # societal costs and first-event times are read from the log
            assert run.log is not None
            valued = _log_columns(ctx, run.log, span, d, valued)
        outcomes.append(valued)
        if run.curves is not None:
            sums.append(run.curves)
        if run.log is not None and keep_log:
            logs.append(run.log)
    return PassResult(tuple(outcomes), tuple(sums) if curves else None,
                      tuple(logs) if keep_log else None)


def _log_columns(ctx: Context, log: EventLog, span: range, d: DrawPass,
                 valued: tuple[PatientOutcomes, ...]) -> tuple[PatientOutcomes, ...]:
    local = log.rebased(span.start)
    groups = ctx.cohort.group[span.start:span.stop]
    age = ctx.cohort.age[span.start:span.stop]
    return tuple(with_log_columns(o, local, d.pathways, v, groups, ctx.rates, ctx.cost_factor,
                                  age=age, event_times=ctx.event_times)
                 for o, v in zip(valued, d.valuations, strict=True))


def value_chunk(ctx: Context, log: EventLog, span: range, pathways: Mapping[str, Pathway],
                valuations: Sequence[Mapping[str, Valuation]], *, curves: bool = False
                ) -> tuple[tuple[PatientOutcomes, ...], tuple[CurveSums, ...] | None]:
    """Value one chunk's log (patients of ``span``) under each valuation set."""
    cohort = ctx.cohort
    local = log.rebased(span.start)
    groups = cohort.group[span.start:span.stop]
    age, female = cohort.age[span.start:span.stop], cohort.female[span.start:span.stop]
    parts = tuple(value_log(local, pathways, v, groups, ctx.rates, ctx.cost_factor, age=age,
                            female=female, event_times=ctx.event_times) for v in valuations)
    if not curves:
        return parts, None
    grid, years = curve_grid(ctx.horizon), curve_years(ctx.horizon)
    return parts, tuple(curve_sums(local, v, groups, ctx.rates, grid, years, ctx.cost_factor)
                        for v in valuations)
