"""Discounting (cartsim.outcomes.discounting): known values and laws.

Convention (README, VERIFICATION §3): a rate z accrued over [a, b] is worth
∫ z e^{−rt} dt = z (e^{−ra} − e^{−rb}) / r; a one-off C at t is worth C e^{−rt};
an annual rate d means r = ln(1 + d). Exact checks at rel 1e-12 or 1e-9.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cartsim
from cartsim.outcomes.discounting import (
    continuous_rate,
    discount_factor,
    discounted_duration,
    mean_discount_factor,
)

rates = st.floats(min_value=1e-6, max_value=0.2)
times = st.floats(min_value=0.0, max_value=500.0)
widths = st.floats(min_value=1e-6, max_value=500.0)


# --- known values ---------------------------------------------------------------


def test_continuous_rate_converts_annual_rates_by_log1p():
    """r = ln(1 + d) for the annual convention (0.035 → 0.0344014267); the continuous
    convention passes the number through; anything else is refused."""
    assert continuous_rate(0.035, "annual") == math.log1p(0.035)
    assert continuous_rate(0.035, "annual") == pytest.approx(0.0344014267, abs=1e-10)
    assert continuous_rate(0.035, "continuous") == 0.035
    assert continuous_rate(0.0, "annual") == 0.0
    with pytest.raises(ValueError, match="convention"):
        continuous_rate(0.035, "monthly")


def test_discount_factor_known_values():
    """e^{−rt}: 1 at t = 0 and wherever r = 0; exactly 1/(1 + d)^t under the annual
    convention (t = 1, 10 with d = 3.5%)."""
    r = continuous_rate(0.035, "annual")
    assert float(discount_factor(0.0, 0.05)) == 1.0
    np.testing.assert_array_equal(discount_factor([0.0, 3.0, 1e6], 0.0), [1.0, 1.0, 1.0])
    assert float(discount_factor(1.0, r)) == pytest.approx(1 / 1.035, rel=1e-15)
    assert float(discount_factor(10.0, r)) == pytest.approx(1.035**-10, rel=1e-13)
    assert float(discount_factor(20.0, 0.035)) == pytest.approx(math.exp(-0.7), rel=1e-15)


def test_discounted_duration_known_values():
    """∫_a^b e^{−rt} dt: 10 over [0, 10] at r = 0; 20 over [0, ∞) at r = 0.05;
    (1 − e^{−0.35})/0.035 over [0, 10]; e^{−2r}(1 − e^{−3r})/r over [2, 5]; 1/(μ+r) is
    the lifetime KV-0 value 11.7647 = ∫ e^{−(μ+r)t} dt; 0 for an empty interval."""
    assert float(discounted_duration(0.0, 10.0, 0.0)) == 10.0
    assert float(discounted_duration(0.0, math.inf, 0.05)) == pytest.approx(20.0, rel=1e-15)
    assert float(discounted_duration(0.0, 10.0, 0.035)) == pytest.approx(
        -math.expm1(-0.35) / 0.035, rel=1e-14)
    r = 0.035
    assert float(discounted_duration(2.0, 5.0, r)) == pytest.approx(
        math.exp(-2 * r) * -math.expm1(-3 * r) / r, rel=1e-14)
    assert float(discounted_duration(0.0, math.inf, 0.085)) == pytest.approx(11.7647, abs=1e-4)
    np.testing.assert_array_equal(discounted_duration([3.0, 4.0], [3.0, 4.0], 0.05), [0.0, 0.0])
    # Tiny intervals keep full precision (expm1).
    assert float(discounted_duration(0.0, 1e-12, 0.035)) == pytest.approx(1e-12, rel=1e-12)


def test_mean_discount_factor_known_values():
    """Average of e^{−rt} over [a, b] (discounted duration / width); e^{−ra} for an
    empty interval; 1 at r = 0."""
    r = 0.05
    assert float(mean_discount_factor(0.0, 10.0, r)) == pytest.approx(
        -math.expm1(-0.5) / 0.5, rel=1e-14)
    assert float(mean_discount_factor(4.0, 4.0, r)) == pytest.approx(math.exp(-0.2), rel=1e-15)
    assert float(mean_discount_factor(1.0, 9.0, 0.0)) == 1.0


# --- laws (hypothesis) ------------------------------------------------------------


@settings(deadline=None, database=None)
@given(a=times, w1=widths, w2=widths, r=rates)
def test_discounted_duration_is_additive_over_split_intervals(a, w1, w2, r):
    """∫_a^c = ∫_a^b + ∫_b^c for a < b < c."""
    b, c = a + w1, a + w1 + w2
    whole = float(discounted_duration(a, c, r))
    parts = float(discounted_duration(a, b, r)) + float(discounted_duration(b, c, r))
    assert whole == pytest.approx(parts, rel=1e-9, abs=1e-300)


@settings(deadline=None, database=None)
@given(a=times, w=widths, r=rates)
def test_discounted_duration_lies_in_zero_to_width(a, w, r):
    """0 < ∫_a^b e^{−rt} dt ≤ b − a for r > 0 and a ≥ 0 (equal to b − a at r = 0)."""
    b = a + w
    dd = float(discounted_duration(a, b, r))
    assert 0.0 < dd <= (b - a) * (1 + 1e-12)
    assert float(discounted_duration(a, b, 0.0)) == b - a


@settings(deadline=None, database=None)
@given(t1=times, dt=st.floats(min_value=0.0, max_value=500.0), r=rates)
def test_discount_factor_in_unit_interval_and_decreasing(t1, dt, r):
    """0 < e^{−rt} ≤ 1 for t ≥ 0 and non-increasing in t."""
    f1, f2 = float(discount_factor(t1, r)), float(discount_factor(t1 + dt, r))
    assert 0.0 < f2 <= f1 <= 1.0


@settings(deadline=None, database=None)
@given(a=times, w=widths, r1=rates, r2=rates)
def test_discounted_duration_decreases_with_the_rate(a, w, r1, r2):
    """A higher discount rate never increases a discounted duration."""
    lo, hi = min(r1, r2), max(r1, r2)
    assert float(discounted_duration(a, a + w, hi)) <= \
        float(discounted_duration(a, a + w, lo)) * (1 + 1e-12)


# --- the convention applied by the engine -----------------------------------------

MODEL = """
model = "custom"
[run]
horizon = "lifetime"
discount = {{ costs = 0.035, outcomes = 0.05, convention = "{convention}" }}
life_table = "none"
[strategies.cart]
start = "remission"
upfront_cost = {{ product = 350000 }}
[strategies.cart.states.remission]
utility = 0.85
cost = {{ monitoring = 2000 }}
death = {{ rate = 0.015 }}
[strategies.cart.states.remission.transitions.relapse]
to = "on_is"
rate = 0.10
cost = {{ disease_care = 5000 }}
qaly_loss = 0.1
[strategies.cart.states.on_is]
utility = 0.60
cost = {{ drugs = 20000 }}
death = {{ rate = 0.04 }}
"""


@pytest.mark.parametrize("convention", ["annual", "continuous"])
def test_engine_values_a_trace_with_the_documented_convention(tmp_path, convention):
    """A10 on the valuation step: per patient, cost and QALY recomputed from the event log
    with r = ln(1 + d) (annual) or r = d (continuous), separate rates for costs (3.5%) and
    outcomes (5%), ∫ z e^{−rt} over sojourns and C e^{−rt} at events, match cartsim to
    rel 1e-9."""
    path = tmp_path / "trace.toml"
    path.write_text(MODEL.format(convention=convention), encoding="utf-8")
    res = cartsim.run_scenario(cartsim.load_scenario(path), patients=500, seed=99)
    log, col = res.logs["cart"], res.outcomes["cart"].columns

    def r_of(d: float) -> float:
        return math.log(1 + d) if convention == "annual" else d

    rc, ro = r_of(0.035), r_of(0.05)
    n = log.n_patients
    state = np.asarray(log.state_names)[log.sojourn_state]
    a, b, p = log.sojourn_start, log.sojourn_end, log.sojourn_patient
    rate_c = np.where(state == "remission", 2000.0, 20000.0)
    util = np.where(state == "remission", 0.85, 0.60)
    cost = np.bincount(p, rate_c * (np.exp(-rc * a) - np.exp(-rc * b)) / rc, minlength=n)
    qaly = np.bincount(p, util * (np.exp(-ro * a) - np.exp(-ro * b)) / ro, minlength=n)
    ly = np.bincount(p, (np.exp(-ro * a) - np.exp(-ro * b)) / ro, minlength=n)
    label = np.asarray(log.event_names)[log.event_code]
    t, ep = log.event_time, log.event_patient
    one_off = np.where(label == "start", 350000.0, np.where(label == "relapse", 5000.0, 0.0))
    cost += np.bincount(ep, one_off * np.exp(-rc * t), minlength=n)
    qaly -= np.bincount(ep, np.where(label == "relapse", 0.1, 0.0) * np.exp(-ro * t),
                        minlength=n)
    np.testing.assert_allclose(col["cost"], cost, rtol=1e-9)
    np.testing.assert_allclose(col["qaly"], qaly, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(col["ly"], ly, rtol=1e-9)
    assert np.any(label == "relapse")
