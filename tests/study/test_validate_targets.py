"""Validation against held-out published facts (issue 12, item 4)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from scipy import stats

import cartsim
from cartsim.params.validation_targets import load_targets
from cartsim.rng import Streams
from cartsim.study.validate_targets import (
    PREDICTIVE_DRAWS,
    TargetCheck,
    _interval,
    check_targets,
    independence,
)

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
        assert c.flag in ("consistent", "inconsistent", "not compared")
        if c.flag == "not compared":
            assert c.reason
        else:
            assert 0 <= c.low <= c.high <= 1 and 0 <= c.simulated <= 1
            assert c.target.horizon_years > 0 and c.target.source


def test_at_least_three_independent_sources_including_long_horizon_survival(base_checks):
    compared = [c for c in base_checks.values() if c.independent and c.flag != "not compared"]
    sources = {c.target.source for c in compared}
    assert len(sources) >= 3
    long_survival = {c.target.disease for c in compared
                     if c.target.kind == "survival" and c.target.horizon_years >= 10}
    assert long_survival == {"sle", "iim", "ssc"}


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


def test_costs_are_shown_but_not_compared_and_a_missing_disease_is_said():
    s = cartsim.load_scenario(ROOT / "scenarios" / "sle.toml")
    checks = {c.target.id: c for c in check_targets(s, patients=300, seed=1)}
    assert "annual costs" in checks["clarke2020.sle.annual_cost_moderate_severe_commercial"].reason
    assert "no iim patients" in checks["schiopu2012.iim.survival_5y"].reason


def test_a_check_counts_for_strict_only_when_independent_and_inconsistent():
    t = load_targets()["kasitanon2006.sle.survival_10y"]
    outside = TargetCheck(t, True, "", 0.5, 0.4, 0.6, 100)
    assert outside.flag == "inconsistent" and outside.counts
    assert not dataclasses.replace(outside, independent=False).counts
    assert not dataclasses.replace(outside, low=0.9, high=0.95).counts
