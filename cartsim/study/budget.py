"""The budget study (``cartsim budget``): a budget impact analysis after ISPOR's 2014 good
practice (Sullivan SD et al., Value Health 2014;17:5-14).

The scenario is simulated once (as ``cartsim run``, keeping its event logs); each strategy's
mean undiscounted cost per patient by year since the start, category and disease group
is the cost curve of a patient treated in a given year. The eligible population per
disease (population x prevalence x refractory share x eligible share, sourced in
``budget_population.toml`` or replaced in ``[budget]``) is newly treated at the uptake of
each year; the *current* world gives those patients the comparator, the *new* world the
mix of new strategies. The arithmetic is :mod:`cartsim.analysis.budget`; with
``psa_draws`` each PSA draw (the values and random numbers of ``cartsim psa``'s draw k)
is simulated again and the yearly budget impact gets an interval.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from cartsim.analysis.budget import eligible_patients, newly_treated, yearly_spend
from cartsim.errors import UsageError
from cartsim.limits import MAX_DRAWS
from cartsim.outcomes.annual import annual_costs_by_group
from cartsim.params.draws import draw_parameters
from cartsim.params.population import FIGURES, Sourced, population_data
from cartsim.scenario.budget import PLAN, BudgetSpec
from cartsim.scenario.model import Scenario
from cartsim.study.budget_tables import budget_tables
from cartsim.study.result import Manifest, RunResult, Tabled, scenario_manifest
from cartsim.study.runner import Runner
from cartsim.table import Table


@dataclass(frozen=True)
class GroupPopulation:
    """One disease group's eligible patients and the figures they come from (None for a
    figure not used: ``eligible`` given outright)."""

    group: str
    figures: Mapping[str, Sourced | None]
    eligible: float


@dataclass(frozen=True)
class BudgetInputs:
    population_name: str
    population: float
    population_source: str
    members: float
    """The PMPM denominator: the plan's members, or the country's residents."""
    years: int
    uptake: tuple[float, ...]
    uptake_source: str
    mix: Mapping[str, float]
    groups: tuple[GroupPopulation, ...]


@dataclass(frozen=True)
class BudgetResult(Tabled):
    """Yearly spend (rows: years 1..Y; columns: ``COST_CATEGORIES``) of the patients newly
    treated: ``current`` on the comparator, ``new[strategy]`` under the mix; with PSA,
    ``impact_draws`` (draws x years) of the total impact."""

    scenario: Scenario
    inputs: BudgetInputs
    treated: Mapping[str, np.ndarray]
    current: np.ndarray
    new: Mapping[str, np.ndarray]
    impact_draws: np.ndarray | None = None
    all_tables: tuple[Table, ...] = ()
    manifest: Manifest | None = None

    @property
    def impact(self) -> np.ndarray:
        """Total budget impact (new minus current) in each year."""
        return sum(self.new.values(), np.zeros_like(self.current)).sum(axis=1) - \
            self.current.sum(axis=1)


def budget_inputs(scenario: Scenario, groups: tuple[str, ...]) -> BudgetInputs:
    """The shipped figures with the scenario's ``[budget]`` replacements, for the patient
    groups simulated."""
    spec = scenario.budget or BudgetSpec()
    data = population_data()
    if spec.population == PLAN:
        name, population, source = PLAN, float(spec.plan_members), "[budget] plan_members"
    else:
        country = data.countries[spec.population]
        name, population, source = spec.population, country.value, country.source
    comparator = scenario.run.comparator
    new = [s for s in scenario.strategies if s != comparator]
    mix = dict(spec.mix) if spec.mix else {s: 1.0 / len(new) for s in new}
    uptake = spec.uptake or data.uptake[:spec.years]
    uptake_source = "[budget] uptake" if spec.uptake else data.uptake_source
    rows = []
    for g in groups:
        given = spec.groups.get(g, {})
        if "eligible" in given:
            rows.append(GroupPopulation(g, dict.fromkeys(FIGURES), given["eligible"]))
            continue
        shipped = data.diseases.get(g)
        if shipped is None:
            msg = f"no eligible-population figures for group {g!r}: give [budget.{g}] eligible"
            raise UsageError(msg)
        figures = {f: (Sourced(given[f], "[budget] " + g, "scenario") if f in given
                       else shipped[f]) for f in FIGURES}
        values = [f.value for f in figures.values() if f is not None]
        rows.append(GroupPopulation(g, figures, eligible_patients(population, *values)))
    return BudgetInputs(name, population, source,
                        float(spec.plan_members) if spec.population == PLAN else population,
                        spec.years, tuple(uptake), uptake_source, mix, tuple(rows))


def group_curves(result: RunResult, years: int) -> dict[str, dict[str, np.ndarray]]:
    """Mean undiscounted cost per patient who started, by strategy, group, year since the
    start (``years`` rows) and category, from the run's event logs (kept for this)."""
    out: dict[str, dict[str, np.ndarray]] = {}
    members = np.array(result.cohort.group)
    factor = result.scenario.run.cost_factor
    for s, model in result.models.items():
        if s not in result.logs:
            msg = "a budget needs the run's event logs (keep_logs=True)"
            raise ValueError(msg)
        sums = annual_costs_by_group(result.logs[s], model.valuations, result.cohort.group,
                                     years, factor)
        out[s] = {g: x / n for g, x in sums.items()
                  if (n := int(np.count_nonzero(members == g)))}
    return out


def spend(inputs: BudgetInputs, curves: Mapping[str, Mapping[str, np.ndarray]],
          comparator: str) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    """Newly treated per group, and the yearly spend by category: current, new by strategy."""
    treated = {g.group: newly_treated(g.eligible, inputs.uptake) for g in inputs.groups}
    first = curves[comparator][inputs.groups[0].group]
    current = np.zeros((inputs.years, first.shape[1]))
    new = {s: np.zeros_like(current) for s in inputs.mix}
    for g, t in treated.items():
        current += yearly_spend(t, curves[comparator][g])
        for s, share in inputs.mix.items():
            new[s] += yearly_spend(share * t, curves[s][g])
    return treated, current, new


def budget(scenario: Scenario, *, patients: int | None = None, seed: int | None = None,
           engine: str = "compiled", psa_draws: int = 0, workers: int = 1,
           progress: Callable[[int], None] | None = None) -> BudgetResult:
    """The budget impact of the scenario's new strategies (see the module notes)."""
    if not 0 <= psa_draws <= MAX_DRAWS:
        msg = f"--psa-draws must be between 0 and {MAX_DRAWS:,}; got {psa_draws}"
        raise UsageError(msg)
    runner = Runner(scenario, patients=patients, seed=seed, engine=engine, workers=workers)
    result = next(runner.evaluate([None], keep_logs=True, progress=progress))
    inputs = budget_inputs(scenario, result.cohort.groups())
    comparator = scenario.run.comparator
    treated, current, new = spend(inputs, group_curves(result, inputs.years), comparator)
    draws = None
    if psa_draws:
        ks = list(range(1, psa_draws + 1))
        table = draw_parameters(scenario.parameters, ks, runner.seed,
                                scenario.probability_sets, scenario.joint)
        rows = []
        for i, k in enumerate(ks):
            r = next(runner.evaluate([table.at(i)], draw=k, keep_logs=True, progress=progress))
            _, cur, nw = spend(inputs, group_curves(r, inputs.years), comparator)
            rows.append(sum(nw.values(), np.zeros_like(cur)).sum(axis=1) - cur.sum(axis=1))
        draws = np.array(rows)
    out = BudgetResult(scenario, inputs, treated, current, new, draws)
    manifest = scenario_manifest(
        scenario, result.rates, command="budget", seed=result.seed,
        sizes={"patients": result.cohort.n, "strategies": len(result.strategies),
               "years": inputs.years, "psa_draws": psa_draws},
        engine=result.engine, simulations=runner.simulations,
        evaluations=runner.evaluations,
        settings={"patients": result.cohort.n, "seed": result.seed,
                  "budget_population": inputs.population_name,
                  "budget_members": inputs.members, "budget_years": inputs.years,
                  "budget_uptake": list(inputs.uptake), "budget_mix": dict(inputs.mix),
                  "eligible": {g.group: g.eligible for g in inputs.groups},
                  "eligible_total": math.fsum(g.eligible for g in inputs.groups)})
    return dataclasses.replace(out, all_tables=tuple(budget_tables(out)), manifest=manifest)
