"""The `cartsim` command line: one verb per analysis, tables in a results folder.

The cli modules (this one, ``cli_common`` and ``cli_analyses``) are the only
ones that print. Exit codes: 0 ok; 1 the run failed; 2 bad input or usage
(nothing written); 130 interrupted.
"""

from __future__ import annotations

from pathlib import Path

import click

from cartsim.api import ENGINES, prepare, run_scenario
from cartsim.cli_analyses import dsa, psa, sweep, threshold_command
from cartsim.cli_capacity import capacity
from cartsim.cli_common import (
    debug_option,
    guarded,
    load_checked,
    print_summary,
    progress_bar,
    quiet_option,
    seed_option,
    set_option,
    specified_cohort,
    target_folder,
    titled_text,
)
from cartsim.cli_compare import compare
from cartsim.cli_report import report, workbook_for, write_workbook, xlsx_option
from cartsim.cli_validate import validate
from cartsim.report.files import check_run_folder, run_lock, write_run_folder
from cartsim.report.input_tables import correlations_table, parameters_table
from cartsim.report.run_output import run_files, summary_text
from cartsim.report.tables import table_to_csv, table_to_markdown
from cartsim.scenario.settings import MAX_PATIENTS


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cartsim")
def main() -> None:
    """cartsim: simulate one-time CD19 CAR-T vs lifelong immunosuppression.

    Each analysis writes its tables to a results folder and prints a short summary
    of the key results and where they went; progress bars go to stderr, and
    --quiet prints nothing but errors (for scripts). `cartsim COMMAND --help`
    shows each command's options and more examples.

    \b
    Examples:
      cartsim check scenarios/base.toml
      cartsim params scenarios/base.toml --format csv > inputs.csv
      cartsim run scenarios/base.toml
      cartsim run scenarios/sle.toml --set car_t.relapse.rate=0.10 --patients 20000
      cartsim psa scenarios/base.toml --draws 1000 --workers 2
      cartsim dsa scenarios/base.toml
      cartsim sweep scenarios/base.toml --grid car_t.relapse.rate=0,0.05,0.1
      cartsim threshold scenarios/base.toml --param costs.car_t.product --wtp 100000,150000
      cartsim compare scenarios/relapse_*.toml --patients 5000
      cartsim capacity scenarios/capacity.toml
      cartsim validate scenarios/case_series.toml
      cartsim report results/base
      cartsim run scenarios/base.toml --quiet && cartsim report results/base --quiet
    """


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@set_option
@quiet_option
@debug_option
@guarded
def check(scenario: Path, overrides: tuple[str, ...], quiet: bool, debug: bool) -> None:
    """Validate a scenario file (every problem at once); run nothing.

    \b
    Example:
      cartsim check scenarios/base.toml --set car_t.relapse.rate=0.1
    """
    s = load_checked(scenario, overrides)
    prepare(s)
    if not quiet:
        click.echo(f"{scenario}: OK ({s.model} model, {len(s.parameters)} parameters, "
                   f"strategies {', '.join(s.strategies)}; hash {s.canonical_hash[:12]})")
        click.echo(titled_text(specified_cohort(s)))


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@set_option
@click.option("--format", "fmt", type=click.Choice(["markdown", "csv"]), default="markdown",
              show_default=True)
@debug_option
@guarded
def params(scenario: Path, overrides: tuple[str, ...], fmt: str, debug: bool) -> None:
    """Print every input: value, unit, distribution, 95% range and source.

    \b
    Example:
      cartsim params scenarios/base.toml --format csv > inputs.csv
    """
    s = load_checked(scenario, overrides)
    cohort = specified_cohort(s)
    tables = [parameters_table(s), *([correlations_table(s)] if s.joint else [])]
    if fmt == "markdown":
        tables.append(cohort)
    else:  # stdout stays one CSV of the inputs (e.g. > inputs.csv); the cohort is for people
        click.echo(titled_text(cohort), err=True)
    for i, table in enumerate(tables):
        click.echo(("\n" if i else "") + (table_to_csv(table) if fmt == "csv"
                                          else table_to_markdown(table)), nl=False)


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--patients", type=click.IntRange(1, MAX_PATIENTS), default=None,
              help="Patients per strategy (default: run.patients in the scenario).")
@seed_option
@set_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder (default: results/<scenario name>).")
@click.option("--trace", is_flag=True, help="Also write patients.csv and the event trace.")
@click.option("--overwrite", is_flag=True, help="Replace an existing results folder.")
@click.option("--engine", type=click.Choice(ENGINES), default="vectorised", show_default=True,
              help="vectorised (fast, the default) or simpy (the reference engine); both give "
                   "the same per-patient results.")
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
    s = load_checked(scenario, overrides)
    prepare(s)
    target = target_folder(out, s.run.output)
    check_run_folder(target, overwrite=overwrite)
    n = None if s.cohort.file else (patients or s.run.patients)
    who = f"{n:,} patients" if n else f"the patients of {s.cohort.file.name}"
    with progress_bar(n and n * len(s.strategies), f"Simulating {who} x {len(s.strategies)} "
                      f"strategies ({engine} engine)", quiet) as bar:
        result = run_scenario(s, patients=patients, seed=seed, engine=engine,
                              common_random_numbers=not no_crn, keep_logs=trace,
                              workers=workers, progress=bar.update)
    files = run_files(result, trace=trace, command="run", overrides=overrides)
    book = workbook_for(files, xlsx)
    with run_lock(target):
        write_run_folder(target, files, overwrite=overwrite)
        write_workbook(target, book)
    print_summary(summary_text(files, result), len(files), target, quiet)



for command in (psa, dsa, sweep, threshold_command, report, compare, capacity, validate):
    main.add_command(command)


def run_main() -> None:
    main(prog_name="cartsim")


if __name__ == "__main__":
    run_main()
