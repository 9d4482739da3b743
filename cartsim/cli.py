"""The `cartsim` command line: one verb per analysis, tables in a results folder.

This is the only module that prints. Exit codes: 0 ok; 1 the run failed;
2 bad input or usage (nothing written); 130 interrupted.
"""

from __future__ import annotations

import io
import math
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cartsim.api import ENGINES, prepare, run_scenario
from cartsim.errors import CartsimError, UsageError
from cartsim.psa import MAX_DRAWS, run_psa
from cartsim.report.checkpoint import CheckpointWriter, checkpoint_path, read_checkpoint
from cartsim.report.files import check_run_folder, run_lock, write_run_folder
from cartsim.report.input_tables import parameters_table
from cartsim.report.psa_output import psa_files, psa_summary_text
from cartsim.report.run_output import run_files, summary_text
from cartsim.report.sensitivity_tables import (
    one_way_tables,
    parse_grid,
    sensitivity_files,
    sensitivity_summary,
    sweep_table,
    threshold_table,
)
from cartsim.report.tables import table_to_csv, table_to_markdown
from cartsim.scenario.load import load_scenario
from cartsim.scenario.settings import MAX_PATIENTS
from cartsim.sensitivity import dsa_ranges, one_way, threshold
from cartsim.sensitivity import sweep as run_sweep

RESULTS_ROOT = Path("results")


def _fail(err: BaseException, debug: bool) -> None:
    if debug:
        traceback.print_exc()
    if isinstance(err, KeyboardInterrupt):
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    if isinstance(err, CartsimError):
        click.echo(f"Error: {err}", err=True)
        sys.exit(err.exit_code)
    click.echo(f"Internal error: {type(err).__name__}: {err}\n"
               "(run again with --debug for the traceback, and please report it)", err=True)
    sys.exit(1)


def guarded(func: Callable[..., None]) -> Callable[..., None]:
    """Turn library errors into one clear message and an exit code."""
    def wrapper(*args: Any, **kwargs: Any) -> None:
        debug = bool(kwargs.get("debug"))
        try:
            func(*args, **kwargs)
        except (CartsimError, KeyboardInterrupt, Exception) as err:  # noqa: BLE001
            _fail(err, debug)
    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


debug_option = click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
set_option = click.option("--set", "overrides", multiple=True, metavar="NAME=VALUE",
                          help="Override a parameter or setting, e.g. car_t.relapse.rate=0.1 "
                               "(repeatable). A parameter set this way is fixed at the value.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cartsim")
def main() -> None:
    """cartsim: simulate one-time CD19 CAR-T vs lifelong immunosuppression.

    \b
    Examples:
      cartsim run scenarios/base.toml
      cartsim run scenarios/sle.toml --set car_t.relapse.rate=0.10 --patients 20000
      cartsim check scenarios/my.toml
      cartsim params scenarios/base.toml
      cartsim psa scenarios/base.toml --draws 1000 --workers 2
      cartsim dsa scenarios/base.toml
      cartsim threshold scenarios/base.toml --param costs.car_t.product --wtp 100000,150000
    """


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@set_option
@debug_option
@guarded
def check(scenario: Path, overrides: tuple[str, ...], debug: bool) -> None:
    """Validate a scenario file (every problem at once); run nothing.

    \b
    Example:
      cartsim check scenarios/base.toml --set car_t.relapse.rate=0.1
    """
    s = load_scenario(scenario, overrides)
    prepare(s)
    click.echo(f"{scenario}: OK ({s.model} model, {len(s.parameters)} parameters, "
               f"strategies {', '.join(s.strategies)}; hash {s.canonical_hash[:12]})")


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
    table = parameters_table(load_scenario(scenario, overrides))
    click.echo(table_to_csv(table) if fmt == "csv" else table_to_markdown(table), nl=False)


def _target(out: Path | None, name: str) -> Path:
    return out if out is not None else RESULTS_ROOT / name


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--patients", type=click.IntRange(1, MAX_PATIENTS), default=None,
              help="Patients per strategy (default: run.patients in the scenario).")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None,
              help="Root random seed (default: run.seed).")
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
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@debug_option
@guarded
def run(scenario: Path, patients: int | None, seed: int | None, overrides: tuple[str, ...],
        out: Path | None, trace: bool, overwrite: bool, engine: str, no_crn: bool, quiet: bool,
        debug: bool) -> None:
    """Simulate both strategies and write the results tables.

    \b
    Examples:
      cartsim run scenarios/base.toml
      cartsim run scenarios/sle.toml --set car_t.relapse.rate=0.10 --patients 20000
      cartsim run scenarios/base.toml --seed 7 --out results/seed7 --trace
    """
    s = load_scenario(scenario, overrides)
    prepare(s)
    target = _target(out, s.run.output)
    check_run_folder(target, overwrite=overwrite)
    if not quiet:
        n = patients or s.run.patients
        click.echo(f"Simulating {n:,} patients x {len(s.strategies)} strategies "
                   f"({engine} engine)...", err=True)
    result = run_scenario(s, patients=patients, seed=seed, engine=engine,
                          common_random_numbers=not no_crn)
    files = run_files(result, trace=trace, command="run", overrides=overrides)
    with run_lock(target):
        write_run_folder(target, files, overwrite=overwrite)
    if not quiet:
        click.echo(summary_text(files, result))
        click.echo(f"\nWrote {len(files)} files to {target}/")


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--draws", type=click.IntRange(1, MAX_DRAWS), default=1000, show_default=True,
              help="Parameter draws.")
@click.option("--patients", type=click.IntRange(1, MAX_PATIENTS), default=1000,
              show_default=True, help="Patients per draw and strategy.")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Processes to spread the draws over; results are identical for any number.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None,
              help="Root random seed (default: run.seed).")
@set_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder (default: results/<scenario name>_psa).")
@click.option("--overwrite", is_flag=True,
              help="Replace an existing results folder (and any unfinished checkpoint).")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted PSA from its checkpoint (same scenario and options).")
@click.option("--engine", type=click.Choice(ENGINES), default="vectorised", show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@debug_option
@guarded
def psa(scenario: Path, draws: int, patients: int, workers: int, seed: int | None,
        overrides: tuple[str, ...], out: Path | None, overwrite: bool, resume: bool,
        engine: str, quiet: bool, debug: bool) -> None:
    """Probabilistic sensitivity analysis: CE plane, CEAC/CEAF, EVPI, EVPPI.

    \b
    Examples:
      cartsim psa scenarios/base.toml --draws 1000 --workers 2
      cartsim psa scenarios/sle.toml --draws 200 --patients 2000 --out results/sle_psa
      cartsim psa scenarios/base.toml --draws 1000 --workers 2 --resume   # after Ctrl-C
    """
    s = load_scenario(scenario, overrides)
    prepare(s)
    target = _target(out, f"{s.run.output}_psa")
    ckpt = checkpoint_path(target)
    header = {"scenario_hash": s.canonical_hash, "seed": seed if seed is not None else s.run.seed,
              "patients": patients, "engine": engine, "strategies": list(s.strategies)}
    target.parent.mkdir(parents=True, exist_ok=True)
    with run_lock(target):
        check_run_folder(target, overwrite=overwrite)
        done: dict = {}
        if resume:
            if not ckpt.is_file():
                msg = f"nothing to resume: no checkpoint at {ckpt}"
                raise UsageError(msg)
            done, keep, note = read_checkpoint(ckpt, header)
            writer = CheckpointWriter(ckpt, None, keep)
            if not quiet:
                click.echo(f"Resuming: {len(done)} draws already done."
                           + (f" ({note})" if note else ""), err=True)
        else:
            if ckpt.exists() and not overwrite:
                msg = (f"a checkpoint of an unfinished PSA exists ({ckpt}): add --resume to "
                       "continue it, or --overwrite to start again")
                raise UsageError(msg)
            writer = CheckpointWriter(ckpt, header)
        remaining = draws - len([k for k in done if k <= draws])
        with click.progressbar(length=remaining, label=f"PSA: {draws} draws x {patients:,} "
                               "patients", file=_progress_file(quiet)) as bar:
            def on_results(batch: list) -> None:
                writer.append(batch)
                bar.update(len(batch))

            result = run_psa(s, draws=draws, patients=patients, seed=seed, workers=workers,
                             engine=engine, done=done, on_results=on_results)
        files = psa_files(result, overrides, resumed=len(done))
        write_run_folder(target, files, overwrite=overwrite)
        ckpt.unlink(missing_ok=True)
    if not quiet:
        click.echo(psa_summary_text(files, result))
        click.echo(f"\nWrote {len(files)} files to {target}/")


def _common_analysis_options(func: Callable[..., None]) -> Callable[..., None]:
    """--patients, --seed, --set, --out, --overwrite, --engine, --quiet, --debug."""
    for option in reversed([
        click.option("--patients", type=click.IntRange(1, MAX_PATIENTS), default=None,
                     help="Patients per strategy in every run (default: run.patients)."),
        click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None,
                     help="Root random seed (default: run.seed); every run shares it."),
        set_option,
        click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Results folder."),
        click.option("--overwrite", is_flag=True, help="Replace an existing results folder."),
        click.option("--engine", type=click.Choice(ENGINES), default="vectorised",
                     show_default=True),
        click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors."),
        debug_option,
    ]):
        func = option(func)
    return func


def _write_analysis(target: Path, files: dict[str, str], overwrite: bool, quiet: bool,
                    summary: str) -> None:
    with run_lock(target):
        write_run_folder(target, files, overwrite=overwrite)
    if not quiet:
        click.echo(summary)
        click.echo(f"\nWrote {len(files)} files to {target}/")


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--param", "names", multiple=True, metavar="NAME",
              help="Only these parameters (repeatable; default: every one with a range).")
@_common_analysis_options
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
    s = load_scenario(scenario, overrides)
    prepare(s)
    target = _target(out, f"{s.run.output}_dsa")
    check_run_folder(target, overwrite=overwrite)
    runs = 1 + 2 * len(dsa_ranges(s, list(names) or None))
    with click.progressbar(length=runs, label=f"DSA: {runs} runs", file=_progress_file(quiet)) as bar:
        result = one_way(s, patients=patients, seed=seed, engine=engine,
                         names=list(names) or None, progress=bar.update)
    tables = one_way_tables(result)
    files = sensitivity_files(tables, s, result.info, command="dsa", overrides=overrides)
    _write_analysis(target, files, overwrite, quiet, sensitivity_summary(tables[1]))


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--grid", "grid_items", multiple=True, required=True, metavar="NAME=VALUES",
              help="A parameter and its values: NAME=v1,v2,... or NAME=start:stop:count, in "
                   "the unit the scenario writes (repeatable; every combination is run).")
@_common_analysis_options
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
    s = load_scenario(scenario, overrides)
    prepare(s)
    grid = parse_grid(grid_items)
    target = _target(out, f"{s.run.output}_sweep")
    check_run_folder(target, overwrite=overwrite)
    runs = math.prod(len(v) for v in grid.values())
    with click.progressbar(length=runs, label=f"Sweep: {runs} runs",
                           file=_progress_file(quiet)) as bar:
        result = run_sweep(s, grid, patients=patients, seed=seed, engine=engine,
                           progress=bar.update)
    table = sweep_table(result)
    files = sensitivity_files([table], s, result.info, command="sweep", overrides=overrides,
                              extra={"grid": {k: list(v) for k, v in grid.items()}})
    _write_analysis(target, files, overwrite, quiet, sensitivity_summary(table))


@main.command("threshold")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--param", "name", required=True, metavar="NAME",
              help="The parameter to solve for, e.g. costs.car_t.product.")
@click.option("--wtp", "wtp_text", default=None, metavar="W1,W2,...",
              help="Willingness-to-pay values (default: run.wtp).")
@click.option("--lower", type=float, default=None, help="Lower end of the search bracket.")
@click.option("--upper", type=float, default=None, help="Upper end of the search bracket.")
@_common_analysis_options
@guarded
def threshold_command(scenario: Path, name: str, wtp_text: str | None, lower: float | None,
                      upper: float | None, patients: int | None, seed: int | None,
                      overrides: tuple[str, ...], out: Path | None, overwrite: bool,
                      engine: str, quiet: bool, debug: bool) -> None:
    """The parameter value at which INMB = 0 at each WTP (value-based price, break-even
    relapse rate, tolerable malignancy risk), found on common random numbers.

    \b
    Example:
      cartsim threshold scenarios/base.toml --param costs.car_t.product --wtp 100000,150000
    """
    s = load_scenario(scenario, overrides)
    prepare(s)
    wtp = _parse_wtp(wtp_text) if wtp_text else s.run.wtp
    target = _target(out, f"{s.run.output}_threshold")
    check_run_folder(target, overwrite=overwrite)
    if not quiet:
        click.echo(f"Searching for the threshold of {name}...", err=True)
    result = threshold(s, name, wtp=wtp, lower=lower, upper=upper, patients=patients,
                       seed=seed, engine=engine)
    table = threshold_table(result)
    files = sensitivity_files([table], s, result.info, command="threshold",
                              overrides=overrides, extra={"parameter": name,
                                                          "lower": result.lower,
                                                          "upper": result.upper})
    _write_analysis(target, files, overwrite, quiet, sensitivity_summary(table))


def _parse_wtp(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError as err:
        msg = f"--wtp must be numbers separated by commas, e.g. 100000,150000; got {text!r}"
        raise UsageError(msg) from err
    if not values or any(not math.isfinite(v) or v < 0 for v in values):
        msg = f"--wtp values must be finite and >= 0; got {text!r}"
        raise UsageError(msg)
    return values


def _progress_file(quiet: bool) -> Any:
    return io.StringIO() if quiet else sys.stderr


def run_main() -> None:
    main(prog_name="cartsim")


if __name__ == "__main__":
    run_main()
