"""Costs that add up: one rule for a state cost that already contains an event's cost.

The state costs of conventional therapy come from all-cause claims studies (e.g.
Jiang 2021, $68,260 a year in severe SLE, hospital admissions included), while
flares and serious infections are also simulated as events with their own costs.
Charging both would count those admissions twice. The rule, applied to every
state of every clinical pathway:

    a state cost that ``includes`` an event's component (``flares``,
    ``serious_infections``) is charged net of the expected cost of that event in
    that state: rate of the event in the state x cost of one event.

So the state's total cost (state rate plus expected events) stays equal to the
sourced all-cause figure, events keep their timing, QALY losses and counts, and
a state whose cost does not include them (drug-free remission: monitoring only)
is charged every event on top. A net below zero means the events cost more than
the all-cause figure they are part of: at the point values this is refused as an
inconsistent scenario; in a PSA draw it is set to zero (and said in the README).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cartsim.pathway.model import State

Includes = Callable[[str], tuple[str, ...]]

EVENT_COMPONENT = {
    "flare_mild": "flares", "flare_moderate": "flares", "flare_severe": "flares",
    "serious_infection": "serious_infections",
}
"""The cost component each recurring event's cost belongs to."""


@dataclass(frozen=True)
class CostLine:
    """One cost of a state: its category, the parameter behind it and its amount a year."""

    category: str
    parameter: str
    amount: float


@dataclass(frozen=True)
class Shortfall:
    """A state cost smaller than the expected events it includes (refused at point values)."""

    state: str
    parameter: str
    amount: float
    events: float

    def message(self) -> str:
        return (f"state '{self.state}': {self.parameter} = {self.amount:,.0f} a year includes "
                f"events expected to cost {self.events:,.0f} a year in that state, so it "
                "cannot be charged net of them (a cost that includes flares or serious "
                "infections must be at least their rate x cost)")


def net_state_costs(state: State, lines: tuple[CostLine, ...], includes: Includes,
                    event_costs: Mapping[str, Mapping[str, float]]
                    ) -> tuple[dict[str, float], list[Shortfall]]:
    """Per-category yearly costs of ``state``, each line net of the expected cost of the
    recurring events whose component its parameter includes."""
    out: dict[str, float] = {}
    short: list[Shortfall] = []
    for line in lines:
        contained = set(includes(line.parameter))
        expected = sum(r.rate * sum(event_costs.get(r.event, {}).values())
                       for r in state.recurring
                       if EVENT_COMPONENT.get(r.event) in contained)
        net = line.amount - expected
        if net < 0.0:
            short.append(Shortfall(state.name, line.parameter, line.amount, expected))
            net = 0.0
        out[line.category] = out.get(line.category, 0.0) + net
    return out, short
