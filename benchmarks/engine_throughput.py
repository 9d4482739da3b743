"""Patient-lifetimes per second of the simulation engine on the base scenario.

A patient-lifetime is one patient simulated under one strategy, from the start
to death (or the horizon). Usage::

    python benchmarks/engine_throughput.py [--sizes 1000,10000] [--repeats 3]

Prints one line per size with the best of ``repeats`` timings of the
simulation alone (cohort sampling, both strategies' engine runs and the
recurring-event pass; valuation and tables excluded), and one line for the
whole ``run_scenario`` call. The engine runs on one core, so the figure is per
core.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from cartsim.api import load_life_table
from cartsim.cohort import sample_cohort
from cartsim.engine.simpy_engine import PatientInputs, simulate_simpy
from cartsim.pathway.build import build_model
from cartsim.rng import Streams
from cartsim.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def time_engine(scenario_path: Path, n: int) -> float:
    scenario = load_scenario(scenario_path)
    models = build_model(scenario, scenario.point_values())
    life_table = load_life_table(scenario)
    start = time.perf_counter()
    streams = Streams(scenario.run.seed)
    cohort = sample_cohort(scenario.cohort, n, streams=streams)
    inputs = PatientInputs(cohort.group, cohort.age, cohort.female)
    for name in scenario.strategies:
        simulate_simpy(models[name].pathways, inputs, life_table=life_table,
                       horizon=scenario.run.horizon, streams=streams)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "base.toml")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {platform.platform()}")
    strategies = len(load_scenario(args.scenario).strategies)
    for n in (int(s) for s in args.sizes.split(",")):
        best = min(time_engine(args.scenario, n) for _ in range(args.repeats))
        lifetimes = n * strategies
        print(f"simpy engine, {n:>7,} patients x {strategies} strategies: {best:7.3f} s, "
              f"{lifetimes / best:>9,.0f} patient-lifetimes/s per core")


if __name__ == "__main__":
    main()
