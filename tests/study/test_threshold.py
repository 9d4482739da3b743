"""Threshold analysis (cartsim.study.threshold): at the point values on the KV-REF model
(closed forms; exact checks rel 1e-9, statistical ones 4 SE with fixed seeds), and
over PSA draws (`cartsim threshold --psa-draws`)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

import cartsim
from cartsim.analysis.cea import estimate_mean
from cartsim.errors import UsageError
from cartsim.report.render import table_to_csv
from cartsim.study.psa import run_psa
from cartsim.study.runner import run_scenario
from cartsim.study.threshold import threshold, threshold_draws
from cartsim.study.threshold_tables import (
    ABOVE,
    BELOW,
    ROOT,
    censored_quantile,
    summarise_threshold_draws,
)

PRICE = "strategies.cart.upfront_cost.product"
N = 4000
SEED = 20240601
WTP = 100_000.0
UPFRONT = PRICE
RELAPSE = "strategies.cart.states.remission.transitions.relapse.rate"
C0 = 350000.0
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


@pytest.fixture(scope="module")
def kv(kv_sensitivity):
    return kv_sensitivity


# --- at the point values -----------------------------------------------------------


def test_upfront_cost_threshold_is_the_value_based_price(kv, kv_inmb, per_patient_inmb):
    # The upfront cost is paid at t = 0, undiscounted, by every CAR-T patient and moves
    # no random draw, so INMB falls one-for-one with it: the root is C0 + INMB(base).
    res = threshold(kv, UPFRONT, wtp=[WTP], patients=N, seed=SEED)
    (row,) = res.rows
    base = estimate_mean(per_patient_inmb(kv))
    assert row.value == pytest.approx(C0 + base.mean, rel=1e-9)
    assert row.slope == pytest.approx(-1.0, rel=1e-9)
    assert row.inmb_se == pytest.approx(base.se, rel=1e-9)
    assert row.interval_high - row.value == pytest.approx(1.96 * base.se, rel=1e-6)
    assert row.status == "cost-effective below the threshold"
    # Closed form: 350,000 + 25,555.56, within 4 SE of INMB.
    assert abs(row.value - (C0 + kv_inmb(0.10))) <= 4 * base.se
    assert (res.lower, res.upper, res.base, res.unit) == (0.0, 3 * C0, C0, "currency")


@settings(max_examples=8, deadline=None)
@given(wtp=st.floats(min_value=0.0, max_value=200_000.0))
def test_value_based_price_is_linear_in_wtp(kv, wtp):
    # Exact for every WTP: price = C0 + wtp x dQ - dC with dQ, dC from the base run.
    row = threshold(kv, UPFRONT, wtp=[wtp], patients=500, seed=3).rows[0]
    res = run_scenario(kv, patients=500, seed=3)
    new, ref = res.outcomes["cart"].columns, res.outcomes["immunosuppression"].columns
    dq = estimate_mean(new["qaly"]).mean - estimate_mean(ref["qaly"]).mean
    dc = estimate_mean(new["cost"]).mean - estimate_mean(ref["cost"]).mean
    assert row.value == pytest.approx(C0 + wtp * dq - dc, rel=1e-9)


def test_relapse_rate_threshold_matches_closed_form(kv, kv_inmb, per_patient_inmb):
    res = threshold(kv, RELAPSE, wtp=[WTP], patients=N, seed=SEED)
    (row,) = res.rows
    truth = brentq(kv_inmb, 0.0, 0.3, xtol=1e-14)
    assert truth == pytest.approx(0.11095, abs=1e-5)
    assert row.status == "cost-effective below the threshold"  # INMB decreasing in lambda
    assert row.inmb_lower > 0 > row.inmb_upper and row.slope < 0
    se_root = (row.interval_high - row.interval_low) / (2 * 1.96)  # SE-equivalent of the root
    assert se_root == pytest.approx(row.inmb_se / abs(row.slope), rel=1e-9)
    assert abs(row.value - truth) <= 4 * se_root
    # At the root the simulated INMB is zero (up to Brent's tolerance).
    at_root = estimate_mean(per_patient_inmb(kv, **{RELAPSE: row.value})).mean
    assert abs(at_root) <= 1e-6 * abs(row.slope)


def test_no_sign_change_reports_status_without_failing(kv):
    # On [0, 0.05] per year INMB at 100,000 stays above 208,000 (closed form) and at
    # WTP 0 it is -inc_cost < 0 (CAR-T costs more at any relapse rate): no root either way.
    res = threshold(kv, RELAPSE, wtp=[0.0, WTP], upper=0.05, patients=N, seed=SEED)
    zero, high = res.rows
    assert high.value is None and high.interval_low is None and high.interval_high is None
    assert high.status == "no threshold in [0, 0.05] per year: cost-effective throughout"
    assert high.inmb_lower > high.inmb_upper > 0
    assert zero.status == "no threshold in [0, 0.05] per year: not cost-effective throughout"
    table = res.table("threshold")
    text = table_to_csv(table)
    assert "inf" not in text and "nan" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["threshold"] for r in rows] == ["NA", "NA"]
    assert table.columns[:8] == ("strategy", "comparator", "parameter", "wtp", "threshold",
                                 "unit", "interval_low", "interval_high")


def test_threshold_rejects_bad_input(kv):
    with pytest.raises(UsageError, match="did you mean"):
        threshold(kv, "strategies.cart.upfront_cost.prodcut", wtp=[WTP])
    with pytest.raises(UsageError, match="must be below"):
        threshold(kv, RELAPSE, wtp=[WTP], lower=0.2, upper=0.1)
    with pytest.raises(UsageError, match=r"-0\.1.*a rate >= 0"):
        threshold(kv, RELAPSE, wtp=[WTP], lower=-0.1)
    with pytest.raises(UsageError, match="willingness to pay"):
        threshold(kv, RELAPSE, wtp=[])


# --- over PSA draws -------------------------------------------------------------------


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


# --- structural choices over PSA draws -------------------------------------------------

BASE = (Path(__file__).resolve().parents[2] / "scenarios" / "base.toml").as_posix()
CURE_CHOICE = """
[[structural]]
key = "car_t.relapse.model"
rationale = "test: every draw takes the cure-fraction shape"
[structural.options.cure_fraction]
weight = 1.0
cure_fraction = { value = 0.5, dist = "beta", alpha = 5, beta = 5, source = "t" }
rate = { value = 0.10, per = "year", dist = "gamma", mean = 0.10, se = 0.03, source = "t" }
"""


def test_each_draw_takes_the_structural_option_of_the_same_psa_draw():
    """base.toml draws the relapse shape, the re-treatment policy and the remission
    mortality ratio: each threshold draw names the options `cartsim psa` gives it."""
    from cartsim.study.psa import draw_values

    s = cartsim.load_scenario(BASE)
    result = threshold_draws(s, "costs.car_t.product", wtp=[150000], draws=5, patients=30)
    options = draw_values(s, range(1, 6), s.run.seed).options
    assert result.option_columns == ("car_t.relapse.model", "car_t.retreatment.probability"
                                     ".option", "mortality.remission_share.option")
    for r in result.rows:
        assert r.options == tuple((c.key, options[c.key][r.draw - 1]) for c in s.structural)
    table = next(t for t in result_tables(result) if t.name == "threshold_draws")
    assert table.columns[-3:] == result.option_columns
    assert len({r.options[0][1] for r in result.rows}) > 1  # the shapes differ across draws


def test_structural_draws_are_identical_for_any_number_of_workers():
    s = cartsim.load_scenario(BASE)
    kwargs = {"wtp": [150000], "draws": 4, "patients": 30}
    one = threshold_draws(s, "costs.car_t.product", workers=1, **kwargs)
    two = threshold_draws(s, "costs.car_t.product", workers=2, **kwargs)
    assert one.rows == two.rows


def result_tables(result):
    from cartsim.study.threshold_tables import threshold_draws_tables

    return threshold_draws_tables(result)


def test_a_weight_one_relapse_shape_gives_the_thresholds_of_the_file_that_fixes_it(tmp_path):
    """A text choice changes the pathways: a draw that takes the cure-fraction shape finds
    the threshold relapse_cure.toml finds in the same draw (the shape was once ignored)."""
    path = tmp_path / "cure.toml"
    path.write_text(f'extends = "{BASE}"\n{CURE_CHOICE}', encoding="utf-8")
    chosen = cartsim.load_scenario(path)
    fixed = cartsim.load_scenario(Path(BASE).parent / "relapse_cure.toml")
    base = cartsim.load_scenario(BASE)
    kwargs = {"wtp": [150000], "draws": 3, "patients": 40, "lower": 0.0, "upper": 0.3}
    a = threshold_draws(chosen, "car_t.relapse.rate", **kwargs)
    b = threshold_draws(fixed, "car_t.relapse.rate", **kwargs)
    assert [r.options for r in a.rows] == [(("car_t.relapse.model", "cure_fraction"),)] * 3
    for x, y in zip(a.rows, b.rows, strict=True):
        assert (x.status, x.drawn_value) == (y.status, y.drawn_value)
        assert x.inmb_lower == pytest.approx(y.inmb_lower, rel=1e-12)
        assert x.inmb_upper == pytest.approx(y.inmb_upper, rel=1e-12)
    c = threshold_draws(base, "car_t.relapse.rate", **kwargs)
    assert [x.inmb_lower for x in a.rows] != pytest.approx([x.inmb_lower for x in c.rows])
