"""A maintenance therapy added to conventional immunosuppression, until stopped.

The shape shared by an approved biologic in SLE (:mod:`cartsim.pathway.biologic_add_on`)
and IVIG in myositis (:mod:`cartsim.pathway.ivig`). The patient starts on the
add-on with active disease; two states mirror conventional therapy's::

    <key>_active       --to_low_activity (rate x ratio)-->  <key>_low_activity
    <key>_low_activity --lose_low_activity-->               <key>_active
    either             --discontinue-->  active | low_activity (conventional, for life)
    either             --cancer-->       cancer_active | cancer_low_activity

On the add-on, low disease activity is reached faster (a rate ratio from the
trials' responses) and severe flares are rarer (a rate ratio); mortality,
infections, utilities and the other flares are conventional therapy's. The add-on
is stopped at a cancer diagnosis. Transitions carry conventional therapy's names
(``to_low_activity``, ``lose_low_activity``): common random numbers with the
comparator, whose patients differ only by the add-on's effect.

Costs: an add-on state costs what its conventional twin costs (the all-cause care
cost net of the flares and infections conventional therapy has), plus the add-on,
while the add-on's own (rarer) flares are charged as events. So fewer flares save
their cost, and the total stays the sourced all-cause figure on conventional therapy.
"""

from __future__ import annotations

from dataclasses import dataclass

from cartsim.params.survival import Exponential
from cartsim.pathway.cancer import frozen_costs
from cartsim.pathway.conventional import (
    Values,
    conventional_event_costs,
    conventional_states,
    cost_states,
    frozen_utilities,
    therapy_cost_lines,
)
from cartsim.pathway.costing import Includes, Shortfall
from cartsim.pathway.model import Pathway, Recurring, State, Transition, Valuation

THERAPY = ("active", "low_activity")


@dataclass(frozen=True)
class AddOn:
    """An add-on therapy: its parameter root and state prefix ``key``, the strategy it
    is, the cost category and parameter of its yearly cost."""

    key: str
    strategy: str
    category: str
    cost: str


def _on_add_on(add_on: AddOn, base: State, v: Values) -> State:
    """``base`` (a conventional state) with the add-on's effects and exits."""
    k = add_on.key
    twin = {"active": f"{k}_low_activity", "low_activity": f"{k}_active"}[base.name]
    severe = v(f"{k}.severe_flare_ratio")
    transitions = []
    for tr in base.transitions:
        if tr.name == "to_low_activity":
            assert isinstance(tr.time, Exponential)  # conventional_states builds it so
            transitions.append(Transition(tr.name, twin, Exponential(
                tr.time.rate * v(f"{k}.to_low_activity_ratio"))))
        elif tr.name == "lose_low_activity":
            transitions.append(Transition(tr.name, twin, tr.time))
        else:
            transitions.append(tr)  # cancer: stops the add-on (conventional cancer state)
    transitions.append(Transition("discontinue", base.name,
                                  Exponential(v(f"{k}.discontinuation")),
                                  event=f"{k}_discontinued"))
    recurring = tuple(Recurring(r.event, r.rate * severe) if r.event == "flare_severe" else r
                      for r in base.recurring)
    return State(name=f"{k}_{base.name}", mortality=base.mortality,
                 transitions=tuple(transitions), recurring=recurring)


def add_on_pathway(add_on: AddOn, d: str, v: Values) -> Pathway:
    """Conventional therapy plus the add-on, from active disease on the add-on."""
    states = conventional_states(d, v)
    for name in THERAPY:
        state = _on_add_on(add_on, states[name], v)
        states[state.name] = state
    return Pathway(strategy=add_on.strategy, start=f"{add_on.key}_active", states=states)


def add_on_valuation(add_on: AddOn, d: str, v: Values, pathway: Pathway, includes: Includes
                     ) -> tuple[Valuation, list[Shortfall]]:
    events = conventional_event_costs(v)
    costs, short = cost_states(pathway.states, therapy_cost_lines(d, v), includes, events,
                               {"cancer": {"cancer_care": v("costs.cancer.annual")}})
    yearly = {add_on.category: v(add_on.cost)}
    utility = {"active": v(f"utilities.{d}.active"),
               "low_activity": v(f"utilities.{d}.low_activity")}
    for name in THERAPY:
        costs[f"{add_on.key}_{name}"] = frozen_costs(costs[name], yearly)
        utility[f"{add_on.key}_{name}"] = utility[name]
    # frozen_utilities caps each cancer state at its origin's utility; the add-on states'
    # names carry no cancer prefix, so they keep the conventional utilities set above.
    utility = frozen_utilities(pathway.states, utility, {"cancer": v("utilities.cancer")})
    loss = {f"flare_{s}": v(f"qaly_loss.flare.{s}") for s in ("mild", "moderate", "severe")}
    loss["serious_infection"] = v("qaly_loss.infection")
    return Valuation(state_costs=costs, state_utility=utility, event_costs=events,
                     event_qaly_loss=loss), short
