"""Options and steps every command shares: loading a scenario (its warnings on
stderr), the common click options, and where results go."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cartsim.limits import ENGINES, MAX_PATIENTS

if TYPE_CHECKING:
    from cartsim.scenario.model import Scenario

RESULTS_ROOT = Path("results")

debug_option = click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
quiet_option = click.option("--quiet", "-q", is_flag=True,
                            help="Print nothing but errors: no progress, no summary (for "
                                 "scripts; the exit code says whether it worked).")
seed_option = click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None,
                           help="Root random seed (default: run.seed).")
set_option = click.option("--set", "overrides", multiple=True, metavar="NAME=VALUE",
                          help="Override a parameter or setting, e.g. car_t.relapse.rate=0.1 "
                               "(repeatable). A parameter set this way is fixed at the value.")
engine_option = click.option(
    "--engine", type=click.Choice(ENGINES), default="compiled", show_default=True,
    help="compiled (fast, the default) or simpy (the reference engine); both give the same "
         "per-patient results (to 1e-12 relative, counts exactly).")
scenario_argument = click.argument("scenario",
                                   type=click.Path(dir_okay=False, path_type=Path))


def load_checked(path: Path, overrides: Sequence[str]) -> Scenario:
    """Load a scenario and show its warnings on stderr.

    Warnings are shown even with --quiet: they are not chatter but things in the
    scenario that are probably mistakes (a bare number that silently fixes a
    parameter), which matter most in scripts; run.json records them too.
    """
    from cartsim.scenario.load import load_scenario

    scenario = load_scenario(path, overrides)
    show_warnings(scenario)
    return scenario


def show_warnings(scenario: Scenario) -> None:
    """One line per warning (the terminal wraps it; a script can grep it whole)."""
    for text in scenario.warnings:
        click.echo(f"Warning: {text}", err=True)


def target_folder(out: Path | None, name: str) -> Path:
    """``--out``, or ``results/<name>``."""
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
        engine_option,
        quiet_option,
        debug_option,
    ]):
        func = option(func)
    return func
