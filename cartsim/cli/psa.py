"""`cartsim psa`: the PSA study (:mod:`cartsim.study.psa`) from the command line, with
its checkpoint (``--resume``) and Dask cluster (``--scheduler``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from cartsim.cli.execute import Bar, execute, guarded, notice
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
from cartsim.errors import UsageError
from cartsim.limits import MAX_DRAWS, MAX_PATIENTS

if TYPE_CHECKING:
    from cartsim.scenario.model import Scenario
    from cartsim.study.psa import DrawResult, Population, PsaResult
from cartsim.study.parallel import check_scheduler


@click.command()
@scenario_argument
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
@engine_option
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
    from cartsim.report.checkpoint import CheckpointWriter, checkpoint_path, read_checkpoint
    from cartsim.report.terminal import psa_summary
    from cartsim.study.prepare import prepare
    from cartsim.study.psa import run_psa

    s = load_checked(scenario, overrides)
    prepare(s)
    people = psa_population(s, population, population_years, scheduler, workers)
    if scheduler is not None:
        check_scheduler(scheduler)
    target = target_folder(out, f"{s.run.output}_psa")
    ckpt = checkpoint_path(target)
    header = {"scenario_hash": s.canonical_hash, "seed": seed if seed is not None else s.run.seed,
              "patients": patients, "engine": engine, "strategies": list(s.strategies)}

    def study(bar: Bar) -> PsaResult:
        # Under the folder's lock: the checkpoint beside it is this run's alone.
        done: dict[int, DrawResult] = {}
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
        with bar(remaining, f"PSA: {draws} draws x {patients:,} patients") as progress:
            def on_results(batch: list[DrawResult]) -> None:
                writer.append(batch)
                progress.update(len(batch))

            return run_psa(s, draws=draws, patients=patients, seed=seed, workers=workers,
                           engine=engine, done=done, on_results=on_results,
                           scheduler=scheduler, population=people)

    execute(study, target, overwrite=overwrite, quiet=quiet, summary=psa_summary, xlsx=xlsx,
            hold_lock=True, after_write=lambda: ckpt.unlink(missing_ok=True))


def psa_population(s: Scenario, population: float | None, years: float | None,
                   scheduler: str | None, workers: int) -> Population | None:
    """Check the options that go together; the population EVPI settings, if asked for."""
    from cartsim.study.psa import Population, annual_discount

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
