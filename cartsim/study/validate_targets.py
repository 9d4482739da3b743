"""Validation against held-out published facts (``cartsim/data/validation_targets.toml``).

The case-series check (:mod:`cartsim.study.validate`) compares a scenario with the
series its priors came from; this one compares it with facts the priors did not use:
survival on conventional therapy at 2-20 years per disease, durability of drug-free
remission after CAR-T, and short-term safety in other series.

**Independence.** A fact is *not independent* of a scenario when the scenario's
priors use its source: a name in the fact's ``used_by_priors`` is a parameter of the
scenario (or appears in a parameter's source), or a parameter's source cites the
fact's first author and year. Such a fact is compared and shown, flagged "not
independent", and never counts for ``--strict`` (an ERG discounts a check against
the data a model was fitted to).

**Simulation.** A survival fact is compared with a simulation of ITS population on
conventional therapy (:mod:`cartsim.study.validate_populations`: the source's age, sex
and time origin; conditional survival for a cohort counted from diagnosis), or shown
as not comparable with the reason. The other facts use the scenario's cohort
(``patients`` of them, point values, draw 0's random numbers) under every strategy: a
remission fact is the share of infused patients (or of responders, ``among``) drug-free
(B-cell aplasia or drug-free remission) at their follow-up (``horizon_years``, or
uniform from ``follow_up_low`` to it when the source gives only the longest); an event
fact, the share of infused patients with the event within ``horizon_years``.

**Predictive interval.** The simulated share p carries Monte Carlo error (x of m
patients: p ~ Beta(x + 1/2, m - x + 1/2)) and the published figure its own sampling
error: with the source's cohort size n the observed share is Binomial(n, p) / n; with
only a reported 95% interval it is p + Normal(0, (upper - lower) / 3.92). The 95%
predictive interval is the 2.5% and 97.5% quantiles of R = 4,000 such values (keyed
random numbers, so fixed by the seed); the fact is consistent when the published value
lies in it (``bound = "upper"``, a less severe source cohort: unless it lies below it).
A fact with neither n nor an interval is shown but not compared, with the reason. A Kaplan-Meier
figure with censoring has fewer patients at risk than n, so its interval is, if
anything, too narrow (the target's note says so).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import betaincinv, ndtri

from cartsim.engine.events import EventLog
from cartsim.outcomes.follow_up import first_event_time, patient_measures
from cartsim.params.validation_targets import Target, ValidationTargets, load_targets
from cartsim.rng import Streams
from cartsim.scenario.model import Scenario
from cartsim.study.runner import run_scenario
from cartsim.study.validate_costs import check_cost
from cartsim.study.validate_populations import not_comparable, population, simulate_populations

PREDICTIVE_DRAWS = 4000
COST_KINDS = ("annual_cost", "cost_ratio")
EVENT_MEASURES = {"treatment_deaths": "treatment_deaths", "fatal_adverse_events":
                  "treatment_deaths", "crs_grade_3_plus": "crs_3plus", "crs": "crs",
                  "icans_grade_3_plus": "icans_3plus", "icans": "icans",
                  "neurotoxicity": "icans", "flare_6_months": "relapses"}
"""The per-patient measure an event fact counts, by the last part of its id."""


@dataclass(frozen=True)
class TargetCheck:
    """One held-out fact against the simulation."""

    target: Target
    independent: bool
    why_not_independent: str
    simulated: float | None
    low: float | None
    high: float | None
    patients: int
    reason: str = ""
    """Why the fact is not compared (empty when it is)."""
    compared_in: str = ""
    """The simulated patients the fact is compared with."""

    @property
    def flag(self) -> str:
        if self.simulated is None or self.low is None or self.high is None:
            return "not compared"
        if self.target.kind in COST_KINDS:  # a tolerance band around the published mean
            return "plausible" if self.low <= self.simulated <= self.high else "implausible"
        if self.target.bound == "upper":  # only a model figure above the value fails
            inside = self.low <= self.target.value
        else:
            inside = self.low <= self.target.value <= self.high
        return "consistent" if inside else "inconsistent"

    @property
    def counts(self) -> bool:
        """Whether this fact decides ``--strict``: independent, compared, inconsistent (a
        cost's plausibility never does: no interval can be built for it)."""
        return self.independent and self.flag == "inconsistent"


def _citation(source: str) -> tuple[str, str] | None:
    author = re.match(r"[A-Za-z][A-Za-z\-']+", source)
    year = re.search(r"(19|20)\d\d", source)
    return (author.group(0).lower(), year.group(0)) if author and year else None


def independence(target: Target, scenario: Scenario) -> str:
    """Why the scenario's priors are not independent of ``target`` ("" if they are)."""
    sources = {name: p.source.lower() for name, p in scenario.parameters.items()}
    used = [n for n in target.used_by_priors
            if n in scenario.parameters or any(n.lower() in s for s in sources.values())]
    if used:
        return f"priors use its source: {', '.join(used[:3])}"
    cited = _citation(target.source)
    if cited is not None:
        author, year = cited
        citing = [n for n, s in sources.items() if author in s and year in s]
        if citing:
            return f"{citing[0]} cites {author.title()} {year}"
    return ""


def _interval(target: Target, x: float, m: int, streams: Streams
              ) -> tuple[float | None, float | None, str]:
    u = streams.column(f"validation.target:{target.id}", 0, 0, PREDICTIVE_DRAWS)
    p = betaincinv(x + 0.5, m - x + 0.5, 1.0 - u)
    v = streams.column(f"validation.target:{target.id}", 1, 0, PREDICTIVE_DRAWS)
    if target.n is not None:
        from scipy import stats  # slow to import: only a comparison needs it

        observed = stats.binom.ppf(1.0 - v, target.n, p) / target.n
    elif target.lower is not None and target.upper is not None:
        sd = (target.upper - target.lower) / (2.0 * 1.959963984540054)
        observed = p + sd * ndtri(np.clip(1.0 - v, 1e-300, 1.0 - 1e-16))
    else:
        return None, None, "the source gives neither n nor an interval"
    low, high = np.quantile(observed, [0.025, 0.975])
    return float(low), float(high), ""


def _after_infusion(target: Target, log: EventLog, group: np.ndarray, streams: Streams
                    ) -> tuple[float, int] | str:
    infused = np.isfinite(first_event_time(log, "infusion", log.n_patients))
    if target.disease != "all":
        infused &= group == target.disease
    chosen = np.flatnonzero(infused)[np.newaxis, :]
    if chosen.size == 0:
        return "no simulated patient was infused"
    follow_up = np.full(chosen.shape, target.horizon_years)
    if target.follow_up_low is not None:  # sequential enrolment: uniform follow-up
        u = streams.column(f"validation.follow_up:{target.id}", 0, 0, chosen.size)
        follow_up = (target.follow_up_low + (target.horizon_years - target.follow_up_low)
                     * u).reshape(chosen.shape)
    measures = patient_measures(log, chosen, follow_up, streams)
    if target.kind == "remission":
        values = measures["drug_free_at_end"]
        if target.among == "responders":  # remission among responders, as the source counts
            responded = measures["responded"] > 0
            if not responded.any():
                return "no simulated patient responded"
            values = values[responded]
    else:
        measure = EVENT_MEASURES.get(target.id.rsplit(".", 1)[1])
        if measure is None:
            return "no simulated measure for this event"
        values = measures[measure] > 0
    return float(np.sum(values)), int(values.size)


def check_targets(scenario: Scenario, *, patients: int, seed: int,
                  targets: ValidationTargets | None = None) -> tuple[TargetCheck, ...]:
    """Every fact of ``targets`` (default: the shipped file) against ``scenario``: survival
    facts against their own populations, the others against the scenario's cohort."""
    targets = targets or load_targets()
    streams = Streams(seed, 0)
    diseases = {g.name for g in scenario.cohort.groups} | (
        set(scenario.cohort.file_groups or ()) if scenario.cohort.file else set())
    reasons = {t.id: _not_comparable(t, scenario, diseases) for t in targets.targets}
    survival = [t for t in targets.targets if t.kind == "survival" and not reasons[t.id]]
    populations = simulate_populations(scenario, survival, patients=patients, seed=seed)
    needed = {s for t in targets.targets if t.kind != "survival" and not reasons[t.id]
              for s in ((t.strategy, "immunosuppression") if t.kind == "cost_ratio"
                        else (t.strategy,))}
    result = run_scenario(scenario, patients=patients, seed=seed, keep_logs=True,
                          curves=False) if needed else None
    group = np.asarray(result.cohort.group) if result is not None else np.array([])
    out = []
    for t in targets.targets:
        why = independence(t, scenario)
        if reasons[t.id]:
            out.append(TargetCheck(t, not why, why, None, None, None, 0, reasons[t.id]))
            continue
        if t.kind in COST_KINDS:
            assert result is not None
            cost = check_cost(t, result)
            out.append(TargetCheck(t, not why, why, cost.simulated, cost.low, cost.high,
                                   int(np.sum(np.asarray(result.cohort.group) == t.disease)),
                                   cost.reason, cost.compared_in))
            continue
        if t.kind == "survival":
            who = population(t)
            got: tuple[float, int] | str = populations[who].alive_at(t.horizon_years)
            where = f"the source's population: {who.describe()}"
        else:
            assert result is not None
            got = _after_infusion(t, result.logs[t.strategy], group, streams)
            where = ("the scenario's cohort, responders" if t.among == "responders"
                     else "the scenario's cohort")
        if isinstance(got, str):
            out.append(TargetCheck(t, not why, why, None, None, None, 0, got))
            continue
        x, m = got
        low, high, why_not = _interval(t, x, m, streams)
        out.append(TargetCheck(t, not why, why, x / m if m else None, low, high, m, why_not,
                               where))
    return tuple(out)


def _not_comparable(t: Target, scenario: Scenario, diseases: set[str]) -> str:
    if t.strategy not in scenario.strategies or (
            t.kind == "cost_ratio" and "immunosuppression" not in scenario.strategies):
        return f"{t.strategy} (and conventional therapy) must be in run.strategies"
    if t.not_comparable:
        return t.not_comparable
    if t.kind == "survival":
        # Simulated in the source's own population, whatever the scenario's cohort.
        reason = not_comparable(t)
        if reason:
            return reason
    elif t.disease != "all" and t.disease not in diseases:
        return f"the scenario's cohort has no {t.disease} patients"
    if math.isinf(scenario.run.horizon) or scenario.run.horizon >= t.horizon_years:
        return ""
    return f"the run's horizon is shorter than {t.horizon_years:g} years"


def summary_counts(checks: tuple[TargetCheck, ...]) -> Mapping[str, int]:
    """How many facts are consistent, inconsistent and not compared, independent or not."""
    out: dict[str, int] = {}
    for c in checks:
        key = f"{c.flag}{'' if c.independent else ' (not independent)'}"
        out[key] = out.get(key, 0) + 1
    return out
