"""Predictive intervals and consistency flags against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from cartsim.analysis.validation import (
    check_mean,
    check_prediction,
    mean_interval,
    predictive_interval,
    triangular_with_median,
)


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


def test_interval_of_a_binomial_count_is_its_binomial_quantiles(rng):
    """Binomial(15, 0.3): the 2.5% and 97.5% quantiles are 1 and 8, and neither is near a
    boundary (CDF(0) = 0.0047, CDF(1) = 0.035; CDF(7) = 0.950, CDF(8) = 0.985), so with
    20,000 draws the empirical quantiles equal them; the tails match the binomial CDF
    within 4 standard errors."""
    n, p, draws = 15, 0.3, 20_000
    x = rng.binomial(n, p, size=draws)
    exact = (float(stats.binom.ppf(0.025, n, p)), float(stats.binom.ppf(0.975, n, p)))
    assert exact == (1.0, 8.0)
    assert predictive_interval(x) == exact
    check = check_prediction(3, x)
    assert abs(check.mean - n * p) <= 4 * math.sqrt(n * p * (1 - p) / draws)
    for estimate, truth in ((check.p_at_most, stats.binom.cdf(3, n, p)),
                            (check.p_at_least, stats.binom.sf(2, n, p))):
        assert abs(estimate - truth) <= 4 * math.sqrt(truth * (1 - truth) / draws)
    assert check.consistent


def test_interval_ends_are_values_the_simulation_produced():
    x = np.arange(1.0, 101.0)
    assert predictive_interval(x, 0.9) == (5.0, 95.0)        # inverted CDF: F(5) = 0.05
    assert predictive_interval(x, 0.95) == (3.0, 98.0)       # F(3) = 0.03 >= 0.025


def test_flag_and_tail_probabilities_on_a_known_sample():
    sims = np.array([0] * 10 + [1] * 80 + [2] * 10)
    inside = check_prediction(1, sims)
    assert (inside.low, inside.high, inside.consistent) == (0.0, 2.0, True)
    below = check_prediction(-1, sims)
    assert not below.consistent and below.p_at_most == 0.0 and below.tail_probability == 0.0
    above = check_prediction(3, sims)
    assert not above.consistent and above.p_at_least == 0.0
    assert check_prediction(2, sims).tail_probability == pytest.approx(0.2)


def test_an_observation_outside_a_certain_outcome_is_inconsistent():
    """If every simulated series has 15 responders, 14 observed is inconsistent; 15 is not."""
    sims = np.full(50, 15.0)
    assert check_prediction(15, sims).consistent
    assert not check_prediction(14, sims).consistent


def test_mean_interval_is_the_t_interval():
    """110 +- t(0.975, 4) * 32 / sqrt(5) = 110 +- 39.733 (Mackensen 2022 B-cell return)."""
    low, high = mean_interval(110, 32, 5)
    half = stats.t.ppf(0.975, 4) * 32 / math.sqrt(5)
    assert (low, high) == pytest.approx((110 - half, 110 + half), rel=1e-12)
    assert half == pytest.approx(39.733, abs=1e-3)
    assert check_mean(110, 32, 5, 149.0).consistent
    assert not check_mean(110, 32, 5, 300.0).consistent


@pytest.mark.parametrize(("args", "message"), [
    (([], 0.95), "non-empty"), (([1.0, np.nan], 0.95), "finite"), (([1.0], 1.0), "level"),
])
def test_bad_inputs_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        predictive_interval(*args)


def test_mean_interval_needs_two_patients():
    with pytest.raises(ValueError, match="n >= 2"):
        mean_interval(110, 32, 1)


def test_follow_up_triangle_has_the_reported_median_exactly():
    """Closed form: F(m) = 1 - (b - m)^2 / ((b - a)(b - c)) = 1/2 at m = 15 for
    a = 4, b = 29, c = 29 - 2 * 14^2 / 25 = 13.32."""
    tri = triangular_with_median(4, 15, 29)
    assert tri.mode == pytest.approx(13.32, rel=1e-12)
    assert float(tri.ppf(0.5)) == pytest.approx(15.0, rel=1e-12)
    assert 1 - (29 - 15) ** 2 / ((29 - 4) * (29 - tri.mode)) == pytest.approx(0.5, rel=1e-12)
    assert float(tri.ppf(0.0)) == 4 and float(tri.ppf(1.0)) == 29


@given(low=st.floats(0, 50), width=st.floats(1, 100), share=st.floats(0.3, 0.7))
def test_triangle_median_round_trips(low, width, share):
    high, median = low + width, low + share * width
    tri = triangular_with_median(low, median, high)
    assert float(tri.ppf(0.5)) == pytest.approx(median, rel=1e-9, abs=1e-9)


def test_triangle_refuses_a_median_too_close_to_an_end():
    with pytest.raises(ValueError, match="no triangular"):
        triangular_with_median(0, 0.1, 10)
    with pytest.raises(ValueError, match="strictly between"):
        triangular_with_median(0, 10, 10)
