"""Simulated case series: composition, truncation at follow-up, known values, reproducibility."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from cartsim.errors import SimulationError, UsageError
from cartsim.params.evidence import current_evidence, load_evidence, use_evidence
from cartsim.scenario.clinical_schema import PARAMETER_BY_NAME
from cartsim.scenario.load import load_scenario
from cartsim.study.validate import FACTS, validate_case_series

ROOT = Path(__file__).resolve().parents[2]
SERIES = ROOT / "scenarios" / "case_series.toml"
SHIPPED_TEXT = (ROOT / "cartsim" / "data" / "case_series.toml").read_text(encoding="utf-8")
# No death before B-cell recovery: no life table, no cancers, no treatment deaths.
NO_DEATH = ("run.life_table=\"none\"", "run.horizon=10", "car_t.treatment_death=0",
            "cancer.incidence_scale=0", "car_t.t_cell_malignancy.probability=0")


def facts(result):
    return {f.fact.key: f for f in result.facts}


def test_every_fact_names_a_record_and_real_parameters():
    evidence = current_evidence()
    assert {f.item for f in FACTS} == set(range(1, 10))      # PARAMETERS.md §7 items 1-9
    for fact in FACTS:
        assert fact.evidence in evidence.records
        assert all(d in PARAMETER_BY_NAME or d == "relapse" for d in fact.drivers), fact.key
        assert (fact.measure is None) == bool(fact.reason)


def test_every_series_has_the_reported_composition_even_when_manufacturing_fails():
    """Conditioning on infusion: with half the products failing and CRS grade 1 certain,
    each of the 300 series still has exactly 15 infused patients, all with CRS."""
    s = load_scenario(SERIES, ["car_t.manufacturing.failure=0.5", "car_t.crs.grade_1=1",
                               "car_t.crs.grade_2=0", "car_t.crs.grade_3=0",
                               "car_t.response.sle=1", "car_t.response.iim=1",
                               "car_t.response.ssc=1", *NO_DEATH])
    result = validate_case_series(s, replicates=300, seed=5)
    f = facts(result)
    assert result.composition == {"sle": 8, "iim": 3, "ssc": 4}
    assert np.all(f["crs_any_grade"].simulated == 15)
    assert np.all(f["crs_grade_2_plus"].simulated == 0)
    for d, k in result.composition.items():
        assert np.all(f[f"response_{d}"].simulated == k)
    assert np.all(f["deaths_any_cause"].simulated == 0)
    follow = result.follow_up_years * 12
    assert follow.shape == (300, 15) and follow.min() >= 4 and follow.max() <= 29


def test_no_infusion_at_all_is_a_clear_simulation_error():
    s = load_scenario(SERIES, ["car_t.manufacturing.failure=1"])
    with pytest.raises(SimulationError, match=r"manufacturing\.failure"):
        validate_case_series(s, replicates=10)


def test_probabilities_per_series_match_binomial_means():
    """Without deaths before response, responders in a series are Binomial(k, p) and
    patients with CRS Binomial(15, sum of grade probabilities): means within 4 SE."""
    s = load_scenario(SERIES, list(NO_DEATH))
    reps = 2000
    f = facts(validate_case_series(s, replicates=reps, seed=11))
    p = {k: v.value for k, v in s.parameters.items()}
    crs = sum(p[f"car_t.crs.grade_{g}"] for g in (1, 2, 3))
    expected = {"response_sle": (8, p["car_t.response.sle"]),
                "response_iim": (3, p["car_t.response.iim"]),
                "response_ssc": (4, p["car_t.response.ssc"]),
                "crs_any_grade": (15, crs),
                "crs_grade_2_plus": (15, p["car_t.crs.grade_2"] + p["car_t.crs.grade_3"]),
                "icans_any_grade": (15, p["car_t.icans.grade_1_2"] + p["car_t.icans.grade_3_4"])}
    for key, (n, prob) in expected.items():
        se = math.sqrt(n * prob * (1 - prob) / reps)
        assert abs(f[key].check.mean - n * prob) <= 4 * se, key


def test_infections_are_counted_only_within_each_patients_follow_up(tmp_path):
    """Follow-up fixed near 12 months (Triangular(11.9, 12, 12.1), mean exactly 1 year), all
    respond, no relapse: infections per patient = early p + aplasia rate x 0.2 y + remission
    rate x (F - 0.2 y) -> 0.2 + 0.2 + 2.0 x 0.8 = 2.0, so 30 per series. Counting whole
    remission stays up to the end of the simulation (about 1.3 years here) gives about 36."""
    old = "median = 15\nlow = 4\nhigh = 29\n"
    assert old in SHIPPED_TEXT
    path = tmp_path / "evidence.toml"
    path.write_text(SHIPPED_TEXT.replace(old, "median = 12\nlow = 11.9\nhigh = 12.1\n"),
                    encoding="utf-8")
    overrides = [*NO_DEATH, "car_t.response.sle=1", "car_t.response.iim=1",
                 "car_t.response.ssc=1", "car_t.relapse.rate=0", "car_t.early_infection=0.2",
                 "car_t.aplasia.infections=1.0", "car_t.aplasia.time=73.05",
                 "car_t.remission.infections=2.0"]
    reps = 2000
    with use_evidence(load_evidence(path)):
        s = load_scenario(SERIES, overrides)
        assert s.parameters["car_t.aplasia.time"].value == pytest.approx(0.2, rel=1e-12)
        f = facts(validate_case_series(s, replicates=reps, seed=3))
    totals = f["infection_admissions"].simulated
    assert abs(totals.mean() - 30.0) <= 4 * totals.std(ddof=1) / math.sqrt(reps)


def test_same_seed_same_results_and_another_seed_differs():
    s = load_scenario(SERIES)
    a, b = (validate_case_series(s, replicates=200, seed=42) for _ in range(2))
    c = validate_case_series(s, replicates=200, seed=43)
    for fa, fb in zip(a.facts, b.facts, strict=True):
        assert fa.flag == fb.flag
        if fa.simulated is not None:
            assert np.array_equal(fa.simulated, fb.simulated)
    assert np.array_equal(a.follow_up_years, b.follow_up_years)
    assert not np.array_equal(a.follow_up_years, c.follow_up_years)


def test_parameter_uncertainty_draws_each_series_its_own_values():
    """Fixing response at 1 makes response certain even with every other input drawn."""
    s = load_scenario(SERIES, ["car_t.response.sle=1", *NO_DEATH])
    a = validate_case_series(s, replicates=25, seed=9, uncertainty=True)
    b = validate_case_series(s, replicates=25, seed=9, uncertainty=True)
    assert np.all(facts(a)["response_sle"].simulated == 8)
    crs = facts(a)["crs_any_grade"].simulated
    assert np.array_equal(crs, facts(b)["crs_any_grade"].simulated)
    assert a.uncertainty and a.replicates == 25


def test_custom_models_and_bad_replicate_counts_are_refused(tmp_path, kv_text):
    path = tmp_path / "kv.toml"
    path.write_text(kv_text, encoding="utf-8")
    with pytest.raises(UsageError, match="cart_vs_is"):
        validate_case_series(load_scenario(path), replicates=10)
    with pytest.raises(UsageError, match="replicates"):
        validate_case_series(load_scenario(SERIES), replicates=0)


CURE_CHOICE = """
[[structural]]
key = "car_t.relapse.model"
rationale = "test: every draw takes the cure-fraction shape"
[structural.options.cure_fraction]
weight = 1.0
cure_fraction = { value = 0.5, dist = "beta", alpha = 5, beta = 5, source = "t" }
rate = { value = 0.10, per = "year", dist = "gamma", mean = 0.10, se = 0.03, source = "t" }
"""


def test_parameter_uncertainty_takes_each_draws_structural_option(tmp_path):
    """With --uncertainty replicate k is PSA draw k, its relapse shape included: a choice
    whose cure-fraction option has weight 1 gives the series of relapse_cure.toml, which
    fixes that shape (the choice was once ignored: constant relapse in every series)."""
    base = (ROOT / "scenarios" / "base.toml").as_posix()
    path = tmp_path / "cure.toml"
    path.write_text(f'extends = "{base}"\n{CURE_CHOICE}', encoding="utf-8")
    chosen = load_scenario(path)
    fixed = load_scenario(ROOT / "scenarios" / "relapse_cure.toml")
    plain = load_scenario(base)
    runs = [validate_case_series(s, replicates=30, seed=5, uncertainty=True,
                                 held_out_patients=0) for s in (chosen, fixed, plain)]
    a, b, c = (facts(r)["relapses"].simulated for r in runs)
    assert np.array_equal(a, b)
    assert np.array_equal(facts(runs[0])["drug_free_at_last_follow_up"].simulated,
                          facts(runs[1])["drug_free_at_last_follow_up"].simulated)
    assert a.sum() > c.sum()  # the uncured relapse at 0.10/yr, not base's mixture
