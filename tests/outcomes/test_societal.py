"""The societal perspective: productivity and caregiver costs by hand and in closed form,
absent under a payer's perspective, and the [societal] table's validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cartsim.errors import ScenarioError
from cartsim.scenario.load import load_scenario
from cartsim.scenario.societal import is_societal
from cartsim.study.run import run

R, MU, H = 0.03, 0.05, 10.0
EARN, EMP, LOSS, LOSS_REM = 50_000.0, 0.8, 0.5, 0.1
HOURS, HOURS_REM, WAGE = 200.0, 20.0, 20.0

SOCIETAL = f"""\
model = "custom"
[run]
patients = 4000
seed = 9
horizon = {H}
discount = {{ costs = {R}, outcomes = {R}, convention = "continuous" }}
life_table = "none"
comparator = "old"
perspective = "societal"
[strategies.old]
start = "sick"
[strategies.old.states.sick]
utility = 0.6
cost = {{ drugs = 1000 }}
death = {{ rate = {MU} }}
[strategies.new]
start = "well"
upfront_cost = {{ product = 50000 }}
[strategies.new.states.well]
utility = 0.8
remission = true
death = {{ rate = {MU} }}
[societal]
earnings = {{ value = {EARN}, price_year = 2024 }}
employment = {EMP}
retirement_age = 90
work_loss_active = {LOSS}
work_loss_remission = {LOSS_REM}
caregiver_hours_active = {HOURS}
caregiver_hours_remission = {HOURS_REM}
caregiver_wage = {{ value = {WAGE}, price_year = 2024 }}
"""


def disc(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    return (np.exp(-R * np.asarray(a)) - np.exp(-R * np.asarray(b))) / R


def test_perspective_words():
    assert is_societal("societal") and is_societal("US Societal")
    assert not is_societal("US healthcare payer") and not is_societal("NHS and PSS")
    assert is_societal("modified societal (ICER)") and is_societal("societal, US 2024")
    # a negated or embedded word is not a societal perspective
    for text in ("non-societal", "Non societal payer", "not societal", "no societal costs",
                 "health system, without societal costs", "excluding societal", "asocietal"):
        assert not is_societal(text), text


def test_productivity_and_caregiver_per_patient_and_in_closed_form(write_toml):
    """Work lost at the state's share while alive, all of it after death to the horizon
    (retirement at 90 is beyond it); caregiver hours while alive. Per patient exactly, and
    the means at 4 SE of E = e·emp·[D(0,H) − (1 − loss)(1 − e^{−(μ+r)H})/(μ+r)]."""
    result = run(load_scenario(write_toml(SOCIETAL, "societal.toml")))
    age = np.asarray(result.cohort.age)
    assert np.all(age + H < 90)
    for s, loss, hours in (("old", LOSS, HOURS), ("new", LOSS_REM, HOURS_REM)):
        cols = result.outcomes[s].columns
        t = cols["end_time"]
        died = cols["died"] == 1
        expected = EARN * EMP * (loss * disc(0.0, t) + np.where(died, disc(t, H), 0.0))
        np.testing.assert_allclose(cols["cost_productivity"], expected, rtol=1e-9)
        np.testing.assert_allclose(cols["cost_caregiver"], hours * WAGE * disc(0.0, t),
                                   rtol=1e-9)
        np.testing.assert_allclose(
            cols["cost_productivity_undisc"],
            EARN * EMP * (loss * t + np.where(died, H - t, 0.0)), rtol=1e-9)
        k = MU + R
        truth = EARN * EMP * (float(disc(0.0, H)) - (1 - loss) * (1 - math.exp(-k * H)) / k)
        x = cols["cost_productivity"]
        se = float(np.std(x, ddof=1)) / math.sqrt(x.size)
        assert abs(float(x.mean()) - truth) <= 4 * se
        # The societal categories are in the total.
        payer = sum(cols[k_] for k_ in cols if k_.startswith("cost_") and not
                    k_.endswith("_undisc") and k_ not in ("cost_productivity", "cost_caregiver"))
        np.testing.assert_allclose(cols["cost"], payer + cols["cost_productivity"]
                                   + cols["cost_caregiver"], rtol=1e-12)
    costs = result.table("costs")
    cats = set(costs.column("category"))
    assert {"productivity", "caregiver"} <= cats
    names = [r[0] for r in result.table("parameters").rows]
    assert "societal.earnings" in names


def test_payer_perspective_has_no_societal_columns_rows_or_parameters(write_toml):
    text = SOCIETAL.replace('perspective = "societal"', 'perspective = "US healthcare payer"')
    text = text[:text.index("[societal]")]
    result = run(load_scenario(write_toml(text, "payer.toml")), patients=200)
    assert "cost_productivity" not in result.outcomes["old"].columns
    assert not {"productivity", "caregiver"} & set(result.table("costs").column("category"))
    assert not any(r[0].startswith("societal.") for r in result.table("parameters").rows)


def test_societal_inputs_are_validated(write_toml):
    payer = SOCIETAL.replace('perspective = "societal"', 'perspective = "payer"')
    with pytest.raises(ScenarioError) as err:
        load_scenario(write_toml(payer, "payer.toml"))
    assert "societal" in {p.path for p in err.value.problems}
    bad = SOCIETAL.replace(f"employment = {EMP}", "employment = 1.5\nwages = 3")
    with pytest.raises(ScenarioError) as err:
        load_scenario(write_toml(bad, "bad.toml"))
    assert {"societal.employment", "societal.wages"} <= {p.path for p in err.value.problems}


def test_societal_columns_agree_between_the_engines_in_chunks(monkeypatch):
    """The compiled engine reads societal costs from its own log, in every chunk, and
    adds them to the totals as the simpy engine's valuation does (to 1e-12)."""
    import cartsim
    from cartsim.study import runner

    monkeypatch.setattr(runner, "RUN_CHUNK", 67)
    scenario = cartsim.load_scenario("scenarios/societal.toml")
    ours = cartsim.run_scenario(scenario, patients=150, seed=5, keep_logs=False)
    ref = cartsim.run_scenario(scenario, patients=150, seed=5, engine="simpy", keep_logs=False)
    for s, outcomes in ref.outcomes.items():
        assert list(ours.outcomes[s].columns) == list(outcomes.columns)
        assert "cost_productivity" in outcomes.columns
        for name, values in outcomes.columns.items():
            np.testing.assert_allclose(ours.outcomes[s].columns[name], values, rtol=1e-12,
                                       atol=1e-9, err_msg=f"{s}.{name}")
