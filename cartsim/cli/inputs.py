"""`cartsim check` and `cartsim params`: the inputs, with nothing run."""

from __future__ import annotations

from pathlib import Path

import click

from cartsim.cli.execute import guarded
from cartsim.cli.options import (
    debug_option,
    load_checked,
    quiet_option,
    scenario_argument,
    set_option,
)


@click.command()
@scenario_argument
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
    from cartsim.report.terminal import titled_text
    from cartsim.study.input_tables import specified_cohort
    from cartsim.study.prepare import prepare

    s = load_checked(scenario, overrides)
    prepare(s)  # what every study checks before it simulates
    if not quiet:
        click.echo(f"{scenario}: OK ({s.model} model, {len(s.parameters)} parameters, "
                   f"strategies {', '.join(s.strategies)}; hash {s.canonical_hash[:12]})")
        click.echo(titled_text(specified_cohort(s)))


@click.command()
@scenario_argument
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
    from cartsim.report.render import table_to_csv, table_to_markdown
    from cartsim.report.terminal import titled_text
    from cartsim.study.input_tables import correlations_table, parameters_table, specified_cohort

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
