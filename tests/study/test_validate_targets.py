"""Validation against held-out published facts (issue 12, item 4)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import cartsim
from cartsim.params.life_table import read_life_table
from cartsim.params.validation_targets import ValidationTargets, load_targets
from cartsim.rng import Streams
from cartsim.study.runner import run_scenario
from cartsim.study.validate_costs import check_cost
from cartsim.study.validate_targets import (
    PREDICTIVE_DRAWS,
    TargetCheck,
    _interval,
    check_targets,
    independence,
)
from cartsim.vocabulary import COST_CATEGORIES

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "scenarios" / "base.toml"
PATIENTS = 2000


@pytest.fixture(scope="module")
def base_checks():
    return {c.target.id: c for c in check_targets(cartsim.load_scenario(BASE),
                                                  patients=PATIENTS, seed=20240601)}


def test_every_fact_is_shown_with_a_flag_and_a_reason_when_not_compared(base_checks):
    assert len(base_checks) == len(load_targets().targets)
    for c in base_checks.values():
        assert c.flag in ("consistent", "inconsistent", "not compared", "plausible",
                          "implausible")
        if c.flag == "not compared":
            assert c.reason
        elif c.target.kind in ("annual_cost", "cost_ratio"):
            assert c.low < c.target.value < c.high and c.simulated > 0
        else:
            assert 0 <= c.low <= c.high <= 1 and 0 <= c.simulated <= 1
            assert c.target.horizon_years > 0 and c.target.source


def test_at_least_three_independent_sources_including_long_horizon_survival(base_checks):
    """Survival is compared in the source's own population; SLE and SSc as far as 10 and
    more years after diagnosis (conditional survival); no IIM source gives its age and sex
    mix, so every IIM survival fact is shown with that reason rather than compared."""
    compared = [c for c in base_checks.values() if c.independent and c.flag != "not compared"]
    sources = {c.target.source for c in compared}
    assert len(sources) >= 3
    long_survival = {c.target.disease for c in compared if c.target.kind == "survival"
                     and (c.target.conditional_on or 0) + c.target.horizon_years >= 10}
    assert long_survival == {"sle", "ssc"}
    iim = [c for c in base_checks.values()
           if c.target.kind == "survival" and c.target.disease == "iim"]
    assert iim and all(c.flag == "not compared" and "age and sex" in c.reason for c in iim)


def test_survival_counted_from_diagnosis_is_compared_only_conditionally(base_checks):
    whole = base_checks["kasitanon2006.sle.survival_10y"]
    assert whole.flag == "not compared" and "from diagnosis" in whole.reason
    part = base_checks["kasitanon2006.sle.survival_10y_given_5y"]
    assert part.flag != "not compared" and part.target.conditional_on == 5
    # S(15) / S(5) from the source's own Kaplan-Meier figures (status E).
    s5, s15 = (load_targets()[f"kasitanon2006.sle.survival_{h}y"].value for h in (5, 15))
    assert part.target.value == pytest.approx(s15 / s5, abs=5e-4)


def test_a_matched_population_survives_as_its_life_table_says():
    """Women of one age, no cancers: survival h years on is exp(-SMR x (H(a + h) - H(a)))
    from the life table (the ratio is constant on conventional therapy); 4 SE."""
    s = cartsim.load_scenario(BASE, ["cancer.incidence_scale=0"])
    target = dataclasses.replace(
        load_targets()["kasitanon2006.sle.survival_15y_given_5y"], age_mean=55.0,
        age_sd=1e-9, female=1.0, conditional_on=5.0, n=None, bound=None)
    checks = check_targets(s, patients=4000, seed=7,
                           targets=ValidationTargets("t", (target,)))
    table = read_life_table()
    smr = s.parameters["mortality.sle.smr"].value
    expected = math.exp(-smr * (table.cumulative_hazard("female", 75.0)
                                - table.cumulative_hazard("female", 60.0)))
    se = math.sqrt(expected * (1 - expected) / 4000)
    assert checks[0].simulated == pytest.approx(expected, abs=4 * se)
    assert checks[0].patients == 4000


def test_an_upper_bound_fails_only_when_the_model_survives_better():
    t = load_targets()["pokeerbux2019.ssc.survival_5y_given_5y"]
    assert t.bound == "upper"
    below = TargetCheck(t, True, "", 0.80, 0.76, 0.83, 100)   # model lower: consistent
    assert below.flag == "consistent"
    above = TargetCheck(t, True, "", 0.90, 0.86, 0.93, 100)
    assert above.flag == "inconsistent" and above.counts


def test_facts_whose_source_the_priors_use_are_flagged_and_never_count(base_checks):
    for name in ("dobloug2018.iim.survival_5y", "muller2024.all.drug_free_15_months",
                 "nordmann_gomes2025.sle.treatment_deaths"):
        c = base_checks[name]
        assert not c.independent and c.why_not_independent
        assert not c.counts
    assert base_checks["kasitanon2006.sle.survival_10y"].independent


def test_independence_follows_the_scenarios_own_priors():
    s = cartsim.load_scenario(BASE)
    target = load_targets()["kasitanon2006.sle.survival_10y"]
    assert independence(target, s) == ""
    cited = dataclasses.replace(target, used_by_priors=("mortality.sle.smr",))
    assert "mortality.sle.smr" in independence(cited, s)
    # A prior whose source cites the fact's first author and year is not independent either.
    p = s.parameters["mortality.sle.smr"]
    citing = dataclasses.replace(s, parameters={
        **s.parameters, "mortality.sle.smr": dataclasses.replace(
            p, source=p.source + " Cf. Kasitanon et al. 2006.")})
    assert "Kasitanon 2006" in independence(target, citing)


def test_the_predictive_interval_is_the_binomial_of_the_targets_n_at_the_simulated_share():
    target = dataclasses.replace(load_targets()["kasitanon2006.sle.survival_10y"], n=100,
                                 lower=None, upper=None)
    low, high, why = _interval(target, 5_000_000.0, 10_000_000, Streams(1, 0))
    exact = stats.binom.ppf([0.025, 0.975], 100, 0.5) / 100
    assert why == "" and (low, high) == (exact[0], exact[1])
    with_ci = dataclasses.replace(target, n=None, lower=0.4, upper=0.6)
    low, high, _ = _interval(with_ci, 5_000_000.0, 10_000_000, Streams(1, 0))
    se = 1.0 / (PREDICTIVE_DRAWS ** 0.5) * 0.1  # MC error of a quantile, generously
    assert low == pytest.approx(0.4, abs=4 * se) and high == pytest.approx(0.6, abs=4 * se)
    neither = dataclasses.replace(target, n=None)
    assert _interval(neither, 5.0, 10, Streams(1, 0))[2]


def test_treatment_related_death_at_5_percent_fails_an_independent_safety_fact(base_checks):
    fact = "kattamuri2025.all.fatal_adverse_events"
    assert base_checks[fact].flag == "consistent" and base_checks[fact].independent
    s = cartsim.load_scenario(BASE, ["car_t.treatment_death=0.05"])
    high = {c.target.id: c for c in check_targets(s, patients=PATIENTS, seed=20240601)}
    assert high[fact].flag == "inconsistent" and high[fact].counts


def test_survival_facts_are_compared_whatever_the_scenarios_cohort():
    """sle.toml has only SLE patients, yet an SSc survival fact is simulated in its own
    population; a CAR-T fact of a disease without patients says so."""
    s = cartsim.load_scenario(ROOT / "scenarios" / "sle.toml")
    checks = {c.target.id: c for c in check_targets(s, patients=300, seed=1)}
    assert checks["pokeerbux2019.ssc.survival_5y_given_5y"].flag != "not compared"
    assert "age and sex" in checks["schiopu2012.iim.survival_5y"].reason


def test_a_check_counts_for_strict_only_when_independent_and_inconsistent():
    t = load_targets()["kasitanon2006.sle.survival_10y"]
    outside = TargetCheck(t, True, "", 0.5, 0.4, 0.6, 100)
    assert outside.flag == "inconsistent" and outside.counts
    assert not dataclasses.replace(outside, independent=False).counts
    assert not dataclasses.replace(outside, low=0.9, high=0.95).counts


DURABLE = "cccar2024.sle.medication_free_up_to_46_months"


def test_remission_among_responders_is_certain_without_relapse_or_death():
    """The source counts remission among responders: with no relapse and no death every
    simulated responder is drug-free at any follow-up (the share of ALL infused patients
    would be the response probability instead)."""
    s = cartsim.load_scenario(BASE, [
        "car_t.relapse.rate=0", "car_t.treatment_death=0", 'run.life_table="none"',
        "run.horizon=10",
        "cancer.incidence_scale=0", "car_t.t_cell_malignancy.probability=0"])
    targets = ValidationTargets("t", (load_targets()[DURABLE],))
    (check,) = check_targets(s, patients=600, seed=3, targets=targets)
    assert check.simulated == 1.0 and check.flag == "consistent"
    assert "responders" in check.compared_in


def test_an_implausible_relapse_rate_fails_the_independent_durability_fact(base_checks):
    """12 of 12 responders drug-free over follow-ups of 6-46 months (a BCMA-CD19 series the
    relapse prior does not use): met at the base relapse rate, not at 1 relapse a year."""
    assert base_checks[DURABLE].flag == "consistent" and base_checks[DURABLE].independent
    s = cartsim.load_scenario(BASE, ["car_t.relapse.rate=1.0"])
    targets = ValidationTargets("t", (load_targets()[DURABLE],))
    (check,) = check_targets(s, patients=PATIENTS, seed=20240601, targets=targets)
    assert check.flag == "inconsistent" and check.counts


# --- annual costs: a plausibility check ------------------------------------------------


def test_annual_cost_per_patient_year_is_the_runs_cost_over_its_life_years():
    """Over the whole (10-year) run the annual cost of a disease's patients is their
    undiscounted cost over their undiscounted life-years, as the run values them (a
    second code path: equal to 1e-9)."""
    s = cartsim.load_scenario(BASE, ["run.horizon=10"])
    target = dataclasses.replace(
        load_targets()["khanna2023.ssc.annual_cost_year_after_diagnosis"], horizon_years=10)
    result = run_scenario(s, patients=300, seed=4, keep_logs=True, curves=False)
    got = check_cost(target, result)
    out = result.outcomes["immunosuppression"]
    ssc = np.asarray(result.cohort.group) == "ssc"
    expected = out["cost_undisc"][ssc].sum() / out["ly_undisc"][ssc].sum()
    assert got.simulated == pytest.approx(expected, rel=1e-9)
    assert (got.low, got.high) == pytest.approx((target.value / 1.5, target.value * 1.5))


def test_costs_are_judged_plausible_or_not_and_never_count_for_strict(base_checks):
    for c in base_checks.values():
        if c.target.kind in ("annual_cost", "cost_ratio"):
            assert c.flag in ("plausible", "implausible", "not compared") and not c.counts
    commercial = base_checks["clarke2020.sle.annual_cost_moderate_severe_commercial"]
    assert commercial.flag in ("plausible", "implausible")
    assert commercial.target.excludes == ("drugs", "immunoglobulin")
    euros = base_checks["erlangen2025.sle.annual_cost_before_car_t"]
    assert euros.flag == "not compared" and "EUR" in euros.reason
    ratio = base_checks["erlangen2025.sle.cost_ratio_after_vs_before"]
    assert 0 < ratio.simulated < 1 and not ratio.independent


def test_leaving_out_drugs_lowers_the_annual_cost_by_exactly_the_drug_costs():
    s = cartsim.load_scenario(BASE, ["run.horizon=3"])
    result = run_scenario(s, patients=200, seed=2, keep_logs=True, curves=False)
    fact = load_targets()["wu2023.sle.annual_sle_related_cost_severe_commercial"]
    all_in = check_cost(fact, result).simulated
    no_drugs = check_cost(dataclasses.replace(fact, excludes=("drugs",)), result).simulated
    only = check_cost(dataclasses.replace(fact, excludes=tuple(
        c for c in COST_CATEGORIES if c != "drugs")), result).simulated
    assert all_in == pytest.approx(no_drugs + only, rel=1e-9) and only > 0
