"""Shared pieces of the command line: error handling, common options, output folders."""

from __future__ import annotations

import io
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cartsim.api import ENGINES, check_cohort
from cartsim.errors import CartsimError
from cartsim.report.files import run_lock, write_run_folder
from cartsim.report.input_tables import cohort_spec_table, cohort_table
from cartsim.report.tables import Table, terminal_table
from cartsim.scenario.load import load_scenario
from cartsim.scenario.model import Scenario
from cartsim.scenario.settings import MAX_PATIENTS

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

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
quiet_option = click.option("--quiet", "-q", is_flag=True,
                            help="Print nothing but errors: no progress, no summary (for "
                                 "scripts; the exit code says whether it worked).")
seed_option = click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None,
                           help="Root random seed (default: run.seed).")
set_option = click.option("--set", "overrides", multiple=True, metavar="NAME=VALUE",
                          help="Override a parameter or setting, e.g. car_t.relapse.rate=0.1 "
                               "(repeatable). A parameter set this way is fixed at the value.")


def load_checked(path: Path, overrides: Sequence[str]) -> Scenario:
    """Load a scenario and show its warnings on stderr.

    Warnings are shown even with --quiet: they are not chatter but things in the
    scenario that are probably mistakes (a bare number that silently fixes a
    parameter), which matter most in scripts; run.json records them too.
    """
    scenario = load_scenario(path, overrides)
    show_warnings(scenario)
    return scenario


def show_warnings(scenario: Scenario) -> None:
    """One line per warning (the terminal wraps it; a script can grep it whole)."""
    for text in scenario.warnings:
        click.echo(f"Warning: {text}", err=True)


def specified_cohort(scenario: Scenario) -> Table:
    """The cohort as the scenario specifies it: the sampled groups (shares normalised),
    or a summary of the cohort file's patients (read and checked as a run reads them)."""
    patients = check_cohort(scenario, None)
    if patients is None:
        return cohort_spec_table(scenario)
    name = scenario.cohort.file.name if scenario.cohort.file else ""
    return cohort_table(patients, f"Cohort as specified: the {patients.n:,} patients of {name}")


def titled_text(table: Table) -> str:
    """A small table for the terminal under its title."""
    return f"{table.title}:\n{terminal_table(table.columns, table.rows, table.formats)}"


def target_folder(out: Path | None, name: str) -> Path:
    return out if out is not None else RESULTS_ROOT / name


def analysis_options(func: Callable[..., None]) -> Callable[..., None]:
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
        quiet_option,
        debug_option,
    ]):
        func = option(func)
    return func


def write_analysis(target: Path, files: dict[str, str], overwrite: bool, quiet: bool,
                   summary: str) -> None:
    with run_lock(target):
        write_run_folder(target, files, overwrite=overwrite)
    print_summary(summary, len(files), target, quiet)


def print_summary(summary: str, count: int, target: Path, quiet: bool) -> None:
    """The key results on stdout, then where they were written (nothing with --quiet)."""
    if not quiet:
        click.echo(summary)
        click.echo(f"\nWrote {count} files to {target}/")


def notice(text: str, quiet: bool) -> None:
    """A one-line note on stderr (what is being done), so stdout holds only results."""
    if not quiet:
        click.echo(text, err=True)


def progress_file(quiet: bool) -> Any:
    """Where progress bars go: stderr, or nowhere with --quiet."""
    return io.StringIO() if quiet else sys.stderr


def progress_bar(length: int | None, label: str, quiet: bool) -> ProgressBar[Any]:
    """A progress bar on stderr, advanced by ``bar.update(n)`` (pass ``bar.update`` as
    a lower layer's ``progress`` callback); nothing with --quiet.

    Where stderr is not a terminal click prints only ``label``, once, so the label
    doubles as the notice of what is running. ``length`` None: the amount of work is
    not known in advance (a root search); the bar then counts steps instead.
    """
    if length is None:
        # A generator has no length, which is how click is told it is unknown.
        return click.progressbar((_ for _ in ()), label=label, show_pos=True,
                                 file=progress_file(quiet))
    return click.progressbar(length=length, label=label, file=progress_file(quiet))
