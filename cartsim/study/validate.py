"""The validation study (``cartsim validate``): reproduce the Müller 2024 case series
many times and compare it with what was reported.

Each replicate is a series like the published one: as many *infused* SLE, IIM
and SSc patients as the evidence records (8, 3, 4; a simulated patient whose
product failed is replaced by the next one of the same disease), each followed
from infusion for a time drawn from the triangular distribution on the reported
range with the reported median (4-29 months, median 15). The compiled engine
simulates the CAR-T pathway; each log is cut at the patient's follow-up, and
serious infections counted per stay are thinned binomially in the stay the cut
falls in (exact: given their number they are uniform on the stay). Every fact of
PARAMETERS.md §7 is compared with its predictive distribution.

Responses count whenever they happen (the series assessed them at 3-6 months,
also in patients followed for less); "drug-free at last follow-up" counts B-cell
aplasia and drug-free remission; deaths and malignancies count within follow-up.
Random numbers come from ``Streams`` keyed by (draw, purpose): with point values
every replicate is in draw 0; with ``uncertainty`` replicate k uses PSA draw k
for its parameter values, its ``[[structural]]`` options (the relapse shape...) and
its random numbers. The CAR-T pathway is
simulated through the runner's engine call (:func:`cartsim.study.runner.engine_pass`)
and never valued: ``simulations`` counts the passes, ``evaluations`` is 0. The checks
of each fact are :mod:`cartsim.analysis.validation`'s; the command is
:mod:`cartsim.cli.validate`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from cartsim.analysis.validation import (
    MeanCheck,
    PredictiveCheck,
    check_mean,
    check_prediction,
    triangular_with_median,
)
from cartsim.cohort import Cohort, sample_cohort
from cartsim.errors import SimulationError, UsageError
from cartsim.limits import MAX_REPLICATES
from cartsim.outcomes.follow_up import first_event_time, patient_measures
from cartsim.params.distributions import Triangular
from cartsim.params.draws import draw_parameters
from cartsim.params.evidence import (
    Count,
    Proportion,
    Rate,
    Record,
    Summary,
    current_evidence,
)
from cartsim.params.structural import draw_structural, text_choices
from cartsim.rng import Streams
from cartsim.scenario.model import CohortSpec, Scenario
from cartsim.scenario.param_def import DISEASES
from cartsim.study.input_tables import parameters_table
from cartsim.study.prepare import discount_rates, prepare
from cartsim.study.result import Manifest, Tabled, scenario_manifest
from cartsim.study.simulate import Context, DrawPass, engine_pass
from cartsim.study.validate_tables import (
    design_table,
    evidence_table,
    held_out_table,
    validation_table,
)
from cartsim.study.validate_targets import TargetCheck, check_targets
from cartsim.table import Table

SERIES = "muller2024"
FOLLOW_UP = f"{SERIES}.all.follow_up"
MAX_POOL = 5_000_000
HELD_OUT_PATIENTS = 4000
"""Patients per strategy simulated for the held-out facts (``--held-out-patients``)."""
RELAPSE_DRIVERS = {"none": (), "constant": ("car_t.relapse.rate",),
                   "weibull": ("car_t.relapse.shape", "car_t.relapse.scale"),
                   "cure_fraction": ("car_t.relapse.cure_fraction", "car_t.relapse.rate"),
                   "waning": ("car_t.relapse.rate", "car_t.relapse.ramp")}
RESPONSE = tuple(f"car_t.response.{d}" for d in DISEASES)


@dataclass(frozen=True)
class Fact:
    """One reported fact, the record holding it, and the simulated measure it is compared with.

    ``measure`` names a per-patient quantity (see
    :func:`cartsim.outcomes.follow_up.patient_measures`) summed
    over the patients of ``groups`` (averaged for ``b_cell_days``); None means
    the fact is shown but not compared, for ``reason``. ``drivers`` are the
    parameters whose values move the simulated quantity; "relapse" stands for
    those of the scenario's relapse shape.
    """

    key: str
    item: int
    evidence: str
    measure: str | None
    drivers: tuple[str, ...] = ()
    groups: tuple[str, ...] = DISEASES
    reason: str = ""


FACTS: tuple[Fact, ...] = (
    Fact("patients", 1, f"{SERIES}.all.patients", None,
         reason="the simulated series has this composition by construction"),
    *(Fact(f"response_{d}", 2, f"{SERIES}.{d}.response", "responded",
           (f"car_t.response.{d}", "car_t.treatment_death"), (d,)) for d in DISEASES),
    Fact("drug_free_at_last_follow_up", 3, f"{SERIES}.all.immunosuppression_stopped",
         "drug_free_at_end", (*RESPONSE, "relapse", "car_t.retreatment.probability",
                              "car_t.retreatment.response", "car_t.treatment_death")),
    Fact("relapses", 3, f"{SERIES}.all.relapse", "relapses", ("relapse", *RESPONSE)),
    Fact("crs_any_grade", 4, f"{SERIES}.all.crs", "crs",
         ("car_t.crs.grade_1", "car_t.crs.grade_2", "car_t.crs.grade_3")),
    Fact("crs_grade_2_plus", 4, f"{SERIES}.all.crs_grade_2_plus", "crs_2plus",
         ("car_t.crs.grade_2", "car_t.crs.grade_3")),
    Fact("crs_grade_3_plus", 4, f"{SERIES}.all.crs_grade_3_plus", "crs_3plus",
         ("car_t.crs.grade_3",)),
    Fact("icans_any_grade", 5, f"{SERIES}.all.icans", "icans",
         ("car_t.icans.grade_1_2", "car_t.icans.grade_3_4")),
    Fact("icans_grade_3_plus", 5, f"{SERIES}.all.icans_grade_3_plus", "icans_3plus",
         ("car_t.icans.grade_3_4",)),
    Fact("infection_admissions", 6, f"{SERIES}.all.infection_admission", "infections",
         ("car_t.early_infection", "car_t.aplasia.infections", "car_t.aplasia.time",
          "car_t.remission.infections", *(f"conventional.{d}.infections.active"
                                          for d in DISEASES))),
    Fact("treatment_related_deaths", 7, f"{SERIES}.all.treatment_deaths",
         "treatment_deaths", ("car_t.treatment_death",)),
    Fact("deaths_any_cause", 7, f"{SERIES}.all.deaths", "deaths",
         ("car_t.treatment_death", "mortality.remission_share",
          *(f"mortality.{d}.smr" for d in DISEASES),
          "car_t.t_cell_malignancy.excess_mortality")),
    Fact("malignancies", 7, f"{SERIES}.all.malignancy", "malignancies",
         ("car_t.t_cell_malignancy.probability", "car_t.second_cancer.excess_rate",
          "cancer.incidence_scale", "cancer.sir_remission")),
    Fact("cytopenia_immunoglobulin", 7, f"{SERIES}.all.cytopenia", None,
         reason="cytopenias and immunoglobulin levels are not modelled"),
    Fact("b_cell_return_days", 8, "mackensen2022.sle.b_cell_return", "b_cell_days",
         ("car_t.aplasia.time",), ("sle",)),
    Fact("sle_remission_6_months", 9, f"{SERIES}.sle.remission_6_months", "drug_free_6_months",
         ("car_t.response.sle", "car_t.aplasia.time", "relapse"), ("sle",)),
    Fact("sle_disease_free_24_months", 9, f"{SERIES}.sle.disease_free_24_months", None,
         reason="how many SLE patients were followed to 24 months is not reported"),
)


@dataclass(frozen=True)
class FactResult:
    fact: Fact
    record: Record
    check: PredictiveCheck | MeanCheck | None
    simulated: np.ndarray | None
    """The compared quantity in each replicate (a count, or a mean for B-cell return)."""

    @property
    def flag(self) -> str:
        if self.check is None:
            return "not compared"
        return "consistent" if self.check.consistent else "inconsistent"

    @property
    def kind(self) -> str:
        """``prediction`` (a count in a predictive interval), ``mean`` (a simulated mean
        in the observed mean's CI) or ``none`` (not compared)."""
        if isinstance(self.check, PredictiveCheck):
            return "prediction"
        return "mean" if isinstance(self.check, MeanCheck) else "none"

    @property
    def simulated_mean(self) -> float | None:
        if isinstance(self.check, PredictiveCheck):
            return self.check.mean
        return self.check.simulated if isinstance(self.check, MeanCheck) else None

    @property
    def low(self) -> float | None:
        """The predictive interval's low end, or the observed mean's CI's (for a mean)."""
        if isinstance(self.check, PredictiveCheck):
            return self.check.low
        return self.check.ci_low if isinstance(self.check, MeanCheck) else None

    @property
    def high(self) -> float | None:
        if isinstance(self.check, PredictiveCheck):
            return self.check.high
        return self.check.ci_high if isinstance(self.check, MeanCheck) else None


@dataclass(frozen=True)
class ValidationResult(Tabled):
    """Every fact compared, how the series were built, and the study's tables."""

    scenario: Scenario
    replicates: int
    seed: int
    uncertainty: bool
    composition: Mapping[str, int]
    follow_up: Triangular
    follow_up_years: np.ndarray
    facts: tuple[FactResult, ...]
    patients_simulated: int
    all_tables: tuple[Table, ...] = ()
    manifest: Manifest | None = None
    held_out: tuple[TargetCheck, ...] = ()
    """Held-out published facts (:mod:`cartsim.study.validate_targets`); empty if skipped."""

    @property
    def inconsistent(self) -> tuple[FactResult, ...]:
        return tuple(f for f in self.facts if f.flag == "inconsistent")

    @property
    def held_out_inconsistent(self) -> tuple[TargetCheck, ...]:
        """Independent held-out facts outside their predictive interval (for --strict)."""
        return tuple(c for c in self.held_out if c.counts)

    def drivers(self, fact: Fact) -> tuple[str, ...]:
        """The fact's driving parameters, with "relapse" expanded for the relapse shape."""
        names: list[str] = []
        for name in fact.drivers:
            names += RELAPSE_DRIVERS[self.scenario.relapse_model] if name == "relapse" else [name]
        return tuple(dict.fromkeys(names))


def series_design(records: Mapping[str, Record]) -> tuple[dict[str, int], Triangular]:
    """Patients per disease in the series and the follow-up distribution (months)."""
    missing = [f.evidence for f in FACTS if f.evidence not in records]
    if missing:
        msg = f"the evidence lacks records that validate compares: {', '.join(missing)}"
        raise UsageError(msg)
    composition = {}
    for d in DISEASES:
        record = records.get(f"{SERIES}.{d}.patients")
        if not isinstance(record, Count):
            msg = f"the evidence has no patient count {SERIES}.{d}.patients"
            raise UsageError(msg)
        composition[d] = record.count
    follow = records.get(FOLLOW_UP)
    low, median, high = (getattr(follow, k, None) for k in ("low", "median", "high"))
    if not isinstance(follow, Summary) or low is None or median is None or high is None:
        msg = f"the evidence has no follow-up median and range at {FOLLOW_UP}"
        raise UsageError(msg)
    return composition, triangular_with_median(low, median, high)


def _check_scenario(scenario: Scenario) -> None:
    if scenario.model != "cart_vs_is":
        msg = (f"{scenario.source}: validate reproduces the CAR-T case series with the clinical "
               'model (model = "cart_vs_is"); a custom model has no mapping to its facts')
        raise UsageError(msg)
    if "car_t" not in scenario.strategies:
        msg = (f"{scenario.source}: validate reproduces the autologous CD19 CAR-T case series: "
               f"run.strategies must include car_t (got {', '.join(scenario.strategies)})")
        raise UsageError(msg)
    if scenario.cohort.file is not None:
        msg = (f"{scenario.source}: validate samples patients per disease from [cohort.sle], "
               "[cohort.iim] and [cohort.ssc]; a cohort.file cannot be resampled")
        raise UsageError(msg)
    missing = sorted(set(DISEASES) - {g.name for g in scenario.cohort.groups})
    if missing:
        msg = f"{scenario.source}: validate needs [cohort.{missing[0]}] (age and sex)"
        raise UsageError(msg)


def _pool_size(need: int, failure: float) -> int:
    """Patients to simulate so that ``need`` reach infusion (6 SD of binomial slack)."""
    reach = 1.0 - failure
    size = math.ceil((need + 6.0 * math.sqrt(need) + 10.0) / reach) if reach > 0 else MAX_POOL + 1
    if size > MAX_POOL:
        msg = (f"car_t.manufacturing.failure = {failure:g} leaves too few infused patients to "
               "build the series")
        raise SimulationError(msg)
    return size


def _cohort(scenario: Scenario, pools: Mapping[str, int], streams: Streams) -> Cohort:
    """Blocks of patients per disease, each block's attributes from its own uniforms.

    Cohorts are sampled in draw 0, so a later draw (a replicate with its own
    parameter values) takes its patients from a seed keyed by that draw.
    """
    if streams.draw:
        key = streams.column("validation.cohort_seed", 0, 0, 1)[0]
        streams = Streams(int(key * 2.0**62))
    total = sum(pools.values())
    groups = {g.name: g for g in scenario.cohort.groups}
    parts, offset = [], 0
    for d, size in pools.items():
        one = sample_cohort(CohortSpec(groups=(groups[d],)), total, streams=streams)
        parts.append((one.group[offset:offset + size], one.age[offset:offset + size],
                      one.female[offset:offset + size]))
        offset += size
    return Cohort(tuple(str(i) for i in range(total)),
                  tuple(g for part in parts for g in part[0]),
                  np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts]))


def _simulate(scenario: Scenario, values: Mapping[str, float], composition: Mapping[str, int],
              replicates: int, streams: Streams, follow_up: Triangular,
              ) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
    """Measures shaped (replicates, patients in the series), follow-up (years), pool size."""
    models, life_table = prepare(scenario, values)
    failure = values["car_t.manufacturing.failure"]
    pools = {d: _pool_size(k * replicates, failure) for d, k in composition.items()}
    cohort = _cohort(scenario, pools, streams)
    horizon = values["car_t.manufacturing.time"] + values["car_t.aplasia.time"] \
        + follow_up.high / 12.0 + 1.0 / 365.25
    context = Context(cohort, life_table, horizon, "compiled", streams.seed, True,
                      discount_rates(scenario), scenario.run.cost_factor)
    passed = engine_pass(context, "car_t", range(cohort.n),
                         [DrawPass(streams.draw, models["car_t"].pathways, ())], keep_log=True)
    assert passed.logs is not None
    log = passed.logs[0]
    infused = np.isfinite(first_event_time(log, "infusion", cohort.n))
    blocks, offset = [], 0
    for d, size in pools.items():
        need = composition[d] * replicates
        ids = offset + np.flatnonzero(infused[offset:offset + size])
        if ids.size < need:
            msg = (f"only {ids.size} of {size} simulated {d.upper()} patients reached infusion; "
                   f"{need} are needed (car_t.manufacturing.failure = {failure:g})")
            raise SimulationError(msg)
        blocks.append(ids[:need].reshape(replicates, composition[d]))
        offset += size
    chosen = np.concatenate(blocks, axis=1)
    u = streams.column("validation.follow_up", 0, 0, chosen.size)
    years = (follow_up.ppf(1.0 - u) / 12.0).reshape(chosen.shape)
    measures = patient_measures(log, chosen, years, streams)
    return ({k: v.reshape(chosen.shape) for k, v in measures.items()}, years, cohort.n)


def _compare(fact: Fact, record: Record, measures: Mapping[str, np.ndarray],
             columns: Mapping[str, slice], level: float) -> FactResult:
    if fact.measure is None:
        return FactResult(fact, record, None, None)
    data = np.concatenate([measures[fact.measure][:, columns[g]] for g in fact.groups], axis=1)
    if isinstance(record, Summary):
        if record.mean is None or record.sd is None or record.n is None:
            msg = f"evidence {record.address} needs mean, sd and n to be compared"
            raise UsageError(msg)
        # Patients who never reached the event (death first) have no duration.
        seen = np.isfinite(data)
        values, counts = np.where(seen, data, 0.0).sum(axis=1), seen.sum(axis=1)
        if not counts.any():
            return FactResult(fact, record, None, None)
        per_replicate = values[counts > 0] / counts[counts > 0]
        check = check_mean(record.mean, record.sd, record.n, values.sum() / counts.sum(), level)
        return FactResult(fact, record, check, per_replicate)
    observed = {Proportion: "events", Rate: "events", Count: "count"}.get(type(record))
    if observed is None:
        msg = f"evidence {record.address} must be a count or proportion to be compared"
        raise UsageError(msg)
    totals = data.sum(axis=1)
    return FactResult(fact, record, check_prediction(getattr(record, observed), totals, level),
                      totals)


def validate_case_series(scenario: Scenario, *, replicates: int = 1000, seed: int | None = None,
                         uncertainty: bool = False, level: float = 0.95,
                         progress: Callable[[int], None] | None = None,
                         held_out_patients: int = HELD_OUT_PATIENTS) -> ValidationResult:
    """Simulate ``replicates`` series like Müller 2024 and compare them with every §7 fact,
    then the scenario's cohort (``held_out_patients`` per strategy; 0 skips it) with every
    held-out published fact.

    ``uncertainty`` draws every parameter from its distribution once per replicate
    (a prior predictive check); otherwise every replicate uses the point values.
    ``progress(k)`` as k more series are done (``replicates`` in all).
    """
    step = progress or (lambda _k: None)
    _check_scenario(scenario)
    if not 1 <= replicates <= MAX_REPLICATES:
        msg = f"replicates must be between 1 and {MAX_REPLICATES:,}; got {replicates}"
        raise UsageError(msg)
    evidence = current_evidence()
    composition, follow_up = series_design(evidence.records)
    root = seed if seed is not None else scenario.run.seed
    if uncertainty:
        # The same values and structural options (relapse shape, re-treatment policy...)
        # as PSA draws 1..R of this scenario and seed.
        draws = draw_structural(draw_parameters(scenario.parameters, range(1, replicates + 1),
                                                root, scenario.probability_sets, scenario.joint),
                                scenario.structural, root)
        runs = []
        for j in range(replicates):
            chosen = scenario.with_choices(text_choices(draws, scenario.structural, j))
            runs.append(_simulate(chosen, draws.at(j), composition, 1, Streams(root, j + 1),
                                  follow_up))
            step(1)
        measures = {k: np.concatenate([r[0][k] for r in runs]) for k in runs[0][0]}
        years = np.concatenate([r[1] for r in runs])
        simulated = sum(r[2] for r in runs)
    else:
        measures, years, simulated = _simulate(scenario, scenario.point_values(), composition,
                                               replicates, Streams(root, 0), follow_up)
        step(replicates)
    ends = np.cumsum(list(composition.values()))
    columns = {d: slice(e - k, e) for (d, k), e in zip(composition.items(), ends, strict=True)}
    facts = tuple(_compare(f, evidence.record(f.evidence), measures, columns, level)
                  for f in FACTS)
    held_out = check_targets(scenario, patients=held_out_patients, seed=root) \
        if held_out_patients > 0 else ()
    result = ValidationResult(scenario, replicates, root, uncertainty, composition, follow_up,
                              years, facts, simulated, held_out=held_out)
    tables = (validation_table(result),
              *([held_out_table(held_out, held_out_patients)] if held_out else ()),
              design_table(result), evidence_table(evidence), parameters_table(scenario))
    manifest = scenario_manifest(
        scenario, discount_rates(scenario), command="validate", seed=root,
        sizes={"replicates": replicates, "patients": simulated,
               "held_out_patients": held_out_patients}, engine="compiled",
        simulations=replicates if uncertainty else 1, evaluations=0,
        settings={"replicates": replicates, "seed": root,
                  "parameter_uncertainty": uncertainty, "series": dict(composition),
                  "follow_up_months": {"dist": "triangular", "low": follow_up.low,
                                       "mode": follow_up.mode, "high": follow_up.high}},
        extra={"evidence_file": evidence.source})
    return dataclasses.replace(result, all_tables=tables, manifest=manifest)
