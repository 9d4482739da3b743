"""Conventional immunosuppression, indefinitely: the comparator pathway.

States (per disease ``d``):

* ``active`` - refractory active disease on immunosuppression. Leaves for low
  disease activity, or for ``cancer_active`` at the disease's EXCESS cancer
  incidence (:mod:`cartsim.pathway.cancer`). Flares (mild/moderate/severe) and
  serious infections recur. Death: life table x the disease's mortality ratio
  (:mod:`cartsim.pathway.mortality`).
* ``low_activity`` - low disease activity on therapy; loses control back to
  ``active``; fewer flares (a ratio) and its own infection rate; same ratio.
* ``cancer_active`` / ``cancer_low_activity`` - after a cancer diagnosis, disease
  activity frozen: the origin's mortality, events and costs, plus cancer care, the
  cancer's excess hazard and utility min(origin, cancer).

Costs are charged by the rule of :mod:`cartsim.pathway.costing`: an all-cause state
cost is net of the expected flares and serious infections it already contains.

The same states serve the CAR-T pathway for patients who do not respond,
relapse or whose product cannot be made, so both arms describe life on
conventional therapy identically.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cartsim.params.survival import Exponential
from cartsim.pathway.cancer import (
    cancer_transition,
    frozen_costs,
    frozen_state,
    origin_key,
)
from cartsim.pathway.costing import CostLine, Includes, Shortfall, net_state_costs
from cartsim.pathway.model import Pathway, Recurring, State, Transition, Valuation
from cartsim.pathway.mortality import disease_ratio, state_mortality

Values = Callable[[str], float]
Extra = Callable[[str], tuple[Transition, ...]]
FLARES = ("mild", "moderate", "severe")
THERAPY_STATES = ("active", "low_activity")


def _none(_: str) -> tuple[Transition, ...]:
    return ()


def conventional_states(d: str, v: Values, extra: Extra = _none) -> dict[str, State]:
    """Active and low disease activity on therapy, and the cancer state of each.
    ``extra(origin)`` adds transitions to active and LDA (CAR-T-related cancers)."""
    mortality = state_mortality(disease_ratio(d, v))
    sir = v(f"cancer.sir.{d}")
    lda_ratio = v("conventional.flares.low_activity_ratio")
    flares = {s: v(f"conventional.{d}.flares.{s}") for s in FLARES}
    active = State(
        name="active", mortality=mortality,
        transitions=(
            Transition("to_low_activity", "low_activity",
                       Exponential(v(f"conventional.{d}.to_low_activity"))),
            cancer_transition(sir, v, "active"),
            *extra("active"),
        ),
        recurring=(
            *(Recurring(f"flare_{s}", flares[s]) for s in FLARES),
            Recurring("serious_infection", v(f"conventional.{d}.infections.active")),
        ),
    )
    low = State(
        name="low_activity", mortality=mortality,
        transitions=(
            Transition("lose_low_activity", "active",
                       Exponential(v(f"conventional.{d}.lose_low_activity"))),
            cancer_transition(sir, v, "low_activity"),
            *extra("low_activity"),
        ),
        recurring=(
            *(Recurring(f"flare_{s}", flares[s] * lda_ratio) for s in FLARES),
            Recurring("serious_infection", v(f"conventional.{d}.infections.low_activity")),
        ),
    )
    states = {"active": active, "low_activity": low}
    excess = v("cancer.excess_mortality")
    for origin in (active, low):
        cancer = frozen_state("cancer", origin, excess, "cancer")
        states[cancer.name] = cancer
    return states


def conventional_pathway(d: str, v: Values) -> Pathway:
    """The comparator: conventional immunosuppression for life, from active disease."""
    return Pathway(strategy="immunosuppression", start="active",
                   states=conventional_states(d, v))


def therapy_cost_lines(d: str, v: Values) -> dict[str, tuple[CostLine, ...]]:
    """The yearly cost lines of active disease and low disease activity on therapy."""
    return {s: (CostLine("drugs", f"costs.{d}.{s}.drugs", v(f"costs.{d}.{s}.drugs")),
                CostLine("disease_care", f"costs.{d}.{s}.care", v(f"costs.{d}.{s}.care")))
            for s in THERAPY_STATES}


def conventional_event_costs(v: Values) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {
        f"flare_{s}": {"disease_care": v(f"costs.flare.{s}")} for s in FLARES}
    out["serious_infection"] = {"adverse_events": v("costs.infection")}
    out["cancer"] = {"cancer_care": v("costs.cancer.initial")}
    return out


def cost_states(states: Mapping[str, State], lines: Mapping[str, tuple[CostLine, ...]],
                includes: Includes, event_costs: Mapping[str, Mapping[str, float]],
                extra: Mapping[str, Mapping[str, float]]
                ) -> tuple[dict[str, dict[str, float]], list[Shortfall]]:
    """Yearly costs of every state with cost lines (net of the events they include), and
    of each cancer state: its origin's costs plus ``extra[kind]`` (cancer care)."""
    costs: dict[str, dict[str, float]] = {}
    short: list[Shortfall] = []
    for name, state_lines in lines.items():
        if name in states:
            costs[name], missing = net_state_costs(states[name], state_lines, includes,
                                                   event_costs)
            short += missing
    for name in states:
        kind = next((k for k in extra if name.startswith(f"{k}_")), None)
        if kind is not None and name not in costs:
            origin = name[len(kind) + 1:]
            costs[name] = frozen_costs(costs[origin], extra[kind])
    return costs, short


def frozen_utilities(states: Mapping[str, State], utility: dict[str, float],
                     caps: Mapping[str, float]) -> dict[str, float]:
    """Utility of each cancer state: min(origin's utility, the cancer's)."""
    out = dict(utility)
    for name in states:
        kind = next((k for k in caps if name.startswith(f"{k}_")), None)
        if kind is not None:
            out[name] = min(utility[name[len(kind) + 1:]], caps[kind])
    return out


def conventional_valuation(d: str, v: Values, states: Mapping[str, State],
                           includes: Includes) -> tuple[Valuation, list[Shortfall]]:
    """Costs and utilities of life on conventional therapy and of its events."""
    events = conventional_event_costs(v)
    costs, short = cost_states(states, therapy_cost_lines(d, v), includes, events,
                               {"cancer": {"cancer_care": v("costs.cancer.annual")}})
    utility = {"active": v(f"utilities.{d}.active"),
               "low_activity": v(f"utilities.{d}.low_activity")}
    utility = frozen_utilities(states, utility, {"cancer": v("utilities.cancer")})
    loss = {f"flare_{s}": v(f"qaly_loss.flare.{s}") for s in FLARES}
    loss["serious_infection"] = v("qaly_loss.infection")
    return Valuation(state_costs=costs, state_utility=utility, event_costs=events,
                     event_qaly_loss=loss), short


__all__ = ["conventional_pathway", "conventional_states", "conventional_valuation",
           "cost_states", "frozen_utilities", "origin_key", "therapy_cost_lines"]
