"""Probabilistic sensitivity analysis: every parameter draw simulated on its own streams.

For draw k the parameter values are ``draw_parameters(..., [k])`` and the
patients' random numbers are the streams of draw k, so draw k's result is a
pure function of (scenario, seed, k, patients): the same for any number of
draws, any number of workers and any order of execution. The cohort (ages,
sexes, diseases) is the same in every draw.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
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


def run_psa(scenario: Scenario, *, draws: int, patients: int | None = None,
            seed: int | None = None, workers: int = 1, engine: str = "vectorised",
            progress: Callable[[int], None] | None = None) -> PsaResult:
    """Simulate draws 1..``draws``; ``workers`` > 1 spreads them over processes."""
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
    values = [table.at(j) for j in range(len(ks))]
    chunks = _chunks(ks, max(1, min(64, draws // (workers * 4) or 1)))
    results: dict[int, DrawResult] = {}
    jobs = [(scenario, [ks[i] for i in c], [values[i] for i in c], n, root, engine)
            for c in chunks]
    if workers == 1:
        for job in jobs:
            for r in _worker(job):
                results[r.draw] = r
            if progress:
                progress(len(job[1]))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for done in pool.map(_worker, jobs):
                for r in done:
                    results[r.draw] = r
                if progress:
                    progress(len(done))
    ordered = tuple(results[k] for k in ks)  # reduce in draw order, whatever the workers
    return PsaResult(scenario, scenario.strategies, table, n, root, engine, ordered)


def _chunks(ks: Sequence[int], size: int) -> list[list[int]]:
    idx = list(range(len(ks)))
    return [idx[i:i + size] for i in range(0, len(idx), size)]
