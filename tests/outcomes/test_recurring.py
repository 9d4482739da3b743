"""Recurring in-state events (cartsim.engine.recurring) and their valuation.

A stay of length L in a state where an event recurs at rate λ gives a
Poisson(λL) count by inverse CDF of the patient's uniform; given the count,
the events are valued at the stay's mean discount factor. Statistical checks
at 4 SE (VERIFICATION §2.2) with analytic SDs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import cartsim
from cartsim.engine.recurring import poisson_from_uniform
from cartsim.outcomes.discounting import mean_discount_factor

Z = 4.0
uniforms = st.floats(min_value=1e-12, max_value=1.0)
means = st.floats(min_value=0.0, max_value=200.0)


@pytest.mark.parametrize(("rate", "duration"), [(0.5, 0.2), (2.0, 1.25), (3.0, 13.0)])
def test_poisson_mean_count_is_rate_times_time(rate, duration):
    """E[count] = λL with SD sqrt(λL) (Poisson), for 20,000 uniforms in (0, 1]."""
    u = 1.0 - np.random.default_rng(20240601).random(20_000)
    mean = rate * duration
    counts = poisson_from_uniform(u, np.full(u.size, mean))
    assert counts.dtype == np.int64
    se = math.sqrt(mean / u.size)
    assert abs(counts.mean() - mean) <= Z * se, (counts.mean(), mean, se)
    # The variance is Poisson too: index of dispersion ≈ 1 (4 SE of s²/mean ≈ sqrt(2/n)
    # plus the fourth-cumulant term 1/(n·mean)).
    disp_se = math.sqrt(2 / u.size + 1 / (u.size * mean))
    assert abs(counts.var(ddof=1) / mean - 1) <= Z * disp_se


def test_poisson_edge_values():
    """u = 1 (q = 0) gives 0 events; a zero mean gives 0 whatever u."""
    assert poisson_from_uniform(np.array([1.0]), np.array([5.0]))[0] == 0
    np.testing.assert_array_equal(
        poisson_from_uniform(np.array([1e-12, 0.5, 1.0]), np.zeros(3)), [0, 0, 0])


@settings(deadline=None, database=None)
@given(u=uniforms, m1=means, m2=means)
def test_poisson_count_is_monotone_in_the_rate_for_a_fixed_uniform(u, m1, m2):
    """Non-decreasing in the mean for a fixed uniform (CRN monotonicity)."""
    lo, hi = sorted((m1, m2))
    c = poisson_from_uniform(np.array([u, u]), np.array([lo, hi]))
    assert c[0] <= c[1]


@settings(deadline=None, database=None)
@given(u=uniforms, m=st.floats(min_value=1e-6, max_value=200.0))
def test_poisson_count_is_the_inverse_cdf(u, m):
    """The count k satisfies F(k − 1) < 1 − u ≤ F(k) (up to rounding of the CDF)."""
    k = int(poisson_from_uniform(np.array([u]), np.array([m]))[0])
    q = 1.0 - u
    assert stats.poisson.cdf(k, m) >= q - 1e-12
    if k > 0:
        assert stats.poisson.cdf(k - 1, m) < q + 1e-12


MODEL = """
model = "custom"
[run]
horizon = "lifetime"
discount = { costs = 0.035, outcomes = 0.035, convention = "continuous" }
life_table = "none"
[strategies.cart]
start = "remission"
[strategies.cart.states.remission]
utility = 0.85
death = { rate = 0.015 }
recurring = { flare = 0.5 }
[strategies.cart.states.remission.transitions.relapse]
to = "on_is"
rate = 0.10
[strategies.cart.states.on_is]
utility = 0.60
death = { rate = 0.04 }
[strategies.cart.events.flare]
cost = { disease_care = 1000 }
qaly_loss = 0.01
"""


def test_engine_flares_in_remission_match_rate_times_time(tmp_path):
    """KV-REF remission with flares at 0.5/yr, each costing 1,000 and 0.01 QALY:
    E[n] = 0.5/(λ+μ_R) = 4.3478 with Var = 0.5/a0 + 0.25/a0² (a0 = λ+μ_R, Poisson mixed
    over T ~ Exp(a0)); E[disc cost] = 1000·0.5/(a0 + r) = 3,333.33 at 4 SE (sample SD);
    per patient the undiscounted cost is exactly 1000·n and the discounted one
    1000·n·(mean discount factor of the remission stay) (rel 1e-9)."""
    path = tmp_path / "flare.toml"
    path.write_text(MODEL, encoding="utf-8")
    res = cartsim.run_scenario(cartsim.load_scenario(path), patients=20_000, seed=20240601)
    log, col = res.logs["cart"], res.outcomes["cart"].columns
    n_patients = log.n_patients
    a0, r = 0.115, 0.035
    rem = log.sojourn_state == log.state_code("remission")
    assert np.array_equal(np.bincount(log.sojourn_patient[rem], minlength=n_patients),
                          np.ones(n_patients))
    start = np.empty(n_patients)
    end = np.empty(n_patients)
    start[log.sojourn_patient[rem]] = log.sojourn_start[rem]
    end[log.sojourn_patient[rem]] = log.sojourn_end[rem]
    n = col["n_flare"]
    np.testing.assert_array_equal(col["cost_disease_care_undisc"], 1000.0 * n)
    np.testing.assert_allclose(col["cost_disease_care"],
                               1000.0 * n * mean_discount_factor(start, end, r), rtol=1e-9)
    # QALY: utility over the stays minus 0.01 per flare at the same discount factor.
    ly_qaly = col["qaly"] + 0.01 * n * mean_discount_factor(start, end, r)
    assert np.all(ly_qaly <= 0.85 * col["ly"] + 1e-9)

    mean_n = 0.5 / a0
    sd_n = math.sqrt(0.5 / a0 + 0.25 / a0**2)
    se_n = sd_n / math.sqrt(n_patients)
    assert abs(n.mean() - mean_n) <= Z * se_n, (n.mean(), mean_n, se_n)
    cost = col["cost_disease_care"]
    truth = 1000 * 0.5 / (a0 + r)
    se_c = cost.std(ddof=1) / math.sqrt(n_patients)
    assert truth == pytest.approx(3333.33, abs=0.01)
    assert abs(cost.mean() - truth) <= Z * se_c, (cost.mean(), truth, se_c)


@settings(deadline=None, database=None)
@given(u=st.floats(min_value=1e-9, max_value=1.0 - 1e-9), m=st.floats(700.0, 1e5))
def test_poisson_count_for_large_means_is_the_inverse_cdf(u, m):
    """Means over 700 (walked from the mode) keep F(k − 1) < 1 − u ≤ F(k) (to rounding)."""
    k = int(poisson_from_uniform(np.array([u]), np.array([m]))[0])
    q = 1.0 - u
    assert stats.poisson.cdf(k, m) >= q - 1e-11
    assert stats.poisson.cdf(k - 1, m) < q + 1e-11


def test_compiled_poisson_counts_equal_the_reference_engines():
    """The kernel's counts are the simpy engine's, small and large means alike."""
    from cartsim.engine.kernel_value import poisson_counts

    rng = np.random.default_rng(20240601)
    u = rng.random(20_000)
    mean = np.concatenate([rng.exponential(3.0, 10_000), rng.uniform(0.0, 700.0, 9_000),
                           rng.uniform(700.0, 5e4, 1_000)])
    np.testing.assert_array_equal(poisson_counts(u, mean), poisson_from_uniform(u, mean))
