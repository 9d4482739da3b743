"""The ``state_occupancy`` table of a `cartsim run`: where the cohort is over time.

One row per strategy, state and time: the share of patients in each state of
the strategy's pathway and dead (these rows partition the cohort, so they sum
to 1 at every time), followed by two summary rows per time, ``alive`` and
``drug_free_remission`` (flagged ``aggregate = true``; they are sums of state
rows, so a reader adding up shares must leave them out). These are the data of
the state-occupancy, survival and drug-free-remission plots.
"""

from __future__ import annotations

from cartsim.outcomes.occupancy import (
    Occupancy,
    occupancy_from_counts,
    remission_states,
)
from cartsim.study.result import RunResult
from cartsim.study.run_tables import curves_of, shown_grid
from cartsim.table import Table

DEAD_ROW = "dead"
ALIVE_ROW = "alive"
REMISSION_ROW = "drug_free_remission"

OCCUPANCY_NOTES = (
    "share: proportion of the strategy's patients in that state at that time (years from the "
    "start); share_se: its binomial standard error sqrt(p(1-p)/n).",
    f"Rows with aggregate = false (each state and '{DEAD_ROW}') sum to 1 at every time. "
    f"'{ALIVE_ROW}' (survival) and '{REMISSION_ROW}' (in a drug-free remission state) are "
    "sums of state rows and have aggregate = true.",
    "A patient alive at the horizon is counted in their last state at the horizon.",
)


def occupancies(result: RunResult) -> dict[str, Occupancy]:
    """Each strategy's occupancy on one shared grid (quarterly, then yearly)."""
    grid = shown_grid(result)
    return {s: occupancy_from_counts(s, grid, c.states, c.occupancy[:grid.size],
                                     c.dead[:grid.size], result.cohort.n,
                                     remission_states(result.models[s].pathways))
            for s, c in curves_of(result).items()}


def occupancy_rows(occ: Occupancy) -> list[tuple[object, ...]]:
    """Rows of one strategy: states and dead per time, then alive and remission."""
    columns = [(name, occ.state_share[:, s], False) for s, name in enumerate(occ.states)]
    columns += [(DEAD_ROW, occ.dead, False), (ALIVE_ROW, occ.alive, True),
                (REMISSION_ROW, occ.remission, True)]
    rows: list[tuple[object, ...]] = []
    for name, share, aggregate in columns:
        se = occ.standard_error(share)
        rows += [(occ.strategy, name, float(t), float(p), float(e), aggregate)
                 for t, p, e in zip(occ.time, share, se, strict=True)]
    return rows


def state_occupancy_table(result: RunResult) -> Table:
    """The ``state_occupancy`` table (long format, keys strategy, state, time)."""
    rows = [row for occ in occupancies(result).values() for row in occupancy_rows(occ)]
    return Table("state_occupancy", "State occupancy, survival and drug-free remission over time",
                 ("strategy", "state", "time", "share", "share_se", "aggregate"), tuple(rows),
                 OCCUPANCY_NOTES,
                 {"time": "float", "share": "prob", "share_se": "prob", "aggregate": "text"})
