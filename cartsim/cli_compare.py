"""The `cartsim compare` command: several scenarios, one table of their key results."""

from __future__ import annotations

from pathlib import Path

import click

from cartsim.analysis.compare import (
    ScenarioSummary,
    scenario_changes,
    summarise_scenario,
)
from cartsim.api import prepare, run_scenario
from cartsim.cli_common import (
    RESULTS_ROOT,
    analysis_options,
    guarded,
    progress_bar,
    write_analysis,
)
from cartsim.errors import Problem, ScenarioError, UsageError
from cartsim.report.compare_tables import compare_files, compare_summary, compare_table
from cartsim.report.files import check_run_folder
from cartsim.scenario.load import load_scenario, read_toml
from cartsim.scenario.model import Scenario

MAX_SCENARIOS = 200


def load_all(paths: tuple[Path, ...], overrides: tuple[str, ...]) -> list[Scenario]:
    """Load and check every file; one ScenarioError with the problems of all of them."""
    scenarios, problems = [], []
    for path in paths:
        try:
            s = load_scenario(path, overrides)
            prepare(s)
            scenarios.append(s)
        except ScenarioError as err:
            problems += [Problem(f"{err.source}: {p.path}", p.message, p.value, p.hint,
                                 p.has_value) for p in err.problems]
    if problems:
        bad = len({p.path.split(": ", 1)[0] for p in problems})
        raise ScenarioError(f"{bad} of {len(paths)} scenario files", problems)
    return scenarios


def check_comparable(scenarios: list[Scenario]) -> None:
    """Rows of one table must share strategies, comparator, WTP grid and currency:
    otherwise their columns would mean different things. UsageError naming each."""
    first, issues = scenarios[0], []
    for s in scenarios[1:]:
        for what, mine, theirs in (
            ("strategies", s.strategies, first.strategies),
            ("run.comparator", s.run.comparator, first.run.comparator),
            ("run.wtp", tuple(s.run.wtp), tuple(first.run.wtp)),
            ("currency", s.run.reported_currency, first.run.reported_currency),
            ("price year", s.run.reported_price_year, first.run.reported_price_year),
        ):
            if mine != theirs:
                issues.append(f"  {s.source}: {what} {mine!r} differs from {theirs!r} in "
                              f"{first.source}")
    if issues:
        msg = ("scenarios can be compared only with the same strategies, comparator, "
               "willingness-to-pay values and currency (and price year); set them alike, e.g. "
               "--set run.wtp=[50000,100000]:\n" + "\n".join(issues))
        raise UsageError(msg)


def base_changes(scenario: Scenario, overrides: tuple[str, ...]) -> tuple[str, ...]:
    """What ``scenario`` changes from the file it extends (with the same --set)."""
    path = Path(scenario.source)
    parent = read_toml(path).get("extends")
    if not isinstance(parent, str):
        return ()
    try:
        base = load_scenario(path.parent / parent, overrides)
    except ScenarioError:
        return (f"not compared: {parent} does not validate on its own",)
    return scenario_changes(scenario, base)


def _names(scenarios: list[Scenario]) -> list[str]:
    stems = [s.name for s in scenarios]
    return [s.name if stems.count(s.name) == 1 else s.source for s in scenarios]


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
    if len(scenario_files) > MAX_SCENARIOS:
        msg = f"compare takes at most {MAX_SCENARIOS} scenario files; got {len(scenario_files)}"
        raise UsageError(msg)
    scenarios = load_all(scenario_files, overrides)
    check_comparable(scenarios)
    first = scenarios[0]
    n = patients if patients is not None else first.run.patients
    root = seed if seed is not None else first.run.seed
    target = out if out is not None else RESULTS_ROOT / "compare"
    check_run_folder(target, overwrite=overwrite)
    rows: list[ScenarioSummary] = []
    with progress_bar(len(scenarios), f"Compare: {len(scenarios)} scenarios", quiet) as bar:
        for s, name in zip(scenarios, _names(scenarios), strict=True):
            result = run_scenario(s, patients=None if s.cohort.file else n, seed=root,
                                  engine=engine)
            rows.append(summarise_scenario(
                {k: o.columns for k, o in result.outcomes.items()}, comparator=s.run.comparator,
                wtp=s.run.wtp, name=name, file=s.source, title=s.title,
                changes=base_changes(s, overrides), seed=root))
            bar.update(1)
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
