"""The Python API for notebooks: the same studies the command line runs.

Each function takes a scenario (a path to a TOML file, or a ``Scenario`` from
:func:`load_scenario`) and the command's options as keywords, and returns a
frozen result that holds the study's arrays and its tables:
``result.tables()`` lists them, ``result.table(name)`` gives one (tidy rows,
decoded labels) and ``result.to_pandas(name)`` a DataFrame (with the optional
``pandas`` extra). ``overrides`` are ``--set`` items. Nothing is printed or
written; ``cartsim.report`` can write a result's folder.

>>> import cartsim
>>> result = cartsim.run(cartsim.example_scenario(), patients=200)
>>> result.table("summary").column("strategy")
('cart', 'immunosuppression')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from cartsim.scenario.load import example_scenario, load_scenario
from cartsim.scenario.model import Scenario
from cartsim.study import budget as budget_study
from cartsim.study import capacity as capacity_study
from cartsim.study import compare as compare_study
from cartsim.study import dsa as dsa_study
from cartsim.study import psa as psa_study
from cartsim.study import run as run_study
from cartsim.study import threshold as threshold_study
from cartsim.study import validate as validate_study
from cartsim.study.budget import BudgetResult
from cartsim.study.capacity import CapacityResult
from cartsim.study.compare import ComparisonResult
from cartsim.study.dsa import OneWayResult, SweepResult
from cartsim.study.psa import Population, PsaResult
from cartsim.study.result import RunResult
from cartsim.study.runner import run_scenario
from cartsim.study.threshold import ThresholdResult
from cartsim.study.validate import ValidationResult

__all__ = ["budget", "capacity", "compare", "dsa", "example_scenario", "load_scenario", "psa",
           "run", "run_scenario", "sweep", "threshold", "validate"]
ScenarioLike = str | Path | Scenario
Progress = Callable[[int], None] | None


def scenario_of(scenario: ScenarioLike, overrides: Sequence[str] = ()) -> Scenario:
    """A validated scenario: ``scenario`` itself, or the file it names, with ``overrides``.

    >>> scenario_of(example_scenario(), ["run.seed=3"]).run.seed
    3
    """
    if isinstance(scenario, Scenario):
        if not overrides:
            return scenario
        return load_scenario(scenario.source, (*scenario.overrides, *overrides))
    return load_scenario(scenario, overrides)


def run(scenario: ScenarioLike, *, overrides: Sequence[str] = (), patients: int | None = None,
        seed: int | None = None, engine: str = "compiled",
        common_random_numbers: bool = True, trace: bool = False, workers: int = 1,
        progress: Progress = None) -> RunResult:
    """Simulate every strategy once and make a run's tables (``cartsim run``).

    >>> result = run(example_scenario(), patients=200, overrides=["run.wtp=[20000]"])
    >>> "inmb_20000" in result.table("summary").columns
    True
    """
    return run_study.run(scenario_of(scenario, overrides), patients=patients, seed=seed,
                         engine=engine, common_random_numbers=common_random_numbers,
                         trace=trace, workers=workers, progress=progress)


def psa(scenario: ScenarioLike, *, draws: int = 1000, patients: int = 1000,
        overrides: Sequence[str] = (), seed: int | None = None, workers: int = 1,
        engine: str = "compiled", scheduler: str | None = None,
        population: float | None = None, population_years: float | None = None) -> PsaResult:
    """Probabilistic sensitivity analysis (``cartsim psa``): draws, CEAC, EVPI, EVPPI.

    ``population`` (patients, or patients a year for ``population_years`` years)
    adds population EVPI.

    >>> result = psa(example_scenario(), draws=10, patients=100)
    >>> result.table("psa").rows[0][0], len(result.results)
    (1, 10)
    """
    s = scenario_of(scenario, overrides)
    people = None if population is None else Population(
        population, population_years,
        psa_study.annual_discount(s.run.discount_costs, s.run.convention))
    return psa_study.run_psa(s, draws=draws, patients=patients, seed=seed, workers=workers,
                             engine=engine, scheduler=scheduler, population=people)


def dsa(scenario: ScenarioLike, *, parameters: Sequence[str] | None = None,
        overrides: Sequence[str] = (), patients: int | None = None, seed: int | None = None,
        engine: str = "compiled", progress: Progress = None) -> OneWayResult:
    """One-way sensitivity analysis (``cartsim dsa``): each parameter (or each of
    ``parameters``) at its low and high value; the tornado's order.

    >>> result = dsa(example_scenario(), patients=200)
    >>> result.table("tornado").column("rank")
    (1, 2, 3, 4, 5, 6, 7)
    """
    return dsa_study.one_way(scenario_of(scenario, overrides), patients=patients, seed=seed,
                             engine=engine, names=parameters, progress=progress)


def sweep(scenario: ScenarioLike, grid: Mapping[str, Sequence[float]], *,
          overrides: Sequence[str] = (), patients: int | None = None, seed: int | None = None,
          engine: str = "compiled", progress: Progress = None) -> SweepResult:
    """Every combination of ``grid``'s values, in their given units (``cartsim sweep``).

    >>> rate = "strategies.cart.states.remission.transitions.relapse.rate"
    >>> result = sweep(example_scenario(), {rate: [0.05, 0.1, 0.2]}, patients=200)
    >>> len(result.table("sweep").rows)
    3
    """
    return dsa_study.sweep(scenario_of(scenario, overrides), grid, patients=patients, seed=seed,
                           engine=engine, progress=progress)


def threshold(scenario: ScenarioLike, parameter: str, *, wtp: Sequence[float] | None = None,
              lower: float | None = None, upper: float | None = None,
              psa_draws: int | None = None, workers: int = 1, overrides: Sequence[str] = (),
              patients: int | None = None, seed: int | None = None,
              engine: str = "compiled") -> ThresholdResult:
    """The value of ``parameter`` at which INMB = 0 at each WTP (``cartsim threshold``),
    and with ``psa_draws`` its distribution over PSA draws.

    >>> price = "strategies.cart.upfront_cost.product"
    >>> result = threshold(example_scenario(), price, wtp=[100000], patients=200)
    >>> result.table("threshold").column("status")
    ('cost-effective below the threshold',)
    """
    s = scenario_of(scenario, overrides)
    lams = s.run.wtp if wtp is None else tuple(wtp)
    single = threshold_study.threshold(s, parameter, wtp=lams, lower=lower, upper=upper,
                                       patients=patients, seed=seed, engine=engine)
    if psa_draws is None:
        return single
    spread = threshold_study.threshold_draws(s, parameter, wtp=lams, draws=psa_draws,
                                             lower=lower, upper=upper, patients=patients,
                                             seed=seed, engine=engine, workers=workers)
    return threshold_study.with_draws(s, single, spread)


def compare(scenarios: Sequence[ScenarioLike], *, overrides: Sequence[str] = (),
            patients: int | None = None, seed: int | None = None,
            engine: str = "compiled") -> ComparisonResult:
    """Several scenarios on the same patients, side by side (``cartsim compare``).

    >>> cheaper = example_scenario(["strategies.cart.upfront_cost.product=200000"])
    >>> result = compare([example_scenario(), cheaper], patients=200)
    >>> [round(x) for x in result.table("compare").column("change_inc_cost")]
    [0, -150000]
    """
    paths = [s for s in scenarios if not isinstance(s, Scenario)]
    if len(paths) == len(scenarios):
        loaded = compare_study.load_comparable([Path(p) for p in paths], overrides)
    else:
        loaded = [scenario_of(s, overrides) for s in scenarios]
        compare_study.check_comparable(loaded)
    return compare_study.compare_scenarios(loaded, patients=patients, seed=seed, engine=engine)


def validate(scenario: ScenarioLike, *, replicates: int = 1000, uncertainty: bool = False,
             overrides: Sequence[str] = (), seed: int | None = None) -> ValidationResult:
    """Simulated series like the Müller 2024 case series against it (``cartsim validate``).

    >>> result = validate("scenarios/case_series.toml", replicates=50)
    >>> result.table("validation").column("fact")[:2]
    ('patients', 'response_sle')
    """
    return validate_study.validate_case_series(scenario_of(scenario, overrides),
                                               replicates=replicates, seed=seed,
                                               uncertainty=uncertainty)


def capacity(scenario: ScenarioLike, *, replications: int | None = None,
             overrides: Sequence[str] = (), seed: int | None = None) -> CapacityResult:
    """A programme whose referrals queue for limited capacity (``cartsim capacity``).

    >>> result = capacity("scenarios/capacity.toml", replications=2)
    >>> result.table("capacity_outcomes").column("arm")
    ('immunosuppression', 'car_t', 'car_t_unconstrained')
    """
    return capacity_study.capacity(scenario_of(scenario, overrides),
                                   replications=replications, seed=seed)


def budget(scenario: ScenarioLike, *, overrides: Sequence[str] = (), patients: int | None = None,
           seed: int | None = None, psa_draws: int = 0) -> BudgetResult:
    """Budget impact of the new strategies (``cartsim budget``): eligible patients, uptake,
    undiscounted yearly spend by category and per member per month.

    >>> result = budget("scenarios/budget_plan.toml", patients=200)
    >>> result.table("budget_summary").column("year")
    (1, 2, 3, 4, 5)
    """
    return budget_study.budget(scenario_of(scenario, overrides), patients=patients, seed=seed,
                               psa_draws=psa_draws)
