"""Single-infusion CD19 CAR-T: the intervention pathway, built from the vocabulary.

Path of a patient (per disease ``d``)::

    manufacturing (bridging on conventional therapy, vein-to-vein time)
      -> manufacturing_result: failure -> active (conventional therapy)
      -> infusion [origin "infusion"; product + episode cost]
      -> crs (grade 1 / 2 / >=3) -> icans (1-2 / 3-4) -> licats (grade 1 / 2 / 3)
      -> early_infection -> treatment_death (-> dead)
      -> ivig (some patients get Ig replacement)
      -> aplasia | aplasia_ivig (B-cell aplasia)
      -> response: yes -> remission (drug-free), no -> active
    remission --relapse--> retreatment: yes -> re-infusion [origin "reinfusion"; the
                           re-treatment product charge + episode]
                                   -> same toxicities -> retreatment_response
                                   -> remission_2 (relapse -> active) | active
                            no  -> active

CAR-T-associated T-cell malignancy has a per-infusion probability and an onset
time on the "infusion" clock (and on "reinfusion" after a second infusion),
declared in every state after infusion (:mod:`cartsim.pathway.cancer`); it leads
to the T-cell malignancy state of the patient's disease activity. Other second
cancers add an excess rate to the cancer transition after infusion. Relapse has
a user-chosen shape. Mortality after CAR-T keeps a share of the disease's excess
(:mod:`cartsim.pathway.mortality`); costs follow :mod:`cartsim.pathway.costing`.
LICATS (local immune effector cell-associated toxicity syndrome, Hagen 2025) is
recorded once per infusion by worst grade, as CRS is.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from cartsim.params.survival import Exponential, Fixed, Never, SurvivalModel, Weibull
from cartsim.params.survival_shapes import CureMixture, LinearRamp
from cartsim.pathway.cancer import (
    ORIGINS,
    cancer_state_name,
    cancer_transition,
    frozen_state,
    origin_key,
    t_cell_transitions,
)
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
    Mortality,
    Outcome,
    Pathway,
    Recurring,
    State,
    Transition,
    Valuation,
)
from cartsim.pathway.mortality import remission_state_mortality
from cartsim.vocabulary import DEAD

REMISSION_STATES = ("aplasia", "aplasia_ivig", "remission", "remission_2")
LICATS_GRADES = (1, 2, 3)


def relapse_time(v: Values, model: str) -> SurvivalModel:
    """Time from drug-free remission to relapse, in the shape the user chose."""
    rate = v("car_t.relapse.rate")
    if model == "none":
        return Never()
    if model == "constant":
        return Exponential(rate)
    if model == "weibull":
        return Weibull(shape=v("car_t.relapse.shape"), scale=v("car_t.relapse.scale"))
    if model == "cure_fraction":
        return CureMixture(cure_fraction=v("car_t.relapse.cure_fraction"), base=Exponential(rate))
    if model == "waning":
        return LinearRamp(rate=rate, ramp=v("car_t.relapse.ramp"))
    msg = f"unknown relapse model {model!r}"
    raise ValueError(msg)


def toxicity_chain(suffix: str, v: Values, then: str, prefix: str = "car_t",
                   licats: bool = True) -> dict[str, Chance]:
    """Acute toxicity after an infusion: CRS, ICANS, LICATS, early infection, death.

    The probabilities are ``<prefix>.crs.grade_1`` etc.; the node names (the random
    numbers' purposes) are the same for every product, so CAR-T products compared on one
    cohort draw each patient's toxicities from the same numbers. ``licats`` False leaves
    LICATS out (reported for autologous CD19 CAR-T only)."""
    n = {k: f"{k}{suffix}" for k in ("crs", "icans", "licats", "early_infection",
                                     "treatment_death")}
    after_icans = n["licats"] if licats else n["early_infection"]
    chain = {
        n["crs"]: Chance(n["crs"], tuple(
            Outcome(v(f"{prefix}.crs.grade_{g}"), f"crs_grade_{g}") for g in (1, 2, 3)
        ), then=n["icans"]),
        n["icans"]: Chance(n["icans"], (
            Outcome(v(f"{prefix}.icans.grade_1_2"), "icans_grade_1_2"),
            Outcome(v(f"{prefix}.icans.grade_3_4"), "icans_grade_3_4"),
        ), then=after_icans),
    }
    if licats:
        chain[n["licats"]] = Chance(n["licats"], tuple(
            Outcome(v(f"{prefix}.licats.grade_{g}"), f"licats_grade_{g}") for g in LICATS_GRADES
        ), then=n["early_infection"])
    chain[n["early_infection"]] = Chance(n["early_infection"], (
        Outcome(v(f"{prefix}.early_infection"), "serious_infection"),
    ), then=n["treatment_death"])
    chain[n["treatment_death"]] = Chance(n["treatment_death"], (
        Outcome(v(f"{prefix}.treatment_death"), "treatment_related_death", to=DEAD),
    ), then=then)
    return chain


def _after_infusion(v: Values, origin: str) -> tuple[Transition, ...]:
    """Transitions every state after an infusion has: CAR-T-associated T-cell
    malignancy and other second cancers (to the cancer state of ``origin``)."""
    second = Transition("second_cancer", cancer_state_name("cancer", origin),
                        Exponential(v("car_t.second_cancer.excess_rate")),
                        event="second_cancer")
    return (*t_cell_transitions(v, origin), second)


# Life after an infusion, shared with the allogeneic CAR-T pathway (and, for its
# cancer state, the T-cell engager's): written once, in the order the pathways list
# their states (the order of a plan's states and of a log's sojourns).

def add_remission_states(states: MutableMapping[str, State], *, mortality: Mortality,
                         cancer: Transition, after: tuple[Transition, ...],
                         aplasia: SurvivalModel, relapse: SurvivalModel,
                         infections: tuple[Recurring, ...],
                         aplasia_infections: tuple[Recurring, ...] = ()) -> None:
    """Add ``aplasia`` and ``aplasia_ivig`` (B-cell recovery after ``aplasia`` to the
    response), ``remission`` (relapse to re-treatment) and ``remission_2`` (relapse
    to active disease), each with the remission ``mortality``, the ``cancer``
    transition and the transitions ``after`` the infusion."""
    for name in ("aplasia", "aplasia_ivig"):
        states[name] = State(
            name=name, mortality=mortality,
            transitions=(Transition(f"{name}_end", "response", aplasia, event="b_cell_recovery"),
                         cancer, *after),
            recurring=aplasia_infections)
    states["remission"] = State(
        name="remission", mortality=mortality, remission=True, recurring=infections,
        transitions=(Transition("relapse", "retreatment", relapse), cancer, *after))
    states["remission_2"] = State(
        name="remission_2", mortality=mortality, remission=True, recurring=infections,
        transitions=(Transition("relapse_2", "active", relapse, event="relapse"), cancer,
                     *after))


def add_frozen_cancers(states: MutableMapping[str, State], v: Values, *,
                       t_cell: bool = True) -> None:
    """Add the cancer state frozen from ``remission`` and, with ``t_cell``, the T-cell
    malignancy frozen from each disease activity (values read only where used, so a
    pathway without T-cell malignancy does not depend on its parameters)."""
    states["cancer_remission"] = frozen_state("cancer", states["remission"],
                                              v("cancer.excess_mortality"), "cancer")
    if not t_cell:
        return
    t_excess = v("car_t.t_cell_malignancy.excess_mortality")
    for origin in ORIGINS:
        frozen = frozen_state("t_cell_malignancy", states[origin], t_excess,
                              "t_cell_malignancy")
        states[frozen.name] = frozen


def car_t_pathway(d: str, v: Values, relapse_model: str) -> Pathway:
    """The CAR-T strategy for patients with disease ``d``."""
    states = conventional_states(d, v, extra=lambda o: _after_infusion(v, o))
    bridging = states["active"]
    states["manufacturing"] = State(
        name="manufacturing", mortality=bridging.mortality, recurring=bridging.recurring,
        transitions=(
            Transition("manufacturing", "manufacturing_result",
                       Fixed(v("car_t.manufacturing.time")), event="apheresis"),
            cancer_transition(v(f"cancer.sir.{d}"), v, "active"),
        ),
    )
    mortality = remission_state_mortality(d, v)
    cancer = cancer_transition(v("cancer.sir_remission"), v, "remission")
    after = _after_infusion(v, "remission")
    infections = (Recurring("serious_infection", v("car_t.remission.infections")),)
    relapse = relapse_time(v, relapse_model)
    add_remission_states(
        states, mortality=mortality, cancer=cancer, after=after,
        aplasia=Fixed(v("car_t.aplasia.time")), relapse=relapse, infections=infections,
        aplasia_infections=(Recurring("serious_infection", v("car_t.aplasia.infections")),))
    add_frozen_cancers(states, v)
    chances = {
        "manufacturing_result": Chance("manufacturing_result", (
            Outcome(v("car_t.manufacturing.failure"), "manufacturing_failure", to="active"),
        ), then="infusion"),
        "infusion": Chance("infusion", (Outcome(1.0, "infusion"),), then="crs",
                           origin="infusion"),
        **toxicity_chain("", v, then="ivig"),
        "ivig": Chance("ivig", (Outcome(v("car_t.ivig.probability"), "ig_replacement",
                                        to="aplasia_ivig"),), then="aplasia"),
        "response": Chance("response", (
            Outcome(v(f"car_t.response.{d}"), "response", to="remission"),
        ), then="no_response"),
        "no_response": Chance("no_response", (Outcome(1.0, "no_response"),), then="active"),
        "retreatment": retreatment_chance(v),
        "reinfusion": Chance("reinfusion", (Outcome(1.0, "reinfusion"),), then="crs_retreatment",
                             origin="reinfusion"),
        **toxicity_chain("_retreatment", v, then="retreatment_response"),
        "retreatment_response": Chance("retreatment_response", (
            Outcome(v("car_t.retreatment.response"), "response_retreatment", to="remission_2"),
        ), then="active"),
    }
    return Pathway(strategy="car_t", start="manufacturing", states=states, chances=chances)


def retreatment_chance(v: Values) -> Chance:
    """Re-infusion on relapse as an explicit policy: only up to a maximum age and within a
    window after the FIRST infusion (the origin "infusion" is set once); outside them the
    patient returns to conventional therapy at once, and no number is drawn."""
    guard = Guard(otherwise="active", max_age=v("car_t.retreatment.max_age"),
                  clock="infusion", within=v("car_t.retreatment.window"))
    return Chance("retreatment", (
        Outcome(v("car_t.retreatment.probability"), "retreatment", to="reinfusion"),
    ), then="active", guard=guard)


def car_t_cost_lines(d: str, v: Values) -> dict[str, tuple[CostLine, ...]]:
    lines = therapy_cost_lines(d, v)
    lines["manufacturing"] = lines["active"]
    monitoring = CostLine("monitoring", "costs.car_t.monitoring", v("costs.car_t.monitoring"))
    for name in ("aplasia", "remission", "remission_2"):
        lines[name] = (monitoring,)
    lines["aplasia_ivig"] = (monitoring, CostLine("immunoglobulin", "costs.ivig", v("costs.ivig")))
    return lines


def car_t_valuation(d: str, v: Values, pathway: Pathway, includes: Includes
                    ) -> tuple[Valuation, list[Shortfall]]:
    events = conventional_event_costs(v)
    episode = v("costs.car_t.episode")
    events.update({
        "infusion": {"product": v("costs.car_t.product"), "infusion_episode": episode},
        "reinfusion": {"retreatment_product": v("costs.car_t.retreatment_product"),
                       "infusion_episode": episode},
        **{f"crs_grade_{g}": {"adverse_events": v(f"costs.crs.grade_{g}")} for g in (1, 2, 3)},
        "icans_grade_1_2": {"adverse_events": v("costs.icans.grade_1_2")},
        "icans_grade_3_4": {"adverse_events": v("costs.icans.grade_3_4")},
        **{f"licats_grade_{g}": {"adverse_events": v(f"costs.licats.grade_{g}")}
           for g in LICATS_GRADES},
        "t_cell_malignancy": {"cancer_care": v("costs.t_cell_malignancy.initial")},
        "second_cancer": {"cancer_care": v("costs.cancer.initial")},
    })
    costs, short = cost_states(
        pathway.states, car_t_cost_lines(d, v), includes, events,
        {"cancer": {"cancer_care": v("costs.cancer.annual")},
         "t_cell_malignancy": {"cancer_care": v("costs.t_cell_malignancy.annual")}})
    utility = {"active": v(f"utilities.{d}.active"), "manufacturing": v(f"utilities.{d}.active"),
               "low_activity": v(f"utilities.{d}.low_activity")}
    for name in ("aplasia", "aplasia_ivig"):
        utility[name] = v(f"utilities.{d}.low_activity")
    for name in ("remission", "remission_2"):
        utility[name] = v(f"utilities.{d}.remission")
    utility = frozen_utilities(pathway.states, utility,
                               {"cancer": v("utilities.cancer"),
                                "t_cell_malignancy": v("utilities.t_cell_malignancy")})
    loss = {f"flare_{s}": v(f"qaly_loss.flare.{s}") for s in ("mild", "moderate", "severe")}
    loss.update({
        "serious_infection": v("qaly_loss.infection"),
        "infusion": v("qaly_loss.car_t.procedure"), "reinfusion": v("qaly_loss.car_t.procedure"),
        **{f"crs_grade_{g}": v(f"qaly_loss.crs.grade_{g}") for g in (1, 2, 3)},
        "icans_grade_1_2": v("qaly_loss.icans.grade_1_2"),
        "icans_grade_3_4": v("qaly_loss.icans.grade_3_4"),
        **{f"licats_grade_{g}": v(f"qaly_loss.licats.grade_{g}") for g in LICATS_GRADES},
    })
    return Valuation(state_costs=costs, state_utility=utility, event_costs=events,
                     event_qaly_loss=loss), short


__all__ = ["REMISSION_STATES", "car_t_pathway", "car_t_valuation", "origin_key",
           "relapse_time", "toxicity_chain"]
