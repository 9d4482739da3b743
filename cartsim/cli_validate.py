"""`cartsim validate`: simulate series like the Müller 2024 case series and compare with it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cartsim.api import prepare
from cartsim.cli_common import (
    debug_option,
    guarded,
    load_checked,
    print_summary,
    progress_bar,
    quiet_option,
    seed_option,
    set_option,
    target_folder,
)
from cartsim.params.evidence import current_evidence
from cartsim.report.files import check_run_folder, run_lock, write_run_folder
from cartsim.report.validation_tables import validation_files, validation_summary
from cartsim.validation import MAX_REPLICATES, validate_case_series


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replicates", type=click.IntRange(1, MAX_REPLICATES), default=1000,
              show_default=True, help="Simulated series (each 8 SLE, 3 IIM, 4 SSc patients).")
@seed_option
@click.option("--uncertainty", is_flag=True,
              help="Draw every parameter from its distribution once per series (a prior "
                   "predictive check; slower) instead of using the point values.")
@set_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder (default: results/<scenario name>_validation).")
@click.option("--overwrite", is_flag=True, help="Replace an existing results folder.")
@click.option("--strict", is_flag=True, help="Exit with code 1 if any fact is inconsistent.")
@quiet_option
@debug_option
@guarded
def validate(scenario: Path, replicates: int, seed: int | None, uncertainty: bool,
             overrides: tuple[str, ...], out: Path | None, overwrite: bool, strict: bool,
             quiet: bool, debug: bool) -> None:
    """Simulate the Müller 2024 case series many times and compare with what it reported.

    Every fact of the evidence dossier (PARAMETERS.md §7) gets the observed value, the
    simulated mean, a 95% predictive interval and a consistent/inconsistent flag; an
    inconsistent fact names the parameters that drive it. Exit code 0 with the table
    either way (1 with --strict if a fact is inconsistent); 2 for a bad scenario.

    \b
    Examples:
      cartsim validate scenarios/case_series.toml
      cartsim validate scenarios/case_series.toml --set car_t.response.sle=0.5 --strict
      cartsim validate scenarios/case_series.toml --uncertainty --replicates 500
    """
    s = load_checked(scenario, overrides)
    prepare(s)
    target = target_folder(out, f"{s.run.output}_validation")
    check_run_folder(target, overwrite=overwrite)
    with progress_bar(replicates, f"Simulating {replicates:,} case series", quiet) as bar:
        result = validate_case_series(s, replicates=replicates, seed=seed,
                                      uncertainty=uncertainty, progress=bar.update)
    files = validation_files(result, current_evidence(), overrides)
    with run_lock(target):
        write_run_folder(target, files, overwrite=overwrite)
    print_summary(validation_summary(result), len(files), target, quiet)
    if strict and result.inconsistent:
        names = ", ".join(f.fact.key for f in result.inconsistent)
        click.echo(f"--strict: inconsistent with the case series: {names}", err=True)
        sys.exit(1)
