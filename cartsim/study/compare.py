"""The compare study (``cartsim compare``): several scenarios on the same patients,
one table of their key results side by side.

Every scenario runs with the same seed and number of patients (default: the
first one's), so with common random numbers the rows differ by the effect of their
assumptions, not by noise. The summaries are :mod:`cartsim.analysis.compare`'s pure
functions over each scenario's per-patient columns; :func:`compare_table` at the end
makes the table. The command is :mod:`cartsim.cli.compare`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cartsim.analysis.compare import (
    ScenarioSummary,
    change_from_first,
    scenario_changes,
    summarise_scenario,
)
from cartsim.errors import Problem, ScenarioError, UsageError
from cartsim.scenario.load import load_scenario, read_toml
from cartsim.scenario.model import Scenario
from cartsim.study.compare_tables import forest_table
from cartsim.study.prepare import prepare
from cartsim.study.result import Manifest, Tabled
from cartsim.study.run_tables import ICER_NOTE
from cartsim.study.runner import Runner
from cartsim.table import Table, wtp_key

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


def base_changes(scenario: Scenario) -> tuple[str, ...]:
    """What ``scenario`` changes from the file it extends (with the same --set)."""
    path = Path(scenario.source)
    parent = read_toml(path).get("extends")
    if not isinstance(parent, str):
        return ()
    try:
        base = load_scenario(path.parent / parent, scenario.overrides)
    except ScenarioError:
        return (f"not compared: {parent} does not validate on its own",)
    return scenario_changes(scenario, base)


def names_of(scenarios: list[Scenario]) -> list[str]:
    stems = [s.name for s in scenarios]
    return [s.name if stems.count(s.name) == 1 else s.source for s in scenarios]


@dataclass(frozen=True)
class ComparisonResult(Tabled):
    """The scenarios compared (in the order given), their summaries, the patients
    and seed every one of them ran with, and the ``compare`` table."""

    scenarios: tuple[Scenario, ...]
    rows: tuple[ScenarioSummary, ...]
    patients: int
    seed: int
    engine: str = "compiled"
    all_tables: tuple[Table, ...] = ()
    manifest: Manifest | None = None


def load_comparable(paths: Sequence[Path], overrides: Sequence[str] = ()) -> list[Scenario]:
    """Load and check every file (ScenarioError with the problems of all of them) and
    check that they can share one table (UsageError otherwise)."""
    if len(paths) > MAX_SCENARIOS:
        msg = f"compare takes at most {MAX_SCENARIOS} scenario files; got {len(paths)}"
        raise UsageError(msg)
    scenarios = load_all(paths, overrides)
    check_comparable(scenarios)
    return scenarios


def compare_scenarios(scenarios: Sequence[Scenario], *, patients: int | None = None,
                      seed: int | None = None, engine: str = "compiled",
                      progress: Callable[[int], None] | None = None) -> ComparisonResult:
    """Run every scenario (from :func:`load_comparable`) with the same patients and
    seed (default: the first one's), so that rows differ by their assumptions, not by
    noise. What each changes from the file it extends is read with the --set values
    it was loaded with. ``progress(1)`` after each scenario.

    Examples
    --------
    >>> from cartsim.scenario.load import example_scenario
    >>> cheaper = example_scenario(["strategies.cart.upfront_cost.product=200000"])
    >>> result = compare_scenarios([example_scenario(), cheaper], patients=200)
    >>> [round(x) for x in result.table("compare").column("change_inc_cost")]
    [0, -150000]
    """
    first = scenarios[0]
    n = patients if patients is not None else first.run.patients
    root = seed if seed is not None else first.run.seed
    rows: list[ScenarioSummary] = []
    simulations = evaluations = 0
    for s, name in zip(scenarios, names_of(list(scenarios)), strict=True):
        runner = Runner(s, patients=None if s.cohort.file else n, seed=root, engine=engine)
        result = next(runner.evaluate([None]))
        simulations, evaluations = simulations + runner.simulations, evaluations + 1
        rows.append(summarise_scenario(
            {k: o.columns for k, o in result.outcomes.items()}, comparator=s.run.comparator,
            wtp=s.run.wtp, name=name, file=s.source, title=s.title,
            changes=base_changes(s), seed=root))
        if progress is not None:
            progress(1)
    run = first.run
    table = compare_table(rows, strategies=first.strategies, comparator=run.comparator,
                          wtp=run.wtp, currency=run.reported_currency,
                          price_year=run.reported_price_year, engine=engine)
    # The folder's hash is that of the scenarios' names and canonical hashes in order,
    # so the same comparison always carries the same hash.
    combined = "\n".join(f"{r.name}:{s.canonical_hash}"
                         for r, s in zip(rows, scenarios, strict=True))
    described = [{"name": r.name, "file": r.file, "title": r.title,
                  "scenario_hash": s.canonical_hash, "patients": r.patients,
                  "changes": list(r.changes)} for r, s in zip(rows, scenarios, strict=True)]
    manifest = Manifest(
        "compare", "compare", hashlib.sha256(combined.encode("utf-8")).hexdigest(), root,
        {"scenarios": len(rows), "patients": max((r.patients for r in rows), default=0)},
        engine,
        {"strategies": list(first.strategies), "comparator": run.comparator,
         "strategy_labels": {k: first.strategy_labels.get(k, k) for k in first.strategies},
         "wtp": list(run.wtp), "currency": run.reported_currency,
         "price_year": run.reported_price_year, "patients": n,
         "common_random_numbers": True, "scenarios": described},
        {"overrides": list(first.overrides), "simulations": simulations,
         "evaluations": evaluations})
    return ComparisonResult(tuple(scenarios), tuple(rows), n, root, engine,
                            (table, forest_table(table, run.wtp)), manifest)


def _num(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def compare_table(rows: Sequence[ScenarioSummary], *, strategies: Sequence[str],
                  comparator: str, wtp: Sequence[float], currency: str,
                  price_year: int, engine: str) -> Table:
    """The ``compare`` table; ``rows`` in the order the scenarios were given."""
    keys = [wtp_key(w) for w in wtp]
    columns = ("scenario", "file", "title", "changes", "patients", "seed", "strategy",
               "comparator", *[f"cost_{s}" for s in strategies],
               *[f"qaly_{s}" for s in strategies], "inc_cost", "inc_cost_mcse", "inc_qaly",
               "inc_qaly_mcse", "icer", "icer_status",
               *[c for k in keys for c in (f"inmb_{k}", f"inmb_{k}_mcse")],
               "change_inc_cost", "change_inc_qaly", *[f"change_inmb_{k}" for k in keys])
    changes = change_from_first(rows, wtp)
    out = []
    for row, moved in zip(rows, changes, strict=True):
        for c in row.comparisons:
            delta = moved.get(c.strategy, {})
            cells: list[object] = [
                row.name, row.file, row.title, "; ".join(row.changes) or None, row.patients,
                row.seed, c.strategy, comparator,
                *[row.means[s]["cost"].mean for s in strategies],
                *[row.means[s]["qaly"].mean for s in strategies],
                c.measures["cost"].mean, _num(c.measures["cost"].se), c.measures["qaly"].mean,
                _num(c.measures["qaly"].se), _num(c.icer.value), c.icer.status]
            for w in wtp:
                cells += [c.inmb[w].mean, _num(c.inmb[w].se)]
            cells += [delta.get("inc_cost"), delta.get("inc_qaly"),
                      *[delta.get(f"inmb_{w!r}") for w in wtp]]
            out.append(tuple(cells))
    formats = {c: "money" for c in columns
               if c.startswith(("cost_", "inc_cost", "icer", "inmb", "change_inc_cost",
                                "change_inmb"))}
    formats.update({c: "qaly" for c in columns if "qaly" in c})
    formats.update({"icer_status": "text", "patients": "int", "seed": "int", "changes": "text",
                    "title": "text", "file": "text"})
    first = rows[0].name if rows else "the first scenario"
    notes = (
        f"Every scenario simulated with the same seed and number of patients ({engine} "
        "engine): with common random numbers each patient meets the same random events in "
        "every scenario wherever the inputs allow, so differences between rows are the "
        "effects of the assumptions rather than Monte Carlo noise. A scenario whose cohort is "
        "read from a file uses its own patients.",
        "changes: the inputs that differ from the file the scenario extends (its `extends`), "
        "in the units written in the scenario files; NA: the same inputs, or no `extends`.",
        f"cost_<strategy>, qaly_<strategy>: mean discounted cost ({currency} {price_year}) and "
        "QALYs per patient. inc_*: strategy minus comparator, with the MCSE of the paired "
        "per-patient differences. inmb_<wtp> = wtp x inc_qaly - inc_cost.",
        f"change_*: this row's inc_cost, inc_qaly and inmb minus those of {first} (the first "
        "scenario given), for the same strategy.",
        ICER_NOTE,
    )
    return Table("compare", "Scenario comparison", columns, tuple(out), notes, formats)
