"""Probabilistic sensitivity analysis: every parameter draw simulated on its own streams.

For draw k the parameter values are ``draw_parameters(..., [k])`` and the
patients' random numbers are the streams of draw k, so draw k's result is a
pure function of (scenario, seed, k, patients): the same for any number of
draws, any number of workers and any order of execution. The cohort (ages,
sexes, diseases) is the same in every draw.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from cartsim.api import run_scenario
from cartsim.errors import SimulationError, UsageError
from cartsim.params.draws import ParameterDraws, draw_parameters
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
                              engine=engine)
    except Exception as err:
        msg = f"PSA draw {k} (seed {seed}) failed: {type(err).__name__}: {err}"
        raise SimulationError(msg) from err
    means = {s: {m: float(np.mean(o[m])) for m in MEASURES} for s, o in result.outcomes.items()}
    var = {s: float(np.var(o["qaly"], ddof=1)) if o.n > 1 else 0.0
           for s, o in result.outcomes.items()}
    return DrawResult(k, means, var)


def _worker(args: tuple[Scenario, list[int], list[dict[str, float]], int, int, str]
            ) -> list[DrawResult]:
    scenario, ks, values, patients, seed, engine = args
    return [simulate_draw(scenario, k, v, patients, seed, engine)
            for k, v in zip(ks, values, strict=True)]


def _ignore_interrupts() -> None:
    # Workers leave Ctrl-C to the parent, which stops the pool (cpython #125886).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_psa(scenario: Scenario, *, draws: int, patients: int | None = None,
            seed: int | None = None, workers: int = 1, engine: str = "vectorised",
            done: Mapping[int, DrawResult] | None = None,
            on_results: Callable[[list[DrawResult]], None] | None = None) -> PsaResult:
    """Simulate draws 1..``draws``; ``workers`` > 1 spreads them over processes.

    ``done`` holds draws already simulated (from a checkpoint): only the missing
    ones are run. ``on_results`` is called with each batch of finished draws as
    it arrives (to checkpoint them). On Ctrl-C the worker processes are
    terminated before ``KeyboardInterrupt`` propagates.
    """
    if not 1 <= draws <= MAX_DRAWS:
        msg = f"--draws must be between 1 and {MAX_DRAWS:,}; got {draws}"
        raise UsageError(msg)
    if workers < 1 or workers > (os.cpu_count() or 1) * 4:
        msg = f"--workers must be between 1 and {(os.cpu_count() or 1) * 4}; got {workers}"
        raise UsageError(msg)
    n = patients if patients is not None else scenario.run.patients
    root = seed if seed is not None else scenario.run.seed
    ks = list(range(1, draws + 1))
    table = draw_parameters(scenario.parameters, ks, root, scenario.probability_sets)
    results: dict[int, DrawResult] = {k: r for k, r in (done or {}).items() if k in set(ks)}
    todo = [j for j, k in enumerate(ks) if k not in results]
    size = max(1, min(64, len(todo) // (workers * 4) or 1))
    jobs = [(scenario, [ks[j] for j in todo[i:i + size]],
             [table.at(j) for j in todo[i:i + size]], n, root, engine)
            for i in range(0, len(todo), size)]

    def collect(batch: list[DrawResult]) -> None:
        for r in batch:
            results[r.draw] = r
        if on_results:
            on_results(batch)

    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            collect(_worker(job))
    else:
        pool = multiprocessing.get_context("fork").Pool(workers, initializer=_ignore_interrupts)
        try:
            for batch in pool.imap_unordered(_worker, jobs):
                collect(batch)
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
    ordered = tuple(results[k] for k in ks)  # reduce in draw order, whatever the workers
    return PsaResult(scenario, scenario.strategies, table, n, root, engine, ordered)
