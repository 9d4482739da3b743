"""`cartsim budget`: the budget impact study (:mod:`cartsim.study.budget`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cartsim.cli.execute import Bar, execute, guarded
from cartsim.cli.options import analysis_options, load_checked, target_folder
from cartsim.limits import MAX_DRAWS

if TYPE_CHECKING:  # the study and its formatting load when the command runs (fast --help)
    from cartsim.study.budget import BudgetResult


def budget_summary(res: BudgetResult) -> str:
    """Eligible patients, then each year's newly treated, spend and impact (PMPM)."""
    from cartsim.report.render import format_value, terminal_table

    inp, run = res.inputs, res.scenario.run
    cur = f"{run.reported_currency} {run.reported_price_year}"
    eligible = sum(g.eligible for g in inp.groups)
    by_group = ", ".join(f"{g.group} {format_value(g.eligible, 'int')}" for g in inp.groups)
    lines = [res.scenario.title,
             f"Budget impact, {inp.years} years, undiscounted {cur}; population "
             f"{inp.population_name} ({format_value(inp.population, 'int')}), "
             f"{format_value(eligible, 'int')} eligible patients "
             f"({by_group})",
             "mix of the newly treated: " + ", ".join(f"{s} {x:.0%}" for s, x in inp.mix.items()),
             ""]
    table = res.table("budget_summary")
    keep = ("year", "newly_treated", "current", "new", "impact", "impact_pmpm",
            *[c for c in ("impact_low", "impact_high") if c in table.columns])
    idx = [table.columns.index(c) for c in keep]
    lines.append(terminal_table(keep, [[row[i] for i in idx] for row in table.rows],
                                {c: table.formats.get(c, "float") for c in keep}))
    return "\n".join(lines)


@click.command("budget")
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@analysis_options
@click.option("--psa-draws", type=click.IntRange(0, MAX_DRAWS), default=0, show_default=True,
              help="Simulate this many PSA draws too, for intervals on the yearly impact.")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Processes to simulate on; results are identical for any number.")
@guarded
def budget_command(scenario: Path, patients: int | None, seed: int | None,
                   overrides: tuple[str, ...], out: Path | None, overwrite: bool, engine: str,
                   quiet: bool, debug: bool, psa_draws: int, workers: int) -> None:
    """Budget impact: eligible patients, uptake, yearly spend and per member per month.

    The settings are the scenario's [budget] table (population, plan_members, years,
    uptake, mix, per-disease figures), or the shipped figures without one.

    \b
    Examples:
      cartsim budget scenarios/base.toml
      cartsim budget scenarios/budget_plan.toml --psa-draws 200
    """
    from cartsim.study.budget import budget
    from cartsim.study.prepare import prepare

    s = load_checked(scenario, overrides)
    prepare(s)

    def study(bar: Bar) -> BudgetResult:
        n = patients or s.run.patients
        with bar(n * len(s.strategies) * (1 + psa_draws),
                 f"Simulating {n:,} patients x {len(s.strategies)} strategies"
                 + (f" x {1 + psa_draws} value sets" if psa_draws else "")) as progress:
            return budget(s, patients=patients, seed=seed, engine=engine, psa_draws=psa_draws,
                          workers=workers, progress=progress.update)

    execute(study, target_folder(out, f"{s.run.output}_budget"), overwrite=overwrite,
            quiet=quiet, summary=budget_summary)
