"""The runner's one call into an engine, and the valuation of what it simulated.

:func:`engine_pass` simulates one strategy for one chunk of patients in each of a
batch of draws and values each log under that draw's valuation sets; every study
that simulates goes through it (the runner, and the case-series validation for its
logs). It is the one place an engine is chosen and called: an engine that values as
it simulates (rates and amounts as arrays, one column per valuation set) or that
simulates a batch of PSA draws in one pass replaces this function and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cartsim.cohort import Cohort
from cartsim.engine.events import EventLog
from cartsim.engine.simpy_engine import simulate_simpy
from cartsim.engine.vectorised import simulate_vectorised
from cartsim.outcomes.accounting import PatientOutcomes, Rates, value_log
from cartsim.outcomes.curves import CurveSums, curve_grid, curve_sums, curve_years
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
    draw and value every log under each of that draw's valuation sets."""
    cohort = ctx.cohort
    simulate = simulate_vectorised if ctx.engine == "vectorised" else simulate_simpy
    outcomes, sums, logs = [], [], []
    for d in draws:
        streams = Streams(ctx.seed, d.draw)
        if not ctx.common_random_numbers:
            streams = streams.unsynchronised(strategy)
        log = simulate(d.pathways, cohort, life_table=ctx.life_table, horizon=ctx.horizon,
                       streams=streams, span=span)
        valued = value_chunk(ctx, log, span, d.pathways, d.valuations, curves=curves)
        outcomes.append(valued[0])
        sums.append(valued[1])
        logs.append(log)
    return PassResult(tuple(outcomes), tuple(s for s in sums if s is not None) if curves
                      else None, tuple(logs) if keep_log else None)


def value_chunk(ctx: Context, log: EventLog, span: range, pathways: Mapping[str, Pathway],
                valuations: Sequence[Mapping[str, Valuation]], *, curves: bool = False
                ) -> tuple[tuple[PatientOutcomes, ...], tuple[CurveSums, ...] | None]:
    """Value one chunk's log (patients of ``span``) under each valuation set."""
    cohort = ctx.cohort
    local = log.rebased(span.start)
    groups = cohort.group[span.start:span.stop]
    age, female = cohort.age[span.start:span.stop], cohort.female[span.start:span.stop]
    parts = tuple(value_log(local, pathways, v, groups, ctx.rates, ctx.cost_factor, age=age,
                            female=female) for v in valuations)
    if not curves:
        return parts, None
    grid, years = curve_grid(ctx.horizon), curve_years(ctx.horizon)
    return parts, tuple(curve_sums(local, v, groups, ctx.rates, grid, years, ctx.cost_factor)
                        for v in valuations)
