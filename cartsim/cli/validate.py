"""`cartsim validate`: the validation study (:mod:`cartsim.study.validate`) from the
command line: simulated series like the Müller 2024 case series against it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cartsim.cli.execute import Bar, execute, guarded
from cartsim.cli.options import (
    debug_option,
    load_checked,
    quiet_option,
    scenario_argument,
    seed_option,
    set_option,
    target_folder,
)
from cartsim.limits import MAX_REPLICATES

if TYPE_CHECKING:
    from cartsim.study.validate import ValidationResult


@click.command()
@scenario_argument
@click.option("--replicates", type=click.IntRange(1, MAX_REPLICATES), default=1000,
              show_default=True, help="Simulated series (each 8 SLE, 3 IIM, 4 SSc patients).")
@seed_option
@click.option("--uncertainty", is_flag=True,
              help="Draw every parameter, and every [[structural]] option, from its "
                   "distribution once per series as PSA draws 1..R (a prior predictive "
                   "check; slower) instead of using the point values.")
@set_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder (default: results/<scenario name>_validation).")
@click.option("--overwrite", is_flag=True, help="Replace an existing results folder.")
@click.option("--held-out-patients", type=click.IntRange(0, 1_000_000), default=4000,
              show_default=True, help="Patients simulated for the held-out published "
                                      "facts, per strategy and per survival population "
                                      "(0 skips them).")
@click.option("--strict", is_flag=True,
              help="Exit with code 1 if any case-series fact, or any independent compared "
                   "held-out fact, is inconsistent (cost plausibility and not-comparable "
                   "facts never count).")
@quiet_option
@debug_option
@guarded
def validate(scenario: Path, replicates: int, seed: int | None, uncertainty: bool,
             overrides: tuple[str, ...], out: Path | None, overwrite: bool,
             held_out_patients: int, strict: bool, quiet: bool, debug: bool) -> None:
    """Simulate the Müller 2024 case series many times and compare with what it reported.

    Every fact of the evidence dossier (PARAMETERS.md §7) gets the observed value, the
    simulated mean, a 95% predictive interval and a consistent/inconsistent flag; an
    inconsistent fact names the parameters that drive it. Then the held-out published
    facts (cartsim/data/validation_targets.toml): survival on conventional therapy in each
    source's own population (age, sex, time origin; else "not comparable"), durability,
    safety and annual costs (a plausibility check) against the scenario's cohort, each
    flagged "not independent" when the scenario's priors use its source. Exit code 0
    with the tables either way (1 with --strict if a case-series fact or an independent
    compared held-out fact is inconsistent); 2 for a bad scenario.

    \b
    Examples:
      cartsim validate scenarios/case_series.toml
      cartsim validate scenarios/case_series.toml --set car_t.response.sle=0.5 --strict
      cartsim validate scenarios/case_series.toml --uncertainty --replicates 500
    """
    from cartsim.report.terminal import validation_summary
    from cartsim.study.prepare import prepare
    from cartsim.study.validate import validate_case_series

    s = load_checked(scenario, overrides)
    prepare(s)

    def study(bar: Bar) -> ValidationResult:
        with bar(replicates, f"Simulating {replicates:,} case series") as progress:
            return validate_case_series(s, replicates=replicates, seed=seed,
                                        uncertainty=uncertainty, progress=progress.update,
                                        held_out_patients=held_out_patients)

    result = execute(study, target_folder(out, f"{s.run.output}_validation"),
                     overwrite=overwrite, quiet=quiet, summary=validation_summary)
    if strict and (result.inconsistent or result.held_out_inconsistent):
        if result.inconsistent:
            names = ", ".join(f.fact.key for f in result.inconsistent)
            click.echo(f"--strict: inconsistent with the case series: {names}", err=True)
        if result.held_out_inconsistent:
            names = ", ".join(c.target.id for c in result.held_out_inconsistent)
            click.echo(f"--strict: inconsistent with independent held-out facts: {names}",
                       err=True)
        sys.exit(1)
