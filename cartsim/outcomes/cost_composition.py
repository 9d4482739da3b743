"""What a year in each state costs, and where the money comes from.

For every state of a pathway, the yearly cost splits into the state's own rates
(``Valuation.state_costs``: drugs, care, monitoring...) and the expected cost of
the events that recur in it (rate x cost of one event: flares, serious
infections). A reviewer sees at a glance whether an all-cause state cost is
topped up with events it already contains (cartsim charges such a cost net of
them, :mod:`cartsim.pathway.costing`, so state + events = the sourced figure).

One-off events on the way through (infusion, CRS, a cancer's first year) are not
yearly costs and are not in this table; the costs table has them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cartsim.pathway.model import Pathway, Valuation
from cartsim.vocabulary import COST_CATEGORIES

ORIGINS = ("state", "events")


@dataclass(frozen=True)
class CompositionRow:
    """Yearly cost of one state of one strategy and group, by category and origin."""

    strategy: str
    group: str
    state: str
    category: str
    origin: str
    annual_cost: float


def state_composition(pathway: Pathway, valuation: Valuation, state: str,
                      cost_factor: float = 1.0) -> dict[tuple[str, str], float]:
    """``{(category, origin): cost per year}`` of one state (zero entries left out)."""
    out: dict[tuple[str, str], float] = {}
    for cat, amount in valuation.state_costs.get(state, {}).items():
        if amount:
            out[(cat, "state")] = out.get((cat, "state"), 0.0) + amount * cost_factor
    for rec in pathway.states[state].recurring:
        for cat, amount in valuation.event_costs.get(rec.event, {}).items():
            if amount and rec.rate:
                out[(cat, "events")] = out.get((cat, "events"), 0.0) + \
                    rec.rate * amount * cost_factor
    return out


def cost_composition(models: Mapping[str, tuple[Mapping[str, Pathway], Mapping[str, Valuation]]],
                     cost_factor: float = 1.0) -> list[CompositionRow]:
    """Rows for every strategy, group and state: each category and origin, then a
    ``total`` row (category "total", origin "all") that is their sum."""
    rows: list[CompositionRow] = []
    order = {c: i for i, c in enumerate(COST_CATEGORIES)}
    for strategy, (pathways, valuations) in models.items():
        for group, pathway in pathways.items():
            valuation = valuations[group]
            for state in pathway.states:
                parts = state_composition(pathway, valuation, state, cost_factor)
                keys = sorted(parts, key=lambda k: (order.get(k[0], len(order)),
                                                    ORIGINS.index(k[1])))
                rows += [CompositionRow(strategy, group, state, cat, origin, parts[(cat, origin)])
                         for cat, origin in keys]
                rows.append(CompositionRow(strategy, group, state, "total", "all",
                                           sum(parts.values())))
    return rows
