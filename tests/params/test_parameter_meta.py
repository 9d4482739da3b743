"""Cost metadata of a parameter: what it includes, its price year and inflation; and
whether a point value is its distribution's mean."""

import tomllib
from pathlib import Path

import pytest

from cartsim.checks import Problems
from cartsim.params.parameter import parse_parameter
from cartsim.params.reference_tables import cpi_medical_care
from cartsim.scenario.load import build_scenario


def parse(raw, kind="cost", target_year=2024):
    problems = Problems()
    p = parse_parameter(raw, "costs.x", kind, problems, target_year=target_year)
    return p, problems


def test_cost_with_price_year_is_inflated_by_the_cpi_ratio_value_and_draws_alike():
    cpi = cpi_medical_care()
    p, problems = parse({"value": 1000.0, "dist": "gamma", "mean": 1000.0, "se": 100.0,
                         "price_year": 2017, "includes": ["drugs", "hospital"]})
    assert not problems
    ratio = cpi[2024] / cpi[2017]
    assert p.value == pytest.approx(1000.0 * ratio, rel=1e-12)
    assert p.given_value == 1000.0 and p.price_year == 2017
    assert p.inflation == pytest.approx(ratio, rel=1e-12)
    # PSA draws multiply the distribution's quantiles by factor: the mean is inflated too.
    assert p.distribution.mean * p.factor == pytest.approx(p.value, rel=1e-12)
    assert p.includes == ("drugs", "hospital")


def test_cost_in_the_run_price_year_or_without_one_is_not_inflated():
    assert parse({"value": 5.0, "price_year": 2024})[0].value == 5.0
    p = parse({"value": 5.0})[0]
    assert p.value == 5.0 and p.price_year is None and p.inflation == 1.0


@pytest.mark.parametrize(("raw", "where"), [
    ({"value": 1.0, "includes": ["flare"]}, r"costs\.x\.includes\.0"),
    ({"value": 1.0, "includes": "drugs"}, r"costs\.x\.includes"),
    ({"value": 1.0, "price_year": 1990}, r"costs\.x\.price_year"),
    ({"value": 1.0, "price_year": "2019"}, r"costs\.x\.price_year"),
])
def test_bad_cost_metadata_is_reported_with_its_dotted_key(raw, where):
    p, problems = parse(raw)
    assert p is None
    assert any(__import__("re").fullmatch(where, pr.path) for pr in problems)


def test_only_a_cost_has_includes_or_a_price_year():
    p, problems = parse({"value": 0.1, "price_year": 2020}, kind="rate")
    assert p is None and problems


def test_point_status_flags_a_point_value_that_is_not_the_mean():
    assert parse({"value": 10.0, "dist": "gamma", "mean": 10.0, "se": 1.0})[0].point_status() \
        == "mean"
    assert parse({"value": 10.0})[0].point_status() == "fixed"
    off = parse({"value": 12.0, "dist": "gamma", "mean": 10.0, "se": 1.0})[0]
    assert off.point_status() == "DIFFERS: no reason given"
    why = parse({"value": 12.0, "dist": "gamma", "mean": 10.0, "se": 1.0,
                 "point_note": "list price, the PSA spreads discounts"})[0]
    assert why.point_status() == "differs: list price, the PSA spreads discounts"


def test_custom_model_costs_are_inflated_to_the_run_price_year_like_clinical_ones():
    """A custom model's cost with a price_year is inflated to run.price_year by the same CPI
    ratio (it used to be recorded and left uninflated)."""
    text = """
model = "custom"
[run]
price_year = 2024
life_table = "none"
horizon = 10
comparator = "a"
[strategies.a]
start = "s"
[strategies.a.states.s]
utility = 0.7
cost = { drugs = { value = 1000, price_year = 2019 } }
death = { rate = 0.05 }
"""
    scenario = build_scenario(tomllib.loads(text), "s.toml", "s", Path())
    p = scenario.parameters["strategies.a.states.s.cost.drugs"]
    cpi = cpi_medical_care()
    assert p.price_year == 2019
    assert p.value == pytest.approx(1000.0 * cpi[2024] / cpi[2019], rel=1e-12)
