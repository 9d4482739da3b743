"""Annual costs of the scenario's cohort against published annual costs: a plausibility check.

A cost fact (``annual_cost``, ``cost_ratio`` in ``cartsim/data/validation_targets.toml``)
is a mean cost per patient-year from claims or a programme, without a standard error
or the patient-level spread, so no predictive interval can be built for it. validate
therefore makes a *plausibility* check instead, which never counts for ``--strict``:
the simulated figure is plausible when it lies within a relative tolerance of the
published one, between value / (1 + tol) and value x (1 + tol); ``tol`` is the fact's
``tolerance`` or ``TOLERANCE``. That band stands for what the sources leave open: a
claims population broader than "refractory" (moderate/severe), unread price years
(2010-2020 data, not inflated), and the cost items each source counts.

* ``annual_cost`` of a strategy and disease: the undiscounted cost of the disease's
  patients in the first ``horizon_years`` years, over their patient-years alive in that
  window, leaving out the model's categories the source excludes (``excludes``, e.g.
  ``drugs`` for costs without pharmacy). Only USD facts are compared (the model's
  reported currency); a EUR figure is shown with that reason.
* ``cost_ratio`` (after / before CAR-T): the CAR-T arm's responders' cost per
  patient-year in years 1 to 1 + ``horizon_years`` (after the infusion year; product and
  infusion episodes excluded, as the source's after-period is) over the conventional
  arm's in the same years, same disease.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cartsim.outcomes.annual import NOTHING, annual_costs
from cartsim.outcomes.follow_up import first_event_time
from cartsim.params.validation_targets import Target
from cartsim.study.result import RunResult
from cartsim.vocabulary import COST_CATEGORIES, THERAPY_CATEGORIES

TOLERANCE = 0.5
"""Default relative tolerance of the plausibility check: within a factor of 1.5 (E)."""
CONVENTIONAL = "immunosuppression"
LEFT_OUT = "_left_out"
"""The group label of patients a cost figure does not count (valued at nothing)."""


@dataclass(frozen=True)
class CostCheck:
    """A simulated cost figure and the band it is plausible in ("" reason when compared)."""

    simulated: float | None
    low: float | None
    high: float | None
    reason: str = ""
    compared_in: str = ""


def tolerance_band(target: Target) -> tuple[float, float]:
    tol = target.tolerance if target.tolerance is not None else TOLERANCE
    return target.value / (1.0 + tol), target.value * (1.0 + tol)


def _per_patient_year(result: RunResult, strategy: str, counted: np.ndarray, start: float,
                      stop: float, excluded: Sequence[str]) -> float | None:
    """Undiscounted cost of the ``counted`` patients in years [start, stop) over their
    patient-years alive in that window (None if nobody is alive in it)."""
    log = result.logs[strategy]
    valuations = {**result.models[strategy].valuations, LEFT_OUT: NOTHING}
    groups = np.where(counted, np.asarray(result.cohort.group, dtype=object), LEFT_OUT)
    kept = [c for c in COST_CATEGORIES if c not in excluded]
    years = int(np.ceil(stop))
    costs = annual_costs(log, valuations, list(groups), 0.0, years,
                         result.scenario.run.cost_factor, mean=False, combine=kept)
    total = float(costs.undiscounted[int(start):years, 0].sum())
    alive = np.clip(np.minimum(log.end_time[counted], stop) - start, 0.0, None)
    exposure = float(alive.sum())
    return total / exposure if exposure > 0 else None


def check_cost(target: Target, result: RunResult) -> CostCheck:
    """One cost fact against the scenario's simulated cohort."""
    group = np.asarray(result.cohort.group)
    disease = group == target.disease if target.disease != "all" else np.ones(group.size, bool)
    if not disease.any():
        return CostCheck(None, None, None, f"the scenario's cohort has no {target.disease} "
                         "patients")
    low, high = tolerance_band(target)
    excluded = target.excludes
    if target.kind == "annual_cost":
        if target.currency != result.scenario.run.reported_currency:
            return CostCheck(None, None, None, f"{target.currency} at the source's prices, "
                             f"the model reports {result.scenario.run.reported_currency}")
        got = _per_patient_year(result, target.strategy, disease, 0.0, target.horizon_years,
                                excluded)
        where = (f"the scenario's {target.disease.upper()} patients, years "
                 f"0-{target.horizon_years:g}")
    else:
        log = result.logs["car_t"]
        responded = np.isfinite(first_event_time(log, "response", log.n_patients)) & disease
        if not responded.any():
            return CostCheck(None, None, None, "no simulated patient responded")
        stop = 1.0 + target.horizon_years
        therapy = (*excluded, *THERAPY_CATEGORIES)
        after = _per_patient_year(result, "car_t", responded, 1.0, stop, therapy)
        before = _per_patient_year(result, CONVENTIONAL, disease, 1.0, stop, excluded)
        got = after / before if after is not None and before else None
        where = (f"CAR-T responders ({target.disease.upper()}) vs conventional therapy, "
                 f"years 1-{stop:g}")
    if got is None:
        return CostCheck(None, None, None, "no simulated patient was alive in the window")
    return CostCheck(got, low, high, "", where)
