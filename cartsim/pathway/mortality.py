"""Death hazards of the clinical pathways: one rule for every state.

The disease's all-cause mortality ratio against the general-population life table
(``mortality.<d>.smr``) applies to every patient on conventional therapy, whatever
the activity of the disease: the SMRs are measured in prevalent cohorts that mix
active and low-activity patients, and no SMR by activity exists (PARAMETERS.md
§5.1; remission or low disease activity on therapy did not change mortality in
SLICC, Ugarte-Gil 2017). After CAR-T (B-cell aplasia and drug-free remission) a
share ``f`` = ``mortality.remission_share`` of the disease's excess remains:

    ratio_remission = 1 + f x (ratio_disease - 1)

so f = 1 is "no survival benefit of remission" and f = 0 "general-population
mortality". A cancer state keeps the ratio of the state the patient came from and
adds the cancer's excess hazard (:mod:`cartsim.pathway.cancer`).

Where the evidence shows the disease ratio changing with time since diagnosis
(IIM: Dobloug 2018), ``mortality.<d>.smr_late`` applies from ``late_after`` years
since diagnosis; the cohort entered the model ``mortality.disease_duration`` years
after diagnosis, so the change happens at model time ``late_after - duration``.

The pathway's view of mortality (which hazard applies in which state); the engine's
arithmetic on the life table is :mod:`cartsim.engine.mortality`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cartsim.pathway.model import Mortality

Values = Callable[[str], float]


@dataclass(frozen=True)
class DiseaseRatio:
    """The disease's mortality ratio on the model clock: ``at_entry`` until ``change_at``
    (years since entry), ``late`` from then on (``change_at`` None: no change)."""

    at_entry: float
    late: float
    change_at: float | None

    def scaled(self, share: float) -> DiseaseRatio:
        """The ratio keeping ``share`` of the excess over 1 (both pieces)."""
        def keep(r: float) -> float:
            return 1.0 + share * (r - 1.0)
        return DiseaseRatio(keep(self.at_entry), keep(self.late), self.change_at)


def disease_ratio(d: str, v: Values) -> DiseaseRatio:
    """``mortality.<d>.smr`` at entry, then ``smr_late`` (when > 0) from ``late_after``
    years since diagnosis."""
    smr, late = v(f"mortality.{d}.smr"), v(f"mortality.{d}.smr_late")
    if late <= 0.0 or late == smr:
        return DiseaseRatio(smr, smr, None)
    change = v(f"mortality.{d}.late_after") - v("mortality.disease_duration")
    if change <= 0.0:
        return DiseaseRatio(late, late, None)
    return DiseaseRatio(smr, late, change)


def state_mortality(ratio: DiseaseRatio, excess_rate: float = 0.0,
                    excess_cause: str = "disease") -> Mortality:
    """A state's Mortality: the table times ``ratio`` (with its change over model
    time) plus a constant excess hazard recorded under ``excess_cause``."""
    schedule = () if ratio.change_at is None else ((ratio.change_at, ratio.late),)
    return Mortality(life_table_ratio=ratio.at_entry, excess_rate=excess_rate,
                     excess_cause=excess_cause, ratio_schedule=schedule)


def remission_state_mortality(d: str, v: Values) -> Mortality:
    """Mortality in B-cell aplasia and drug-free remission after a B-cell-depleting therapy
    (CAR-T, allogeneic CAR-T, a T-cell engager): the disease's ratio keeping the share
    ``mortality.remission_share`` of its excess."""
    return state_mortality(disease_ratio(d, v).scaled(v("mortality.remission_share")))
