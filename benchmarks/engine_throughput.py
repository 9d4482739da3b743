"""Patient-lifetimes per second of both engines on the base scenario.

A patient-lifetime is one patient simulated under one strategy, from the start
to death (or the horizon). Usage::

    python benchmarks/engine_throughput.py [--sizes 1000,10000,100000] [--repeats 3]

For each engine and size it prints the best of ``repeats`` timings of the
simulation alone (cohort sampling, both strategies' engine runs and the
recurring-event pass; valuation and tables excluded) and the ratio of the
engines measured in this same run. Both engines use one core, so the figures
are per core. The simpy engine is timed up to 10,000 patients only.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np
import scipy
import simpy

from cartsim.cohort import sample_cohort
from cartsim.engine.simpy_engine import simulate_simpy
from cartsim.engine.vectorised import simulate_vectorised
from cartsim.rng import Streams
from cartsim.scenario.load import load_scenario
from cartsim.study.prepare import prepare

ROOT = Path(__file__).resolve().parents[1]
ENGINES = {"simpy": simulate_simpy, "vectorised": simulate_vectorised}
SIMPY_MAX = 10_000


def time_engine(scenario_path: Path, n: int, engine: str) -> float:
    scenario = load_scenario(scenario_path)
    models, life_table = prepare(scenario)
    simulate = ENGINES[engine]
    start = time.perf_counter()
    streams = Streams(scenario.run.seed)
    cohort = sample_cohort(scenario.cohort, n, streams=streams)
    for name in scenario.strategies:
        simulate(models[name].pathways, cohort, life_table=life_table,
                 horizon=scenario.run.horizon, streams=streams)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "base.toml")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"simpy {simpy.__version__}, {platform.platform()}")
    strategies = len(load_scenario(args.scenario).strategies)
    for n in (int(s) for s in args.sizes.split(",")):
        rates = {}
        for engine in ENGINES:
            if engine == "simpy" and n > SIMPY_MAX:
                continue
            best = min(time_engine(args.scenario, n, engine) for _ in range(args.repeats))
            rates[engine] = n * strategies / best
            print(f"{engine:>10} engine, {n:>9,} patients x {strategies} strategies: "
                  f"{best:8.3f} s, {rates[engine]:>11,.0f} patient-lifetimes/s per core")
        if len(rates) == 2:
            print(f"{'':>10} vectorised / simpy = {rates['vectorised'] / rates['simpy']:.1f}x")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
