"""Tables and files of the deterministic sensitivity analyses (`cartsim.sensitivity`).

``one_way_tables`` gives the ``dsa`` table (every parameter at low, base and high
value) and the ``tornado`` table; ``sweep_table`` and ``threshold_table`` one
table each. Cells are plain numbers, text or None (written ``NA``): a value that
is not finite becomes None, never ``inf`` or ``nan``. ``parse_grid`` reads the
command line's ``--grid`` items and ``sensitivity_files`` assembles a results
folder (tables as CSV and Markdown, the parameter table and ``run.json``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from cartsim.analysis.cea import MeanEstimate
from cartsim.analysis.deterministic import Increment
from cartsim.errors import UsageError
from cartsim.report.folder import folder_files
from cartsim.report.input_tables import parameters_table
from cartsim.report.run_tables import ICER_NOTE, wtp_key
from cartsim.report.tables import Table, terminal_table
from cartsim.scenario.model import Scenario
from cartsim.sensitivity import (
    Evaluation,
    OneWayResult,
    RunInfo,
    SweepResult,
    ThresholdResult,
)
from cartsim.threshold_draws import ThresholdDrawsResult, summarise_threshold_draws

MCSE_NOTE = ("*_mcse: Monte Carlo standard error of the paired per-patient differences "
             "(common random numbers). Every run of the analysis uses the same patients and "
             "random numbers, so differences between rows are effects of the values, "
             "not Monte Carlo noise.")


def _num(x: float | None) -> float | None:
    """A finite float, or None for a missing or non-finite value (written NA)."""
    return float(x) if x is not None and math.isfinite(x) else None


def _se(m: MeanEstimate) -> float | None:
    return _num(m.se)


def _point(c: Increment) -> list[object]:
    """inc_cost, inc_qaly, icer, icer_status, inmb_<wtp>... of one comparison."""
    return [_num(c.measures["cost"].mean), _num(c.measures["qaly"].mean), _num(c.icer.value),
            c.icer.status, *[_num(m.mean) for m in c.inmb.values()]]


def _formats(columns: Sequence[str]) -> dict[str, str]:
    out = {}
    for col in columns:
        if col.endswith(("icer_status", "status", "adjusted", "unit", "source")):
            out[col] = "text"
        elif "qaly" in col or col.endswith(("_ly", "ly_mcse")) or col in ("ly", "comparator_ly"):
            out[col] = "qaly"
        elif "cost" in col or "inmb" in col or "icer" in col or "swing" in col:
            out[col] = "money"
    return out


def _value_format(unit: str) -> str:
    """Parameter values: money for costs, 4 significant digits otherwise."""
    return "money" if unit == "currency" else "float"


def _header(info: RunInfo) -> str:
    return (f"{info.scenario}: {info.patients:,} patients per strategy, seed {info.seed}, "
            f"{info.engine} engine; costs in {info.currency} {info.price_year}; comparator "
            f"{info.comparator}.")


def one_way_tables(result: OneWayResult) -> list[Table]:
    """The ``dsa`` and ``tornado`` tables, rows in the tornado's order."""
    info, last = result.info, result.info.wtp[-1]
    keys = [wtp_key(w) for w in info.wtp]
    per_point = ["inc_cost", "inc_qaly", "icer", "icer_status", *[f"inmb_{k}" for k in keys]]
    columns = ("parameter", "strategy", "unit", "low", "base", "high", "range_source",
               *[f"{pt}_{c}" for pt in ("low", "base", "high") for c in per_point],
               f"swing_{wtp_key(last)}", "adjusted")
    tornado_cols = ("rank", "parameter", "strategy", "unit", "low", "high", "wtp", "inmb_base",
                    "inmb_low", "inmb_high", "swing")
    rows, tornado = [], []
    for rank, r in enumerate(result.rows, start=1):
        for c in r.low_run.comparisons:
            lo, hi = c, r.high_run.comparison(c.strategy)
            base = result.base.comparison(c.strategy)
            swing = abs(hi.inmb[last].mean - lo.inmb[last].mean)
            adjusted = "; ".join(a for a in (r.low_run.adjusted, r.high_run.adjusted) if a)
            rows.append((r.name, c.strategy, r.unit, r.low, r.base, r.high, r.source,
                         *_point(lo), *_point(base), *_point(hi), _num(swing), adjusted or None))
            tornado.append((rank, r.name, c.strategy, r.unit, r.low, r.high, last,
                            *[_num(x.inmb[last].mean) for x in (base, lo, hi)], _num(swing)))
    common = (_header(info),
              "low, base, high: the parameter's values as simulated (after any clipping), in "
              "its given unit (unit); every other parameter at its point value. range_source: "
              "the scenario's low/high, or the 2.5% and 97.5% points of its distribution.")
    dsa_notes = (*common,
                 "<point>_inc_cost, <point>_inc_qaly: strategy minus comparator (differences "
                 "of mean discounted costs and QALYs per patient) with the parameter at that "
                 "point; <point>_icer and _icer_status: the ICER and its quadrant; "
                 "<point>_inmb_<wtp>: incremental net monetary benefit wtp x inc_qaly - "
                 "inc_cost.",
                 f"swing_{wtp_key(last)}: |INMB(high) - INMB(low)| at the last willingness to "
                 "pay; rows are sorted by it (the largest over strategies), largest first. "
                 "adjusted: a value clipped to its kind's range, or a set of probabilities "
                 "rescaled to sum to 1.",
                 ICER_NOTE)
    if result.skipped:
        dsa_notes += (f"Not varied (no low/high and no distribution): "
                      f"{', '.join(result.skipped)}.",)
    dsa = Table("dsa", "One-way sensitivity analysis", columns, tuple(rows), dsa_notes,
                {**_formats(columns), "low": "float", "base": "float", "high": "float"})
    tornado_notes = (*common,
                     f"wtp: the willingness to pay ({wtp_key(last)}, the scenario's last) at "
                     "which INMB = wtp x inc_qaly - inc_cost is shown: inmb_base with every "
                     "parameter at its point value, inmb_low and inmb_high with this parameter "
                     "at its low and high value. swing = |inmb_high - inmb_low|; rank 1 is the "
                     "widest bar of the tornado diagram.")
    return [dsa, Table("tornado", f"Tornado: INMB at {wtp_key(last)} per QALY", tornado_cols,
                       tuple(tornado), tornado_notes,
                       {**_formats(tornado_cols), "rank": "int", "low": "float",
                        "high": "float", "wtp": "money"})]


def _run_cells(ev: Evaluation, c: Increment) -> list[object]:
    own, ref = (next(m for m in ev.means if m.strategy == s) for s in (c.strategy,
                                                                       c.comparator))
    inc = [x for k in ("cost", "qaly", "ly") for x in (_num(c.measures[k].mean),
                                                       _se(c.measures[k]))]
    return [c.strategy, c.comparator, _num(own.cost), _num(own.qaly), _num(own.ly),
            _num(ref.cost), _num(ref.qaly), _num(ref.ly), *inc, _num(c.icer.value),
            c.icer.status, *[x for m in c.inmb.values() for x in (_num(m.mean), _se(m))],
            ev.adjusted or None]


def sweep_table(result: SweepResult) -> Table:
    """One row per combination and non-comparator strategy (one per combination with
    two strategies); a column per swept parameter, in its given unit."""
    keys = [wtp_key(w) for w in result.info.wtp]
    columns = (*result.names, "strategy", "comparator", "cost", "qaly", "ly", "comparator_cost",
               "comparator_qaly", "comparator_ly", "inc_cost", "inc_cost_mcse", "inc_qaly",
               "inc_qaly_mcse", "inc_ly", "inc_ly_mcse", "icer", "icer_status",
               *[c for k in keys for c in (f"inmb_{k}", f"inmb_{k}_mcse")], "adjusted")
    rows = tuple((*[dict(ev.settings)[n] for n in result.names], *_run_cells(ev, c))
                 for ev in result.rows for c in ev.comparisons)
    units = ", ".join(f"{n} ({u})" for n, u in zip(result.names, result.units, strict=True))
    notes = (_header(result.info),
             f"Swept parameters, in their given units: {units}; every other parameter at its "
             "point value.",
             "cost, qaly, ly: the strategy's mean discounted cost, QALYs and life-years per "
             "patient; comparator_*: the comparator's; inc_*: their differences; "
             "inmb_<wtp> = wtp x inc_qaly - inc_cost. adjusted: a set of probabilities "
             "rescaled to sum to 1.", MCSE_NOTE, ICER_NOTE)
    return Table("sweep", "Parameter sweep", columns, rows, notes,
                 {**_formats(columns), **{n: _value_format(u) for n, u in
                                          zip(result.names, result.units, strict=True)}})


def threshold_table(result: ThresholdResult) -> Table:
    """One row per strategy and willingness to pay."""
    columns = ("strategy", "comparator", "parameter", "wtp", "threshold", "unit",
               "interval_low", "interval_high", "status", "base_value", "lower", "upper",
               "inmb_at_lower", "inmb_at_upper", "inmb_mcse_at_threshold", "slope")
    rows = tuple((r.strategy, result.info.comparator, result.parameter, r.wtp, _num(r.value),
                  result.unit, _num(r.interval_low), _num(r.interval_high), r.status,
                  result.base, result.lower, result.upper, _num(r.inmb_lower),
                  _num(r.inmb_upper), _num(r.inmb_se), _num(r.slope)) for r in result.rows)
    notes = (_header(result.info),
             "threshold: the value of the parameter (in unit, as written in the scenario; "
             "costs before any cost_conversion) at "
             "which INMB = wtp x inc_qaly - inc_cost is 0, found by Brent's method between "
             "lower and upper with every other parameter at its point value; NA if INMB has "
             "the same sign at both ends (status says which).",
             "interval_low, interval_high: Monte Carlo 95% interval of the threshold, "
             "threshold +/- 1.96 x inmb_mcse_at_threshold / |slope| (delta method); it "
             "reflects the finite number of simulated patients, not parameter uncertainty. "
             "slope: change in INMB per unit of the parameter near the threshold (finite "
             "difference on the same random numbers).",
             "inmb_at_lower, inmb_at_upper: INMB at the ends of the search range; base_value: "
             "the parameter's point value.")
    value = _value_format(result.unit)
    return Table("threshold", f"Threshold analysis: {result.parameter}", columns, rows, notes,
                 {**_formats(columns), "wtp": "money", "slope": "float",
                  **dict.fromkeys(("threshold", "interval_low", "interval_high", "base_value",
                                   "lower", "upper"), value)})


def threshold_draws_tables(result: ThresholdDrawsResult) -> list[Table]:
    """``threshold_draws`` (a row per draw, strategy and WTP) and ``threshold_distribution``
    (a row per strategy and WTP)."""
    info, value = result.info, _value_format(result.unit)
    columns = ("draw", "strategy", "comparator", "wtp", "threshold", "status",
               "drawn_value", "inmb_at_lower", "inmb_at_upper")
    rows = tuple((r.draw, r.strategy, info.comparator, r.wtp, _num(r.value), r.status,
                  r.drawn_value, _num(r.inmb_lower), _num(r.inmb_upper)) for r in result.rows)
    bracket = f"[{result.lower:g}, {result.upper:g}] {result.unit}"
    common = (_header(info),
              f"{result.parameter}: the value (in {result.unit}, as written in the scenario) "
              "at which INMB = wtp x inc_qaly - inc_cost is 0 in each PSA draw, with every "
              "other parameter at that draw's value (the draws of `cartsim psa` with the same "
              f"seed) and the draw's random numbers; Brent's method on {bracket}.")
    draws = Table("threshold_draws", f"Threshold of {result.parameter} in each PSA draw",
                  columns, rows, (*common,
                  "status: root, or 'above upper' / 'below lower' when INMB has one sign over "
                  "the whole range (the threshold lies beyond that end), or 'undetermined' "
                  "(INMB equal at both ends). drawn_value: the parameter's own value in the "
                  "draw, for comparison."),
                  {**_formats(columns), "wtp": "money", "threshold": value,
                   "drawn_value": value, "draw": "int"})
    cols = ("strategy", "comparator", "wtp", "draws", "with_root", "share_no_root",
            "above_upper", "below_lower", "undetermined", "mean_given_root", "median",
            "low_2_5", "high_97_5", "lower", "upper", "base_value")
    summary = tuple((x.strategy, info.comparator, x.wtp, x.draws, x.with_root,
                     (x.draws - x.with_root) / x.draws, x.above_upper, x.below_lower,
                     x.undetermined, _num(x.mean_given_root), _num(x.median), _num(x.low),
                     _num(x.high), result.lower, result.upper, result.base)
                    for x in summarise_threshold_draws(result))
    notes = (*common,
             "with_root: draws with a threshold inside the range; share_no_root: the share "
             "without one (above_upper + below_lower + undetermined, over draws). "
             "mean_given_root: mean over draws with a root only (conditional; biased when "
             "share_no_root is large).",
             "median, low_2_5, high_97_5: 50%, 2.5% and 97.5% quantiles (numpy 'linear', "
             "type 7) over all placed draws, counting a draw without a root as lying beyond "
             "the end of the range where its threshold is; NA when the quantile falls among "
             "those draws (it is then beyond lower or upper), and undetermined draws left "
             "out.")
    dist = Table("threshold_distribution", f"Distribution of the threshold of "
                 f"{result.parameter} over PSA draws", cols, summary, notes,
                 {**_formats(cols), "wtp": "money", "share_no_root": "prob",
                  **dict.fromkeys(("mean_given_root", "median", "low_2_5", "high_97_5",
                                   "lower", "upper", "base_value"), value),
                  **dict.fromkeys(("draws", "with_root", "above_upper", "below_lower",
                                   "undetermined"), "int")})
    return [draws, dist]


def parse_grid(items: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """Read ``--grid`` items ``NAME=v1,v2,...`` or ``NAME=start:stop:count`` (evenly
    spaced, both ends included) into a ``sweep`` grid; UsageError if malformed."""
    grid: dict[str, tuple[float, ...]] = {}
    for item in items:
        name, sep, spec = (s.strip() for s in item.partition("="))
        try:
            if not sep or not name or name in grid:
                raise ValueError
            if ":" in spec:
                start, stop, count = spec.split(":")
                if int(count) < 1:
                    raise ValueError
                grid[name] = tuple(map(float, np.linspace(float(start), float(stop),
                                                          int(count))))
            else:
                grid[name] = tuple(float(v) for v in spec.split(","))
        except ValueError:
            msg = (f"--grid {item!r}: write NAME=v1,v2,... or NAME=start:stop:count, once per "
                   "parameter, e.g. car_t.relapse.rate=0.01,0.03,0.1 or car_t.relapse.rate=0:0.2:11")
            raise UsageError(msg) from None
    return grid


def sensitivity_files(tables: Sequence[Table], scenario: Scenario, info: RunInfo, *,
                      command: str, overrides: Sequence[str] = (),
                      extra: dict[str, object] | None = None) -> dict[str, str]:
    """File name -> content of a results folder: each table (and the parameter table)
    as CSV and Markdown, and ``run.json`` (``extra`` adds fields, e.g. the grid)."""
    return folder_files(
        [*tables, parameters_table(scenario)], scenario, command=command, seed=info.seed,
        sizes={"patients": info.patients, "strategies": len(info.strategies)},
        engine=info.engine, overrides=overrides, extra=extra)


def sensitivity_summary(table: Table, limit: int = 10) -> str:
    """The first ``limit`` rows of a table for the terminal (key columns only)."""
    keep = {"tornado": ("rank", "parameter", "strategy", "low", "high", "inmb_low",
                        "inmb_high", "swing"),
            "threshold": ("strategy", "wtp", "threshold", "interval_low", "interval_high",
                          "status"),
            "threshold_distribution": ("strategy", "wtp", "with_root", "share_no_root",
                                       "median", "low_2_5", "high_97_5")
            }.get(table.name, table.columns[:8])
    idx = [table.columns.index(c) for c in keep]
    rows = [[row[i] for i in idx] for row in table.rows[:limit]]
    more = len(table.rows) - limit
    text = terminal_table(keep, rows, {c: table.formats[c] for c in keep if c in table.formats})
    return f"{table.title}\n{text}" + (f"\n... and {more} more rows" if more > 0 else "")
