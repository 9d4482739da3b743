"""The short summaries printed after each command, as text (the CLI prints them).

Formatting only: every number comes from a study result, mostly from its tables,
so what the terminal shows is what the files hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from cartsim.report.html_words import percent_text
from cartsim.report.render import format_value, terminal_table
from cartsim.scenario.settings import horizon_label
from cartsim.table import Table, wtp_key

# The studies' results are only read here: importing their modules (the engines among
# them) would slow `cartsim check` and `params`, which print a table and run nothing.
if TYPE_CHECKING:
    from cartsim.study.capacity import CapacityResult
    from cartsim.study.dsa import OneWayResult, SweepResult
    from cartsim.study.psa import PsaResult
    from cartsim.study.result import Manifest, RunResult
    from cartsim.study.validate import ValidationResult


def titled_text(table: Table) -> str:
    """A small table for the terminal under its title."""
    return f"{table.title}:\n{terminal_table(table.columns, table.rows, table.formats)}"


def records(table: Table) -> list[dict[str, object]]:
    """The table's rows as column -> cell mappings."""
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


def _num(cell: object) -> float | None:
    return None if cell is None else float(cell)  # type: ignore[arg-type]


def money(cell: object) -> str:
    """Thousands separators, no decimals: ``-169,304``."""
    return format_value(_num(cell), "money")


def qaly(cell: object) -> str:
    """Three decimals: ``1.146``."""
    return format_value(_num(cell), "qaly")


def percent(cell: object) -> str:
    """The one percentage format of the terminal and the report: ``95.0%``."""
    share = _num(cell)
    return "NA" if share is None else percent_text(share)


def icer_text(icer: object, status: object) -> str:
    """``197,779 per QALY (more costly, more effective)``, or the status alone."""
    value = _num(icer)
    return str(status) if value is None else f"{money(value)} per QALY ({status})"


def aligned(columns: Sequence[str], rows: Sequence[Sequence[str]],
            numeric: Sequence[bool]) -> str:
    """Cells already formatted, numbers right-aligned, text left-aligned, two spaces."""
    widths = [max([len(c), *(len(r[j]) for r in rows)]) for j, c in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if n else c.ljust(w)
                         for c, w, n in zip(cells, widths, numeric, strict=True)).rstrip()

    return "\n".join([line(columns), "  ".join("-" * w for w in widths),
                      *(line(r) for r in rows)])


def pairs(items: Sequence[tuple[str, str, str]], indent: str = "  ") -> list[str]:
    """``label  value  rest`` lines with labels and (right-aligned) values in columns."""
    lw = max((len(label) for label, _, _ in items), default=0)
    vw = max((len(value) for _, value, _ in items), default=0)
    return [f"{indent}{label:<{lw}}  {value:>{vw}}{'  ' + rest if rest else ''}".rstrip()
            for label, value, rest in items]


def labels_of(manifest: Manifest | None) -> Mapping[str, str]:
    """Strategy key -> display label, as recorded in the result's settings."""
    found = manifest.settings.get("strategy_labels") if manifest is not None else None
    return found if isinstance(found, Mapping) else {}


def overrides_line(manifest: Manifest | None) -> str | None:
    """The --set overrides the study ran with, echoed so the summary says what it is of."""
    done = manifest.extra.get("overrides") if manifest is not None else None
    if not isinstance(done, list | tuple) or not done:
        return None
    return "Set on the command line (--set): " + "; ".join(str(o) for o in done)


def run_summary(result: RunResult) -> str:
    """The short summary printed after a run: settings, the cohort simulated, each
    strategy's cost, QALYs and life-years, and each comparison."""
    rows = records(result.table("summary"))
    run = result.scenario.run
    cur = f"{run.reported_currency} {run.reported_price_year}"
    label = {str(r["strategy"]): str(r["label"] or r["strategy"]) for r in rows}
    lines = [f"{result.scenario.title}",
             f"{result.cohort.n:,} patients, seed {result.seed}, horizon "
             f"{horizon_label(run.horizon)}, discount {run.discount_costs:g}/"
             f"{run.discount_outcomes:g} ({run.convention}), {cur}", ""]
    if result.cohort_summary is not None:
        cohort = result.cohort_summary
        where = f" (from {result.scenario.cohort.file.name})" if result.scenario.cohort.file \
            else ""
        lines += [f"Cohort simulated{where}:",
                  terminal_table(cohort.columns, cohort.rows, cohort.formats), ""]
    lines.append(aligned(
        ("strategy", f"cost ({cur})", "QALYs", "life-years"),
        [(label[str(r["strategy"])], money(r["cost"]), qaly(r["qaly"]), qaly(r["ly"]))
         for r in rows], (False, True, True, True)))
    lines.append("Costs, QALYs and life-years per patient, discounted.")
    for r in rows:
        if r["icer_status"] == "comparator":
            continue
        be = _num(r["break_even_years"])
        items = [("incremental cost", money(r["inc_cost"]),
                  f"(MCSE {money(r['inc_cost_mcse'])})"),
                 ("incremental QALYs", qaly(r["inc_qaly"]),
                  f"(MCSE {qaly(r['inc_qaly_mcse'])})"),
                 ("ICER", *_icer_pair(r["icer"], r["icer_status"]))]
        items += [(f"INMB at {money(lam)}/QALY", money(r[f"inmb_{wtp_key(lam)}"]), "")
                  for lam in run.wtp]
        evlyg = _num(r.get("inc_evlyg"))
        if evlyg is not None:
            per = _num(r.get("icer_evlyg"))
            items.append(("evLYG", qaly(evlyg),
                          f"({money(per)} per evLYG)" if per is not None else ""))
        for lam in run.wtp:
            nhb = _num(r.get(f"nhb_{wtp_key(lam)}"))
            if nhb is not None:
                items.append((f"NHB at {money(lam)}/QALY", qaly(nhb), "QALYs"))
        items.append(("cost offset", "none", "within the horizon") if be is None else
                     ("cost offset after", format_value(be, "float"), "years"))
        lines += ["", f"{label[str(r['strategy'])]} vs {label[str(r['comparator'])]}:",
                  *pairs(items)]
    return "\n".join(lines)


def _icer_pair(icer: object, status: object) -> tuple[str, str]:
    value = _num(icer)
    return (str(status), "") if value is None else (money(value), f"per QALY ({status})")


def psa_summary(res: PsaResult) -> str:
    """Mean cost and QALYs, the mean increments with their 95% intervals, the ICER of
    the means, P(cost-effective) and the EVPI at each WTP."""
    rows = records(res.table("psa_summary"))
    run = res.scenario.run
    cur = f"{run.reported_currency} {run.reported_price_year}"
    label = {s: res.scenario.strategy_labels.get(s, s) for s in res.strategies}
    lines = [res.scenario.title, f"{len(res.results):,} draws x {res.patients:,} patients, "
             f"seed {res.seed}, {cur}", ""]
    lines.append(aligned(
        ("strategy", f"mean cost ({cur})", "95% interval", "mean QALYs", "95% interval"),
        [(label[str(r["strategy"])], money(r["cost"]),
          f"{money(r['cost_low'])} to {money(r['cost_high'])}", qaly(r["qaly"]),
          f"{qaly(r['qaly_low'])} to {qaly(r['qaly_high'])}") for r in rows],
        (False, True, True, True, True)))
    others = [r for r in rows if r["icer_status"] != "comparator"]
    for r in others:
        lines += ["", f"{label[str(r['strategy'])]} vs {label[run.comparator]} (mean over the "
                  "draws, 95% interval):", *pairs([
                      ("incremental cost", money(r["inc_cost"]),
                       f"({money(r['inc_cost_low'])} to {money(r['inc_cost_high'])})"),
                      ("incremental QALYs", qaly(r["inc_qaly"]),
                       f"({qaly(r['inc_qaly_low'])} to {qaly(r['inc_qaly_high'])})"),
                      ("ICER of the means", *_icer_pair(r["icer"], r["icer_status"]))])]
    evpi = {float(e["wtp"]): e for e in records(res.table("evpi"))}  # type: ignore[arg-type]
    population = any("evpi_population" in e for e in evpi.values())
    head = [f"WTP ({cur}/QALY)", *[f"P(CE) {label[str(r['strategy'])]}" for r in others],
            f"EVPI per patient ({cur})", *([f"EVPI population ({cur})"] if population else [])]
    table = []
    for lam in run.wtp:
        e = evpi.get(float(lam), {})
        table.append((money(lam), *[percent(r[f"p_ce_{wtp_key(lam)}"]) for r in others],
                      money(e.get("evpi_per_patient")),
                      *([money(e.get("evpi_population"))] if population else [])))
    lines += ["", aligned(head, table, [True] * len(head)),
              "P(CE): the share of draws in which the strategy has the highest net benefit."]
    if "psa_options" in res.tables():
        lines += ["", _options_lines(res)]
    return "\n".join(lines)


def dsa_summary(result: OneWayResult, limit: int = 10) -> str:
    """The base case's increments and ICER, then the tornado's widest swings."""
    labels = labels_of(result.manifest)
    dsa, tornado = records(result.table("dsa")), records(result.table("tornado"))
    comparator = str(result.manifest.settings.get("comparator")) if result.manifest else ""
    lines: list[str] = []
    for s in dict.fromkeys(str(r["strategy"]) for r in dsa):
        base = next(r for r in dsa if r["strategy"] == s)
        lines += [f"Base case, {labels.get(s, s)} vs {labels.get(comparator, comparator)}:",
                  *pairs([
                      ("incremental cost", money(base["base_inc_cost"]), ""),
                      ("incremental QALYs", qaly(base["base_inc_qaly"]), ""),
                      ("ICER", *_icer_pair(base["base_icer"], base["base_icer_status"]))]), ""]
    if tornado:
        lam = _num(tornado[0]["wtp"])
        lines.append(f"Tornado: INMB per patient at {money(lam)}/QALY, the "
                     f"{min(limit, len(tornado))} widest swings of {len(tornado)}")
        lines.append(aligned(
            ("rank", "parameter", "strategy", "low", "high", "unit", "INMB at low",
             "INMB at high", "swing"),
            [(str(r["rank"]), str(r["parameter"]), labels.get(str(r["strategy"]),
                                                              str(r["strategy"])),
              _value(r["low"], r["unit"]), _value(r["high"], r["unit"]), str(r["unit"] or ""),
              money(r["inmb_low"]), money(r["inmb_high"]), money(r["swing"]))
             for r in tornado[:limit]],
            (True, False, False, True, True, False, True, True, True)))
    return "\n".join(lines).rstrip()


def _value(cell: object, unit: object) -> str:
    """A parameter value: money with separators, else four significant digits."""
    return money(cell) if unit == "currency" else format_value(_num(cell), "float")


def sweep_summary(result: SweepResult, limit: int = 20) -> str:
    """Each combination's increments, ICER and INMB at each WTP."""
    labels = labels_of(result.manifest)
    table = result.table("sweep")
    rows = records(table)
    grid = list(table.columns[:table.columns.index("strategy")])
    inmb = [c for c in table.columns if c.startswith("inmb_") and not c.endswith("_mcse")]
    units = dict(zip(result.names, result.units, strict=True))
    head = [*grid, "strategy", "incremental cost", "incremental QALYs", "ICER",
            *[f"INMB at {money(float(c[5:]))}" for c in inmb]]
    body = [(*[_value(r[g], units.get(g)) for g in grid],
             labels.get(str(r["strategy"]), str(r["strategy"])), money(r["inc_cost"]),
             qaly(r["inc_qaly"]),
             str(r["icer_status"]) if _num(r["icer"]) is None else money(r["icer"]),
             *[money(r[c]) for c in inmb]) for r in rows[:limit]]
    numeric = [True] * len(grid) + [False, True, True, True] + [True] * len(inmb)
    more = len(rows) - limit
    return "\n".join([f"{table.title} (per patient, discounted; INMB at each WTP per QALY)",
                      aligned(head, body, numeric)]
                     + ([f"... and {more} more rows (sweep.csv)"] if more > 0 else []))


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
            [(r["choice"], r["option"], _num(r["weight"]), r["draws"],
              res.scenario.strategy_labels.get(str(r["strategy"]), str(r["strategy"])),
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
    from cartsim.study.validate_tables import driver_text, observed_text

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
             # interval ends as the observed and simulated columns show values
             f"{format_value(c.low, 'float')}-{format_value(c.high, 'float')}", c.flag,
             "yes" if c.independent else "no") for c in shown]
    table = terminal_table(("held-out fact", "years", "observed", "simulated",
                            "interval", "flag", "independent"), rows,
                           {"years": "float", "observed": "float", "simulated": "float",
                            "interval": "text"})
    bad = result.held_out_inconsistent
    independent = [c for c in shown if c.independent and c.flag.endswith("consistent")]
    costs = [c for c in shown if c.flag.endswith("plausible")]  # tolerance bands, not 95%
    implausible = sum(c.flag == "implausible" for c in costs)
    skipped = len(result.held_out) - len(shown)
    return (f"Held-out published facts (held_out.csv):\n{table}\n"
            f"{len(independent) - len(bad)} of {len(independent)} independent compared facts "
            f"consistent; {len(costs) - implausible} of {len(costs)} costs plausible "
            f"(never counted by --strict); {skipped} shown but not compared (reasons in "
            "held_out.csv). Interval: the 95% predictive interval of a fact, the plausibility "
            "band of a cost.")


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
             f"days; {percent(h.share_over_3_months)} waited over 3 months",
             f"extra deaths before treatment: {1000 * h.extra_deaths:.1f} per 1,000 referrals",
             f"QALYs per referral, capacity vs unlimited: {pm(h.qaly, '.3f')}",
             f"cost per referral, capacity vs unlimited: {pm(h.cost, ',.0f')} {cur}"]
    for lam, nmb in h.nmb:
        lines.append(f"net monetary benefit per referral at {lam:,.0f}/QALY: "
                     f"{pm(nmb, ',.0f')} {cur}")
    return "\n".join(lines)
