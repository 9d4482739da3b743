"""`cartsim run`: the run study (:mod:`cartsim.study.run`) from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cartsim.cli.execute import Bar, execute, guarded
from cartsim.cli.options import (
    debug_option,
    engine_option,
    load_checked,
    quiet_option,
    scenario_argument,
    seed_option,
    set_option,
    target_folder,
)
from cartsim.cli.report import xlsx_option
from cartsim.limits import MAX_PATIENTS

if TYPE_CHECKING:
    from cartsim.study.result import RunResult


@click.command()
@scenario_argument
@click.option("--patients", type=click.IntRange(1, MAX_PATIENTS), default=None,
              help="Patients per strategy (default: run.patients in the scenario).")
@seed_option
@set_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder (default: results/<scenario name>).")
@click.option("--trace", is_flag=True, help="Also write patients.csv and the event trace.")
@click.option("--overwrite", is_flag=True, help="Replace an existing results folder.")
@engine_option
@click.option("--no-crn", is_flag=True,
              help="Give each strategy its own random numbers (to measure what common random "
                   "numbers buy; results are noisier).")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Processes to simulate on (each takes a strategy on a chunk of 65,536 "
                   "patients); results are identical for any number.")
@xlsx_option
@quiet_option
@debug_option
@guarded
def run(scenario: Path, patients: int | None, seed: int | None, overrides: tuple[str, ...],
        out: Path | None, trace: bool, overwrite: bool, engine: str, no_crn: bool,
        workers: int, xlsx: bool, quiet: bool, debug: bool) -> None:
    """Simulate both strategies and write the results tables.

    \b
    Examples:
      cartsim run scenarios/base.toml
      cartsim run scenarios/sle.toml --set car_t.relapse.rate=0.10 --patients 20000
      cartsim run scenarios/base.toml --seed 7 --out results/seed7 --trace
      cartsim run scenarios/base.toml --patients 1000000 --workers 2
    """
    from cartsim.report.terminal import run_summary
    from cartsim.study.prepare import prepare
    from cartsim.study.run import run as run_study

    s = load_checked(scenario, overrides)
    prepare(s)
    file = s.cohort.file
    n = None if file is not None else (patients or s.run.patients)
    who = f"the patients of {file.name}" if file is not None else f"{n:,} patients"

    def study(bar: Bar) -> RunResult:
        with bar(n and n * len(s.strategies), f"Simulating {who} x {len(s.strategies)} "
                 f"strategies ({engine} engine)") as progress:
            return run_study(s, patients=patients, seed=seed, engine=engine,
                             common_random_numbers=not no_crn, trace=trace, workers=workers,
                             progress=progress.update)

    execute(study, target_folder(out, s.run.output), overwrite=overwrite, quiet=quiet,
            summary=run_summary, xlsx=xlsx)
