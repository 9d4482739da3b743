"""Tables of one-way sensitivity analysis and sweeps (:mod:`cartsim.study.dsa`).

``one_way_tables`` gives the ``dsa`` table (every parameter at low, base and high
value) and the ``tornado`` table; ``sweep_table`` one table. Cells are plain
numbers, text or None (written ``NA``): a value that is not finite becomes None,
never ``inf`` or ``nan``. The helpers here serve the threshold tables too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cartsim.analysis.cea import MeanEstimate
from cartsim.analysis.deterministic import Increment
from cartsim.study.evaluation import Evaluation, RunInfo
from cartsim.study.run_tables import ICER_NOTE
from cartsim.table import Table, wtp_key

if TYPE_CHECKING:
    from cartsim.study.dsa import OneWayResult, SweepResult

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
    dsa_notes: tuple[str, ...] = (*common,
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
