"""Files and terminal summary of `cartsim psa`."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from cartsim.psa import PsaResult
from cartsim.report.folder import folder_files
from cartsim.report.input_tables import correlations_table, parameters_table
from cartsim.report.psa_tables import Population, psa_tables
from cartsim.report.run_tables import wtp_key
from cartsim.report.tables import (
    format_value,
    terminal_table,
)


def psa_files(res: PsaResult, overrides: Sequence[str], resumed: int = 0,
              population: Population | None = None) -> dict[str, str]:
    joint = res.scenario.joint
    extra: dict[str, object] = {"clipped_draws": dict(res.draws.clipped),
                                "rescaled_probability_sets": res.draws.rescaled_sets,
                                "resumed_from_checkpoint": resumed}
    if joint:
        extra["joint_draws"] = {
            "correlations": [{"params": [c.first, c.second], "rho": c.rho}
                             for c in joint.correlations],
            "dirichlet": [{"params": list(d.names), "alphas": list(d.distribution.alphas),
                           "remainder": d.remainder} for d in joint.dirichlet],
            "not_applied": list(joint.notes)}
    if population is not None:
        extra["population"] = {"patients": population.patients, "years": population.years,
                               "annual_discount": population.discount if population.years
                               else None}
    inputs = [parameters_table(res.scenario), *([correlations_table(res.scenario)] if joint
                                                 else [])]
    return folder_files(
        [*psa_tables(res, population), *inputs], res.scenario, command="psa",
        seed=res.seed, sizes={"patients": res.patients, "iterations": len(res.results),
                              "strategies": len(res.strategies)},
        engine=res.engine, overrides=overrides, extra=extra)


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
