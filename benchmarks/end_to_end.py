"""Wall time and peak memory of whole cartsim commands, each in a fresh process.

Usage::

    python benchmarks/end_to_end.py [--repeats 3] [--sizes 100000,1000000]
        [--workers 1,2] [--draws 1000] [--skip start,cold,run,psa]

What is timed (best wall time of ``repeats`` runs; peak memory is the cartsim
process's maxrss, the largest of its runs; forked workers hold their own chunk on
top of that):

* ``start``: ``cartsim --help`` and ``cartsim check scenarios/base.toml`` (warm);
* ``cold``/``warm``: ``cartsim run scenarios/base.toml`` (10,000 patients per
  strategy) with numba's cache in a fresh folder (``NUMBA_CACHE_DIR``: the kernel
  is compiled, as in the first run after installing), then again with that folder
  filled (the kernel is loaded);
* ``run``: ``cartsim run scenarios/base.toml --patients N`` for each size and
  worker count (no ``--trace``, so event logs are never kept and memory stays
  bounded);
* ``psa``: ``cartsim psa scenarios/base.toml --draws D --patients 1000`` on each
  worker count (D x 1,000 patients x 2 strategies).

The targets of issue 14: the 100,000-patient base case ≤ 3 s; ``--help`` ≤ 0.3 s
and ``check`` ≤ 0.6 s; a 1,000,000-patient run ≤ 1 GB; the PSA of 1,000 draws on
2 workers ≤ 10 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "scenarios" / "base.toml"
CODE = ("import sys; from cartsim.cli import run_main; "
        "sys.argv = ['cartsim'] + sys.argv[1:]; run_main()")


def one(args: Sequence[str], env: Mapping[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, peak memory MB) of one cartsim command in a child process."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", CODE, *args], cwd=ROOT,
                             env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"cartsim {' '.join(args)} failed (status {status})")
    return wall, usage.ru_maxrss / 1024  # kB on Linux


def best(label: str, args: Sequence[str], repeats: int,
         env: Mapping[str, str] | None = None) -> None:
    runs = [one(args, env) for _ in range(repeats)]
    wall, peak = min(w for w, _ in runs), max(m for _, m in runs)
    print(f"{label:<58} best {wall:8.2f} s wall, peak memory {peak:7,.0f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--workers", default="1,2", help="worker counts to time")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--skip", default="", help="parts to leave out, e.g. psa,cold")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    workers = [int(w) for w in args.workers.split(",")]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.platform()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "out")
        if "start" not in skip:
            best("cartsim --help", ["--help"], args.repeats)
            best("cartsim check scenarios/base.toml", ["check", str(BASE), "-q"], args.repeats)
        if "cold" not in skip:
            cache = {"NUMBA_CACHE_DIR": str(Path(tmp) / "numba_cache")}
            run = ["run", str(BASE), "--out", out, "--overwrite", "--quiet"]
            best("cartsim run scenarios/base.toml, cold (fresh numba cache)", run, 1, cache)
            best("cartsim run scenarios/base.toml, warm", run, args.repeats, cache)
        if "run" not in skip:
            for n in (int(s) for s in args.sizes.split(",")):
                for w in workers if n <= 100_000 else workers[:1]:
                    best(f"cartsim run, {n:>9,} patients x 2 strategies, --workers {w}",
                         ["run", str(BASE), "--patients", str(n), "--out", out, "--overwrite",
                          "--workers", str(w), "--quiet"], args.repeats)
        if "psa" not in skip:
            for w in workers:
                best(f"cartsim psa, {args.draws:,} draws x 1,000 patients x 2, --workers {w}",
                     ["psa", str(BASE), "--draws", str(args.draws), "--patients", "1000",
                      "--out", out, "--overwrite", "--workers", str(w), "--quiet"], 1)


if __name__ == "__main__":
    main()
