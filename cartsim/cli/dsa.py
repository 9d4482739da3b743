"""`cartsim dsa` and `cartsim sweep`: one-way sensitivity analysis and parameter sweeps
(:mod:`cartsim.study.dsa`) from the command line."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from cartsim.study.dsa import OneWayResult, SweepResult

from cartsim.cli.execute import Bar, execute, guarded
from cartsim.cli.options import (
    analysis_options,
    load_checked,
    scenario_argument,
    target_folder,
)
from cartsim.errors import UsageError


@click.command()
@scenario_argument
@click.option("--param", "names", multiple=True, metavar="NAME",
              help="Only these parameters (repeatable; default: every one with a range).")
@analysis_options
@guarded
def dsa(scenario: Path, names: tuple[str, ...], patients: int | None, seed: int | None,
        overrides: tuple[str, ...], out: Path | None, overwrite: bool, engine: str,
        quiet: bool, debug: bool) -> None:
    """One-way sensitivity analysis: each parameter at its low and high value -> tornado.

    Ranges are the parameter's low/high in the scenario, else the 2.5%/97.5% points of its
    distribution. All runs share one seed (common random numbers).

    \b
    Example:
      cartsim dsa scenarios/base.toml --patients 2000
    """
    from cartsim.report.terminal import dsa_summary
    from cartsim.study.dsa import dsa_ranges, one_way
    from cartsim.study.prepare import prepare

    s = load_checked(scenario, overrides)
    prepare(s)
    target = target_folder(out, f"{s.run.output}_dsa")

    def study(bar: Bar) -> OneWayResult:
        runs = 1 + 2 * len(dsa_ranges(s, list(names) or None))
        with bar(runs, f"DSA: {runs} runs") as progress:
            return one_way(s, patients=patients, seed=seed, engine=engine,
                           names=list(names) or None, progress=progress.update)

    execute(study, target, overwrite=overwrite, quiet=quiet,
            summary=dsa_summary)


@click.command()
@scenario_argument
@click.option("--grid", "grid_items", multiple=True, required=True, metavar="NAME=VALUES",
              help="A parameter and its values: NAME=v1,v2,... or NAME=start:stop:count, in "
                   "the unit the scenario writes (repeatable; every combination is run).")
@analysis_options
@guarded
def sweep(scenario: Path, grid_items: tuple[str, ...], patients: int | None, seed: int | None,
          overrides: tuple[str, ...], out: Path | None, overwrite: bool, engine: str,
          quiet: bool, debug: bool) -> None:
    """Run every combination of parameter values (two-way grids and beyond).

    \b
    Example:
      cartsim sweep scenarios/base.toml --grid car_t.relapse.rate=0,0.05,0.1 \\
          --grid costs.car_t.product=300000,450000
    """
    from cartsim.report.terminal import sweep_summary
    from cartsim.study.dsa import sweep as sweep_study
    from cartsim.study.prepare import prepare

    s = load_checked(scenario, overrides)
    prepare(s)
    grid = parse_grid(grid_items)
    target = target_folder(out, f"{s.run.output}_sweep")
    runs = math.prod(len(v) for v in grid.values())

    def study(bar: Bar) -> SweepResult:
        with bar(runs, f"Sweep: {runs} runs") as progress:
            return sweep_study(s, grid, patients=patients, seed=seed, engine=engine,
                               progress=progress.update)

    execute(study, target, overwrite=overwrite, quiet=quiet,
            summary=sweep_summary)


def parse_grid(items: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """Read ``--grid`` items ``NAME=v1,v2,...`` or ``NAME=start:stop:count`` (evenly
    spaced, both ends included) into a ``sweep`` grid; UsageError if malformed.

    >>> parse_grid(["a=1,2", "b=0:1:3"])
    {'a': (1.0, 2.0), 'b': (0.0, 0.5, 1.0)}
    """
    import numpy as np

    grid: dict[str, tuple[float, ...]] = {}
    for item in items:
        name, sep, spec = (s.strip() for s in item.partition("="))
        try:
            if not sep or not name or name in grid:
                raise ValueError
            if ":" in spec:
                start, stop, count = spec.split(":")
                if int(count) < 1:
                    raise ValueError
                grid[name] = tuple(map(float, np.linspace(float(start), float(stop),
                                                          int(count))))
            else:
                grid[name] = tuple(float(v) for v in spec.split(","))
        except ValueError:
            msg = (f"--grid {item!r}: write NAME=v1,v2,... or NAME=start:stop:count, once per "
                   "parameter, e.g. car_t.relapse.rate=0.01,0.03,0.1 or "
                   "car_t.relapse.rate=0:0.2:11")
            raise UsageError(msg) from None
    return grid
