"""Benefit-risk of a strategy against the comparator, from per-patient columns.

Three sections, each difference paired on the same simulated patients (common
random numbers) with its Monte Carlo standard error:

* **all-cause death** by 1, 5 and 10 years and over the horizon (every cause,
  treatment-related deaths included), per 1,000 patients;
* **outcomes both arms can have**: patients with a cancer, serious infections
  and severe flares (events per 1,000 patients), and years in drug-free
  remission, life-years and QALYs per patient;
* **added harms**: events only the strategy can cause (CRS and ICANS by grade,
  LICATS, treatment-related death, CAR-T-associated T-cell malignancy), per
  1,000 patients with a number needed to harm.

State transitions that only one arm can make (response, relapse, reaching low
disease activity) are not outcomes and are left out. Each row says in words
whether the strategy has ``more`` or ``fewer`` (``same``) and whether that
favours it; a number needed is shown only for patients-with-an-outcome rows: an
NNT when the difference favours the strategy, an NNH when it does not, so a
benefit never carries an NNH and a harm never an NNT.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from cartsim.analysis.cea import estimate_mean

Columns = Mapping[str, np.ndarray]
DEATH_YEARS = (1.0, 5.0, 10.0)
CANCER_EVENTS = ("cancer", "second_cancer")
HARM_PREFIXES = ("crs_grade_", "icans_grade_", "licats_grade_")
HARM_EVENTS = ("treatment_related_death", "t_cell_malignancy")


@dataclass(frozen=True)
class BenefitRiskRow:
    """One outcome. ``unit`` is "per 1,000 patients" or "per patient"; values in it."""

    section: str
    outcome: str
    unit: str
    comparator: float
    strategy: float
    difference: float
    difference_se: float | None
    direction: str
    favours: str
    number_needed: float | None
    number_needed_type: str | None


def _counts(cols: Columns, labels: Sequence[str]) -> np.ndarray:
    n = len(cols["qaly"])
    return sum((cols[f"n_{x}"].astype(float) for x in labels if f"n_{x}" in cols),
               np.zeros(n))


def _row(section: str, outcome: str, new: np.ndarray, old: np.ndarray, *, per_1000: bool,
         fewer_is_better: bool, patients: bool) -> BenefitRiskRow:
    scale = 1000.0 if per_1000 else 1.0
    d = new.astype(float) - old.astype(float)
    est = estimate_mean(d)
    mean_new = math.fsum(new.astype(float).tolist()) / new.size
    mean_old = math.fsum(old.astype(float).tolist()) / old.size
    diff = mean_new - mean_old
    direction = "same" if diff == 0.0 else ("more" if diff > 0.0 else "fewer")
    good = diff < 0.0 if fewer_is_better else diff > 0.0
    favours = "neither" if diff == 0.0 else ("strategy" if good else "comparator")
    nn_type, nn = None, None
    if patients and diff != 0.0:
        nn_type, nn = ("NNT" if good else "NNH"), 1.0 / abs(diff)
    return BenefitRiskRow(section, outcome, "per 1,000 patients" if per_1000 else "per patient",
                          scale * mean_old, scale * mean_new, scale * diff,
                          None if est.se is None else scale * est.se, direction, favours, nn,
                          nn_type)


def added_harm_labels(event_names: Sequence[str]) -> list[str]:
    """The strategy's harm events (CRS, ICANS and LICATS by grade, treatment death, T-cell
    malignancy), in the order the pathway records them."""
    return [e for e in event_names if e.startswith(HARM_PREFIXES) or e in HARM_EVENTS]


def benefit_risk(new: Columns, ref: Columns, new_events: Sequence[str],
                 ref_events: Sequence[str], horizon: float) -> list[BenefitRiskRow]:
    """Benefit-risk rows of ``new`` (the strategy) against ``ref`` (the comparator).

    ``new``/``ref`` are per-patient columns of the same patients: ``died``,
    ``end_time``, ``qaly``, ``ly_undisc``, ``remission_years`` and ``n_<event>``.
    """
    rows: list[BenefitRiskRow] = []
    for years in DEATH_YEARS:
        if years > horizon:
            continue
        rows.append(_row("all-cause death", f"deaths within {_years(years)}",
                         (new["died"] == 1) & (new["end_time"] <= years),
                         (ref["died"] == 1) & (ref["end_time"] <= years),
                         per_1000=True, fewer_is_better=True, patients=True))
    span = "lifetime" if math.isinf(horizon) else _years(horizon)
    rows.append(_row("all-cause death", f"deaths within the horizon ({span})",
                     new["died"] == 1, ref["died"] == 1,
                     per_1000=True, fewer_is_better=True, patients=True))
    both = "outcomes both arms can have"
    rows.append(_row(both, "patients with a cancer", _counts(new, CANCER_EVENTS) > 0,
                     _counts(ref, CANCER_EVENTS) > 0, per_1000=True, fewer_is_better=True,
                     patients=True))
    for label, name in (("serious_infection", "serious infections"),
                        ("flare_severe", "severe flares")):
        rows.append(_row(both, name, _counts(new, [label]), _counts(ref, [label]),
                         per_1000=True, fewer_is_better=True, patients=False))
    for key, name in (("remission_years", "years in drug-free remission"),
                      ("ly_undisc", "life-years (undiscounted)"),
                      ("qaly", "QALYs (discounted)")):
        rows.append(_row(both, name, new[key], ref[key], per_1000=False,
                         fewer_is_better=False, patients=False))
    for label in added_harm_labels(new_events):
        if label in ref_events:
            continue
        rows.append(_row("added harms", f"patients with {label}", new[f"n_{label}"] > 0,
                         np.zeros(len(new["qaly"]), dtype=bool), per_1000=True,
                         fewer_is_better=True, patients=True))
    return rows


def _years(years: float) -> str:
    """``1 year``, ``5 years``, ``2.5 years``."""
    return f"{years:g} year" + ("" if years == 1 else "s")
