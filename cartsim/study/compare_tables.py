"""The table and results folder of ``cartsim compare``: scenarios side by side.

One row per scenario (and non-comparator strategy, if a scenario has several):
what the scenario changes from the file it extends, each strategy's mean cost and
QALYs, the incremental results with their Monte Carlo errors, ICER, INMB at each
willingness to pay, and how far each key result moved from the first scenario.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from cartsim.analysis.compare import ScenarioSummary, change_from_first
from cartsim.study.run_tables import ICER_NOTE
from cartsim.table import Table, wtp_key


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
