"""The short summaries printed after each command, as text (the CLI prints them).

Formatting only: every number comes from a study result, mostly from its tables,
so what the terminal shows is what the files hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cartsim.report.render import format_value, terminal_table
from cartsim.scenario.settings import horizon_label
from cartsim.study.capacity import CapacityResult
from cartsim.study.psa import PsaResult
from cartsim.study.result import RunResult
from cartsim.study.validate import ValidationResult
from cartsim.study.validate_tables import driver_text, observed_text
from cartsim.table import Table, wtp_key


def titled_text(table: Table) -> str:
    """A small table for the terminal under its title."""
    return f"{table.title}:\n{terminal_table(table.columns, table.rows, table.formats)}"


def records(table: Table) -> list[dict[str, object]]:
    """The table's rows as column -> cell mappings."""
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


def _num(cell: object) -> float | None:
    return None if cell is None else float(cell)  # type: ignore[arg-type]


def run_summary(result: RunResult) -> str:
    """The short summary printed after a run: settings, the cohort simulated, each
    strategy's cost, QALYs and life-years, and each comparison."""
    rows = records(result.table("summary"))
    run = result.scenario.run
    cur = run.reported_currency
    lines = [f"{result.scenario.title}",
             f"{result.cohort.n:,} patients, seed {result.seed}, horizon "
             f"{horizon_label(run.horizon)}, discount {run.discount_costs:g}/"
             f"{run.discount_outcomes:g} ({run.convention}), {cur} {run.reported_price_year}", ""]
    if result.cohort_summary is not None:
        cohort = result.cohort_summary
        where = f" (from {result.scenario.cohort.file.name})" if result.scenario.cohort.file \
            else ""
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
            if icer is not None else str(r["icer_status"])
        lines.append(f"  ICER               {icer_text}")
        for lam in run.wtp:
            key = f"inmb_{wtp_key(lam)}"
            lines.append(f"  INMB at {format_value(lam, 'money')}/QALY  "
                         f"{format_value(_num(r[key]), 'money')}")
        be = _num(r["break_even_years"])
        lines.append("  cost offset        " + ("not within the horizon" if be is None
                                                else f"after {format_value(be, 'float')} years"))
    return "\n".join(lines)


def psa_summary(res: PsaResult) -> str:
    """Mean cost and QALYs, P(cost-effective) at each WTP, and the ICERs."""
    rows = records(res.table("psa_summary"))
    run = res.scenario.run
    cur = run.reported_currency
    lines = [res.scenario.title, f"{len(res.results):,} draws x {res.patients:,} patients, seed "
             f"{res.seed}, {cur} {run.reported_price_year}", ""]
    lines.append(terminal_table(
        ("strategy", f"cost ({cur})", "QALYs", *[f"P(CE) at {wtp_key(lam)}" for lam in run.wtp]),
        [(r["strategy"], _num(r["cost"]), _num(r["qaly"]),
          *[_num(r[f"p_ce_{wtp_key(lam)}"]) for lam in run.wtp]) for r in rows],
        {f"cost ({cur})": "money", "QALYs": "qaly",
         **{f"P(CE) at {wtp_key(lam)}": "prob" for lam in run.wtp}}))
    for r in rows:
        if r["icer_status"] != "comparator":
            icer = _num(r["icer"])
            text = (f"{format_value(icer, 'money')} per QALY ({r['icer_status']})"
                    if icer is not None else str(r["icer_status"]))
            lines.append(f"\n{r['strategy']} vs {run.comparator}: ICER {text}")
    if "psa_options" in res.tables():
        lines += ["", _options_lines(res)]
    return "\n".join(lines)


def _options_lines(res: PsaResult) -> str:
    """Per structural option (and model-averaged): draws, ICER, INMB and P(CE) at the
    largest WTP."""
    run = res.scenario.run
    lam = wtp_key(max(run.wtp))
    rows = records(res.table("psa_options"))
    icer_col, inmb_col, pce_col = "ICER", f"INMB at {lam}", f"P(CE) at {lam}"
    return "Structural choices (deterministic run: the scenario's own value):\n" + \
        terminal_table(
            ("choice", "option", "weight", "draws", "strategy", icer_col, inmb_col, pce_col),
            [(r["choice"], r["option"], _num(r["weight"]), r["draws"], r["strategy"],
              _num(r["icer"]) if _num(r["icer"]) is not None else r["icer_status"],
              _num(r[f"inmb_{lam}"]), _num(r[f"p_ce_{lam}"])) for r in rows],
            {"weight": "prob", "draws": "int", icer_col: "money", inmb_col: "money",
             pce_col: "prob"})


SUMMARY_COLUMNS: Mapping[str, Sequence[str]] = {
    "tornado": ("rank", "parameter", "strategy", "low", "high", "inmb_low", "inmb_high",
                "swing"),
    "threshold": ("strategy", "wtp", "threshold", "interval_low", "interval_high", "status"),
    "threshold_distribution": ("strategy", "wtp", "with_root", "share_no_root", "median",
                               "low_2_5", "high_97_5"),
}
"""The key columns shown of a table (otherwise its first eight)."""


def table_summary(table: Table, limit: int = 10) -> str:
    """The first ``limit`` rows of a table for the terminal (key columns only)."""
    keep = SUMMARY_COLUMNS.get(table.name, table.columns[:8])
    idx = [table.columns.index(c) for c in keep]
    rows = [[row[i] for i in idx] for row in table.rows[:limit]]
    more = len(table.rows) - limit
    text = terminal_table(keep, rows, {c: table.formats[c] for c in keep if c in table.formats})
    return f"{table.title}\n{text}" + (f"\n... and {more} more rows" if more > 0 else "")


def compare_summary(table: Table) -> str:
    """The key columns of the comparison for the terminal."""
    inmb = [c for c in table.columns if c.startswith("inmb_") and not c.endswith("_mcse")]
    last = inmb[-1] if inmb else None
    keep = ["scenario", "inc_cost", "inc_qaly", "icer", "icer_status"]
    if last is not None:
        keep += [last, f"change_{last}"]
    idx = [table.columns.index(c) for c in keep]
    rows = [[row[i] for i in idx] for row in table.rows]
    text = terminal_table(keep, rows, {c: table.formats[c] for c in keep if c in table.formats})
    return f"{table.title}\n{text}"


def validation_summary(result: ValidationResult) -> str:
    """The table printed by `cartsim validate`, and the drivers of any inconsistency."""
    rows = []
    for f in result.facts:
        shown = observed_text(f.record)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        sim = interval = ""
        if f.kind == "prediction":
            sim, interval = f"{f.simulated_mean:.2f}", f"{f.low:g}-{f.high:g}"
        elif f.kind == "mean":
            sim, interval = f"{f.simulated_mean:.1f}", f"CI {f.low:.0f}-{f.high:.0f}"
        rows.append((f.fact.key, shown, sim, interval, f.flag))
    lines = [terminal_table(("fact", "observed", "simulated mean", "95% interval", "flag"),
                            rows, {"simulated mean": "text", "95% interval": "text"})]
    compared = [f for f in result.facts if f.kind != "none"]
    bad = result.inconsistent
    lines.append(f"\n{len(compared) - len(bad)} of {len(compared)} compared facts consistent "
                 f"({result.replicates:,} simulated series, seed {result.seed}).")
    for f in bad:
        lines.append(f"  {f.fact.key} is inconsistent; driven by {driver_text(result, f)}")
    if result.held_out:
        lines += ["", _held_out_lines(result)]
    return "\n".join(lines)


def _held_out_lines(result: ValidationResult) -> str:
    """Held-out facts: compared ones in a table, the rest counted."""
    shown = [c for c in result.held_out if c.flag != "not compared"]
    rows = [(c.target.id if len(c.target.id) <= 48 else c.target.id[:45] + "...",
             c.target.horizon_years, c.target.value, c.simulated,
             f"{c.low:.3g}-{c.high:.3g}", c.flag,
             "yes" if c.independent else "no") for c in shown]
    table = terminal_table(("held-out fact", "years", "observed", "simulated",
                            "95% interval", "flag", "independent"), rows,
                           {"years": "float", "observed": "float", "simulated": "float",
                            "95% interval": "text"})
    bad = result.held_out_inconsistent
    independent = [c for c in shown if c.independent]
    skipped = len(result.held_out) - len(shown)
    return (f"Held-out published facts (held_out.csv):\n{table}\n"
            f"{len(independent) - len(bad)} of {len(independent)} independent compared facts "
            f"consistent; {skipped} shown but not compared (reasons in held_out.csv).")


def capacity_summary(result: CapacityResult) -> str:
    """The few numbers printed after `cartsim capacity`."""
    h = result.headline
    if h is None:
        msg = "this CapacityResult has no headline: make it with the capacity study"
        raise ValueError(msg)
    cur = result.scenario.run.reported_currency

    def pm(est: tuple[float, float | None], fmt: str) -> str:
        return f"{est[0]:+{fmt}}" + ("" if est[1] is None else f" (MCSE {est[1]:{fmt}})")

    run = result.run
    lines = [result.scenario.title,
             f"{run.cohort.n:,} referrals in {run.capacity.replications} programme(s) of "
             f"{run.capacity.arrivals.years:g} years, seed {run.seed}",
             "",
             f"treated per year (referral period): {h.treated_per_year:.1f}",
             f"wait of treated patients: mean {h.mean_wait_days:.0f} "
             f"days; {100 * h.share_over_3_months:.0f}% waited over 3 months",
             f"extra deaths before treatment: {1000 * h.extra_deaths:.1f} per 1,000 referrals",
             f"QALYs per referral, capacity vs unlimited: {pm(h.qaly, '.3f')}",
             f"cost per referral, capacity vs unlimited: {pm(h.cost, ',.0f')} {cur}"]
    for lam, nmb in h.nmb:
        lines.append(f"net monetary benefit per referral at {lam:,.0f}/QALY: "
                     f"{pm(nmb, ',.0f')} {cur}")
    return "\n".join(lines)
