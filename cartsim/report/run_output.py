"""Assemble the files of a `cartsim run` and the summary printed at the end."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Mapping, Sequence

from cartsim.api import RunResult
from cartsim.cohort import describe_age, summarise_cohort
from cartsim.report.folder import folder_files
from cartsim.report.input_tables import (
    cohort_table,
    parameters_table,
    patients_table,
    trace_table,
)
from cartsim.report.occupancy_tables import state_occupancy_table
from cartsim.report.one_time_tables import one_time_tables
from cartsim.report.run_tables import (
    benefit_risk_table,
    break_even,
    cost_composition_table,
    cost_over_time_table,
    costs_table,
    deaths_table,
    events_table,
    frontier_table,
    increments,
    subgroups_table,
    summary_table,
    wtp_key,
)
from cartsim.report.tables import (
    Table,
    format_value,
    terminal_table,
)
from cartsim.scenario.settings import horizon_label


def run_tables(result: RunResult, *, trace: bool) -> list[Table]:
    incs = increments(result)
    grid, curves, offsets = break_even(result)
    tables = [
        summary_table(result, incs, offsets), frontier_table(result), costs_table(result, incs),
        cost_composition_table(result), events_table(result),
        deaths_table(result), benefit_risk_table(result), subgroups_table(result),
        cost_over_time_table(result, grid, curves), state_occupancy_table(result),
        *one_time_tables(result),
        parameters_table(result.scenario),
    ]
    if trace:
        tables += [patients_table(result), trace_table(result)]
    return tables


def cohort_record(result: RunResult) -> dict[str, object]:
    """run.json's ``cohort``: the patients simulated (per group and "all") and, for a
    sampled cohort, what the scenario specified, so the two can be set side by side."""
    spec = result.scenario.cohort
    record: dict[str, object] = {
        "source": "file" if spec.file is not None else "sampled",
        "file": spec.file.name if spec.file is not None else None,
        "patients": result.cohort.n,
        "groups": [dataclasses.asdict(g) for g in summarise_cohort(result.cohort)],
    }
    if spec.file is None:
        shares = spec.shares()
        record["specified"] = [{"group": g.name, "share": shares[g.name],
                                "age": describe_age(g.age), "female_share": g.female}
                               for g in spec.groups]
    return record


def run_files(result: RunResult, *, trace: bool, command: str,
              overrides: Sequence[str]) -> dict[str, str]:
    return folder_files(
        run_tables(result, trace=trace), result.scenario, command=command, seed=result.seed,
        sizes={"patients": result.cohort.n, "strategies": len(result.strategies),
               "iterations": 1},
        engine=result.engine, overrides=overrides,
        settings={"patients": result.cohort.n, "seed": result.seed,
                  "common_random_numbers": result.common_random_numbers,
                  "groups": list(result.cohort.groups())},
        extra={"cohort": cohort_record(result)})


def summary_text(files: Mapping[str, str], result: RunResult) -> str:
    """The short summary printed after a run, read back from summary.csv."""
    rows = list(csv.DictReader(io.StringIO(files["summary.csv"])))
    run = result.scenario.run
    cur = run.reported_currency
    lines = [f"{result.scenario.title}",
             f"{result.cohort.n:,} patients, seed {result.seed}, horizon "
             f"{horizon_label(run.horizon)}, discount {run.discount_costs:g}/"
             f"{run.discount_outcomes:g} ({run.convention}), {cur} {run.reported_price_year}", ""]
    cohort = cohort_table(result.cohort)
    where = f" (from {result.scenario.cohort.file.name})" if result.scenario.cohort.file else ""
    lines += [f"Cohort simulated{where}:",
              terminal_table(cohort.columns, cohort.rows, cohort.formats), ""]
    table_rows = [(r["strategy"], _num(r["cost"]), _num(r["qaly"]), _num(r["ly"]))
                  for r in rows]
    lines.append(terminal_table(("strategy", f"cost ({cur})", "QALYs", "life-years"), table_rows,
                                {f"cost ({cur})": "money", "QALYs": "qaly", "life-years": "qaly"}))
    for r in rows:
        if r["icer_status"] == "comparator":
            continue
        lines.append("")
        lines.append(f"{r['strategy']} vs {r['comparator']}:")
        lines.append(f"  incremental cost   {format_value(_num(r['inc_cost']), 'money')} "
                     f"(MCSE {format_value(_num(r['inc_cost_mcse']), 'money')})")
        lines.append(f"  incremental QALYs  {format_value(_num(r['inc_qaly']), 'qaly')} "
                     f"(MCSE {format_value(_num(r['inc_qaly_mcse']), 'qaly')})")
        icer = _num(r["icer"])
        icer_text = format_value(icer, "money") + f" per QALY ({r['icer_status']})" \
            if icer is not None else r["icer_status"]
        lines.append(f"  ICER               {icer_text}")
        for lam in run.wtp:
            key = f"inmb_{wtp_key(lam)}"
            lines.append(f"  INMB at {format_value(lam, 'money')}/QALY  "
                         f"{format_value(_num(r[key]), 'money')}")
        be = _num(r["break_even_years"])
        lines.append("  cost offset        " + ("not within the horizon" if be is None
                                                else f"after {format_value(be, 'float')} years"))
    return "\n".join(lines)


def _num(text: str) -> float | None:
    if text in ("", "NA"):
        return None
    x = float(text)
    return x if math.isfinite(x) else None
