"""`cartsim capacity`: the capacity study (:mod:`cartsim.study.capacity`) from the command
line: a CAR-T programme whose patients queue for limited capacity."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cartsim.cli.execute import Bar, execute, guarded, notice
from cartsim.cli.options import (
    debug_option,
    load_checked,
    quiet_option,
    scenario_argument,
    seed_option,
    set_option,
    target_folder,
)
from cartsim.limits import MAX_REPLICATIONS

if TYPE_CHECKING:
    from cartsim.study.capacity import CapacityResult


@click.command("capacity")
@scenario_argument
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
def capacity_command(scenario: Path, replications: int | None, seed: int | None,
                     overrides: tuple[str, ...], out: Path | None, overwrite: bool,
                     quiet: bool, debug: bool) -> None:
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
    from cartsim.report.terminal import capacity_summary
    from cartsim.study.capacity import PROGRESS_STEPS, capacity, check_capacity, with_replications
    from cartsim.study.prepare import prepare

    s = load_checked(scenario, overrides)
    check_capacity(s)
    s = with_replications(s, replications)
    prepare(s)
    started = time.perf_counter()
    spec = s.capacity
    assert spec is not None

    def study(bar: Bar) -> CapacityResult:
        with bar(PROGRESS_STEPS, f"Simulating {spec.replications} programme(s) of "
                 f"{spec.arrivals.years:g} years of referrals (simpy engine)") as progress:
            return capacity(s, seed=seed, progress=progress.update)

    execute(study, target_folder(out, f"{s.run.output}_capacity"), overwrite=overwrite,
            quiet=quiet, summary=capacity_summary)
    notice(f"({time.perf_counter() - started:.1f} s)", quiet)
