"""The PSA study (``cartsim psa``): every parameter draw simulated on its own streams.

For draw k the parameter values are ``draw_parameters(..., [k])`` and the
patients' random numbers are the streams of draw k, so draw k's result is a
pure function of (scenario, seed, k, patients): the same for any number of
draws, any number of workers and any order of execution. The cohort (ages,
sexes, diseases) is the same in every draw. Every draw changes the pathways, so
each is its own simulation of every strategy; the deterministic base case
(point values, draw 0) is one more.

Draws run in chunks on local processes or on a Dask cluster
(:mod:`cartsim.study.parallel`); a chunk carries the validated, frozen scenario
and the draw ids, draws its parameter values where it runs, and comes back as
per-draw means, so a cluster gives byte-identical tables. The analysis of the
draws (CE plane, CEAC/CEAF, EVPI, EVPPI, variance split) is in
:mod:`cartsim.analysis.psa` and :mod:`cartsim.analysis.voi`;
:mod:`cartsim.study.psa_tables` makes the tables; the command is :mod:`cartsim.cli.psa`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass

import numpy as np

from cartsim.analysis.psa import population_evpi
from cartsim.errors import SimulationError, UsageError
from cartsim.limits import MAX_DRAWS
from cartsim.params.draws import ParameterDraws, draw_parameters, merge_draws
from cartsim.params.structural import draw_structural, text_choices
from cartsim.scenario.model import Scenario
from cartsim.study.input_tables import correlations_table, parameters_table
from cartsim.study.parallel import check_workers, chunk_size, parallel_map
from cartsim.study.prepare import discount_rates
from cartsim.study.psa_tables import psa_tables
from cartsim.study.result import Manifest, Tabled, scenario_manifest
from cartsim.study.runner import DrawError, Runner
from cartsim.table import Table

FAULT_ENV = "CARTSIM_FAULT_INJECT"
"""Test hook: ``draw:<k>`` makes draw k fail, to prove a failing draw stops the run."""
MEASURES = ("cost", "qaly", "ly")


@dataclass(frozen=True)
class DrawResult:
    """Per-strategy means of one draw, and the within-draw variance of QALYs."""

    draw: int
    means: dict[str, dict[str, float]]
    qaly_var: dict[str, float]


@dataclass(frozen=True)
class Population:
    """Who the decision affects: ``patients`` in all, or a year for ``years`` years,
    each later year's patients discounted at the annual ``discount``."""

    patients: float
    years: float | None = None
    discount: float = 0.0

    def describe(self) -> str:
        if self.years is None:
            return (f"evpi_population = evpi_per_patient x {self.patients:g} patients (the "
                    "population whose treatment the decision affects; undiscounted).")
        annuity = population_evpi([1.0], 1.0, self.years, self.discount)[0]
        return (f"evpi_population = evpi_per_patient x {self.patients:g} patients a year x "
                f"{annuity:.6g}, the annuity factor sum over t = 1..{self.years:g} of "
                f"(1 + {self.discount:g})^-t (each year's patients discounted by whole years "
                "at the cost discount rate, end-of-year convention).")


def annual_discount(rate: float, convention: str) -> float:
    """The annual-equivalent rate of a scenario's cost discount rate."""
    return math.expm1(rate) if convention == "continuous" else rate


@dataclass(frozen=True)
class PsaResult(Tabled):
    """The draws' means, the base case beside them, and the PSA's tables."""

    scenario: Scenario
    strategies: tuple[str, ...]
    draws: ParameterDraws
    patients: int
    seed: int
    engine: str
    results: tuple[DrawResult, ...]
    base: DrawResult | None = None
    """The deterministic base case (point values, draw 0's random numbers) on the same
    number of patients, to set beside the probabilistic means."""
    population: Population | None = None
    all_tables: tuple[Table, ...] = ()
    manifest: Manifest | None = None

    def matrix(self, measure: str) -> np.ndarray:
        """(draws, strategies) array of a per-draw mean."""
        return np.array([[r.means[s][measure] for s in self.strategies] for r in self.results])

    def within_variance(self) -> np.ndarray:
        return np.array([[r.qaly_var[s] for s in self.strategies] for r in self.results])


def simulate_draws(scenario: Scenario, ks: Sequence[int],
                   values: Callable[[int], Mapping[str, float]], *, patients: int, seed: int,
                   engine: str, choices: Callable[[int], Mapping[str, str]] | None = None
                   ) -> tuple[list[DrawResult], int]:
    """Draws ``ks``: each draw's cohort simulated under every strategy at ``values(j)``
    (j its position in ``ks``) and with the text choices ``choices(j)`` (its structural
    options), the runner simulating the draws in batches
    (:meth:`~cartsim.study.runner.Runner.evaluate_draws`), each reduced to per-draw
    means at once; and the engine passes made. Draws are handed to the runner grouped
    by pathway structure (their text choices; a draw's result does not depend on its
    batch) and come back in the order of ``ks``. A failing draw stops the run, naming
    the draw and the seed."""
    for k in ks:
        if os.environ.get(FAULT_ENV) == f"draw:{k}":  # test-only fault injection
            msg = f"PSA draw {k} (seed {seed}) failed: RuntimeError: injected fault"
            raise SimulationError(msg)
    picked = [dict(choices(j)) if choices is not None else {} for j in range(len(ks))]
    order = sorted(range(len(ks)), key=lambda j: sorted(picked[j].items()))  # stable
    out: dict[int, DrawResult] = {}
    try:
        runner = Runner(scenario, patients=patients, seed=seed, engine=engine)
        results = runner.evaluate_draws([(ks[j], values(j)) for j in order],
                                        [picked[j] for j in order])
        for j, result in zip(order, results, strict=True):  # each reduced as it comes
            means = {s: {m: float(np.mean(o[m])) for m in MEASURES}
                     for s, o in result.outcomes.items()}
            var = {s: float(np.var(o["qaly"], ddof=1)) if o.n > 1 else 0.0
                   for s, o in result.outcomes.items()}
            out[j] = DrawResult(ks[j], means, var)
    except DrawError as err:
        cause = err.__cause__
        msg = f"PSA {err} (seed {seed}) failed: {type(cause).__name__}: {cause}"
        raise SimulationError(msg) from cause
    except Exception as err:
        msg = f"PSA draw {ks[0]} (seed {seed}) failed: {type(err).__name__}: {err}"
        raise SimulationError(msg) from err
    return [out[j] for j in range(len(ks))], runner.simulations


def draw_values(scenario: Scenario, ks: Sequence[int], seed: int) -> ParameterDraws:
    """Parameter values and structural options of draws ``ks`` (each a function of the
    seed, k and the scenario)."""
    return draw_structural(draw_parameters(scenario.parameters, ks, seed,
                                           scenario.probability_sets, scenario.joint),
                           scenario.structural, seed)


def _worker(args: tuple[Scenario, list[int], int, int, str]
            ) -> tuple[list[DrawResult], ParameterDraws, int]:
    # Values are drawn where the draws run: a cluster of many workers would otherwise
    # wait for the parent to draw them one by one.
    scenario, ks, patients, seed, engine = args
    table = draw_values(scenario, ks, seed)
    results, simulations = simulate_draws(
        scenario, ks, table.at, patients=patients, seed=seed, engine=engine,
        choices=lambda j: text_choices(table, scenario.structural, j))
    return results, table, simulations


def run_psa(scenario: Scenario, *, draws: int, patients: int | None = None,
            seed: int | None = None, workers: int = 1, engine: str = "compiled",
            done: Mapping[int, DrawResult] | None = None,
            on_results: Callable[[list[DrawResult]], None] | None = None,
            scheduler: str | None = None, population: Population | None = None
            ) -> PsaResult:
    """Simulate draws 1..``draws`` and make the PSA's tables.

    ``workers`` > 1 spreads the draws over processes, and ``scheduler`` (a Dask
    scheduler address) over a Dask cluster instead. ``done`` holds draws already
    simulated (from a checkpoint): only the missing ones are run. ``on_results`` is
    called with each batch of finished draws as it arrives (to checkpoint them). On
    Ctrl-C the worker processes are terminated (or the cluster's tasks cancelled)
    before ``KeyboardInterrupt`` propagates. ``population`` adds population EVPI.

    Examples
    --------
    >>> from cartsim.scenario.load import example_scenario
    >>> psa = run_psa(example_scenario(), draws=20, patients=100)
    >>> psa.matrix("qaly").shape, psa.tables()[:3]
    ((20, 2), ('psa_summary', 'psa', 'ceac'))
    """
    if not 1 <= draws <= MAX_DRAWS:
        msg = f"--draws must be between 1 and {MAX_DRAWS:,}; got {draws}"
        raise UsageError(msg)
    check_workers(workers)
    n = patients if patients is not None else scenario.run.patients
    root = seed if seed is not None else scenario.run.seed
    ks = list(range(1, draws + 1))
    results: dict[int, DrawResult] = {k: r for k, r in (done or {}).items() if k <= draws}
    resumed = len(results)
    todo = [k for k in ks if k not in results]
    parts = [draw_values(scenario, sorted(results), root)] if results else []
    simulations = 0
    if engine == "compiled" and scheduler is None and workers > 1 and todo:
        from cartsim.engine.compiled import warm_up

        warm_up()  # compile (or load) the kernel once, before the workers fork
    with parallel_map(workers, scheduler) as (slots, mapper):
        size = chunk_size(len(todo), slots)
        jobs = [(scenario, todo[i:i + size], n, root, engine)
                for i in range(0, len(todo), size)]
        with closing(mapper(_worker, jobs)) as batches:
            for batch, part, made in batches:
                for r in batch:
                    results[r.draw] = r
                parts.append(part)
                simulations += made
                if on_results:
                    on_results(batch)
    ordered = tuple(results[k] for k in ks)  # reduce in draw order, whatever the workers
    base, made = simulate_draws(scenario, [0], lambda _j: scenario.point_values(),
                                patients=n, seed=root, engine=engine)
    result = PsaResult(scenario, scenario.strategies, merge_draws(parts, ks), n, root, engine,
                       ordered, base[0], population)
    # Every draw moves every pathway: one evaluation per simulation of all strategies.
    # The EVPPI fits share the local workers too (a cluster's are not worth the trip).
    return _with_tables(result, resumed, simulations + made, len(todo) + 1,
                        workers if scheduler is None else 1)


def _with_tables(res: PsaResult, resumed: int, simulations: int, evaluations: int,
                 workers: int = 1) -> PsaResult:
    scenario, joint = res.scenario, res.scenario.joint
    extra: dict[str, object] = {"clipped_draws": dict(res.draws.clipped),
                                "rescaled_probability_sets": res.draws.rescaled_sets,
                                "resumed_from_checkpoint": resumed}
    if joint:
        extra["joint_draws"] = {
            "correlations": [{"params": [c.first, c.second], "rho": c.rho}
                             for c in joint.correlations],
            "dirichlet": [{"params": list(d.names), "alphas": list(d.distribution.alphas),
                           "remainder": d.remainder} for d in joint.dirichlet],
            "not_applied": list(joint.notes)}
    if res.population is not None:
        p = res.population
        extra["population"] = {"patients": p.patients, "years": p.years,
                               "annual_discount": p.discount if p.years else None}
    inputs = [parameters_table(scenario), *([correlations_table(scenario)] if joint else [])]
    manifest = scenario_manifest(
        scenario, discount_rates(scenario), command="psa", seed=res.seed,
        sizes={"patients": res.patients, "iterations": len(res.results),
               "strategies": len(res.strategies)},
        engine=res.engine, simulations=simulations, evaluations=evaluations, extra=extra)
    tables = psa_tables(res, res.population, workers)
    return dataclasses.replace(res, all_tables=(*tables, *inputs), manifest=manifest)
