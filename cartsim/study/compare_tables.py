"""The forest table of `cartsim compare`: each scenario's INMB at each WTP with its 95%
Monte Carlo interval, the numbers of the report's forest plot (the report computes
nothing)."""

from __future__ import annotations

from collections.abc import Sequence

from cartsim.study.psa_curve_tables import Z95
from cartsim.table import Table, wtp_key


def forest_table(compare: Table, wtp: Sequence[float]) -> Table:
    """One row per scenario, strategy and WTP, in the order of the ``compare`` table."""
    col = {c: j for j, c in enumerate(compare.columns)}
    rows = []
    for lam in wtp:
        key = wtp_key(lam)
        for row in compare.rows:
            inmb, mcse = row[col[f"inmb_{key}"]], row[col[f"inmb_{key}_mcse"]]
            low = high = None
            if isinstance(inmb, float) and isinstance(mcse, float):
                low, high = inmb - Z95 * mcse, inmb + Z95 * mcse
            rows.append((row[col["scenario"]], row[col["strategy"]], float(lam), inmb, mcse,
                         low, high))
    return Table("forest", "INMB of each scenario with its 95% Monte Carlo interval",
                 ("scenario", "strategy", "wtp", "inmb", "inmb_mcse", "inmb_low", "inmb_high"),
                 tuple(rows),
                 ("inmb = wtp x inc_qaly - inc_cost per patient (discounted), as in compare.csv;"
                  " inmb_low/inmb_high: inmb -/+ 1.96 x inmb_mcse, the Monte Carlo 95% interval "
                  "of the simulated patients (not parameter uncertainty).",),
                 {"wtp": "money", "inmb": "money", "inmb_mcse": "money", "inmb_low": "money",
                  "inmb_high": "money"})
