"""The analysis commands: psa, dsa, sweep, threshold."""

from __future__ import annotations

import math
from pathlib import Path

import click

from cartsim.api import ENGINES, prepare
from cartsim.cli_common import (
    analysis_options,
    debug_option,
    guarded,
    progress_file,
    set_option,
    target_folder,
    write_analysis,
)
from cartsim.errors import UsageError
from cartsim.psa import MAX_DRAWS, run_psa
from cartsim.report.checkpoint import CheckpointWriter, checkpoint_path, read_checkpoint
from cartsim.report.files import check_run_folder, run_lock, write_run_folder
from cartsim.report.psa_output import psa_files, psa_summary_text
from cartsim.report.sensitivity_tables import (
    one_way_tables,
    parse_grid,
    sensitivity_files,
    sensitivity_summary,
    sweep_table,
    threshold_table,
)
from cartsim.scenario.load import load_scenario
from cartsim.scenario.settings import MAX_PATIENTS
from cartsim.sensitivity import dsa_ranges, one_way, threshold
from cartsim.sensitivity import sweep as run_sweep


@click.command()
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
                               "patients", file=progress_file(quiet)) as bar:
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
    s = load_scenario(scenario, overrides)
    prepare(s)
    target = target_folder(out, f"{s.run.output}_dsa")
    check_run_folder(target, overwrite=overwrite)
    runs = 1 + 2 * len(dsa_ranges(s, list(names) or None))
    with click.progressbar(length=runs, label=f"DSA: {runs} runs", file=progress_file(quiet)) as bar:
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
    s = load_scenario(scenario, overrides)
    prepare(s)
    grid = parse_grid(grid_items)
    target = target_folder(out, f"{s.run.output}_sweep")
    check_run_folder(target, overwrite=overwrite)
    runs = math.prod(len(v) for v in grid.values())
    with click.progressbar(length=runs, label=f"Sweep: {runs} runs",
                           file=progress_file(quiet)) as bar:
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
@analysis_options
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
    target = target_folder(out, f"{s.run.output}_threshold")
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
    write_analysis(target, files, overwrite, quiet, sensitivity_summary(table))


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
