"""`cartsim compare`: the compare study (:mod:`cartsim.study.compare`) from the command
line: several scenarios, one table of their key results."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cartsim.cli.execute import Bar, execute, guarded
from cartsim.cli.options import RESULTS_ROOT, analysis_options, show_warnings

if TYPE_CHECKING:
    from cartsim.study.compare import ComparisonResult


@click.command("compare")
@click.argument("scenario_files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@analysis_options
@guarded
def compare(scenario_files: tuple[Path, ...], patients: int | None, seed: int | None,
            overrides: tuple[str, ...], out: Path | None, overwrite: bool, engine: str,
            quiet: bool, debug: bool) -> None:
    """Run several scenarios and write one table of their key results side by side.

    Every scenario runs with the same seed and number of patients (default: those of
    the first file), so with common random numbers the rows differ by the effect of
    their assumptions, not by Monte Carlo noise. --set applies to every scenario.
    All files must share strategies, comparator, WTP values and currency.

    \b
    Examples:
      cartsim compare scenarios/relapse_*.toml --patients 5000
      cartsim compare scenarios/base.toml scenarios/cost_*.toml --out results/costs
    """
    from cartsim.report.terminal import compare_summary
    from cartsim.study.compare import compare_scenarios, load_comparable

    scenarios = load_comparable(scenario_files, overrides)
    for s in scenarios:
        show_warnings(s)

    def study(bar: Bar) -> ComparisonResult:
        with bar(len(scenarios), f"Compare: {len(scenarios)} scenarios") as progress:
            return compare_scenarios(scenarios, patients=patients, seed=seed, engine=engine,
                                     progress=progress.update)

    execute(study, out if out is not None else RESULTS_ROOT / "compare", overwrite=overwrite,
            quiet=quiet, summary=lambda result: compare_summary(result.table("compare")))
