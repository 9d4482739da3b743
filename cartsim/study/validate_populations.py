"""Survival facts compared with a simulation of their OWN population.

A published survival figure describes its cohort: its age and sex mix, and the time
origin it counts from. The model's cohort (e.g. SLE aged ~29, entering ~4 years after
diagnosis) is not that cohort, so the held-out check simulates, for each survival fact,
the population the fact describes (``age_mean``, ``age_sd``, ``female`` and ``origin``
in ``cartsim/data/validation_targets.toml``), on conventional therapy only:

* **From entry or randomisation** (an established-disease cohort or a trial arm, as
  the model's cohort is): patients of the source's age and sex, the scenario's own
  disease duration at entry; survival ``horizon_years`` after the start.
* **From diagnosis (or first symptom), conditional** (``conditional_on`` = t0): the
  file's value is the source's S(t0 + h) / S(t0) (arithmetic in its note), so the
  simulated patients start t0 years after diagnosis, aged the source's age at
  diagnosis + t0, with ``mortality.disease_duration`` = t0 (which places the IIM late
  ratio on the model clock); survival h years after the start.
* **From diagnosis, unconditional**: the first years after diagnosis (IIM: a
  first-year hazard ratio of 9.6) are before any model patient enters: not
  comparable, with that reason. So is a fact whose population was not read.

Patients' ages are the normal of the source's mean and SD, truncated to 18-95 years
(the model's adult life table use); the sex mix is the source's. Each distinct
population is simulated once (``patients`` patients, point values, the seed's draw 0).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from cartsim.engine.events import ALIVE
from cartsim.params.validation_targets import FROM_ONSET, Target
from cartsim.scenario.model import AgeSpec, CohortSpec, GroupSpec, Scenario
from cartsim.study.runner import run_scenario

CONVENTIONAL = "immunosuppression"
AGE_RANGE = (18.0, 95.0)
"""Ages of a simulated source population are truncated to this range (years)."""
DURATION = "mortality.disease_duration"


@dataclass(frozen=True)
class Population:
    """The patients a survival fact describes, at the start of the simulation."""

    disease: str
    age_mean: float
    age_sd: float
    female: float
    disease_duration: float | None
    """Years since diagnosis at the start (None: the scenario's own value)."""

    def describe(self) -> str:
        duration = ("the scenario's disease duration" if self.disease_duration is None
                    else f"{self.disease_duration:g} y after diagnosis")
        return (f"{self.disease.upper()} aged {self.age_mean:.4g} (SD {self.age_sd:g}), "
                f"{100 * self.female:.3g}% women, {duration}")


def not_comparable(target: Target) -> str:
    """Why a survival fact cannot be compared like for like ("" if it can)."""
    if target.not_comparable:
        return target.not_comparable
    if target.disease == "all":
        return "a survival fact is simulated in one disease's population"
    if not target.matched:
        return ("the source's age and sex mix at its time origin were not read, so its "
                "population cannot be simulated")
    if target.origin in FROM_ONSET and target.conditional_on is None:
        return (f"counted from {target.origin.replace('_', ' ')}: includes the early years "
                "(the first-year peak) before the model's patients enter; compared only as "
                "conditional survival S(t0 + h)/S(t0)")
    return ""


def population(target: Target) -> Population:
    """The population a comparable survival fact describes (see :func:`not_comparable`)."""
    assert target.age_mean is not None and target.age_sd is not None
    assert target.female is not None
    start = target.conditional_on or 0.0
    return Population(target.disease, target.age_mean + start, target.age_sd, target.female,
                      target.conditional_on)


def _scenario_for(scenario: Scenario, who: Population) -> Scenario:
    age = AgeSpec("normal", who.age_mean, who.age_sd, *AGE_RANGE)
    cohort = CohortSpec(groups=(GroupSpec(who.disease, 1.0, age, who.female),))
    run = dataclasses.replace(scenario.run, comparator=CONVENTIONAL)
    return dataclasses.replace(scenario, cohort=cohort, strategies=(CONVENTIONAL,), run=run)


@dataclass(frozen=True)
class Simulated:
    """Each simulated patient's death time (inf if alive at the run's end)."""

    death: np.ndarray

    def alive_at(self, years: float) -> tuple[float, int]:
        """Patients alive ``years`` after the start, of all simulated."""
        return float(np.sum(self.death > years)), int(self.death.size)


def simulate_populations(scenario: Scenario, targets: Iterable[Target], *, patients: int,
                         seed: int) -> Mapping[Population, Simulated]:
    """Each distinct population of ``targets`` simulated once on conventional therapy."""
    out: dict[Population, Simulated] = {}
    for who in dict.fromkeys(population(t) for t in targets):
        values = scenario.point_values()
        if who.disease_duration is not None:
            values[DURATION] = who.disease_duration
        result = run_scenario(_scenario_for(scenario, who), patients=patients, seed=seed,
                              values=values, keep_logs=True, curves=False)
        log = result.logs[CONVENTIONAL]
        out[who] = Simulated(np.where(log.cause != ALIVE, log.end_time, np.inf))
    return out
