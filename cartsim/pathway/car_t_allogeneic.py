"""Allogeneic (off-the-shelf) CD19 CAR-T: the autologous pathway without the wait.

Path of a patient (per disease ``d``)::

    lymphodepletion (some patients; FT819's regimen B gives none)
      -> infusion [origin "infusion"; product + episode cost, no apheresis,
         no manufacturing wait or failure: the product is on the shelf]
      -> crs -> icans -> early_infection -> treatment_death -> gvhd
      -> ivig -> aplasia | aplasia_ivig -> response: remission | active
    remission --relapse--> retreatment (a second dose off the shelf, up to an age)
      -> reinfusion [origin "reinfusion"] -> same toxicities -> retreatment_response
      -> remission_2 (relapse -> active) | active

Its own response, durability, toxicity, graft-versus-host disease and price
(``car_t_allogeneic.*``); drug-free remission itself (utility, mortality share,
infections, monitoring, immunoglobulin cover) is described by the parameters the
autologous pathway uses, and life after failure by the conventional states, so
every arm describes those states identically. Node names are the autologous
pathway's, so both CAR-T arms draw each patient's outcomes from the same random
numbers (common random numbers by purpose). The T-cell malignancy of an
integrated CAR transgene has its own per-infusion probability and the autologous
course afterwards. No LICATS (reported for autologous products only).
"""

from __future__ import annotations

from cartsim.params.survival import Exponential, Fixed
from cartsim.pathway.cancer import (
    cancer_transition,
    t_cell_transitions,
)
from cartsim.pathway.car_t import add_frozen_cancers, add_remission_states, toxicity_chain
from cartsim.pathway.conventional import (
    Values,
    conventional_event_costs,
    conventional_states,
    cost_states,
    frozen_utilities,
    therapy_cost_lines,
)
from cartsim.pathway.costing import CostLine, Includes, Shortfall
from cartsim.pathway.model import (
    Chance,
    Guard,
    Outcome,
    Pathway,
    Recurring,
    Valuation,
)
from cartsim.pathway.mortality import remission_state_mortality

P = "car_t_allogeneic"
T_CELL_PROBABILITY = f"{P}.t_cell_malignancy.probability"


def allogeneic_pathway(d: str, v: Values) -> Pathway:
    """The allogeneic CAR-T strategy for patients with disease ``d``."""
    states = conventional_states(d, v, extra=lambda o: t_cell_transitions(
        v, o, T_CELL_PROBABILITY))
    add_remission_states(
        states, mortality=remission_state_mortality(d, v),
        cancer=cancer_transition(v("cancer.sir_remission"), v, "remission"),
        after=t_cell_transitions(v, "remission", T_CELL_PROBABILITY),
        aplasia=Fixed(v(f"{P}.aplasia.time")), relapse=Exponential(v(f"{P}.relapse.rate")),
        infections=(Recurring("serious_infection", v("car_t.remission.infections")),))
    add_frozen_cancers(states, v)
    chances = {
        "lymphodepletion": Chance("lymphodepletion", (
            Outcome(v(f"{P}.lymphodepletion"), "lymphodepletion"),), then="infusion"),
        "infusion": Chance("infusion", (Outcome(1.0, "infusion"),), then="crs",
                           origin="infusion"),
        **toxicity_chain("", v, then="gvhd", prefix=P, licats=False),
        "gvhd": Chance("gvhd", (Outcome(v(f"{P}.gvhd"), "gvhd"),), then="ivig"),
        "ivig": Chance("ivig", (Outcome(v("car_t.ivig.probability"), "ig_replacement",
                                        to="aplasia_ivig"),), then="aplasia"),
        "response": Chance("response", (Outcome(v(f"{P}.response"), "response",
                                                to="remission"),), then="no_response"),
        "no_response": Chance("no_response", (Outcome(1.0, "no_response"),), then="active"),
        "retreatment": Chance("retreatment", (
            Outcome(v(f"{P}.retreatment.probability"), "retreatment", to="reinfusion"),),
            then="active", guard=Guard(otherwise="active",
                                       max_age=v(f"{P}.retreatment.max_age"))),
        "reinfusion": Chance("reinfusion", (Outcome(1.0, "reinfusion"),),
                             then="crs_retreatment", origin="reinfusion"),
        **toxicity_chain("_retreatment", v, then="retreatment_response", prefix=P,
                         licats=False),
        "retreatment_response": Chance("retreatment_response", (
            Outcome(v(f"{P}.retreatment.response"), "response_retreatment",
                    to="remission_2"),), then="active"),
    }
    return Pathway(strategy=P, start="lymphodepletion", states=states, chances=chances)


def allogeneic_valuation(d: str, v: Values, pathway: Pathway, includes: Includes
                         ) -> tuple[Valuation, list[Shortfall]]:
    """Costs and utilities: the autologous pathway's for the shared states, the
    allogeneic product, episode, lymphodepletion and GvHD for its own events."""
    events = conventional_event_costs(v)
    episode = v(f"costs.{P}.episode")
    product = v(f"costs.{P}.product")
    events.update({
        "lymphodepletion": {"infusion_episode": v(f"costs.{P}.lymphodepletion")},
        "infusion": {"product": product, "infusion_episode": episode},
        "reinfusion": {"retreatment_product": product, "infusion_episode": episode},
        **{f"crs_grade_{g}": {"adverse_events": v(f"costs.crs.grade_{g}")} for g in (1, 2, 3)},
        "icans_grade_1_2": {"adverse_events": v("costs.icans.grade_1_2")},
        "icans_grade_3_4": {"adverse_events": v("costs.icans.grade_3_4")},
        "gvhd": {"adverse_events": v(f"costs.{P}.gvhd")},
        "t_cell_malignancy": {"cancer_care": v("costs.t_cell_malignancy.initial")},
    })
    lines = therapy_cost_lines(d, v)
    monitoring = CostLine("monitoring", "costs.car_t.monitoring", v("costs.car_t.monitoring"))
    for name in ("aplasia", "remission", "remission_2"):
        lines[name] = (monitoring,)
    lines["aplasia_ivig"] = (monitoring, CostLine("immunoglobulin", "costs.ivig", v("costs.ivig")))
    costs, short = cost_states(
        pathway.states, lines, includes, events,
        {"cancer": {"cancer_care": v("costs.cancer.annual")},
         "t_cell_malignancy": {"cancer_care": v("costs.t_cell_malignancy.annual")}})
    utility = {"active": v(f"utilities.{d}.active"),
               "low_activity": v(f"utilities.{d}.low_activity"),
               "aplasia": v(f"utilities.{d}.low_activity"),
               "aplasia_ivig": v(f"utilities.{d}.low_activity"),
               "remission": v(f"utilities.{d}.remission"),
               "remission_2": v(f"utilities.{d}.remission")}
    utility = frozen_utilities(pathway.states, utility,
                               {"cancer": v("utilities.cancer"),
                                "t_cell_malignancy": v("utilities.t_cell_malignancy")})
    procedure = v(f"qaly_loss.{P}.procedure")
    loss = {f"flare_{s}": v(f"qaly_loss.flare.{s}") for s in ("mild", "moderate", "severe")}
    loss.update({
        "serious_infection": v("qaly_loss.infection"),
        "lymphodepletion": v(f"qaly_loss.{P}.lymphodepletion"),
        "infusion": procedure, "reinfusion": procedure,
        **{f"crs_grade_{g}": v(f"qaly_loss.crs.grade_{g}") for g in (1, 2, 3)},
        "icans_grade_1_2": v("qaly_loss.icans.grade_1_2"),
        "icans_grade_3_4": v("qaly_loss.icans.grade_3_4"),
        "gvhd": v(f"qaly_loss.{P}.gvhd"),
    })
    return Valuation(state_costs=costs, state_utility=utility, event_costs=events,
                     event_qaly_loss=loss), short
