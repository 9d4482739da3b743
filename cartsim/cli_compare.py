"""The `cartsim compare` command: several scenarios, one table of their key results."""

from __future__ import annotations

from pathlib import Path

import click

from cartsim.cli_common import (
    RESULTS_ROOT,
    analysis_options,
    guarded,
    progress_bar,
    show_warnings,
    write_analysis,
)
from cartsim.compare import compare_scenarios, load_comparable
from cartsim.report.compare_tables import compare_files, compare_summary, compare_table
from cartsim.report.files import check_run_folder


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
    scenarios = load_comparable(scenario_files, overrides)
    for s in scenarios:
        show_warnings(s)
    target = out if out is not None else RESULTS_ROOT / "compare"
    check_run_folder(target, overwrite=overwrite)
    with progress_bar(len(scenarios), f"Compare: {len(scenarios)} scenarios", quiet) as bar:
        comparison = compare_scenarios(scenarios, overrides, patients=patients, seed=seed,
                                       engine=engine, progress=bar.update)
    rows, first = list(comparison.rows), scenarios[0]
    n, root = comparison.patients, comparison.seed
    run = first.run
    table = compare_table(rows, strategies=first.strategies, comparator=run.comparator,
                          wtp=run.wtp, currency=run.reported_currency,
                          price_year=run.reported_price_year, engine=engine)
    files = compare_files(
        table, rows, hashes=[s.canonical_hash for s in scenarios], seed=root, engine=engine,
        settings={"strategies": list(first.strategies), "comparator": run.comparator,
                  "wtp": list(run.wtp), "currency": run.reported_currency,
                  "price_year": run.reported_price_year, "patients": n,
                  "common_random_numbers": True},
        overrides=overrides)
    write_analysis(target, files, overwrite, quiet, compare_summary(table))
