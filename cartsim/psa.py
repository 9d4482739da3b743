"""Probabilistic sensitivity analysis: every parameter draw simulated on its own streams.

For draw k the parameter values are ``draw_parameters(..., [k])`` and the
patients' random numbers are the streams of draw k, so draw k's result is a
pure function of (scenario, seed, k, patients): the same for any number of
draws, any number of workers and any order of execution. The cohort (ages,
sexes, diseases) is the same in every draw.

Draws run in chunks on local processes or on a Dask cluster (``cartsim.parallel``);
a chunk carries the validated, frozen scenario, the draw ids and their parameter
values, and comes back as per-draw means, so a cluster gives byte-identical
tables. Parameters declared jointly (``scenario.joint``: correlations, Dirichlet
sets) are drawn by ``draw_parameters`` like any other.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass

import numpy as np

from cartsim.api import run_scenario
from cartsim.errors import SimulationError, UsageError
from cartsim.parallel import check_workers, chunk_size, parallel_map
from cartsim.params.draws import ParameterDraws, draw_parameters, merge_draws
from cartsim.scenario.model import Scenario

MAX_DRAWS = 1_000_000
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
class PsaResult:
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

    def matrix(self, measure: str) -> np.ndarray:
        """(draws, strategies) array of a per-draw mean."""
        return np.array([[r.means[s][measure] for s in self.strategies] for r in self.results])

    def within_variance(self) -> np.ndarray:
        return np.array([[r.qaly_var[s] for s in self.strategies] for r in self.results])


def simulate_draw(scenario: Scenario, k: int, values: dict[str, float], patients: int,
                  seed: int, engine: str) -> DrawResult:
    """One PSA draw: the cohort simulated under every strategy at these values."""
    try:
        if os.environ.get(FAULT_ENV) == f"draw:{k}":  # test-only fault injection
            msg = "injected fault"
            raise RuntimeError(msg)
        result = run_scenario(scenario, patients=patients, seed=seed, draw=k, values=values,
                              engine=engine, keep_logs=False, curves=False)
    except Exception as err:
        msg = f"PSA draw {k} (seed {seed}) failed: {type(err).__name__}: {err}"
        raise SimulationError(msg) from err
    means = {s: {m: float(np.mean(o[m])) for m in MEASURES} for s, o in result.outcomes.items()}
    var = {s: float(np.var(o["qaly"], ddof=1)) if o.n > 1 else 0.0
           for s, o in result.outcomes.items()}
    return DrawResult(k, means, var)


def draw_values(scenario: Scenario, ks: Sequence[int], seed: int) -> ParameterDraws:
    """Parameter values of draws ``ks`` (each a function of the seed, k and the scenario)."""
    return draw_parameters(scenario.parameters, ks, seed, scenario.probability_sets,
                           scenario.joint)


def _worker(args: tuple[Scenario, list[int], int, int, str]
            ) -> tuple[list[DrawResult], ParameterDraws]:
    # Values are drawn where the draws run: a cluster of many workers would otherwise
    # wait for the parent to draw them one by one.
    scenario, ks, patients, seed, engine = args
    table = draw_values(scenario, ks, seed)
    return [simulate_draw(scenario, k, table.at(j), patients, seed, engine)
            for j, k in enumerate(ks)], table


def run_psa(scenario: Scenario, *, draws: int, patients: int | None = None,
            seed: int | None = None, workers: int = 1, engine: str = "vectorised",
            done: Mapping[int, DrawResult] | None = None,
            on_results: Callable[[list[DrawResult]], None] | None = None,
            scheduler: str | None = None) -> PsaResult:
    """Simulate draws 1..``draws``; ``workers`` > 1 spreads them over processes, and
    ``scheduler`` (a Dask scheduler address) over a Dask cluster instead.

    ``done`` holds draws already simulated (from a checkpoint): only the missing
    ones are run. ``on_results`` is called with each batch of finished draws as
    it arrives (to checkpoint them). On Ctrl-C the worker processes are
    terminated (or the cluster's tasks cancelled) before ``KeyboardInterrupt``
    propagates.
    """
    if not 1 <= draws <= MAX_DRAWS:
        msg = f"--draws must be between 1 and {MAX_DRAWS:,}; got {draws}"
        raise UsageError(msg)
    check_workers(workers)
    n = patients if patients is not None else scenario.run.patients
    root = seed if seed is not None else scenario.run.seed
    ks = list(range(1, draws + 1))
    results: dict[int, DrawResult] = {k: r for k, r in (done or {}).items() if k <= draws}
    todo = [k for k in ks if k not in results]
    parts = [draw_values(scenario, sorted(results), root)] if results else []
    with parallel_map(workers, scheduler) as (slots, mapper):
        size = chunk_size(len(todo), slots)
        jobs = [(scenario, todo[i:i + size], n, root, engine)
                for i in range(0, len(todo), size)]
        with closing(mapper(_worker, jobs)) as batches:
            for batch, part in batches:
                for r in batch:
                    results[r.draw] = r
                parts.append(part)
                if on_results:
                    on_results(batch)
    ordered = tuple(results[k] for k in ks)  # reduce in draw order, whatever the workers
    base = simulate_draw(scenario, 0, scenario.point_values(), n, root, engine)
    return PsaResult(scenario, scenario.strategies, merge_draws(parts, ks), n, root, engine,
                     ordered, base)
