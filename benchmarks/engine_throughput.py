"""Patient-lifetimes per second per core: the compiled and simpy engines, on the base
scenario and on CARTSIM-BENCH v1, beside the benchmark's numpy and numba references.

A patient-lifetime is one patient simulated under one strategy, from the start to
death (or the horizon). Usage::

    python benchmarks/engine_throughput.py [--patients 10000] [--rounds 9]

What is timed (one process, one core: ``NUMBA_NUM_THREADS=1``, so the compiled
engine runs its parts on one thread; the kernel is compiled before timing):

* ``compiled``: engine and valuation, as a run does them without curves
  (``outcomes.valued_run.simulate_valued``: flattening, valuation arrays, the
  kernel, per-patient outcome columns), every strategy on the same cohort;
* ``simpy``: the reference engine and the valuation of its event log
  (``simulate_simpy`` + ``value_log``), on 1,000 patients (it is slow);
* ``numpy``, ``numba``: CARTSIM-BENCH v1's reference implementations
  (``../shared/bench/reference_bench.py``'s timing: cohort and random-number block
  included), when that folder is present.

Rounds are interleaved (each round times every contender once) and the median of
the rounds is reported, so the ratios compare the same moments of a machine whose
speed varies; ratios are time(ours) / time(reference), lower is faster.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # per core: before numba is imported

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent.parent / "shared" / "bench"  # the worktree's ../shared/bench
if not BENCH.is_dir():
    BENCH = ROOT.parent / "shared" / "bench"


def _contender(path: Path, n: int, engine: str) -> Callable[[], None]:
    """A function that simulates and values every strategy of ``path`` on n patients."""
    from cartsim.cohort import sample_cohort
    from cartsim.engine.simpy_engine import simulate_simpy
    from cartsim.outcomes.accounting import value_log
    from cartsim.outcomes.valued_run import group_codes, simulate_valued
    from cartsim.rng import Streams
    from cartsim.scenario.load import load_scenario
    from cartsim.study.prepare import discount_rates, prepare

    scenario = load_scenario(path)
    models, table = prepare(scenario)
    streams = Streams(scenario.run.seed)
    cohort = sample_cohort(scenario.cohort, n, streams=streams) if scenario.cohort.file is None \
        else sample_cohort(scenario.cohort, 0, streams=streams)
    rates, horizon, factor = discount_rates(scenario), scenario.run.horizon, \
        scenario.run.cost_factor
    codes = {name: group_codes(cohort, list(m.pathways)) for name, m in models.items()}

    def compiled() -> None:
        for name, m in models.items():
            simulate_valued(m.pathways, m.valuations, cohort, range(cohort.n), life_table=table,
                            horizon=horizon, streams=streams, rates=rates, cost_factor=factor,
                            codes=codes[name])

    def simpy() -> None:
        for m in models.values():
            log = simulate_simpy(m.pathways, cohort, life_table=table, horizon=horizon,
                                 streams=streams)
            value_log(log, m.pathways, m.valuations, cohort.group, rates, factor,
                      age=cohort.age, female=cohort.female)

    run = compiled if engine == "compiled" else simpy
    run.lifetimes = cohort.n * len(models)  # type: ignore[attr-defined]
    return run


def _references(n: int) -> dict[str, Callable[[], None]]:
    if not BENCH.is_dir():
        print(f"(no {BENCH}: the numpy and numba references are skipped)")
        return {}
    sys.path.insert(0, str(BENCH))
    import impl_fast
    from bench_model import base_strategies, make_cohort

    def timed(fn: Callable) -> Callable[[], None]:
        def run() -> None:  # as reference_bench.py times it: cohort and U block included
            cohort = make_cohort(n)
            for strategy in base_strategies():
                cohort._lists.clear()
                fn(cohort, strategy)
        run.lifetimes = 2 * n  # type: ignore[attr-defined]
        return run

    out = {"numpy": timed(impl_fast.run_numpy)}
    try:
        import numba  # noqa: F401
    except ImportError:
        print("(numba is not installed: the numba reference is skipped)")
        return out
    out["numba"] = timed(impl_fast.run_numba)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--simpy-patients", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    import numba
    import scipy
    import simpy

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or '?'};"
          f" Python {platform.python_version()}, numpy {np.__version__}, scipy "
          f"{scipy.__version__}, numba {numba.__version__}, simpy {simpy.__version__}; "
          f"{platform.platform()}")
    bench_toml = BENCH / "cartsim_bench_v1.toml"
    contenders = {"base, compiled": _contender(ROOT / "scenarios" / "base.toml",
                                               args.patients, "compiled"),
                  "base, simpy": _contender(ROOT / "scenarios" / "base.toml",
                                            args.simpy_patients, "simpy")}
    if bench_toml.is_file():
        # The benchmark's own cohort file holds 10,000 patients (its reference size).
        contenders["bench, compiled"] = _contender(bench_toml, args.patients, "compiled")
        contenders["bench, simpy"] = _contender(BENCH / "cartsim_bench_v1_sampled.toml",
                                                args.simpy_patients, "simpy")
    contenders.update({f"bench, {k} reference": v for k, v in _references(args.patients).items()})
    for run in contenders.values():
        run()  # compile, load caches, warm up
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    rate = {}
    for name, run in contenders.items():
        median = statistics.median(times[name])
        rate[name] = run.lifetimes / median  # type: ignore[attr-defined]
        print(f"{name:>24}: {run.lifetimes:>7,} lifetimes, median {median:7.3f} s, "  # type: ignore[attr-defined]
              f"{rate[name]:>10,.0f} lifetimes/s per core")
    print(f"compiled / simpy on base: {rate['base, compiled'] / rate['base, simpy']:.0f}x "
          "faster")
    for ref in ("numpy", "numba"):
        key = f"bench, {ref} reference"
        if key in rate and "bench, compiled" in rate:
            print(f"bench: time of compiled / {ref} reference = "
                  f"{rate[key] / rate['bench, compiled']:.2f}")


if __name__ == "__main__":
    main()
