"""Wall time and peak memory of `cartsim run` against `cartsim run --trace`.

Usage::

    python benchmarks/trace.py [--patients 10000] [--repeats 3]

Runs ``cartsim run scenarios/base.toml --patients N`` with and without ``--trace``
in fresh processes (CLI start included), writing to a temporary folder, ``repeats``
times each, alternating; prints the best wall time and the largest peak resident
memory (the process's maxrss) of each, their ratios, and the size of trace.csv. The
target of issue 16: with --trace at most 5x the plain run's time and 2x its memory at
10,000 patients. A benchmark, not a test: run it on an otherwise idle machine.
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
SCENARIO = ROOT / "scenarios" / "base.toml"


def one_run(n: int, trace: bool) -> tuple[float, float, int]:
    """(wall seconds, peak memory MB, trace.csv bytes) of one run in a child process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        code = ("import sys; from cartsim.cli import run_main; "
                "sys.argv = ['cartsim'] + sys.argv[1:]; run_main()")
        cmd = [sys.executable, "-c", code, "run", str(SCENARIO), "--patients", str(n),
               "--out", str(out), "--quiet", *(["--trace"] if trace else [])]
        start = time.perf_counter()
        pid = subprocess.Popen(cmd, cwd=ROOT).pid
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
        if status != 0:
            msg = f"{' '.join(cmd)} failed with status {status}"
            raise RuntimeError(msg)
        size = (out / "trace.csv").stat().st_size if trace else 0
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return wall, usage.ru_maxrss * scale / 2**20, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{platform.platform()}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs; {args.patients:,} patients per strategy, "
          f"best of {args.repeats}")
    best: dict[bool, tuple[float, float, int]] = {}
    for _ in range(args.repeats):
        for trace in (False, True):
            wall, mem, size = one_run(args.patients, trace)
            old = best.get(trace, (float("inf"), 0.0, 0))
            best[trace] = (min(old[0], wall), max(old[1], mem), size)
    (t0, m0, _), (t1, m1, size) = best[False], best[True]
    print(f"run          {t0:7.2f} s  {m0:7.0f} MB peak")
    print(f"run --trace  {t1:7.2f} s  {m1:7.0f} MB peak  (trace.csv {size / 1e6:.0f} MB)")
    print(f"ratio        {t1 / t0:7.2f} x  {m1 / m0:7.2f} x   (targets: <= 5 x, <= 2 x)")


if __name__ == "__main__":
    main()
