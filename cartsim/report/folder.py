"""The files of any results folder: every table as CSV and Markdown, and run.json.

All commands (run, psa, dsa, sweep, threshold) build their folder here, so every
manifest records the scenario's settings the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cartsim.api import discount_rates
from cartsim.report.files import build_manifest, manifest_to_json
from cartsim.report.tables import Table, table_to_csv, table_to_markdown
from cartsim.scenario.model import Scenario
from cartsim.scenario.settings import horizon_label


def scenario_settings(scenario: Scenario) -> dict[str, object]:
    """The settings a reader needs to interpret any table of this scenario (CHEERS)."""
    run = scenario.run
    rates = discount_rates(scenario)
    return {
        "model": scenario.model, "title": scenario.title,
        "strategies": list(scenario.strategies), "comparator": run.comparator,
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


def folder_files(tables: Sequence[Table], scenario: Scenario, *, command: str, seed: int,
                 sizes: Mapping[str, int], engine: str, overrides: Sequence[str] = (),
                 settings: Mapping[str, object] | None = None,
                 extra: Mapping[str, object] | None = None) -> dict[str, str]:
    """File name -> content: each table as CSV and (unless too long to read) Markdown,
    then ``run.json``.

    ``settings`` adds run-specific settings to :func:`scenario_settings`;
    ``extra`` adds top-level manifest fields.
    """
    files: dict[str, str] = {}
    for table in tables:
        files[f"{table.name}.csv"] = table_to_csv(table)
        if table.markdown:
            files[f"{table.name}.md"] = table_to_markdown(table)
    manifest = build_manifest(
        command=command, scenario_name=scenario.name, scenario_hash=scenario.canonical_hash,
        seed=seed, sizes=sizes, engine=engine,
        settings={**scenario_settings(scenario), **(settings or {})}, files=files,
        extra={"scenario_file": scenario.source, "overrides": list(overrides),
               "warnings": list(scenario.warnings), **(extra or {})},
    )
    files["run.json"] = manifest_to_json(manifest)
    return files
