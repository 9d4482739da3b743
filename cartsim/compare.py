"""Run several scenarios on the same patients and summarise each: the engine of
`cartsim compare`, callable from Python (notebooks) as well.

>>> scenarios = load_comparable([Path("scenarios/relapse_base.toml"),
...                              Path("scenarios/relapse_high.toml")])     # doctest: +SKIP
>>> comparison = compare_scenarios(scenarios)                            # doctest: +SKIP
>>> [row.name for row in comparison.rows]                               # doctest: +SKIP
['relapse_base', 'relapse_high']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cartsim.analysis.compare import (
    ScenarioSummary,
    scenario_changes,
    summarise_scenario,
)
from cartsim.api import prepare, run_scenario
from cartsim.errors import Problem, ScenarioError, UsageError
from cartsim.scenario.load import load_scenario, read_toml
from cartsim.scenario.model import Scenario

MAX_SCENARIOS = 200


def load_all(paths: Sequence[Path], overrides: Sequence[str]) -> list[Scenario]:
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


def base_changes(scenario: Scenario, overrides: Sequence[str]) -> tuple[str, ...]:
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


def names_of(scenarios: list[Scenario]) -> list[str]:
    stems = [s.name for s in scenarios]
    return [s.name if stems.count(s.name) == 1 else s.source for s in scenarios]


@dataclass(frozen=True)
class Comparison:
    """The scenarios compared (in the order given), their summaries, and the
    patients and seed every one of them ran with."""

    scenarios: tuple[Scenario, ...]
    rows: tuple[ScenarioSummary, ...]
    patients: int
    seed: int


def load_comparable(paths: Sequence[Path], overrides: Sequence[str] = ()) -> list[Scenario]:
    """Load and check every file (ScenarioError with the problems of all of them) and
    check that they can share one table (UsageError otherwise)."""
    if len(paths) > MAX_SCENARIOS:
        msg = f"compare takes at most {MAX_SCENARIOS} scenario files; got {len(paths)}"
        raise UsageError(msg)
    scenarios = load_all(paths, overrides)
    check_comparable(scenarios)
    return scenarios


def compare_scenarios(scenarios: Sequence[Scenario], overrides: Sequence[str] = (), *,
                      patients: int | None = None, seed: int | None = None,
                      engine: str = "compiled",
                      progress: Callable[[int], None] | None = None) -> Comparison:
    """Run every scenario (from :func:`load_comparable`) with the same patients and
    seed (default: the first one's), so that rows differ by their assumptions, not by
    noise. ``overrides`` are the --set values the scenarios were loaded with (their
    bases are loaded with them too). ``progress(1)`` after each scenario.
    """
    first = scenarios[0]
    n = patients if patients is not None else first.run.patients
    root = seed if seed is not None else first.run.seed
    rows: list[ScenarioSummary] = []
    for s, name in zip(scenarios, names_of(list(scenarios)), strict=True):
        result = run_scenario(s, patients=None if s.cohort.file else n, seed=root,
                              engine=engine, keep_logs=False, curves=False)
        rows.append(summarise_scenario(
            {k: o.columns for k, o in result.outcomes.items()}, comparator=s.run.comparator,
            wtp=s.run.wtp, name=name, file=s.source, title=s.title,
            changes=base_changes(s, overrides), seed=root))
        if progress is not None:
            progress(1)
    return Comparison(tuple(scenarios), tuple(rows), n, root)
