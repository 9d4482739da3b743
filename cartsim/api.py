"""The library's entry point: simulate a scenario and value the results.

>>> from cartsim.api import run_scenario          # doctest: +SKIP
>>> result = run_scenario(load_scenario("scenarios/base.toml"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cartsim.cohort import Cohort, sample_cohort
from cartsim.engine.events import EventLog
from cartsim.engine.simpy_engine import simulate_simpy
from cartsim.engine.vectorised import simulate_vectorised
from cartsim.errors import Problem, ScenarioError, UsageError
from cartsim.outcomes.accounting import PatientOutcomes, Rates, value_log
from cartsim.outcomes.discounting import continuous_rate
from cartsim.params.life_table import LifeTable, read_life_table
from cartsim.pathway.build import StrategyModel, build_model
from cartsim.rng import Streams
from cartsim.scenario.model import Scenario

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
    path = (scenario.base_dir / name).resolve()
    if not path.is_file():
        raise ScenarioError(scenario.source, [Problem(
            "run.life_table", "file not found", name,
            f'looked for {path}; use "us_ssa_2025" (shipped), a CSV with columns '
            'age,qx_female,qx_male, or "none"')])
    return read_life_table(path)


def prepare(scenario: Scenario, values: Mapping[str, float] | None = None
            ) -> tuple[dict[str, StrategyModel], LifeTable | None]:
    """Build every strategy's pathways and load the life table, so that every
    problem a run would meet is reported (as a ScenarioError) before it starts."""
    models = build_model(scenario, values if values is not None else scenario.point_values())
    return models, load_life_table(scenario)


def run_scenario(scenario: Scenario, *, patients: int | None = None, seed: int | None = None,
                 draw: int = 0, values: Mapping[str, float] | None = None,
                 engine: str = "vectorised", common_random_numbers: bool = True) -> RunResult:
    """Simulate every strategy of ``scenario`` on one cohort and value the logs.

    ``values`` replaces the point values (a PSA draw or a sensitivity value);
    ``draw`` selects that draw's random-number streams. ``common_random_numbers``
    = False gives each strategy private streams (only to measure what CRN buys).
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
    logs: dict[str, EventLog] = {}
    outcomes: dict[str, PatientOutcomes] = {}
    for name in scenario.strategies:
        model = models[name]
        strategy_streams = streams if common_random_numbers else streams.unsynchronised(name)
        simulate = simulate_vectorised if engine == "vectorised" else simulate_simpy
        log = simulate(model.pathways, cohort, life_table=life_table,
                       horizon=scenario.run.horizon, streams=strategy_streams)
        logs[name] = log
        outcomes[name] = value_log(log, model.pathways, model.valuations, cohort.group, rates,
                                   scenario.run.cost_factor)
    return RunResult(scenario, cohort, models, logs, outcomes, rates, engine, root,
                     common_random_numbers)


