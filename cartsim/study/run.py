"""The run study (``cartsim run``): every strategy simulated once on one cohort, and
its tables.

:func:`run` evaluates the scenario at its point values (or its ``--set`` values)
through the runner and returns a :class:`~cartsim.study.result.RunResult` that
holds the per-patient arrays, the curves over time and every table of a run
(summary, costs, events, deaths, benefit-risk, subgroups, occupancy, one-time
therapy, parameters; with ``trace`` the per-patient tables too). The command is
:mod:`cartsim.cli.run`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from cartsim.cohort import describe_age, summarise_cohort
from cartsim.scenario.model import Scenario
from cartsim.study.input_tables import cohort_table, parameters_table
from cartsim.study.one_time_tables import one_time_tables
from cartsim.study.result import RunResult, scenario_manifest
from cartsim.study.run_tables import (
    benefit_risk_table,
    break_even,
    cost_composition_table,
    cost_over_time_table,
    costs_table,
    deaths_table,
    events_table,
    frontier_table,
    increments,
    state_occupancy_table,
    subgroups_table,
    summary_table,
)
from cartsim.study.runner import Runner
from cartsim.study.trace_tables import patients_table, trace_table
from cartsim.table import Table


def run(scenario: Scenario, *, patients: int | None = None, seed: int | None = None,
        engine: str = "compiled", common_random_numbers: bool = True, trace: bool = False,
        workers: int = 1, progress: Callable[[int], None] | None = None) -> RunResult:
    """Simulate every strategy of ``scenario`` once and make a run's tables.

    Parameters
    ----------
    scenario : Scenario
        Validated (``load_scenario``).
    patients, seed, engine, common_random_numbers, workers
        As for :class:`~cartsim.study.runner.Runner`.
    trace : bool
        Keep the event logs and add the ``patients`` and ``trace`` tables.
    progress : callable, optional
        ``progress(k)`` as each strategy finishes a chunk of k patients.

    Returns
    -------
    RunResult
        Per-patient outcomes, curves, tables and manifest.

    Examples
    --------
    >>> from cartsim.scenario.load import example_scenario
    >>> result = run(example_scenario(), patients=200)
    >>> result.tables()[:3]
    ('summary', 'frontier', 'costs')
    >>> result.table("summary").column("icer_status")
    ('more costly, more effective', 'comparator')
    """
    runner = Runner(scenario, patients=patients, seed=seed, engine=engine,
                    common_random_numbers=common_random_numbers, workers=workers)
    result = next(runner.evaluate([None], curves=True, keep_logs=trace, progress=progress))
    manifest = scenario_manifest(
        scenario, result.rates, command="run", seed=result.seed,
        sizes={"patients": result.cohort.n, "strategies": len(result.strategies),
               "iterations": 1},
        engine=result.engine, simulations=runner.simulations,
        evaluations=runner.evaluations,
        settings={"patients": result.cohort.n, "seed": result.seed,
                  "common_random_numbers": result.common_random_numbers,
                  "groups": list(result.cohort.groups())},
        extra={"cohort": cohort_record(result)})
    return dataclasses.replace(result, all_tables=tuple(run_tables(result, trace=trace)),
                               manifest=manifest, cohort_summary=cohort_table(result.cohort))


def run_tables(result: RunResult, *, trace: bool) -> list[Table]:
    """Every table of a run, in the order they are written."""
    incs = increments(result)
    grid, curves, offsets = break_even(result)
    tables = [
        summary_table(result, incs, offsets), frontier_table(result), costs_table(result, incs),
        cost_composition_table(result), events_table(result),
        deaths_table(result), benefit_risk_table(result), subgroups_table(result),
        cost_over_time_table(result, grid, curves), state_occupancy_table(result),
        *one_time_tables(result),
        parameters_table(result.scenario),
    ]
    if trace:
        tables += [patients_table(result), trace_table(result)]
    return tables


def cohort_record(result: RunResult) -> dict[str, object]:
    """run.json's ``cohort``: the patients simulated (per group and "all") and, for a
    sampled cohort, what the scenario specified, so the two can be set side by side."""
    spec = result.scenario.cohort
    record: dict[str, object] = {
        "source": "file" if spec.file is not None else "sampled",
        "file": spec.file.name if spec.file is not None else None,
        "patients": result.cohort.n,
        "groups": [dataclasses.asdict(g) for g in summarise_cohort(result.cohort)],
    }
    if spec.file is None:
        shares = spec.shares()
        record["specified"] = [{"group": g.name, "share": shares[g.name],
                                "age": describe_age(g.age), "female_share": g.female}
                               for g in spec.groups]
    return record
