"""Shared pieces of the command line: error handling, common options, output folders."""

from __future__ import annotations

import io
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cartsim.api import ENGINES
from cartsim.errors import CartsimError
from cartsim.report.files import run_lock, write_run_folder
from cartsim.scenario.settings import MAX_PATIENTS

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
        click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors."),
        debug_option,
    ]):
        func = option(func)
    return func


def write_analysis(target: Path, files: dict[str, str], overwrite: bool, quiet: bool,
                    summary: str) -> None:
    with run_lock(target):
        write_run_folder(target, files, overwrite=overwrite)
    if not quiet:
        click.echo(summary)
        click.echo(f"\nWrote {len(files)} files to {target}/")




def progress_file(quiet: bool) -> Any:
    """Where progress bars go: stderr, or nowhere with --quiet."""
    return io.StringIO() if quiet else sys.stderr
