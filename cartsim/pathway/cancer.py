"""Cancers in the clinical pathways, without counting any death twice.

The life table times the disease's all-cause SMR already contains the cancer
deaths of the general population and those of the disease's own excess cancers.
So the model adds only the EXCESS incidence of a first cancer over the general
population:

    hazard(age) = max(SIR - 1, 0) x US first-cancer incidence(age, sex)

(the shipped table :data:`cartsim.params.reference_tables.CANCER_INCIDENCE`), and
after a diagnosis a constant cancer-specific excess hazard (``cancer.excess_mortality``,
from SEER 5-year relative survival) on top of the mortality of the state the
patient came from. The overlap that remains: the disease SMR was measured with
the deaths from its excess cancers included, so those deaths are counted once
in the SMR and again through the cancer state's excess hazard; the README gives
its size. ``cancer_no_excess_mortality.toml`` removes the second count.

One cancer state per state of origin (``cancer_active``, ``cancer_low_activity``,
``cancer_remission``; likewise ``t_cell_malignancy_*``): disease activity is
frozen at diagnosis, so the state keeps the origin's mortality ratio, recurring
events and costs, adds cancer care, and has utility min(origin, cancer).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from cartsim.params.reference_tables import cancer_incidence
from cartsim.params.survival import Exponential, Never, SurvivalModel
from cartsim.params.survival_age import AgeSpecificHazard
from cartsim.params.survival_shapes import CureMixture
from cartsim.pathway.model import Mortality, State, Transition

Values = Callable[[str], float]
ORIGINS = ("active", "low_activity", "remission")
"""Disease states a cancer can freeze: on therapy (active, low activity) or in drug-free
remission after CAR-T (B-cell aplasia counts as remission: off immunosuppression)."""


def cancer_state_name(kind: str, origin: str) -> str:
    """``cancer_active``, ``t_cell_malignancy_remission``, ..."""
    return f"{kind}_{origin}"


def excess_incidence(sir: float, v: Values) -> SurvivalModel:
    """Time to a first cancer at the excess incidence of an SIR over the population: the
    US first-cancer incidence at the patient's age and sex times max(SIR - 1, 0) (an SIR
    at or below 1 adds nothing: the life table already holds the population's cancers)."""
    return AgeSpecificHazard(rates=cancer_incidence(),
                             multiplier=max(sir - 1.0, 0.0) * v("cancer.incidence_scale"))


def cancer_transition(sir: float, v: Values, origin: str) -> Transition:
    return Transition(name="cancer", to=cancer_state_name("cancer", origin),
                      time=excess_incidence(sir, v), event="cancer")


def t_cell_onset(v: Values, probability: str = "car_t.t_cell_malignancy.probability"
                 ) -> SurvivalModel:
    """CAR-T-associated T-cell malignancy after an infusion: with the per-infusion
    probability (the parameter ``probability``: each product has its own), at an
    exponential onset time with the published median (most within 2 years, some up to
    ~5: axi-cel 1.8-58.5 months); else never."""
    p = v(probability)
    if p <= 0.0:
        return Never()
    rate = math.log(2.0) / v("car_t.t_cell_malignancy.onset_median")
    return CureMixture(cure_fraction=1.0 - p, base=Exponential(rate))


def t_cell_transitions(v: Values, origin: str,
                       probability: str = "car_t.t_cell_malignancy.probability"
                       ) -> tuple[Transition, ...]:
    """T-cell malignancy after the first infusion and after a re-infusion, from a
    state of ``origin`` activity."""
    onset = t_cell_onset(v, probability)
    to = cancer_state_name("t_cell_malignancy", origin)
    return (Transition("t_cell_malignancy", to, onset, clock="infusion"),
            Transition("t_cell_malignancy_retreatment", to, onset, clock="reinfusion",
                       event="t_cell_malignancy"))


def frozen_state(kind: str, origin: State, excess_rate: float, cause: str) -> State:
    """The cancer state of ``kind`` entered from ``origin``: its mortality ratio (and
    change over time) plus the cancer's excess hazard, its recurring events."""
    m = origin.mortality
    mortality = Mortality(life_table_ratio=m.life_table_ratio, excess_rate=excess_rate,
                          excess_cause=cause, ratio_schedule=m.ratio_schedule)
    name = cancer_state_name(kind, origin_key(origin.name))
    return State(name=name, mortality=mortality, recurring=origin.recurring,
                 remission=origin.remission)


def origin_key(state: str) -> str:
    """The disease activity a state stands for (remission_2 and aplasia -> remission)."""
    if state in ("active", "low_activity"):
        return state
    if state == "manufacturing":
        return "active"
    return "remission"


def frozen_costs(origin_costs: Mapping[str, float], extra: Mapping[str, float]
                 ) -> dict[str, float]:
    """The origin's yearly costs plus the cancer's, category by category."""
    out = dict(origin_costs)
    for cat, amount in extra.items():
        out[cat] = out.get(cat, 0.0) + amount
    return out
