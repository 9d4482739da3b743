"""What every study checks before it simulates, and ``cartsim check`` checks alone.

:func:`prepare` builds every strategy at the point values, loads the life table
and reads the cohort file, so that every problem a run would meet is reported
(as one ScenarioError) before anything starts. The runner and ``cartsim check``
both call it: what a run refuses, check refuses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from cartsim.cohort import Cohort, check_ages, read_cohort
from cartsim.errors import Problem, ScenarioError
from cartsim.outcomes.accounting import Rates
from cartsim.outcomes.discounting import continuous_rate
from cartsim.params.life_table import LifeTable, read_life_table
from cartsim.pathway.build import StrategyModel, build_model
from cartsim.scenario.model import Scenario


def discount_rates(scenario: Scenario) -> Rates:
    """The scenario's discount rates as continuous rates (costs, outcomes)."""
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
    starts: all the problems at once, each under its own file when a cohort or
    life-table file is at fault.

    >>> from cartsim.scenario.load import load_scenario
    >>> models, life_table = prepare(load_scenario("scenarios/base.toml"))
    >>> sorted(models), life_table.name
    (['car_t', 'immunosuppression'], 'us_ssa_2025')
    """
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
