"""The capacity study (``cartsim capacity``): a CAR-T programme whose referrals queue
for manufacturing slots, apheresis chairs and beds.

Patients of one programme share its resources, so they cannot be simulated one
chunk at a time: the simpy programme engine
(:func:`cartsim.engine.capacity.simulate_programme`) queues them and simulates
three arms on the same referred patients (conventional immunosuppression, CAR-T
with the capacity as given, CAR-T with unlimited capacity). This study values the
three logs (costs and QALYs are applied only here), summarises them with
:mod:`cartsim.analysis.capacity` and makes the tables
(:mod:`cartsim.study.capacity_tables`). The difference between the two CAR-T arms
is what waiting costs.

Layer views of capacity: the table :mod:`cartsim.scenario.capacity`, the queues
:mod:`cartsim.engine.capacity`, the summaries :mod:`cartsim.analysis.capacity`, the
command :mod:`cartsim.cli.capacity`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from cartsim.analysis.capacity import per_programme, summarise_waits
from cartsim.engine.capacity import PROGRESS_STEPS, TREATED, ProgrammeRun, simulate_programme
from cartsim.errors import Problem, ScenarioError
from cartsim.outcomes.accounting import PatientOutcomes, value_log
from cartsim.pathway.build import StrategyModel
from cartsim.scenario.load import load_scenario
from cartsim.scenario.model import Scenario
from cartsim.study.capacity_tables import (
    ARMS,
    DAYS,
    before_treatment,
    capacity_tables,
    estimate,
)
from cartsim.study.prepare import discount_rates, prepare
from cartsim.study.result import Manifest, Tabled, scenario_manifest
from cartsim.table import Table

__all__ = ["PROGRESS_STEPS", "CapacityResult", "Headline", "capacity", "check_capacity",
           "headline", "value_programme", "with_replications"]

@dataclass(frozen=True)
class Headline:
    """The few numbers shown after a capacity run; (mean, MCSE) pairs per referral."""

    treated_per_year: float
    mean_wait_days: float
    share_over_3_months: float
    extra_deaths: float
    qaly: tuple[float, float | None]
    cost: tuple[float, float | None]
    nmb: tuple[tuple[float, tuple[float, float | None]], ...]


@dataclass(frozen=True)
class CapacityResult(Tabled):
    """A programme run, its arms valued per patient, its headline and its tables."""

    scenario: Scenario
    run: ProgrammeRun
    outcomes: Mapping[str, PatientOutcomes]
    labels: Mapping[str, str]
    headline: Headline | None = None
    all_tables: tuple[Table, ...] = ()
    manifest: Manifest | None = None


def check_capacity(scenario: Scenario) -> None:
    """ScenarioError unless the scenario has a ``[capacity]`` table."""
    if scenario.capacity is None:
        raise ScenarioError(scenario.source, [Problem(
            "capacity", "missing (this command needs a [capacity] table)", None,
            "see scenarios/capacity.toml for one, or add `extends` to a file that has one",
            has_value=False)])


def with_replications(scenario: Scenario, replications: int | None) -> Scenario:
    """The scenario with ``capacity.replications`` set (as if given with --set; run.json
    keeps the overrides the user gave)."""
    if replications is None:
        return scenario
    again = load_scenario(scenario.source,
                          (*scenario.overrides, f"capacity.replications={replications}"))
    return dataclasses.replace(again, overrides=scenario.overrides)


def capacity(scenario: Scenario, *, replications: int | None = None, seed: int | None = None,
             progress: Callable[[int], None] | None = None) -> CapacityResult:
    """Simulate the scenario's programme (its ``[capacity]`` table) and value its arms.

    ``replications`` overrides ``capacity.replications`` (independent programmes);
    ``progress(1)`` after each of the programme engine's stages.
    """
    check_capacity(scenario)
    scenario = with_replications(scenario, replications)
    models, life_table = prepare(scenario)
    root = seed if seed is not None else scenario.run.seed
    run = simulate_programme(scenario, models, life_table, seed=root, progress=progress)
    result = value_programme(scenario, models, run)
    result = dataclasses.replace(result, headline=headline(result))
    spec = run.capacity
    manifest = scenario_manifest(
        scenario, discount_rates(scenario), command="capacity", seed=run.seed,
        sizes={"patients": run.cohort.n, "replications": spec.replications, "strategies": 3},
        # The engine passes: each patient's bridging exit, then the three arms.
        engine="simpy", simulations=len(run.logs) + 1, evaluations=1,
        settings={"seed": run.seed, "replications": spec.replications,
                  "referred": run.cohort.n, "arms": list(ARMS),
                  "referral_years": spec.arrivals.years})
    return dataclasses.replace(result, all_tables=tuple(capacity_tables(result)),
                               manifest=manifest)


def value_programme(scenario: Scenario, models: Mapping[str, StrategyModel],
                    run: ProgrammeRun) -> CapacityResult:
    """Value each arm's event log (costs and QALYs are applied only here)."""
    rates = discount_rates(scenario)
    outcomes, labels = {}, {}
    for arm in ARMS:
        model = models["immunosuppression" if arm == "immunosuppression" else "car_t"]
        outcomes[arm] = value_log(run.logs[arm], model.pathways, model.valuations,
                                  run.cohort.group, rates, scenario.run.cost_factor,
                                  age=run.cohort.age, female=run.cohort.female)
        labels[arm] = model.label + {"car_t": ", capacity as given",
                                     "car_t_unconstrained": ", unlimited capacity"}.get(arm, "")
    return CapacityResult(scenario, run, outcomes, labels)


def headline(result: CapacityResult) -> Headline:
    """Treated per year, waits, extra deaths, and QALYs, cost and net benefit lost to
    waiting per referral (capacity as given minus unlimited)."""
    run, q = result.run, result.run.constrained
    reps = run.capacity.replications
    treated = q.end == TREATED
    waits = summarise_waits(q.wait.sum(axis=0)[treated], run.replication[treated], reps)
    given, free = result.outcomes["car_t"], result.outcomes["car_t_unconstrained"]
    died = estimate(before_treatment(result, "car_t", "death")
                    - before_treatment(result, "car_t_unconstrained", "death"), result)[0]
    years = run.capacity.arrivals.years
    per_year = per_programme(np.isfinite(q.infusion) & (q.infusion < years), run.replication,
                             reps).mean / years
    nmb = tuple((lam, estimate(lam * (given["qaly"] - free["qaly"])
                               - (given["cost"] - free["cost"]), result))
                for lam in result.scenario.run.wtp[:1])
    return Headline(per_year, waits.mean.mean * DAYS if waits.mean else 0,
                    waits.share_over[1] or 0, died,
                    estimate(given["qaly"] - free["qaly"], result),
                    estimate(given["cost"] - free["cost"], result), nmb)
