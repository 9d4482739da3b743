"""What every study returns: its arrays, its tables and the data of its manifest.

Every study result is a frozen dataclass with the :class:`Tabled` methods:
``tables()`` names the tables it holds, ``table(name)`` gives one
(:class:`~cartsim.table.Table`: tidy rows, decoded labels), ``to_pandas(name)`` the
same as a DataFrame (with the optional ``pandas`` extra), and ``manifest`` the
study's part of ``run.json`` (the report layer adds file hashes, versions and the
time). A new study needs only these to be written by ``cartsim.cli``'s ``execute``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cartsim.cohort import Cohort
from cartsim.engine.events import EventLog
from cartsim.outcomes.accounting import PatientOutcomes, Rates
from cartsim.outcomes.curves import CurveSums
from cartsim.pathway.build import StrategyModel
from cartsim.scenario.model import Scenario
from cartsim.scenario.settings import horizon_label
from cartsim.table import Table


@dataclass(frozen=True)
class Manifest:
    """A study's part of ``run.json``: what was run, on what, how big, and anything
    else worth recording (``extra``: top-level fields)."""

    command: str
    scenario_name: str
    scenario_hash: str
    seed: int
    sizes: Mapping[str, int]
    engine: str
    settings: Mapping[str, object]
    extra: Mapping[str, object] = field(default_factory=dict)


class Tabled:
    """The protocol every study result follows (its fields ``all_tables`` and
    ``manifest`` are the result's own)."""

    all_tables: tuple[Table, ...]
    manifest: Manifest | None

    def tables(self) -> tuple[str, ...]:
        """The names of the tables this result holds, in the order they are written."""
        return tuple(t.name for t in self.all_tables)

    def table(self, name: str) -> Table:
        """The table called ``name``; KeyError naming those there are."""
        for t in self.all_tables:
            if t.name == name:
                return t
        held = ", ".join(self.tables()) or "none (a low-level result: use a study)"
        msg = f"no table {name!r} in this {type(self).__name__}; it holds {held}"
        raise KeyError(msg)

    def to_pandas(self, name: str) -> Any:
        """The table called ``name`` as a ``pandas.DataFrame`` (needs ``cartsim[pandas]``)."""
        return self.table(name).to_pandas()


@dataclass(frozen=True)
class RunResult(Tabled):
    """One evaluation of every strategy on one cohort: per-patient outcomes, curves
    over time (unless asked not to), event logs (if kept) and the models valued.

    :func:`cartsim.study.runner.run_scenario` returns it without tables; the run
    study (:func:`cartsim.study.run.run`) adds its tables and manifest.
    """

    scenario: Scenario
    cohort: Cohort
    models: Mapping[str, StrategyModel]
    logs: Mapping[str, EventLog]
    outcomes: Mapping[str, PatientOutcomes]
    rates: Rates
    engine: str
    seed: int
    common_random_numbers: bool = True
    curves: Mapping[str, CurveSums] | None = None
    """Per strategy; None when the run was asked for no curves."""
    all_tables: tuple[Table, ...] = ()
    manifest: Manifest | None = None
    cohort_summary: Table | None = None
    """Who was simulated (per group and all), shown after a run; in run.json as ``cohort``."""

    @property
    def strategies(self) -> tuple[str, ...]:
        return tuple(self.outcomes)


def scenario_settings(scenario: Scenario, rates: Rates) -> dict[str, object]:
    """The settings a reader needs to interpret any table of this scenario (CHEERS)."""
    run = scenario.run
    return {
        "model": scenario.model, "title": scenario.title,
        "strategies": list(scenario.strategies), "comparator": run.comparator,
        "strategy_labels": {s: scenario.strategy_labels.get(s, s) for s in scenario.strategies},
        "horizon": horizon_label(run.horizon),
        "discount_costs": run.discount_costs, "discount_outcomes": run.discount_outcomes,
        "discount_convention": run.convention,
        "continuous_rate_costs": rates.costs, "continuous_rate_outcomes": rates.outcomes,
        "currency": run.reported_currency, "price_year": run.reported_price_year,
        "currency_as_written": run.currency, "price_year_as_written": run.price_year,
        "cost_conversion_factor": run.cost_factor,
        "perspective": run.perspective, "wtp": list(run.wtp), "life_table": run.life_table,
        "relapse_model": scenario.relapse_model if scenario.model == "cart_vs_is" else None,
    }


def scenario_manifest(scenario: Scenario, rates: Rates, *, command: str, seed: int,
                      sizes: Mapping[str, int], engine: str, simulations: int,
                      evaluations: int, settings: Mapping[str, object] | None = None,
                      extra: Mapping[str, object] | None = None) -> Manifest:
    """The manifest of a study of one scenario: its settings (plus ``settings``), the
    file it came from, the --set overrides, its warnings, and the engine passes made
    (``simulations``) next to the value sets valued (``evaluations``)."""
    return Manifest(
        command, scenario.name, scenario.canonical_hash, seed, sizes, engine,
        {**scenario_settings(scenario, rates), **(settings or {})},
        {"scenario_file": scenario.source, "overrides": list(scenario.overrides),
         "warnings": list(scenario.warnings), "simulations": simulations,
         "evaluations": evaluations, **(extra or {})})
