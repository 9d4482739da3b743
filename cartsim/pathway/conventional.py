"""Conventional immunosuppression, indefinitely: the comparator pathway.

States (per disease ``d``):

* ``active`` - refractory active disease on immunosuppression. Leaves for low
  disease activity, or for ``cancer`` at the background incidence times the
  disease's standardised incidence ratio. Flares (mild/moderate/severe) and
  serious infections recur. Death: life table x the disease's SMR.
* ``low_activity`` - low disease activity on therapy; loses control back to
  ``active``; fewer flares (a ratio) and its own infection rate; same SMR.
* ``cancer`` - after a cancer diagnosis: cancer care costs, lower utility and an
  excess death rate (cause "cancer") on top of the disease mortality.

The same states serve the CAR-T pathway for patients who do not respond,
relapse or whose product cannot be made, so both arms describe life on
conventional therapy identically.
"""

from __future__ import annotations

from collections.abc import Callable

from cartsim.params.survival import Exponential
from cartsim.pathway.model import Mortality, Recurring, State, Transition, Valuation

Values = Callable[[str], float]
FLARES = ("mild", "moderate", "severe")


def disease_mortality(d: str, v: Values) -> Mortality:
    return Mortality(life_table_ratio=v(f"mortality.{d}.smr"))


def cancer_transition(rate: float) -> Transition:
    return Transition(name="cancer", to="cancer", time=Exponential(rate), event="cancer")


def conventional_states(d: str, v: Values, extra: tuple[Transition, ...] = ()) -> dict[str, State]:
    """The three conventional-therapy states; ``extra`` transitions join active and LDA."""
    cancer_rate = v("cancer.background_rate") * v(f"cancer.sir.{d}")
    lda_ratio = v("conventional.flares.low_activity_ratio")
    flares = {s: v(f"conventional.{d}.flares.{s}") for s in FLARES}
    active = State(
        name="active",
        mortality=disease_mortality(d, v),
        transitions=(
            Transition("to_low_activity", "low_activity",
                       Exponential(v(f"conventional.{d}.to_low_activity"))),
            cancer_transition(cancer_rate),
            *extra,
        ),
        recurring=(
            *(Recurring(f"flare_{s}", flares[s]) for s in FLARES),
            Recurring("serious_infection", v(f"conventional.{d}.infections.active")),
        ),
    )
    low = State(
        name="low_activity",
        mortality=disease_mortality(d, v),
        transitions=(
            Transition("lose_low_activity", "active",
                       Exponential(v(f"conventional.{d}.lose_low_activity"))),
            cancer_transition(cancer_rate),
            *extra,
        ),
        recurring=(
            *(Recurring(f"flare_{s}", flares[s] * lda_ratio) for s in FLARES),
            Recurring("serious_infection", v(f"conventional.{d}.infections.low_activity")),
        ),
    )
    cancer = State(
        name="cancer",
        mortality=Mortality(life_table_ratio=v(f"mortality.{d}.smr"),
                            excess_rate=v("cancer.excess_mortality"), excess_cause="cancer"),
    )
    return {"active": active, "low_activity": low, "cancer": cancer}


def conventional_valuation(d: str, v: Values) -> Valuation:
    """Costs and utilities of life on conventional therapy and of its events."""
    state_costs = {
        "active": {"drugs": v(f"costs.{d}.active.drugs"),
                   "disease_care": v(f"costs.{d}.active.care")},
        "low_activity": {"drugs": v(f"costs.{d}.low_activity.drugs"),
                         "disease_care": v(f"costs.{d}.low_activity.care")},
        "cancer": {"drugs": v(f"costs.{d}.low_activity.drugs"),
                   "disease_care": v(f"costs.{d}.low_activity.care"),
                   "cancer_care": v("costs.cancer.annual")},
    }
    utility = {"active": v(f"utilities.{d}.active"),
               "low_activity": v(f"utilities.{d}.low_activity"),
               "cancer": min(v("utilities.cancer"), v(f"utilities.{d}.active"))}
    event_costs = {f"flare_{s}": {"disease_care": v(f"costs.flare.{s}")} for s in FLARES}
    event_costs["serious_infection"] = {"adverse_events": v("costs.infection")}
    event_costs["cancer"] = {"cancer_care": v("costs.cancer.initial")}
    loss = {f"flare_{s}": v(f"qaly_loss.flare.{s}") for s in FLARES}
    loss["serious_infection"] = v("qaly_loss.infection")
    return Valuation(state_costs=state_costs, state_utility=utility, event_costs=event_costs,
                     event_qaly_loss=loss)
