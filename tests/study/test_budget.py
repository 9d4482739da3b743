"""Budget impact: the arithmetic by hand, a closed-form budget through the study and the
command line, and the [budget] table's validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartsim.analysis.budget import (
    eligible_patients,
    newly_treated,
    per_member_per_month,
    yearly_spend,
)
from cartsim.errors import ScenarioError
from cartsim.params.population import population_data
from cartsim.scenario.load import load_scenario
from cartsim.study.budget import budget

PRICE, C_NEW, C_OLD, ELIGIBLE = 100_000.0, 2_000.0, 30_000.0, 1_000.0
UPTAKE = (0.1, 0.2, 0.3)

CONSTANT = f"""\
model = "custom"
[run]
patients = 50
seed = 3
horizon = 10
discount = {{ costs = 0.03, outcomes = 0.03 }}
life_table = "none"
comparator = "old"
[strategies.old]
start = "alive"
[strategies.old.states.alive]
utility = 0.6
cost = {{ drugs = {C_OLD} }}
[strategies.new]
start = "alive"
upfront_cost = {{ product = {PRICE} }}
[strategies.new.states.alive]
utility = 0.8
cost = {{ monitoring = {C_NEW} }}
[budget]
population = "plan"
plan_members = 500000
years = 3
uptake = {list(UPTAKE)}
[budget.all]
eligible = {ELIGIBLE}
"""


def test_budget_arithmetic_by_hand():
    assert eligible_patients(340_100_000, 72.8, 0.10, 0.50) == pytest.approx(12_379.64)
    assert newly_treated(1000.0, UPTAKE).tolist() == pytest.approx([100.0, 200.0, 300.0])
    # Treated 100, 200, 300; a patient costs 10 in its first year and 1 after.
    spend = yearly_spend([100.0, 200.0, 300.0], [10.0, 1.0, 1.0])
    assert spend.tolist() == [1000.0, 100.0 + 2000.0, 100.0 + 200.0 + 3000.0]
    # Categories are kept; a curve shorter than the horizon costs nothing after it.
    two = yearly_spend([1.0, 1.0, 1.0], [[5.0, 1.0]])
    assert two.tolist() == [[5.0, 1.0], [5.0, 1.0], [5.0, 1.0]]
    short = yearly_spend([1.0, 0.0, 0.0], [7.0])
    assert short.tolist() == [7.0, 0.0, 0.0]
    assert per_member_per_month([600_000.0], 50_000).tolist() == [1.0]
    with pytest.raises(ValueError, match="members"):
        per_member_per_month([1.0], 0)


@given(st.lists(st.floats(0.0, 1e4), min_size=1, max_size=5),
       st.lists(st.floats(0.0, 1e5), min_size=1, max_size=6))
def test_spend_is_linear_and_adds_up(treated, curve):
    """Total spend over the horizon = sum_y T_y x (cost of the years left to that cohort)."""
    spend = yearly_spend(treated, curve)
    years = len(treated)
    c = np.zeros(years)
    c[:min(years, len(curve))] = curve[:years]
    expected = math.fsum(t * math.fsum(c[:years - y]) for y, t in enumerate(treated))
    assert math.fsum(spend.tolist()) == pytest.approx(expected, rel=1e-9, abs=1e-6)
    assert yearly_spend([2 * t for t in treated], curve) == pytest.approx(2 * spend)


def test_closed_form_budget_constant_costs_known_uptake(write_toml):
    """No deaths within 10 years, constant yearly costs: current = c_old x cumulative
    treated; new = price x newly treated + c_new x cumulative treated (exact)."""
    result = budget(load_scenario(write_toml(CONSTANT, "constant.toml")))
    treated = np.array(UPTAKE) * ELIGIBLE
    cumulative = np.cumsum(treated)
    np.testing.assert_allclose(result.current.sum(axis=1), C_OLD * cumulative, rtol=1e-9)
    new = PRICE * treated + C_NEW * cumulative
    np.testing.assert_allclose(result.new["new"].sum(axis=1), new, rtol=1e-9)
    np.testing.assert_allclose(result.impact, new - C_OLD * cumulative, rtol=1e-9)
    summary = result.table("budget_summary")
    pmpm = summary.column("impact_pmpm")
    np.testing.assert_allclose(pmpm, (new - C_OLD * cumulative) / (500_000 * 12), rtol=1e-9)
    rows = [dict(zip(result.table("budget").columns, r, strict=True))
            for r in result.table("budget").rows]
    product = [r["amount"] for r in rows if r["world"] == "new" and r["strategy"] == "new"
               and r["category"] == "product"]
    np.testing.assert_allclose(product, PRICE * treated, rtol=1e-9)


def test_budget_cli_writes_its_tables_and_check_validates_budget(cli, write_toml, tmp_path,
                                                                 read_csv):
    path = write_toml(CONSTANT, "constant.toml")
    out = tmp_path / "budget"
    result = cli(["budget", path, "--out", out, "--psa-draws", "2"])
    assert result.exit_code == 0, result.output
    assert "impact_pmpm" in result.output
    for name in ("budget_summary", "budget", "budget_population", "budget_uptake"):
        assert (out / f"{name}.csv").is_file()
    rows = read_csv(out / "budget_summary.csv")
    assert [int(r["year"]) for r in rows] == [1, 2, 3]
    assert all(r["impact_low"] != "NA" for r in rows)
    report = cli(["report", out, "-q"])
    assert report.exit_code == 0, report.output
    assert (out / "plots" / "budget_impact.png").is_file()
    bad = CONSTANT.replace("years = 3", "years = 7").replace("[budget.all]", "[budget.al]")
    checked = cli(["check", write_toml(bad, "bad.toml")])
    assert checked.exit_code == 2
    assert "budget.years" in checked.output and "budget.al" in checked.output
    assert "Traceback" not in checked.output


def test_every_bad_budget_setting_is_reported_at_once(write_toml):
    text = CONSTANT.replace('population = "plan"', 'population = "mars"').replace(
        f"uptake = {list(UPTAKE)}", "uptake = [0.6, 0.6, 0.1]\nmix = { old = 1.0 }").replace(
        f"eligible = {ELIGIBLE}", "eligible = -4")
    with pytest.raises(ScenarioError) as err:
        load_scenario(write_toml(text, "bad.toml"))
    paths = {p.path for p in err.value.problems}
    assert {"budget.population", "budget.uptake", "budget.mix.old", "budget.all.eligible"} <= paths


def test_shipped_population_figures_are_sourced_and_base_case_budget_runs(cli, tmp_path):
    data = population_data()
    assert set(data.diseases) == {"sle", "iim", "ssc"}
    for figures in data.diseases.values():
        for f in figures.values():
            assert f.source and f.status in ("R", "S", "U", "E")
    assert len(data.uptake) == 5 and sum(data.uptake) <= 1.0
    out = tmp_path / "base_budget"
    result = cli(["budget", "scenarios/base.toml", "--patients", "300", "--out", out, "-q"])
    assert result.exit_code == 0, result.output
    summary = (out / "budget_summary.csv").read_text(encoding="utf-8").splitlines()
    assert len(summary) == 6
