"""The library's entry point: simulate a scenario and value the results.

>>> from cartsim.api import run_scenario          # doctest: +SKIP
>>> result = run_scenario(load_scenario("scenarios/base.toml"))  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass

from cartsim.cohort import Cohort, check_ages, read_cohort, sample_cohort
from cartsim.engine.events import EventLog, concatenate_logs
from cartsim.engine.simpy_engine import simulate_simpy
from cartsim.engine.vectorised import simulate_vectorised
from cartsim.errors import Problem, ScenarioError, UsageError
from cartsim.outcomes.accounting import (
    OutcomesBuilder,
    PatientOutcomes,
    Rates,
    value_log,
)
from cartsim.outcomes.curves import CurveSums, curve_grid, curve_sums, curve_years
from cartsim.outcomes.discounting import continuous_rate
from cartsim.parallel import parallel_map
from cartsim.params.life_table import LifeTable, read_life_table
from cartsim.pathway.build import StrategyModel, build_model
from cartsim.rng import Streams
from cartsim.scenario.model import Scenario

RUN_CHUNK = 1 << 16
"""Patients simulated and valued together; bounds a run's memory (see run_scenario)."""

ENGINES = ("vectorised", "simpy")
"""Engines that interpret a pathway; the vectorised one is the default (patients do not
interact), simpy is the reference implementation."""


@dataclass(frozen=True)
class RunResult:
    """Everything one simulation produced, before any table is made."""

    scenario: Scenario
    cohort: Cohort
    models: Mapping[str, StrategyModel]
    logs: Mapping[str, EventLog]
    outcomes: Mapping[str, PatientOutcomes]
    rates: Rates
    engine: str
    seed: int
    common_random_numbers: bool = True
    curves: Mapping[str, CurveSums] | None = None
    """Per strategy; None when the run was asked for no curves."""

    @property
    def strategies(self) -> tuple[str, ...]:
        return tuple(self.outcomes)


def discount_rates(scenario: Scenario) -> Rates:
    run = scenario.run
    return Rates(costs=continuous_rate(run.discount_costs, run.convention),
                 outcomes=continuous_rate(run.discount_outcomes, run.convention))


def load_life_table(scenario: Scenario) -> LifeTable | None:
    """The scenario's life table: the shipped US table, a CSV beside the scenario, or None."""
    name = scenario.run.life_table
    if name == "none":
        return None
    if name == "us_ssa_2025":
        return read_life_table()
    path = scenario.base_dir / name
    if not name.strip() or not name.isprintable() or not (path.exists() or path.is_symlink()):
        raise ScenarioError(scenario.source, [Problem(
            "run.life_table", "file not found", name,
            f'looked for {path}; use "us_ssa_2025" (shipped), a CSV with columns '
            'age,qx_female,qx_male, or "none"')])
    return read_life_table(path, source=f"{path} (run.life_table of {scenario.source})")


def check_cohort(scenario: Scenario, life_table: LifeTable | None) -> Cohort | None:
    """Read the cohort file, if any, with the very function a run reads it with, and
    check every patient's age against the life table. Returns the file's patients."""
    spec = scenario.cohort
    cohort = None
    if spec.file is not None:
        cohort = read_cohort(spec.file, spec.file_groups,
                             source=f"{spec.file} (cohort.file of {scenario.source})")
    if life_table is not None:
        check_ages(spec, cohort, life_table.max_age, life_table.name,
                   scenario.source if cohort is None else
                   f"{spec.file} (cohort.file of {scenario.source})")
    return cohort


def prepare(scenario: Scenario, values: Mapping[str, float] | None = None
            ) -> tuple[dict[str, StrategyModel], LifeTable | None]:
    """Build every strategy's pathways, load the life table and check the cohort, so
    that every problem a run would meet is reported (as a ScenarioError) before it
    starts. ``cartsim check`` and every analysis call this, and :func:`run_scenario`
    calls it too: what a run refuses, check refuses (all the problems at once, each
    under its own file when a cohort or life-table file is at fault)."""
    found: list[ScenarioError] = []
    models: dict[str, StrategyModel] = {}
    life_table: LifeTable | None = None
    try:
        models = build_model(scenario, values if values is not None
                             else scenario.point_values())
    except ScenarioError as err:
        found.append(err)
    try:
        life_table = load_life_table(scenario)
    except ScenarioError as err:
        found.append(err)
    try:
        check_cohort(scenario, life_table)
    except ScenarioError as err:
        found.append(err)
    if len(found) == 1:
        raise found[0]
    if found:
        raise ScenarioError(scenario.source, [
            p if err.source == scenario.source else
            dataclasses.replace(p, path=f"{err.source}: {p.path}")
            for err in found for p in err.problems])
    return models, life_table


def run_scenario(scenario: Scenario, *, patients: int | None = None, seed: int | None = None,
                 draw: int = 0, values: Mapping[str, float] | None = None,
                 engine: str = "vectorised", common_random_numbers: bool = True,
                 keep_logs: bool = True, curves: bool = True, workers: int = 1,
                 progress: Callable[[int], None] | None = None) -> RunResult:
    """Simulate every strategy of ``scenario`` on one cohort and value the logs.

    ``values`` replaces the point values (a PSA draw or a sensitivity value);
    ``draw`` selects that draw's random-number streams. ``common_random_numbers``
    = False gives each strategy private streams (only to measure what CRN buys).
    ``keep_logs`` = False drops each chunk's event log once it is valued (large
    runs without a trace); ``result.logs`` is then empty. ``curves`` = False
    skips the curves over time (analyses that need only per-patient totals).
    ``progress(k)`` is called as each strategy finishes a chunk of k patients
    (patients x strategies in all). ``workers`` > 1 simulates the chunks
    (``RUN_CHUNK`` patients x one strategy each) on that many forked processes;
    the results are identical for any number.
    """
    if engine not in ENGINES:
        msg = f"engine must be one of {', '.join(ENGINES)}; got {engine!r}"
        raise UsageError(msg)
    if patients is not None and scenario.cohort.file is not None:
        msg = (f"the cohort is read from {scenario.cohort.file.name} (cohort.file), so the "
               "number of patients is the number of rows; drop --patients")
        raise UsageError(msg)
    n = patients if patients is not None else scenario.run.patients
    root = seed if seed is not None else scenario.run.seed
    streams = Streams(root, draw)
    models, life_table = prepare(scenario, values)
    cohort = sample_cohort(scenario.cohort, n, streams=streams)
    rates = discount_rates(scenario)
    context = _ChunkContext(scenario, models, life_table, cohort, streams, rates, engine,
                            common_random_numbers, keep_logs, curves)
    jobs = [(name, start) for start in range(0, max(cohort.n, 1), RUN_CHUNK)
            for name in scenario.strategies]
    logs: dict[str, dict[int, EventLog]] = {name: {} for name in scenario.strategies}
    parts = {name: OutcomesBuilder(cohort.n) for name in scenario.strategies}
    chunk_sums: dict[str, dict[int, CurveSums]] = {name: {} for name in scenario.strategies}
    # Patients are simulated and valued a chunk at a time, and only per-patient
    # totals and curve sums are kept, so memory does not grow with the event logs
    # (unless keep_logs). Each patient's results do not depend on the chunking, and
    # chunks are reduced in patient order whatever order they finish in, so files
    # are identical for any number of workers.
    global _CONTEXT
    _CONTEXT = context
    try:
        with parallel_map(workers) as (_, mapper), closing(mapper(_run_chunk, jobs)) as done:
            for name, start, part, sums, log in done:
                parts[name].add(start, part)
                if sums is not None:
                    chunk_sums[name][start] = sums
                if log is not None:
                    logs[name][start] = log
                if progress is not None:
                    progress(part.n)
    finally:
        _CONTEXT = None
    return RunResult(
        scenario, cohort, models,
        {name: concatenate_logs([by[k] for k in sorted(by)]) for name, by in logs.items() if by},
        {name: builder.build() for name, builder in parts.items()},
        rates, engine, root, common_random_numbers,
        {name: functools.reduce(operator.add, [by[k] for k in sorted(by)])
         for name, by in chunk_sums.items()} if curves else None)


@dataclass(frozen=True)
class _ChunkContext:
    """What every chunk of one run shares (read by forked workers, never pickled)."""

    scenario: Scenario
    models: Mapping[str, StrategyModel]
    life_table: LifeTable | None
    cohort: Cohort
    streams: Streams
    rates: Rates
    engine: str
    common_random_numbers: bool
    keep_logs: bool
    curves: bool


_CONTEXT: _ChunkContext | None = None


def _run_chunk(job: tuple[str, int]) -> tuple[str, int, PatientOutcomes, CurveSums | None,
                                              EventLog | None]:
    """Simulate and value one strategy on one chunk of the cohort."""
    name, start = job
    ctx = _CONTEXT
    assert ctx is not None
    scenario, cohort, model = ctx.scenario, ctx.cohort, ctx.models[name]
    span = range(start, min(start + RUN_CHUNK, cohort.n))
    groups = cohort.group[span.start:span.stop]
    streams = ctx.streams if ctx.common_random_numbers else ctx.streams.unsynchronised(name)
    simulate = simulate_vectorised if ctx.engine == "vectorised" else simulate_simpy
    log = simulate(model.pathways, cohort, life_table=ctx.life_table,
                   horizon=scenario.run.horizon, streams=streams, span=span)
    local = log.rebased(span.start)
    part = value_log(local, model.pathways, model.valuations, groups, ctx.rates,
                     scenario.run.cost_factor, age=cohort.age[span.start:span.stop],
                     female=cohort.female[span.start:span.stop])
    sums = curve_sums(local, model.valuations, groups, ctx.rates,
                      curve_grid(scenario.run.horizon), curve_years(scenario.run.horizon),
                      scenario.run.cost_factor) if ctx.curves else None
    return name, start, part, sums, log if ctx.keep_logs else None
