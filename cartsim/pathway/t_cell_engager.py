"""A bispecific T-cell engager: an inpatient step-up course, repeatable on relapse.

Path of a patient (per disease ``d``), course k = 1 .. MAX_COURSES::

    course k [drug + 5-day step-up admission; no lymphodepletion]
      -> crs -> icans -> early_infection -> treatment_death
      -> aplasia k (B-cell aplasia, ~5 months; immunoglobulin cover for some)
      -> response k: remission k | active (conventional therapy)
    remission k --relapse--> repeat k+1: another course (policy) | active

The repeat policy is explicit: another course with probability
``t_cell_engager.repeat.probability`` while the patient has had fewer than
``t_cell_engager.repeat.max_courses`` courses and is no older than
``t_cell_engager.repeat.max_age``; otherwise conventional therapy, and no
number is drawn. The pathway holds MAX_COURSES courses; those beyond the
policy's limit are never entered (their repeat probability is 0).

Immunoglobulin cover: a share of patients receives replacement during aplasia;
as costs are linear, the aplasia state is charged that share of the yearly
immunoglobulin cost (the mean is exact; no per-patient event is recorded).
Serious infections of the course and its aplasia are one probability per
course (as the first-year infections of CAR-T). Drug-free remission, its
mortality, infections and monitoring, and life after failure are described as
for CAR-T, and the first course's nodes share CAR-T's names (``crs``,
``response``, ``relapse``): common random numbers by purpose.
"""

from __future__ import annotations

from cartsim.params.survival import Exponential, Fixed
from cartsim.pathway.cancer import cancer_transition
from cartsim.pathway.car_t import add_frozen_cancers
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
    State,
    Transition,
    Valuation,
)
from cartsim.pathway.mortality import remission_state_mortality
from cartsim.scenario.strategy_params import MAX_COURSES
from cartsim.vocabulary import DEAD

P = "t_cell_engager"
COURSE_EVENTS = ("tce_course", "tce_repeat_course")
"""Events of a first course and of every repeat course."""


def _suffix(k: int) -> str:
    return "" if k == 1 else f"_{k}"


def course_node(k: int) -> str:
    """The chance node that starts course ``k``."""
    return "tce_course" if k == 1 else f"tce_course_{k}"


def _course(k: int, v: Values) -> dict[str, Chance]:
    """Course k's start and acute toxicity; the first course's nodes carry CAR-T's names."""
    n = {x: f"{x}{'' if k == 1 else f'_course_{k}'}"
         for x in ("crs", "icans", "early_infection", "treatment_death")}
    return {
        course_node(k): Chance(course_node(k), (
            Outcome(1.0, COURSE_EVENTS[k > 1]),), then=n["crs"]),
        n["crs"]: Chance(n["crs"], tuple(
            Outcome(v(f"{P}.crs.grade_{g}"), f"crs_grade_{g}") for g in (1, 2, 3)),
            then=n["icans"]),
        n["icans"]: Chance(n["icans"], (Outcome(v(f"{P}.icans"), "icans_grade_1_2"),),
                           then=n["early_infection"]),
        n["early_infection"]: Chance(n["early_infection"], (
            Outcome(v(f"{P}.early_infection"), "serious_infection"),), then=n["treatment_death"]),
        n["treatment_death"]: Chance(n["treatment_death"], (
            Outcome(v(f"{P}.treatment_death"), "treatment_related_death", to=DEAD),),
            then=f"aplasia{_suffix(k)}"),
    }


def repeat_probability(k: int, v: Values) -> float:
    """Probability that a relapse from remission k - 1 starts course k (0 past the policy)."""
    return v(f"{P}.repeat.probability") if k <= v(f"{P}.repeat.max_courses") else 0.0


def tce_pathway(d: str, v: Values) -> Pathway:
    """The T-cell engager strategy for patients with disease ``d``."""
    states = conventional_states(d, v)
    mortality = remission_state_mortality(d, v)
    cancer = cancer_transition(v("cancer.sir_remission"), v, "remission")
    aplasia = Fixed(v(f"{P}.aplasia.time"))
    relapse = Exponential(v(f"{P}.relapse.rate"))
    infections = (Recurring("serious_infection", v("car_t.remission.infections")),)
    chances: dict[str, Chance] = {}
    for k in range(1, MAX_COURSES + 1):
        sfx = _suffix(k)
        response = "response" if k == 1 else f"response_course_{k}"
        after_relapse = f"tce_repeat_{k + 1}" if k < MAX_COURSES else "active"
        states[f"aplasia{sfx}"] = State(
            name=f"aplasia{sfx}", mortality=mortality, transitions=(
                Transition(f"aplasia{sfx}_end", response, aplasia, event="b_cell_recovery"),
                cancer))
        states[f"remission{sfx}"] = State(
            name=f"remission{sfx}", mortality=mortality, remission=True, recurring=infections,
            transitions=(Transition("relapse" if k == 1 else f"relapse_course_{k}",
                                    after_relapse, relapse, event="relapse"), cancer))
        chances.update(_course(k, v))
        p = v(f"{P}.response") if k == 1 else v(f"{P}.repeat.response")
        chances[response] = Chance(response, (
            Outcome(p, "response" if k == 1 else "response_retreatment",
                    to=f"remission{sfx}"),), then="no_response")
        if k > 1:
            chances[f"tce_repeat_{k}"] = Chance(f"tce_repeat_{k}", (
                Outcome(repeat_probability(k, v), "retreatment", to=course_node(k)),),
                then="active", guard=Guard(otherwise="active",
                                           max_age=v(f"{P}.repeat.max_age")))
    chances["no_response"] = Chance("no_response", (Outcome(1.0, "no_response"),),
                                    then="active")
    add_frozen_cancers(states, v, t_cell=False)
    return Pathway(strategy=P, start=course_node(1), states=states, chances=chances)


def tce_valuation(d: str, v: Values, pathway: Pathway, includes: Includes
                  ) -> tuple[Valuation, list[Shortfall]]:
    """Each course's drug (a repeat course's as a re-treatment charge) and admission,
    monitoring and immunoglobulin cover in aplasia, monitoring in remission."""
    events = conventional_event_costs(v)
    drug, admission = v(f"costs.{P}.course_drug"), v(f"costs.{P}.admission")
    events.update({
        "tce_course": {"product": drug, "infusion_episode": admission},
        "tce_repeat_course": {"retreatment_product": drug, "infusion_episode": admission},
        **{f"crs_grade_{g}": {"adverse_events": v(f"costs.crs.grade_{g}")} for g in (1, 2, 3)},
        "icans_grade_1_2": {"adverse_events": v("costs.icans.grade_1_2")},
    })
    monitoring = CostLine("monitoring", "costs.car_t.monitoring", v("costs.car_t.monitoring"))
    cover = CostLine("immunoglobulin", "costs.ivig",
                     v(f"{P}.ivig.probability") * v("costs.ivig"))
    lines = therapy_cost_lines(d, v)
    utility = {"active": v(f"utilities.{d}.active"),
               "low_activity": v(f"utilities.{d}.low_activity")}
    for k in range(1, MAX_COURSES + 1):
        sfx = _suffix(k)
        lines[f"aplasia{sfx}"] = (monitoring, cover)
        lines[f"remission{sfx}"] = (monitoring,)
        utility[f"aplasia{sfx}"] = v(f"utilities.{d}.low_activity")
        utility[f"remission{sfx}"] = v(f"utilities.{d}.remission")
    costs, short = cost_states(pathway.states, lines, includes, events,
                               {"cancer": {"cancer_care": v("costs.cancer.annual")}})
    utility = frozen_utilities(pathway.states, utility, {"cancer": v("utilities.cancer")})
    loss = {f"flare_{s}": v(f"qaly_loss.flare.{s}") for s in ("mild", "moderate", "severe")}
    course = v(f"qaly_loss.{P}.course")
    loss.update({
        "serious_infection": v("qaly_loss.infection"),
        "tce_course": course, "tce_repeat_course": course,
        **{f"crs_grade_{g}": v(f"qaly_loss.crs.grade_{g}") for g in (1, 2, 3)},
        "icans_grade_1_2": v("qaly_loss.icans.grade_1_2"),
    })
    return Valuation(state_costs=costs, state_utility=utility, event_costs=events,
                     event_qaly_loss=loss), short
