"""Single-infusion CD19 CAR-T: the intervention pathway, built from the vocabulary.

Path of a patient (per disease ``d``)::

    manufacturing (bridging on conventional therapy, vein-to-vein time)
      -> manufacturing_result: failure -> active (conventional therapy)
      -> infusion [origin "infusion"; product + episode cost]
      -> crs (grade 1 / 2 / >=3) -> icans (1-2 / 3-4) -> early_infection
      -> treatment_death (-> dead) -> ivig (some patients get Ig replacement)
      -> aplasia | aplasia_ivig (B-cell aplasia, its own infection rate)
      -> response: yes -> remission (drug-free), no -> active
    remission --relapse--> retreatment: yes -> re-infusion [origin "reinfusion"]
                                   -> same toxicities -> retreatment_response
                                   -> remission_2 (relapse -> active) | active
                            no  -> active

CAR-T-associated T-cell malignancy is a Window(p, years) time on the
"infusion" clock (and on "reinfusion" after a second infusion), declared in
every state after infusion. Other second cancers add an excess rate to the
cancer transition after infusion. Relapse has a user-chosen shape.
"""

from __future__ import annotations

from cartsim.params.survival import Exponential, Fixed, Never, SurvivalModel, Weibull
from cartsim.params.survival_shapes import CureMixture, LinearRamp, Window
from cartsim.pathway.conventional import (
    Values,
    cancer_transition,
    conventional_states,
    conventional_valuation,
)
from cartsim.pathway.model import (
    Chance,
    Mortality,
    Outcome,
    Pathway,
    Recurring,
    State,
    Transition,
    Valuation,
)
from cartsim.vocabulary import DEAD

POST_INFUSION = ("aplasia", "aplasia_ivig", "remission", "remission_2", "active", "low_activity")


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


def _toxicity_chain(suffix: str, v: Values, then: str) -> dict[str, Chance]:
    """Acute toxicity after an infusion: CRS, ICANS, early infection, treatment death."""
    n = {k: f"{k}{suffix}" for k in ("crs", "icans", "early_infection", "treatment_death")}
    return {
        n["crs"]: Chance(n["crs"], tuple(
            Outcome(v(f"car_t.crs.grade_{g}"), f"crs_grade_{g}") for g in (1, 2, 3)
        ), then=n["icans"]),
        n["icans"]: Chance(n["icans"], (
            Outcome(v("car_t.icans.grade_1_2"), "icans_grade_1_2"),
            Outcome(v("car_t.icans.grade_3_4"), "icans_grade_3_4"),
        ), then=n["early_infection"]),
        n["early_infection"]: Chance(n["early_infection"], (
            Outcome(v("car_t.early_infection"), "serious_infection"),
        ), then=n["treatment_death"]),
        n["treatment_death"]: Chance(n["treatment_death"], (
            Outcome(v("car_t.treatment_death"), "treatment_related_death", to=DEAD),
        ), then=then),
    }


def car_t_pathway(d: str, v: Values, relapse_model: str) -> Pathway:
    """The CAR-T strategy for patients with disease ``d``."""
    malignancy = Window(probability=v("car_t.t_cell_malignancy.probability"),
                        window=v("car_t.t_cell_malignancy.window"))
    t_cell = (
        Transition("t_cell_malignancy", "t_cell_malignancy", malignancy, clock="infusion"),
        Transition("t_cell_malignancy_retreatment", "t_cell_malignancy", malignancy,
                   clock="reinfusion", event="t_cell_malignancy"),
    )
    second = Transition("second_cancer", "cancer", Exponential(v("car_t.second_cancer.excess_rate")),
                        event="second_cancer")
    states = conventional_states(d, v, extra=(*t_cell, second))
    bridging = states["active"]
    states["manufacturing"] = State(
        name="manufacturing", mortality=bridging.mortality, recurring=bridging.recurring,
        transitions=(
            Transition("manufacturing", "manufacturing_result",
                       Fixed(v("car_t.manufacturing.time")), event="apheresis"),
            cancer_transition(v("cancer.background_rate") * v(f"cancer.sir.{d}")),
        ),
    )
    remission_mortality = Mortality(life_table_ratio=v("mortality.remission_ratio"))
    remission_cancer = cancer_transition(v("cancer.background_rate") * v("cancer.sir_remission"))
    infections = Recurring("serious_infection", v("car_t.remission.infections"))
    relapse = relapse_time(v, relapse_model)
    for name in ("aplasia", "aplasia_ivig"):
        states[name] = State(
            name=name, mortality=remission_mortality,
            transitions=(Transition(f"{name}_end", "response", Fixed(v("car_t.aplasia.time")),
                                    event="b_cell_recovery"),
                         remission_cancer, *t_cell, second),
            recurring=(Recurring("serious_infection", v("car_t.aplasia.infections")),),
        )
    states["remission"] = State(
        name="remission", mortality=remission_mortality, remission=True,
        transitions=(Transition("relapse", "retreatment", relapse),
                     remission_cancer, *t_cell, second),
        recurring=(infections,),
    )
    states["remission_2"] = State(
        name="remission_2", mortality=remission_mortality, remission=True,
        transitions=(Transition("relapse_2", "active", relapse, event="relapse"),
                     remission_cancer, *t_cell, second),
        recurring=(infections,),
    )
    states["t_cell_malignancy"] = State(
        name="t_cell_malignancy",
        mortality=Mortality(life_table_ratio=v("mortality.remission_ratio"),
                            excess_rate=v("car_t.t_cell_malignancy.excess_mortality"),
                            excess_cause="t_cell_malignancy"),
    )
    chances = {
        "manufacturing_result": Chance("manufacturing_result", (
            Outcome(v("car_t.manufacturing.failure"), "manufacturing_failure", to="active"),
        ), then="infusion"),
        "infusion": Chance("infusion", (Outcome(1.0, "infusion"),), then="crs",
                           origin="infusion"),
        **_toxicity_chain("", v, then="ivig"),
        "ivig": Chance("ivig", (Outcome(v("car_t.ivig.probability"), "ig_replacement",
                                        to="aplasia_ivig"),), then="aplasia"),
        "response": Chance("response", (
            Outcome(v(f"car_t.response.{d}"), "response", to="remission"),
        ), then="no_response"),
        "no_response": Chance("no_response", (Outcome(1.0, "no_response"),), then="active"),
        "retreatment": Chance("retreatment", (
            Outcome(v("car_t.retreatment.probability"), "retreatment", to="reinfusion"),
        ), then="active"),
        "reinfusion": Chance("reinfusion", (Outcome(1.0, "reinfusion"),), then="crs_retreatment",
                             origin="reinfusion"),
        **_toxicity_chain("_retreatment", v, then="retreatment_response"),
        "retreatment_response": Chance("retreatment_response", (
            Outcome(v("car_t.retreatment.response"), "response_retreatment", to="remission_2"),
        ), then="active"),
    }
    return Pathway(strategy="car_t", start="manufacturing", states=states, chances=chances)


def car_t_valuation(d: str, v: Values) -> Valuation:
    base = conventional_valuation(d, v)
    costs = dict(base.state_costs)
    utility = dict(base.state_utility)
    monitoring = {"monitoring": v("costs.car_t.monitoring")}
    costs["manufacturing"] = base.state_costs["active"]
    utility["manufacturing"] = base.state_utility["active"]
    for name in ("aplasia", "remission", "remission_2"):
        costs[name] = monitoring
    costs["aplasia_ivig"] = {**monitoring, "immunoglobulin": v("costs.ivig")}
    costs["t_cell_malignancy"] = {**monitoring,
                                  "cancer_care": v("costs.t_cell_malignancy.annual")}
    for name in ("aplasia", "aplasia_ivig"):
        utility[name] = v(f"utilities.{d}.low_activity")
    for name in ("remission", "remission_2"):
        utility[name] = v(f"utilities.{d}.remission")
    utility["t_cell_malignancy"] = v("utilities.t_cell_malignancy")
    product = {"product": v("costs.car_t.product"), "infusion_episode": v("costs.car_t.episode")}
    events = dict(base.event_costs)
    events.update({
        "infusion": product, "reinfusion": product,
        "crs_grade_1": {"adverse_events": v("costs.crs.grade_1")},
        "crs_grade_2": {"adverse_events": v("costs.crs.grade_2")},
        "crs_grade_3": {"adverse_events": v("costs.crs.grade_3")},
        "icans_grade_1_2": {"adverse_events": v("costs.icans.grade_1_2")},
        "icans_grade_3_4": {"adverse_events": v("costs.icans.grade_3_4")},
        "t_cell_malignancy": {"cancer_care": v("costs.t_cell_malignancy.initial")},
        "second_cancer": {"cancer_care": v("costs.cancer.initial")},
    })
    loss = dict(base.event_qaly_loss)
    loss.update({
        "infusion": v("qaly_loss.car_t.procedure"), "reinfusion": v("qaly_loss.car_t.procedure"),
        "crs_grade_1": v("qaly_loss.crs.grade_1"), "crs_grade_2": v("qaly_loss.crs.grade_2"),
        "crs_grade_3": v("qaly_loss.crs.grade_3"),
        "icans_grade_1_2": v("qaly_loss.icans.grade_1_2"),
        "icans_grade_3_4": v("qaly_loss.icans.grade_3_4"),
    })
    return Valuation(state_costs=costs, state_utility=utility, event_costs=events,
                     event_qaly_loss=loss)
