"""The analysis commands: psa, dsa, sweep, threshold."""

from __future__ import annotations

import math
from pathlib import Path

import click
from click.core import ParameterSource

from cartsim.api import ENGINES, prepare
from cartsim.cli_common import (
    analysis_options,
    debug_option,
    guarded,
    load_checked,
    notice,
    print_summary,
    progress_bar,
    quiet_option,
    seed_option,
    set_option,
    target_folder,
    write_analysis,
)
from cartsim.cli_report import workbook_for, write_workbook, xlsx_option
from cartsim.errors import UsageError
from cartsim.parallel import check_scheduler
from cartsim.psa import MAX_DRAWS, run_psa
from cartsim.report.checkpoint import CheckpointWriter, checkpoint_path, read_checkpoint
from cartsim.report.files import check_run_folder, run_lock, write_run_folder
from cartsim.report.psa_output import psa_files, psa_summary_text
from cartsim.report.psa_tables import Population, annual_discount
from cartsim.report.sensitivity_tables import (
    one_way_tables,
    parse_grid,
    sensitivity_files,
    sensitivity_summary,
    sweep_table,
    threshold_draws_tables,
    threshold_table,
)
from cartsim.scenario.model import Scenario
from cartsim.scenario.settings import MAX_PATIENTS
from cartsim.sensitivity import dsa_ranges, one_way, threshold
from cartsim.sensitivity import sweep as run_sweep
from cartsim.threshold_draws import threshold_draws


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--draws", type=click.IntRange(1, MAX_DRAWS), default=1000, show_default=True,
              help="Parameter draws.")
@click.option("--patients", type=click.IntRange(1, MAX_PATIENTS), default=1000,
              show_default=True, help="Patients per draw and strategy.")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Processes to spread the draws over; results are identical for any number.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run the draws on a Dask cluster, e.g. tcp://host:8786 (needs "
                   "pip install 'cartsim[dask]'); results are identical to a local run.")
@click.option("--population", type=click.FloatRange(0, 1e12), default=None, metavar="N",
              help="Also report population EVPI: patients the decision affects (per year "
                   "with --population-years).")
@click.option("--population-years", type=click.FloatRange(0, 1000, min_open=True),
              default=None, metavar="T",
              help="Years over which --population patients a year are treated (discounted "
                   "at the cost discount rate).")
@seed_option
@set_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder (default: results/<scenario name>_psa).")
@click.option("--overwrite", is_flag=True,
              help="Replace an existing results folder (and any unfinished checkpoint).")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted PSA from its checkpoint (same scenario and options).")
@click.option("--engine", type=click.Choice(ENGINES), default="vectorised", show_default=True)
@xlsx_option
@quiet_option
@debug_option
@guarded
def psa(scenario: Path, draws: int, patients: int, workers: int, scheduler: str | None,
        population: float | None, population_years: float | None, seed: int | None,
        overrides: tuple[str, ...], out: Path | None, overwrite: bool, resume: bool,
        engine: str, xlsx: bool, quiet: bool, debug: bool) -> None:
    """Probabilistic sensitivity analysis: CE plane, CEAC/CEAF, EVPI, EVPPI.

    \b
    Examples:
      cartsim psa scenarios/base.toml --draws 1000 --workers 2
      cartsim psa scenarios/sle.toml --draws 200 --patients 2000 --out results/sle_psa
      cartsim psa scenarios/base.toml --draws 1000 --workers 2 --resume   # after Ctrl-C
      cartsim psa scenarios/base.toml --draws 1000 --scheduler tcp://10.0.0.5:8786
      cartsim psa scenarios/base.toml --population 2000 --population-years 10
    """
    s = load_checked(scenario, overrides)
    prepare(s)
    people = psa_population(s, population, population_years, scheduler, workers)
    if scheduler is not None:
        check_scheduler(scheduler)
    target = target_folder(out, f"{s.run.output}_psa")
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
            resumable = read_checkpoint(ckpt, header)
            done = resumable.done
            writer = CheckpointWriter(ckpt, resume=resumable)
            notice(f"Resuming: {len(done)} draws already done."
                   + (f" ({resumable.note})" if resumable.note else ""), quiet)
        else:
            if ckpt.exists() and not overwrite:
                msg = (f"a checkpoint of an unfinished PSA exists ({ckpt}): add --resume to "
                       "continue it, or --overwrite to start again")
                raise UsageError(msg)
            writer = CheckpointWriter(ckpt, header)
        remaining = draws - len([k for k in done if k <= draws])
        with progress_bar(remaining, f"PSA: {draws} draws x {patients:,} patients",
                          quiet) as bar:
            def on_results(batch: list) -> None:
                writer.append(batch)
                bar.update(len(batch))

            result = run_psa(s, draws=draws, patients=patients, seed=seed, workers=workers,
                             engine=engine, done=done, on_results=on_results,
                             scheduler=scheduler)
        files = psa_files(result, overrides, resumed=len(done), population=people)
        book = workbook_for(files, xlsx)
        write_run_folder(target, files, overwrite=overwrite)
        write_workbook(target, book)
        ckpt.unlink(missing_ok=True)
    print_summary(psa_summary_text(files, result), len(files), target, quiet)



@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
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
    s = load_checked(scenario, overrides)
    prepare(s)
    target = target_folder(out, f"{s.run.output}_dsa")
    check_run_folder(target, overwrite=overwrite)
    runs = 1 + 2 * len(dsa_ranges(s, list(names) or None))
    with progress_bar(runs, f"DSA: {runs} runs", quiet) as bar:
        result = one_way(s, patients=patients, seed=seed, engine=engine,
                         names=list(names) or None, progress=bar.update)
    tables = one_way_tables(result)
    files = sensitivity_files(tables, s, result.info, command="dsa", overrides=overrides)
    write_analysis(target, files, overwrite, quiet, sensitivity_summary(tables[1]))


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
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
    s = load_checked(scenario, overrides)
    prepare(s)
    grid = parse_grid(grid_items)
    target = target_folder(out, f"{s.run.output}_sweep")
    check_run_folder(target, overwrite=overwrite)
    runs = math.prod(len(v) for v in grid.values())
    with progress_bar(runs, f"Sweep: {runs} runs", quiet) as bar:
        result = run_sweep(s, grid, patients=patients, seed=seed, engine=engine,
                           progress=bar.update)
    table = sweep_table(result)
    files = sensitivity_files([table], s, result.info, command="sweep", overrides=overrides,
                              extra={"grid": {k: list(v) for k, v in grid.items()}})
    write_analysis(target, files, overwrite, quiet, sensitivity_summary(table))


@click.command("threshold")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--param", "name", required=True, metavar="NAME",
              help="The parameter to solve for, e.g. costs.car_t.product.")
@click.option("--wtp", "wtp_text", default=None, metavar="W1,W2,...",
              help="Willingness-to-pay values (default: run.wtp).")
@click.option("--lower", type=float, default=None, help="Lower end of the search bracket.")
@click.option("--upper", type=float, default=None, help="Upper end of the search bracket.")
@click.option("--psa-draws", type=click.IntRange(1, MAX_DRAWS), default=None, metavar="N",
              help="Also find the threshold in each of PSA draws 1..N (other parameters "
                   "drawn as by `cartsim psa`) and summarise its distribution.")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Processes to spread --psa-draws over; results are identical for any "
                   "number.")
@analysis_options
@guarded
def threshold_command(scenario: Path, name: str, wtp_text: str | None, lower: float | None,
                      upper: float | None, psa_draws: int | None, workers: int,
                      patients: int | None, seed: int | None,
                      overrides: tuple[str, ...], out: Path | None, overwrite: bool,
                      engine: str, quiet: bool, debug: bool) -> None:
    """The parameter value at which INMB = 0 at each WTP (value-based price, break-even
    relapse rate, tolerable malignancy risk), found on common random numbers.

    \b
    Examples:
      cartsim threshold scenarios/base.toml --param costs.car_t.product --wtp 100000,150000
      cartsim threshold scenarios/base.toml --param costs.car_t.product --psa-draws 200 \\
          --patients 1000 --workers 2
    """
    s = load_checked(scenario, overrides)
    prepare(s)
    wtp = _parse_wtp(wtp_text) if wtp_text else s.run.wtp
    target = target_folder(out, f"{s.run.output}_threshold")
    check_run_folder(target, overwrite=overwrite)
    with progress_bar(None, f"Searching for the threshold of {name} (model runs)",
                      quiet) as bar:
        result = threshold(s, name, wtp=wtp, lower=lower, upper=upper, patients=patients,
                           seed=seed, engine=engine, progress=bar.update)
    tables = [threshold_table(result)]
    summary = sensitivity_summary(tables[0])
    if psa_draws is not None:
        with progress_bar(psa_draws, f"Threshold in {psa_draws} PSA draws", quiet) as bar:
            spread = threshold_draws(s, name, wtp=wtp, draws=psa_draws, lower=lower,
                                     upper=upper, patients=patients, seed=seed,
                                     engine=engine, workers=workers, progress=bar.update)
        tables += threshold_draws_tables(spread)
        summary += "\n\n" + sensitivity_summary(tables[-1])
    files = sensitivity_files(tables, s, result.info, command="threshold",
                              overrides=overrides, extra={"parameter": name,
                                                          "lower": result.lower,
                                                          "upper": result.upper,
                                                          **({"psa_draws": psa_draws}
                                                             if psa_draws else {})})
    write_analysis(target, files, overwrite, quiet, summary)


def psa_population(s: Scenario, population: float | None, years: float | None,
                   scheduler: str | None, workers: int) -> Population | None:
    """Check the options that go together; the population EVPI settings, if asked for."""
    source = click.get_current_context().get_parameter_source("workers")
    if scheduler is not None and source is ParameterSource.COMMANDLINE:
        msg = "--workers and --scheduler exclude each other: a Dask cluster has its own workers"
        raise UsageError(msg)
    if years is not None and population is None:
        msg = "--population-years needs --population (the patients treated each year)"
        raise UsageError(msg)
    if population is None:
        return None
    return Population(population, years, annual_discount(s.run.discount_costs,
                                                         s.run.convention))


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
