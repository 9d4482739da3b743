"""Threshold analysis over PSA draws (`cartsim threshold --psa-draws`)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import cartsim
from cartsim.cli import main
from cartsim.psa import run_psa
from cartsim.threshold_draws import (
    ABOVE,
    BELOW,
    ROOT,
    censored_quantile,
    summarise_threshold_draws,
    threshold_draws,
)

PRICE = "strategies.cart.upfront_cost.product"
SCENARIO = """
model = "custom"
[run]
seed = 11
life_table = "none"
wtp = [50000, 100000]
comparator = "is"
discount = { costs = 0.035, outcomes = 0.035, convention = "continuous" }
[strategies.is]
start = "on_is"
[strategies.is.states.on_is]
utility = { value = 0.6, dist = "beta", mean = 0.6, se = 0.05 }
cost = { drugs = { value = 20000, dist = "gamma", mean = 20000, se = 4000 } }
death = { rate = 0.04 }
[strategies.cart]
start = "remission"
upfront_cost = { product = { value = 350000, dist = "gamma", mean = 350000, se = 50000 } }
[strategies.cart.states.remission]
utility = 0.85
cost = { monitoring = 2000 }
death = { rate = 0.015 }
[strategies.cart.states.remission.transitions.relapse]
to = "on_is"
rate = { value = 0.1, dist = "gamma", mean = 0.1, se = 0.03 }
[strategies.cart.states.on_is]
utility = 0.6
cost = { drugs = 20000 }
death = { rate = 0.04 }
"""


@pytest.fixture
def scenario(tmp_path: Path) -> cartsim.scenario.model.Scenario:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return cartsim.load_scenario(path)


def closed_form_roots(s, draws: int, patients: int) -> dict[tuple[int, float], float]:
    """Price enters linearly: every patient pays it once at t = 0, undiscounted, so in draw
    k the root is price_k + INMB_k(price_k) / 1, with INMB_k from the PSA run of draw k
    (same values, same random numbers)."""
    res = run_psa(s, draws=draws, patients=patients)
    c, q = res.matrix("cost"), res.matrix("qaly")
    i, j = res.strategies.index("cart"), res.strategies.index("is")
    return {(k + 1, w): float(res.draws.values[PRICE][k] + w * (q[k, i] - q[k, j])
                              - (c[k, i] - c[k, j]))
            for k in range(draws) for w in s.run.wtp}


def test_per_draw_root_of_a_price_is_its_closed_form(scenario):
    """Each draw's threshold price equals price_k + INMB_k within the root finder's
    tolerance, and drawn_value is the draw's own price."""
    result = threshold_draws(scenario, PRICE, wtp=scenario.run.wtp, draws=8, patients=120,
                             lower=0, upper=2e6)
    expected = closed_form_roots(scenario, 8, 120)
    psa_prices = run_psa(scenario, draws=8, patients=10).draws.values[PRICE]
    assert len(result.rows) == 16
    for r in result.rows:
        assert r.status == ROOT
        assert abs(r.value - expected[r.draw, r.wtp]) <= 1e-10 * 2e6 + 1e-9 * r.value
        assert r.drawn_value == psa_prices[r.draw - 1]


def test_draws_without_a_root_are_placed_beyond_the_right_end(scenario):
    """With a narrow bracket some draws have no root: INMB falls with the price, so a draw
    cost-effective at the upper end has its threshold above it, and one not cost-effective
    at the lower end below it. The summary counts them, and its type-7 quantiles equal the
    closed-form roots' quantiles whenever they do not depend on a draw beyond the
    bracket (then NA)."""
    draws, lower, upper = 40, 250_000, 400_000
    result = threshold_draws(scenario, PRICE, wtp=[100000], draws=draws, patients=60,
                             lower=lower, upper=upper)
    expected = closed_form_roots(scenario, draws, 60)
    for r in result.rows:
        truth = expected[r.draw, 100000.0]
        want = ABOVE if truth > upper else BELOW if truth < lower else ROOT
        assert r.status == want
        if want == ABOVE:
            assert r.inmb_lower > r.inmb_upper > 0
        elif want == BELOW:
            assert 0 > r.inmb_lower > r.inmb_upper
    (summary,) = summarise_threshold_draws(result)
    statuses = [r.status for r in result.rows]
    assert 0 < summary.with_root < draws and summary.undetermined == 0
    assert (summary.above_upper, summary.below_lower) == (statuses.count(ABOVE),
                                                          statuses.count(BELOW))
    truth = np.sort([expected[k, 100000.0] for k in range(1, draws + 1)])
    for q, got in ((0.5, summary.median), (0.025, summary.low), (0.975, summary.high)):
        h = (draws - 1) * q
        inside = all(lower <= truth[i] <= upper for i in {math.floor(h), math.ceil(h)})
        if inside:
            assert got == pytest.approx(float(np.quantile(truth, q)), rel=1e-9)
        else:
            assert got is None
    roots = [r.value for r in result.rows if r.value is not None]
    assert summary.mean_given_root == pytest.approx(sum(roots) / len(roots), rel=1e-12)


def test_thresholds_are_identical_for_any_number_of_workers(scenario):
    one = threshold_draws(scenario, PRICE, wtp=[100000], draws=6, patients=60, workers=1)
    two = threshold_draws(scenario, PRICE, wtp=[100000], draws=6, patients=60, workers=2)
    assert one.rows == two.rows


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30), st.floats(0, 1))
def test_censored_quantile_is_numpy_linear_on_finite_values(values, q):
    assert censored_quantile(values, q) == pytest.approx(float(np.quantile(values, q)),
                                                         rel=1e-12, abs=1e-9)


def test_cli_threshold_with_psa_draws_writes_both_tables(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["threshold", str(path), "--param", PRICE, "--wtp",
                                       "100000", "--psa-draws", "5", "--patients", "60",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Distribution of the threshold" in result.stdout
    with (out / "threshold_draws.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["draw"]) for r in rows] == [1, 2, 3, 4, 5]
    with (out / "threshold_distribution.csv").open(newline="") as fh:
        (summary,) = list(csv.DictReader(fh))
    assert int(summary["draws"]) == 5
    assert json.loads((out / "run.json").read_text())["psa_draws"] == 5
    assert (out / "threshold.csv").exists()
