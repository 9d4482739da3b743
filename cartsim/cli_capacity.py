"""`cartsim capacity`: a CAR-T programme whose patients queue for limited capacity."""

from __future__ import annotations

import time
from pathlib import Path

import click

from cartsim.api import prepare
from cartsim.cli_common import (
    debug_option,
    guarded,
    load_checked,
    notice,
    progress_bar,
    quiet_option,
    seed_option,
    set_option,
    target_folder,
    write_analysis,
)
from cartsim.engine.capacity import PROGRESS_STEPS, simulate_programme
from cartsim.errors import Problem, ScenarioError
from cartsim.report.capacity_tables import (
    capacity_files,
    capacity_summary,
    value_programme,
)
from cartsim.report.files import check_run_folder
from cartsim.scenario.capacity import MAX_REPLICATIONS
from cartsim.scenario.load import load_scenario


@click.command("capacity")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replications", type=click.IntRange(1, MAX_REPLICATIONS), default=None,
              help="Independent programmes to simulate (default: capacity.replications).")
@seed_option
@set_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder (default: results/<scenario name>_capacity).")
@click.option("--overwrite", is_flag=True, help="Replace an existing results folder.")
@quiet_option
@debug_option
@guarded
def capacity(scenario: Path, replications: int | None, seed: int | None,
             overrides: tuple[str, ...], out: Path | None, overwrite: bool, quiet: bool,
             debug: bool) -> None:
    """Queue referrals for manufacturing slots, apheresis and beds: waiting times,
    patients treated per year and the outcomes lost to waiting.

    The scenario needs a [capacity] table (see scenarios/capacity.toml). Each
    referral stays on bridging therapy while waiting; the same patients are also
    run with unlimited capacity, and the difference is what waiting costs.

    \b
    Examples:
      cartsim capacity scenarios/capacity.toml
      cartsim capacity scenarios/capacity.toml --set capacity.manufacturing.slots_per_month=3
      cartsim capacity scenarios/capacity.toml --replications 100 --out results/cap100
    """
    s = load_checked(scenario, overrides)
    if s.capacity is None:
        raise ScenarioError(s.source, [Problem(
            "capacity", "missing (this command needs a [capacity] table)", None,
            "see scenarios/capacity.toml for one, or add `extends` to a file that has one",
            has_value=False)])
    if replications is not None:
        s = load_scenario(scenario, (*overrides, f"capacity.replications={replications}"))
    models, life_table = prepare(s)
    target = target_folder(out, f"{s.run.output}_capacity")
    check_run_folder(target, overwrite=overwrite)
    root = seed if seed is not None else s.run.seed
    started = time.perf_counter()
    with progress_bar(PROGRESS_STEPS, f"Simulating {s.capacity.replications} programme(s) of "
                      f"{s.capacity.arrivals.years:g} years of referrals (simpy engine)",
                      quiet) as bar:
        run = simulate_programme(s, models, life_table, seed=root, progress=bar.update)
    result = value_programme(s, models, run)
    files = capacity_files(result, overrides=overrides)
    write_analysis(target, files, overwrite, quiet, capacity_summary(result))
    notice(f"({time.perf_counter() - started:.1f} s)", quiet)
