"""Wall time and peak memory of whole `cartsim run` commands, CLI start included.

Usage::

    python benchmarks/end_to_end.py [--sizes 10000,100000,1000000] [--repeats 3] [--workers 1,2]

Each size runs ``cartsim run scenarios/base.toml --patients N`` in a fresh
process (as a user would), writing to a temporary folder, ``repeats`` times;
it prints the best wall time and the largest peak resident memory of those
runs (the cartsim process's maxrss; with --workers the forked workers hold
their own chunk on top of that). Runs without ``--trace``, so event logs are dropped
chunk by chunk and memory stays bounded. The targets of the speed work: the
100,000-patient base case under 5 s; a 1,000,000-patient run under 2 GB.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(n: int, scenario: Path, workers: int) -> tuple[float, float]:
    """(wall seconds, peak memory MB) of one `cartsim run` in a child process."""
    with tempfile.TemporaryDirectory() as tmp:
        code = ("import sys; from cartsim.cli import run_main; "
                "sys.argv = ['cartsim'] + sys.argv[1:]; run_main()")
        cmd = [sys.executable, "-c", code, "run", str(scenario), "--patients", str(n),
               "--out", str(Path(tmp) / "out"), "--workers", str(workers), "--quiet"]
        start = time.perf_counter()
        pid = subprocess.Popen(cmd, cwd=ROOT).pid
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
        if status != 0:
            raise SystemExit(f"cartsim run failed for {n} patients (status {status})")
        return wall, usage.ru_maxrss / 1024  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "base.toml")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", default="1,2", help="worker counts to time")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.platform()}")
    for n in (int(s) for s in args.sizes.split(",")):
        for workers in (int(w) for w in args.workers.split(",")):
            runs = [one_run(n, args.scenario, workers) for _ in range(args.repeats)]
            best = min(w for w, _ in runs)
            peak = max(m for _, m in runs)
            print(f"cartsim run, {n:>9,} patients x 2 strategies, --workers {workers}: best "
                  f"{best:7.2f} s wall, peak memory {peak:7,.0f} MB (parent process)")

if __name__ == "__main__":
    main()
