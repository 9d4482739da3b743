"""Autologous haematopoietic stem-cell transplantation (AHSCT) in systemic sclerosis.

Path of a patient (SSc only)::

    eligibility [older than ahsct.max_age: conventional therapy, nothing drawn;
                 ahsct.ineligible refused on organ criteria]
      -> mobilisation (stem-cell mobilisation and collection, on conventional therapy)
      -> transplant [origin "transplant"; conditioning, transplant admission and the
                     first year's follow-up as one cost]
      -> ahsct_recovery (the transplant year) -> remission (drug-free, event-free)
    recovery | remission --relapse (loss of benefit)--> active (conventional therapy)

Two time-varying hazards carry the trials' shape (SCOT, Sullivan 2018; ASTIS,
van Laar 2014), whose survival curves cross at about two years:

* transplant-related death, front-loaded: a one-off probability ``ahsct.trm``
  with an exponential onset of median ``ahsct.trm_onset_median`` on the
  transplant clock, declared in every state after the transplant (it fires in
  conventional therapy too, for a patient who lost the benefit within months);
* afterwards the SSc mortality ratio times ASTIS's time-varying hazard ratios
  for overall survival, by year since transplant, as a ``ratio_schedule``:
  1 in the transplant year (its excess is the transplant-related death above),
  ``ahsct.mortality_hr.year_2`` in year 2 and ``ahsct.mortality_hr.late`` from
  year 3, never below the general population's mortality (ratio 1).

Loss of benefit (event-free survival net of death: SCOT) returns the patient to
the conventional states, described as in every other arm.
"""

from __future__ import annotations

import math

from cartsim.params.survival import Exponential, Fixed, Never, SurvivalModel
from cartsim.params.survival_shapes import CureMixture
from cartsim.pathway.cancer import cancer_transition, frozen_state
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
from cartsim.pathway.mortality import DiseaseRatio, disease_ratio
from cartsim.vocabulary import DEAD

D = "ssc"
TRANSPLANT_YEAR = 1.0
"""Years the recovery state lasts, and the first break of the hazard-ratio schedule."""


def trm_onset(v: Values) -> SurvivalModel:
    """Time from transplant to a transplant-related death: with probability ``ahsct.trm``,
    exponential with median ``ahsct.trm_onset_median`` (front-loaded); else never."""
    p = v("ahsct.trm")
    if p <= 0.0:
        return Never()
    rate = math.log(2.0) / v("ahsct.trm_onset_median")
    return CureMixture(cure_fraction=1.0 - p, base=Exponential(rate))


def transplant_mortality(ratio: DiseaseRatio, transplant_at: float, hr_year_2: float,
                         hr_late: float) -> Mortality:
    """Mortality after a transplant at model time ``transplant_at``: the disease ratio
    (with its own change, if any) times the hazard ratio in force, floored at
    min(disease ratio, 1) so that a transplant never takes mortality below the general
    population's.

    >>> m = transplant_mortality(DiseaseRatio(4.0, 4.0, None), 0.5, 0.5, 0.2)
    >>> m.life_table_ratio, m.ratio_schedule
    (4.0, ((1.5, 2.0), (2.5, 1.0)))
    """
    def disease_at(t: float) -> float:
        return ratio.late if ratio.change_at is not None and t >= ratio.change_at else \
            ratio.at_entry

    def hr_at(t: float) -> float:
        since = t - transplant_at
        return hr_late if since >= 2 * TRANSPLANT_YEAR else \
            hr_year_2 if since >= TRANSPLANT_YEAR else 1.0

    def at(t: float) -> float:
        d = disease_at(t)
        return max(d * hr_at(t), min(d, 1.0))

    breaks = {transplant_at + TRANSPLANT_YEAR, transplant_at + 2 * TRANSPLANT_YEAR}
    if ratio.change_at is not None:
        breaks.add(ratio.change_at)
    schedule = tuple((b, at(b)) for b in sorted(breaks) if b > 0.0)
    return Mortality(life_table_ratio=at(0.0), ratio_schedule=schedule)


def ahsct_pathway(d: str, v: Values) -> Pathway:
    """The AHSCT strategy (``d`` must be SSc: the registry builds it for SSc only)."""
    if d != D:
        msg = f"ahsct is for SSc only; asked to build it for {d!r}"
        raise ValueError(msg)
    trm = Transition("transplant_death", DEAD, trm_onset(v), clock="transplant",
                     event="treatment_related_death")
    states = conventional_states(d, v, extra=lambda _origin: (trm,))
    active = states["active"]
    mobilisation_time = v("ahsct.mobilisation.time")
    states["mobilisation"] = State(
        name="mobilisation", mortality=active.mortality, recurring=active.recurring,
        transitions=(Transition("mobilisation", "transplant", Fixed(mobilisation_time)),
                     cancer_transition(v(f"cancer.sir.{d}"), v, "active")))
    mortality = transplant_mortality(disease_ratio(d, v), mobilisation_time,
                                      v("ahsct.mortality_hr.year_2"),
                                      v("ahsct.mortality_hr.late"))
    # Conditioning chemotherapy (and radiation in SCOT) adds its own cancer risk: the
    # disease's incidence ratio is kept after transplant (no post-AHSCT ratio was found).
    cancer = cancer_transition(v(f"cancer.sir.{d}"), v, "remission")
    relapse = Exponential(v("ahsct.progression.rate"))
    states["ahsct_recovery"] = State(
        name="ahsct_recovery", mortality=mortality,
        recurring=(Recurring("serious_infection", v("ahsct.recovery.infections")),),
        transitions=(Transition("transplant_year", "remission", Fixed(TRANSPLANT_YEAR)),
                     Transition("relapse", "active", relapse), cancer, trm))
    states["remission"] = State(
        name="remission", mortality=mortality, remission=True,
        recurring=(Recurring("serious_infection", v("ahsct.remission.infections")),),
        transitions=(Transition("relapse", "active", relapse), cancer, trm))
    states["cancer_remission"] = frozen_state("cancer", states["remission"],
                                              v("cancer.excess_mortality"), "cancer")
    chances = {
        "ahsct_eligibility": Chance("ahsct_eligibility", (
            Outcome(v("ahsct.ineligible"), "ahsct_ineligible", to="active"),),
            then="mobilisation", guard=Guard(otherwise="active", max_age=v("ahsct.max_age"))),
        "transplant": Chance("transplant", (Outcome(1.0, "transplant"),),
                             then="ahsct_recovery", origin="transplant"),
    }
    return Pathway(strategy="ahsct", start="ahsct_eligibility", states=states,
                   chances=chances)


def ahsct_valuation(d: str, v: Values, pathway: Pathway, includes: Includes
                    ) -> tuple[Valuation, list[Shortfall]]:
    """Conventional costs while mobilising; the transplant (with its first year's
    follow-up) once; follow-up from the second year."""
    events = conventional_event_costs(v)
    events["transplant"] = {"infusion_episode": v("costs.ahsct.transplant")}
    lines = therapy_cost_lines(d, v)
    lines["mobilisation"] = lines["active"]
    lines["ahsct_recovery"] = ()
    lines["remission"] = (CostLine("monitoring", "costs.ahsct.monitoring",
                                   v("costs.ahsct.monitoring")),)
    costs, short = cost_states(pathway.states, lines, includes, events,
                               {"cancer": {"cancer_care": v("costs.cancer.annual")}})
    utility = {"active": v(f"utilities.{d}.active"),
               "mobilisation": v(f"utilities.{d}.active"),
               "low_activity": v(f"utilities.{d}.low_activity"),
               "ahsct_recovery": v(f"utilities.{d}.low_activity"),
               "remission": v(f"utilities.{d}.remission")}
    utility = frozen_utilities(pathway.states, utility, {"cancer": v("utilities.cancer")})
    loss = {f"flare_{s}": v(f"qaly_loss.flare.{s}") for s in ("mild", "moderate", "severe")}
    loss["serious_infection"] = v("qaly_loss.infection")
    loss["transplant"] = v("qaly_loss.ahsct.transplant")
    return Valuation(state_costs=costs, state_utility=utility, event_costs=events,
                     event_qaly_loss=loss), short
