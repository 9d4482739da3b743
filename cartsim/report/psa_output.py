"""Files and terminal summary of `cartsim psa`."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from cartsim.psa import PsaResult
from cartsim.report.files import build_manifest, manifest_to_json
from cartsim.report.input_tables import parameters_table
from cartsim.report.psa_tables import psa_tables
from cartsim.report.run_tables import wtp_key
from cartsim.report.tables import (
    format_value,
    table_to_csv,
    table_to_markdown,
    terminal_table,
)
from cartsim.scenario.settings import horizon_label


def psa_files(res: PsaResult, overrides: Sequence[str], resumed: int = 0) -> dict[str, str]:
    files: dict[str, str] = {}
    for table in [*psa_tables(res), parameters_table(res.scenario)]:
        files[f"{table.name}.csv"] = table_to_csv(table)
        files[f"{table.name}.md"] = table_to_markdown(table)
    run = res.scenario.run
    manifest = build_manifest(
        command="psa", scenario_name=res.scenario.name,
        scenario_hash=res.scenario.canonical_hash, seed=res.seed,
        sizes={"patients": res.patients, "iterations": len(res.results),
               "strategies": len(res.strategies)},
        engine=res.engine,
        settings={"model": res.scenario.model, "title": res.scenario.title,
                  "strategies": list(res.strategies), "comparator": run.comparator,
                  "horizon": horizon_label(run.horizon), "discount_costs": run.discount_costs,
                  "discount_outcomes": run.discount_outcomes,
                  "discount_convention": run.convention, "currency": run.reported_currency,
                  "price_year": run.reported_price_year, "perspective": run.perspective,
                  "wtp": list(run.wtp), "life_table": run.life_table},
        files=files,
        extra={"scenario_file": res.scenario.source, "overrides": list(overrides),
               "clipped_draws": dict(res.draws.clipped),
               "rescaled_probability_sets": res.draws.rescaled_sets,
               "resumed_from_checkpoint": resumed},
    )
    files["run.json"] = manifest_to_json(manifest)
    return files


def psa_summary_text(files: Mapping[str, str], res: PsaResult) -> str:
    rows = list(csv.DictReader(io.StringIO(files["psa_summary.csv"])))
    run = res.scenario.run
    cur = run.reported_currency
    lines = [res.scenario.title, f"{len(res.results):,} draws x {res.patients:,} patients, seed "
             f"{res.seed}, {cur} {run.reported_price_year}", ""]
    lines.append(terminal_table(
        ("strategy", f"cost ({cur})", "QALYs", *[f"P(CE) at {wtp_key(lam)}" for lam in run.wtp]),
        [(r["strategy"], float(r["cost"]), float(r["qaly"]),
          *[float(r[f"p_ce_{wtp_key(lam)}"]) for lam in run.wtp]) for r in rows],
        {f"cost ({cur})": "money", "QALYs": "qaly",
         **{f"P(CE) at {wtp_key(lam)}": "prob" for lam in run.wtp}}))
    for r in rows:
        if r["icer_status"] != "comparator":
            icer = r["icer"]
            text = (f"{format_value(float(icer), 'money')} per QALY ({r['icer_status']})"
                    if icer not in ("", "NA") else r["icer_status"])
            lines.append(f"\n{r['strategy']} vs {run.comparator}: ICER {text}")
    return "\n".join(lines)
